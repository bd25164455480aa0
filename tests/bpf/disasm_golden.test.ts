// `prog dump xlated` formatting against the real bpftool 7.1.0: for every
// program the recorder loaded on the 6.18 kernel, the kernel's xlated
// instructions, func_info and line_info (from BPF_OBJ_GET_INFO_BY_FD), the
// jited subprogram symbols and the kallsyms names of the helper calls are
// given to disasm.ts, which must print exactly what bpftool printed: plain,
// `linum`, `opcodes`, and the JSON of `opcodes` and `linum`.

import { assertEquals } from "../assert.ts";
import { BpfObject } from "../../lib/libbpf/object.ts";
import { type DumpContext, dumpXlatedJson, dumpXlatedPlain } from "../../lib/bpf/disasm.ts";
import { decodeInsns } from "../../lib/bpf/uapi_insn.ts";
import { golden, goldenNames, objectBytes, unhex } from "./objects_helpers.ts";

for (const name of goldenNames()) {
  const g = golden(name);
  for (const p of g.programs) {
    Deno.test(`xlated dump of ${name}:${p.name} is bpftool's`, () => {
      const obj = new BpfObject(objectBytes(name), `${name}.bpf.o`);
      const insns = decodeInsns(unhex(p.xlated));
      const ctx: DumpContext = {
        btf: obj.btf,
        funcInfo: p.func_info.map(([insnOff, typeId]) => ({ insnOff, typeId })),
        lineInfo: p.line_info.map(([insnOff, fileNameOff, lineOff, lineCol]) => ({
          insnOff,
          fileNameOff,
          lineOff,
          lineCol,
        })),
        jitedKsyms: p.jited_ksyms,
        helperSymbol: (imm) => p.helper_syms[String(imm)] ?? null,
      };
      assertEquals(dumpXlatedPlain(insns, ctx), p.dump.plain);
      assertEquals(dumpXlatedPlain(insns, ctx, { linum: true }), p.dump.linum);
      assertEquals(dumpXlatedPlain(insns, ctx, { opcodes: true }), p.dump.opcodes);
      assertEquals(JSON.parse(JSON.stringify(dumpXlatedJson(insns, ctx, { opcodes: true }))), p.dump.json_opcodes);
      assertEquals(JSON.parse(JSON.stringify(dumpXlatedJson(insns, ctx, { linum: true }))), p.dump.json_linum);
    });
  }
}
