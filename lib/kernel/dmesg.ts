// The kernel log (kernel/printk). Reports from lockdep, might_sleep, KASAN,
// the soft-lockup watchdog and WARN_ON land here with a timestamp, as in dmesg.

import { snapshotClasses } from "./snapshot.ts";

import type { TraceRecorder } from "../trace/recorder.ts";

/** printk log levels used by the simulator (KERN_ERR, KERN_WARNING, KERN_INFO, KERN_DEBUG). */
export type Level = "err" | "warn" | "info" | "debug";

/** One message; `text` may span several lines (a splat). */
export interface LogEntry {
  /** Simulated time in ns on the CPU that printed. */
  readonly time: number;
  /** CPU that printed it. */
  readonly cpu: number;
  /** printk log level (KERN_ERR, KERN_WARNING, ...). */
  readonly level: Level;
  /** Short class of report ("lockdep", "might_sleep", "softlockup", "kasan", ...). */
  readonly kind: string;
  /** The message; a splat spans several lines. */
  readonly text: string;
}

/** The ring of log entries. Splats are kept whole. */
export class Dmesg {
  /** Messages in the order they were printed, oldest first. */
  readonly entries: LogEntry[] = [];
  /** Signatures of reports printed once (WARN_ON_ONCE, lockdep's one-shot). */
  private readonly once = new Set<string>();
  /** Cap on kept entries; older ones are dropped like a full log buffer. */
  limit = 10_000;
  /** Messages printed since boot (the log's sequence number; entries may have been dropped or cleared). */
  printed = 0;
  /** The trace being recorded: every message also becomes an instant event on its CPU. */
  trace: TraceRecorder | null = null;

  /** Appends a message. */
  log(time: number, cpu: number, level: Level, kind: string, text: string): void {
    this.printed++;
    if (this.trace !== null) this.trace.instant(time, cpu, "dmesg", kind, text.split("\n")[0]);
    this.entries.push({ time, cpu, level, kind, text });
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
  }

  /** Appends a message unless one with the same signature was logged. */
  logOnce(sig: string, time: number, cpu: number, level: Level, kind: string, text: string): boolean {
    if (this.once.has(sig)) return false;
    this.once.add(sig);
    this.log(time, cpu, level, kind, text);
    return true;
  }

  /** Entries of one kind. */
  ofKind(kind: string): LogEntry[] {
    return this.entries.filter((e) => e.kind === kind);
  }

  /** dmesg's "[    1.234567] text" layout, every line of a splat prefixed. */
  format(e: LogEntry): string {
    const s = e.time / 1e9;
    const stamp = `[${s.toFixed(6).padStart(12)}]`;
    return e.text.split("\n").map((l) => `${stamp} ${l}`).join("\n");
  }

  /** Entries printed after the log's sequence number was `since` (those still kept). */
  since(since: number): LogEntry[] {
    const n = Math.min(this.printed - since, this.entries.length);
    return n > 0 ? this.entries.slice(this.entries.length - n) : [];
  }

  /** The whole log as text. */
  text(): string {
    return this.entries.map((e) => this.format(e)).join("\n");
  }

  /** Forgets everything (dmesg -C). */
  clear(): void {
    this.entries.length = 0;
  }

  /** State for snapshots. */
  save(): { entries: LogEntry[]; once: string[] } {
    return { entries: this.entries.slice(), once: [...this.once] };
  }

  /** Restores save() output. */
  load(s: { entries: LogEntry[]; once: string[] }): void {
    this.entries.length = 0;
    this.entries.push(...s.entries);
    this.once.clear();
    for (const o of s.once) this.once.add(o);
  }
}

snapshotClasses(Dmesg);
