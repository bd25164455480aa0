// Registers bpfsim's own objects after bpftool's in the top-level table.

import { registerObject } from "./dispatch.ts";
import { doKernel, KERNEL_CMDS, KERNEL_DEFS } from "./kernel.ts";
import { doFs, FS_CMDS } from "./fs.ts";
import { DMESG_CMDS, doDmesg } from "./dmesg.ts";
import { doScenario, SCENARIO_CMDS } from "./scenario.ts";
import { doMem, MEM_CMDS, MEM_DEFS } from "./mem.ts";
import { doSim, SIM_CMDS, SIM_DEFS } from "./sim.ts";
import { doTracepoint, TRACEPOINT_CMDS } from "./tracepoint.ts";
import { doTrace, TRACE_CMDS } from "./trace.ts";

let done = false;

/** Idempotent: adds kernel, fs and dmesg. */
export function registerSimObjects(): void {
  if (done) return;
  done = true;
  registerObject({
    name: "kernel",
    fn: doKernel,
    help: "the simulated kernel: show, config, profiles, points, sysctl",
    cmds: KERNEL_CMDS,
    defs: KERNEL_DEFS,
  });
  registerObject({ name: "fs", fn: doFs, help: "the bpffs at /sys/fs/bpf: ls, rm, mkdir", cmds: FS_CMDS });
  registerObject({ name: "dmesg", fn: doDmesg, help: "the kernel log", cmds: DMESG_CMDS });
  registerObject({
    name: "mem",
    fn: doMem,
    help: "BPF memory: allocators and their caches per map, slab, totals",
    cmds: MEM_CMDS,
    defs: MEM_DEFS,
  });
  registerObject({
    name: "sim",
    fn: doSim,
    help: "drive the kernel: fire a hook, run workloads (syscall, timer, netrx, perf, kmalloc, sched)",
    cmds: SIM_CMDS,
    defs: SIM_DEFS,
  });
  registerObject({
    name: "trace",
    fn: doTrace,
    help: "record contexts, program runs, locks and map ops per CPU; export for Perfetto",
    cmds: TRACE_CMDS,
  });
  registerObject({
    name: "tracepoint",
    fn: doTracepoint,
    help: "the static tracepoints programs attach to: list",
    cmds: TRACEPOINT_CMDS,
  });
  registerObject({
    name: "scenario",
    fn: doScenario,
    help: "named reproductions of the seeds' claims: list, run",
    cmds: SCENARIO_CMDS,
  });
}
