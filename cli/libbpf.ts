// tools/lib/bpf/bpf.c as bpftool 7.1.0 (libbpf 1.1) uses it: thin wrappers
// over the process' bpf(2) that return 0 / fd or -errno and, like libc,
// leave the error in errno (bpftool's batch mode reads errno at the end).

import type { MapCreateAttr, MapInfo } from "../lib/bpf/syscall.ts";
import type { LinkInfo, ProgInfo } from "../lib/bpf/syscall_prog.ts";
import { EBADF } from "../lib/kernel/errno.ts";
import type { CliContext } from "./context.ts";

function ret(ctx: CliContext, r: number): number {
  if (r < 0) ctx.errno = -r;
  return r;
}

/** bpf_map_create() */
export function bpfMapCreate(ctx: CliContext, attr: MapCreateAttr): number {
  return ret(ctx, ctx.sys.mapCreate(attr));
}

/** bpf_map_lookup_elem() (a null key is a NULL pointer). */
export function bpfMapLookupElem(ctx: CliContext, fd: number, key: Uint8Array | null, value: Uint8Array): number {
  return ret(ctx, ctx.sys.mapLookupElem(fd, key, value));
}

/** bpf_map_update_elem() */
export function bpfMapUpdateElem(
  ctx: CliContext,
  fd: number,
  key: Uint8Array | null,
  value: Uint8Array | null,
  flags: number,
): number {
  return ret(ctx, ctx.sys.mapUpdateElem(fd, key, value ?? EMPTY, flags));
}

/** bpf_map_delete_elem() */
export function bpfMapDeleteElem(ctx: CliContext, fd: number, key: Uint8Array | null): number {
  return ret(ctx, ctx.sys.mapDeleteElem(fd, key));
}

/** bpf_map_get_next_key() */
export function bpfMapGetNextKey(ctx: CliContext, fd: number, key: Uint8Array | null, next: Uint8Array): number {
  return ret(ctx, ctx.sys.mapGetNextKey(fd, key, next));
}

/** bpf_map_lookup_and_delete_elem() */
export function bpfMapLookupAndDeleteElem(
  ctx: CliContext,
  fd: number,
  key: Uint8Array | null,
  value: Uint8Array | null,
): number {
  return ret(ctx, ctx.sys.mapLookupAndDeleteElem(fd, key, value ?? EMPTY));
}

/** bpf_map_freeze() */
export function bpfMapFreeze(ctx: CliContext, fd: number): number {
  return ret(ctx, ctx.sys.mapFreeze(fd));
}

/** bpf_obj_pin() */
export function bpfObjPin(ctx: CliContext, fd: number, path: string): number {
  return ret(ctx, ctx.sys.objPin(fd, path));
}

/** bpf_obj_get() */
export function bpfObjGet(ctx: CliContext, path: string): number {
  return ret(ctx, ctx.sys.objGet(path));
}

/** bpf_map_get_fd_by_id() */
export function bpfMapGetFdById(ctx: CliContext, id: number): number {
  return ret(ctx, ctx.sys.mapGetFdById(id));
}

/** bpf_map_get_next_id(): the next id, or -errno. */
export function bpfMapGetNextId(ctx: CliContext, start: number): number {
  return ret(ctx, ctx.sys.mapGetNextId(start));
}

/** bpf_obj_get_info_by_fd() for a map, plus the fdinfo lines bpftool reads. */
export function bpfMapGetInfo(ctx: CliContext, fd: number): MapInfo | number {
  const r = ctx.sys.mapInfo(fd);
  if (typeof r === "number") return ret(ctx, r);
  return r;
}

/** close(2): -EBADF (and errno) for an fd that is not open, as after bpftool's double closes. */
export function close(ctx: CliContext, fd: number): number {
  const r = ctx.sys.close(fd);
  if (r < 0) ctx.errno = EBADF;
  return r;
}

/** get_fd_type(): readlink(/proc/self/fd/N) says anon_inode:bpf-map / bpf-prog / bpf_link. */
export function fdType(ctx: CliContext, fd: number): "map" | "prog" | "link" | "unknown" {
  const kind = ctx.sys.proc.get(fd)?.obj.fileKind;
  if (kind === "bpf-map") return "map";
  if (kind === "bpf-prog") return "prog";
  if (kind === "bpf_link") return "link";
  return "unknown";
}

/** bpf_prog_get_next_id() */
export function bpfProgGetNextId(ctx: CliContext, start: number): number {
  return ret(ctx, ctx.sys.progGetNextId(start));
}

/** bpf_prog_get_fd_by_id() */
export function bpfProgGetFdById(ctx: CliContext, id: number): number {
  return ret(ctx, ctx.sys.progGetFdById(id));
}

/** bpf_obj_get_info_by_fd() for a program. */
export function bpfProgGetInfo(ctx: CliContext, fd: number): ProgInfo | number {
  const r = ctx.sys.progInfo(fd);
  if (typeof r === "number") return ret(ctx, r);
  return r;
}

/** bpf_link_get_next_id() */
export function bpfLinkGetNextId(ctx: CliContext, start: number): number {
  return ret(ctx, ctx.sys.linkGetNextId(start));
}

/** bpf_link_get_fd_by_id() */
export function bpfLinkGetFdById(ctx: CliContext, id: number): number {
  return ret(ctx, ctx.sys.linkGetFdById(id));
}

/** bpf_obj_get_info_by_fd() for a link. */
export function bpfLinkGetInfo(ctx: CliContext, fd: number): LinkInfo | number {
  const r = ctx.sys.linkInfo(fd);
  if (typeof r === "number") return ret(ctx, r);
  return r;
}

/** The id of whatever bpf object an fd holds (for the -f pinned table), or -1. */
export function bpfObjId(ctx: CliContext, fd: number): number {
  const kind = fdType(ctx, fd);
  const info = kind === "map"
    ? ctx.sys.mapInfo(fd)
    : kind === "prog"
    ? ctx.sys.progInfo(fd)
    : kind === "link"
    ? ctx.sys.linkInfo(fd)
    : -1;
  return typeof info === "number" ? -1 : info.id;
}

const EMPTY = new Uint8Array(0);
