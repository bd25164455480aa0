// BTF-formatted map contents against bpftool 7.1.0: for every map of the
// recorded objects that carries BTF, the `formatted` part bpftool -j map dump
// printed on the 6.18 oracle is rebuilt by btf_dumper.ts from the same key
// and value bytes, with the object's BTF and the map's key/value types
// (structs with a bpf_spin_lock, DATASECs of global data with static
// variables, per-CPU values, char arrays as strings).

import { assertEquals } from "../assert.ts";
import { BpfObject } from "../../lib/libbpf/object.ts";
import { btfDump, type BtfJson, btfJsonText } from "../../lib/libbpf/btf_dumper.ts";
import { golden, goldenNames, objectBytes } from "../bpf/objects_helpers.ts";

function bytesOf(a: string[]): Uint8Array {
  return Uint8Array.from(a.map((x) => parseInt(x, 16)));
}

for (const name of goldenNames()) {
  const g = golden(name);
  const maps = g.maps.filter((m) => (m as { bpftool_dump?: unknown }).bpftool_dump);
  if (!maps.length) continue;
  Deno.test(`formatted map dumps of ${name}.bpf.o are bpftool's`, () => {
    const obj = new BpfObject(objectBytes(name), `${name}.bpf.o`);
    const btf = obj.btf!;
    for (const gm of maps) {
      const om = obj.maps[obj.findMap(gm.name)];
      const dump = (gm as unknown as { bpftool_dump: Record<string, unknown>[] }).bpftool_dump;
      for (const e of dump) {
        const fields: [string, BtfJson][] = [];
        if (om.def.keyTypeId) fields.push(["key", btfDump(btf, om.def.keyTypeId, bytesOf(e.key as string[]))]);
        if (e.values) {
          const per = (e.values as { cpu: number; value: string[] }[]).map((v): BtfJson => ({
            obj: [["cpu", { raw: String(v.cpu) }], ["value", btfDump(btf, om.def.valueTypeId, bytesOf(v.value))]],
          }));
          fields.push(["values", { arr: per }]);
        } else {
          fields.push(["value", btfDump(btf, om.def.valueTypeId, bytesOf(e.value as string[]))]);
        }
        assertEquals(JSON.parse(btfJsonText({ obj: fields })), e.formatted, `${gm.name}`);
      }
    }
  });
}

Deno.test("btf_dumper: a .rodata DATASEC holds every variable, static ones too, char arrays as strings", () => {
  const obj = new BpfObject(objectBytes("syscall"), "syscall.bpf.o");
  const btf = obj.btf!;
  const rodata = obj.maps[obj.findMap("syscall.rodata")];
  const v = btfDump(btf, rodata.def.valueTypeId, rodata.initData!);
  assertEquals(btfJsonText(v), '{".rodata":[{"scale":7},{"sys_prog.____fmt":"sys_prog n=%u total=%llu"}]}');
});
