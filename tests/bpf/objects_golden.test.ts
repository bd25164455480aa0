// The clang-built test objects on bpfsim against the real kernel. For every
// object recorded by tests/bpf-src/record.py (see its docstring for how:
// libbpf 1.1 through ctypes on this machine's 6.18 kernel, 2 CPUs, events
// from a task named bsim_rec pinned to CPU 0), bpfsim's libbpf opens and
// loads the same .o, and the test checks:
//  - the maps libbpf created: names (internal maps too), types, flags,
//    sizes, frozen .rodata;
//  - every program's tag (the digest of the instructions libbpf relocated);
//  - after the same events, run by the interpreter directly with the
//    context the hook or BPF_PROG_TEST_RUN gives (tracepoint records, raw
//    tracepoint args with a pt_regs in kernel memory, perf samples,
//    packets, syscall ctx): return values, outputs, every map's contents,
//    ring buffer records and trace_pipe messages.

import { assertEquals } from "../assert.ts";
import { leakCheck, liveBytes } from "../helpers.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { GFP_KERNEL } from "../../lib/kernel/slab.ts";
import type { CtxSpec } from "../../lib/bpf/insn_prog.ts";
import { PT_REGS_PARM, PT_REGS_SIZE, readSkbUapi } from "../../lib/bpf/prog_ctx.ts";
import { BpfRingbuf } from "../../lib/bpf/ringbuf.ts";
import { BPF_PROG_TYPE_SCHED_CLS } from "../../lib/bpf/uapi_prog.ts";
import { dumpMap, type Golden, golden, goldenNames, hex, loadObject, runAsRecorder, unhex } from "./objects_helpers.ts";

/** The fields bpf_prog_test_run_skb() copies back into ctx_out (convert_skb_to___skb). */
const SKB_OUT_FIELDS: [number, number][] = [[8, 4], [32, 4], [36, 4], [40, 4], [48, 20], [152, 8], [160, 4], [164, 4], [
  176,
  4,
]];

function u64le(v: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true);
  return b;
}

function replay(name: string, g: Golden): void {
  const k = new Kernel({ cpus: g.cpus, seed: 7 });
  const base = liveBytes(k);
  const t = loadObject(k, name);
  // the maps libbpf made, in its order
  assertEquals(
    t.lo.obj.maps.map((m, i) => {
      const info = k.sys.mapInfo(t.lo.mapFds[i]);
      if (typeof info === "number") throw new Error(`map ${m.name}: ${info}`);
      return [
        info.name,
        info.typeName,
        info.mapFlags,
        info.keySize,
        info.valueSize,
        info.maxEntries,
        info.frozen ? 1 : 0,
      ];
    }),
    g.maps.map((m) => [m.name, m.type, m.flags, m.key, m.value, m.max_entries, m.frozen]),
    "maps",
  );
  for (const p of g.programs) assertEquals(t.progs.get(p.name)?.tag, p.tag, `tag of ${p.name}`);

  for (const ev of g.events) {
    const cpu = (ev.cpu as number | undefined) ?? 0;
    switch (ev.kind) {
      case "sys_enter": {
        // raw_syscalls:sys_enter: the perf tracepoint gets the record, the raw tracepoint (regs, id)
        const args = ev.args as number[];
        const rec = new Uint8Array(64);
        const dv = new DataView(rec.buffer);
        dv.setBigInt64(8, BigInt(ev.id as number), true);
        args.forEach((a, i) => dv.setBigUint64(16 + 8 * i, BigInt(a), true));
        // the user registers the syscall entry saved, in a kernel object
        const regs = k.slab.kzalloc(PT_REGS_SIZE, GFP_KERNEL, "pt_regs");
        args.forEach((a, i) => k.mem.copyIn(regs + PT_REGS_PARM[i], u64le(a), 0, 8));
        for (const [pname, lp] of t.progs) {
          const spec: CtxSpec = lp.progType === 5
            ? { kind: "record", bytes: rec }
            : { kind: "args", args: [regs, ev.id as number] };
          const r = runAsRecorder(k, lp, cpu, spec);
          assertEquals(r.fault, null, `${pname} faulted`);
        }
        k.exec(0, () => k.slab.kfree(regs));
        break;
      }
      case "test_run": {
        const lp = t.progs.get(ev.prog as string)!;
        let spec: CtxSpec;
        if (lp.progType === 6) spec = { kind: "xdp", packet: unhex(ev.data_in as string) };
        else if (lp.progType === BPF_PROG_TYPE_SCHED_CLS) spec = { kind: "skb", packet: unhex(ev.data_in as string) };
        else if (lp.progType === 17) {
          const b = unhex(ev.ctx_in as string);
          const dv = new DataView(b.buffer);
          spec = {
            kind: "args",
            args: Array.from({ length: b.length / 8 }, (_, i) => Number(dv.getBigUint64(8 * i, true))),
          };
        } else spec = { kind: "bytes", bytes: ev.ctx_in ? unhex(ev.ctx_in as string) : new Uint8Array(0) };
        const r = runAsRecorder(k, lp, cpu, spec);
        assertEquals(r.fault, null);
        assertEquals(r.ret >>> 0, ev.retval, `${ev.prog} retval`);
        if (ev.data_out !== undefined) assertEquals(hex(r.out!), ev.data_out, `${ev.prog} data_out`);
        if (ev.ctx_out !== undefined && lp.progType === BPF_PROG_TYPE_SCHED_CLS) {
          const got = readSkbUapi(k, lp.prog.slot(cpu, 0) + lp.prog.stackBytes);
          const want = unhex(ev.ctx_out as string);
          for (const [off, len] of SKB_OUT_FIELDS) {
            assertEquals(hex(got.subarray(off, off + len)), hex(want.subarray(off, off + len)), `__sk_buff +${off}`);
          }
        } else if (ev.ctx_out !== undefined) {
          assertEquals(hex(r.out!), ev.ctx_out, `${ev.prog} ctx_out`);
        }
        break;
      }
      case "perf_sample": {
        const lp = t.progs.get(ev.prog as string)!;
        const r = runAsRecorder(k, lp, cpu, { kind: "perf", regs: [], samplePeriod: ev.sample_period as number });
        assertEquals(r.fault, null);
        break;
      }
      default:
        throw new Error(`unknown event ${ev.kind}`);
    }
  }

  for (const gm of g.maps) {
    const fd = t.lo.mapFd(gm.name);
    assertEquals(dumpMap(k, fd), gm.elements, `contents of ${gm.name}`);
    if (gm.inner) {
      const inner = gm.inner.map(([key]) => {
        const v = new Uint8Array(4);
        assertEquals(k.sys.mapLookupElem(fd, unhex(key), v), 0);
        const ifd = k.sys.mapGetFdById(new DataView(v.buffer).getUint32(0, true));
        const row = [key, k.sys.mapInfo(ifd) as { name: string }, dumpMap(k, ifd)] as const;
        k.sys.close(ifd);
        return [row[0], row[1].name, row[2]];
      });
      assertEquals(inner, gm.inner, `inner maps of ${gm.name}`);
    }
  }
  if (g.ringbuf) {
    const rb = k.sys.mapOf(t.lo.mapFd("events")) as BpfRingbuf;
    assertEquals(rb.drain().map(hex), g.ringbuf.events, "ring buffer records");
  }
  if (g.trace) {
    assertEquals(k.trace.consume().map((e) => e.msg.replace(/^bpf_trace_printk: /, "")), g.trace, "trace_pipe");
  }
  t.lo.close();
  for (const lp of t.progs.values()) lp.prog.free();
  leakCheck(k, base);
}

for (const name of goldenNames()) {
  const g = golden(name);
  if (!g.events.length) continue; // nothing could run on the oracle (see kprobe_fentry.test.ts)
  Deno.test(`${name}.bpf.o gives the real kernel's results`, () => replay(name, g));
}
