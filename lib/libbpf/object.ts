// bpf_object__open() (tools/lib/bpf/libbpf.c): reads a clang-built BPF ELF
// object: its programs (one per STT_FUNC symbol of each executable
// section, named by SEC()), the license and kernel version, BTF and BTF.ext
// with libbpf's DATASEC fix-ups, the maps (BTF-defined ".maps", the legacy
// "maps" section, internal maps for .data/.rodata/.bss and .kconfig externs),
// and every relocation the programs carry (map and global-data ld_imm64,
// bpf-to-bpf calls, subprogram addresses, externs). Nothing touches the
// kernel here; see load.ts for bpf_object__load().

import {
  Btf,
  BTF_FUNC_STATIC,
  BTF_KIND,
  BTF_VAR_GLOBAL_ALLOCATED,
  BTF_VAR_GLOBAL_EXTERN,
  BTF_VAR_STATIC,
} from "./btf.ts";
import { BtfExt } from "./btf_ext.ts";
import {
  ElfFile,
  type ElfSection,
  type ElfSymbol,
  SHF_EXECINSTR,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHT_LLVM_ADDRSIG,
  SHT_NOBITS,
  SHT_PROGBITS,
  SHT_REL,
  SHT_STRTAB,
  SHT_SYMTAB,
  STB_GLOBAL,
  STB_LOCAL,
  STB_WEAK,
  STT_FUNC,
  STT_NOTYPE,
  STT_OBJECT,
  STT_SECTION,
  STV_HIDDEN,
  STV_INTERNAL,
} from "./elf.ts";
import { LibbpfError } from "./errors.ts";
import {
  BPF_FS_DEFAULT_PATH,
  checkMapVar,
  internalMap,
  isMapInMap,
  LEGACY_MAP_DEF_SIZE,
  legacyMapDef,
  LIBBPF_PIN_BY_NAME,
  type ObjMap,
  parseBtfMapDef,
} from "./map_def.ts";
import { type AttachTarget, attachTargetOf, findSecDef, SEC_SLEEPABLE, SEC_XDP_FRAGS, type SecDef } from "./sec_def.ts";
import {
  BPF_CALL,
  BPF_INSN_SZ,
  BPF_JMP,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  type BpfInsn,
  decodeInsns,
  LD_IMM64,
} from "../bpf/uapi_insn.ts";
import { BPF_MAP_TYPE_PROG_ARRAY } from "../bpf/uapi.ts";

/** enum reloc_type */
export type ReloType = "ld64" | "data" | "call" | "subprog_addr" | "extern_ld64" | "extern_call";

/** struct reloc_desc */
export interface Relo {
  /** What the relocation resolves. */
  type: ReloType;
  /** Instruction index within the program (then within the main program). */
  insnIdx: number;
  /** Map index (ld64, data). */
  mapIdx: number;
  /** Symbol offset in its section (data: offset into the value; call: byte offset of the callee). */
  symOff: number;
  /** Extern index (extern_*). */
  extIdx: number;
}

/** struct bpf_program, as opened. */
export interface ObjProgram {
  /** Function name (the symbol). */
  readonly name: string;
  /** ELF section name (the SEC() string). */
  readonly secName: string;
  /** ELF section index. */
  readonly secIdx: number;
  /** First instruction within the section. */
  readonly secInsnOff: number;
  /** Number of instructions. */
  readonly secInsnCnt: number;
  /** The program's own instructions, as compiled. */
  readonly insns: BpfInsn[];
  /** Relocations against its instructions (sorted by insnIdx). */
  relos: Relo[];
  /** The matching SEC() definition, or null. */
  secDef: SecDef | null;
  /** enum bpf_prog_type (0 when the section name says nothing). */
  progType: number;
  /** expected_attach_type */
  attachType: number;
  /** BPF_F_SLEEPABLE from a ".s" section. */
  sleepable: boolean;
  /** BPF_F_XDP_HAS_FRAGS from an "xdp.frags" section. */
  xdpFrags: boolean;
  /** Where the section says the program attaches, or null. */
  attachTarget: AttachTarget | null;
  /** The symbol is global (not a static function). */
  readonly symGlobal: boolean;
  /** A hidden global function: its BTF FUNC is turned static before load. */
  readonly markBtfStatic: boolean;
  /** A subprogram (in .text when the object has several functions). */
  isSubprog: boolean;
}

/** enum extern_type and what it resolves to. */
export interface ObjExtern {
  /** The extern's name. */
  readonly name: string;
  /** Symbol index. */
  readonly symIdx: number;
  /** ".kconfig" variable or ".ksyms" symbol. */
  readonly type: "kcfg" | "ksym";
  /** __weak: may stay unresolved. */
  readonly isWeak: boolean;
  /** kcfg: size, alignment, offset in the .kconfig map, and the value kind. */
  kcfg: {
    sz: number;
    align: number;
    dataOff: number;
    kind: "bool" | "tristate" | "char" | "int" | "char_arr";
    isSigned: boolean;
  };
}

/** What bpf_object__open_mem() takes besides the bytes. */
export interface OpenOpts {
  /** object_name: defaults to the file's basename up to its first '.'. */
  objectName?: string;
  /** relaxed_maps: ignore unknown fields of map definitions. */
  relaxedMaps?: boolean;
  /** pin_root_path for LIBBPF_PIN_BY_NAME maps (default /sys/fs/bpf). */
  pinRootPath?: string;
}

/** An opened (not yet loaded) BPF object. */
export class BpfObject {
  /** obj->name: up to 15 characters of the file name before its first '.'. */
  readonly name: string;
  /** The parsed ELF. */
  readonly elf: ElfFile;
  /** .BTF, or null when the object has none. */
  readonly btf: Btf | null = null;
  /** .BTF.ext, or null. */
  readonly btfExt: BtfExt | null = null;
  /** The "license" section's string. */
  license = "";
  /** The "version" section's value (kern_version). */
  kernVersion = 0;
  /** All functions: entry programs and subprograms, sorted by section and offset. */
  readonly programs: ObjProgram[] = [];
  /** The maps, in libbpf's order: .maps/maps definitions, then data sections, then .kconfig. */
  readonly maps: ObjMap[] = [];
  /** Externs (sorted as libbpf sorts them). */
  readonly externs: ObjExtern[] = [];
  /** Index of .text (0: none). */
  readonly textShndx: number = 0;
  /** Index of .maps (-1: none). */
  readonly btfMapsShndx: number = -1;
  /** Index of the legacy maps section (-1: none). */
  readonly legacyMapsShndx: number = -1;
  /** Index of the .kconfig map in maps (-1: none). */
  kconfigMapIdx: number = -1;
  /** Relocation sections by target section index. */
  private readonly relSecs: ElfSection[] = [];
  /** Kind of each data section by index. */
  private readonly dataSecs = new Map<number, "data" | "rodata" | "bss">();

  /** bpf_object__open_mem(): parses and collects everything; throws LibbpfError. */
  constructor(bytes: Uint8Array, readonly path: string, opts: OpenOpts = {}) {
    const base = path.slice(path.lastIndexOf("/") + 1);
    this.name = (opts.objectName ?? base.split(".")[0]).slice(0, 15);
    const elf = this.elf = new ElfFile(bytes, path);
    if (!elf.symtabIdx) {
      throw new LibbpfError(`elf: couldn't find symbol table in ${path}, stripped object file?`, "ENOENT");
    }
    let btfSec: ElfSection | null = null, btfExtSec: ElfSection | null = null;
    for (const sh of elf.sections) {
      if (sh.idx === 0 || ignoreElfSection(sh)) continue;
      const name = sh.name;
      if (name === "license") {
        this.license = new TextDecoder().decode(sh.data).split("\0")[0];
      } else if (name === "version") {
        if (sh.size !== 4) throw new LibbpfError(`invalid kver section in ${path}`, "LIBBPF_ERRNO__FORMAT");
        this.kernVersion = new DataView(sh.data.buffer, sh.data.byteOffset, 4).getUint32(0, true);
      } else if (name === "maps") {
        this.legacyMapsShndx = sh.idx;
      } else if (name === ".maps") {
        this.btfMapsShndx = sh.idx;
      } else if (name === ".BTF") {
        if (sh.type !== SHT_PROGBITS) throw new LibbpfError(`invalid .BTF section in ${path}`, "LIBBPF_ERRNO__FORMAT");
        btfSec = sh;
      } else if (name === ".BTF.ext") {
        if (sh.type !== SHT_PROGBITS) {
          throw new LibbpfError(`invalid .BTF.ext section in ${path}`, "LIBBPF_ERRNO__FORMAT");
        }
        btfExtSec = sh;
      } else if (sh.type === SHT_SYMTAB) {
        // processed by ElfFile
      } else if (sh.type === SHT_PROGBITS && sh.size > 0) {
        if (sh.flags & SHF_EXECINSTR) {
          if (name === ".text") this.textShndx = sh.idx;
          this.addPrograms(sh);
        } else if (name === ".data" || name.startsWith(".data.")) {
          this.dataSecs.set(sh.idx, "data");
        } else if (name === ".rodata" || name.startsWith(".rodata.")) {
          this.dataSecs.set(sh.idx, "rodata");
        }
      } else if (sh.type === SHT_REL) {
        const target = elf.sections[sh.info];
        if (!target) throw new LibbpfError(`elf: bad relocation section ${name}`, "LIBBPF_ERRNO__FORMAT");
        // only relocations of code and of .maps (initial slots) matter
        if ((target.flags & SHF_EXECINSTR) || name === ".rel.maps") this.relSecs.push(sh);
      } else if (sh.type === SHT_NOBITS && (name === ".bss" || name.startsWith(".bss."))) {
        this.dataSecs.set(sh.idx, "bss");
      }
    }
    this.programs.sort((a, b) => a.secIdx - b.secIdx || a.secInsnOff - b.secInsnOff);
    for (const p of this.programs) p.isSubprog = p.secIdx === this.textShndx && this.programs.length > 1;
    // bpf_object__init_btf()
    if (btfSec) {
      this.btf = new Btf(btfSec.data);
      if (btfExtSec) {
        try {
          this.btfExt = new BtfExt(btfExtSec.data, (o) => this.btf!.str(o));
        } catch {
          // "Error loading ELF section .BTF.ext: ... Ignored and continue."
          this.btfExt = null;
        }
      }
    } else if (this.btfMapsShndx >= 0) {
      throw new LibbpfError("BTF is required, but is missing or corrupted.", "ENOENT");
    }
    this.collectExterns();
    this.fixupBtf();
    this.initProgs();
    this.initMaps(opts);
    for (const rs of this.relSecs) this.collectRelos(rs);
  }

  // --------------------------------------------------------------- programs

  /** bpf_object__add_programs(): one program per STT_FUNC symbol of an executable section. */
  private addPrograms(sh: ElfSection): void {
    const secSz = sh.size;
    const found: ElfSymbol[] = this.elf.symbols.filter((s) => s.shndx === sh.idx && s.type === STT_FUNC);
    for (const sym of found) {
      const off = sym.value, sz = sym.size;
      if (off + sz > secSz) {
        throw new LibbpfError(
          `sec '${sh.name}': program at offset ${off} crosses section boundary`,
          "LIBBPF_ERRNO__FORMAT",
        );
      }
      if (sh.name !== ".text" && sym.bind === STB_LOCAL) {
        throw new LibbpfError(`sec '${sh.name}': program '${sym.name}' is static and not supported`, "ENOTSUP");
      }
      if (off % BPF_INSN_SZ || sz % BPF_INSN_SZ) {
        throw new LibbpfError(`sec '${sh.name}': corrupted program '${sym.name}'`, "LIBBPF_ERRNO__FORMAT");
      }
      const global = sym.bind !== STB_LOCAL;
      this.programs.push({
        name: sym.name,
        secName: sh.name,
        secIdx: sh.idx,
        secInsnOff: off / BPF_INSN_SZ,
        secInsnCnt: sz / BPF_INSN_SZ,
        insns: decodeInsns(sh.data.subarray(off, off + sz)),
        relos: [],
        secDef: null,
        progType: 0,
        attachType: 0,
        sleepable: false,
        xdpFrags: false,
        attachTarget: null,
        symGlobal: global,
        markBtfStatic: global && (sym.visibility === STV_HIDDEN || sym.visibility === STV_INTERNAL),
        isSubprog: false,
      });
    }
  }

  /** bpf_object_init_progs() + libbpf_prepare_prog_load(): types and flags from SEC() names. */
  private initProgs(): void {
    for (const p of this.programs) {
      if (p.isSubprog) continue;
      const d = findSecDef(p.secName);
      if (!d) continue;
      p.secDef = d;
      p.progType = d.progType;
      p.attachType = d.attachType;
      p.sleepable = (d.flags & SEC_SLEEPABLE) !== 0;
      p.xdpFrags = (d.flags & SEC_XDP_FRAGS) !== 0;
      p.attachTarget = attachTargetOf(d, p.secName);
    }
  }

  /** bpf_object__find_program_by_name() (entry programs only). */
  findProgram(name: string): ObjProgram | undefined {
    return this.programs.find((p) => !p.isSubprog && p.name === name);
  }

  /** The entry programs, in order (bpf_object__for_each_program). */
  entryPrograms(): ObjProgram[] {
    return this.programs.filter((p) => !p.isSubprog);
  }

  /** find_prog_by_sec_insn() */
  progBySecInsn(secIdx: number, insnIdx: number): ObjProgram | undefined {
    return this.programs.find((p) =>
      p.secIdx === secIdx && insnIdx >= p.secInsnOff && insnIdx < p.secInsnOff + p.secInsnCnt
    );
  }

  // -------------------------------------------------------------------- BTF

  /** bpf_object_fixup_btf(): DATASEC sizes and VAR offsets from the ELF, hidden globals made static. */
  private fixupBtf(): void {
    const btf = this.btf;
    if (!btf) return;
    for (const t of btf.types) {
      if (t.kind !== BTF_KIND.DATASEC) continue;
      const secName = btf.name(t);
      if (secName === ".kconfig" || secName === ".ksyms") {
        t.members.sort((a, b) => a.offset - b.offset);
        continue;
      }
      let fixupOffsets = false;
      if (t.sizeOrType === 0) {
        const sec = this.elf.sectionByName(secName);
        if (!sec || !sec.size) continue; // "failed to determine size from ELF": libbpf skips such DATASECs' maps
        t.sizeOrType = sec.size;
        fixupOffsets = true;
      }
      for (const vsi of t.members) {
        const v = btf.type(vsi.type);
        if (!v || v.kind !== BTF_KIND.VAR) {
          throw new LibbpfError(`sec '${secName}': unexpected non-VAR type found`, "EINVAL");
        }
        if (v.linkage === BTF_VAR_STATIC || v.linkage === BTF_VAR_GLOBAL_EXTERN) continue;
        const vname = btf.name(v);
        const sym = this.elf.symbols.find((s) =>
          s.name === vname && s.type === STT_OBJECT && (s.bind === STB_GLOBAL || s.bind === STB_WEAK)
        );
        if (!sym) throw new LibbpfError(`sec '${secName}': failed to find ELF symbol for VAR '${vname}'`, "ENOENT");
        if (fixupOffsets) vsi.offset = sym.value;
        if (sym.visibility === STV_HIDDEN || sym.visibility === STV_INTERNAL) v.linkage = BTF_VAR_STATIC;
      }
      t.members.sort((a, b) => a.offset - b.offset);
    }
    // bpf_object__sanitize_and_load_btf(): hidden global subprograms become static FUNCs
    for (const p of this.programs) {
      if (!p.markBtfStatic || !p.isSubprog) continue;
      for (const t of btf.types) {
        if (t.kind === BTF_KIND.FUNC && t.vlen !== BTF_FUNC_STATIC && btf.name(t) === p.name) {
          t.vlen = BTF_FUNC_STATIC;
          break;
        }
      }
    }
  }

  // --------------------------------------------------------------- externs

  /** bpf_object__collect_externs(): .kconfig variables and .ksyms symbols. */
  private collectExterns(): void {
    const btf = this.btf;
    for (const sym of this.elf.symbols) {
      if (!(sym.shndx === SHN_UNDEF && (sym.bind === STB_GLOBAL || sym.bind === STB_WEAK) && sym.type === STT_NOTYPE)) {
        continue;
      }
      if (!sym.name) continue;
      if (!btf) throw new LibbpfError(`failed to find BTF for extern '${sym.name}': -3`, "ESRCH");
      let id = -1;
      for (let i = 1; i < btf.typeCnt; i++) {
        const t = btf.types[i];
        if ((t.kind === BTF_KIND.VAR || t.kind === BTF_KIND.FUNC) && btf.name(t) === sym.name) {
          id = i;
          break;
        }
      }
      if (id < 0) throw new LibbpfError(`failed to find BTF for extern '${sym.name}': -2`, "ENOENT");
      const t = btf.types[id];
      const sec = btf.types.find((s) => s.kind === BTF_KIND.DATASEC && s.members.some((m) => m.type === id));
      if (!sec) throw new LibbpfError(`failed to find BTF for extern '${sym.name}' [${id}] section: -2`, "ENOENT");
      const secName = btf.name(sec);
      const isWeak = sym.bind === STB_WEAK;
      if (secName === ".kconfig") {
        if (t.kind === BTF_KIND.FUNC) {
          throw new LibbpfError(`extern function ${sym.name} is unsupported under .kconfig section`, "ENOTSUP");
        }
        const sz = btf.resolveSize(t.sizeOrType);
        const align = btf.alignOf(t.sizeOrType);
        const kind = kcfgKind(btf, t.sizeOrType);
        if (sz <= 0) throw new LibbpfError(`failed to resolve size of extern (kcfg) '${sym.name}': ${sz}`, "EINVAL");
        if (!kind) throw new LibbpfError(`extern (kcfg) '${sym.name}': type is unsupported`, "ENOTSUP");
        this.externs.push({
          name: sym.name,
          symIdx: sym.idx,
          type: "kcfg",
          isWeak,
          kcfg: { sz, align, dataOff: 0, ...kind },
        });
      } else if (secName === ".ksyms") {
        this.externs.push({
          name: sym.name,
          symIdx: sym.idx,
          type: "ksym",
          isWeak,
          kcfg: { sz: 0, align: 0, dataOff: 0, kind: "int", isSigned: false },
        });
      } else {
        throw new LibbpfError(`unrecognized extern section '${secName}'`, "ENOTSUP");
      }
    }
    // sort by type, kcfg by descending alignment, ascending size, then name
    this.externs.sort((a, b) => {
      if (a.type !== b.type) return a.type === "kcfg" ? -1 : 1;
      if (a.type === "kcfg") {
        if (a.kcfg.align !== b.kcfg.align) return b.kcfg.align - a.kcfg.align;
        if (a.kcfg.sz !== b.kcfg.sz) return a.kcfg.sz - b.kcfg.sz;
      }
      return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
    let off = 0;
    for (const e of this.externs) {
      if (e.type !== "kcfg") continue;
      e.kcfg.dataOff = Math.ceil(off / e.kcfg.align) * e.kcfg.align;
      off = e.kcfg.dataOff + e.kcfg.sz;
    }
    if (btf) {
      const sec = btf.types.find((s) => s.kind === BTF_KIND.DATASEC && btf.name(s) === ".kconfig");
      if (sec) {
        sec.sizeOrType = off;
        for (const vs of sec.members) {
          const v = btf.type(vs.type)!;
          const e = this.externs.find((x) => x.name === btf.name(v));
          if (!e) throw new LibbpfError(`failed to find extern definition for BTF var '${btf.name(v)}'`, "ENOENT");
          v.linkage = BTF_VAR_GLOBAL_ALLOCATED;
          vs.offset = e.kcfg.dataOff;
        }
      }
    }
  }

  // ------------------------------------------------------------------ maps

  /** bpf_object__init_maps(): user maps, global data maps, the .kconfig map. */
  private initMaps(opts: OpenOpts): void {
    const strict = !opts.relaxedMaps;
    const pinRoot = opts.pinRootPath ?? BPF_FS_DEFAULT_PATH;
    if (this.legacyMapsShndx >= 0) this.initLegacyMaps(strict, pinRoot);
    if (this.btfMapsShndx >= 0) this.initBtfMaps(strict, pinRoot);
    for (const sh of this.elf.sections) {
      const kind = this.dataSecs.get(sh.idx);
      if (!kind || sh.size === 0) continue;
      this.maps.push(internalMap(this.name, kind, sh.name, sh.idx, kind === "bss" ? null : sh.data, sh.size, this.btf));
    }
    const kcfg = this.externs.filter((e) => e.type === "kcfg");
    if (kcfg.length) {
      const last = kcfg.reduce((a, b) => (b.kcfg.dataOff > a.kcfg.dataOff ? b : a));
      const m = internalMap(
        this.name,
        "kconfig",
        ".kconfig",
        this.elf.symtabIdx,
        null,
        last.kcfg.dataOff + last.kcfg.sz,
        this.btf,
      );
      this.maps.push(m);
      this.kconfigMapIdx = this.maps.length - 1;
    }
  }

  /** bpf_object__init_user_btf_maps() */
  private initBtfMaps(strict: boolean, pinRoot: string): void {
    const btf = this.btf!;
    const data = this.elf.sections[this.btfMapsShndx].data;
    const sec = btf.types.find((t) => t.kind === BTF_KIND.DATASEC && btf.name(t) === ".maps");
    if (!sec) throw new LibbpfError("DATASEC '.maps' not found.", "ENOENT");
    sec.members.forEach((vi, i) => {
      const v = btf.type(vi.type)!;
      const name = btf.name(v);
      if (!name) throw new LibbpfError(`map #${i}: empty name.`, "EINVAL");
      if (vi.offset + vi.size > data.length) throw new LibbpfError(`map '${name}' BTF data is corrupted.`, "EINVAL");
      checkMapVar(btf, name, v);
      const def = btf.skipModsAndTypedefs(v.sizeOrType);
      if (def.kind !== BTF_KIND.STRUCT) {
        throw new LibbpfError(`map '${name}': unexpected def kind ${btf.kindStr(v)}.`, "EINVAL");
      }
      if (def.sizeOrType > vi.size) throw new LibbpfError(`map '${name}': invalid def size.`, "EINVAL");
      const parsed = parseBtfMapDef(name, btf, def, strict);
      const m: ObjMap = {
        name,
        realName: name,
        libbpfType: "user",
        secIdx: this.btfMapsShndx,
        secOffset: vi.offset,
        def: parsed.def,
        initData: null,
        pinPath: parsed.def.pinning === LIBBPF_PIN_BY_NAME ? `${pinRoot}/${name}` : null,
        inner: null,
        initSlots: [],
      };
      if (parsed.inner) {
        m.inner = {
          name: `${name}.inner`,
          realName: `${name}.inner`,
          libbpfType: "user",
          secIdx: this.btfMapsShndx,
          secOffset: 0,
          def: parsed.inner,
          initData: null,
          pinPath: null,
          inner: null,
          initSlots: [],
        };
      }
      this.maps.push(m);
    });
  }

  /** bpf_object__init_user_maps() of libbpf < 1.0: struct bpf_map_def records in "maps". */
  private initLegacyMaps(strict: boolean, pinRoot: string): void {
    const sec = this.elf.sections[this.legacyMapsShndx];
    const syms = this.elf.symbols.filter((s) => s.shndx === sec.idx && s.type !== STT_SECTION);
    if (!syms.length) return;
    const defSz = Math.floor(sec.size / syms.length);
    if (!defSz || defSz < 4 * 4) {
      throw new LibbpfError(`elf: unable to determine legacy map definition size in ${this.path}`, "EINVAL");
    }
    for (const s of syms.sort((a, b) => a.value - b.value)) {
      const def = legacyMapDef(sec.data, s.value, defSz, s.name, strict);
      void LEGACY_MAP_DEF_SIZE;
      this.maps.push({
        name: s.name,
        realName: s.name,
        libbpfType: "legacy",
        secIdx: sec.idx,
        secOffset: s.value,
        def,
        initData: null,
        pinPath: def.pinning === LIBBPF_PIN_BY_NAME ? `${pinRoot}/${s.name}` : null,
        inner: null,
        initSlots: [],
      });
    }
  }

  /** The map index of an internal map by its libbpf kind and section. */
  private dataMapIdx(secIdx: number): number {
    return this.maps.findIndex((m) => m.libbpfType !== "user" && m.libbpfType !== "legacy" && m.secIdx === secIdx);
  }

  // ----------------------------------------------------------- relocations

  /** bpf_object__collect_relos(): program relocations and .maps initial slots. */
  private collectRelos(rs: ElfSection): void {
    const target = this.elf.sections[rs.info];
    if (target.idx === this.btfMapsShndx) {
      this.collectMapRelos(rs);
      return;
    }
    for (const rel of this.elf.rels(rs)) {
      const sym = this.elf.symbols[rel.sym];
      if (!sym) {
        throw new LibbpfError(`sec '${rs.name}': symbol #${rel.sym} not found for relo`, "LIBBPF_ERRNO__FORMAT");
      }
      if (rel.offset % BPF_INSN_SZ || rel.offset >= target.size) {
        throw new LibbpfError(
          `sec '${rs.name}': invalid offset 0x${rel.offset.toString(16)} for relo`,
          "LIBBPF_ERRNO__FORMAT",
        );
      }
      let insnIdx = rel.offset / BPF_INSN_SZ;
      const symName = sym.type === STT_SECTION && sym.nameOff === 0
        ? (this.elf.sections[sym.shndx]?.name ?? "<?")
        : sym.name;
      const prog = this.progBySecInsn(target.idx, insnIdx);
      if (!prog) continue; // an overridden weak function
      insnIdx -= prog.secInsnOff;
      prog.relos.push(this.recordReloc(prog, insnIdx, symName, sym, rel.sym));
    }
    for (const p of this.programs) p.relos.sort((a, b) => a.insnIdx - b.insnIdx);
  }

  /** bpf_program__record_reloc() */
  private recordReloc(prog: ObjProgram, insnIdx: number, symName: string, sym: ElfSymbol, symIdx: number): Relo {
    const insn = prog.insns[insnIdx];
    const isCall = insn.code === (BPF_JMP | BPF_CALL);
    const isLd = insn.code === LD_IMM64;
    const r: Relo = { type: "ld64", insnIdx, mapIdx: -1, symOff: 0, extIdx: -1 };
    if (!isCall && !isLd) {
      throw new LibbpfError(
        `prog '${prog.name}': invalid relo against '${symName}' for insns[${insnIdx}].code 0x${insn.code.toString(16)}`,
        "LIBBPF_ERRNO__RELOC",
      );
    }
    if (sym.shndx === SHN_UNDEF && (sym.bind === STB_GLOBAL || sym.bind === STB_WEAK) && sym.type === STT_NOTYPE) {
      const i = this.externs.findIndex((e) => e.symIdx === symIdx);
      if (i < 0) {
        throw new LibbpfError(
          `prog '${prog.name}': extern relo failed to find extern for '${symName}' (${symIdx})`,
          "LIBBPF_ERRNO__RELOC",
        );
      }
      r.type = isCall ? "extern_call" : "extern_ld64";
      r.extIdx = i;
      return r;
    }
    if (isCall) {
      if (insn.src !== BPF_PSEUDO_CALL) {
        throw new LibbpfError(`prog '${prog.name}': incorrect bpf_call opcode`, "LIBBPF_ERRNO__RELOC");
      }
      if (!sym.shndx || sym.shndx !== this.textShndx) {
        throw new LibbpfError(
          `prog '${prog.name}': bad call relo against '${symName}' in section '${this.elf.sections[sym.shndx]?.name}'`,
          "LIBBPF_ERRNO__RELOC",
        );
      }
      if (sym.value % BPF_INSN_SZ) {
        throw new LibbpfError(
          `prog '${prog.name}': bad call relo against '${symName}' at offset ${sym.value}`,
          "LIBBPF_ERRNO__RELOC",
        );
      }
      r.type = "call";
      r.symOff = sym.value;
      return r;
    }
    if (!sym.shndx || sym.shndx >= SHN_LORESERVE) {
      throw new LibbpfError(
        `prog '${prog.name}': invalid relo against '${symName}' in special section 0x${
          sym.shndx.toString(16)
        }; forgot to initialize global var?..`,
        "LIBBPF_ERRNO__RELOC",
      );
    }
    // subprogram address (callbacks: bpf_loop, timers)
    if (
      sym.shndx === this.textShndx &&
      ((sym.bind === STB_LOCAL && sym.type === STT_SECTION) || (sym.bind === STB_GLOBAL && sym.type === STT_FUNC))
    ) {
      if (sym.value % BPF_INSN_SZ || insn.imm % BPF_INSN_SZ) {
        throw new LibbpfError(
          `prog '${prog.name}': bad subprog addr relo against '${symName}' at offset ${sym.value}+${insn.imm}`,
          "LIBBPF_ERRNO__RELOC",
        );
      }
      r.type = "subprog_addr";
      r.symOff = sym.value;
      // a function's address is a BPF_PSEUDO_FUNC load for the kernel (clang emits a plain ld_imm64)
      insn.src = BPF_PSEUDO_FUNC;
      return r;
    }
    const secName = this.elf.sections[sym.shndx]?.name ?? "<?>";
    const dataKind = this.dataSecs.get(sym.shndx);
    if (!dataKind) {
      if (sym.shndx !== this.btfMapsShndx && sym.shndx !== this.legacyMapsShndx) {
        throw new LibbpfError(
          `prog '${prog.name}': bad map relo against '${symName}' in section '${secName}'`,
          "LIBBPF_ERRNO__RELOC",
        );
      }
      const mi = this.maps.findIndex((m) =>
        (m.libbpfType === "user" || m.libbpfType === "legacy") && m.secIdx === sym.shndx && m.secOffset === sym.value
      );
      if (mi < 0) {
        throw new LibbpfError(
          `prog '${prog.name}': map relo failed to find map for section '${secName}', off ${sym.value}`,
          "LIBBPF_ERRNO__RELOC",
        );
      }
      r.type = "ld64";
      r.mapIdx = mi;
      return r;
    }
    const mi = this.dataMapIdx(sym.shndx);
    if (mi < 0) {
      throw new LibbpfError(
        `prog '${prog.name}': data relo failed to find map for section '${secName}'`,
        "LIBBPF_ERRNO__RELOC",
      );
    }
    r.type = "data";
    r.mapIdx = mi;
    r.symOff = sym.value;
    return r;
  }

  /** bpf_object__collect_map_relos(): `.values = { [i] = &inner_or_prog }` of map-in-map and prog_array definitions. */
  private collectMapRelos(rs: ElfSection): void {
    const btf = this.btf!;
    for (const rel of this.elf.rels(rs)) {
      const sym = this.elf.symbols[rel.sym];
      if (!sym) throw new LibbpfError(`.maps relo: symbol #${rel.sym} not found`, "LIBBPF_ERRNO__FORMAT");
      const map = this.maps.find((m) =>
        m.libbpfType === "user" && rel.offset >= m.secOffset && rel.offset < m.secOffset + this.mapDefSize(m)
      );
      if (!map) {
        throw new LibbpfError(
          `.maps relo #${rel.sym}: cannot find map '${sym.name}' at rel->r_offset ${rel.offset}`,
          "EINVAL",
        );
      }
      const isProgArray = map.def.type === BPF_MAP_TYPE_PROG_ARRAY;
      let target: string;
      if (isProgArray) {
        const p = this.programs.find((x) => x.name === sym.name && !x.isSubprog);
        if (!p) throw new LibbpfError(`map '${map.name}': can't find prog '${sym.name}' for slot`, "EINVAL");
        target = p.name;
      } else {
        if (!isMapInMap(map.def.type)) {
          throw new LibbpfError(`map '${map.name}': slot relocations need a map-in-map`, "EINVAL");
        }
        const t = this.maps.find((m) => m.libbpfType === "user" && m.name === sym.name);
        if (!t) throw new LibbpfError(`.maps relo: cannot find inner map '${sym.name}'`, "EINVAL");
        target = t.name;
      }
      // the slot index follows from the offset within the `values` array (the last member)
      const defT = btf.skipModsAndTypedefs(btf.type(this.mapVarType(map))!.sizeOrType);
      const last = defT.members[defT.members.length - 1];
      const valuesOff = last.offset / 8;
      const idx = (rel.offset - map.secOffset - valuesOff) / 8;
      if (!Number.isInteger(idx) || idx < 0) {
        throw new LibbpfError(`map '${map.name}': invalid slot relocation`, "EINVAL");
      }
      while (map.initSlots.length <= idx) map.initSlots.push(null);
      map.initSlots[idx] = target;
    }
  }

  /** The BTF VAR of a .maps definition. */
  private mapVarType(map: ObjMap): number {
    const btf = this.btf!;
    const sec = btf.types.find((t) => t.kind === BTF_KIND.DATASEC && btf.name(t) === ".maps")!;
    return sec.members.find((m) => m.offset === map.secOffset)!.type;
  }

  /** Bytes of a .maps definition (its DATASEC entry). */
  private mapDefSize(map: ObjMap): number {
    const btf = this.btf!;
    const sec = btf.types.find((t) => t.kind === BTF_KIND.DATASEC && btf.name(t) === ".maps")!;
    return sec.members.find((m) => m.offset === map.secOffset)?.size ?? 0;
  }

  /** The map index called `name`, or -1. */
  findMap(name: string): number {
    return this.maps.findIndex((m) => m.name === name);
  }
}

/** ignore_elf_section() */
function ignoreElfSection(sh: ElfSection): boolean {
  if (sh.type === SHT_STRTAB || sh.type === SHT_LLVM_ADDRSIG) return true;
  if (sh.type === SHT_PROGBITS && sh.size === 0 && sh.name === ".text") return true;
  if (sh.name.startsWith(".debug_")) return true;
  if (sh.name.startsWith(".rel")) {
    const n = sh.name.slice(4);
    if (n.startsWith(".debug_") || n === ".BTF" || n === ".BTF.ext") return true;
  }
  return false;
}

/** find_kcfg_type() */
function kcfgKind(btf: Btf, id: number): { kind: ObjExtern["kcfg"]["kind"]; isSigned: boolean } | null {
  const t = btf.skipModsAndTypedefs(id);
  switch (t.kind) {
    case BTF_KIND.INT: {
      const enc = (t.intInfo >>> 24) & 0xf;
      if (enc & 4) return t.sizeOrType === 1 ? { kind: "bool", isSigned: false } : null;
      const isSigned = (enc & 1) !== 0;
      if (t.sizeOrType === 1) return { kind: "char", isSigned };
      if (t.sizeOrType < 1 || t.sizeOrType > 8 || (t.sizeOrType & (t.sizeOrType - 1))) return null;
      return { kind: "int", isSigned };
    }
    case BTF_KIND.ENUM:
      return t.sizeOrType === 4 && btf.name(t) === "libbpf_tristate" ? { kind: "tristate", isSigned: false } : null;
    case BTF_KIND.ARRAY:
      if (!t.array!.nelems) return null;
      return kcfgKind(btf, t.array!.type)?.kind === "char" ? { kind: "char_arr", isSigned: false } : null;
    default:
      return null;
  }
}

/** insn_is_pseudo_func() */
export function isPseudoFunc(x: BpfInsn): boolean {
  return x.code === LD_IMM64 && x.src === BPF_PSEUDO_FUNC;
}

/** insn_is_subprog_call() */
export function isSubprogCall(x: BpfInsn): boolean {
  return x.code === (BPF_JMP | BPF_CALL) && x.src === BPF_PSEUDO_CALL && x.dst === 0 && x.off === 0;
}
