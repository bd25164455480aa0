// kernel/bpf/syscall.c: the bpf(2) map commands, the only door from user
// space into the BPF subsystem. Each call runs as the calling process on its
// CPU, validates attributes in the kernel's order, and returns 0 / a new fd
// or a negative errno. It never throws for bad input.

import { EBADF, EBUSY, EFAULT, EINVAL, ENOENT, ENOTSUPP, EOPNOTSUPP, EPERM, ESIMHUNG } from "../kernel/errno.ts";
import { COST } from "../kernel/cost.ts";
import { File, type FileObject, FMODE_CAN_READ, FMODE_CAN_WRITE, Process } from "../kernel/file.ts";
import { CpuStuck, type Kernel } from "../kernel/kernel.ts";
import { definePoint } from "../kernel/points.ts";
import { SYSCALL_TPS, SYSCALLS, TP_SYS_ENTER, TP_SYS_EXIT } from "../kernel/tracepoint.ts";
import { migrate_disable, migrate_enable, rcu_read_lock, rcu_read_unlock } from "../kernel/context.ts";
import type { BpfMap, MapAttr } from "./map.ts";
import { MAP_TYPE_OPS } from "./map_types.ts";
import { isOuterMap, type MapFdTable } from "./map_in_map.ts";
import {
  BPF_F_LOCK,
  BPF_F_NUMA_NODE,
  BPF_F_RDONLY,
  BPF_F_WRONLY,
  BPF_MAP_TYPE_ARENA,
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_BLOOM_FILTER,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_QUEUE,
  BPF_MAP_TYPE_STACK,
  BPF_OBJ_NAME_LEN,
  MAP_TYPE_NAMES,
  MAP_TYPE_SINCE,
  mapTypeFromName,
  mapTypeName,
} from "./uapi.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";
import type { BpfProg } from "./prog.ts";
import type { BpfLink } from "./link.ts";
import {
  linkCreate,
  linkDetach,
  LinkFile,
  type LinkInfo,
  linkInfo,
  type LinkSpec,
  ProgFile,
  type ProgInfo,
  progInfo,
  progLoad,
  type ProgLoadAttr,
  progTestRun,
  type TestRunResult,
} from "./syscall_prog.ts";

const P_SYS_BPF = definePoint("__sys_bpf", "kernel/bpf/syscall.c", "the bpf(2) system call", {
  ret: true,
  sleepable: true,
});

/** __NR_bpf on x86-64. */
const NR_BPF = SYSCALLS.bpf;

const OP_OTHER = 0;
const OP_LOOKUP = 1;
const OP_UPDATE = 2;
const OP_DELETE = 3;
const OP_GET_NEXT_KEY = 4;

/** Arguments of mapCreate (BPF_MAP_CREATE). */
export interface MapCreateAttr {
  /** A bpftool type name ("hash", "percpu_array", ...) or a number. */
  mapType: string | number;
  /** key_size in bytes. */
  keySize: number;
  /** value_size in bytes. */
  valueSize: number;
  /** max_entries (the ring size in bytes for ringbuf). */
  maxEntries: number;
  /** map_flags: BPF_F_* creation flags (default 0). */
  mapFlags?: number;
  /** map_name: < 16 bytes of letters, digits, '_' and '.' (default ""). */
  name?: string;
  /** Template map fd for array_of_maps / hash_of_maps (default 0, stdin, as libbpf sends). */
  innerMapFd?: number;
  /** numa_node (with BPF_F_NUMA_NODE). */
  numaNode?: number;
  /** map_extra: the number of hash functions for bloom filters, the arena's user address; 0 otherwise. */
  mapExtra?: number;
}

/** struct bpf_map_info plus the fdinfo fields bpftool prints. */
export interface MapInfo {
  /** Map id (bpf_map_info.id). */
  id: number;
  /** Map type number (enum bpf_map_type). */
  type: number;
  /** bpftool's name of the type ("hash", "lru_percpu_hash", ...). */
  typeName: string;
  /** Map name ("" when none). */
  name: string;
  /** key_size in bytes. */
  keySize: number;
  /** value_size in bytes. */
  valueSize: number;
  /** max_entries, as adjusted at creation. */
  maxEntries: number;
  /** map_flags as the map keeps them (BPF_F_RDONLY/WRONLY are fd modes, not kept). */
  mapFlags: number;
  /** fdinfo memlock */
  memlock: number;
  /** fdinfo frozen */
  frozen: boolean;
  /** Elements (when the type tracks them), -1 otherwise. */
  elements: number;
}

/** The anonymous inode behind a map fd. */
class MapFile implements FileObject {
  readonly fileKind = "bpf-map";
  constructor(readonly map: BpfMap) {}
  release(_f: File): void {
    this.map.k.bpf.mapPutWithUref(this.map);
  }
}

/** bpf_obj_name_cpy(): 0 or -EINVAL (letters, digits, '_' and '.' only; < 16 bytes). */
export function bpfObjNameCheck(name: string): number {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length >= BPF_OBJ_NAME_LEN) return -EINVAL;
  for (const c of bytes) {
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f ||
      c === 0x2e;
    if (!ok) return -EINVAL;
  }
  return 0;
}

/** bpf_get_file_flag(): the fd mode BPF_F_RDONLY / BPF_F_WRONLY ask for; -EINVAL for both. */
function bpfFileMode(flags: number): number {
  if ((flags & BPF_F_RDONLY) && (flags & BPF_F_WRONLY)) return -EINVAL;
  if (flags & BPF_F_RDONLY) return FMODE_CAN_READ;
  if (flags & BPF_F_WRONLY) return FMODE_CAN_WRITE;
  return FMODE_CAN_READ | FMODE_CAN_WRITE;
}

/** Resolves a map type given by name or number; -1 when unknown. */
export function resolveMapType(t: string | number): number {
  if (typeof t === "number") return Number.isInteger(t) && t >= 0 ? t : -1;
  const n = mapTypeFromName(t);
  if (n > 0) return n;
  if (/^\d+$/.test(t)) return Number(t);
  return -1;
}

/**
 * fdget() found no file: fds 0-2 are the process's stdio (open files that
 * are not bpf objects, so __bpf_map_get() says -EINVAL); others are -EBADF.
 */
function noFile(fd: number): number {
  return fd >= 0 && fd <= 2 ? -EINVAL : -EBADF;
}

/**
 * bpf(2) for one process: libbpf-1.0 style, returning 0 or a new fd on
 * success and a negative errno on failure.
 */
export class SysBpf implements MapFdTable {
  /** The bpf(2) interface of process `proc` in kernel `k`; Kernel.spawn() makes these. */
  constructor(readonly k: Kernel, readonly proc: Process) {}

  /** Runs a command as this process on its CPU (closure-free for the element ops). */
  private call(
    op: number,
    fd: number,
    a: Uint8Array | null,
    b: Uint8Array | null,
    flags: number,
    fn?: () => number,
  ): number {
    const k = this.k;
    const cpu = k.cpus[this.proc.cpu];
    if (cpu.cont !== null && k.cur !== cpu) k.settle(cpu);
    if (cpu.stuck !== null) return -ESIMHUNG;
    const prev = k.cur;
    const nested = cpu.busy;
    let start = 0;
    if (nested) k.cur = cpu;
    else start = k.beginTask(cpu, this.proc.comm, this.proc.pid, 0);
    let r: number;
    try {
      if (!nested) {
        // syscall entry: raw_syscalls:sys_enter, syscalls:sys_enter_bpf
        k.tracepoint(TP_SYS_ENTER, NR_BPF, op);
        k.tracepoint(SYSCALL_TPS.bpf.enter, NR_BPF);
      }
      k.point(P_SYS_BPF);
      cpu.clock += COST.syscall;
      switch (op) {
        case OP_LOOKUP:
          r = this.doLookup(fd, a, b!, flags);
          break;
        case OP_UPDATE:
          r = this.doUpdate(fd, a, b!, flags);
          break;
        case OP_DELETE:
          r = this.doDelete(fd, a);
          break;
        case OP_GET_NEXT_KEY:
          r = this.doGetNextKey(fd, a, b!);
          break;
        default:
          r = fn!();
      }
      k.pointRet(P_SYS_BPF, op, r);
      if (!nested) {
        k.tracepoint(SYSCALL_TPS.bpf.exit, NR_BPF, r);
        k.tracepoint(TP_SYS_EXIT, NR_BPF, r);
        k.endTask(cpu, start);
      }
    } catch (e) {
      if (!(e instanceof CpuStuck) || e.cpu !== cpu.id) throw e;
      cpu.busy = false;
      r = -ESIMHUNG;
    } finally {
      k.cur = prev;
    }
    return r;
  }

  /** A command given as a closure (the rare ones). */
  private callFn(fn: () => number): number {
    return this.call(OP_OTHER, 0, null, null, 0, fn);
  }

  /** __bpf_map_get(fdget(fd)) and the file's mode. */
  private fdMap(fd: number): { map: BpfMap; mode: number } | number {
    const f = this.proc.get(fd);
    if (!f) return noFile(fd);
    if (!(f.obj instanceof MapFile)) return -EINVAL;
    return { map: f.obj.map, mode: f.mode };
  }

  /** fdget(ufd) + __bpf_map_get() in this process: what map_fd_get_ptr() resolves. */
  fdGetMap(ufd: number): BpfMap | number {
    const m = this.fdMap(ufd);
    return typeof m === "number" ? m : m.map;
  }

  /** map_get_sys_perms(): a frozen map loses FMODE_CAN_WRITE. */
  private perms(map: BpfMap, mode: number): number {
    return map.frozen ? mode & ~FMODE_CAN_WRITE : mode;
  }

  /** bpf_disable_instrumentation() */
  private instrumentationOff(): void {
    const k = this.k;
    migrate_disable(k);
    k.cur.bpfProgActive++;
  }

  /** bpf_enable_instrumentation() */
  private instrumentationOn(): void {
    const k = this.k;
    k.cur.bpfProgActive--;
    migrate_enable(k);
  }

  /** anon_inode_getfd("bpf-map"): installs a map file at the lowest free fd; on failure drops the map's user reference. */
  private newFd(map: BpfMap, mode: number): number {
    const fd = this.proc.install(new File(new MapFile(map), mode));
    if (fd < 0) this.k.bpf.mapPutWithUref(map);
    return fd;
  }

  // ----------------------------------------------------------- commands

  /** BPF_MAP_CREATE */
  mapCreate(a: MapCreateAttr): number {
    return this.callFn(() => this.doMapCreate(a));
  }

  /** map_create(): CHECK_ATTR, flag and type checks in the kernel's order, map_alloc_check/map_alloc, name, id, fd. */
  private doMapCreate(a: MapCreateAttr): number {
    const k = this.k;
    const v = k.features.version;
    const type = resolveMapType(a.mapType);
    const flags = (a.mapFlags ?? 0) >>> 0;
    if (![a.keySize, a.valueSize, a.maxEntries].every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) {
      return -EINVAL;
    }
    // CHECK_ATTR: fields this release does not know must be zero
    if (v < 406 && flags !== 0) return -EINVAL;
    // map_extra is for bloom filters (5.16+) and arenas (6.9+) only; before
    // 5.16 it lies past BPF_MAP_CREATE_LAST_FIELD, so CHECK_ATTR refuses it
    const extra = a.mapExtra ?? 0;
    if (extra !== 0 && (v < 516 || (type !== BPF_MAP_TYPE_BLOOM_FILTER && type !== BPF_MAP_TYPE_ARENA))) return -EINVAL;
    const mode = bpfFileMode(flags);
    if (mode < 0) return mode;
    const numaNode = flags & BPF_F_NUMA_NODE ? (a.numaNode ?? 0) : -1;
    if (numaNode !== -1 && numaNode !== 0) return -EINVAL; // one online node
    if (type < 0 || type >= MAP_TYPE_NAMES.length || v < MAP_TYPE_SINCE[type] || type === 0) return -EINVAL;
    const ops = MAP_TYPE_OPS[type];
    if (!ops) return -EOPNOTSUPP; // a kernel type bpfsim does not simulate
    const attr: MapAttr = {
      mapType: type,
      keySize: a.keySize,
      valueSize: a.valueSize,
      maxEntries: a.maxEntries,
      mapFlags: flags,
      name: a.name ?? "",
      numaNode,
      innerMapFd: a.innerMapFd ?? 0,
      resolveMapFd: (fd) => this.fdGetMap(fd),
      mapExtra: extra,
    };
    if (ops.allocCheck) {
      const err = ops.allocCheck(k, attr);
      if (err) return err;
    }
    const map = ops.alloc(k, attr);
    if (typeof map === "number") return map;
    // bpf_map_init_from_attr(): RDONLY/WRONLY are fd properties, not kept
    // (what the map type set itself stays: the experimental bpf_force_dyn_alloc adds BPF_F_NO_PREALLOC)
    (map as { mapFlags: number }).mapFlags = map.mapFlags & ~(BPF_F_RDONLY | BPF_F_WRONLY);
    const nameErr = bpfObjNameCheck(attr.name);
    if (nameErr) {
      map.free();
      return nameErr;
    }
    map.name = attr.name;
    k.bpf.allocMapId(map);
    return this.newFd(map, mode);
  }

  /** __bpf_copy_key(): the key buffer, null for zero-size keys, or -EFAULT / -EINVAL. */
  private keyFromUser(map: BpfMap, key: Uint8Array | null | undefined): Uint8Array | null | number {
    // __bpf_copy_key()
    if (map.keySize) {
      if (!key) return -EFAULT;
      if (key.length < map.keySize) return -EFAULT;
      return key;
    }
    // a zero-size key: any non-NULL key pointer is refused (an empty array is a pointer)
    if (key) return -EINVAL;
    return null;
  }

  /** BPF_MAP_LOOKUP_ELEM: copies the value into `value` (all CPUs for per-CPU maps). */
  mapLookupElem(fd: number, key: Uint8Array | null, value: Uint8Array, flags = 0): number {
    return this.call(OP_LOOKUP, fd, key, value, flags);
  }

  /** map_lookup_elem(): checks flags, fd, read permission and buffers, then copies the value under RCU. */
  private doLookup(fd: number, key: Uint8Array | null, value: Uint8Array, flags: number): number {
    if (flags & ~BPF_F_LOCK) return -EINVAL;
    const f = this.proc.get(fd);
    if (!f) return noFile(fd);
    if (!(f.obj instanceof MapFile)) return -EINVAL;
    const map = f.obj.map;
    if (!(this.perms(map, f.mode) & FMODE_CAN_READ)) return -EPERM;
    if (flags & BPF_F_LOCK) return -EINVAL; // no bpf_spin_lock field without BTF
    const kk = this.keyFromUser(map, key);
    if (typeof kk === "number") return kk;
    if (value.length < map.sysValueSize()) return -EFAULT;
    this.instrumentationOff();
    rcu_read_lock(this.k);
    const r = map.sysLookup(kk ?? EMPTY, value, flags);
    rcu_read_unlock(this.k);
    this.instrumentationOn();
    return r;
  }

  /** BPF_MAP_UPDATE_ELEM */
  mapUpdateElem(fd: number, key: Uint8Array | null, value: Uint8Array, flags = 0): number {
    return this.call(OP_UPDATE, fd, key, value, flags);
  }

  /** map_update_elem(): checks fd, write permission and buffers, then updates under RCU (outer maps resolve the value as an fd). */
  private doUpdate(fd: number, key: Uint8Array | null, value: Uint8Array, flags: number): number {
    const f = this.proc.get(fd);
    if (!f) return noFile(fd);
    if (!(f.obj instanceof MapFile)) return -EINVAL;
    const map = f.obj.map;
    if (!(this.perms(map, f.mode) & FMODE_CAN_WRITE)) return -EPERM;
    if (flags & BPF_F_LOCK && flags >= 0) return -EINVAL;
    const kk = this.keyFromUser(map, key);
    if (typeof kk === "number") return kk;
    if (value.length < map.sysValueSize()) return -EFAULT;
    map.writecnt++;
    this.instrumentationOff();
    rcu_read_lock(this.k);
    let r: number;
    try {
      // bpf_map_update_value(): fd maps resolve the value as an fd of this process
      r = isOuterMap(map)
        ? map.fdMapUpdateElem(kk ?? EMPTY, value, flags, this)
        : map.sysUpdate(kk ?? EMPTY, value, flags);
    } finally {
      // also when the task blocks on a sleeping lock and its call restarts later
      rcu_read_unlock(this.k);
      this.instrumentationOn();
      map.writecnt--;
    }
    if (r === 0 && (map.mapType === BPF_MAP_TYPE_HASH_OF_MAPS || map.mapType === BPF_MAP_TYPE_ARRAY_OF_MAPS)) {
      this.k.rcu.synchronize_rcu(); // maybe_wait_bpf_programs()
    }
    return r;
  }

  /** BPF_MAP_DELETE_ELEM */
  mapDeleteElem(fd: number, key: Uint8Array | null): number {
    return this.call(OP_DELETE, fd, key, null, 0);
  }

  /** map_delete_elem(): checks fd, write permission and key, then deletes under RCU. */
  private doDelete(fd: number, key: Uint8Array | null): number {
    const f = this.proc.get(fd);
    if (!f) return noFile(fd);
    if (!(f.obj instanceof MapFile)) return -EINVAL;
    const map = f.obj.map;
    if (!(this.perms(map, f.mode) & FMODE_CAN_WRITE)) return -EPERM;
    const kk = this.keyFromUser(map, key);
    if (typeof kk === "number") return kk;
    map.writecnt++;
    this.instrumentationOff();
    rcu_read_lock(this.k);
    const r = map.deleteElem(kk ?? EMPTY);
    rcu_read_unlock(this.k);
    this.instrumentationOn();
    map.writecnt--;
    if (r === 0 && (map.mapType === BPF_MAP_TYPE_HASH_OF_MAPS || map.mapType === BPF_MAP_TYPE_ARRAY_OF_MAPS)) {
      this.k.rcu.synchronize_rcu();
    }
    return r;
  }

  /** BPF_MAP_GET_NEXT_KEY: key null means the first key. */
  mapGetNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): number {
    return this.call(OP_GET_NEXT_KEY, fd, key, next, 0);
  }

  /** map_get_next_key(): checks fd, read permission and buffers, then finds the next key under RCU. */
  private doGetNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): number {
    const f = this.proc.get(fd);
    if (!f) return noFile(fd);
    if (!(f.obj instanceof MapFile)) return -EINVAL;
    const map = f.obj.map;
    if (!(this.perms(map, f.mode) & FMODE_CAN_READ)) return -EPERM;
    let kk: Uint8Array | null = null;
    if (key) {
      const r = this.keyFromUser(map, key);
      if (typeof r === "number") return r;
      kk = r;
    }
    if (next.length < map.keySize) return -EFAULT;
    rcu_read_lock(this.k);
    const r = map.getNextKey(kk, next);
    rcu_read_unlock(this.k);
    return r;
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM (pop for queue/stack). */
  mapLookupAndDeleteElem(fd: number, key: Uint8Array | null, value: Uint8Array, flags = 0): number {
    return this.callFn(() => {
      // the command arrived with queue/stack maps in 4.20: before, an unknown cmd
      if (this.k.features.version < 420) return -EINVAL;
      if (flags & ~BPF_F_LOCK) return -EINVAL;
      const m = this.fdMap(fd);
      if (typeof m === "number") return m;
      const { map } = m;
      const p = this.perms(map, m.mode);
      if (!(p & FMODE_CAN_READ) || !(p & FMODE_CAN_WRITE)) return -EPERM;
      const qs = map.mapType === BPF_MAP_TYPE_QUEUE || map.mapType === BPF_MAP_TYPE_STACK;
      if (flags && qs) return -EINVAL;
      if (flags & BPF_F_LOCK) return -EINVAL;
      const kk = this.keyFromUser(map, key);
      if (typeof kk === "number") return kk;
      if (value.length < map.sysValueSize()) return -EFAULT;
      const t = map.mapType;
      if (qs) return map.popElem(value);
      if (
        t === BPF_MAP_TYPE_HASH || t === BPF_MAP_TYPE_PERCPU_HASH || t === BPF_MAP_TYPE_LRU_HASH ||
        t === BPF_MAP_TYPE_LRU_PERCPU_HASH
      ) {
        map.writecnt++;
        this.instrumentationOff();
        rcu_read_lock(this.k);
        const r = map.lookupAndDeleteElem(kk, value, flags);
        rcu_read_unlock(this.k);
        this.instrumentationOn();
        map.writecnt--;
        return r;
      }
      return -ENOTSUPP;
    });
  }

  /** BPF_MAP_FREEZE */
  mapFreeze(fd: number): number {
    return this.callFn(() => {
      const m = this.fdMap(fd);
      if (typeof m === "number") return m;
      const { map } = m;
      if (!(this.perms(map, m.mode) & FMODE_CAN_WRITE)) return -EPERM;
      if (map.writecnt > 0) return -EBUSY;
      if (map.frozen) return -EBUSY;
      map.frozen = true;
      return 0;
    });
  }

  /** BPF_OBJ_PIN */
  objPin(fd: number, path: string): number {
    return this.callFn(() => {
      // bpf_fd_probe_obj(): anything that is not a map, prog or link fd is -EINVAL
      const f = this.proc.get(fd);
      const o = f?.obj;
      if (o instanceof MapFile) return this.k.bpf.fs.pin(path, o.map);
      if (o instanceof ProgFile) return this.k.bpf.fs.pin(path, o.prog);
      if (o instanceof LinkFile) return this.k.bpf.fs.pin(path, o.link);
      return -EINVAL;
    });
  }

  /** BPF_OBJ_GET: a new fd for a pinned object. */
  objGet(path: string, flags = 0): number {
    return this.callFn(() => {
      if (flags & ~(BPF_F_RDONLY | BPF_F_WRONLY)) return -EINVAL;
      const mode = bpfFileMode(flags);
      if (mode < 0) return mode;
      const obj = this.k.bpf.fs.get(path);
      if (typeof obj === "number") return obj;
      if (obj.pinKind === "prog") {
        const prog = obj as unknown as BpfProg;
        prog.refcnt++;
        return this.installProg(prog, mode);
      }
      if (obj.pinKind === "link") {
        const link = obj as unknown as BpfLink;
        link.refcnt++;
        return this.installLink(link, mode);
      }
      const map = obj as BpfMap;
      this.k.bpf.mapIncWithUref(map);
      return this.newFd(map, mode);
    });
  }

  /** What an fd refers to: "map", "prog", "link", another file ("other"), or null when not open. */
  fdKind(fd: number): "map" | "prog" | "link" | "other" | null {
    const o = this.proc.get(fd)?.obj;
    if (!o) return null;
    return o instanceof MapFile ? "map" : o instanceof ProgFile ? "prog" : o instanceof LinkFile ? "link" : "other";
  }

  // ------------------------------------------------------ programs and links

  /** anon_inode_getfd("bpf-prog"); on failure the program's reference is dropped. */
  installProg(prog: BpfProg, mode = FMODE_CAN_READ | FMODE_CAN_WRITE): number {
    const fd = this.proc.install(new File(new ProgFile(prog), mode));
    if (fd < 0) this.k.bpf.progPut(prog);
    return fd;
  }

  /** bpf_link_settle()'s fd; on failure the link's reference is dropped. */
  installLink(link: BpfLink, mode = FMODE_CAN_READ | FMODE_CAN_WRITE): number {
    const fd = this.proc.install(new File(new LinkFile(link), mode));
    if (fd < 0) this.k.bpf.linkPut(link);
    return fd;
  }

  /** The program behind an fd (no reference taken), or undefined. */
  progOf(fd: number): BpfProg | undefined {
    const o = this.proc.get(fd)?.obj;
    return o instanceof ProgFile ? o.prog : undefined;
  }

  /** The link behind an fd (no reference taken), or undefined. */
  linkOf(fd: number): BpfLink | undefined {
    const o = this.proc.get(fd)?.obj;
    return o instanceof LinkFile ? o.link : undefined;
  }

  /** BPF_PROG_LOAD: a program fd or -errno (attr.log receives the verifier's reasons). */
  progLoad(attr: ProgLoadAttr): number {
    return this.callFn(() => progLoad(this, attr));
  }

  /** BPF_LINK_CREATE: attaches the program behind progFd; a link fd or -errno (log: why not). */
  linkCreate(progFd: number, spec: LinkSpec, log?: string[]): number {
    return this.callFn(() => linkCreate(this, progFd, spec, log));
  }

  /** BPF_LINK_DETACH */
  linkDetach(fd: number): number {
    return this.callFn(() => linkDetach(this, fd));
  }

  /** BPF_PROG_TEST_RUN (`bpftool prog run`): syscall, xdp and tc programs. */
  progTestRun(fd: number, repeat = 1): TestRunResult | number {
    let out: TestRunResult | number = -EINVAL;
    this.callFn(() => {
      out = progTestRun(this, fd, repeat);
      return 0;
    });
    return out;
  }

  /** BPF_PROG_GET_FD_BY_ID */
  progGetFdById(id: number): number {
    return this.callFn(() => {
      const prog = this.k.bpf.progById(id);
      if (!prog) return -ENOENT;
      prog.refcnt++;
      return this.installProg(prog);
    });
  }

  /** BPF_PROG_GET_NEXT_ID: the next id after `start`, or -ENOENT. */
  progGetNextId(start: number): number {
    return this.callFn(() => this.k.bpf.nextProgIdAfter(start) || -ENOENT);
  }

  /** BPF_LINK_GET_FD_BY_ID */
  linkGetFdById(id: number): number {
    return this.callFn(() => {
      const link = this.k.bpf.linkById(id);
      if (!link) return -ENOENT;
      link.refcnt++;
      return this.installLink(link);
    });
  }

  /** BPF_LINK_GET_NEXT_ID: the next id after `start`, or -ENOENT. */
  linkGetNextId(start: number): number {
    return this.callFn(() => this.k.bpf.nextLinkIdAfter(start) || -ENOENT);
  }

  /** BPF_OBJ_GET_INFO_BY_FD for a program fd. */
  progInfo(fd: number): ProgInfo | number {
    const prog = this.progOf(fd);
    if (prog) return progInfo(prog);
    return this.proc.get(fd) ? -EINVAL : noFile(fd);
  }

  /** BPF_OBJ_GET_INFO_BY_FD for a link fd. */
  linkInfo(fd: number): LinkInfo | number {
    const link = this.linkOf(fd);
    if (link) return linkInfo(link);
    return this.proc.get(fd) ? -EINVAL : noFile(fd);
  }

  /** BPF_MAP_GET_FD_BY_ID: open_flags give the new fd's mode, as for BPF_OBJ_GET. */
  mapGetFdById(id: number, flags = 0): number {
    return this.callFn(() => {
      if (flags & ~(BPF_F_RDONLY | BPF_F_WRONLY)) return -EINVAL;
      // capable(CAP_SYS_ADMIN): bpfsim runs as root
      const mode = bpfFileMode(flags);
      if (mode < 0) return mode;
      const map = this.k.bpf.mapById(id);
      if (!map) return -ENOENT;
      this.k.bpf.mapIncWithUref(map);
      return this.newFd(map, mode);
    });
  }

  /** BPF_MAP_GET_NEXT_ID: the next id after `start`, or -ENOENT. */
  mapGetNextId(start: number): number {
    return this.callFn(() => {
      const id = this.k.bpf.nextMapIdAfter(start);
      return id === 0 ? -ENOENT : id;
    });
  }

  /** BPF_OBJ_GET_INFO_BY_FD for maps, with fdinfo's memlock and frozen. */
  mapInfo(fd: number): MapInfo | number {
    let info: MapInfo | number = -EBADF;
    const r = this.callFn(() => {
      const m = this.fdMap(fd);
      if (typeof m === "number") return m;
      const map = m.map;
      info = {
        id: map.id,
        type: map.mapType,
        typeName: mapTypeName(map.mapType),
        name: map.name,
        keySize: map.keySize,
        valueSize: map.valueSize,
        maxEntries: map.maxEntries,
        mapFlags: map.mapFlags,
        memlock: map.memlockBytes(),
        frozen: map.frozen,
        elements: map.elemCount(),
      };
      return 0;
    });
    return r < 0 ? r : info;
  }

  /** The map behind an fd (library use; no reference is taken). */
  mapOf(fd: number): BpfMap | undefined {
    const m = this.fdMap(fd);
    return typeof m === "number" ? undefined : m.map;
  }

  /** close(2) */
  close(fd: number): number {
    return this.callFn(() => this.proc.close(fd));
  }

  /** Process exit: every fd is closed. */
  exit(): void {
    this.callFn(() => {
      this.proc.exit();
      return 0;
    });
  }
}

const EMPTY = new Uint8Array(0);

snapshotClasses(SysBpf, MapFile);
