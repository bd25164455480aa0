// Static tracepoints (include/linux/tracepoint.h, kernel/tracepoint.c): the
// trace events kernel code emits at fixed places. Each has a system and a
// name (`sched:sched_switch`), the fields a perf tracepoint program sees and
// the arguments a raw tracepoint program gets; ids are global and stable so
// the hot path (Kernel.tracepoint) tests one array slot. Syscall events
// (`syscalls:sys_enter_getpid`) are perf-only views of raw_syscalls'
// sys_enter/sys_exit, as in the kernel: raw_tp attaches to `sys_enter`.

/** Static description of one tracepoint. */
export interface TracepointInfo {
  /** Index in the registry, the value Kernel.tracepoint() is called with. */
  readonly id: number;
  /** Event system ("sched", "syscalls", "kmem" ...). */
  readonly system: string;
  /** Event name ("sched_switch", "sys_enter_getpid" ...). */
  readonly name: string;
  /** Argument names, arg0..arg5 of a program attached here. */
  readonly fields: readonly string[];
  /** Whether raw_tp programs can attach to it by name (syscalls:* events cannot). */
  readonly raw: boolean;
  /** One line on when it fires. */
  readonly doc: string;
}

const registry: TracepointInfo[] = [];
const byFull = new Map<string, TracepointInfo>();
const byRaw = new Map<string, TracepointInfo>();

/** Declares a tracepoint at module load; returns its id. */
export function defineTracepoint(
  system: string,
  name: string,
  fields: readonly string[],
  doc: string,
  raw = true,
): number {
  const full = `${system}:${name}`;
  const have = byFull.get(full);
  if (have) return have.id;
  const info: TracepointInfo = { id: registry.length, system, name, fields, raw, doc };
  registry.push(info);
  byFull.set(full, info);
  if (raw) byRaw.set(name, info);
  return info.id;
}

/** Every tracepoint, in declaration order. */
export function allTracepoints(): readonly TracepointInfo[] {
  return registry;
}

/** A tracepoint by `system:name` (perf tracepoint programs), or undefined. */
export function tracepointByName(full: string): TracepointInfo | undefined {
  return byFull.get(full);
}

/** A tracepoint by its raw name (`sched_switch`, `sys_enter`), as raw_tp attaches; undefined when none. */
export function rawTracepointByName(name: string): TracepointInfo | undefined {
  return byRaw.get(name);
}

/** A tracepoint by id. */
export function tracepointInfo(id: number): TracepointInfo {
  return registry[id];
}

// The events the simulated kernel emits.

/** raw_syscalls:sys_enter (raw_tp "sys_enter"): every system call entry. */
export const TP_SYS_ENTER = defineTracepoint("raw_syscalls", "sys_enter", ["id", "arg0"], "any system call entry");
/** raw_syscalls:sys_exit (raw_tp "sys_exit"): every system call return. */
export const TP_SYS_EXIT = defineTracepoint("raw_syscalls", "sys_exit", ["id", "ret"], "any system call return");
/** sched:sched_switch: a context switch between two tasks. */
export const TP_SCHED_SWITCH = defineTracepoint(
  "sched",
  "sched_switch",
  ["prev_pid", "prev_prio", "next_pid", "next_prio"],
  "a CPU switches from one task to another",
);
/** irq:irq_handler_entry: a hardirq handler starts. */
export const TP_IRQ_HANDLER_ENTRY = defineTracepoint(
  "irq",
  "irq_handler_entry",
  ["irq"],
  "a hardware interrupt handler starts",
);
/** irq:softirq_entry: a softirq vector starts. */
export const TP_SOFTIRQ_ENTRY = defineTracepoint("irq", "softirq_entry", ["vec"], "a softirq vector starts running");
/** timer:hrtimer_expire_entry: an hrtimer callback starts (hardirq). */
export const TP_HRTIMER_EXPIRE_ENTRY = defineTracepoint(
  "timer",
  "hrtimer_expire_entry",
  ["hrtimer", "now"],
  "an hrtimer expires (the tick, perf's software clock)",
);
/** kmem:kmalloc: a kmalloc() returned. */
export const TP_KMALLOC = defineTracepoint(
  "kmem",
  "kmalloc",
  ["call_site", "ptr", "bytes_req", "bytes_alloc", "gfp_flags"],
  "kmalloc() returned an object",
);
/** kmem:kfree: kfree() of an object. */
export const TP_KFREE = defineTracepoint("kmem", "kfree", ["call_site", "ptr"], "kfree() of an object");
/** lock:contention_begin: a lock acquirer has to wait. */
export const TP_CONTENTION_BEGIN = defineTracepoint(
  "lock",
  "contention_begin",
  ["lock_addr", "flags"],
  "a lock is contended: the acquirer starts waiting",
);

/** The system calls the syscall workload issues, with their x86-64 numbers. */
export const SYSCALLS: Readonly<Record<string, number>> = {
  read: 0,
  write: 1,
  close: 3,
  getpid: 39,
  connect: 42,
  getuid: 102,
  getgid: 104,
  geteuid: 107,
  getegid: 108,
  bpf: 321,
};

/** syscalls:sys_enter_NAME and sys_exit_NAME ids by syscall name (perf tracepoints only). */
export const SYSCALL_TPS: Readonly<Record<string, { enter: number; exit: number }>> = Object.fromEntries(
  Object.keys(SYSCALLS).map((n) => [n, {
    enter: defineTracepoint("syscalls", `sys_enter_${n}`, ["__syscall_nr"], `entry of ${n}(2)`, false),
    exit: defineTracepoint("syscalls", `sys_exit_${n}`, ["__syscall_nr", "ret"], `return of ${n}(2)`, false),
  }]),
);
