// libbpf's object handling, as tools/lib/bpf/libbpf.c does it: SEC() names,
// internal map names, BTF-defined maps (inner maps, pinning), the legacy
// maps section, subprogram and data relocations, and the errors an
// unusable object gives.

import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import { withKernel } from "../helpers.ts";
import { attachTargetOf, findSecDef } from "../../lib/libbpf/sec_def.ts";
import { internalMapName } from "../../lib/libbpf/map_def.ts";
import { BpfObject } from "../../lib/libbpf/object.ts";
import { bpfObjectLoad } from "../../lib/libbpf/load.ts";
import { LibbpfError } from "../../lib/libbpf/errors.ts";
import { linkProgram } from "../../lib/libbpf/relo.ts";
import { PROG_TYPE_NAMES } from "../../lib/bpf/uapi_prog.ts";
import { objectBytes } from "../bpf/objects_helpers.ts";

function sec(name: string): [string, number, boolean, string | null] | null {
  const d = findSecDef(name);
  if (!d) return null;
  const t = attachTargetOf(d, name);
  return [
    PROG_TYPE_NAMES[d.progType],
    d.attachType,
    (d.flags & 8) !== 0,
    t ? `${t.name}${t.retprobe ? " (ret)" : ""}${t.offset ? `+${t.offset}` : ""}` : null,
  ];
}

Deno.test("SEC() names: prog type, expected attach type, sleepable, attach target", () => {
  assertEquals(sec("kprobe/do_sys_open"), ["kprobe", 0, false, "do_sys_open"]);
  assertEquals(sec("kretprobe/do_sys_open"), ["kprobe", 0, false, "do_sys_open (ret)"]);
  assertEquals(sec("kprobe/tcp_sendmsg+0x10"), ["kprobe", 0, false, "tcp_sendmsg+16"]);
  assertEquals(sec("kprobe"), ["kprobe", 0, false, null]);
  assertEquals(sec("tracepoint/syscalls/sys_enter_openat"), ["tracepoint", 0, false, "syscalls/sys_enter_openat"]);
  assertEquals(sec("tp/sched/sched_switch"), ["tracepoint", 0, false, "sched/sched_switch"]);
  assertEquals(sec("raw_tp/sys_enter"), ["raw_tracepoint", 0, false, "sys_enter"]);
  assertEquals(sec("raw_tracepoint/sched_switch"), ["raw_tracepoint", 0, false, "sched_switch"]);
  assertEquals(sec("fentry/bpf_fentry_test1"), ["tracing", 24, false, "bpf_fentry_test1"]);
  assertEquals(sec("fexit/htab_map_update_elem"), ["tracing", 25, false, "htab_map_update_elem (ret)"]);
  assertEquals(sec("fentry.s/do_sys_open"), ["tracing", 24, true, "do_sys_open"]);
  assertEquals(sec("perf_event"), ["perf_event", 0, false, null]);
  assertEquals(sec("xdp"), ["xdp", 37, false, null]);
  assertEquals(sec("xdp.frags"), ["xdp", 37, false, null]);
  assertEquals(sec("tc"), ["sched_cls", 0, false, null]);
  assertEquals(sec("tc/ingress"), ["sched_cls", 46, false, null]);
  // libbpf makes syscall programs sleepable
  assertEquals(sec("syscall"), ["syscall", 0, true, null]);
  // "type+" takes exactly the type or type/...; "type" only itself
  assertEquals(sec("kprobex/foo"), null);
  assertEquals(sec("xdp/foo"), null);
  assertEquals(sec("my_section"), null);
});

Deno.test("internal map names: object prefix and section as libbpf and the kernel give them", () => {
  assertEquals(internalMapName("t1", ".rodata"), "t1.rodata");
  assertEquals(internalMapName("verylongobjectname", ".rodata"), "verylong.rodata");
  assertEquals(internalMapName("verylongobjectname", ".bss"), "verylong.bss");
  assertEquals(internalMapName("verylongobjectname", ".kconfig"), "verylon.kconfig");
  // two dots: a custom section, named as is (15 characters kept)
  assertEquals(internalMapName("obj", ".rodata.str1.1"), ".rodata.str1.1");
  assertEquals(internalMapName("obj", ".data.custom_long_name"), ".data.custom_lo");
  assertEquals(internalMapName("my-obj", ".data"), "my_obj.data");
});

Deno.test("the recorded objects open: programs, subprograms, maps, license", () => {
  const o = new BpfObject(objectBytes("syscall"), "syscall.bpf.o");
  assertEquals(o.name, "syscall");
  assertEquals(o.license, "GPL");
  assertEquals(o.entryPrograms().map((p) => [p.name, p.secName, p.sleepable]), [["sys_prog", "syscall", true]]);
  assertEquals(o.programs.filter((p) => p.isSubprog).map((p) => p.name).sort(), ["loop_cb", "mix", "square"]);
  assertEquals(o.maps.map((m) => [m.name, m.libbpfType, m.def.valueSize]), [
    ["syscall.bss", "bss", 28],
    ["syscall.data", "data", 8],
    ["syscall.rodata", "rodata", 29],
  ]);
  // subprograms are appended in the order they are first called, callbacks included
  const lp = linkProgram(o, o.entryPrograms()[0]);
  assertEquals(lp.subprogs.map((s) => s.name), ["square", "mix", "loop_cb"]);
  assertEquals(lp.funcInfo.length, 4);
});

Deno.test("BTF-defined maps: key and value types, inner map templates and their slots", () => {
  const o = new BpfObject(objectBytes("mapinmap"), "mapinmap.bpf.o");
  const outer = o.maps[o.findMap("outer")];
  assertEquals([outer.def.type, outer.def.keySize, outer.def.valueSize, outer.def.maxEntries], [12, 4, 4, 2]);
  assertEquals(outer.inner?.name, "outer.inner");
  assertEquals([outer.inner!.def.type, outer.inner!.def.maxEntries, outer.inner!.def.valueSize], [2, 4, 8]);
  assertEquals(outer.initSlots, ["inner_a", "inner_b"]);
  const btf = o.btf!;
  const counts = new BpfObject(objectBytes("kprobe"), "kprobe.bpf.o").maps[0];
  assertEquals(counts.name, "calls");
  assertTrue(counts.def.keyTypeId > 0 && counts.def.valueTypeId > 0);
  assertTrue(btf.typeCnt > 10);
});

Deno.test("pinning by name: the first load pins, the next reuses the same map, a different definition is refused", () => {
  withKernel({ cpus: 2 }, (k) => {
    const open = () => new BpfObject(objectBytes("pinned"), "pinned.bpf.o");
    const a = bpfObjectLoad(k.sys, open());
    const id = (fd: number) => (k.sys.mapInfo(fd) as { id: number }).id;
    const first = id(a.mapFd("shared_counts"));
    assertTrue(k.bpf.fs.get("/sys/fs/bpf/shared_counts") !== undefined);
    const b = bpfObjectLoad(k.sys, open());
    assertEquals(id(b.mapFd("shared_counts")), first);
    // private maps are not shared
    assertTrue(id(b.mapFd("private_count")) !== id(a.mapFd("private_count")));
    a.close();
    b.close();
    // the same name with another size: libbpf refuses to reuse the pin
    const other = open();
    other.maps[other.findMap("shared_counts")].def.maxEntries = 32;
    let err: unknown = null;
    try {
      bpfObjectLoad(k.sys, other);
    } catch (e) {
      err = e;
    }
    assertTrue(err instanceof LibbpfError);
    assertEquals((err as LibbpfError).message, "map 'shared_counts': error reusing pinned map");
    // the program section says xdp.frags: BPF_F_XDP_HAS_FRAGS
    assertEquals(open().findProgram("count_frags")?.xdpFrags, true);
  });
});

Deno.test("the legacy maps section (libbpf < 1.0): struct bpf_map_def records by symbol", () => {
  withKernel({ cpus: 2 }, (k) => {
    const o = new BpfObject(objectBytes("legacy"), "legacy.bpf.o");
    assertEquals(o.license, "Dual BSD/GPL");
    assertEquals(
      o.maps.map((
        m,
      ) => [m.name, m.libbpfType, m.def.type, m.def.keySize, m.def.valueSize, m.def.maxEntries, m.def.mapFlags]),
      [
        ["counters", "legacy", 2, 4, 8, 4, 0],
        ["flows", "legacy", 1, 8, 16, 128, 1],
      ],
    );
    const lo = bpfObjectLoad(k.sys, o);
    const info = k.sys.mapInfo(lo.mapFd("flows")) as { typeName: string; mapFlags: number };
    assertEquals([info.typeName, info.mapFlags], ["hash", 1]);
    lo.close();
  });
});

Deno.test("global data on releases without it: internal maps are not created, their users are poisoned", () => {
  withKernel({ cpus: 2, profile: "v4.6" }, (k) => {
    const log: string[] = [];
    const lo = bpfObjectLoad(k.sys, new BpfObject(objectBytes("syscall"), "syscall.bpf.o"), { log });
    assertEquals(lo.mapFd("syscall.bss") < 0, true);
    assertIncludes(log.join("\n"), "map 'syscall.bss': skipped auto-creating...");
    // the ld_imm64s of the globals became calls to an invalid helper, as libbpf makes them
    const p = lo.programs[0];
    assertTrue(p.insns.some((x) => x.code === 0x85 && x.imm >= 2001000000));
    lo.close();
  });
});

Deno.test("unusable objects: not ELF, no symbols, truncated", () => {
  const err = (b: Uint8Array) => {
    try {
      new BpfObject(b, "x.o");
    } catch (e) {
      return e instanceof LibbpfError ? e.message : String(e);
    }
    return "opened";
  };
  assertEquals(
    err(new TextEncoder().encode("not an elf file at all, just text....................................")),
    "elf: failed to open x.o: not an ELF file",
  );
  const good = objectBytes("xdp");
  assertEquals(err(good.slice(0, 100)), "elf: failed to get section headers from x.o");
  // clearing e_machine's BPF value makes it another architecture's object
  const other = good.slice();
  other[18] = 62;
  assertEquals(err(other), "elf: x.o is not a BPF object (e_machine 62)");
});
