// struct bpf_prog and its aux (include/linux/bpf.h, kernel/bpf/core.c,
// kernel/bpf/syscall.c): a loaded program's identity (id, type, name, tag),
// the maps it uses (each held with a reference, as used_maps[] holds them),
// its per-CPU statistics (run_cnt, run_time_ns, misses) and the per-CPU
// `active` counter the trampoline and raw tracepoints use as a recursion
// guard, and its reference count (fds, pins and links hold it).
//
// A program's body is data: op-language source plus the parsed ops (what a
// snapshot keeps), bound to its maps at load time. A library user may give
// a TypeScript function instead; such a kernel cannot be saved, and says so.

import type { Kernel } from "../kernel/kernel.ts";
import { PAGE_SIZE } from "../kernel/memory.ts";
import { type CustomSnapshot, snapshotClasses, SnapshotError } from "../kernel/snapshot.ts";
import type { BpfMap } from "./map.ts";
import type { OpProgram } from "./oplang.ts";
import { progTypeName } from "./uapi_prog.ts";
import type { ProgEnv } from "./helpers.ts";

/**
 * What a user names as the program's type (bpftool's `prog load ... type`,
 * libbpf's SEC() prefixes): it picks the prog type, the expected attach
 * type and the hooks the program may attach to.
 */
export type ProgKind =
  | "kprobe"
  | "kretprobe"
  | "tracepoint"
  | "raw_tp"
  | "fentry"
  | "fexit"
  | "perf_event"
  | "xdp"
  | "tc"
  | "syscall";

/** A body written in TypeScript (library only): gets the helper environment, returns r0. */
export type ProgFn = (env: ProgEnv) => number;

/** The program's code. */
export type ProgBody =
  | { readonly lang: "ops"; readonly source: string; readonly ast: OpProgram }
  | { readonly lang: "ts"; readonly fn: ProgFn };

/** sizeof(struct bpf_prog) on x86-64 (the header bpf_prog_alloc() adds to the instructions). */
const BPF_PROG_HEADER = 72;

/** A loaded program. */
export class BpfProg implements CustomSnapshot {
  /** Program id (prog_idr), 0 until published. */
  id = 0;
  /** All references: fds, pins, links, prog_array slots. */
  refcnt = 1;
  /** bpffs: what kind of object a pin of this is. */
  readonly pinKind = "prog" as const;
  /** run_cnt per CPU (bpf_prog_stats.cnt), counted while kernel.bpf_stats_enabled is set. */
  runCnt: Float64Array;
  /** run_time_ns per CPU (bpf_prog_stats.nsecs), from the simulated clock. */
  runTimeNs: Float64Array;
  /** misses per CPU (bpf_prog_stats.misses): runs skipped by a recursion guard (recursion_misses). */
  misses: Float64Array;
  /** prog->active, per CPU: the trampoline / raw_tp recursion guard. */
  active: Int32Array;
  /** Runs started in total (the op language's `seq`). */
  seq = 0;
  /** load_time: simulated boot-relative ns at BPF_PROG_LOAD. */
  readonly loadTime: number;
  /** Results of the program's map ops (updates, deletes, incs, outputs) by errno, 0 = success. */
  readonly opResults: Map<number, number> = new Map();
  /** Reads or writes through a value pointer whose element was reused since its lookup (bpfsim's check). */
  reuseHits = 0;
  /** True once the program was freed (last reference gone). */
  freed = false;

  /**
   * A program of prog type `progType` (enum bpf_prog_type) loaded as `kind`
   * with `body`, using `maps` (references already taken by the loader).
   */
  constructor(
    readonly k: Kernel,
    readonly progType: number,
    /** expected_attach_type (fentry/fexit: BPF_TRACE_FENTRY/FEXIT; 0 otherwise). */
    readonly attachType: number,
    readonly kind: ProgKind,
    readonly name: string,
    readonly body: ProgBody,
    readonly maps: readonly BpfMap[],
    /** BPF_F_SLEEPABLE: runs under rcu_read_lock_trace, may fault and sleep. */
    readonly sleepable: boolean,
    /** Loaded with the verifier's placement rules skipped (bpfsim's `unsafe`). */
    readonly unsafe: boolean,
  ) {
    const n = k.ncpu;
    this.runCnt = new Float64Array(n);
    this.runTimeNs = new Float64Array(n);
    this.misses = new Float64Array(n);
    this.active = new Int32Array(n);
    this.loadTime = k.now();
  }

  /** libbpf's name of the prog type ("kprobe", "tracing", ...). */
  get typeName(): string {
    return progTypeName(this.progType) ?? `type ${this.progType}`;
  }

  /** Sum of run_cnt over CPUs. */
  get runCount(): number {
    let s = 0;
    for (const v of this.runCnt) s += v;
    return s;
  }

  /** Sum of run_time_ns over CPUs. */
  get runTime(): number {
    let s = 0;
    for (const v of this.runTimeNs) s += v;
    return s;
  }

  /** Sum of misses over CPUs (bpf_prog_info.recursion_misses). */
  get recursionMisses(): number {
    let s = 0;
    for (const v of this.misses) s += v;
    return s;
  }

  /**
   * The program's size in BPF instructions as the kernel would hold it:
   * op-language programs are charged what their ops lower to (helper calls,
   * argument set-up, NULL checks and loop control), a TS body one call.
   */
  get insnCnt(): number {
    if (this.body.lang !== "ops") return 2;
    return insnsOf(this.body.ast);
  }

  /** bytes_xlated */
  get xlatedLen(): number {
    return this.insnCnt * 8;
  }

  /** fdinfo memlock: bpf_prog_alloc()'s pages (header plus instructions, page-rounded). */
  get memlock(): number {
    return Math.ceil((BPF_PROG_HEADER + this.insnCnt * 8) / PAGE_SIZE) * PAGE_SIZE;
  }

  /**
   * The program tag (bpf_prog_calc_tag(): a SHA-1 over the instructions in
   * the kernel): here a 64-bit FNV-1a digest of the body, so equal bodies
   * get equal tags, as in the kernel.
   */
  get tag(): string {
    const text = this.body.lang === "ops" ? this.body.source : `ts:${this.name}`;
    let h1 = 0x811c9dc5, h2 = 0x01000193 ^ text.length;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
      h2 = Math.imul(h2 ^ c ^ (h1 >>> 7), 0x5bd1e995) >>> 0;
    }
    return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0");
  }

  /** bpf_any_get() for a bpffs pin. */
  pinGet(): void {
    this.refcnt++;
  }

  /** bpf_any_put() when a pin is unlinked. */
  pinPut(): void {
    this.k.bpf.progPut(this);
  }

  /** Saves the body as data; a TypeScript body cannot be saved. */
  snapshotSave(): unknown {
    if (this.body.lang === "ts") {
      throw new SnapshotError(
        `program ${this.name || this.id} has a TypeScript body and cannot be saved (only op-language programs can)`,
      );
    }
    const o: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(this)) o[key] = v;
    return o;
  }

  /** Restores the fields saved by snapshotSave(). */
  snapshotLoad(state: unknown): void {
    Object.assign(this, state as Record<string, unknown>);
  }
}

/** Instructions an op lowers to (the kernel's helper-call sequences, roughly as clang emits them). */
function insnsOf(p: OpProgram): number {
  let n = 2; // r0 = 0; exit
  const walk = (ops: OpProgram["ops"]) => {
    for (const op of ops) {
      switch (op.op) {
        case "lookup":
        case "delete":
          n += 6; // key to stack, ld_imm64 map, r2 = fp-8, call
          break;
        case "update":
        case "inc":
          n += 10;
          break;
        case "output":
        case "reserve":
        case "query":
        case "spin_lock":
          n += 6;
          break;
        case "repeat":
          n += 4;
          walk(op.body);
          break;
        case "if":
          n += 1;
          walk(op.body);
          break;
        default:
          n += 3;
      }
    }
  };
  walk(p.ops);
  return n;
}

snapshotClasses(BpfProg);
