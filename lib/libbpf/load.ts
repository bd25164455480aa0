// bpf_object__load() (tools/lib/bpf/libbpf.c) through a process's bpf(2):
// feature-dependent sanitizing of the maps (bpf_object__sanitize_maps()),
// bpf_object__create_maps() (reuse of pinned maps, BPF_MAP_CREATE, the
// internal maps' initial value and freezing .rodata/.kconfig, map-in-map
// slots, auto-pinning by `pinning`), .kconfig externs, and for each entry
// program the relocated instructions with the maps' fds: what
// bpf_prog_load() receives. Program loading itself is the kernel side's
// (insn_prog.ts loadInsnProg(), wrapped by the run path that owns BpfProg).

import type { SysBpf } from "../bpf/syscall.ts";
import { BPF_F_MMAPABLE, BPF_MAP_TYPE_PERF_EVENT_ARRAY, mapTypeName } from "../bpf/uapi.ts";
import { BPF_CALL, BPF_JMP, type BpfInsn, LD_IMM64 } from "../bpf/uapi_insn.ts";
import { EEXIST, ENOENT, errnoName } from "../kernel/errno.ts";
import type { Btf } from "./btf.ts";
import type { FuncInfo, LineInfo } from "./btf_ext.ts";
import { LibbpfError } from "./errors.ts";
import { isMapInMap, type ObjMap } from "./map_def.ts";
import type { BpfObject, ObjProgram } from "./object.ts";
import { linkProgram, relocateData } from "./relo.ts";
import type { AttachTarget } from "./sec_def.ts";

/** POISON_LDIMM64_MAP_BASE: a reference to a map libbpf did not create becomes this invalid helper call. */
export const POISON_LDIMM64_MAP_BASE = 2001000000;

/** Options of bpf_object__load(). */
export interface ObjectLoadOpts {
  /** Values of .kconfig externs (CONFIG_* names); LINUX_KERNEL_VERSION comes from the kernel. */
  kconfig?: Record<string, string | number | boolean>;
  /** bpf_map__reuse_fd(): use these fds instead of creating maps, by map name (bpftool `map name N MAP`). */
  reuse?: Record<string, number>;
  /** bpftool `map idx I MAP`: by map index. */
  reuseIdx?: Record<number, number>;
  /** Lines of libbpf's log (pr_warn / pr_debug). */
  log?: string[];
}

/** One entry program ready for BPF_PROG_LOAD. */
export interface ProgramImage {
  /** The function name (prog_name is its first 15 characters). */
  readonly name: string;
  /** The SEC() name. */
  readonly secName: string;
  /** prog_type (0 when the section name does not say: the loader must be told). */
  readonly progType: number;
  /** expected_attach_type */
  readonly attachType: number;
  /** BPF_F_SLEEPABLE */
  readonly sleepable: boolean;
  /** Where the section says it attaches. */
  readonly attachTarget: AttachTarget | null;
  /** The instructions with map fds in ld_imm64 and subprograms appended. */
  readonly insns: BpfInsn[];
  /** func_info (instruction offsets) */
  readonly funcInfo: FuncInfo[];
  /** line_info (instruction offsets) */
  readonly lineInfo: LineInfo[];
  /** The maps (object indexes) its instructions reference. */
  readonly mapIdxs: number[];
}

/** The result of bpf_object__load(): map fds in the calling process and the programs to load. */
export class LoadedObject {
  /** fd of each map in obj.maps (-1: not created). */
  readonly mapFds: number[];
  /** The entry programs. */
  readonly programs: ProgramImage[] = [];

  /** The object, the process and its fds. */
  constructor(readonly obj: BpfObject, readonly sys: SysBpf, mapFds: number[]) {
    this.mapFds = mapFds;
  }

  /** The object's license string. */
  get license(): string {
    return this.obj.license;
  }

  /** The object's BTF. */
  get btf(): Btf | null {
    return this.obj.btf;
  }

  /** bpf_object__find_map_fd_by_name() */
  mapFd(name: string): number {
    const i = this.obj.findMap(name);
    return i < 0 ? -ENOENT : this.mapFds[i];
  }

  /** A program image by function name. */
  program(name: string): ProgramImage | undefined {
    return this.programs.find((p) => p.name === name);
  }

  /** bpf_object__pin_maps(dir): every map at `dir/<name>` (maps with a pin path stay where they are). */
  pinMaps(dir: string): number {
    for (let i = 0; i < this.obj.maps.length; i++) {
      const fd = this.mapFds[i];
      const m = this.obj.maps[i];
      if (fd < 0 || m.pinPath) continue;
      const r = this.sys.objPin(fd, `${dir}/${m.name}`);
      if (r < 0) return r;
    }
    return 0;
  }

  /** bpf_object__close(): closes the map fds (pins and loaded programs keep their maps). */
  close(): void {
    for (let i = 0; i < this.mapFds.length; i++) {
      if (this.mapFds[i] >= 0) this.sys.close(this.mapFds[i]);
      this.mapFds[i] = -1;
    }
  }
}

function warn(opts: ObjectLoadOpts, line: string): void {
  opts.log?.push(`libbpf: ${line}`);
}

/** The kernel release as LINUX_KERNEL_VERSION (KERNEL_VERSION(a, b, c)). */
function kernelVersionCode(version: number): number {
  return (Math.floor(version / 100) << 16) + ((version % 100) << 8);
}

/**
 * bpf_object__load() up to the program loads: creates the object's maps in
 * `sys`'s process and relocates every entry program. Throws LibbpfError (and
 * closes what it created) on failure.
 */
export function bpfObjectLoad(sys: SysBpf, obj: BpfObject, opts: ObjectLoadOpts = {}): LoadedObject {
  const k = sys.k;
  const v = k.features.version;
  const fds = obj.maps.map(() => -1);
  const loaded = new LoadedObject(obj, sys, fds);
  try {
    fillKconfig(obj, v, opts);
    for (let i = 0; i < obj.maps.length; i++) {
      const m = obj.maps[i];
      const internal = m.libbpfType !== "user" && m.libbpfType !== "legacy";
      // FEAT_GLOBAL_DATA (5.2): without it, internal maps are not created and references to them are poisoned
      if (internal && v < 502) {
        warn(opts, `map '${m.name}': skipped auto-creating...`);
        continue;
      }
      // bpf_object__sanitize_maps(): FEAT_ARRAY_MMAP (5.5)
      if (internal && v < 505) m.def.mapFlags &= ~BPF_F_MMAPABLE;
      if (m.def.type === BPF_MAP_TYPE_PERF_EVENT_ARRAY && !m.def.maxEntries) m.def.maxEntries = k.ncpu;
      const reuseFd = opts.reuse?.[m.name] ?? opts.reuseIdx?.[i];
      if (reuseFd !== undefined) {
        fds[i] = reuseFd;
        continue;
      }
      let retried = false;
      for (;;) {
        let pinned = false;
        if (m.pinPath) {
          const pfd = sys.objGet(m.pinPath);
          if (pfd >= 0) {
            const info = sys.mapInfo(pfd);
            if (
              typeof info === "number" || info.type !== m.def.type || info.keySize !== m.def.keySize ||
              info.valueSize !== m.def.valueSize || info.maxEntries !== m.def.maxEntries ||
              info.mapFlags !== m.def.mapFlags
            ) {
              sys.close(pfd);
              warn(opts, `couldn't reuse pinned map at '${m.pinPath}': parameter mismatch`);
              throw new LibbpfError(`map '${m.name}': error reusing pinned map`, "EINVAL");
            }
            fds[i] = pfd;
            pinned = true;
          } else if (pfd !== -ENOENT) {
            throw new LibbpfError(`couldn't retrieve pinned map '${m.pinPath}': ${errnoName(-pfd)}`, -pfd);
          } else if (retried) {
            throw new LibbpfError(`map '${m.name}': cannot find pinned map`, "ENOENT");
          }
        }
        if (!pinned) {
          fds[i] = createMap(sys, obj, m, opts);
          if (internal) populateInternal(sys, m, fds[i]);
          if (m.initSlots.length && isMapInMap(m.def.type)) initSlots(sys, obj, m, fds, i);
        }
        if (m.pinPath && !pinned) {
          const r = sys.objPin(fds[i], m.pinPath);
          if (r === -EEXIST && !retried) {
            sys.close(fds[i]);
            fds[i] = -1;
            retried = true;
            continue;
          }
          if (r < 0) throw new LibbpfError(`map '${m.name}': failed to auto-pin at '${m.pinPath}': ${r}`, -r);
        }
        break;
      }
    }
    for (const p of obj.entryPrograms()) loaded.programs.push(image(obj, p, fds, opts));
  } catch (e) {
    loaded.close();
    throw e;
  }
  return loaded;
}

/** bpf_object__create_map() */
function createMap(sys: SysBpf, obj: BpfObject, m: ObjMap, opts: ObjectLoadOpts): number {
  let innerFd = 0;
  if (isMapInMap(m.def.type) && m.inner) {
    innerFd = createMap(sys, obj, m.inner, opts);
  }
  const fd = sys.mapCreate({
    mapType: m.def.type,
    keySize: m.def.keySize,
    valueSize: m.def.valueSize,
    maxEntries: m.def.maxEntries,
    mapFlags: m.def.mapFlags,
    name: m.name.slice(0, 15),
    innerMapFd: innerFd,
    numaNode: m.def.numaNode,
    mapExtra: m.def.mapExtra,
  });
  if (innerFd > 0) sys.close(innerFd);
  if (fd < 0) {
    warn(opts, `Error in bpf_create_map_xattr(${m.name}):${errnoName(-fd)}(${fd}).`);
    throw new LibbpfError(`map '${m.name}': failed to create: ${errnoName(-fd)}(${fd})`, -fd);
  }
  void obj;
  return fd;
}

/** bpf_object__populate_internal_map(): the section's bytes as element 0; .rodata and .kconfig frozen. */
function populateInternal(sys: SysBpf, m: ObjMap, fd: number): void {
  const r = sys.mapUpdateElem(fd, new Uint8Array(4), m.initData ?? new Uint8Array(m.def.valueSize), 0);
  if (r < 0) throw new LibbpfError(`Error setting initial map(${m.name}) contents: ${errnoName(-r)}`, -r);
  if (m.libbpfType === "rodata" || m.libbpfType === "kconfig") {
    const f = sys.mapFreeze(fd);
    if (f < 0) throw new LibbpfError(`Error freezing map(${m.name}) as read-only: ${errnoName(-f)}`, -f);
  }
}

/** init_map_in_map_slots() */
function initSlots(sys: SysBpf, obj: BpfObject, m: ObjMap, fds: number[], self: number): void {
  m.initSlots.forEach((target, idx) => {
    if (!target) return;
    const ti = obj.findMap(target);
    if (ti < 0 || fds[ti] < 0) {
      throw new LibbpfError(`map '${m.name}': inner map '${target}' not created yet`, "EINVAL");
    }
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, idx, true);
    const val = new Uint8Array(4);
    new DataView(val.buffer).setUint32(0, fds[ti], true);
    const r = sys.mapUpdateElem(fds[self], key, val, 0);
    if (r < 0) {
      throw new LibbpfError(
        `map '${m.name}': failed to initialize slot [${idx}] to map '${target}' fd=${fds[ti]}: ${r}`,
        -r,
      );
    }
  });
}

/** bpf_object__resolve_externs() for .kconfig: LINUX_KERNEL_VERSION and the CONFIG_* values given. */
function fillKconfig(obj: BpfObject, version: number, opts: ObjectLoadOpts): void {
  if (obj.kconfigMapIdx < 0) return;
  const m = obj.maps[obj.kconfigMapIdx];
  const data = m.initData!;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const e of obj.externs) {
    if (e.type !== "kcfg") continue;
    const off = e.kcfg.dataOff, sz = e.kcfg.sz;
    let val: string | number | boolean | undefined;
    if (e.name === "LINUX_KERNEL_VERSION") val = kernelVersionCode(version);
    else if (e.name === "LINUX_HAS_BPF_COOKIE" || e.name === "LINUX_HAS_SYSCALL_WRAPPER") val = version >= 515 ? 1 : 0;
    else val = opts.kconfig?.[e.name];
    if (val === undefined) {
      if (!e.isWeak) throw new LibbpfError(`extern (kcfg) '${e.name}': value not found`, "ESRCH");
      continue;
    }
    if (typeof val === "boolean" || val === "y" || val === "n" || val === "m") {
      const b = val === true || val === "y" ? 1 : val === "m" ? 2 : 0;
      data[off] = e.kcfg.kind === "char" ? (val === true ? 121 : val === false ? 110 : String(val).charCodeAt(0)) : b;
    } else if (typeof val === "string") {
      const s = new TextEncoder().encode(val.replace(/^"|"$/g, ""));
      data.set(s.subarray(0, sz - 1), off);
    } else {
      if (sz === 8) dv.setBigUint64(off, BigInt.asUintN(64, BigInt(val)), true);
      else if (sz === 4) dv.setUint32(off, val >>> 0, true);
      else if (sz === 2) dv.setUint16(off, val & 0xffff, true);
      else data[off] = val & 0xff;
    }
  }
}

/** bpf_object__relocate() + bpf_object__relocate_data() for one entry program. */
function image(obj: BpfObject, p: ObjProgram, fds: number[], opts: ObjectLoadOpts): ProgramImage {
  const lp = linkProgram(obj, p);
  const mapIdxs = new Set<number>();
  const { insns } = relocateData(obj, lp, (i) => {
    mapIdxs.add(i);
    return fds[i];
  });
  // poison_map_ldimm64(): references to maps that were not created
  for (const r of lp.relos) {
    if ((r.type === "ld64" || r.type === "data") && fds[r.mapIdx] < 0) {
      const x = insns[r.insnIdx];
      if (x.code !== LD_IMM64) continue;
      warn(
        opts,
        `prog '${p.name}': relo #${lp.relos.indexOf(r)}: poisoning insn #${r.insnIdx} that loads map #${r.mapIdx} '${
          obj.maps[r.mapIdx].name
        }'`,
      );
      x.code = BPF_JMP | BPF_CALL;
      x.src = x.dst = x.off = 0;
      x.imm = POISON_LDIMM64_MAP_BASE + r.mapIdx;
      const y = insns[r.insnIdx + 1];
      y.code = BPF_JMP | BPF_CALL;
      y.src = y.dst = y.off = 0;
      y.imm = POISON_LDIMM64_MAP_BASE + r.mapIdx;
    }
  }
  return {
    name: p.name,
    secName: p.secName,
    progType: p.progType,
    attachType: p.attachType,
    sleepable: p.sleepable,
    attachTarget: p.attachTarget,
    insns,
    funcInfo: lp.funcInfo,
    lineInfo: lp.lineInfo,
    mapIdxs: [...mapIdxs],
  };
}

/** A one-line description of an object's maps (debugging and reports). */
export function describeMaps(obj: BpfObject): string[] {
  return obj.maps.map((m) =>
    `${m.name}: ${
      mapTypeName(m.def.type)
    } key ${m.def.keySize} value ${m.def.valueSize} max_entries ${m.def.maxEntries} flags 0x${
      m.def.mapFlags.toString(16)
    }`
  );
}
