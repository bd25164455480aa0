// The ftrace ring buffer as bpf_trace_printk() uses it (kernel/trace/trace.c,
// trace_output.c): per-CPU buffers of print events, overwritten oldest-first
// when full, read (and consumed) through trace_pipe in timestamp order. Each
// line is formatted as the kernel prints it:
//   "           <comm>-<pid>     [<cpu>] <irqs-off><need-resched><hardsoft-irq><preempt><migrate> <sec>.<usec>: <msg>"

import type { Cpu } from "./cpu.ts";
import { snapshotClasses } from "./snapshot.ts";

/** One print event. */
export interface TraceEntry {
  /** Timestamp (the CPU's clock, ns). */
  readonly ts: number;
  /** CPU that logged it. */
  readonly cpu: number;
  /** current->pid */
  readonly pid: number;
  /** current->comm */
  readonly comm: string;
  /** The irqs-off/need-resched/hardirq-softirq/preempt-depth/migrate-disable column ("d..2."). */
  readonly flags: string;
  /** The text after the timestamp ("bpf_trace_printk: hello"). */
  readonly msg: string;
}

/** Entries kept per CPU before the oldest are overwritten (a stand-in for buffer_size_kb). */
export const TRACE_ENTRIES_PER_CPU = 16384;

/** The global trace instance's buffers. */
export class TraceBuffer {
  /** Entries per CPU, oldest first. */
  readonly cpus: TraceEntry[][] = [];
  /** Entries lost to overwriting, per CPU. */
  readonly overruns: number[] = [];

  /** trace_vbprintk() into `cpu`'s buffer. */
  write(cpu: Cpu, pid: number, comm: string, msg: string): void {
    while (this.cpus.length <= cpu.id) {
      this.cpus.push([]);
      this.overruns.push(0);
    }
    const buf = this.cpus[cpu.id];
    if (buf.length >= TRACE_ENTRIES_PER_CPU) {
      buf.shift();
      this.overruns[cpu.id]++;
    }
    buf.push({ ts: cpu.clock, cpu: cpu.id, pid, comm, flags: latFmt(cpu), msg });
  }

  /** Entries waiting to be read. */
  get length(): number {
    let n = 0;
    for (const b of this.cpus) n += b.length;
    return n;
  }

  /** Reads and removes up to `max` entries in timestamp order (a read of trace_pipe). */
  consume(max = Infinity): TraceEntry[] {
    const out: TraceEntry[] = [];
    while (out.length < max) {
      let best = -1;
      for (let c = 0; c < this.cpus.length; c++) {
        const b = this.cpus[c];
        if (b.length && (best < 0 || b[0].ts < this.cpus[best][0].ts)) best = c;
      }
      if (best < 0) break;
      out.push(this.cpus[best].shift()!);
    }
    return out;
  }

  /** Reads without consuming (the `trace` file), oldest first. */
  peek(): TraceEntry[] {
    return this.cpus.flat().sort((a, b) => a.ts - b.ts || a.cpu - b.cpu);
  }

  /** Empties the buffers (echo > trace). */
  clear(): void {
    for (const b of this.cpus) b.length = 0;
  }
}

/** trace_print_lat_fmt(): the five context characters of an event. */
export function latFmt(cpu: Cpu): string {
  const irqsOff = cpu.irqsOff ? "d" : ".";
  const needResched = ".";
  const nmi = cpu.inNmi();
  let hs = ".";
  const kinds = cpu.frames.map((f) => f.kind);
  const hard = kinds.includes("hardirq"), soft = kinds.includes("softirq");
  if (nmi && hard) hs = "Z";
  else if (nmi) hs = "z";
  else if (hard && soft) hs = "H";
  else if (hard) hs = "h";
  else if (soft) hs = "s";
  const pc = cpu.preemptCount & 0xff;
  const preempt = pc ? (pc & 0xf).toString(16) : ".";
  const mig = cpu.migrateDisabled ? Math.min(cpu.migrateDisabled, 15).toString(16) : ".";
  return irqsOff + needResched + hs + preempt + mig;
}

/** One trace_pipe line as the kernel prints it. */
export function formatTraceLine(e: TraceEntry): string {
  const usecs = Math.floor(e.ts / 1000);
  const secs = Math.floor(usecs / 1_000_000);
  const frac = String(usecs % 1_000_000).padStart(6, "0");
  return `${e.comm.padStart(16)}-${String(e.pid).padEnd(7)} [${String(e.cpu).padStart(3, "0")}] ${e.flags} ${
    String(secs).padStart(5)
  }.${frac}: ${e.msg}`;
}

snapshotClasses(TraceBuffer);
