// How bpftool reads MAP handles and key/value DATA: map_parse_fds() and
// friends from tools/bpf/bpftool/common.c, parse_bytes() / parse_elem() /
// fill_per_cpu_value() from map.c.

import type { MapInfo } from "../lib/bpf/syscall.ts";
import { ENOENT, strerror } from "../lib/kernel/errno.ts";
import {
  BPF_ANY,
  BPF_EXIST,
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_PROG_ARRAY,
  BPF_NOEXIST,
  BPF_OBJ_NAME_LEN,
} from "../lib/bpf/uapi.ts";
import { Args, cstr, usage } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { openObjPinnedAny } from "./bpffs.ts";
import { bpfMapGetFdById, bpfMapGetInfo, bpfMapGetNextId, close } from "./libbpf.ts";
import { isPrefix, parseUnsigned } from "./parse.ts";

/** map_is_per_cpu() */
export function mapIsPerCpu(type: number): boolean {
  return type === BPF_MAP_TYPE_PERCPU_HASH || type === BPF_MAP_TYPE_PERCPU_ARRAY ||
    type === BPF_MAP_TYPE_LRU_PERCPU_HASH || type === BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

/** map_is_map_of_maps() */
export function mapIsMapOfMaps(type: number): boolean {
  return type === BPF_MAP_TYPE_ARRAY_OF_MAPS || type === BPF_MAP_TYPE_HASH_OF_MAPS;
}

/** map_is_map_of_progs() */
export function mapIsMapOfProgs(type: number): boolean {
  return type === BPF_MAP_TYPE_PROG_ARRAY;
}

/** get_possible_cpus() */
export function possibleCpus(ctx: CliContext): number {
  return ctx.k.ncpu;
}

/** round_up(value_size, 8): the per-CPU stride of a syscall value buffer. */
export function perCpuStride(valueSize: number): number {
  return (valueSize + 7) & ~7;
}

/** alloc_value(): value_size bytes, or one 8-byte-aligned slot per possible CPU. */
export function allocValue(ctx: CliContext, info: MapInfo): Uint8Array {
  if (mapIsPerCpu(info.type)) return new Uint8Array(perCpuStride(info.valueSize) * possibleCpus(ctx));
  return new Uint8Array(info.valueSize);
}

/** NEXT_ARGP() */
function nextArgp(ctx: CliContext, args: Args): void {
  args.i++;
  if (args.argc < 0) usage(ctx);
}

/** UTF-8 length, C's strlen(). */
export function cStrlen(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** map_fd_by_name(): fds of every map whose name is `name` (strncmp over 16 bytes). */
function mapFdByName(ctx: CliContext, name: string): number[] | -1 {
  const fds: number[] = [];
  let id = 0;
  for (;;) {
    const next = bpfMapGetNextId(ctx, id);
    if (next < 0) {
      if (ctx.errno !== ENOENT) {
        ctx.out.pErr(strerror(ctx.errno));
        break;
      }
      return fds;
    }
    id = next;
    const fd = bpfMapGetFdById(ctx, id);
    if (fd < 0) {
      ctx.out.pErr(`can't get map by id (${id}): ${strerror(ctx.errno)}`);
      break;
    }
    const info = bpfMapGetInfo(ctx, fd);
    if (typeof info === "number") {
      ctx.out.pErr(`can't get map info (${id}): ${strerror(ctx.errno)}`);
      close(ctx, fd);
      break;
    }
    if (info.name !== name) {
      close(ctx, fd);
      continue;
    }
    fds.push(fd);
  }
  for (const fd of fds.reverse()) close(ctx, fd);
  return -1;
}

/**
 * map_parse_fds(): `id N | name NAME | pinned PATH` at args (advanced past
 * the handle). The fds, or -1 after an error message. A name may give 0 fds.
 */
export function mapParseFds(ctx: CliContext, args: Args): number[] | -1 {
  if (isPrefix(args.cur, "id")) {
    nextArgp(ctx, args);
    const id = parseUnsigned(cstr(args.cur), 0, 32);
    if (id === null) {
      ctx.out.pErr(`can't parse ${cstr(args.cur)} as ID`);
      return -1;
    }
    nextArgp(ctx, args);
    const fd = bpfMapGetFdById(ctx, id);
    if (fd < 0) {
      ctx.out.pErr(`get map by id (${id}): ${strerror(ctx.errno)}`);
      return -1;
    }
    return [fd];
  } else if (isPrefix(args.cur, "name")) {
    nextArgp(ctx, args);
    const name = cstr(args.cur);
    if (cStrlen(name) > BPF_OBJ_NAME_LEN - 1) {
      ctx.out.pErr("can't parse name");
      return -1;
    }
    nextArgp(ctx, args);
    return mapFdByName(ctx, name);
  } else if (isPrefix(args.cur, "pinned")) {
    nextArgp(ctx, args);
    const path = cstr(args.cur);
    nextArgp(ctx, args);
    const fd = openObjPinnedAny(ctx, path, "map");
    if (fd < 0) return -1;
    return [fd];
  }
  ctx.out.pErr(`expected 'id', 'name' or 'pinned', got: '${cstr(args.cur)}'?`);
  return -1;
}

/** map_parse_fd(): exactly one map, else -1 (`several maps match this handle`). */
export function mapParseFd(ctx: CliContext, args: Args): number {
  const fds = mapParseFds(ctx, args);
  if (fds === -1) return -1;
  if (fds.length !== 1) {
    if (fds.length > 1) {
      ctx.out.pErr("several maps match this handle");
      for (const fd of [...fds].reverse()) close(ctx, fd);
    }
    return -1;
  }
  return fds[0];
}

/** map_parse_fd_and_info() */
export function mapParseFdAndInfo(ctx: CliContext, args: Args): { fd: number; info: MapInfo } | null {
  const fd = mapParseFd(ctx, args);
  if (fd < 0) return null;
  const info = bpfMapGetInfo(ctx, fd);
  if (typeof info === "number") {
    ctx.out.pErr(`can't get map info: ${strerror(ctx.errno)}`);
    close(ctx, fd);
    return null;
  }
  return { fd, info };
}

/**
 * parse_bytes(): n bytes into `val` (an optional leading `hex` switches to
 * base 16; every token is strtoul()'d and truncated to 8 bits). Returns the
 * cursor after the bytes, or null after an error message.
 */
export function parseBytes(ctx: CliContext, args: Args, name: string, val: Uint8Array, n: number): Args | null {
  let a = args;
  let base: 0 | 16 = 0;
  if (isPrefix(a.cur, "hex")) {
    base = 16;
    a = a.sub(1);
  }
  let i = 0;
  while (i < n && a.at(i) !== undefined) {
    const tok = a.at(i)!;
    const b = parseUnsigned(tok, base, 8);
    if (b === null) {
      ctx.out.pErr(`error parsing byte: ${tok}`);
      return null;
    }
    val[i] = b;
    i++;
  }
  if (i !== n) {
    ctx.out.pErr(`${name} expected ${n} bytes got ${i}`);
    return null;
  }
  return a.sub(i);
}

/** fill_per_cpu_value(): the first slot copied to every possible CPU's slot. */
export function fillPerCpuValue(ctx: CliContext, info: MapInfo, value: Uint8Array): void {
  if (!mapIsPerCpu(info.type)) return;
  const step = perCpuStride(info.valueSize);
  for (let i = 1; i < possibleCpus(ctx); i++) value.copyWithin(i * step, 0, info.valueSize);
}

/** parse_elem()'s out-parameters beyond the key and value buffers. */
export interface ElemState {
  /** Update flags; null when none are accepted (lookup, delete, getnext, or already given). */
  flags: { value: number } | null;
  /** Receives the inner map fd put into a map-in-map value (the caller closes it). */
  valueFd: { fd: number } | null;
}

/**
 * parse_elem(): `key DATA`, `value VALUE` and an update flag in any order.
 * A null key or value means "not wanted" (or already given). 0 or -1.
 */
export function parseElem(
  ctx: CliContext,
  args: Args,
  info: MapInfo,
  key: Uint8Array | null,
  value: Uint8Array | null,
  keySize: number,
  valueSize: number,
  st: ElemState,
): number {
  if (args.cur === undefined) {
    if (!key && !value) return 0;
    ctx.out.pErr(`did not find ${key ? "key" : "value"}`);
    return -1;
  }
  if (isPrefix(args.cur, "key")) {
    if (!key) {
      ctx.out.pErr(keySize ? "duplicate key" : "unnecessary key");
      return -1;
    }
    const rest = parseBytes(ctx, args.sub(1), "key", key, keySize);
    if (!rest) return -1;
    return parseElem(ctx, rest, info, null, value, keySize, valueSize, st);
  } else if (isPrefix(args.cur, "value")) {
    if (!value) {
      ctx.out.pErr(valueSize ? "duplicate value" : "unnecessary value");
      return -1;
    }
    let rest = args.sub(1);
    if (mapIsMapOfMaps(info.type)) {
      if (valueSize !== 4) {
        ctx.out.pErr("value smaller than 4B for map in map?");
        return -1;
      }
      if (rest.at(0) === undefined || rest.at(1) === undefined) {
        ctx.out.pErr("not enough value arguments for map in map");
        return -1;
      }
      // map_parse_fd(&argc = 2, &argv): the handle is read from a two-word window
      const win = new Args(rest.v.slice(0, rest.i + 2), rest.i);
      const fd = mapParseFd(ctx, win);
      if (fd < 0) return -1;
      new DataView(value.buffer, value.byteOffset).setUint32(0, fd, true);
      if (st.valueFd) st.valueFd.fd = fd;
      rest = rest.sub(win.i - rest.i);
    } else if (mapIsMapOfProgs(info.type)) {
      if (valueSize !== 4) {
        ctx.out.pErr("value smaller than 4B for map of progs?");
        return -1;
      }
      if (rest.at(0) === undefined || rest.at(1) === undefined) {
        ctx.out.pErr("not enough value arguments for map of progs");
        return -1;
      }
      // prog_parse_fd(): bpfsim has no programs yet, so no PROG handle can resolve
      ctx.out.pErr("PROG handles are not simulated by bpfsim yet");
      return -1;
    } else {
      const r = parseBytes(ctx, rest, "value", value, valueSize);
      if (!r) return -1;
      rest = r;
      fillPerCpuValue(ctx, info, value);
    }
    return parseElem(ctx, rest, info, key, null, keySize, valueSize, { flags: st.flags, valueFd: null });
  } else if (isPrefix(args.cur, "any") || isPrefix(args.cur, "noexist") || isPrefix(args.cur, "exist")) {
    if (!st.flags) {
      ctx.out.pErr(`flags specified multiple times: ${args.cur}`);
      return -1;
    }
    if (isPrefix(args.cur, "any")) st.flags.value = BPF_ANY;
    else if (isPrefix(args.cur, "noexist")) st.flags.value = BPF_NOEXIST;
    else st.flags.value = BPF_EXIST;
    return parseElem(ctx, args.sub(1), info, key, value, keySize, valueSize, { flags: null, valueFd: st.valueFd });
  }
  ctx.out.pErr(`expected key or value, got: ${args.cur}`);
  return -1;
}
