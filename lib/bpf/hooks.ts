// Where links attach: the kernel's hook tables, as data that points back at
// the links (so that a snapshot keeps attached programs and nothing needs
// re-registering after a load). kprobes and kretprobes go through the
// kprobe registry (kernel/kprobes.c); fentry/fexit through a trampoline per
// traced function (kernel/bpf/trampoline.c); perf tracepoint and raw
// tracepoint programs through each tracepoint's lists; perf events, XDP and
// tc programs through lists the workloads consult. Kernel.point(),
// Kernel.pointRet() and Kernel.tracepoint() call in here only when a table
// slot is occupied.

import type { Kernel } from "../kernel/kernel.ts";
import type { Kprobe } from "../kernel/points.ts";
import { pointByName } from "../kernel/points.ts";
import { preempt_disable, preempt_enable } from "../kernel/context.ts";
import { rawTracepointByName, tracepointByName } from "../kernel/tracepoint.ts";
import { EEXIST, ENOENT, EOPNOTSUPP } from "../kernel/errno.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";
import { bpf_trace_run, bpf_trace_run_yield, trace_call_bpf, trace_call_bpf_yield } from "./bpf_trace.ts";
import { bpf_trampoline_run } from "./trampoline.ts";
import type { BpfLink } from "./link.ts";

/** The fentry and fexit programs of one traced function (struct bpf_trampoline). */
export interface Trampoline {
  /** fentry links, run at entry. */
  readonly fentry: BpfLink[];
  /** fexit links, run at return. */
  readonly fexit: BpfLink[];
}

/** Turns what an instrumented point passes into arg0 (a size, an address, a map id). */
export function pointArg(arg: unknown): number {
  if (typeof arg === "number") return arg;
  if (arg !== null && typeof arg === "object") {
    const o = arg as { addr?: unknown; id?: unknown };
    if (typeof o.addr === "number") return o.addr;
    if (typeof o.id === "number") return o.id;
  }
  return 0;
}

/** The hook tables of one kernel. */
export class Hooks {
  /** Trampolines by point id (undefined: nothing traced there). */
  readonly tramp: (Trampoline | undefined)[] = [];
  /** Perf tracepoint programs by tracepoint id. */
  readonly tpPerf: (BpfLink[] | undefined)[] = [];
  /** Raw tracepoint programs by tracepoint id. */
  readonly tpRaw: (BpfLink[] | undefined)[] = [];
  /** Perf event links (sampling on the CPUs a workload runs). */
  readonly perf: BpfLink[] = [];
  /** XDP links (the simulated NIC's RX path). */
  readonly xdp: BpfLink[] = [];
  /** tc ingress links. */
  readonly tc: BpfLink[] = [];
  /** Scratch argument array (hooks fire one at a time per CPU; programs copy their args). */
  private readonly argv: Float64Array = new Float64Array(6);

  /** The hook tables of kernel `k`, empty. */
  constructor(private readonly k: Kernel) {}

  /** Attaches `link` at its target: 0 or -errno (-ENOENT: no such function or tracepoint). */
  attach(link: BpfLink): number {
    const k = this.k;
    const t = link.target;
    switch (t.hook) {
      case "kprobe":
      case "kretprobe": {
        const kp = k.kprobes.registerLink(t.func, link, t.hook === "kretprobe");
        return kp ? 0 : -ENOENT;
      }
      case "fentry":
      case "fexit": {
        const p = pointByName(t.func);
        if (!p) return -ENOENT;
        const tr = (this.tramp[p.id] ??= { fentry: [], fexit: [] });
        const list = t.hook === "fentry" ? tr.fentry : tr.fexit;
        // a program attaches to a trampoline once (bpf_trampoline_link_prog: -EBUSY in the kernel)
        if (list.some((l) => l.prog === link.prog)) return -EEXIST;
        list.push(link);
        return 0;
      }
      case "tracepoint": {
        const tp = tracepointByName(t.tp);
        if (!tp) return -ENOENT;
        (this.tpPerf[tp.id] ??= []).push(link);
        return 0;
      }
      case "raw_tp": {
        const tp = rawTracepointByName(t.tp);
        if (!tp) return -ENOENT;
        (this.tpRaw[tp.id] ??= []).push(link);
        return 0;
      }
      case "perf_event":
        this.perf.push(link);
        return 0;
      case "xdp":
        // one XDP program per device (without BPF_F_REPLACE)
        if (this.xdp.some((l) => l.target.hook === "xdp" && l.target.ifindex === t.ifindex)) return -EEXIST;
        this.xdp.push(link);
        return 0;
      case "tc":
        this.tc.push(link);
        return 0;
    }
    return -EOPNOTSUPP;
  }

  /** Detaches `link` (idempotent). */
  detach(link: BpfLink): void {
    const k = this.k;
    const t = link.target;
    const drop = (list: BpfLink[] | undefined) => {
      if (!list) return;
      const i = list.indexOf(link);
      if (i >= 0) list.splice(i, 1);
    };
    switch (t.hook) {
      case "kprobe":
      case "kretprobe":
        k.kprobes.unregisterLink(link);
        break;
      case "fentry":
      case "fexit": {
        const p = pointByName(t.func);
        const tr = p ? this.tramp[p.id] : undefined;
        if (p && tr) {
          drop(t.hook === "fentry" ? tr.fentry : tr.fexit);
          if (!tr.fentry.length && !tr.fexit.length) this.tramp[p.id] = undefined;
        }
        break;
      }
      case "tracepoint": {
        const tp = tracepointByName(t.tp);
        if (tp) {
          drop(this.tpPerf[tp.id]);
          if (this.tpPerf[tp.id]?.length === 0) this.tpPerf[tp.id] = undefined;
        }
        break;
      }
      case "raw_tp": {
        const tp = rawTracepointByName(t.tp);
        if (tp) {
          drop(this.tpRaw[tp.id]);
          if (this.tpRaw[tp.id]?.length === 0) this.tpRaw[tp.id] = undefined;
        }
        break;
      }
      case "perf_event":
        drop(this.perf);
        break;
      case "xdp":
        drop(this.xdp);
        break;
      case "tc":
        drop(this.tc);
        break;
    }
    link.detached = true;
  }

  /** Every attached link (kprobes included), in attach order per table. */
  links(): BpfLink[] {
    const out: BpfLink[] = [];
    for (const kp of this.k.kprobes.list()) if (kp.links) out.push(kp.links[0]);
    for (const tr of this.tramp) if (tr) out.push(...tr.fentry, ...tr.fexit);
    for (const l of this.tpPerf) if (l) out.push(...l);
    for (const l of this.tpRaw) if (l) out.push(...l);
    out.push(...this.perf, ...this.xdp, ...this.tc);
    return out;
  }

  // ---------------------------------------------------------------- firing

  /** A kprobe registered for a link fired (kprobe_perf_func -> trace_call_bpf). */
  kprobe(kp: Kprobe, arg: unknown, ret: number): void {
    const links = kp.links!;
    links[0].hits++;
    const a = this.argv;
    a[0] = kp.ret ? ret : pointArg(arg);
    trace_call_bpf(this.k, links, a);
  }

  /** fentry programs at a traced function's entry. */
  fentry(pointId: number, arg: unknown): void {
    const tr = this.tramp[pointId]!;
    if (tr.fentry.length === 0) return;
    const a = this.argv;
    a[0] = pointArg(arg);
    a[1] = 0;
    for (const l of tr.fentry) l.hits++;
    bpf_trampoline_run(this.k, tr.fentry, a);
  }

  /** fexit programs at a traced function's return: arg0 as at entry, arg1 the return value. */
  fexit(pointId: number, arg: unknown, ret: number): void {
    const tr = this.tramp[pointId];
    if (tr === undefined || tr.fexit.length === 0) return;
    const a = this.argv;
    a[0] = pointArg(arg);
    a[1] = ret;
    for (const l of tr.fexit) l.hits++;
    bpf_trampoline_run(this.k, tr.fexit, a);
  }

  /**
   * A tracepoint fired in kernel code (__DO_TRACE: preemption off around the
   * probes): raw_tp programs, then perf tracepoint programs.
   */
  tracepoint(tpId: number, args: ArrayLike<number>): void {
    const k = this.k;
    const raw = this.tpRaw[tpId], perf = this.tpPerf[tpId];
    preempt_disable(k);
    if (raw !== undefined) {
      for (const l of raw.slice()) {
        l.hits++;
        bpf_trace_run(k, l, args);
      }
    }
    if (perf !== undefined) {
      for (const l of perf) l.hits++;
      trace_call_bpf(k, perf.slice(), args);
    }
    preempt_enable(k);
  }

  /** A tracepoint fired at the top of a step: its programs may yield between ops. */
  *tracepointYield(tpId: number, args: ArrayLike<number>): Generator<void, void, unknown> {
    const k = this.k;
    const raw = this.tpRaw[tpId], perf = this.tpPerf[tpId];
    if (raw === undefined && perf === undefined) return;
    const copy = Float64Array.from(args);
    // __DO_TRACE: preemption off across the probes; a yielding run keeps it off
    preempt_disable(k);
    if (raw !== undefined) {
      for (const l of raw.slice()) {
        l.hits++;
        yield* bpf_trace_run_yield(k, l, copy);
      }
    }
    if (perf !== undefined) {
      for (const l of perf) l.hits++;
      yield* trace_call_bpf_yield(k, perf.slice(), copy);
    }
    preempt_enable(k);
  }

  /** A kprobe link's probe fired at the top of a step (sim fire kprobe:FUNC in task context). */
  *kprobeYield(links: readonly BpfLink[], args: ArrayLike<number>): Generator<void, void, unknown> {
    const k = this.k;
    const cpu = k.cur;
    // kprobe_ftrace_handler(): preemption off, kprobe_running() set
    preempt_disable(k);
    cpu.kprobeActive = true;
    for (const l of links) l.hits++;
    yield* trace_call_bpf_yield(k, links, Float64Array.from(args));
    cpu.kprobeActive = false;
    preempt_enable(k);
  }

  /** Validates a hook name for attaching: null when fine, else why not. */
  static checkTarget(hook: string, name: string): string | null {
    if (hook === "tracepoint") return tracepointByName(name) ? null : `no tracepoint ${name}`;
    if (hook === "raw_tp") return rawTracepointByName(name) ? null : `no raw tracepoint ${name}`;
    return pointByName(name) ? null : `no probe-able kernel function ${name}`;
  }
}

snapshotClasses(Hooks);
