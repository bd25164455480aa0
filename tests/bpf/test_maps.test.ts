// tools/testing/selftests/bpf/test_maps.c re-implemented against bpfsim's
// bpf(2) (KERNEL-NOTES 9.1) for hash, percpu_hash, array, percpu_array,
// queue and stack. Like test_maps, every map test that takes map_opts runs
// twice: map_flags 0 and BPF_F_NO_PREALLOC. Every kernel ends with the leak
// check of withKernel (memory back to baseline after close + quiesce).

import { assertEquals, assertTrue } from "../assert.ts";
import { withKernel } from "../helpers.ts";
import type { Kernel } from "../../lib/kernel/kernel.ts";
import type { SysBpf } from "../../lib/bpf/syscall.ts";
import { E2BIG, EAGAIN, EBUSY, EEXIST, EINVAL, ENOENT, EPERM } from "../../lib/kernel/errno.ts";
import {
  BPF_ANY,
  BPF_EXIST,
  BPF_F_NO_PREALLOC,
  BPF_F_RDONLY,
  BPF_F_WRONLY,
  BPF_F_ZERO_SEED,
  BPF_NOEXIST,
} from "../../lib/bpf/uapi.ts";

/** A `long long` as 8 little-endian bytes. */
function ll(n: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(n), true);
  return b;
}

/** Reads a `long long` at byte offset `off`. */
function rdll(b: Uint8Array, off = 0): number {
  return Number(new DataView(b.buffer, b.byteOffset).getBigInt64(off, true));
}

/** An `int` as 4 little-endian bytes. */
function int(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n, true);
  return b;
}

function rdint(b: Uint8Array, off = 0): number {
  return new DataView(b.buffer, b.byteOffset).getInt32(off, true);
}

/** rand() of test_maps: a seeded LCG (no Math.random in tests). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x >>> 1;
  };
}

const VARIANTS: [string, number][] = [["map_flags 0", 0], ["BPF_F_NO_PREALLOC", BPF_F_NO_PREALLOC]];
/** test_maps runs on every possible CPU; four make the per-CPU checks meaningful. */
const CPUS = 4;

// ------------------------------------------------------------- test_hashmap

function testHashmap(k: Kernel, mapFlags: number): void {
  const s = k.sys;
  const fd = s.mapCreate({ mapType: "hash", keySize: 8, valueSize: 8, maxEntries: 2, mapFlags });
  assertTrue(fd >= 0, `Failed to create hashmap: ${fd}`);
  const value = new Uint8Array(8);

  // Insert key=1 element.
  assertEquals(s.mapUpdateElem(fd, ll(1), ll(1234), BPF_ANY), 0);
  // BPF_NOEXIST means add new element if it doesn't exist.
  assertEquals(s.mapUpdateElem(fd, ll(1), ll(0), BPF_NOEXIST), -EEXIST);
  // -1 is an invalid flag.
  assertEquals(s.mapUpdateElem(fd, ll(1), ll(0), -1), -EINVAL);
  // Check that key=1 can be found.
  assertEquals(s.mapLookupElem(fd, ll(1), value), 0);
  assertEquals(rdll(value), 1234);
  // Insert key=2 element, check it matches and delete it.
  assertEquals(s.mapUpdateElem(fd, ll(2), ll(1234), BPF_ANY), 0);
  value.fill(0);
  assertEquals(s.mapLookupAndDeleteElem(fd, ll(2), value), 0);
  assertEquals(rdll(value), 1234);
  // Check that key=2 is not found.
  assertEquals(s.mapLookupElem(fd, ll(2), value), -ENOENT);
  // BPF_EXIST means update existing element.
  assertEquals(s.mapUpdateElem(fd, ll(2), value, BPF_EXIST), -ENOENT);
  // Insert key=2 element.
  assertEquals(s.mapUpdateElem(fd, ll(2), value, BPF_NOEXIST), 0);
  // key=1 and key=2 were inserted, key=0 cannot be due to max_entries.
  assertEquals(s.mapUpdateElem(fd, ll(0), value, BPF_NOEXIST), -E2BIG);
  // Update existing element, though the map is full.
  assertEquals(s.mapUpdateElem(fd, ll(1), value, BPF_EXIST), 0);
  assertEquals(s.mapUpdateElem(fd, ll(2), value, BPF_ANY), 0);
  assertEquals(s.mapUpdateElem(fd, ll(3), value, BPF_NOEXIST), -E2BIG);
  // Check that key = 0 doesn't exist.
  assertEquals(s.mapDeleteElem(fd, ll(0)), -ENOENT);
  // Iterate over two elements.
  const first = new Uint8Array(8), next = new Uint8Array(8);
  assertEquals(s.mapGetNextKey(fd, null, first), 0);
  assertTrue(rdll(first) === 1 || rdll(first) === 2);
  assertEquals(s.mapGetNextKey(fd, ll(0), next), 0);
  assertEquals(rdll(next), rdll(first));
  assertEquals(s.mapGetNextKey(fd, next.slice(), next), 0);
  assertTrue((rdll(next) === 1 || rdll(next) === 2) && rdll(next) !== rdll(first));
  assertEquals(s.mapGetNextKey(fd, next.slice(), next), -ENOENT);
  // Delete both elements.
  assertEquals(s.mapDeleteElem(fd, ll(1)), 0);
  assertEquals(s.mapDeleteElem(fd, ll(2)), 0);
  assertEquals(s.mapDeleteElem(fd, ll(2)), -ENOENT);
  // Check that map is empty.
  assertEquals(s.mapGetNextKey(fd, null, next), -ENOENT);
  assertEquals(s.mapGetNextKey(fd, ll(0), next), -ENOENT);
  assertEquals(s.close(fd), 0);
}

// ------------------------------------------------------- test_hashmap_sizes

function testHashmapSizes(k: Kernel, mapFlags: number): void {
  const s = k.sys;
  for (let i = 1; i <= 512; i <<= 1) {
    for (let j = 1; j <= 1 << 18; j <<= 1) {
      const fd = s.mapCreate({ mapType: "hash", keySize: i, valueSize: j, maxEntries: 2, mapFlags });
      assertTrue(fd >= 0, `Failed to create hashmap key=${i} value=${j}: ${fd}`);
      // beyond test_maps: the geometry is usable
      const key = new Uint8Array(i).fill(0xa5);
      const val = new Uint8Array(j);
      val[j - 1] = 0x5a;
      assertEquals(s.mapUpdateElem(fd, key, val, BPF_NOEXIST), 0);
      const out = new Uint8Array(j);
      assertEquals(s.mapLookupElem(fd, key, out), 0);
      assertEquals(out[j - 1], 0x5a);
      assertEquals(s.close(fd), 0);
      k.quiesce(); // usleep(10): give the kernel time to destroy
    }
  }
  // every key size from 1 to 512 (jhash over a byte tail vs jhash2 over words)
  for (let i = 1; i <= 512; i++) {
    const m = s.mapCreate({ mapType: "hash", keySize: i, valueSize: 4, maxEntries: 3, mapFlags });
    assertTrue(m >= 0);
    for (let n = 0; n < 3; n++) {
      const key = new Uint8Array(i);
      key[i - 1] = n + 1;
      assertEquals(s.mapUpdateElem(m, key, int(n), BPF_NOEXIST), 0, `key size ${i}`);
    }
    const key = new Uint8Array(i);
    key[i - 1] = 2;
    const out = new Uint8Array(4);
    assertEquals(s.mapLookupElem(m, key, out), 0);
    assertEquals(rdint(out), 1);
    assertEquals(s.close(m), 0);
  }
}

// ------------------------------------------------------ test_hashmap_percpu

function testHashmapPercpu(k: Kernel, mapFlags: number): void {
  const s = k.sys;
  const nrCpus = k.ncpu;
  // BPF_DECLARE_PERCPU(long, value): one 8-byte slot per possible CPU
  const value = new Uint8Array(8 * nrCpus);
  const fill = () => {
    for (let i = 0; i < nrCpus; i++) value.set(ll(i + 100), 8 * i);
  };
  let expectedKeyMask = 0;
  const fd = s.mapCreate({ mapType: "percpu_hash", keySize: 8, valueSize: 8, maxEntries: 2, mapFlags });
  assertTrue(fd >= 0, `Failed to create hashmap: ${fd}`);
  fill();
  // Insert key=1 element.
  assertEquals(expectedKeyMask & 1, 0);
  assertEquals(s.mapUpdateElem(fd, ll(1), value, BPF_ANY), 0);
  // Lookup and delete elem key=1 and check value.
  value.fill(0);
  assertEquals(s.mapLookupAndDeleteElem(fd, ll(1), value), 0);
  assertEquals(rdll(value, 0), 100);
  for (let i = 0; i < nrCpus; i++) assertEquals(rdll(value, 8 * i), i + 100);
  fill();
  // Insert key=1 element which should not exist.
  assertEquals(s.mapUpdateElem(fd, ll(1), value, BPF_NOEXIST), 0);
  expectedKeyMask |= 1;
  // BPF_NOEXIST means add new element if it doesn't exist.
  assertEquals(s.mapUpdateElem(fd, ll(1), value, BPF_NOEXIST), -EEXIST);
  // -1 is an invalid flag.
  assertEquals(s.mapUpdateElem(fd, ll(1), value, -1), -EINVAL);
  // Check that key=1 can be found.
  value.set(ll(1), 0);
  assertEquals(s.mapLookupElem(fd, ll(1), value), 0);
  assertEquals(rdll(value, 0), 100);
  // Check that key=2 is not found.
  assertEquals(s.mapLookupElem(fd, ll(2), value), -ENOENT);
  // BPF_EXIST means update existing element.
  assertEquals(s.mapUpdateElem(fd, ll(2), value, BPF_EXIST), -ENOENT);
  // Insert key=2 element.
  assertEquals(expectedKeyMask & 2, 0);
  assertEquals(s.mapUpdateElem(fd, ll(2), value, BPF_NOEXIST), 0);
  expectedKeyMask |= 2;
  // key=1 and key=2 were inserted, check that key=0 cannot be inserted.
  assertEquals(s.mapUpdateElem(fd, ll(0), value, BPF_NOEXIST), -E2BIG);
  // Check that key = 0 doesn't exist.
  assertEquals(s.mapDeleteElem(fd, ll(0)), -ENOENT);
  // Iterate over two elements.
  const firstKey = new Uint8Array(8), nextKey = new Uint8Array(8);
  assertEquals(s.mapGetNextKey(fd, null, firstKey), 0);
  let first = rdll(firstKey);
  assertEquals(expectedKeyMask & first, first);
  let key = ll(0);
  let r: number;
  while ((r = s.mapGetNextKey(fd, key, nextKey)) === 0) {
    const nk = rdll(nextKey);
    if (first) {
      assertEquals(nk, first);
      first = 0;
    }
    assertEquals(expectedKeyMask & nk, nk);
    expectedKeyMask &= ~nk;
    assertEquals(s.mapLookupElem(fd, nextKey, value), 0);
    for (let i = 0; i < nrCpus; i++) assertEquals(rdll(value, 8 * i), i + 100);
    key = nextKey.slice();
  }
  assertEquals(r, -ENOENT);
  assertEquals(expectedKeyMask, 0, "both keys were walked");
  // Update with BPF_EXIST.
  assertEquals(s.mapUpdateElem(fd, ll(1), value, BPF_EXIST), 0);
  // Delete both elements.
  assertEquals(s.mapDeleteElem(fd, ll(1)), 0);
  assertEquals(s.mapDeleteElem(fd, ll(2)), 0);
  assertEquals(s.mapDeleteElem(fd, ll(2)), -ENOENT);
  // Check that map is empty.
  assertEquals(s.mapGetNextKey(fd, null, nextKey), -ENOENT);
  assertEquals(s.mapGetNextKey(fd, ll(0), nextKey), -ENOENT);
  assertEquals(s.close(fd), 0);
}

// ------------------------------------------- helper_fill_hashmap / walk

const VALUE_SIZE = 3; // long long value[3]

function helperFillHashmap(s: SysBpf, maxEntries: number, mapFlags: number): number {
  const fd = s.mapCreate({ mapType: "hash", keySize: 8, valueSize: 8 * VALUE_SIZE, maxEntries, mapFlags });
  assertTrue(fd >= 0, `failed to create hashmap: ${fd}, flags: 0x${mapFlags.toString(16)}`);
  const value = new Uint8Array(8 * VALUE_SIZE);
  for (let i = 0; i < maxEntries; i++) {
    value.set(ll(i), 0);
    assertEquals(s.mapUpdateElem(fd, ll(i), value, BPF_NOEXIST), 0, "can't update hashmap");
  }
  return fd;
}

function testHashmapWalk(s: SysBpf, mapFlags: number, maxEntries = 10000): void {
  const fd = helperFillHashmap(s, maxEntries, mapFlags);
  const value = new Uint8Array(8 * VALUE_SIZE);
  let key = new Uint8Array(8);
  const nextKey = new Uint8Array(8);
  let i: number;
  for (i = 0; s.mapGetNextKey(fd, i === 0 ? null : key, nextKey) === 0; i++) {
    key = nextKey.slice();
    assertEquals(s.mapLookupElem(fd, key, value), 0);
  }
  assertEquals(i, maxEntries);

  // update every value during the walk
  assertEquals(s.mapGetNextKey(fd, null, key), 0);
  let nextKeyValid = true;
  for (i = 0; nextKeyValid; i++) {
    nextKeyValid = s.mapGetNextKey(fd, key, nextKey) === 0;
    assertEquals(s.mapLookupElem(fd, key, value), 0);
    value.set(ll(rdll(value) + 1), 0);
    assertEquals(s.mapUpdateElem(fd, key, value, BPF_EXIST), 0);
    key = nextKey.slice();
  }
  assertEquals(i, maxEntries);

  for (i = 0; s.mapGetNextKey(fd, i === 0 ? null : key, nextKey) === 0; i++) {
    key = nextKey.slice();
    assertEquals(s.mapLookupElem(fd, key, value), 0);
    assertEquals(rdll(value) - 1, rdll(key));
  }
  assertEquals(i, maxEntries);
  assertEquals(s.close(fd), 0);
}

function testHashmapZeroSeed(k: Kernel, mapFlags: number): void {
  const s = k.sys;
  const first = helperFillHashmap(s, 3, mapFlags | BPF_F_ZERO_SEED);
  const second = helperFillHashmap(s, 3, mapFlags | BPF_F_ZERO_SEED);
  const key = new Uint8Array(8), nextFirst = new Uint8Array(8), nextSecond = new Uint8Array(8);
  let i: number;
  for (i = 0;; i++) {
    const keyPtr = i === 0 ? null : key;
    if (s.mapGetNextKey(first, keyPtr, nextFirst) !== 0) break;
    assertEquals(s.mapGetNextKey(second, keyPtr, nextSecond), 0, "next_key for second map must succeed");
    assertEquals(rdll(nextFirst), rdll(nextSecond), `keys must match at ${i}`);
    key.set(nextFirst);
  }
  assertEquals(i, 3);
  s.close(first);
  s.close(second);
}

// ------------------------------------------------------------ arraymap

function testArraymap(k: Kernel): void {
  const s = k.sys;
  const fd = s.mapCreate({ mapType: "array", keySize: 4, valueSize: 8, maxEntries: 2 });
  assertTrue(fd >= 0, `Failed to create arraymap: ${fd}`);
  const value = new Uint8Array(8);
  // Insert key=1 element.
  assertEquals(s.mapUpdateElem(fd, int(1), ll(1234), BPF_ANY), 0);
  assertEquals(s.mapUpdateElem(fd, int(1), ll(0), BPF_NOEXIST), -EEXIST);
  // Check that key=1 can be found.
  assertEquals(s.mapLookupElem(fd, int(1), value), 0);
  assertEquals(rdll(value), 1234);
  // Check that key=0 is also found and zero initialized.
  assertEquals(s.mapLookupElem(fd, int(0), value), 0);
  assertEquals(rdll(value), 0);
  // key=2 cannot be inserted due to max_entries limit.
  assertEquals(s.mapUpdateElem(fd, int(2), value, BPF_EXIST), -E2BIG);
  // Check that key = 2 doesn't exist.
  assertEquals(s.mapLookupElem(fd, int(2), value), -ENOENT);
  // Iterate over two elements.
  const next = new Uint8Array(4);
  assertEquals(s.mapGetNextKey(fd, null, next), 0);
  assertEquals(rdint(next), 0);
  assertEquals(s.mapGetNextKey(fd, int(2), next), 0);
  assertEquals(rdint(next), 0);
  assertEquals(s.mapGetNextKey(fd, next.slice(), next), 0);
  assertEquals(rdint(next), 1);
  assertEquals(s.mapGetNextKey(fd, next.slice(), next), -ENOENT);
  // Delete shouldn't succeed.
  assertEquals(s.mapDeleteElem(fd, int(1)), -EINVAL);
  assertEquals(s.close(fd), 0);
}

function testArraymapPercpu(k: Kernel): void {
  const s = k.sys;
  const nrCpus = k.ncpu;
  const values = new Uint8Array(8 * nrCpus);
  const fd = s.mapCreate({ mapType: "percpu_array", keySize: 4, valueSize: 8, maxEntries: 2 });
  assertTrue(fd >= 0, `Failed to create arraymap: ${fd}`);
  for (let i = 0; i < nrCpus; i++) values.set(ll(i + 100), 8 * i);
  // Insert key=1 element.
  assertEquals(s.mapUpdateElem(fd, int(1), values, BPF_ANY), 0);
  values.set(ll(0), 0);
  assertEquals(s.mapUpdateElem(fd, int(1), values, BPF_NOEXIST), -EEXIST);
  // Check that key=1 can be found.
  assertEquals(s.mapLookupElem(fd, int(1), values), 0);
  assertEquals(rdll(values, 0), 100);
  for (let i = 0; i < nrCpus; i++) assertEquals(rdll(values, 8 * i), i + 100);
  // Check that key=0 is also found and zero initialized.
  assertEquals(s.mapLookupElem(fd, int(0), values), 0);
  assertEquals(rdll(values, 0), 0);
  assertEquals(rdll(values, 8 * (nrCpus - 1)), 0);
  // Check that key=2 cannot be inserted due to max_entries limit.
  assertEquals(s.mapUpdateElem(fd, int(2), values, BPF_EXIST), -E2BIG);
  // Check that key = 2 doesn't exist.
  assertEquals(s.mapLookupElem(fd, int(2), values), -ENOENT);
  // Iterate over two elements.
  const next = new Uint8Array(4);
  assertEquals(s.mapGetNextKey(fd, null, next), 0);
  assertEquals(rdint(next), 0);
  assertEquals(s.mapGetNextKey(fd, int(2), next), 0);
  assertEquals(rdint(next), 0);
  assertEquals(s.mapGetNextKey(fd, next.slice(), next), 0);
  assertEquals(rdint(next), 1);
  assertEquals(s.mapGetNextKey(fd, next.slice(), next), -ENOENT);
  // Delete shouldn't succeed.
  assertEquals(s.mapDeleteElem(fd, int(1)), -EINVAL);
  assertEquals(s.close(fd), 0);
}

function testArraymapPercpuManyKeys(k: Kernel): void {
  const s = k.sys;
  const nrCpus = k.ncpu;
  const nrKeys = 2000;
  const values = new Uint8Array(8 * nrCpus);
  const fd = s.mapCreate({ mapType: "percpu_array", keySize: 4, valueSize: 8, maxEntries: nrKeys });
  assertTrue(fd >= 0, `Failed to create per-cpu arraymap: ${fd}`);
  for (let i = 0; i < nrCpus; i++) values.set(ll(i + 10), 8 * i);
  for (let key = 0; key < nrKeys; key++) assertEquals(s.mapUpdateElem(fd, int(key), values, BPF_ANY), 0);
  for (let key = 0; key < nrKeys; key++) {
    values.fill(0);
    assertEquals(s.mapLookupElem(fd, int(key), values), 0);
    for (let i = 0; i < nrCpus; i++) assertEquals(rdll(values, 8 * i), i + 10);
  }
  assertEquals(s.close(fd), 0);
}

// ------------------------------------------------------ queue / stack

function testQueueStackmap(k: Kernel, mapFlags: number, mapType: "queue" | "stack"): void {
  const s = k.sys;
  const MAP_SIZE = 32;
  const rand = lcg(mapType === "queue" ? 1 : 2);
  const vals = Array.from({ length: MAP_SIZE + MAP_SIZE / 2 }, () => rand());
  const val = new Uint8Array(4);
  // Invalid key size
  let fd = s.mapCreate({ mapType, keySize: 4, valueSize: 4, maxEntries: MAP_SIZE, mapFlags });
  assertEquals(fd, -EINVAL);
  fd = s.mapCreate({ mapType, keySize: 0, valueSize: 4, maxEntries: MAP_SIZE, mapFlags });
  // Queue/stack maps do not support BPF_F_NO_PREALLOC
  if (mapFlags & BPF_F_NO_PREALLOC) {
    assertEquals(fd, -EINVAL);
    return;
  }
  assertTrue(fd >= 0, `Failed to create ${mapType}map: ${fd}`);
  // Push MAP_SIZE elements
  for (let i = 0; i < MAP_SIZE; i++) assertEquals(s.mapUpdateElem(fd, null, int(vals[i]), 0), 0);
  // Check that element cannot be pushed due to max_entries limit
  assertEquals(s.mapUpdateElem(fd, null, val, 0), -E2BIG);
  // Peek element
  assertEquals(s.mapLookupElem(fd, null, val), 0);
  assertEquals(rdint(val) >>> 0, mapType === "queue" ? vals[0] : vals[MAP_SIZE - 1]);
  // Replace half elements
  for (let i = MAP_SIZE; i < MAP_SIZE + MAP_SIZE / 2; i++) {
    assertEquals(s.mapUpdateElem(fd, null, int(vals[i]), BPF_EXIST), 0);
  }
  // Pop all elements
  if (mapType === "queue") {
    for (let i = MAP_SIZE / 2; i < MAP_SIZE + MAP_SIZE / 2; i++) {
      assertEquals(s.mapLookupAndDeleteElem(fd, null, val), 0);
      assertEquals(rdint(val) >>> 0, vals[i]);
    }
  } else {
    for (let i = MAP_SIZE + MAP_SIZE / 2 - 1; i >= MAP_SIZE / 2; i--) {
      assertEquals(s.mapLookupAndDeleteElem(fd, null, val), 0);
      assertEquals(rdint(val) >>> 0, vals[i]);
    }
  }
  // Check that there are not elements left
  assertEquals(s.mapLookupAndDeleteElem(fd, null, val), -ENOENT);
  assertEquals(s.mapLookupElem(fd, null, val), -ENOENT, "peek of an empty map");
  // Check that non supported functions set errno to EINVAL
  assertEquals(s.mapDeleteElem(fd, null), -EINVAL);
  assertEquals(s.mapGetNextKey(fd, null, new Uint8Array(0)), -EINVAL);
  assertEquals(s.close(fd), 0);
}

// ------------------------------------------------------------ map_large

function testMapLarge(k: Kernel, mapFlags: number): void {
  const s = k.sys;
  const MAP_SIZE = 32 * 1024;
  // struct bigkey { int a; char b[4096]; long long c; }: c at 4104, 4112 bytes
  const KEY_SIZE = 4112, C_OFF = 4104;
  const key = new Uint8Array(KEY_SIZE);
  const dv = new DataView(key.buffer);
  const bigkey = (a: number, c: number) => {
    key.fill(0);
    dv.setInt32(0, a, true);
    dv.setBigInt64(C_OFF, BigInt(c), true);
    return key;
  };
  const fd = s.mapCreate({ mapType: "hash", keySize: KEY_SIZE, valueSize: 4, maxEntries: MAP_SIZE, mapFlags });
  assertTrue(fd >= 0, `Failed to create large map: ${fd}`);
  for (let i = 0; i < MAP_SIZE; i++) {
    assertEquals(s.mapUpdateElem(fd, bigkey(0, i), int(i), BPF_NOEXIST), 0);
  }
  assertEquals(s.mapUpdateElem(fd, bigkey(0, -1), int(0), BPF_NOEXIST), -E2BIG);
  // Iterate through all elements.
  assertEquals(s.mapGetNextKey(fd, null, key), 0);
  dv.setBigInt64(C_OFF, -1n, true);
  const seen = new Set<number>();
  for (let i = 0; i < MAP_SIZE; i++) {
    assertEquals(s.mapGetNextKey(fd, key.slice(), key), 0);
    seen.add(Number(dv.getBigInt64(C_OFF, true)));
  }
  assertEquals(s.mapGetNextKey(fd, key.slice(), key), -ENOENT);
  assertEquals(seen.size, MAP_SIZE, "every element once");
  const value = new Uint8Array(4);
  assertEquals(s.mapLookupElem(fd, bigkey(0, 0), value), 0);
  assertEquals(rdint(value), 0);
  assertEquals(s.mapLookupElem(fd, bigkey(1, 0), value), -ENOENT);
  assertEquals(s.close(fd), 0);
}

// --------------------------------------------------------- map_parallel

/**
 * test_map_parallel: TASKS processes spread over the CPUs fill one hash map
 * (task t adds keys t, t+TASKS, ...: NOEXIST then EXIST, retrying on
 * EAGAIN/EBUSY), each syscall a step the scheduler interleaves by simulated
 * time; odd tasks first walk a private map (test_hashmap_walk). Then the
 * parent checks the count and the values, and the tasks delete in parallel.
 */
function testMapParallel(k: Kernel, mapFlags: number, TASKS: number, MAP_SIZE: number, rounds: number): void {
  const s = k.sys;
  const MAP_RETRIES = 20;
  const fd = s.mapCreate({ mapType: "hash", keySize: 4, valueSize: 4, maxEntries: MAP_SIZE, mapFlags });
  assertTrue(fd >= 0, `Failed to create map for parallel test: ${fd}`);
  const PIN = "/sys/fs/bpf/zz_test_maps_parallel";
  assertEquals(s.objPin(fd, PIN), 0);
  let retries = 0;

  /** run_parallel(): one process per task, pinned round-robin to the CPUs. */
  const runParallel = (doUpdate: boolean) => {
    let done = 0;
    let lastCpu = -1, switches = 0;
    const procs: SysBpf[] = [];
    for (let t = 0; t < TASKS; t++) {
      const cpu = t % k.ncpu;
      const comm = `test_maps/${t}`;
      const p = k.spawn(comm, cpu);
      procs.push(p);
      // the forked child has the map fd
      const steps: (() => number)[] = [];
      const cfd = p.objGet(PIN);
      assertTrue(cfd >= 0);
      if (doUpdate && t & 1) {
        // test_hashmap_walk on a private map, one syscall per step
        let wfd = -1;
        steps.push(() => (wfd = p.mapCreate({ mapType: "hash", keySize: 8, valueSize: 8, maxEntries: 64, mapFlags })));
        for (let i = 0; i < 64; i++) steps.push(() => p.mapUpdateElem(wfd, ll(i), ll(i), BPF_NOEXIST));
        const nk = new Uint8Array(8);
        let n = 0;
        for (let i = 0; i <= 64; i++) {
          steps.push(() => {
            const r = p.mapGetNextKey(wfd, i === 0 ? null : nk.slice(), nk);
            if (r === 0) n++;
            return i === 64 ? (r === -ENOENT && n === 64 ? 0 : -1) : r;
          });
        }
        steps.push(() => p.close(wfd));
      }
      for (let i = t; i < MAP_SIZE; i += TASKS) {
        const key = int(i);
        const retriable = (op: () => number) => () => {
          for (let attempts = MAP_RETRIES;; attempts--) {
            const r = op();
            if (r === 0 || attempts === 0 || (r !== -EAGAIN && r !== -EBUSY)) return r;
            retries++;
          }
        };
        if (doUpdate) {
          steps.push(retriable(() => p.mapUpdateElem(cfd, key, key, BPF_NOEXIST)));
          steps.push(retriable(() => p.mapUpdateElem(cfd, key, key, BPF_EXIST)));
        } else {
          steps.push(retriable(() => p.mapDeleteElem(cfd, key)));
        }
      }
      steps.push(() => p.close(cfd));
      let pc = 0;
      const step = () => {
        if (cpu !== lastCpu) switches++;
        lastCpu = cpu;
        const r = steps[pc++]();
        assertEquals(r >= 0 ? 0 : r, 0, `task ${t} step ${pc - 1}`);
        if (pc < steps.length) k.queueStep(cpu, step, { comm });
        else done++;
      };
      k.queueStep(cpu, step, { comm });
    }
    k.run();
    assertEquals(done, TASKS, "every task ran to completion");
    // the scheduler interleaved the CPUs by simulated time, not one after the other
    assertTrue(switches > MAP_SIZE / 4, `CPU switches: ${switches}`);
    for (const p of procs) p.exit();
  };

  for (let round = 0; round < rounds; round++) {
    runParallel(true);
    const key = new Uint8Array(4), value = new Uint8Array(4);
    // Check that key=0 is already there.
    assertEquals(s.mapUpdateElem(fd, int(0), int(0), BPF_NOEXIST), -EEXIST);
    // Check that all elements were inserted.
    assertEquals(s.mapGetNextKey(fd, null, key), 0);
    key.set(int(-1));
    for (let i = 0; i < MAP_SIZE; i++) assertEquals(s.mapGetNextKey(fd, key.slice(), key), 0);
    assertEquals(s.mapGetNextKey(fd, key.slice(), key), -ENOENT);
    // Another check for all elements
    for (let i = 0; i < MAP_SIZE; i++) {
      const kk = MAP_SIZE - i - 1;
      assertEquals(s.mapLookupElem(fd, int(kk), value), 0);
      assertEquals(rdint(value), kk);
    }
    // Now let's delete all elements in parallel.
    runParallel(false);
    // Nothing should be left.
    assertEquals(s.mapGetNextKey(fd, null, key), -ENOENT);
    assertEquals(s.mapGetNextKey(fd, int(-1), key), -ENOENT);
    s.mapDeleteElem(fd, int(0));
  }
  assertEquals(retries, 0, "bpf(2) from user space never sees EBUSY/EAGAIN");
  assertEquals(s.close(fd), 0);
}

// ---------------------------------------------------- map_rdonly / wronly

function testMapRdonly(k: Kernel, mapFlags: number): void {
  const s = k.sys;
  const fd = s.mapCreate({
    mapType: "hash",
    keySize: 4,
    valueSize: 4,
    maxEntries: 32 * 1024,
    mapFlags: mapFlags | BPF_F_RDONLY,
  });
  assertTrue(fd >= 0, `Failed to create map for read only test: ${fd}`);
  const value = new Uint8Array(4);
  // Try to insert key=1 element.
  assertEquals(s.mapUpdateElem(fd, int(1), int(1234), BPF_ANY), -EPERM);
  // Check that key=1 is not found.
  assertEquals(s.mapLookupElem(fd, int(1), value), -ENOENT);
  assertEquals(s.mapGetNextKey(fd, int(1), value), -ENOENT);
  assertEquals(s.close(fd), 0);
}

function testMapWronlyHash(k: Kernel, mapFlags: number): void {
  const s = k.sys;
  const fd = s.mapCreate({
    mapType: "hash",
    keySize: 4,
    valueSize: 4,
    maxEntries: 32 * 1024,
    mapFlags: mapFlags | BPF_F_WRONLY,
  });
  assertTrue(fd >= 0, `Failed to create map for write only test: ${fd}`);
  const value = new Uint8Array(4);
  // Insert key=1 element.
  assertEquals(s.mapUpdateElem(fd, int(1), int(1234), BPF_ANY), 0);
  // Check that reading elements and keys from the map is not allowed.
  assertEquals(s.mapLookupElem(fd, int(1), value), -EPERM);
  assertEquals(s.mapGetNextKey(fd, int(1), value), -EPERM);
  assertEquals(s.close(fd), 0);
}

function testMapWronlyStackOrQueue(k: Kernel, mapFlags: number, mapType: "queue" | "stack"): void {
  const s = k.sys;
  const fd = s.mapCreate({
    mapType,
    keySize: 0,
    valueSize: 4,
    maxEntries: 32 * 1024,
    mapFlags: mapFlags | BPF_F_WRONLY,
  });
  // Stack/Queue maps do not support BPF_F_NO_PREALLOC
  if (mapFlags & BPF_F_NO_PREALLOC) {
    assertEquals(fd, -EINVAL);
    return;
  }
  assertTrue(fd >= 0, `Failed to create map: ${fd}`);
  const value = int(1234);
  assertEquals(s.mapUpdateElem(fd, null, value, BPF_ANY), 0);
  // Peek element should fail
  assertEquals(s.mapLookupElem(fd, null, value), -EPERM);
  // Pop element should fail
  assertEquals(s.mapLookupAndDeleteElem(fd, null, value), -EPERM);
  assertEquals(s.close(fd), 0);
}

// --------------------------------------------------------------- the runs

for (const [label, flags] of VARIANTS) {
  const t = (name: string, fn: (k: Kernel) => void, opts = {}) =>
    Deno.test(`test_maps (${label}): ${name}`, () => withKernel({ cpus: CPUS, ...opts }, fn));
  t("test_hashmap", (k) => testHashmap(k, flags));
  t("test_hashmap_percpu", (k) => testHashmapPercpu(k, flags));
  t("test_hashmap_walk (10000 entries, updating during the walk)", (k) => testHashmapWalk(k.sys, flags));
  t("test_hashmap_zero_seed", (k) => testHashmapZeroSeed(k, flags));
  t("test_hashmap_sizes (keys 1..512, values up to 256 KiB)", (k) => testHashmapSizes(k, flags));
  t("test_queuemap", (k) => testQueueStackmap(k, flags, "queue"));
  t("test_stackmap", (k) => testQueueStackmap(k, flags, "stack"));
  t("test_map_large (32K entries, 4112-byte keys)", (k) => testMapLarge(k, flags));
  t(
    "test_map_parallel (16 processes on 4 CPUs, 32K entries, 2 rounds)",
    (k) => testMapParallel(k, flags, 16, 32 * 1024, 2),
  );
  t("test_map_rdonly", (k) => testMapRdonly(k, flags));
  t("test_map_wronly (hash, stack, queue)", (k) => {
    testMapWronlyHash(k, flags);
    testMapWronlyStackOrQueue(k, flags, "stack");
    testMapWronlyStackOrQueue(k, flags, "queue");
  });
}

// array maps take no map_opts in test_maps: one run each
Deno.test("test_maps: test_arraymap", () => withKernel({ cpus: CPUS }, testArraymap));
Deno.test("test_maps: test_arraymap_percpu", () => withKernel({ cpus: CPUS }, testArraymapPercpu));
Deno.test("test_maps: test_arraymap_percpu_many_keys (2000 keys)", () =>
  withKernel({ cpus: CPUS }, testArraymapPercpuManyKeys));

Deno.test("test_maps: test_map_stress (parallel runs of the basic tests, one process per run)", () => {
  withKernel({ cpus: CPUS }, (k) => {
    // run_parallel(N, test_hashmap / test_hashmap_percpu / test_arraymap ...):
    // each run as another process on another CPU, each one's calls one step
    const runs: ((s: SysBpf) => void)[] = [];
    for (let i = 0; i < 8; i++) {
      runs.push((s) => testHashmapWalk(s, i & 1 ? BPF_F_NO_PREALLOC : 0, 500));
    }
    let done = 0;
    runs.forEach((fn, i) => {
      const cpu = i % k.ncpu;
      const p = k.spawn(`stress/${i}`, cpu);
      k.queueStep(cpu, () => {
        fn(p);
        p.exit();
        done++;
      }, { comm: `stress/${i}` });
    });
    k.run();
    assertEquals(done, runs.length);
  });
});
