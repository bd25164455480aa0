// The ELF64 little-endian reader libbpf gets from libelf (tools/lib/bpf/
// libbpf.c's elf_* helpers): section headers and names, the symbol table
// and its strings, and SHT_REL relocation entries. Only what a BPF object
// needs; anything malformed is a LibbpfError naming what is wrong.

import { LibbpfError } from "./errors.ts";

/** SHT_PROGBITS */
export const SHT_PROGBITS = 1;
/** SHT_SYMTAB */
export const SHT_SYMTAB = 2;
/** SHT_STRTAB */
export const SHT_STRTAB = 3;
/** SHT_NOBITS */
export const SHT_NOBITS = 8;
/** SHT_REL */
export const SHT_REL = 9;
/** SHT_LLVM_ADDRSIG */
export const SHT_LLVM_ADDRSIG = 0x6fff4c03;
/** SHF_WRITE */
export const SHF_WRITE = 0x1;
/** SHF_ALLOC */
export const SHF_ALLOC = 0x2;
/** SHF_EXECINSTR */
export const SHF_EXECINSTR = 0x4;
/** EM_BPF */
export const EM_BPF = 247;
/** STB_LOCAL */
export const STB_LOCAL = 0;
/** STB_GLOBAL */
export const STB_GLOBAL = 1;
/** STB_WEAK */
export const STB_WEAK = 2;
/** STT_NOTYPE */
export const STT_NOTYPE = 0;
/** STT_OBJECT */
export const STT_OBJECT = 1;
/** STT_FUNC */
export const STT_FUNC = 2;
/** STT_SECTION */
export const STT_SECTION = 3;
/** SHN_UNDEF */
export const SHN_UNDEF = 0;
/** SHN_LORESERVE */
export const SHN_LORESERVE = 0xff00;
/** SHN_COMMON */
export const SHN_COMMON = 0xfff2;
/** STV_HIDDEN */
export const STV_HIDDEN = 2;
/** STV_INTERNAL */
export const STV_INTERNAL = 1;
/** R_BPF_64_64: ld_imm64 against a symbol. */
export const R_BPF_64_64 = 1;
/** R_BPF_64_ABS64: data (e.g. .maps initial slots). */
export const R_BPF_64_ABS64 = 2;
/** R_BPF_64_ABS32 */
export const R_BPF_64_ABS32 = 3;
/** R_BPF_64_32: call against a function. */
export const R_BPF_64_32 = 10;

/** One section header (Elf64_Shdr) with its name and bytes. */
export interface ElfSection {
  /** Section index. */
  readonly idx: number;
  /** Name from .shstrtab. */
  readonly name: string;
  /** sh_type */
  readonly type: number;
  /** sh_flags */
  readonly flags: number;
  /** sh_size */
  readonly size: number;
  /** sh_link */
  readonly link: number;
  /** sh_info */
  readonly info: number;
  /** sh_entsize */
  readonly entsize: number;
  /** sh_addralign */
  readonly align: number;
  /** The section's bytes (zeros of `size` for SHT_NOBITS). */
  readonly data: Uint8Array;
}

/** One Elf64_Sym. */
export interface ElfSymbol {
  /** Index in .symtab. */
  readonly idx: number;
  /** st_name resolved in the symbol string table ("" when 0). */
  readonly name: string;
  /** st_name as an offset. */
  readonly nameOff: number;
  /** ELF64_ST_BIND(st_info) */
  readonly bind: number;
  /** ELF64_ST_TYPE(st_info) */
  readonly type: number;
  /** ELF64_ST_VISIBILITY(st_other) */
  readonly visibility: number;
  /** st_shndx */
  readonly shndx: number;
  /** st_value (an offset within the section for relocatable objects) */
  readonly value: number;
  /** st_size */
  readonly size: number;
}

/** One Elf64_Rel entry. */
export interface ElfRel {
  /** r_offset: byte offset in the target section. */
  readonly offset: number;
  /** ELF64_R_SYM(r_info) */
  readonly sym: number;
  /** ELF64_R_TYPE(r_info) */
  readonly type: number;
}

/** A parsed relocatable ELF64 object. */
export class ElfFile {
  /** Sections by index (0 is the null section). */
  readonly sections: ElfSection[] = [];
  /** The symbol table (empty when the object has none). */
  readonly symbols: ElfSymbol[] = [];
  /** Index of .symtab (0 when none). */
  readonly symtabIdx: number = 0;
  /** e_machine */
  readonly machine: number;

  /** Parses `bytes`; throws LibbpfError for anything that is not a little-endian ELF64 object. */
  constructor(readonly bytes: Uint8Array, readonly path: string) {
    const b = bytes;
    if (b.length < 64 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) {
      throw new LibbpfError(`elf: failed to open ${path}: not an ELF file`, "LIBBPF_ERRNO__FORMAT");
    }
    if (b[4] !== 2) throw new LibbpfError(`elf: ${path} is not a 64-bit ELF object`, "LIBBPF_ERRNO__FORMAT");
    if (b[5] !== 1) {
      throw new LibbpfError(`elf: endianness mismatch in ${path}.`, "LIBBPF_ERRNO__ENDIAN");
    }
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const u16 = (o: number) => dv.getUint16(o, true);
    const u32 = (o: number) => dv.getUint32(o, true);
    const u64 = (o: number) => {
      const lo = dv.getUint32(o, true), hi = dv.getUint32(o + 4, true);
      if (hi >= 0x200000) throw new LibbpfError(`elf: value out of range in ${path}`, "LIBBPF_ERRNO__FORMAT");
      return hi * 4294967296 + lo;
    };
    const etype = u16(16);
    this.machine = u16(18);
    if (etype !== 1) throw new LibbpfError(`elf: ${path} is not a relocatable object`, "LIBBPF_ERRNO__FORMAT");
    if (this.machine !== EM_BPF && this.machine !== 0) {
      throw new LibbpfError(`elf: ${path} is not a BPF object (e_machine ${this.machine})`, "LIBBPF_ERRNO__FORMAT");
    }
    const shoff = u64(40);
    const shentsize = u16(58);
    let shnum = u16(60);
    let shstrndx = u16(62);
    if (shoff === 0 || shentsize !== 64 || shoff + 64 > b.length) {
      throw new LibbpfError(`elf: failed to get section headers from ${path}`, "LIBBPF_ERRNO__FORMAT");
    }
    // extended numbering: the real counts live in section 0
    if (shnum === 0) shnum = u64(shoff + 32);
    if (shstrndx === 0xffff) shstrndx = u32(shoff + 40);
    if (shoff + shnum * 64 > b.length) {
      throw new LibbpfError(`elf: section headers of ${path} are truncated`, "LIBBPF_ERRNO__FORMAT");
    }
    const raw: {
      nameOff: number;
      type: number;
      flags: number;
      off: number;
      size: number;
      link: number;
      info: number;
      align: number;
      entsize: number;
    }[] = [];
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * 64;
      raw.push({
        nameOff: u32(o),
        type: u32(o + 4),
        flags: u64(o + 8),
        off: u64(o + 24),
        size: u64(o + 32),
        link: u32(o + 40),
        info: u32(o + 44),
        align: u64(o + 48),
        entsize: u64(o + 56),
      });
    }
    const dataOf = (r: typeof raw[number]): Uint8Array => {
      if (r.type === SHT_NOBITS) return new Uint8Array(r.size);
      if (r.off + r.size > b.length) {
        throw new LibbpfError(`elf: section data of ${path} is truncated`, "LIBBPF_ERRNO__FORMAT");
      }
      return b.subarray(r.off, r.off + r.size);
    };
    if (shstrndx >= shnum) throw new LibbpfError(`elf: failed to get section names of ${path}`, "LIBBPF_ERRNO__FORMAT");
    const shstr = dataOf(raw[shstrndx]);
    for (let i = 0; i < shnum; i++) {
      const r = raw[i];
      this.sections.push({
        idx: i,
        name: i === 0 ? "" : cstr(shstr, r.nameOff),
        type: r.type,
        flags: r.flags,
        size: r.size,
        link: r.link,
        info: r.info,
        entsize: r.entsize,
        align: r.align,
        data: i === 0 ? new Uint8Array(0) : dataOf(r),
      });
    }
    let symtab = 0;
    for (const s of this.sections) {
      if (s.type !== SHT_SYMTAB) continue;
      if (symtab) throw new LibbpfError(`elf: multiple symbol tables in ${path}`, "LIBBPF_ERRNO__FORMAT");
      symtab = s.idx;
    }
    this.symtabIdx = symtab;
    if (symtab) {
      const st = this.sections[symtab];
      if (st.entsize !== 24) throw new LibbpfError(`elf: bad symbol table in ${path}`, "LIBBPF_ERRNO__FORMAT");
      const strs = this.sections[st.link]?.data;
      if (!strs || st.link === 0) {
        throw new LibbpfError(`elf: symbol strings section missing or invalid in ${path}`, "LIBBPF_ERRNO__FORMAT");
      }
      const sdv = new DataView(st.data.buffer, st.data.byteOffset, st.data.byteLength);
      for (let i = 0; i * 24 + 24 <= st.data.length; i++) {
        const o = i * 24;
        const nameOff = sdv.getUint32(o, true);
        const info = st.data[o + 4];
        const lo = sdv.getUint32(o + 8, true), hi = sdv.getUint32(o + 12, true);
        this.symbols.push({
          idx: i,
          nameOff,
          name: cstr(strs, nameOff),
          bind: info >> 4,
          type: info & 0xf,
          visibility: st.data[o + 5] & 0x3,
          shndx: sdv.getUint16(o + 6, true),
          value: hi * 4294967296 + lo,
          size: sdv.getUint32(o + 16, true),
        });
      }
    }
  }

  /** The section called `name`, or undefined. */
  sectionByName(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.idx !== 0 && s.name === name);
  }

  /** The entries of a SHT_REL section. */
  rels(sec: ElfSection): ElfRel[] {
    if (sec.entsize !== 16) {
      throw new LibbpfError(`elf: bad relocation section ${sec.name} in ${this.path}`, "LIBBPF_ERRNO__FORMAT");
    }
    const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
    const out: ElfRel[] = [];
    for (let o = 0; o + 16 <= sec.data.length; o += 16) {
      const lo = dv.getUint32(o, true), hi = dv.getUint32(o + 4, true);
      out.push({ offset: hi * 4294967296 + lo, type: dv.getUint32(o + 8, true), sym: dv.getUint32(o + 12, true) });
    }
    return out;
  }
}

/** The NUL-terminated string at `off` of a string table ("" when out of range). */
export function cstr(tab: Uint8Array, off: number): string {
  if (off >= tab.length) return "";
  let end = off;
  while (end < tab.length && tab[end] !== 0) end++;
  return new TextDecoder().decode(tab.subarray(off, end));
}
