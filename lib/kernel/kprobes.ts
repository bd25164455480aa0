// kprobes (kernel/kprobes.c): handlers attached to instrumented points.
// A handler runs nested on the CPU that hit the point, in that CPU's current
// context, with preemption disabled. A kprobe that fires while another kprobe
// handler is already running on the same CPU is skipped and counted in
// nmissed (kprobe_running() / kprobes_inc_nmissed_count()).

import { PREEMPT_OFFSET } from "./cpu.ts";
import type { Kernel } from "./kernel.ts";
import { allPoints, type Kprobe, pointByName, pointInfo, type ProbeHandler } from "./points.ts";
import { snapshotClasses } from "./snapshot.ts";

/** Registry of attached kprobes for one kernel. */
export class Kprobes {
  /** byPoint[pointId]: attached probes, undefined when none (hot-path test). */
  readonly byPoint: (Kprobe[] | undefined)[] = [];
  private nextId = 1;

  /** The registry of kernel `k`, with no probes attached. */
  constructor(private readonly k: Kernel) {}

  /** register_kprobe(): attaches `handler` to the function `symbol`. */
  register(symbol: string, handler: ProbeHandler): Kprobe | null {
    const p = pointByName(symbol);
    if (!p) return null;
    const kp: Kprobe = { id: this.nextId++, point: p.id, handler, nhit: 0, nmissed: 0 };
    (this.byPoint[p.id] ??= []).push(kp);
    return kp;
  }

  /** unregister_kprobe() */
  unregister(kp: Kprobe): void {
    const list = this.byPoint[kp.point];
    if (!list) return;
    const i = list.indexOf(kp);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byPoint[kp.point] = undefined;
  }

  /** Every attached probe. */
  list(): Kprobe[] {
    return this.byPoint.flatMap((l) => l ?? []);
  }

  /** Names of all probe-able functions. */
  symbols(): string[] {
    return allPoints().map((p) => p.name);
  }

  /** Runs the handlers at `pointId` on the current CPU (called by Kernel.point). */
  fire(pointId: number, arg: unknown): void {
    const k = this.k;
    const cpu = k.cur;
    const list = this.byPoint[pointId]!;
    if (cpu.kprobeActive) {
      for (const kp of list) kp.nmissed++;
      return;
    }
    cpu.kprobeActive = true;
    cpu.preemptCount += PREEMPT_OFFSET;
    cpu.probeStack.push({ frame: cpu.frames.length - 1, symbol: pointInfo(pointId).name });
    for (const kp of list.slice()) {
      kp.nhit++;
      kp.handler(pointId, arg);
    }
    cpu.probeStack.pop();
    cpu.preemptCount -= PREEMPT_OFFSET;
    cpu.kprobeActive = false;
  }
}

snapshotClasses(Kprobes);
