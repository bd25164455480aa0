// Recording what the CPUs do, for Perfetto (ui.perfetto.dev) or
// chrome://tracing: the Chrome trace-event format, one track per CPU,
// nested slices for nested contexts (task > softirq > hardirq > NMI),
// program runs inside them, lock holds and map ops as complete slices with
// their results. The recorder is plain data (numbers and a string table) so
// that a trace started in one one-shot command survives to the command that
// exports it; it has a cap, and counts what it had to drop.

import { snapshotClasses } from "../kernel/snapshot.ts";

/** Phases of recorded events: begin, end, complete (with a duration), instant. */
export const PH_BEGIN = 0;
/** End of the innermost open slice of a CPU. */
export const PH_END = 1;
/** A slice with its duration known at record time. */
export const PH_COMPLETE = 2;
/** A point in time. */
export const PH_INSTANT = 3;

const PH = ["B", "E", "X", "i"];

/** The events of one recording. */
export class TraceRecorder {
  /** Timestamps, simulated ns. */
  readonly ts: number[] = [];
  /** Durations (complete events), ns. */
  readonly dur: number[] = [];
  /** Phases (PH_*). */
  readonly ph: number[] = [];
  /** CPU of each event. */
  readonly cpu: number[] = [];
  /** Name of each event (index into `strings`). */
  readonly name: number[] = [];
  /** Category of each event (index into `strings`). */
  readonly cat: number[] = [];
  /** Argument text of each event (index into `strings`, -1: none). */
  readonly arg: number[] = [];
  /** Distinct strings. */
  readonly strings: string[] = [];
  private readonly index: Map<string, number> = new Map();
  /** Events not kept because the cap was reached. */
  dropped = 0;
  /** False once stopped: nothing more is recorded. */
  recording = true;
  /** Open begin events per CPU (ends past the cap still close what was kept). */
  private readonly open: number[];
  /** Begin events that were dropped per CPU (their ends are dropped too). */
  private readonly droppedOpen: number[];

  /** A recorder for `ncpu` CPUs keeping at most `limit` events. */
  constructor(ncpu: number, readonly limit = 1_000_000) {
    this.open = new Array(ncpu).fill(0);
    this.droppedOpen = new Array(ncpu).fill(0);
  }

  /** Index of `s` in the string table (added on first use). */
  private str(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    return i;
  }

  /** Appends one event. */
  private push(t: number, ph: number, cpu: number, cat: string, name: string, dur: number, arg: string | null): void {
    this.ts.push(t);
    this.dur.push(dur);
    this.ph.push(ph);
    this.cpu.push(cpu);
    this.name.push(this.str(name));
    this.cat.push(this.str(cat));
    this.arg.push(arg === null ? -1 : this.str(arg));
  }

  /** A slice opens on `cpu` (a context, a program run). */
  begin(t: number, cpu: number, cat: string, name: string): void {
    if (!this.recording) return;
    if (this.ts.length >= this.limit) {
      this.dropped++;
      this.droppedOpen[cpu]++;
      return;
    }
    this.open[cpu]++;
    this.push(t, PH_BEGIN, cpu, cat, name, 0, null);
  }

  /** The innermost open slice of `cpu` closes. */
  end(t: number, cpu: number): void {
    if (!this.recording) return;
    if (this.droppedOpen[cpu] > 0) {
      this.droppedOpen[cpu]--;
      this.dropped++;
      return;
    }
    if (this.open[cpu] === 0) return; // opened before the recording started
    this.open[cpu]--;
    this.push(t, PH_END, cpu, "", "", 0, null);
  }

  /** A slice whose start and end are known (a lock hold, a map op). */
  complete(t0: number, t1: number, cpu: number, cat: string, name: string, arg: string | null = null): void {
    if (!this.recording) return;
    if (this.ts.length >= this.limit) {
      this.dropped++;
      return;
    }
    this.push(t0, PH_COMPLETE, cpu, cat, name, t1 - t0, arg);
  }

  /** A point event (a splat, a skipped run). */
  instant(t: number, cpu: number, cat: string, name: string, arg: string | null = null): void {
    if (!this.recording) return;
    if (this.ts.length >= this.limit) {
      this.dropped++;
      return;
    }
    this.push(t, PH_INSTANT, cpu, cat, name, 0, arg);
  }

  /** Events kept. */
  get count(): number {
    return this.ts.length;
  }

  /** Stops recording; slices still open are closed at `t` on their CPUs. */
  stop(t: number): void {
    if (!this.recording) return;
    for (let c = 0; c < this.open.length; c++) while (this.open[c] > 0) this.end(t, c);
    this.recording = false;
  }

  /**
   * The Chrome trace-event JSON: one process ("bpfsim kernel"), one thread
   * per CPU, timestamps in microseconds with ns precision.
   */
  toChromeJson(title: string): string {
    const ev: string[] = [];
    ev.push(JSON.stringify({ ph: "M", pid: 1, name: "process_name", args: { name: title } }));
    for (let c = 0; c < this.open.length; c++) {
      ev.push(JSON.stringify({ ph: "M", pid: 1, tid: c, name: "thread_name", args: { name: `CPU ${c}` } }));
      ev.push(JSON.stringify({ ph: "M", pid: 1, tid: c, name: "thread_sort_index", args: { sort_index: c } }));
    }
    for (let i = 0; i < this.ts.length; i++) {
      const ph = this.ph[i];
      const o: Record<string, unknown> = { ph: PH[ph], pid: 1, tid: this.cpu[i], ts: this.ts[i] / 1000 };
      if (ph !== PH_END) {
        o.name = this.strings[this.name[i]];
        o.cat = this.strings[this.cat[i]];
      }
      if (ph === PH_COMPLETE) o.dur = this.dur[i] / 1000;
      if (ph === PH_INSTANT) o.s = "t";
      if (this.arg[i] >= 0) o.args = { info: this.strings[this.arg[i]] };
      ev.push(JSON.stringify(o));
    }
    return `{"displayTimeUnit":"ns","otherData":{"dropped_events":${this.dropped}},"traceEvents":[\n${
      ev.join(",\n")
    }\n]}\n`;
  }
}

snapshotClasses(TraceRecorder);
