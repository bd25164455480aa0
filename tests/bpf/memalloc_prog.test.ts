// Dynamic hash maps updated by real (op-language) programs: no
// sleeping-in-atomic BUG on v6.1+ RT in any context (bpf_mem_alloc never
// calls the slab allocator under the bucket lock), bursts that run the
// cache dry in NMI context get -ENOMEM, and a program keeping a value
// pointer sees immediate reuse (bpf_ma) but not the RFC's delayed reuse.

import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import type { MemallocFlavour } from "../../lib/kernel/config.ts";
import type { CtxKind } from "../../lib/kernel/cpu.ts";
import type { ProgKind } from "../../lib/bpf/prog.ts";
import type { LinkSpec } from "../../lib/bpf/syscall_prog.ts";
import { fireHook } from "../../lib/workload/fire.ts";
import { BPF_F_NO_PREALLOC } from "../../lib/bpf/uapi.ts";
import { leakCheck, readU64, u32, u64 } from "../helpers.ts";

function setup(opts: { profile?: string; rt?: boolean; memalloc?: MemallocFlavour; entries?: number } = {}) {
  const k = new Kernel({
    cpus: 2,
    profile: opts.profile ?? "v6.18",
    preemptRt: opts.rt ?? false,
    memalloc: opts.memalloc,
  });
  const m = k.sys.mapCreate({
    mapType: "hash",
    keySize: 4,
    valueSize: 8,
    maxEntries: opts.entries ?? 4096,
    mapFlags: BPF_F_NO_PREALLOC,
    name: "m",
  });
  assertTrue(m > 0);
  return { k, m };
}

function attachOps(k: Kernel, kind: ProgKind, ops: string, spec: LinkSpec, name = "p"): number {
  const log: string[] = [];
  const fd = k.sys.progLoad({ kind, name, ops, log });
  assertTrue(fd > 0, log.join("\n"));
  assertTrue(k.sys.linkCreate(fd, spec, log) > 0, log.join("\n"));
  return fd;
}

Deno.test("memalloc prog: programs inserting into a NO_PREALLOC map on v6.1+ RT splat in no context; kmalloc would", () => {
  for (
    const [profile, memalloc, splat] of [["v6.1", undefined, false], ["v6.18", undefined, false], [
      "v6.18",
      "kmalloc",
      true,
    ]] as const
  ) {
    const { k } = setup({ profile, rt: true, memalloc });
    attachOps(k, "kprobe", "repeat 8 { update m key seq * 8 + rand(8) value seq }", { hook: "kprobe", func: "kfree" });
    for (const context of ["task", "softirq", "hardirq", "nmi"] as CtxKind[]) {
      const s = fireHook(k, "kprobe:kfree", { cpu: 1, context, count: 20 });
      assertTrue(typeof s !== "string", String(s));
      assertTrue(s.runs > 0, `${profile} ${context}: runs`);
    }
    const bugs = k.dmesg.ofKind("might_sleep");
    assertEquals(bugs.length > 0, splat, `${profile} ${memalloc ?? "default"}: ${k.dmesg.text()}`);
    leakCheck(k);
  }
});

Deno.test("memalloc prog: a burst of inserts from an NMI program runs the cache dry (-ENOMEM); from a task it refills", () => {
  for (const [context, dry] of [["nmi", true], ["hardirq", true], ["task", false]] as const) {
    const { k } = setup();
    const cnt = k.sys.mapCreate({ mapType: "array", keySize: 4, valueSize: 8, maxEntries: 1, name: "cnt" });
    assertTrue(cnt > 0);
    // every insert a new key (the clock moves on); failures counted in a preallocated array
    attachOps(
      k,
      "perf_event",
      "repeat 64 { update m key 1 + ktime % 1000000000 value 1 noexist; if fail { inc cnt key 0 } }",
      { hook: "perf_event" },
    );
    const s = fireHook(k, "perf_event", { cpu: 0, context });
    assertTrue(typeof s !== "string", String(s));
    const out = new Uint8Array(8);
    assertEquals(k.sys.mapLookupElem(cnt, u32(0), out), 0);
    const failed = readU64(out);
    // interrupts stay off in NMI and hardirq: 4 prefilled elements, then -ENOMEM until the handler returns
    assertEquals(failed, dry ? 60 : 0, `${context}: failed inserts`);
    leakCheck(k);
  }
});

Deno.test("memalloc prog: a kept value pointer meets another key after immediate reuse only (bpf_ma, not the RFC flavours)", () => {
  for (const f of ["bpf_ma", "reuse_after_rcu_gp", "free_after_rcu_gp", "call_rcu_free", "kmalloc"] as const) {
    const { k, m } = setup({ memalloc: f, entries: 64 });
    const cpu1 = k.spawn("writer", 1);
    assertEquals(k.sys.objPin(m, "/sys/fs/bpf/m"), 0);
    const fd1 = cpu1.objGet("/sys/fs/bpf/m");
    // key 1 inserted on CPU 1: its element comes from CPU 1's cache
    assertEquals(cpu1.mapUpdateElem(fd1, u32(1), u64(100), 0), 0);
    attachOps(k, "kprobe", "lookup m key 1; if ok { repeat 200 { add value 0 }; set value 7 }", {
      hook: "kprobe",
      func: "kfree",
    }, "slow_reader");
    k.cpus[1].clock = k.cpus[0].clock + 100;
    k.queueStep(1, () => {
      assertEquals(cpu1.mapDeleteElem(fd1, u32(1)), 0);
      assertEquals(cpu1.mapUpdateElem(fd1, u32(2), u64(200), 0), 0);
    });
    const s = fireHook(k, "kprobe:kfree", { cpu: 0 });
    assertTrue(typeof s !== "string", String(s));
    assertEquals(s.reuseHits, f === "bpf_ma" ? 1 : 0, f);
    const out = new Uint8Array(8);
    assertEquals(k.sys.mapLookupElem(m, u32(2), out), 0);
    // bpf_ma: the program wrote 7 into key 2's element; otherwise key 2 kept its value
    assertEquals(readU64(out), f === "bpf_ma" ? 7 : 200, f);
    if (f === "bpf_ma") assertIncludes(k.dmesg.text(), "use-after-reuse");
    cpu1.exit();
    leakCheck(k);
  }
});
