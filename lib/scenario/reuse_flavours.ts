// Scenario reuse-flavours (seed 003, Hou Tao's RFC "Introduce
// BPF_MA_REUSE_AFTER_RCU_GP" and its htab-mem benchmark): each use case of
// the benchmark run against each memalloc flavour, reporting the loop rate
// from the cost model, kernel memory over simulated time (average and
// peak), and how often a program read through a value pointer whose
// element had been reused for another key since its lookup.
//
// As in selftests/bpf/progs/htab_mem_bench.c: a BPF_F_NO_PREALLOC hash (key
// 4, value 8, max_entries max(8192, 64 * CPUs)); one producer per CPU calls
// getpgid() in a loop and the program attached to its tracepoint does 64
// ops (OP_BATCH) on keys cpu, cpu + n, cpu + 2n, ...:
//   no_op                nothing (the cost of a trigger)
//   overwrite            64 updates of existing keys (each frees the old element)
//   batch_add_batch_del  64 adds, then 64 deletes of the same keys
//   add_del_on_diff_cpu  CPU pairs: one adds 64 keys (getpgid), then the
//                        other deletes them (getppid), in turn (barriers)
// The programs keep one value pointer across their ops, as a real program
// may: overwrite looks its first key up before the updates, the others
// after their adds, and each reads through it at the end. bpfsim's
// use-after-reuse check (Htab.reusedSince) counts the reads that met
// another key. The programs run through the kernel API (map.updateElem()
// and friends, what the helpers call) inside the guards a tracepoint
// program has, and yield between ops to the other CPU when it is behind.

import { Kernel } from "../kernel/kernel.ts";
import { COST, NSEC_PER_SEC } from "../kernel/cost.ts";
import { MEMALLOC_FLAVOURS, type MemallocFlavour } from "../kernel/config.ts";
import { migrate_disable, migrate_enable, rcu_read_lock, rcu_read_unlock } from "../kernel/context.ts";
import { BPF_ANY, BPF_F_NO_PREALLOC, BPF_NOEXIST } from "../bpf/uapi.ts";
import type { Htab } from "../bpf/hashtab.ts";
import { kernelBytes, MemorySampler } from "./mem_sampler.ts";
import { type JsonValue, registerScenario, type ScenarioReport } from "./registry.ts";

/** The benchmark's use cases (no_op from the RFC's version of it). */
export const USE_CASES = ["no_op", "overwrite", "batch_add_batch_del", "add_del_on_diff_cpu"] as const;
/** One use case. */
export type UseCase = typeof USE_CASES[number];

/** OP_BATCH */
const OP_BATCH = 64;
/** Memory is sampled this often (simulated ns). */
const SAMPLE_NS = 100_000;
/** Simulated time each case runs by default: 60 ms, three tasks-trace grace periods. */
export const DEFAULT_DURATION_NS = 60_000_000;

/** A program body: cpu, a scratch key, the key its kept pointer was found under. */
type Body = (cpu: number, key: Uint8Array, keptKey: Uint8Array) => Generator<void>;

/** What one (flavour, use case) run measured. */
export interface FlavourCase {
  /** The kernel's memalloc flavour. */
  readonly flavour: MemallocFlavour;
  /** The benchmark use case. */
  readonly useCase: UseCase;
  /** Loops per producer per simulated second, in thousands (htab-mem's per-prod-op). */
  readonly loopsK: number;
  /** Mean of the memory samples, MiB above the kernel before the map existed. */
  readonly avgMiB: number;
  /** Highest memory seen, MiB above that baseline. */
  readonly peakMiB: number;
  /** Reads through a kept value pointer whose element held another key (or was freed to slab). */
  readonly reuseHits: number;
  /** Reads through a kept value pointer, in all. */
  readonly reads: number;
}

/** Options of one run. */
export interface FlavourRunOptions {
  /** PRNG seed (default 1). */
  seed?: number;
  /** Simulated time the producers run, ns (default DEFAULT_DURATION_NS). */
  durationNs?: number;
  /** CPUs, one producer each; add_del_on_diff_cpu needs an even number (default 2). */
  cpus?: number;
  /** Kernel profile (default v6.1, the release the RFC was measured against: no tgt hints yet). */
  profile?: string;
}

/** What the producers of one run share. */
interface RunEnv {
  readonly k: Kernel;
  readonly map: Htab;
  readonly ncpu: number;
  readonly useCase: UseCase;
  /** Simulated time after which no new trigger starts. */
  readonly end: number;
  /** zeroed_value */
  readonly zero: Uint8Array;
  /** op_cnt */
  opCnt: number;
  /** Reads through a kept pointer that met another key. */
  hits: number;
  /** Reads through a kept pointer. */
  reads: number;
  readonly sampler: MemorySampler;
  readonly producers: Producer[];
}

const NOT_DONE: IteratorResult<undefined> = { done: false, value: undefined };
const DONE: IteratorResult<undefined> = { done: true, value: undefined };

/**
 * One producer thread pinned to a CPU: each of its steps is one trigger
 * (getpgid()/getppid()) whose program runs op by op. The step is resumable
 * (an iterator the scheduler calls next() on): it stops between ops once
 * this CPU's clock passed another CPU's (k.horizon), so the other CPU's
 * ops interleave in simulated time. One object per CPU, reused per step.
 */
class Producer implements Iterator<undefined> {
  /** Next op of the current program run. */
  private pc = 0;
  /** The kept value pointer (0: none). */
  private addr = 0;
  /** The key it was looked up with. */
  private readonly kept = new Uint8Array(4);
  /** Scratch key. */
  private readonly key = new Uint8Array(4);
  /** A thread woken from the pair's barrier starts no earlier than this. */
  private readyAt = 0;
  /** The step function queued for this producer (made once). */
  private readonly step: () => Iterator<undefined>;
  /** Its program: which use case's body (add_del: adder on even CPUs, deleter on odd). */
  private readonly body: "no_op" | "overwrite" | "batch" | "add" | "del";
  /** First key and stride of its key range. */
  private readonly from: number;
  private readonly stride: number;

  constructor(private readonly env: RunEnv, readonly cpu: number) {
    const u = env.useCase;
    this.body = u === "overwrite"
      ? "overwrite"
      : u === "batch_add_batch_del"
      ? "batch"
      : u === "add_del_on_diff_cpu"
      ? (cpu % 2 === 0 ? "add" : "del")
      : "no_op";
    const pairs = u === "add_del_on_diff_cpu";
    this.from = pairs ? cpu >> 1 : cpu;
    this.stride = pairs ? env.ncpu >> 1 : env.ncpu;
    this.step = () => this.start();
  }

  /** Queues this producer's next trigger; `readyAt`: when its barrier released it. */
  queue(readyAt: number): void {
    this.readyAt = readyAt;
    this.env.k.queueStep(this.cpu, this.step, { comm: `producer${this.cpu}` });
  }

  /** The trigger's start: the syscall and the tracepoint program's guards. */
  private start(): Iterator<undefined> {
    const k = this.env.k;
    const cpu = k.cur;
    if (cpu.clock < this.readyAt) cpu.clock = this.readyAt + COST.contextSwitch;
    cpu.clock += COST.syscall;
    rcu_read_lock(k);
    migrate_disable(k);
    this.pc = 0;
    this.addr = 0;
    return this;
  }

  /** Runs ops until the program ends (done) or this CPU got ahead of another one. */
  next(): IteratorResult<undefined> {
    const env = this.env;
    const k = env.k;
    for (;;) {
      if (!this.op(this.pc++)) break;
      if (k.cur.clock > k.horizon) return NOT_DONE;
    }
    migrate_enable(k);
    rcu_read_unlock(k);
    env.sampler.take();
    const now = k.cur.clock;
    if (now < env.end) {
      if (this.body === "add" || this.body === "del") env.producers[this.cpu ^ 1].queue(now);
      else this.queue(0);
    }
    return DONE;
  }

  /** Key i of this producer's range. */
  private keyOf(i: number, b: Uint8Array): Uint8Array {
    const v = this.from + i * this.stride;
    b[0] = v & 0xff;
    b[1] = (v >>> 8) & 0xff;
    b[2] = (v >>> 16) & 0xff;
    b[3] = (v >>> 24) & 0xff;
    return b;
  }

  /** Op `pc` of the program; false once past its end (the read through the kept pointer and op_cnt done). */
  private op(pc: number): boolean {
    const env = this.env;
    const map = env.map;
    switch (this.body) {
      case "overwrite":
        // lookup(first key), 64 overwrites, read
        if (pc === 0) this.addr = map.lookupElem(this.keyOf(0, this.kept));
        else if (pc <= OP_BATCH) map.updateElem(this.keyOf(pc - 1, this.key), env.zero, BPF_ANY);
        else return this.finish(1);
        return true;
      case "batch":
        // 64 adds, lookup(first key), 64 deletes, read
        if (pc < OP_BATCH) map.updateElem(this.keyOf(pc, this.key), env.zero, BPF_ANY);
        else if (pc === OP_BATCH) this.addr = map.lookupElem(this.keyOf(0, this.kept));
        else if (pc <= 2 * OP_BATCH) map.deleteElem(this.keyOf(pc - OP_BATCH - 1, this.key));
        else return this.finish(2);
        return true;
      case "add":
        // 64 adds (BPF_NOEXIST), lookup(first key), read
        if (pc < OP_BATCH) map.updateElem(this.keyOf(pc, this.key), env.zero, BPF_NOEXIST);
        else if (pc === OP_BATCH) this.addr = map.lookupElem(this.keyOf(0, this.kept));
        else return this.finish(1);
        return true;
      case "del":
        if (pc < OP_BATCH) map.deleteElem(this.keyOf(pc, this.key));
        else return this.finish(1);
        return true;
      default:
        return this.finish(1);
    }
  }

  /** The read through the kept pointer (bpfsim's use-after-reuse check), then __sync_fetch_and_add(&op_cnt, n). */
  private finish(n: number): boolean {
    const env = this.env;
    if (this.addr !== 0) {
      env.reads++;
      if (env.map.reusedSince(this.addr, this.kept)) env.hits++;
    }
    env.opCnt += n;
    return false;
  }
}

/** Runs `useCase` on a fresh kernel (v6.1 unless told) whose dynamic hash maps use `flavour`. */
export function runFlavourCase(flavour: MemallocFlavour, useCase: UseCase, opts: FlavourRunOptions = {}): FlavourCase {
  const ncpu = opts.cpus ?? 2;
  if (useCase === "add_del_on_diff_cpu" && ncpu % 2) throw new RangeError(`${useCase} needs an even number of CPUs`);
  const duration = opts.durationNs ?? DEFAULT_DURATION_NS;
  const k = new Kernel({ cpus: ncpu, profile: opts.profile ?? "v6.1", seed: opts.seed ?? 1, memalloc: flavour });
  const base = kernelBytes(k);
  const fd = k.sys.mapCreate({
    mapType: "hash",
    keySize: 4,
    valueSize: 8,
    maxEntries: Math.max(8192, 64 * ncpu),
    mapFlags: BPF_F_NO_PREALLOC,
    name: "htab",
  });
  if (fd < 0) throw new Error(`map create failed: ${fd}`);
  const map = k.sys.mapOf(fd) as Htab;
  const start = k.now();
  const end = start + duration;
  const sampler = new MemorySampler(k, base, start, end, SAMPLE_NS);

  const producers: Producer[] = [];
  const env: RunEnv = {
    k,
    map,
    ncpu,
    useCase,
    end,
    zero: new Uint8Array(8),
    opCnt: 0,
    hits: 0,
    reads: 0,
    sampler,
    producers,
  };
  for (let c = 0; c < ncpu; c++) producers.push(new Producer(env, c));
  if (useCase === "add_del_on_diff_cpu") { for (let c = 0; c < ncpu; c += 2) producers[c].queue(0); }
  else for (const p of producers) p.queue(0);
  k.run({ until: end });
  const ops = env.opCnt;
  const elapsed = Math.max(1, k.now() - start);
  k.quiesce();
  k.sys.close(fd);
  k.quiesce();
  return {
    flavour,
    useCase,
    loopsK: ops / ncpu / (elapsed / NSEC_PER_SEC) / 1000,
    avgMiB: sampler.average() / 2 ** 20,
    peakMiB: sampler.peak / 2 ** 20,
    reuseHits: env.hits,
    reads: env.reads,
  };
}

/** Every flavour x every use case. */
export function runFlavourTable(opts: FlavourRunOptions = {}, progress?: (f: number) => void): FlavourCase[] {
  const out: FlavourCase[] = [];
  const total = MEMALLOC_FLAVOURS.length * USE_CASES.length;
  for (const f of MEMALLOC_FLAVOURS) {
    for (const u of USE_CASES) {
      out.push(runFlavourCase(f.name, u, opts));
      progress?.(out.length / total);
    }
  }
  return out;
}

/** The table as text, one block per flavour like the RFC's. */
function render(rows: readonly FlavourCase[]): string[] {
  const lines: string[] = [];
  for (const f of MEMALLOC_FLAVOURS) {
    lines.push(`(${f.name}) ${f.summary}`);
    lines.push("| name                | loop (k/s) | average memory (MiB) | peak memory (MiB) | use-after-reuse |");
    lines.push("| --                  | --         | --                   | --                | --              |");
    for (const r of rows.filter((x) => x.flavour === f.name)) {
      lines.push(
        `| ${r.useCase.padEnd(19)} | ${r.loopsK.toFixed(2).padEnd(10)} | ${r.avgMiB.toFixed(2).padEnd(20)} | ${
          r.peakMiB.toFixed(2).padEnd(17)
        } | ${`${r.reuseHits}/${r.reads}`.padEnd(15)} |`,
      );
    }
    lines.push("");
  }
  return lines;
}

registerScenario({
  name: "reuse-flavours",
  summary: "htab-mem's use cases against each memalloc flavour: loop rate, memory, use-after-reuse (seed 003)",
  run(opts): ScenarioReport {
    const rows = runFlavourTable({ seed: opts.seed ?? 1 }, opts.progress);
    const text = [
      `htab-mem use cases on v6.1 (the RFC's era: no free target hints yet), 2 CPUs with one producer each,`,
      `${DEFAULT_DURATION_NS / 1e6} ms of simulated time per case (RCU GP 3 ms, tasks-trace GP 20 ms);`,
      "loop rates come from bpfsim's cost model, memory is kernel memory above the kernel before the map, sampled",
      `every ${SAMPLE_NS / 1000} us; use-after-reuse counts reads through a kept value pointer that met another key.`,
      "",
      ...render(rows),
    ];
    const data: JsonValue = rows.map((r) => ({
      flavour: r.flavour,
      use_case: r.useCase,
      loops_k: Math.round(r.loopsK * 100) / 100,
      avg_mib: Math.round(r.avgMiB * 1000) / 1000,
      peak_mib: Math.round(r.peakMiB * 1000) / 1000,
      reuse_hits: r.reuseHits,
      reads: r.reads,
    }));
    return { text, data };
  },
});
