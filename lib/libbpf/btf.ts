// BPF Type Format (include/uapi/linux/btf.h, tools/lib/bpf/btf.c): the
// .BTF section's header, type records and string table, and the queries
// libbpf and bpftool make of it (btf__type_by_id, btf__resolve_size,
// btf__align_of, skip_mods_and_typedefs, btf__find_by_name_kind). Types
// are kept decoded and mutable, as libbpf fixes DATASEC sizes and VAR
// offsets up after opening an object.

import { LibbpfError } from "./errors.ts";
import { cstr } from "./elf.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";

/** BTF_MAGIC */
export const BTF_MAGIC = 0xeb9f;

/** BTF kinds (BTF_KIND_*). */
export const BTF_KIND = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

/** BTF_INT_SIGNED */
export const BTF_INT_SIGNED = 1;
/** BTF_INT_CHAR */
export const BTF_INT_CHAR = 2;
/** BTF_INT_BOOL */
export const BTF_INT_BOOL = 4;
/** BTF_VAR_STATIC */
export const BTF_VAR_STATIC = 0;
/** BTF_VAR_GLOBAL_ALLOCATED */
export const BTF_VAR_GLOBAL_ALLOCATED = 1;
/** BTF_VAR_GLOBAL_EXTERN */
export const BTF_VAR_GLOBAL_EXTERN = 2;
/** BTF_FUNC_STATIC */
export const BTF_FUNC_STATIC = 0;
/** BTF_FUNC_GLOBAL */
export const BTF_FUNC_GLOBAL = 1;
/** BTF_FUNC_EXTERN */
export const BTF_FUNC_EXTERN = 2;

/** A struct/union member, an enum value, a func_proto parameter or a datasec entry, by kind. */
export interface BtfMember {
  /** name_off */
  nameOff: number;
  /** The member's, parameter's or secinfo's type id (enum: unused). */
  type: number;
  /** Member bit offset (with kind_flag: bitfield size << 24 | offset); secinfo byte offset; enum value (low 32). */
  offset: number;
  /** secinfo size; enum64 value high 32 bits. */
  size: number;
}

/** One decoded struct btf_type and its trailing data. */
export interface BtfType {
  /** Type id (1-based; 0 is void). */
  readonly id: number;
  /** BTF_INFO_KIND(info) */
  readonly kind: number;
  /** BTF_INFO_KFLAG(info) */
  kflag: boolean;
  /** BTF_INFO_VLEN(info) */
  vlen: number;
  /** name_off */
  nameOff: number;
  /** size (INT, ENUM, STRUCT, UNION, DATASEC, FLOAT) or type (PTR, TYPEDEF, modifiers, FUNC, FUNC_PROTO ret, VAR) */
  sizeOrType: number;
  /** INT: the encoding word (encoding << 24 | offset << 16 | bits). */
  intInfo: number;
  /** ARRAY: element type, index type and number of elements. */
  array: { type: number; indexType: number; nelems: number } | null;
  /** VAR: linkage. DECL_TAG: component_idx. FUNC: linkage is vlen. */
  linkage: number;
  /** Members, params, enum values or secinfos. */
  members: BtfMember[];
}

/** A parsed BTF blob (.BTF of an object). */
export class Btf {
  /** types[id]; types[0] is void. */
  readonly types: BtfType[] = [];
  /** The raw string section. */
  readonly strings: Uint8Array;
  /** The raw bytes the BTF was parsed from. */
  readonly raw: Uint8Array;

  /** btf__new(): parses `data`; throws LibbpfError when it is not valid BTF. */
  constructor(data: Uint8Array) {
    // its own copy: a snapshot then keeps the BTF, not the whole object file
    data = data.slice();
    this.raw = data;
    if (data.length < 24) throw new LibbpfError("BTF header not found", "EINVAL");
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const magic = dv.getUint16(0, true);
    if (magic !== BTF_MAGIC) {
      throw new LibbpfError(
        magic === 0x9feb ? "BTF in non-native endianness is not supported" : `invalid BTF magic: ${magic.toString(16)}`,
        "EINVAL",
      );
    }
    const hdrLen = dv.getUint32(4, true);
    const typeOff = dv.getUint32(8, true), typeLen = dv.getUint32(12, true);
    const strOff = dv.getUint32(16, true), strLen = dv.getUint32(20, true);
    if (hdrLen + strOff + strLen > data.length || hdrLen + typeOff + typeLen > data.length) {
      throw new LibbpfError("BTF sections out of bounds", "EINVAL");
    }
    this.strings = data.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
    if (strLen === 0 || this.strings[0] !== 0 || this.strings[strLen - 1] !== 0) {
      throw new LibbpfError("Invalid BTF string section", "EINVAL");
    }
    this.types.push(voidType());
    let o = hdrLen + typeOff;
    const end = o + typeLen;
    const u32 = (x: number) => dv.getUint32(x, true);
    const i32 = (x: number) => dv.getInt32(x, true);
    while (o < end) {
      if (o + 12 > end) throw new LibbpfError("BTF type section is truncated", "EINVAL");
      const nameOff = u32(o), info = u32(o + 4), st = u32(o + 8);
      const kind = (info >>> 24) & 0x1f, vlen = info & 0xffff, kflag = (info >>> 31) === 1;
      o += 12;
      const t: BtfType = {
        id: this.types.length,
        kind,
        kflag,
        vlen,
        nameOff,
        sizeOrType: st,
        intInfo: 0,
        array: null,
        linkage: 0,
        members: [],
      };
      switch (kind) {
        case BTF_KIND.INT:
          t.intInfo = u32(o);
          o += 4;
          break;
        case BTF_KIND.ARRAY:
          t.array = { type: u32(o), indexType: u32(o + 4), nelems: u32(o + 8) };
          o += 12;
          break;
        case BTF_KIND.STRUCT:
        case BTF_KIND.UNION:
          for (let i = 0; i < vlen; i++, o += 12) {
            t.members.push({ nameOff: u32(o), type: u32(o + 4), offset: u32(o + 8), size: 0 });
          }
          break;
        case BTF_KIND.ENUM:
          for (let i = 0; i < vlen; i++, o += 8) {
            t.members.push({ nameOff: u32(o), type: 0, offset: i32(o + 4), size: 0 });
          }
          break;
        case BTF_KIND.ENUM64:
          for (let i = 0; i < vlen; i++, o += 12) {
            t.members.push({ nameOff: u32(o), type: 0, offset: u32(o + 4), size: u32(o + 8) });
          }
          break;
        case BTF_KIND.FUNC_PROTO:
          for (let i = 0; i < vlen; i++, o += 8) {
            t.members.push({ nameOff: u32(o), type: u32(o + 4), offset: 0, size: 0 });
          }
          break;
        case BTF_KIND.VAR:
          t.linkage = u32(o);
          o += 4;
          break;
        case BTF_KIND.DATASEC:
          for (let i = 0; i < vlen; i++, o += 12) {
            t.members.push({ nameOff: 0, type: u32(o), offset: u32(o + 4), size: u32(o + 8) });
          }
          break;
        case BTF_KIND.DECL_TAG:
          t.linkage = i32(o);
          o += 4;
          break;
        case BTF_KIND.PTR:
        case BTF_KIND.FWD:
        case BTF_KIND.TYPEDEF:
        case BTF_KIND.VOLATILE:
        case BTF_KIND.CONST:
        case BTF_KIND.RESTRICT:
        case BTF_KIND.FUNC:
        case BTF_KIND.FLOAT:
        case BTF_KIND.TYPE_TAG:
          break;
        default:
          throw new LibbpfError(`Unsupported BTF_KIND:${kind}`, "EINVAL");
      }
      this.types.push(t);
    }
  }

  /** btf__type_cnt() */
  get typeCnt(): number {
    return this.types.length;
  }

  /** btf__type_by_id(), or undefined. */
  type(id: number): BtfType | undefined {
    return this.types[id];
  }

  /** btf__name_by_offset() */
  str(off: number): string {
    return cstr(this.strings, off);
  }

  /** The type's name. */
  name(t: BtfType): string {
    return this.str(t.nameOff);
  }

  /** skip_mods_and_typedefs(): follows CONST/VOLATILE/RESTRICT/TYPE_TAG and TYPEDEF. */
  skipModsAndTypedefs(id: number): BtfType {
    let t = this.types[id];
    while (t && isModOrTypedef(t.kind)) t = this.types[t.sizeOrType];
    return t ?? this.types[0];
  }

  /** The id skip_mods_and_typedefs() ends at. */
  skipModsAndTypedefsId(id: number): number {
    let t = this.types[id];
    while (t && isModOrTypedef(t.kind)) {
      id = t.sizeOrType;
      t = this.types[id];
    }
    return id;
  }

  /** btf__resolve_size(): the type's size in bytes, or -errno. */
  resolveSize(id: number): number {
    let nelems = 1;
    for (let depth = 0; depth < 32; depth++) {
      const t = this.types[id];
      if (!t) return -22;
      switch (t.kind) {
        case BTF_KIND.INT:
        case BTF_KIND.STRUCT:
        case BTF_KIND.UNION:
        case BTF_KIND.ENUM:
        case BTF_KIND.ENUM64:
        case BTF_KIND.DATASEC:
        case BTF_KIND.FLOAT:
          return nelems * t.sizeOrType;
        case BTF_KIND.PTR:
          return nelems * 8;
        case BTF_KIND.TYPEDEF:
        case BTF_KIND.VOLATILE:
        case BTF_KIND.CONST:
        case BTF_KIND.RESTRICT:
        case BTF_KIND.VAR:
        case BTF_KIND.DECL_TAG:
        case BTF_KIND.TYPE_TAG:
          id = t.sizeOrType;
          break;
        case BTF_KIND.ARRAY:
          nelems *= t.array!.nelems;
          id = t.array!.type;
          break;
        default:
          return -22;
      }
    }
    return -22;
  }

  /** btf__align_of(): the type's alignment, or 0 when unknown. */
  alignOf(id: number): number {
    const t = this.types[id];
    if (!t) return 0;
    switch (t.kind) {
      case BTF_KIND.INT:
      case BTF_KIND.ENUM:
      case BTF_KIND.ENUM64:
      case BTF_KIND.FLOAT:
        return Math.min(8, t.sizeOrType);
      case BTF_KIND.PTR:
        return 8;
      case BTF_KIND.TYPEDEF:
      case BTF_KIND.VOLATILE:
      case BTF_KIND.CONST:
      case BTF_KIND.RESTRICT:
      case BTF_KIND.TYPE_TAG:
        return this.alignOf(t.sizeOrType);
      case BTF_KIND.ARRAY:
        return this.alignOf(t.array!.type);
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION: {
        let max = 1;
        for (const m of t.members) {
          const a = this.alignOf(m.type);
          if (a <= 0) return a;
          max = Math.max(max, a);
        }
        return max;
      }
      default:
        return 0;
    }
  }

  /** btf__find_by_name_kind(): the id of the first type named `name` of `kind` (-1: any kind), or -ENOENT. */
  findByName(name: string, kind = -1): number {
    if (name === "void" && (kind === -1 || kind === BTF_KIND.UNKN)) return 0;
    for (let i = 1; i < this.types.length; i++) {
      const t = this.types[i];
      if ((kind === -1 || t.kind === kind) && this.str(t.nameOff) === name) return i;
    }
    return -2;
  }

  /** The kind's name as libbpf's btf_kind_str() gives it. */
  kindStr(t: BtfType | undefined): string {
    return KIND_STR[t?.kind ?? 0] ?? "unknown";
  }
}

const KIND_STR = [
  "void",
  "int",
  "ptr",
  "array",
  "struct",
  "union",
  "enum",
  "fwd",
  "typedef",
  "volatile",
  "const",
  "restrict",
  "func",
  "func_proto",
  "var",
  "datasec",
  "float",
  "decl_tag",
  "type_tag",
  "enum64",
];

function isModOrTypedef(kind: number): boolean {
  return kind === BTF_KIND.TYPEDEF || kind === BTF_KIND.CONST || kind === BTF_KIND.VOLATILE ||
    kind === BTF_KIND.RESTRICT || kind === BTF_KIND.TYPE_TAG;
}

function voidType(): BtfType {
  return {
    id: 0,
    kind: 0,
    kflag: false,
    vlen: 0,
    nameOff: 0,
    sizeOrType: 0,
    intInfo: 0,
    array: null,
    linkage: 0,
    members: [],
  };
}

/** BTF_INT_ENCODING() */
export function btfIntEncoding(t: BtfType): number {
  return (t.intInfo >>> 24) & 0x0f;
}

/** BTF_INT_OFFSET() */
export function btfIntOffset(t: BtfType): number {
  return (t.intInfo >>> 16) & 0xff;
}

/** BTF_INT_BITS() */
export function btfIntBits(t: BtfType): number {
  return t.intInfo & 0xff;
}

/** BTF_MEMBER_BIT_OFFSET() of a member (kind_flag set: low 24 bits). */
export function memberBitOffset(t: BtfType, m: BtfMember): number {
  return t.kflag ? m.offset & 0xffffff : m.offset;
}

/** BTF_MEMBER_BITFIELD_SIZE() (0 when not a bitfield). */
export function memberBitfieldSize(t: BtfType, m: BtfMember): number {
  return t.kflag ? m.offset >>> 24 : 0;
}

snapshotClasses(Btf);
