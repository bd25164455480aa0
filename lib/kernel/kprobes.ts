// kprobes (kernel/kprobes.c): handlers attached to instrumented points.
// A handler runs nested on the CPU that hit the point, in that CPU's current
// context, with preemption disabled. A kprobe that fires while another kprobe
// handler is already running on the same CPU is skipped and counted in
// nmissed (kprobe_running() / kprobes_inc_nmissed_count()). A kretprobe runs
// its handler when the function returns (its return value in hand). A probe
// either calls a library handler or runs a BPF link's program (data, so that
// a kernel with attached programs can be saved).

import { PREEMPT_OFFSET } from "./cpu.ts";
import type { Kernel } from "./kernel.ts";
import { allPoints, type Kprobe, pointByName, type ProbeHandler } from "./points.ts";
import { snapshotClasses } from "./snapshot.ts";
import type { BpfLink } from "../bpf/link.ts";

/** Registry of attached kprobes for one kernel. */
export class Kprobes {
  /** byPoint[pointId]: attached entry probes, undefined when none (hot-path test). */
  readonly byPoint: (Kprobe[] | undefined)[] = [];
  /** retByPoint[pointId]: attached kretprobes, undefined when none. */
  readonly retByPoint: (Kprobe[] | undefined)[] = [];
  private nextId = 1;

  /** The registry of kernel `k`, with no probes attached. */
  constructor(private readonly k: Kernel) {}

  /** register_kprobe(): attaches `handler` to the function `symbol`. */
  register(symbol: string, handler: ProbeHandler): Kprobe | null {
    return this.add(symbol, { handler }, false);
  }

  /** register_kretprobe(): `handler` runs when `symbol` returns (arg: its return value). */
  registerRet(symbol: string, handler: ProbeHandler): Kprobe | null {
    return this.add(symbol, { handler }, true);
  }

  /** A kprobe (or kretprobe) whose handler runs a BPF link's program (perf_kprobe + BPF_LINK_CREATE). */
  registerLink(symbol: string, link: BpfLink, ret: boolean): Kprobe | null {
    return this.add(symbol, { links: [link] }, ret);
  }

  /** Registers a probe of either kind at `symbol`'s entry or return. */
  private add(symbol: string, how: { handler?: ProbeHandler; links?: BpfLink[] }, ret: boolean): Kprobe | null {
    const p = pointByName(symbol);
    if (!p) return null;
    const kp: Kprobe = { id: this.nextId++, point: p.id, ret, ...how, nhit: 0, nmissed: 0 };
    const table = ret ? this.retByPoint : this.byPoint;
    (table[p.id] ??= []).push(kp);
    return kp;
  }

  /** unregister_kprobe() / unregister_kretprobe() */
  unregister(kp: Kprobe): void {
    const table = kp.ret ? this.retByPoint : this.byPoint;
    const list = table[kp.point];
    if (!list) return;
    const i = list.indexOf(kp);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) table[kp.point] = undefined;
  }

  /** Unregisters the probe that runs `link`'s program. */
  unregisterLink(link: BpfLink): void {
    for (const kp of this.list()) if (kp.links?.[0] === link) this.unregister(kp);
  }

  /** Every attached probe (entry probes first). */
  list(): Kprobe[] {
    return [...this.byPoint.flatMap((l) => l ?? []), ...this.retByPoint.flatMap((l) => l ?? [])];
  }

  /** Names of all probe-able functions. */
  symbols(): string[] {
    return allPoints().map((p) => p.name);
  }

  /** Runs the entry handlers at `pointId` on the current CPU (called by Kernel.point). */
  fire(pointId: number, arg: unknown): void {
    this.run(this.byPoint[pointId]!, pointId, arg, 0);
  }

  /** Runs the kretprobe handlers of `pointId` with the return value (called by Kernel.pointRet). */
  fireRet(pointId: number, arg: unknown, ret: number): void {
    this.run(this.retByPoint[pointId]!, pointId, arg, ret);
  }

  /** kprobe_ftrace_handler(): the handlers, or nmissed when a kprobe already runs on this CPU. */
  private run(list: Kprobe[], pointId: number, arg: unknown, ret: number): void {
    const k = this.k;
    const cpu = k.cur;
    if (cpu.kprobeActive) {
      for (const kp of list) {
        kp.nmissed++;
        if (kp.links) kp.links[0].missed++;
      }
      return;
    }
    cpu.kprobeActive = true;
    cpu.preemptCount += PREEMPT_OFFSET;
    cpu.probeStack.push(cpu.frames.length - 1, pointId);
    // a handler that unregisters a probe shortens the list under us: walk by index
    for (let i = 0; i < list.length; i++) {
      const kp = list[i];
      kp.nhit++;
      if (kp.links) k.bpf.hooks.kprobe(kp, arg, ret);
      else kp.handler!(pointId, kp.ret ? ret : arg);
    }
    cpu.probeStack.length -= 2;
    cpu.preemptCount -= PREEMPT_OFFSET;
    cpu.kprobeActive = false;
  }
}

snapshotClasses(Kprobes);
