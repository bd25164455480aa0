// Model-based test of the BPF ring buffer (fast-check fc.commands): random
// reserve / output / out-of-order submit and discard / consume / malicious
// consumer sequences run against the simulated ring and a plain reference
// queue that knows only the documented rules (KERNEL-NOTES 4): records of
// round_up(len + 8, 8), usable capacity size - 8, pending_pos (6.10+), the
// consumer stopping at BUSY and skipping DISCARD, the adaptive / NO_WAKEUP /
// FORCE_WAKEUP wakeup decision. Payload bytes are checked end to end, so a
// record that wraps must come out contiguous.

import fc from "fast-check";
import { assertEquals } from "../assert.ts";
import { leakCheck, liveBytes } from "../helpers.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { EAGAIN } from "../../lib/kernel/errno.ts";
import { BPF_RINGBUF_HDR_SZ, type BpfRingbuf } from "../../lib/bpf/ringbuf.ts";
import {
  BPF_RB_AVAIL_DATA,
  BPF_RB_CONS_POS,
  BPF_RB_FORCE_WAKEUP,
  BPF_RB_NO_WAKEUP,
  BPF_RB_PROD_POS,
} from "../../lib/bpf/uapi.ts";
import { makeRing, onCpu, pattern, setPositions } from "./ringbuf_helpers.ts";

type State = "busy" | "committed" | "discarded";

interface MRec {
  pos: number;
  size: number;
  state: State;
  data: Uint8Array;
  addr: number;
}

/** The reference: a queue of records by position, and the three positions. */
interface Model {
  ringSize: number;
  pendingRule: boolean;
  prod: number;
  cons: number;
  /** Records at or after cons, in position order (what the consumer will walk). */
  queue: MRec[];
  /** Every record still BUSY, wherever the consumer is. */
  busy: MRec[];
  notifies: number;
  seq: number;
}

interface Real {
  k: Kernel;
  rb: BpfRingbuf;
}

const rs = (size: number) => Math.ceil((size + BPF_RINGBUF_HDR_SZ) / 8) * 8;

/** Whether a record of `size` fits by the documented rules. */
function fits(m: Model, size: number): boolean {
  const len = rs(size);
  if (len > m.ringSize) return false;
  const mask = m.ringSize - 1;
  if (m.prod + len - m.cons > mask) return false;
  if (m.pendingRule) {
    const pend = m.busy.length ? Math.min(...m.busy.map((r) => r.pos)) : m.prod;
    if (m.prod + len - pend > mask) return false;
  }
  return true;
}

/** The wakeup decision of a commit of `r` with `flags`. */
function wakes(m: Model, r: MRec, flags: number): boolean {
  const mask = m.ringSize - 1;
  if (flags & BPF_RB_FORCE_WAKEUP) return true;
  return (m.cons & mask) === (r.pos & mask) && !(flags & BPF_RB_NO_WAKEUP);
}

function checkPositions(m: Model, real: Real): void {
  // let the irq_work of this step run (it may have been queued on the other CPU)
  real.k.quiesce();
  assertEquals(real.rb.wakeups, m.notifies);
  assertEquals(real.rb.query(BPF_RB_PROD_POS), m.prod);
  assertEquals(real.rb.query(BPF_RB_CONS_POS), m.cons);
  assertEquals(real.rb.query(BPF_RB_AVAIL_DATA), m.prod - m.cons);
  assertEquals(real.rb.notifyRequests, m.notifies);
}

class Reserve implements fc.Command<Model, Real> {
  constructor(readonly size: number, readonly cpu: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, real: Real): void {
    const { k, rb } = real;
    const expectOk = fits(m, this.size);
    const addr = onCpu(k, () => rb.reserve(this.size), this.cpu);
    if (!expectOk) {
      assertEquals(addr, 0, `reserve(${this.size}) should fail`);
      return;
    }
    assertEquals(addr, rb.dataAddr + (m.prod & (m.ringSize - 1)) + BPF_RINGBUF_HDR_SZ, `reserve(${this.size})`);
    const data = pattern(this.size, ++m.seq);
    k.mem.copyIn(addr, data, 0, data.length);
    const r: MRec = { pos: m.prod, size: this.size, state: "busy", data, addr };
    m.queue.push(r);
    m.busy.push(r);
    m.prod += rs(this.size);
    checkPositions(m, real);
  }
  toString(): string {
    return `reserve(${this.size}) on ${this.cpu}`;
  }
}

class Output implements fc.Command<Model, Real> {
  constructor(readonly size: number, readonly flags: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, real: Real): void {
    const { k, rb } = real;
    const expectOk = fits(m, this.size);
    const data = pattern(this.size, ++m.seq);
    const rc = onCpu(k, () => rb.output(data, this.flags));
    if (!expectOk) {
      assertEquals(rc, -EAGAIN);
      return;
    }
    assertEquals(rc, 0);
    const r: MRec = { pos: m.prod, size: this.size, state: "committed", data, addr: 0 };
    if (wakes(m, r, this.flags)) m.notifies++;
    m.queue.push(r);
    m.prod += rs(this.size);
    checkPositions(m, real);
  }
  toString(): string {
    return `output(${this.size}, ${this.flags})`;
  }
}

class Commit implements fc.Command<Model, Real> {
  constructor(readonly pick: number, readonly discard: boolean, readonly flags: number, readonly cpu: number) {}
  check(m: Readonly<Model>): boolean {
    return m.busy.length > 0;
  }
  run(m: Model, real: Real): void {
    const { k, rb } = real;
    const i = this.pick % m.busy.length;
    const r = m.busy[i];
    m.busy.splice(i, 1);
    onCpu(k, () => this.discard ? rb.discard(r.addr, this.flags) : rb.submit(r.addr, this.flags), this.cpu);
    r.state = this.discard ? "discarded" : "committed";
    if (wakes(m, r, this.flags)) m.notifies++;
    checkPositions(m, real);
  }
  toString(): string {
    return `${this.discard ? "discard" : "submit"}(#${this.pick}, ${this.flags}) on ${this.cpu}`;
  }
}

class Consume implements fc.Command<Model, Real> {
  constructor(readonly max: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, real: Real): void {
    const got: Uint8Array[] = [];
    const n = real.rb.consume((s) => (got.push(s.slice()), 0), this.max);
    const want: Uint8Array[] = [];
    while (m.queue.length) {
      const r = m.queue[0];
      if (r.state === "busy") break;
      m.queue.shift();
      m.cons += rs(r.size);
      if (r.state === "discarded") continue;
      want.push(r.data);
      if (want.length >= this.max) break;
    }
    assertEquals(n, want.length);
    assertEquals(got, want);
    checkPositions(m, real);
  }
  toString(): string {
    return `consume(${this.max})`;
  }
}

/** A consumer that writes consumer_pos = producer_pos, skipping everything (even BUSY records). */
class SkipAll implements fc.Command<Model, Real> {
  check(m: Readonly<Model>): boolean {
    return m.pendingRule;
  }
  run(m: Model, real: Real): void {
    const { k, rb } = real;
    k.mem.writeU32(rb.consumerPosAddr, k.mem.readU32(rb.producerPosAddr));
    k.mem.writeU32(rb.consumerPosAddr + 4, k.mem.readU32(rb.producerPosAddr + 4));
    m.cons = m.prod;
    m.queue = [];
    checkPositions(m, real);
  }
  toString(): string {
    return "skip-all";
  }
}

/** Mostly small records, sometimes big ones, rarely impossible ones. */
const sizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 3, arbitrary: fc.integer({ min: 65, max: 1500 }) },
  { weight: 1, arbitrary: fc.integer({ min: 3000, max: 5000 }) },
);
const flagsArb = fc.constantFrom(0, 0, 0, BPF_RB_NO_WAKEUP, BPF_RB_FORCE_WAKEUP);

const commands = [
  fc.tuple(sizeArb, fc.integer({ min: 0, max: 1 })).map(([s, c]) => new Reserve(s, c)),
  fc.tuple(sizeArb, flagsArb).map(([s, f]) => new Output(s, f)),
  fc.tuple(fc.nat(), fc.boolean(), flagsArb, fc.integer({ min: 0, max: 1 })).map(([p, d, f, c]) =>
    new Commit(p, d, f, c)
  ),
  fc.tuple(fc.nat(), fc.boolean(), flagsArb, fc.integer({ min: 0, max: 1 })).map(([p, d, f, c]) =>
    new Commit(p, d, f, c)
  ),
  fc.oneof(fc.constant(Infinity), fc.integer({ min: 1, max: 4 })).map((n) => new Consume(n)),
  fc.constant(new SkipAll()),
];

for (const profile of ["v6.18", "v6.1"]) {
  Deno.test(`ringbuf ${profile}: random producer/consumer sequences agree with the reference queue`, () => {
    fc.assert(
      fc.property(
        fc.commands(commands, { maxCommands: 200, size: "max" }),
        fc.constantFrom(4096, 8192),
        fc.bigInt({ min: 0n, max: 1n << 40n }),
        (cmds, ringSize, start) => {
          const k = new Kernel({ cpus: 2, profile });
          const base = liveBytes(k);
          const { fd, rb } = makeRing(k, ringSize);
          const startPos = Number(start & ~7n);
          setPositions(k, rb, BigInt(startPos));
          const model: Model = {
            ringSize,
            pendingRule: k.features.ringbufPendingPos,
            prod: startPos,
            cons: startPos,
            queue: [],
            busy: [],
            notifies: 0,
            seq: 0,
          };
          fc.modelRun(() => ({ model, real: { k, rb } }), cmds);
          // every wakeup the commits asked for was queued and ran
          k.quiesce();
          assertEquals(rb.notifyQueued, model.notifies);
          assertEquals(rb.wakeups, model.notifies);
          k.sys.close(fd);
          leakCheck(k, base);
        },
      ),
      { numRuns: 150, seed: profile === "v6.18" ? 618 : 601 },
    );
  });
}
