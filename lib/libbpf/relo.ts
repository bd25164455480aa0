// bpf_object__relocate() (tools/lib/bpf/libbpf.c): for each entry program,
// the subprograms it calls are appended after it in the order they are
// first called (bpf_object__reloc_code(), recursively), every bpf-to-bpf
// call gets its final relative offset, their relocations and BTF.ext
// func/line info follow them (adjust_prog_btf_ext_info()), and the map and
// global-data ld_imm64 instructions are patched with the maps' fds
// (bpf_object__relocate_data(): BPF_PSEUDO_MAP_FD / BPF_PSEUDO_MAP_VALUE).

import type { FuncInfo, LineInfo } from "./btf_ext.ts";
import { LibbpfError } from "./errors.ts";
import { type BpfObject, isPseudoFunc, isSubprogCall, type ObjProgram, type Relo } from "./object.ts";
import {
  BPF_CALL,
  BPF_INSN_SZ,
  BPF_JMP,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  type BpfInsn,
} from "../bpf/uapi_insn.ts";

/** An entry program with its subprograms appended: what bpf_prog_load() is given. */
export interface LinkedProgram {
  /** The entry program. */
  readonly prog: ObjProgram;
  /** Instructions: the program, then each subprogram it (transitively) calls. */
  readonly insns: BpfInsn[];
  /** Relocations still to apply (maps, data, externs), indexed in `insns`. */
  readonly relos: Relo[];
  /** func_info, instruction offsets in `insns` (empty without .BTF.ext). */
  readonly funcInfo: FuncInfo[];
  /** line_info, instruction offsets in `insns`. */
  readonly lineInfo: LineInfo[];
  /** Where each appended subprogram starts. */
  readonly subprogs: { readonly name: string; readonly insnOff: number }[];
}

/** bpf_object__relocate() for one entry program: appends subprograms and fixes calls. */
export function linkProgram(obj: BpfObject, main: ObjProgram): LinkedProgram {
  const insns = main.insns.map((x) => ({ ...x }));
  const relos: Relo[] = main.relos.map((r) => ({ ...r }));
  const funcInfo: FuncInfo[] = [];
  const lineInfo: LineInfo[] = [];
  const subprogs: { name: string; insnOff: number }[] = [];
  const subOff = new Map<ObjProgram, number>([[main, 0]]);
  let funcOk = true, lineOk = true;

  const extInfo = (prog: ObjProgram) => {
    const ext = obj.btfExt;
    if (!ext) return;
    const off = subOff.get(prog)!;
    const pick = <T extends { insnOff: number }>(segs: { secName: string; recs: T[] }[], out: T[]): boolean => {
      for (const s of segs) {
        if (s.secName !== prog.secName) continue;
        const recs = s.recs.filter((r) => {
          const i = r.insnOff / BPF_INSN_SZ;
          return i >= prog.secInsnOff && i < prog.secInsnOff + prog.secInsnCnt;
        });
        if (!recs.length) return false;
        for (const r of recs) out.push({ ...r, insnOff: r.insnOff / BPF_INSN_SZ + off - prog.secInsnOff });
        return true;
      }
      return false;
    };
    // reloc_prog_func_and_line_info(): a missing record for the main program drops that kind of info altogether
    if (funcOk && !pick(ext.funcInfo, funcInfo)) {
      if (funcInfo.length) throw new LibbpfError(`prog '${prog.name}': missing .BTF.ext function info.`, "ENOENT");
      funcOk = false;
    }
    if (lineOk && !pick(ext.lineInfo, lineInfo)) {
      if (lineInfo.length) throw new LibbpfError(`prog '${prog.name}': missing .BTF.ext line info.`, "ENOENT");
      lineOk = false;
    }
  };

  const relocCode = (prog: ObjProgram) => {
    extInfo(prog);
    const base = subOff.get(prog)!;
    for (let i = 0; i < prog.secInsnCnt; i++) {
      const insn = insns[base + i];
      if (!isSubprogCall(insn) && !isPseudoFunc(insn)) continue;
      const relo = prog.relos.find((r) => r.insnIdx === i);
      if (relo && relo.type === "extern_call") continue;
      if (relo && relo.type !== "call" && relo.type !== "subprog_addr") {
        throw new LibbpfError(
          `prog '${prog.name}': unexpected relo for insn #${i}, type ${relo.type}`,
          "LIBBPF_ERRNO__RELOC",
        );
      }
      let subIdx: number;
      if (relo) {
        subIdx = relo.type === "call"
          ? relo.symOff / BPF_INSN_SZ + insn.imm + 1
          : (relo.symOff + insn.imm) / BPF_INSN_SZ;
      } else if (isPseudoFunc(insn)) {
        throw new LibbpfError(`prog '${prog.name}': missing subprog addr relo for insn #${i}`, "LIBBPF_ERRNO__RELOC");
      } else {
        // a static function in the same section: imm is relative to the call
        subIdx = prog.secInsnOff + i + insn.imm + 1;
      }
      const sub = obj.progBySecInsn(obj.textShndx, subIdx);
      if (!sub) {
        throw new LibbpfError(
          `prog '${prog.name}': no .text section found yet sub-program call exists`,
          "LIBBPF_ERRNO__RELOC",
        );
      }
      if (!subOff.has(sub)) {
        // bpf_object__append_subprog_code()
        const at = insns.length;
        subOff.set(sub, at);
        subprogs.push({ name: sub.name, insnOff: at });
        for (const x of sub.insns) insns.push({ ...x });
        for (const r of sub.relos) relos.push({ ...r, insnIdx: r.insnIdx + at });
        relocCode(sub);
      }
      insns[base + i].imm = subOff.get(sub)! - (base + i) - 1;
    }
  };
  relocCode(main);
  relos.sort((a, b) => a.insnIdx - b.insnIdx);
  return { prog: main, insns, relos, funcInfo: funcOk ? funcInfo : [], lineInfo: lineOk ? lineInfo : [], subprogs };
}

/** How a relocated ld_imm64 refers to a map (the loader's record of used maps). */
export interface MapRef {
  /** Instruction index of the ld_imm64. */
  readonly insnIdx: number;
  /** Index into the object's maps. */
  readonly mapIdx: number;
  /** BPF_PSEUDO_MAP_FD or BPF_PSEUDO_MAP_VALUE. */
  readonly pseudo: number;
  /** Offset into the value (BPF_PSEUDO_MAP_VALUE). */
  readonly off: number;
}

/**
 * bpf_object__relocate_data(): patches ld_imm64 map/data/kconfig references
 * with `fdOf(mapIdx)`; returns the patched copy and the references made.
 */
export function relocateData(
  obj: BpfObject,
  lp: LinkedProgram,
  fdOf: (mapIdx: number) => number,
): { insns: BpfInsn[]; mapRefs: MapRef[] } {
  const insns = lp.insns.map((x) => ({ ...x }));
  const mapRefs: MapRef[] = [];
  for (const r of lp.relos) {
    const x = insns[r.insnIdx], y = insns[r.insnIdx + 1];
    switch (r.type) {
      case "ld64":
        x.src = BPF_PSEUDO_MAP_FD;
        x.imm = fdOf(r.mapIdx);
        mapRefs.push({ insnIdx: r.insnIdx, mapIdx: r.mapIdx, pseudo: BPF_PSEUDO_MAP_FD, off: 0 });
        break;
      case "data":
        y.imm = x.imm + r.symOff;
        x.src = BPF_PSEUDO_MAP_VALUE;
        x.imm = fdOf(r.mapIdx);
        mapRefs.push({ insnIdx: r.insnIdx, mapIdx: r.mapIdx, pseudo: BPF_PSEUDO_MAP_VALUE, off: y.imm });
        break;
      case "extern_ld64": {
        const ext = obj.externs[r.extIdx];
        if (ext.type !== "kcfg") {
          throw new LibbpfError(
            `prog '${lp.prog.name}': extern (ksym) '${ext.name}': bpfsim has no kernel symbols to resolve it`,
            "ENOTSUP",
          );
        }
        x.src = BPF_PSEUDO_MAP_VALUE;
        x.imm = fdOf(obj.kconfigMapIdx);
        y.imm = ext.kcfg.dataOff;
        mapRefs.push({ insnIdx: r.insnIdx, mapIdx: obj.kconfigMapIdx, pseudo: BPF_PSEUDO_MAP_VALUE, off: y.imm });
        break;
      }
      case "extern_call": {
        const ext = obj.externs[r.extIdx];
        if (!ext.isWeak) {
          throw new LibbpfError(
            `prog '${lp.prog.name}': kfunc '${ext.name}': bpfsim has no kernel BTF to resolve kfuncs`,
            "ENOTSUP",
          );
        }
        // poison_kfunc_call(): an unresolved weak kfunc becomes an invalid helper call
        x.code = BPF_JMP | BPF_CALL;
        x.dst = x.src = x.off = 0;
        x.imm = 2002000000 + r.extIdx;
        void BPF_PSEUDO_KFUNC_CALL;
        break;
      }
      default:
        break;
    }
  }
  return { insns, mapRefs };
}
