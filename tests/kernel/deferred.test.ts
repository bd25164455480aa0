// irq_work, softirqs and hardirq delivery, with and without PREEMPT_RT
// (KERNEL-NOTES 3.6 and 7; seed 002's summary of where refills run).

import { assertEquals, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { irq_work_queue, IrqWork } from "../../lib/kernel/irq_work.ts";
import { NET_RX_SOFTIRQ } from "../../lib/kernel/softirq.ts";
import { local_irq_restore, local_irq_save } from "../../lib/kernel/context.ts";
import { definePoint } from "../../lib/kernel/points.ts";
import type { CtxKind } from "../../lib/kernel/cpu.ts";

const P_STEP = definePoint("test_busy_step", "tests/kernel/deferred.test.ts", "a point inside test work");

Deno.test("irq_work on !RT runs in hardirq as soon as interrupts are enabled", () => {
  const k = new Kernel({ cpus: 1 });
  const seen: { ctx: CtxKind; irqsWereOff: boolean }[] = [];
  const w = new IrqWork("refill", () => seen.push({ ctx: k.cur.context(), irqsWereOff: false }));
  let ranBeforeEnable = false;
  k.exec(0, () => {
    const flags = local_irq_save(k);
    irq_work_queue(k, w);
    k.point(P_STEP);
    ranBeforeEnable = seen.length > 0;
    local_irq_restore(k, flags);
  });
  assertEquals(ranBeforeEnable, false);
  assertEquals(seen.map((s) => s.ctx), ["hardirq"]);
});

Deno.test("irq_work queued from NMI runs after the NMI returns", () => {
  const k = new Kernel({ cpus: 1 });
  const order: string[] = [];
  const w = new IrqWork("from_nmi", () => order.push(`work in ${k.cur.context()}`));
  k.exec(0, () => {
    k.raiseNmi(0, k.cur.clock, "perf NMI", () => {
      irq_work_queue(k, w);
      k.point(P_STEP);
      order.push("nmi done");
    });
    k.point(P_STEP);
    k.point(P_STEP);
  });
  assertEquals(order, ["nmi done", "work in hardirq"]);
});

Deno.test("irq_work on RT runs in the irq_work kthread and a FIFO-99 busy task starves it", () => {
  const k = new Kernel({ cpus: 1, preemptRt: true });
  let ranIn: CtxKind | null = null;
  let ranAt = -1;
  const w = new IrqWork("refill", () => {
    ranIn = k.cur.context();
    ranAt = k.cur.clock;
  });
  let busyEnd = 0;
  k.exec(0, () => {
    irq_work_queue(k, w);
    for (let i = 0; i < 1000; i++) k.point(P_STEP); // a FIFO 99 loop: never preempted
    busyEnd = k.cur.clock;
  }, { comm: "fifo99", prio: 99 });
  assertEquals(ranIn, "task");
  assertTrue(ranAt >= busyEnd, "the kthread ran before the busy task finished");
  // a SCHED_OTHER task is preempted at once
  const k2 = new Kernel({ cpus: 1, preemptRt: true });
  let ranDuring = false;
  let inside = false;
  const w2 = new IrqWork("refill", () => (ranDuring = inside));
  k2.exec(0, () => {
    inside = true;
    irq_work_queue(k2, w2);
    k2.point(P_STEP);
    inside = false;
  });
  assertEquals(ranDuring, true);
});

Deno.test("softirqs run at irq_exit on !RT, in ksoftirqd task context on RT", () => {
  for (const rt of [false, true]) {
    const k = new Kernel({ cpus: 1, preemptRt: rt });
    const ctx: string[] = [];
    k.raiseIrq(0, 0, "eth0", () =>
      k.softirq.raise(k.cur, NET_RX_SOFTIRQ, () => {
        ctx.push(`${k.cur.context()} inServing=${k.cur.inServingSoftirq()} atomic=${k.cur.inAtomic()}`);
      }));
    k.quiesce();
    assertEquals(ctx, [rt ? "softirq inServing=true atomic=false" : "softirq inServing=true atomic=true"]);
    if (rt) assertTrue(k.cpus[0].frames.length === 0);
  }
});

Deno.test("hardirqs wait for interrupts to be enabled; NMIs do not", () => {
  const k = new Kernel({ cpus: 1 });
  const order: string[] = [];
  k.exec(0, () => {
    const flags = local_irq_save(k);
    k.raiseIrq(0, k.cur.clock, "timer", () => order.push("irq"), { threadedOnRt: false });
    k.raiseNmi(0, k.cur.clock, "perf", () => order.push("nmi"));
    k.point(P_STEP);
    order.push("irqs-off section ends");
    local_irq_restore(k, flags);
  });
  assertEquals(order, ["nmi", "irqs-off section ends", "irq"]);
});
