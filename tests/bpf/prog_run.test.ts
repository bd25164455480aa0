// Running programs is the kernel's run path: trace_call_bpf's per-CPU
// bpf_prog_active (kprobes, tracepoints, perf events), the trampoline's and
// raw tracepoints' per-program `active`, misses counted from 6.7 (5.12 for
// the trampoline), bpf_disable_instrumentation around syscall map ops,
// statistics only while kernel.bpf_stats_enabled, programs that stop between
// ops (use-after-reuse), and attached programs surviving a save and load.

import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { loadKernel, saveKernel } from "../../lib/kernel/kernel_state.ts";
import { SnapshotError } from "../../lib/kernel/snapshot.ts";
import type { ProgKind } from "../../lib/bpf/prog.ts";
import type { LinkSpec } from "../../lib/bpf/syscall_prog.ts";
import { fireHook } from "../../lib/workload/fire.ts";
import { runWorkloads } from "../../lib/workload/run.ts";
import { BPF_F_NO_PREALLOC } from "../../lib/bpf/uapi.ts";
import { leakCheck, readU64, u32, u64 } from "../helpers.ts";

function setup(profile: string, flags = 0, cpus = 2) {
  const k = new Kernel({ cpus, profile, seed: 7 });
  const m = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 64, mapFlags: flags, name: "m" });
  assertTrue(m > 0);
  return { k, m };
}

function attachOps(k: Kernel, kind: ProgKind, ops: string, spec: LinkSpec, name = "p"): number {
  const log: string[] = [];
  const fd = k.sys.progLoad({ kind, name, ops, log });
  assertTrue(fd > 0, log.join("\n"));
  const l = k.sys.linkCreate(fd, spec, log);
  assertTrue(l > 0, log.join("\n"));
  return fd;
}

function value(k: Kernel, fd: number, key: number): number | null {
  const out = new Uint8Array(8);
  return k.sys.mapLookupElem(fd, u32(key), out) === 0 ? readU64(out) : null;
}

Deno.test("kprobe: a program runs per hit; a kprobe inside it is skipped (kprobe_running: nmissed)", () => {
  const { k, m } = setup("v6.18");
  const p = attachOps(k, "kprobe", "inc m key 1", { hook: "kprobe", func: "__htab_map_lookup_elem" });
  // the program's own lookup hits the probed function: kprobe_running() -> nmissed, not a nested run
  const s = fireHook(k, "kprobe:__htab_map_lookup_elem", { count: 5 });
  assertTrue(typeof s !== "string");
  assertEquals(s.runs, 5);
  const link = k.bpf.allLinks()[0];
  assertEquals(link.missed, 5);
  assertEquals(k.sys.progOf(p)!.recursionMisses, 0);
  // a syscall lookup runs the probed function with bpf_prog_active held: the program is skipped (a miss)
  assertEquals(value(k, m, 1), 5);
  assertEquals(k.sys.progOf(p)!.recursionMisses, 1);
  leakCheck(k);
});

Deno.test("trace_call_bpf: a nested kprobe program is skipped; counted as misses from 6.7, silently before", () => {
  for (const [profile, counted] of [["v6.1", false], ["v6.18", true]] as const) {
    const { k, m } = setup(profile);
    // outer: a tracepoint program; inner: a kprobe program on a function the outer one's map op calls
    attachOps(k, "tracepoint", "inc m key 1", { hook: "tracepoint", tp: "syscalls:sys_enter_getpid" }, "outer");
    const inner = attachOps(k, "kprobe", "inc m key 2", { hook: "kprobe", func: "htab_map_update_elem" }, "inner");
    const s = runWorkloads(k, ["syscall"], { count: 10 });
    assertTrue(typeof s !== "string");
    assertEquals(value(k, m, 1), 10, profile);
    assertEquals(value(k, m, 2), null, profile); // never ran: bpf_prog_active was held
    assertEquals(s.skipped.get("bpf_prog_active"), 1, profile); // only the first inc inserts (update)
    assertEquals(k.sys.progOf(inner)!.recursionMisses, counted ? 1 : 0, profile);
    leakCheck(k);
  }
});

Deno.test("bpf_disable_instrumentation: syscall map ops skip kprobe programs, not fentry programs", () => {
  const { k, m } = setup("v6.18");
  const n = k.sys.mapCreate({ mapType: "array", keySize: 4, valueSize: 8, maxEntries: 4, name: "n" });
  attachOps(k, "kprobe", "inc n key 0", { hook: "kprobe", func: "htab_map_update_elem" }, "kp");
  attachOps(k, "fentry", "inc n key 1", { hook: "fentry", func: "htab_map_update_elem" }, "fe");
  for (let i = 0; i < 3; i++) assertEquals(k.sys.mapUpdateElem(m, u32(i), u64(i), 0), 0);
  assertEquals(value(k, n, 0), 0);
  assertEquals(value(k, n, 1), 3);
  leakCheck(k);
});

Deno.test("trampoline: fentry re-entering itself is a recursion miss from 5.12; before, the stack overflows", () => {
  // the fentry program updates the map whose update function it traces
  const k = setup("v6.18").k;
  const p = attachOps(k, "fentry", "update m key seq % 8 value 1", { hook: "fentry", func: "htab_map_update_elem" });
  const s = fireHook(k, "fentry:htab_map_update_elem", { count: 4 });
  assertTrue(typeof s !== "string");
  assertEquals(s.runs, 4);
  assertEquals(k.sys.progOf(p)!.recursionMisses, 4);
  assertEquals(k.stuckCpus(), []);
  leakCheck(k);
  const old = setup("v5.11").k;
  attachOps(old, "fentry", "update m key seq % 8 value 1", { hook: "fentry", func: "htab_map_update_elem" });
  const s2 = fireHook(old, "fentry:htab_map_update_elem");
  assertTrue(typeof s2 !== "string");
  assertEquals(s2.stuckCpus, [0]);
  assertIncludes(old.dmesg.text(), "stack guard page was hit");
});

Deno.test("raw_tp: the program's own active counter stops recursion (6.2+); it does not block other programs", () => {
  // a raw_tp program on kmem:kmalloc that allocates (a NO_PREALLOC insert kmallocs)
  const { k, m } = setup("v6.18", BPF_F_NO_PREALLOC);
  const p = attachOps(k, "raw_tp", "update m key seq % 32 value 1", { hook: "raw_tp", tp: "kmalloc" });
  const s = runWorkloads(k, ["kmalloc"], { cpus: [0], count: 4, params: { batch: 1 } });
  assertTrue(typeof s !== "string");
  const prog = k.sys.progOf(p)!;
  assertTrue(s.runs >= 4, `runs ${s.runs}`);
  assertTrue(prog.recursionMisses > 0, "the nested kmalloc's tracepoint was a recursion miss");
  assertEquals(s.skipped.get("prog->active"), prog.recursionMisses);
  assertTrue(value(k, m, 0) !== null);
  leakCheck(k);
});

Deno.test("run_cnt and run_time_ns only while kernel.bpf_stats_enabled; from the simulated clock", () => {
  const { k } = setup("v6.18");
  const p = attachOps(k, "kprobe", "inc m key 1", { hook: "kprobe", func: "kfree" });
  fireHook(k, "kprobe:kfree", { count: 3 });
  let info = k.sys.progInfo(p);
  assertTrue(typeof info !== "number");
  assertEquals([info.runCnt, info.runTimeNs], [0, 0]);
  k.sysctl.bpf_stats_enabled = 1;
  fireHook(k, "kprobe:kfree", { count: 3 });
  info = k.sys.progInfo(p) as Exclude<typeof info, number>;
  assertEquals(info.runCnt, 3);
  assertTrue(info.runTimeNs > 0 && info.runTimeNs < 10_000, `run_time_ns ${info.runTimeNs}`);
  leakCheck(k);
});

Deno.test("perf_event: an NMI landing in a kprobe program finds bpf_prog_active held and skips its program", () => {
  const { k, m } = setup("v6.18");
  // the kprobe program raises a perf NMI on its own CPU while it runs (like a PMU overflow)
  const kp = k.sys.progLoad({
    kind: "kprobe",
    name: "slow",
    fn: (env) => {
      k.raiseNmi(env.cpu.id, env.cpu.clock, "perf NMI", () => {
        for (const l of k.bpf.hooks.perf) bpfOverflow(k, l);
      });
      env.update(k.sys.mapOf(m)!, u32(1), u64(1), 0);
      return 0;
    },
    maps: [k.sys.mapOf(m)!],
  });
  k.sys.linkCreate(kp, { hook: "kprobe", func: "kfree" });
  attachOps(k, "perf_event", "inc m key 2", { hook: "perf_event", cpu: 0 }, "sampler");
  const s = fireHook(k, "kprobe:kfree");
  assertTrue(typeof s !== "string");
  assertEquals(value(k, m, 1), 1);
  assertEquals(value(k, m, 2), null);
  assertEquals(s.skipped.get("bpf_prog_active"), 1);
  k.sys.exit();
  for (const p of k.bpf.fs.pins()) k.bpf.fs.unlink(p.path);
  k.quiesce();
});

import { bpf_overflow_handler } from "../../lib/bpf/bpf_trace.ts";
import type { BpfLink } from "../../lib/bpf/link.ts";
function bpfOverflow(k: Kernel, l: BpfLink): void {
  bpf_overflow_handler(k, l, null);
}

Deno.test("use-after-reuse: a value pointer kept across ops sees another CPU's delete and reuse (prealloc)", () => {
  const { k, m } = setup("v6.18");
  assertEquals(k.sys.mapUpdateElem(m, u32(1), u64(100), 0), 0);
  attachOps(k, "kprobe", "lookup m key 1; if ok { repeat 200 { add value 0 }; set value 7 }", {
    hook: "kprobe",
    func: "kfree",
  }, "slow_reader");
  // CPU 1 deletes key 1 and inserts key 2 while the program on CPU 0 is between its ops
  const cpu1 = k.spawn("writer", 1);
  assertEquals(k.sys.objPin(m, "/sys/fs/bpf/m"), 0);
  const fd1 = cpu1.objGet("/sys/fs/bpf/m");
  k.cpus[1].clock = k.cpus[0].clock + 100; // just after the program's lookup
  k.queueStep(1, () => {
    assertEquals(cpu1.mapDeleteElem(fd1, u32(1)), 0);
    assertEquals(cpu1.mapUpdateElem(fd1, u32(2), u64(200), 0), 0);
  });
  const s = fireHook(k, "kprobe:kfree", { cpu: 0 });
  assertTrue(typeof s !== "string");
  assertEquals(s.reuseHits, 1);
  // the kernel wrote through the stale pointer: key 2 (the element's new owner) got 7
  assertEquals(value(k, m, 2), 7);
  assertIncludes(k.dmesg.text(), "use-after-reuse");
  cpu1.exit();
  leakCheck(k);
});

Deno.test("programs and links are data: they survive a save and load and keep running", () => {
  const { k, m } = setup("v6.18");
  assertEquals(k.sys.objPin(m, "/sys/fs/bpf/m"), 0);
  const p = k.sys.progLoad({ kind: "kprobe", name: "cnt", ops: "inc /sys/fs/bpf/m key cpu" });
  assertEquals(k.sys.objPin(p, "/sys/fs/bpf/p"), 0);
  const l = k.sys.linkCreate(p, { hook: "kprobe", func: "kfree" });
  assertEquals(k.sys.objPin(l, "/sys/fs/bpf/l"), 0);
  fireHook(k, "kprobe:kfree", { count: 2 });
  k.sys.exit();
  const k2 = loadKernel(saveKernel(k));
  fireHook(k2, "kprobe:kfree", { count: 3 });
  const fd = k2.sys.objGet("/sys/fs/bpf/m");
  assertEquals(value(k2, fd, 0), 5);
  assertEquals(k2.bpf.allProgs().map((x) => x.name), ["cnt"]);
  assertEquals(k2.bpf.allLinks().length, 1);
  // unpinning the link detaches it; unpinning the program frees it and its map reference
  k2.bpf.fs.unlink("/sys/fs/bpf/l");
  fireHook(k2, "kprobe:kfree");
  assertEquals(value(k2, fd, 0), 5);
  leakCheck(k2);
  assertEquals(k2.bpf.allProgs().length, 0);
});

Deno.test("a kernel holding a TypeScript program says it cannot be saved", () => {
  const k = new Kernel({ cpus: 1 });
  const p = k.sys.progLoad({ kind: "kprobe", name: "ts_prog", fn: () => 0 });
  assertEquals(k.sys.objPin(p, "/sys/fs/bpf/ts"), 0);
  let err: unknown = null;
  try {
    saveKernel(k);
  } catch (e) {
    err = e;
  }
  assertTrue(err instanceof SnapshotError);
  assertIncludes((err as Error).message, "program ts_prog has a TypeScript body and cannot be saved");
  leakCheck(k);
});
