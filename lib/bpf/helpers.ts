// kernel/bpf/helpers.c (and the ringbuf/spin-lock helpers it hosts): what a
// running program calls. Each helper is an instrumented point, so kprobes
// and fentry programs can attach to it and interrupts land in it, and each
// runs in the program's context (RCU read side held by the run path, the
// program's CPU and task). `ProgEnv` is the per-run state of one program
// invocation: the op interpreter's registers, and the API a TypeScript body
// calls.

import type { Cpu } from "../kernel/cpu.ts";
import { COST } from "../kernel/cost.ts";
import { EINVAL, errnoName } from "../kernel/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { definePoint } from "../kernel/points.ts";
import { local_irq_restore, local_irq_save, might_sleep } from "../kernel/context.ts";
import type { BpfMap } from "./map.ts";
import type { BpfProg } from "./prog.ts";
import { bpf_ringbuf_discard, bpf_ringbuf_submit, BpfRingbuf } from "./ringbuf.ts";

const P_LOOKUP = definePoint("bpf_map_lookup_elem", "kernel/bpf/helpers.c", "helper: look a key up in a map", {
  ret: true,
});
const P_UPDATE = definePoint("bpf_map_update_elem", "kernel/bpf/helpers.c", "helper: insert or replace a map element", {
  ret: true,
});
const P_DELETE = definePoint("bpf_map_delete_elem", "kernel/bpf/helpers.c", "helper: delete a map element", {
  ret: true,
});
const P_SPIN_LOCK = definePoint("bpf_spin_lock", "kernel/bpf/helpers.c", "helper: take a map value's bpf_spin_lock");
const P_SPIN_UNLOCK = definePoint("bpf_spin_unlock", "kernel/bpf/helpers.c", "helper: release a bpf_spin_lock");
const P_KTIME = definePoint("bpf_ktime_get_ns", "kernel/bpf/helpers.c", "helper: monotonic time in ns");
const P_COPY_FROM_USER = definePoint(
  "bpf_copy_from_user",
  "kernel/bpf/helpers.c",
  "helper (sleepable): copy from user memory, may fault",
);

/** The innermost task frame of a CPU: `current` (interrupts run on top of the task they interrupted). */
export function currentTask(cpu: Cpu): { name: string; pid: number } {
  const f = cpu.frames;
  for (let i = f.length - 1; i >= 0; i--) if (f[i].kind === "task") return f[i];
  return { name: `swapper/${cpu.id}`, pid: 0 };
}

/**
 * One invocation of a program: its registers and helper API. The run path
 * keeps one per program, CPU and nesting depth, so a run allocates nothing.
 */
export class ProgEnv {
  /** The CPU the program runs on (smp_processor_id()). */
  cpu: Cpu;
  /** The hook's arguments: the probed function's or the tracepoint's (0 where there are none). */
  readonly args: Float64Array = new Float64Array(6);
  /** Next op to run (the op interpreter's program counter). */
  pc = 0;
  /** The last pointer-returning or fallible op succeeded. */
  ok = false;
  /** The last op's result (an errno for updates and deletes, a query's answer, 0 or 1 for lookups). */
  ret = 0;
  /** The program's run number (its `seq`). */
  seq = 0;
  /** The CPU's clock when the run started (run_time_ns). */
  start = 0;
  /** Address of the value the last lookup returned (0: none). */
  valAddr = 0;
  /** The map that value belongs to. */
  valMap: BpfMap | null = null;
  /** The key that lookup used (to notice a reused element). */
  valKey: Uint8Array = new Uint8Array(0);
  /** Use-after-reuse already reported for the current pointer. */
  reuseSeen = false;
  /** Loop counters of `repeat` ops, one slot each. */
  loops: Int32Array = new Int32Array(0);
  /** The reserved ring buffer record (0: none) and its ring. */
  sample = 0;
  /** Size of the reserved record. */
  sampleSize = 0;
  /** The ring the record was reserved in. */
  sampleRing: BpfRingbuf | null = null;
  /** Address of the map value whose bpf_spin_lock is held (0: none), and the saved irq state. */
  lockAddr = 0;
  /** local_irq_save() state to restore at bpf_spin_unlock. */
  lockFlags = false;

  /** A fresh environment for `prog` runs on `cpu`. */
  constructor(readonly k: Kernel, readonly prog: BpfProg, cpu: Cpu) {
    this.cpu = cpu;
  }

  /** Resets the registers for a new run. */
  reset(seq: number): void {
    this.pc = 0;
    this.ok = false;
    this.ret = 0;
    this.seq = seq;
    this.valAddr = 0;
    this.valMap = null;
    this.reuseSeen = false;
    this.sample = 0;
    this.sampleRing = null;
    this.lockAddr = 0;
  }

  // ------------------------------------------------------------ helpers

  /** bpf_map_lookup_elem(): the value's address or 0; keeps it as the current pointer. */
  lookup(map: BpfMap, key: Uint8Array): number {
    const k = this.k;
    const t0 = this.cpu.clock;
    k.point(P_LOOKUP, map);
    const addr = map.lookupElem(key);
    k.pointRet(P_LOOKUP, map, addr);
    if (this.cpu.trace !== null) this.traceOp(t0, "lookup", map, addr ? "found" : "NULL");
    this.setPointer(map, key, addr);
    return addr;
  }

  /** Makes `addr` (a value of `map` found under `key`) the pointer `value` reads and writes through. */
  setPointer(map: BpfMap, key: Uint8Array, addr: number): void {
    this.valAddr = addr;
    this.valMap = addr ? map : null;
    this.reuseSeen = false;
    if (addr) {
      if (this.valKey.length !== key.length) this.valKey = new Uint8Array(key.length);
      this.valKey.set(key);
    }
    this.ok = addr !== 0;
    this.ret = addr !== 0 ? 1 : 0;
  }

  /** bpf_map_update_elem(): 0 or -errno. */
  update(map: BpfMap, key: Uint8Array, value: Uint8Array, flags: number): number {
    const k = this.k;
    const t0 = this.cpu.clock;
    k.point(P_UPDATE, map);
    const r = map.updateElem(key, value, flags);
    k.pointRet(P_UPDATE, map, r);
    if (this.cpu.trace !== null) this.traceOp(t0, "update", map, r ? `-${errnoName(r)}` : "0");
    return r;
  }

  /** bpf_map_delete_elem(): 0 or -errno. */
  delete(map: BpfMap, key: Uint8Array): number {
    const k = this.k;
    const t0 = this.cpu.clock;
    k.point(P_DELETE, map);
    const r = map.deleteElem(key);
    k.pointRet(P_DELETE, map, r);
    if (this.cpu.trace !== null) this.traceOp(t0, "delete", map, r ? `-${errnoName(r)}` : "0");
    return r;
  }

  /** A map op as a trace slice, its result as the slice's argument. */
  private traceOp(t0: number, op: string, map: BpfMap, result: string): void {
    this.cpu.trace!.complete(t0, this.cpu.clock, this.cpu.id, "map", `${op} ${map.name || map.id}`, result);
  }

  /** bpf_ktime_get_ns() */
  ktime(): number {
    this.k.point(P_KTIME);
    return this.cpu.clock;
  }

  /** bpf_get_current_pid_tgid() >> 32 (a single-threaded task: tgid == pid). */
  pid(): number {
    return currentTask(this.cpu).pid;
  }

  /** bpf_get_current_comm(): the task name, NUL-padded to 16 bytes. */
  comm(): Uint8Array {
    const out = new Uint8Array(16);
    const b = new TextEncoder().encode(currentTask(this.cpu).name);
    out.set(b.subarray(0, 15));
    return out;
  }

  /** bpf_get_prandom_u32() below n (n > 0), from the kernel's seeded PRNG. */
  rand(n: number): number {
    return n > 0 ? this.k.rng.below(n) : 0;
  }

  /**
   * Reads min(8, value_size) bytes through the current pointer, little
   * endian. A pointer whose element was since reused for another key is
   * reported once (bpfsim's use-after-reuse check; the kernel cannot see it).
   */
  readValue(): number {
    const map = this.valMap;
    if (map === null) return 0;
    this.checkReuse(map);
    return readLe(this.k, this.valAddr, Math.min(8, map.valueSize));
  }

  /** Writes `v` through the current pointer (min(8, value_size) bytes, little endian). */
  writeValue(v: number): void {
    const map = this.valMap;
    if (map === null) return;
    this.checkReuse(map);
    writeLe(this.k, this.valAddr, Math.min(8, map.valueSize), v);
  }

  /** Adds `v` to the value through the current pointer (an atomic fetch-and-add). */
  addValue(v: number): void {
    const map = this.valMap;
    if (map === null) return;
    this.checkReuse(map);
    const n = Math.min(8, map.valueSize);
    this.cpu.clock += COST.atomic;
    writeLe(this.k, this.valAddr, n, readLe(this.k, this.valAddr, n) + v);
  }

  /** Reports (once per pointer) an access through an element reused since the lookup. */
  private checkReuse(map: BpfMap): void {
    if (this.reuseSeen || !map.reusedSince(this.valAddr, this.valKey)) return;
    this.reuseSeen = true;
    this.prog.reuseHits++;
    const k = this.k;
    k.bpf.reuseHits++;
    const key = [...this.valKey].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    k.dmesg.log(
      this.cpu.clock,
      this.cpu.id,
      "warn",
      "reuse",
      `bpfsim: prog ${this.prog.name || this.prog.id} (id ${this.prog.id}) on CPU ${this.cpu.id} accessed map ${
        map.name || map.id
      } through a value pointer whose element was freed and reused for another key since the lookup of key ${key} ` +
        `(use-after-reuse; the kernel reads the new owner's data)`,
    );
  }

  /** bpf_ringbuf_reserve(): keeps the record as the current sample. */
  reserve(rb: BpfRingbuf, size: number): number {
    const addr = rb.reserve(size, 0);
    this.sample = addr;
    this.sampleSize = size;
    this.sampleRing = addr ? rb : null;
    this.ok = addr !== 0;
    this.ret = addr !== 0 ? 1 : 0;
    return addr;
  }

  /** Writes `v` at `off` of the reserved record (8 bytes, or what is left). */
  writeSample(off: number, v: number): void {
    if (this.sample === 0) return;
    const n = Math.min(8, this.sampleSize - off);
    if (n > 0) writeLe(this.k, this.sample + off, n, v);
  }

  /** bpf_ringbuf_submit() / bpf_ringbuf_discard() of the current sample. */
  commit(discard: boolean, flags: number): void {
    if (this.sample === 0) return;
    if (discard) bpf_ringbuf_discard(this.k, this.sample, flags);
    else bpf_ringbuf_submit(this.k, this.sample, flags);
    this.sample = 0;
    this.sampleRing = null;
  }

  /** bpf_ringbuf_output(): a record of `size` bytes whose first bytes hold `v`. */
  output(rb: BpfRingbuf, size: number, v: number, flags: number): number {
    const data = new Uint8Array(size);
    const n = Math.min(8, size);
    let x = v;
    for (let i = 0; i < n; i++) {
      data[i] = x % 256;
      x = Math.floor(x / 256);
    }
    const r = rb.output(data, flags);
    this.ok = r === 0;
    this.ret = r;
    return r;
  }

  /**
   * bpf_spin_lock() on the value at `addr`: local_irq_save() and the
   * arch spinlock. The lock word is kept beside the value (k.bpf.spinLocks),
   * holding the time it was last released, or -(cpu+1) while held.
   */
  spinLock(addr: number): void {
    const k = this.k;
    k.point(P_SPIN_LOCK);
    const cpu = this.cpu;
    this.lockFlags = local_irq_save(k);
    const locks = k.bpf.spinLocks;
    const w = locks.get(addr) ?? 0;
    if (w < 0) {
      k.hang(cpu, `spinning on a bpf_spin_lock held by ${w === -(cpu.id + 1) ? "this CPU (AA)" : `CPU#${-w - 1}`}`);
    }
    if (cpu.clock < w) cpu.clock = w;
    cpu.clock += COST.lock;
    locks.set(addr, -(cpu.id + 1));
    this.lockAddr = addr;
  }

  /** bpf_spin_unlock() */
  spinUnlock(): void {
    const k = this.k;
    k.point(P_SPIN_UNLOCK);
    if (this.lockAddr === 0) return;
    this.cpu.clock += COST.unlock;
    k.bpf.spinLocks.set(this.lockAddr, this.cpu.clock);
    this.lockAddr = 0;
    local_irq_restore(k, this.lockFlags);
  }

  /** bpf_copy_from_user(): may fault, so it may sleep (sleepable programs only). */
  copyFromUser(size: number): number {
    const k = this.k;
    k.point(P_COPY_FROM_USER);
    might_sleep(k, "kernel/bpf/helpers.c", 666);
    this.cpu.clock += COST.copyWord * Math.ceil(size / 8);
    return size > 0 ? 0 : -EINVAL;
  }
}

/** Scratch bytes for readLe/writeLe (one copy through Memory, which finds the region once). */
const scratch = new Uint8Array(8);

/** Little-endian load of `n` (<= 8) bytes at `addr` as a number (exact below 2^53). */
export function readLe(k: Kernel, addr: number, n: number): number {
  k.mem.copyOut(addr, scratch, 0, n);
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + scratch[i];
  return v;
}

/** Little-endian store of the low `n` (<= 8) bytes of `v` (two's complement for negatives). */
export function writeLe(k: Kernel, addr: number, n: number, v: number): void {
  let x = v < 0 ? 2 ** (8 * n) + v : v;
  if (n < 8) x %= 2 ** (8 * n);
  if (x < 4294967296) {
    for (let i = 0; i < n; i++) {
      scratch[i] = i < 4 ? x & 0xff : 0;
      if (i < 4) x >>>= 8;
    }
  } else {
    for (let i = 0; i < n; i++) {
      scratch[i] = x % 256;
      x = Math.floor(x / 256);
    }
  }
  k.mem.copyIn(addr, scratch, 0, n);
}

/** Encodes `v` little endian into `buf` (its whole length; zero beyond 8 bytes). */
export function encodeLe(buf: Uint8Array, v: number): void {
  const n = buf.length;
  let x = v;
  if (x < 0) x = (n >= 8 ? 2 ** 64 : 2 ** (8 * n)) + x;
  if (x < 4294967296 && x >= 0 && Number.isInteger(x)) {
    // the common case: a small unsigned integer
    for (let i = 0; i < n; i++) {
      if (i < 4) {
        buf[i] = x & 0xff;
        x >>>= 8;
      } else buf[i] = 0;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    if (i < 8) {
      buf[i] = x % 256;
      x = Math.floor(x / 256);
    } else buf[i] = 0;
  }
}
