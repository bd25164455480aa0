// BPF_PROG_LOAD of op-language programs: syntax errors with positions, map
// resolution, and the verifier's rules by profile with the kernel's
// messages and errno (KERNEL-NOTES 7, verifier.c check_map_prog_compatibility
// and friends); `unsafe` skips the placement rules.

import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { E2BIG, EACCES, EBADF, EINVAL } from "../../lib/kernel/errno.ts";
import { formatOps, parseOps } from "../../lib/bpf/oplang.ts";
import { BPF_F_NO_PREALLOC } from "../../lib/bpf/uapi.ts";
import type { ProgKind } from "../../lib/bpf/prog.ts";
import { leakCheck, withKernel } from "../helpers.ts";

function load(k: Kernel, kind: ProgKind, ops: string, extra: { sleepable?: boolean; unsafe?: boolean } = {}) {
  const log: string[] = [];
  const fd = k.sys.progLoad({ kind, name: "p", ops, log, ...extra });
  return { fd, log, last: log[log.length - 1] ?? "" };
}

function kernelWith(profile: string, flags = 0, rt = false): Kernel {
  const k = new Kernel({ cpus: 2, profile, preemptRt: rt, seed: 1 });
  const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 64, mapFlags: flags, name: "m" });
  assertTrue(fd > 0);
  k.sys.mapCreate({ mapType: "ringbuf", keySize: 0, valueSize: 0, maxEntries: 4096, name: "rb" });
  k.sys.mapCreate({ mapType: "queue", keySize: 0, valueSize: 8, maxEntries: 4, name: "q" });
  return k;
}

Deno.test("oplang: parses every op and prints it back", () => {
  const src = `lookup m key cpu; if ok { add value 2; set value value * 3 }
update /sys/fs/bpf/m key pid % 16 value ktime exist
delete m key (seq + 1) / 2
inc m key rand(8) by arg0
output rb 16 data comm force_wakeup
reserve rb 24; if ok { write 8 seq; submit no_wakeup }
query rb avail
repeat 3 { spin_lock m key 1; add value 1; spin_unlock }
copy_from_user 16`;
  const p = parseOps(src);
  assertEquals(p.maps, ["m", "/sys/fs/bpf/m", "rb"]);
  assertEquals(p.count, 18);
  const again = parseOps(formatOps(p));
  assertEquals(formatOps(again), formatOps(p));
});

Deno.test("oplang: syntax errors name the line and column", () => {
  withKernel({ cpus: 1 }, (k) => {
    k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4, name: "m" });
    const cases: [string, string][] = [
      ["lookup m cpu", "line 1 col 10: expected 'key', got 'cpu'"],
      ["lookup m key", "line 1 col 13: expected an expression"],
      ["bogus m", "line 1 col 1: unknown op 'bogus'"],
      ["lookup m key 1\nupdate m key 1 value", "line 2 col 21: expected an expression"],
      ["repeat 2 { lookup m key 1", "missing '}'"],
      ["lookup m key nope", "unknown name 'nope' in an expression"],
      ["update m key 1 value 2 sometimes", "unexpected 'sometimes'"],
    ];
    for (const [src, want] of cases) {
      const r = load(k, "kprobe", src);
      assertEquals(r.fd, -EINVAL, src);
      assertIncludes(r.last, want);
    }
  });
});

Deno.test("prog load: maps are named by name or pinned path; unknown and ambiguous names are refused", () => {
  withKernel({ cpus: 1 }, (k) => {
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4, name: "m" });
    assertEquals(k.sys.objPin(fd, "/sys/fs/bpf/mm"), 0);
    assertTrue(load(k, "kprobe", "inc /sys/fs/bpf/mm key 1").fd > 0);
    const missing = load(k, "kprobe", "inc nosuch key 1");
    assertEquals(missing.fd, -EBADF);
    assertIncludes(missing.last, "map 'nosuch' not found");
    k.sys.mapCreate({ mapType: "array", keySize: 4, valueSize: 8, maxEntries: 4, name: "m" });
    assertIncludes(load(k, "kprobe", "inc m key 1").last, "several maps are named 'm'");
  });
});

Deno.test("verifier: perf_event programs need preallocated hash maps on 4.9-6.0, not from 6.1", () => {
  for (const [profile, refused] of [["v5.11", true], ["v6.1", false], ["v6.18", false]] as const) {
    const k = kernelWith(profile, BPF_F_NO_PREALLOC);
    const r = load(k, "perf_event", "update m key cpu value 1");
    if (refused) {
      assertEquals(r.fd, -EINVAL, profile);
      assertIncludes(r.last, "perf_event programs can only use preallocated hash map");
    } else assertTrue(r.fd > 0, `${profile}: ${r.last}`);
    leakCheck(k);
  }
  // a preallocated map is fine everywhere
  const k = kernelWith("v5.11");
  assertTrue(load(k, "perf_event", "update m key cpu value 1").fd > 0);
  leakCheck(k);
});

Deno.test("verifier: tracing programs on PREEMPT_RT need preallocated maps (5.7-6.0); a warning off RT", () => {
  const rt = kernelWith("v5.7", BPF_F_NO_PREALLOC, true);
  const r = load(rt, "kprobe", "update m key cpu value 1");
  assertEquals(r.fd, -EINVAL);
  assertIncludes(r.last, "op 1 (line 1): trace type programs can only use preallocated hash map");
  // unsafe skips the rule
  assertTrue(load(rt, "kprobe", "update m key cpu value 1", { unsafe: true }).fd > 0);
  leakCheck(rt);
  const nonRt = kernelWith("v5.7", BPF_F_NO_PREALLOC, false);
  const w = load(nonRt, "tracepoint", "update m key cpu value 1");
  assertTrue(w.fd > 0);
  assertIncludes(w.log.join("\n"), "trace type programs with run-time allocated hash maps are unsafe");
  leakCheck(nonRt);
  // 6.1 lifted it (bpf_mem_alloc)
  const k61 = kernelWith("v6.1", BPF_F_NO_PREALLOC, true);
  assertTrue(load(k61, "kprobe", "update m key cpu value 1").fd > 0);
  leakCheck(k61);
});

Deno.test("verifier: bpf_spin_lock is refused in tracing programs, allowed in tc; unknown before 5.1", () => {
  const k = kernelWith("v6.18");
  for (const kind of ["kprobe", "tracepoint", "raw_tp", "perf_event"] as const) {
    const r = load(k, kind, "spin_lock m key 1; add value 1; spin_unlock");
    assertEquals(r.fd, -EINVAL, kind);
    assertIncludes(r.last, "tracing progs cannot use bpf_spin_lock yet");
  }
  assertTrue(load(k, "tc", "spin_lock m key 1; add value 1; spin_unlock").fd > 0);
  leakCheck(k);
  const old = kernelWith("v4.6");
  assertIncludes(load(old, "tc", "spin_lock m key 1; spin_unlock").last, "unknown func bpf_spin_lock#93");
  leakCheck(old);
});

Deno.test("verifier: bpf_spin_lock regions: no calls inside, no nesting, must unlock", () => {
  const k = kernelWith("v6.18");
  assertIncludes(
    load(k, "tc", "spin_lock m key 1; lookup m key 2; spin_unlock").last,
    "function calls are not allowed while holding a lock",
  );
  assertIncludes(load(k, "tc", "spin_lock m key 1; spin_lock m key 2").last, "Locking two bpf_spin_locks");
  assertIncludes(load(k, "tc", "spin_lock m key 1; add value 1").last, "bpf_spin_unlock is missing");
  assertIncludes(load(k, "tc", "spin_unlock").last, "bpf_spin_unlock without taking a lock");
  leakCheck(k);
});

Deno.test("verifier: sleepable programs and sleepable helpers", () => {
  const k = kernelWith("v6.18");
  const nonSleepable = load(k, "fentry", "copy_from_user 16");
  assertEquals(nonSleepable.fd, -EINVAL);
  assertIncludes(nonSleepable.last, "helper call might sleep in a non-sleepable prog");
  assertTrue(load(k, "fentry", "copy_from_user 16", { sleepable: true }).fd > 0);
  const kp = load(k, "kprobe", "inc m key 1", { sleepable: true });
  assertEquals(kp.fd, -EINVAL);
  assertIncludes(kp.last, "can be sleepable");
  leakCheck(k);
  const old = kernelWith("v5.7");
  assertIncludes(load(old, "fentry", "inc m key 1", { sleepable: true }).last, "BPF_F_SLEEPABLE is not supported");
  leakCheck(old);
  // 5.10-6.0: sleepable programs may use only preallocated maps
  const k511 = kernelWith("v5.11", BPF_F_NO_PREALLOC);
  assertIncludes(
    load(k511, "fentry", "inc m key 1", { sleepable: true }).last,
    "Sleepable programs can only use preallocated maps",
  );
  leakCheck(k511);
});

Deno.test("verifier: map values need a NULL check; ring buffer records must be released", () => {
  const k = kernelWith("v6.18");
  const unchecked = load(k, "kprobe", "lookup m key 1; add value 1");
  assertEquals(unchecked.fd, -EACCES);
  assertIncludes(unchecked.last, "R0 invalid mem access 'map_value_or_null'");
  assertIncludes(load(k, "kprobe", "set value 1").last, "invalid mem access 'scalar'");
  assertTrue(
    load(k, "kprobe", "lookup m key 1; if ok { add value 1; update m key 2 value 3; add value value }").fd > 0,
  );
  assertIncludes(load(k, "kprobe", "lookup m key 1; if ok { add value 1 }; add value 1").last, "invalid mem access");
  assertIncludes(load(k, "kprobe", "reserve rb 8; if ok { write 0 1 }").last, "Unreleased reference");
  assertIncludes(load(k, "kprobe", "reserve rb 8; submit").last, "ringbuf_mem_or_null");
  assertTrue(load(k, "kprobe", "reserve rb 8; if ok { write 0 cpu; submit }").fd > 0);
  leakCheck(k);
});

Deno.test("verifier: helpers take only their map types; ring buffer helpers need 5.8", () => {
  const k = kernelWith("v6.18");
  assertIncludes(load(k, "kprobe", "lookup q key 1").last, "cannot pass map_type 22 into func bpf_map_lookup_elem#1");
  assertIncludes(load(k, "kprobe", "output m 8").last, "cannot pass map_type 1 into func bpf_ringbuf_output#130");
  leakCheck(k);
  const k57 = new Kernel({ cpus: 1, profile: "v5.7", seed: 1 });
  k57.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4, name: "m" });
  assertIncludes(load(k57, "kprobe", "output m 8").last, "unknown func bpf_ringbuf_output#130");
  leakCheck(k57);
});

Deno.test("verifier: loops need 5.3; too much work is refused with E2BIG", () => {
  const old = kernelWith("v4.6");
  assertIncludes(load(old, "kprobe", "repeat 2 { inc m key 1 }").last, "back-edge");
  leakCheck(old);
  const k = kernelWith("v6.18");
  assertTrue(load(k, "kprobe", "repeat 1000 { inc m key 1 }").fd > 0);
  const big = load(k, "kprobe", "repeat 1000 { repeat 1000 { inc m key 1 } }");
  assertEquals(big.fd, -E2BIG);
  assertIncludes(big.last, "BPF program is too large");
  leakCheck(k);
});

Deno.test("prog load: program types appear with their release; bad names and bodies are refused", () => {
  const k = kernelWith("v4.6");
  assertIncludes(load(k, "perf_event", "inc m key 1").last, "not supported by v4.6");
  assertIncludes(load(k, "fentry", "inc m key 1").last, "not supported by v4.6");
  assertTrue(load(k, "kprobe", "inc m key 1").fd > 0);
  const log: string[] = [];
  assertEquals(k.sys.progLoad({ kind: "kprobe", name: "bad-name", ops: "inc m key 1", log }), -EINVAL);
  assertEquals(k.sys.progLoad({ kind: "kprobe", name: "x", ops: "  ", log }), -EINVAL);
  assertIncludes(log.join("\n"), "empty program");
  leakCheck(k);
});
