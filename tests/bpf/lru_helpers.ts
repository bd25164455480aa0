// Shared pieces of the LRU tests: a 2-process (one per CPU) driver of one
// map, and "programs" (map ops run on a CPU inside rcu_read_lock +
// migrate_disable, as bpf_prog_run does).

import type { Kernel } from "../../lib/kernel/kernel.ts";
import type { SysBpf } from "../../lib/bpf/syscall.ts";
import type { LruHtab } from "../../lib/bpf/hashtab_lru.ts";
import { migrate_disable, migrate_enable, rcu_read_lock, rcu_read_unlock } from "../../lib/kernel/context.ts";
import { assertTrue } from "../assert.ts";

/** Little-endian bytes of n. */
export function le(n: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size && i < 6; i++) b[i] = Math.floor(n / 2 ** (8 * i)) & 0xff;
  return b;
}

/** Reads a little-endian integer (up to 6 bytes). */
export function fromLe(b: Uint8Array): number {
  let n = 0;
  for (let i = Math.min(b.length, 6) - 1; i >= 0; i--) n = n * 256 + b[i];
  return n;
}

/** Runs `fn` as a BPF program on `cpu`. */
export function runProg<T>(k: Kernel, cpu: number, fn: () => T): T {
  const r = k.exec(cpu, () => {
    rcu_read_lock(k);
    migrate_disable(k);
    try {
      return fn();
    } finally {
      migrate_enable(k);
      rcu_read_unlock(k);
    }
  }, { comm: "prog" });
  if (typeof r === "symbol") throw new Error(`CPU ${cpu} hung running a program`);
  return r;
}

/** One LRU map seen from one `bpftool`-like process per CPU. */
export class LruRig {
  readonly procs: SysBpf[];
  readonly fds: number[];
  readonly map: LruHtab;
  readonly percpu: boolean;

  constructor(
    readonly k: Kernel,
    readonly type: string,
    readonly keySize: number,
    readonly valueSize: number,
    entries: number,
    flags = 0,
  ) {
    this.procs = Array.from({ length: k.ncpu }, (_, c) => k.spawn("bpftool", c));
    const fd = this.procs[0].mapCreate({
      mapType: type,
      keySize,
      valueSize,
      maxEntries: entries,
      mapFlags: flags,
      name: "zzlru",
    });
    assertTrue(fd > 0, `create ${type} failed: ${fd}`);
    const info = this.procs[0].mapInfo(fd);
    if (typeof info === "number") throw new Error(`info ${info}`);
    this.fds = this.procs.map((p, c) => (c === 0 ? fd : p.mapGetFdById(info.id)));
    this.map = this.procs[0].mapOf(fd) as LruHtab;
    this.percpu = type === "lru_percpu_hash";
  }

  /** The syscall value buffer for `n` (every CPU's slot for per-CPU maps). */
  value(n: number): Uint8Array {
    if (!this.percpu) return le(n, this.valueSize);
    const slot = (this.valueSize + 7) & ~7;
    const b = new Uint8Array(slot * this.k.ncpu);
    for (let c = 0; c < this.k.ncpu; c++) b.set(le(n, this.valueSize), c * slot);
    return b;
  }

  update(cpu: number, key: number, flags = 0): number {
    return this.procs[cpu].mapUpdateElem(this.fds[cpu], le(key, this.keySize), this.value(key), flags);
  }

  delete(cpu: number, key: number): number {
    return this.procs[cpu].mapDeleteElem(this.fds[cpu], le(key, this.keySize));
  }

  lookup(cpu: number, key: number): number {
    const out = new Uint8Array(this.map.sysValueSize());
    return this.procs[cpu].mapLookupElem(this.fds[cpu], le(key, this.keySize), out);
  }

  lookupAndDelete(cpu: number, key: number): number {
    const out = new Uint8Array(this.map.sysValueSize());
    return this.procs[cpu].mapLookupAndDeleteElem(this.fds[cpu], le(key, this.keySize), out);
  }

  /** A program's bpf_map_lookup_elem(): 0 when found (the ref bit is set), -ENOENT (-2) otherwise. */
  progLookup(cpu: number, key: number): number {
    return runProg(this.k, cpu, () => this.map.lookupElem(le(key, this.keySize))) !== 0 ? 0 : -2;
  }

  /** A program's bpf_map_update_elem() (this CPU's value slot for per-CPU maps). */
  progUpdate(cpu: number, key: number, flags: number): number {
    return runProg(this.k, cpu, () => this.map.updateElem(le(key, this.keySize), le(key, this.valueSize), flags));
  }

  /** Sorted keys (get_next_key walk from CPU 0's process). */
  keys(): number[] {
    const out: number[] = [];
    let cur: Uint8Array | null = null;
    const next = new Uint8Array(this.keySize);
    while (this.procs[0].mapGetNextKey(this.fds[0], cur, next) === 0) {
      out.push(fromLe(next));
      cur = next.slice();
    }
    return out.sort((a, b) => a - b);
  }

  /** Closes every process' fds. */
  close(): void {
    for (const p of this.procs) p.exit();
  }
}

/** bpf(2) update flag names of the goldens. */
export const FLAG: Record<string, number> = { any: 0, noexist: 1, exist: 2 };
