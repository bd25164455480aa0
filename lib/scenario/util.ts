// Pieces the scenarios share: booting a kernel for a case, loading and
// attaching op-language programs the way a user does from the shell (so a
// scenario is what `prog load` + `link create` + `sim run` would show), and
// turning kernel log entries into the lines a report quotes.

import { Kernel } from "../kernel/kernel.ts";
import type { KernelOptions } from "../kernel/config.ts";
import { errnoName, strerror } from "../kernel/errno.ts";
import type { LogEntry } from "../kernel/dmesg.ts";
import type { LinkSpec, ProgLoadAttr } from "../bpf/syscall_prog.ts";
import type { MapCreateAttr } from "../bpf/syscall.ts";

/** A step of a scenario failed where it should not have (a bug in the scenario or the simulator). */
export class ScenarioError extends Error {}

/** A kernel for one case; the seed defaults to the scenario's. */
export function boot(o: KernelOptions): Kernel {
  return new Kernel(o);
}

/** BPF_MAP_CREATE, pinned at /sys/fs/bpf/NAME so that programs can name it either way. */
export function createMap(k: Kernel, a: MapCreateAttr): number {
  const fd = k.sys.mapCreate(a);
  if (fd < 0) throw new ScenarioError(`map create ${a.name}: ${strerror(-fd)}`);
  return fd;
}

/** BPF_PROG_LOAD: the fd, or the verifier's refusal as text (errno name and the log's last line). */
export function loadProg(k: Kernel, a: ProgLoadAttr): { fd: number; error: string | null; log: string[] } {
  const log: string[] = [];
  const fd = k.sys.progLoad({ ...a, log });
  if (fd >= 0) return { fd, error: null, log };
  return { fd, error: `${log[log.length - 1] ?? strerror(-fd)} (-${errnoName(-fd)})`, log };
}

/** BPF_LINK_CREATE; throws when the attach fails. */
export function attach(k: Kernel, progFd: number, spec: LinkSpec): number {
  const log: string[] = [];
  const fd = k.sys.linkCreate(progFd, spec, log);
  if (fd < 0) throw new ScenarioError(`link create: ${log.join("; ") || strerror(-fd)}`);
  return fd;
}

/** The lines of log entries a report quotes: each entry's first line, and its lines matching `also`. */
export function quote(entries: readonly LogEntry[], also: RegExp | null = null, max = 12): string[] {
  const out: string[] = [];
  for (const e of entries) {
    const lines = e.text.split("\n").filter((l) => l.trim() !== "" && !/^=+$/.test(l.trim()));
    out.push(lines[0]);
    if (also) { for (const l of lines.slice(1)) if (also.test(l)) out.push(`  ${l.trim()}`); }
    if (out.length >= max) break;
  }
  return out.slice(0, max);
}

/** "ok 10, EBUSY 3" */
export function resultsText(r: Record<string, number>): string {
  const parts = Object.entries(r).map(([e, n]) => (e === "ok" ? `ok ${n}` : `-${e} ${n}`));
  return parts.length ? parts.join(", ") : "none";
}
