// Map definitions in a BPF object (tools/lib/bpf/libbpf.c): BTF-defined
// maps in ".maps" (parse_btf_map_def(): every attribute is encoded in the
// BTF of a struct member, `int (*type)[BPF_MAP_TYPE_HASH]`, `typeof(key)
// *key`, `__array(values, struct inner)`), the legacy "maps" section of
// struct bpf_map_def records (libbpf < 1.0), and the internal maps libbpf
// creates for global data (internal_map_name(), map_is_mmapable()).

import { EINVAL } from "../kernel/errno.ts";
import { Btf, BTF_KIND, BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_STATIC, type BtfMember, type BtfType } from "./btf.ts";
import { LibbpfError } from "./errors.ts";
import {
  BPF_F_MMAPABLE,
  BPF_F_RDONLY_PROG,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_PROG_ARRAY,
  BPF_MAP_TYPE_RINGBUF,
  BPF_MAP_TYPE_USER_RINGBUF,
  BPF_OBJ_NAME_LEN,
} from "../bpf/uapi.ts";

/** LIBBPF_PIN_NONE */
export const LIBBPF_PIN_NONE = 0;
/** LIBBPF_PIN_BY_NAME: pinned at <pin root>/<map name> (/sys/fs/bpf by default). */
export const LIBBPF_PIN_BY_NAME = 1;
/** BPF_FS_DEFAULT_PATH */
export const BPF_FS_DEFAULT_PATH = "/sys/fs/bpf";

/** enum libbpf_map_type, plus "legacy" for the old maps section. */
export type LibbpfMapType = "user" | "data" | "bss" | "rodata" | "kconfig" | "legacy";

/** struct bpf_map_def plus the BTF-defined extras (struct btf_map_def). */
export interface MapDef {
  /** map_type */
  type: number;
  /** key_size */
  keySize: number;
  /** value_size */
  valueSize: number;
  /** max_entries */
  maxEntries: number;
  /** map_flags */
  mapFlags: number;
  /** numa_node */
  numaNode: number;
  /** map_extra */
  mapExtra: number;
  /** LIBBPF_PIN_* */
  pinning: number;
  /** BTF id of the key type (0: none) */
  keyTypeId: number;
  /** BTF id of the value type (0: none) */
  valueTypeId: number;
}

/** One map of an object, as bpf_object__open() finds it. */
export interface ObjMap {
  /** The map's name (internal maps: "<obj prefix>.data" ...). */
  name: string;
  /** Internal maps: the ELF section name (".data", ".rodata.str1.1", ".kconfig"). */
  realName: string;
  /** What kind of map libbpf made of it. */
  libbpfType: LibbpfMapType;
  /** ELF section the definition (or the data) lives in. */
  secIdx: number;
  /** Offset of the definition in that section (the symbol's st_value). */
  secOffset: number;
  /** The definition. */
  def: MapDef;
  /** Initial value of an internal map (value_size bytes). */
  initData: Uint8Array | null;
  /** pin_path when pinning is LIBBPF_PIN_BY_NAME (or set by the loader). */
  pinPath: string | null;
  /** The inner map template of a map-in-map. */
  inner: ObjMap | null;
  /** Initial slots of a map-in-map or prog_array (`.values = { [i] = &x }`): map or program names by index. */
  initSlots: (string | null)[];
}

/** A zeroed definition. */
export function emptyDef(): MapDef {
  return {
    type: 0,
    keySize: 0,
    valueSize: 0,
    maxEntries: 0,
    mapFlags: 0,
    numaNode: 0,
    mapExtra: 0,
    pinning: 0,
    keyTypeId: 0,
    valueTypeId: 0,
  };
}

/** bpf_map_type__is_map_in_map() */
export function isMapInMap(type: number): boolean {
  return type === BPF_MAP_TYPE_ARRAY_OF_MAPS || type === BPF_MAP_TYPE_HASH_OF_MAPS;
}

/** get_map_field_int(): the dimension of the array an attribute pointer points to. */
function fieldInt(btf: Btf, mapName: string, m: BtfMember): number {
  const t = btf.skipModsAndTypedefs(m.type);
  const name = btf.str(m.nameOff);
  if (t.kind !== BTF_KIND.PTR) {
    throw new LibbpfError(`map '${mapName}': attr '${name}': expected PTR, got ${btf.kindStr(t)}.`, "EINVAL");
  }
  const arr = btf.type(t.sizeOrType);
  if (!arr) throw new LibbpfError(`map '${mapName}': attr '${name}': type [${t.sizeOrType}] not found.`, "EINVAL");
  if (arr.kind !== BTF_KIND.ARRAY) {
    throw new LibbpfError(`map '${mapName}': attr '${name}': expected ARRAY, got ${btf.kindStr(arr)}.`, "EINVAL");
  }
  return arr.array!.nelems;
}

/** get_map_field_long(): a pointer-to-array attribute or a one-value enum (__ulong). */
function fieldLong(btf: Btf, mapName: string, m: BtfMember): number {
  const t = btf.skipModsAndTypedefs(m.type);
  if (t.kind === BTF_KIND.PTR) return fieldInt(btf, mapName, m);
  const name = btf.str(m.nameOff);
  if (t.kind !== BTF_KIND.ENUM && t.kind !== BTF_KIND.ENUM64) {
    throw new LibbpfError(
      `map '${mapName}': attr '${name}': expected ENUM or ENUM64, got ${btf.kindStr(t)}.`,
      "EINVAL",
    );
  }
  if (t.vlen !== 1) throw new LibbpfError(`map '${mapName}': attr '${name}': invalid __ulong`, "EINVAL");
  const e = t.members[0];
  return t.kind === BTF_KIND.ENUM ? e.offset : e.size * 4294967296 + (e.offset >>> 0);
}

/** Result of parse_btf_map_def(): the definition and, for map-in-map, the inner one. */
export interface ParsedDef {
  /** The map's definition. */
  def: MapDef;
  /** The inner map's definition (`__array(values, struct inner)`), or null. */
  inner: MapDef | null;
  /** prog_array `values`: a func proto was given (slots may name programs). */
  progArrayValues: boolean;
}

/** parse_btf_map_def(): reads a map definition struct; `isInner` for the `values` template. */
export function parseBtfMapDef(mapName: string, btf: Btf, defT: BtfType, strict: boolean, isInner = false): ParsedDef {
  const d = emptyDef();
  let inner: MapDef | null = null;
  let progArrayValues = false;
  const vlen = defT.members.length;
  for (let i = 0; i < vlen; i++) {
    const m = defT.members[i];
    const name = btf.str(m.nameOff);
    if (!name) throw new LibbpfError(`map '${mapName}': invalid field #${i}.`, "EINVAL");
    switch (name) {
      case "type":
        d.type = fieldInt(btf, mapName, m);
        break;
      case "max_entries":
        d.maxEntries = fieldInt(btf, mapName, m);
        break;
      case "map_flags":
        d.mapFlags = fieldInt(btf, mapName, m);
        break;
      case "numa_node":
        d.numaNode = fieldInt(btf, mapName, m);
        break;
      case "key_size":
      case "value_size": {
        const sz = fieldInt(btf, mapName, m);
        const what = name === "key_size" ? "key" : "value";
        const cur = what === "key" ? d.keySize : d.valueSize;
        if (cur && cur !== sz) {
          throw new LibbpfError(`map '${mapName}': conflicting ${what} size ${cur} != ${sz}.`, "EINVAL");
        }
        if (what === "key") d.keySize = sz;
        else d.valueSize = sz;
        break;
      }
      case "key":
      case "value": {
        const t = btf.type(m.type);
        if (!t) throw new LibbpfError(`map '${mapName}': ${name} type [${m.type}] not found.`, "EINVAL");
        if (t.kind !== BTF_KIND.PTR) {
          throw new LibbpfError(`map '${mapName}': ${name} spec is not PTR: ${btf.kindStr(t)}.`, "EINVAL");
        }
        const sz = btf.resolveSize(t.sizeOrType);
        if (sz < 0) {
          throw new LibbpfError(
            `map '${mapName}': can't determine ${name} size for type [${t.sizeOrType}]: ${sz}.`,
            -sz,
          );
        }
        const cur = name === "key" ? d.keySize : d.valueSize;
        if (cur && cur !== sz) {
          throw new LibbpfError(`map '${mapName}': conflicting ${name} size ${cur} != ${sz}.`, "EINVAL");
        }
        if (name === "key") {
          d.keySize = sz;
          d.keyTypeId = t.sizeOrType;
        } else {
          d.valueSize = sz;
          d.valueTypeId = t.sizeOrType;
        }
        break;
      }
      case "values": {
        const mim = isMapInMap(d.type);
        const pa = d.type === BPF_MAP_TYPE_PROG_ARRAY;
        const desc = mim ? "map-in-map inner" : "prog-array value";
        if (isInner) throw new LibbpfError(`map '${mapName}': multi-level inner maps not supported.`, "ENOTSUP");
        if (i !== vlen - 1) throw new LibbpfError(`map '${mapName}': '${name}' member should be last.`, "EINVAL");
        if (!mim && !pa) throw new LibbpfError(`map '${mapName}': should be map-in-map or prog-array.`, "ENOTSUP");
        if (d.valueSize && d.valueSize !== 4) {
          throw new LibbpfError(`map '${mapName}': conflicting value size ${d.valueSize} != 4.`, "EINVAL");
        }
        d.valueSize = 4;
        let t = btf.type(m.type);
        if (!t) throw new LibbpfError(`map '${mapName}': ${desc} type [${m.type}] not found.`, "EINVAL");
        if (t.kind !== BTF_KIND.ARRAY || t.array!.nelems) {
          throw new LibbpfError(`map '${mapName}': ${desc} spec is not a zero-sized array.`, "EINVAL");
        }
        t = btf.skipModsAndTypedefs(t.array!.type);
        if (t.kind !== BTF_KIND.PTR) {
          throw new LibbpfError(`map '${mapName}': ${desc} def is of unexpected kind ${btf.kindStr(t)}.`, "EINVAL");
        }
        t = btf.skipModsAndTypedefs(t.sizeOrType);
        if (pa) {
          if (t.kind !== BTF_KIND.FUNC_PROTO) {
            throw new LibbpfError(
              `map '${mapName}': prog-array value def is of unexpected kind ${btf.kindStr(t)}.`,
              "EINVAL",
            );
          }
          progArrayValues = true;
          break;
        }
        if (t.kind !== BTF_KIND.STRUCT) {
          throw new LibbpfError(
            `map '${mapName}': map-in-map inner def is of unexpected kind ${btf.kindStr(t)}.`,
            "EINVAL",
          );
        }
        inner = parseBtfMapDef(`${mapName}.inner`, btf, t, strict, true).def;
        break;
      }
      case "pinning": {
        if (isInner) throw new LibbpfError(`map '${mapName}': inner def can't be pinned.`, "EINVAL");
        const v = fieldInt(btf, mapName, m);
        if (v !== LIBBPF_PIN_NONE && v !== LIBBPF_PIN_BY_NAME) {
          throw new LibbpfError(`map '${mapName}': invalid pinning value ${v}.`, "EINVAL");
        }
        d.pinning = v;
        break;
      }
      case "map_extra":
        d.mapExtra = fieldLong(btf, mapName, m);
        break;
      default:
        if (strict) throw new LibbpfError(`map '${mapName}': unknown field '${name}'.`, "ENOTSUP");
    }
  }
  if (d.type === 0) throw new LibbpfError(`map '${mapName}': map type isn't specified.`, "EINVAL");
  if (d.type === BPF_MAP_TYPE_RINGBUF || d.type === BPF_MAP_TYPE_USER_RINGBUF) {
    d.maxEntries = adjustRingbufSz(d.maxEntries);
  }
  return { def: d, inner, progArrayValues };
}

/** adjust_ringbuf_sz(): rounds a ring buffer size up to a power-of-2 multiple of the page size. */
export function adjustRingbufSz(sz: number): number {
  const page = 4096;
  if (sz === 0) return 0;
  const pages = sz / page;
  if (sz % page === 0 && (pages & (pages - 1)) === 0) return sz;
  for (let mul = 1; mul <= Math.floor(0xffffffff / page); mul *= 2) if (mul * page > sz) return mul * page;
  return sz;
}

/** internal_map_name(): the kernel-visible name of an internal map of object `objName`. */
export function internalMapName(objName: string, realName: string): string {
  let sfxLen = Math.max(7, realName.length);
  if (sfxLen >= BPF_OBJ_NAME_LEN) sfxLen = BPF_OBJ_NAME_LEN - 1;
  // two or more dots: a custom .data.x/.rodata.x map, named as is
  const pfxLen = realName.indexOf(".", 1) >= 0 ? 0 : Math.min(BPF_OBJ_NAME_LEN - sfxLen - 1, objName.length);
  const name = objName.slice(0, pfxLen) + realName.slice(0, sfxLen);
  return name.replace(/[^A-Za-z0-9_.]/g, "_");
}

/** map_is_mmapable(): a DATASEC with at least one non-static VAR is exposed to user space. */
export function dataSecMmapable(btf: Btf | null, valueTypeId: number): boolean {
  if (!btf || !valueTypeId) return false;
  const t = btf.type(valueTypeId);
  if (!t || t.kind !== BTF_KIND.DATASEC) return false;
  for (const vsi of t.members) {
    const vt = btf.type(vsi.type);
    if (vt && vt.kind === BTF_KIND.VAR && vt.linkage !== BTF_VAR_STATIC) return true;
  }
  return false;
}

/** bpf_object__init_internal_map(): the array map libbpf makes of a global data section. */
export function internalMap(
  objName: string,
  type: LibbpfMapType,
  realName: string,
  secIdx: number,
  data: Uint8Array | null,
  size: number,
  btf: Btf | null,
): ObjMap {
  const d = emptyDef();
  d.type = BPF_MAP_TYPE_ARRAY;
  d.keySize = 4;
  d.valueSize = size;
  d.maxEntries = 1;
  d.mapFlags = type === "rodata" || type === "kconfig" ? BPF_F_RDONLY_PROG : 0;
  // map_fill_btf_type_info(): the DATASEC of the same name is the value type
  const id = btf ? btf.findByName(realName) : -1;
  if (id > 0) d.valueTypeId = id;
  if (dataSecMmapable(btf, d.valueTypeId)) d.mapFlags |= BPF_F_MMAPABLE;
  const init = new Uint8Array(size);
  if (data) init.set(data.subarray(0, size));
  return {
    name: internalMapName(objName, realName),
    realName,
    libbpfType: type,
    secIdx,
    secOffset: 0,
    def: d,
    initData: init,
    pinPath: null,
    inner: null,
    initSlots: [],
  };
}

/** The global-allocated VAR check of bpf_object__init_user_btf_map(). */
export function checkMapVar(btf: Btf, mapName: string, v: BtfType): void {
  if (v.kind !== BTF_KIND.VAR) {
    throw new LibbpfError(`map '${mapName}': unexpected var kind ${btf.kindStr(v)}.`, "EINVAL");
  }
  if (v.linkage !== BTF_VAR_GLOBAL_ALLOCATED) {
    const l = ["static", "global", "extern"][v.linkage] ?? "unknown";
    throw new LibbpfError(`map '${mapName}': unsupported map linkage ${l}.`, "EOPNOTSUPP");
  }
}

/** sizeof(struct bpf_map_def) of the legacy maps section. */
export const LEGACY_MAP_DEF_SIZE = 20;

/** A legacy struct bpf_map_def at `off` of the maps section (what libbpf 0.x read). */
export function legacyMapDef(data: Uint8Array, off: number, defSz: number, name: string, strict: boolean): MapDef {
  if (off + defSz > data.length) throw new LibbpfError(`maps section: corrupted map definition '${name}'`, EINVAL);
  const buf = new Uint8Array(LEGACY_MAP_DEF_SIZE);
  buf.set(data.subarray(off, off + Math.min(defSz, LEGACY_MAP_DEF_SIZE)));
  if (defSz > LEGACY_MAP_DEF_SIZE) {
    for (let i = LEGACY_MAP_DEF_SIZE; i < defSz; i++) {
      if (data[off + i] !== 0 && strict) {
        throw new LibbpfError(`maps section: "${name}" has unrecognized, non-zero options`, EINVAL);
      }
    }
  }
  const dv = new DataView(buf.buffer);
  const d = emptyDef();
  d.type = dv.getUint32(0, true);
  d.keySize = dv.getUint32(4, true);
  d.valueSize = dv.getUint32(8, true);
  d.maxEntries = dv.getUint32(12, true);
  d.mapFlags = dv.getUint32(16, true);
  return d;
}
