// kprobe/kretprobe and fentry/fexit objects. The oracle kernel has neither
// CONFIG_KPROBES nor BPF trampolines, so these expectations come from the
// programs' sources and the kernel's conventions (pt_regs on x86-64, the
// fexit ctx holding the return value after the arguments, the BPF self-test
// functions bpf_fentry_test1(1) == 2 and bpf_fentry_test2(2, 3)); the load
// side (maps, tags, xlated) of kprobe.bpf.o is checked against the kernel in
// objects_golden.test.ts and disasm_golden.test.ts.

import { assertEquals } from "../assert.ts";
import { leakCheck, liveBytes } from "../helpers.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { GFP_KERNEL } from "../../lib/kernel/slab.ts";
import { PT_REGS_PARM, PT_REGS_SIZE } from "../../lib/bpf/prog_ctx.ts";
import { dumpMap, golden, hex, loadObject, runAsRecorder } from "./objects_helpers.ts";

const u64 = (v: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return hex(b);
};

Deno.test("kprobe and kretprobe on getpgid: the argument through the probed function's pt_regs, the return value", () => {
  const k = new Kernel({ cpus: 2 });
  const base = liveBytes(k);
  const t = loadObject(k, "kprobe");
  // the load side agrees with the real kernel
  const g = golden("kprobe");
  for (const p of g.programs) assertEquals(t.progs.get(p.name)!.tag, p.tag);
  const enter = t.progs.get("on_getpgid")!, exit = t.progs.get("ret_getpgid")!;
  for (const pid of [4190001, 4190001, 4190002, 4190001, 4190003, 4190003]) {
    // __x64_sys_getpgid(const struct pt_regs *regs): the user registers live in kernel memory
    const user = k.slab.kzalloc(PT_REGS_SIZE, GFP_KERNEL, "pt_regs");
    k.mem.copyIn(user + PT_REGS_PARM[0], new Uint8Array(new BigUint64Array([BigInt(pid)]).buffer), 0, 8);
    assertEquals(runAsRecorder(k, enter, 0, { kind: "regs", args: [user] }).fault, null);
    assertEquals(runAsRecorder(k, exit, 0, { kind: "regs", args: [user], ret: -3 }).fault, null);
    k.exec(0, () => k.slab.kfree(user));
  }
  // another task's calls are filtered out by the program's comm check
  const user = k.slab.kzalloc(PT_REGS_SIZE, GFP_KERNEL, "pt_regs");
  k.mem.copyIn(user + PT_REGS_PARM[0], new Uint8Array(new BigUint64Array([4190009n]).buffer), 0, 8);
  assertEquals(runAsRecorder(k, enter, 1, { kind: "regs", args: [user] }, "other").fault, null);
  k.exec(0, () => k.slab.kfree(user));
  assertEquals(dumpMap(k, t.lo.mapFd("calls")), [
    [u64(4190001n), u64(3n)],
    [u64(4190002n), u64(1n)],
    [u64(4190003n), u64(2n)],
  ]);
  assertEquals(dumpMap(k, t.lo.mapFd("rets")).slice(0, 2), [["00000000", u64(-18n)], ["01000000", u64(6n)]]);
  t.lo.close();
  for (const lp of t.progs.values()) lp.prog.free();
  leakCheck(k, base);
});

Deno.test("fentry and fexit: arguments in the u64 ctx, fexit's return value after them", () => {
  const k = new Kernel({ cpus: 2 });
  const base = liveBytes(k);
  const t = loadObject(k, "fentry");
  runAsRecorder(k, t.progs.get("enter_test2")!, 0, { kind: "args", args: [2, 3] });
  runAsRecorder(k, t.progs.get("exit_test1")!, 0, { kind: "args", args: [1, 2] });
  // struct: test2_a, test2_b, test1_ret (u64) and hits (u32) in .bss
  const [[, bss]] = dumpMap(k, t.lo.mapFd("fentry.bss")) as [string, string][];
  assertEquals(bss, u64(2n) + u64(3n) + u64((1n << 32n) | 2n) + "02000000");
  t.lo.close();
  for (const lp of t.progs.values()) lp.prog.free();
  leakCheck(k, base);
});

Deno.test("bpf_probe_read_kernel of an address nothing maps: -EFAULT and zeros", () => {
  const k = new Kernel({ cpus: 2 });
  const base = liveBytes(k);
  const t = loadObject(k, "kprobe");
  // a stale pointer into a freed region: on_getpgid reads nothing and counts nothing
  assertEquals(runAsRecorder(k, t.progs.get("on_getpgid")!, 0, { kind: "regs", args: [0x7fff_0000_0000] }).fault, null);
  assertEquals(dumpMap(k, t.lo.mapFd("calls")), []);
  t.lo.close();
  for (const lp of t.progs.values()) lp.prog.free();
  leakCheck(k, base);
});
