// Scenario memalloc-contexts (seed 002, Kumar's summary that Alexei
// confirmed): what a program that inserts a burst of new keys into a
// dynamic hash map gets from bpf_mem_alloc in each context, on !RT and RT.
// The cache of a fresh map holds its prefill (4 elements); each insert
// takes one, and below the low watermark unit_alloc() queues the refill
// irq_work. Whether that refill can run before the burst ends decides:
//   !RT task/softirq: the irq_work self-IPI lands as soon as interrupts are
//     on again (every bucket unlock), so the cache never runs dry;
//   !RT hardirq, NMI: interrupts stay off until the handler returns: -ENOMEM;
//   RT: the refill runs in the irq_work kthread (SCHED_FIFO 1), which every
//     context here outranks (the task and the NIC's irq thread serving
//     NET_RX run at SCHED_FIFO 50; hardirq and NMI keep interrupts off):
//     -ENOMEM from task, softirq, hardirq and NMI alike.
// Allocations go straight through the kernel API (map.updateElem() is what
// the bpf_map_update_elem() helper calls), inside the guards a program has
// (rcu_read_lock(), and migrate_disable() in task context).

import { Kernel } from "../kernel/kernel.ts";
import { ENOMEM } from "../kernel/errno.ts";
import { type Cpu, type CtxKind, SOFTIRQ_OFFSET } from "../kernel/cpu.ts";
import {
  migrate_disable,
  migrate_enable,
  popFrame,
  pushFrame,
  rcu_read_lock,
  rcu_read_unlock,
} from "../kernel/context.ts";
import { NET_RX_SOFTIRQ } from "../kernel/softirq.ts";
import { BPF_ANY, BPF_F_NO_PREALLOC } from "../bpf/uapi.ts";
import type { Htab } from "../bpf/hashtab.ts";
import type { BpfMemCache } from "../bpf/memalloc.ts";
import type { BpfMaElemAllocator } from "../bpf/hashtab_alloc.ts";
import { type JsonValue, registerScenario, type ScenarioReport } from "./registry.ts";

/** One row of the table. */
export interface ContextRow {
  /** Where the program ran. */
  readonly context: CtxKind;
  /** CONFIG_PREEMPT_RT */
  readonly rt: boolean;
  /** Scheduling priority of the task or thread the program ran in (-1: an interrupt). */
  readonly prio: number;
  /** Inserts tried. */
  readonly attempts: number;
  /** Inserts that got an element. */
  readonly ok: number;
  /** Inserts that failed with -ENOMEM (the cache was empty). */
  readonly enomem: number;
  /** bpf_mem_refill() runs that added objects to the CPU's cache, until the kernel was idle. */
  readonly refills: number;
  /** Of those, the ones that ran while the burst was still going. */
  readonly refillsDuring: number;
  /** Where the first refill ran: "hardirq" (the irq_work IPI) or the irq_work kthread. */
  readonly refillIn: string;
}

/** The contexts of the table, in its order. */
export const CONTEXTS: readonly CtxKind[] = ["task", "softirq", "hardirq", "nmi"];

/** Inserts per burst (htab-mem's OP_BATCH). */
const BURST = 64;
/** SCHED_FIFO priority of the task and of the NIC's irq thread (the kernel's default for irq threads). */
const FIFO_PRIO = 50;

/**
 * Runs one row: a fresh v6.18 kernel (RT or not), a dynamic hash map, and a
 * burst of `burst` inserts of new keys from `context` on CPU 0 (a task runs
 * at SCHED_FIFO `taskPrio`, 0 meaning SCHED_OTHER).
 */
export function runContextRow(
  context: CtxKind,
  rt: boolean,
  seed = 1,
  burst = BURST,
  taskPrio = FIFO_PRIO,
): ContextRow {
  const k = new Kernel({ cpus: 2, profile: "v6.18", preemptRt: rt, seed });
  const fd = k.sys.mapCreate({
    mapType: "hash",
    keySize: 4,
    valueSize: 8,
    maxEntries: 4096,
    mapFlags: BPF_F_NO_PREALLOC,
    name: "burst",
  });
  if (fd < 0) throw new Error(`map create failed: ${fd}`);
  const map = k.sys.mapOf(fd) as Htab;
  const cache = (map.allocator as BpfMaElemAllocator).ma.cache![0];
  const refills0 = cache.refills;
  let active = false;
  let during = 0;
  let where = "";
  const probe = k.kprobes.register("bpf_mem_refill", (_id, arg) => {
    const c = arg as BpfMemCache;
    if (c !== cache || c.freeCnt >= c.lowWatermark) return;
    if (active) during++;
    if (where === "") {
      const f = k.cur.top();
      where = f.threaded ? `${f.name.split(":")[0]} kthread` : f.kind === "hardirq" ? "hardirq (irq_work IPI)" : f.kind;
      where += active ? ", during the burst" : ", after it";
    }
  });
  let ok = 0;
  let enomem = 0;
  const key = new Uint8Array(4);
  const value = new Uint8Array(8);
  const program = () => {
    active = true;
    rcu_read_lock(k);
    if (context === "task") migrate_disable(k);
    for (let i = 0; i < burst; i++) {
      new DataView(key.buffer).setUint32(0, i, true);
      const r = map.updateElem(key, value, BPF_ANY);
      if (r === 0) ok++;
      else if (r === -ENOMEM) enomem++;
    }
    if (context === "task") migrate_enable(k);
    rcu_read_unlock(k);
    active = false;
  };
  const at = k.cpus[0].clock + 1000;
  let prio = -1;
  switch (context) {
    case "task":
      prio = taskPrio;
      k.queueStep(0, program, { comm: "burst", prio });
      break;
    case "softirq":
      // the NIC's interrupt raises NET_RX: run at irq_exit() on !RT, by the
      // irq thread at its local_bh_enable() (and its priority) on RT
      prio = rt ? FIFO_PRIO : -1;
      k.raiseIrq(0, at, "eth0", () => {
        const cpu = k.cur;
        if (rt) servedInThread(cpu, program);
        else k.softirq.raise(cpu, NET_RX_SOFTIRQ, program);
      });
      break;
    case "hardirq":
      k.raiseIrq(0, at, "timer", program, { threadedOnRt: false });
      break;
    case "nmi":
      k.raiseNmi(0, at, "perf", program);
      break;
  }
  k.quiesce();
  k.kprobes.unregister(probe!);
  k.sys.close(fd);
  k.quiesce();
  return {
    context,
    rt,
    prio,
    attempts: burst,
    ok,
    enomem,
    refills: cache.refills - refills0,
    refillsDuring: during,
    refillIn: where || "none",
  };
}

/**
 * PREEMPT_RT runs a softirq raised in a threaded handler at that thread's
 * local_bh_enable(), in the thread and at its priority: a NET_RX frame on
 * top of the irq thread.
 */
function servedInThread(cpu: Cpu, fn: () => void): void {
  const prio = cpu.top().prio;
  pushFrame(cpu, "softirq", "NET_RX", -1, true, prio);
  cpu.rtSoftirqCount += SOFTIRQ_OFFSET;
  cpu.irqsOff = false;
  try {
    fn();
  } finally {
    cpu.rtSoftirqCount -= SOFTIRQ_OFFSET;
    popFrame(cpu);
  }
}

/** Every row: the four contexts without RT, then with. */
export function runContextTable(seed = 1): ContextRow[] {
  const rows: ContextRow[] = [];
  for (const rt of [false, true]) for (const c of CONTEXTS) rows.push(runContextRow(c, rt, seed));
  return rows;
}

/** The table as text. */
function render(rows: readonly ContextRow[]): string[] {
  const head = ["context", "rt", "prio", "attempts", "ok", "enomem", "refills", "refill ran in"];
  const cells = rows.map((r) => [
    r.context,
    r.rt ? "yes" : "no",
    r.prio < 0 ? "-" : r.prio === 0 ? "other" : `fifo ${r.prio}`,
    String(r.attempts),
    String(r.ok),
    String(r.enomem),
    String(r.refills),
    r.refillIn,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(w[i]))).join("  ");
  return [line(head), ...cells.map(line)];
}

registerScenario({
  name: "memalloc-contexts",
  summary: "bpf_mem_alloc per context, RT off and on: a burst of inserts, -ENOMEM and where the refill ran (seed 002)",
  run(opts): ScenarioReport {
    const rows = runContextTable(opts.seed ?? 1);
    const text = [
      `A program inserts ${BURST} new keys into a fresh BPF_F_NO_PREALLOC hash map (v6.18, 2 CPUs) on CPU 0;`,
      "the element cache holds its prefill (4), and below the low watermark (32) unit_alloc() queues the refill.",
      "",
      ...render(rows),
      "",
      "!RT: task and softirq run with interrupts on, so the irq_work self-IPI refills the cache inside the burst;",
      "hardirq and NMI keep interrupts off: -ENOMEM until the handler returns and the refill runs.",
      "RT: the refill is a SCHED_FIFO 1 kthread; every context here outranks it (task and the irq thread serving",
      "NET_RX at SCHED_FIFO 50, hardirq and NMI with interrupts off), so -ENOMEM comes from all four.",
    ];
    const data: JsonValue = rows.map((r) => ({
      context: r.context,
      rt: r.rt,
      prio: r.prio,
      attempts: r.attempts,
      ok: r.ok,
      enomem: r.enomem,
      refills: r.refills,
      refills_during: r.refillsDuring,
      refill_in: r.refillIn,
    }));
    return { text, data };
  },
});
