// tools/bpf/bpftool/map.c: `map show | list [MAP]` (do_show, do_show_subset,
// show_map_close_plain/json) and the map headers that dump reuses.

import type { MapInfo } from "../lib/bpf/syscall.ts";
import { BPF_MAP_TYPE_USER_RINGBUF, MAP_TYPE_NAMES } from "../lib/bpf/uapi.ts";
import { EINVAL, ENOENT, strerror } from "../lib/kernel/errno.ts";
import { type Args, badArg } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import type { JsonWriter } from "./json_writer.ts";
import { buildPinnedObjTable } from "./bpffs.ts";
import { bpfMapGetFdById, bpfMapGetInfo, bpfMapGetNextId, close } from "./libbpf.ts";
import { mapParseFds } from "./map_parse.ts";

/** The map type names libbpf 1.1 knows (libbpf_bpf_map_type_str): unspec .. user_ringbuf. */
export const LIBBPF_MAP_TYPE_NAMES: readonly string[] = MAP_TYPE_NAMES.slice(0, BPF_MAP_TYPE_USER_RINGBUF + 1);

/** libbpf_bpf_map_type_str(): the name, or null for a type libbpf 1.1 does not know. */
export function mapTypeStr(type: number): string | null {
  return type >= 0 && type < LIBBPF_MAP_TYPE_NAMES.length ? LIBBPF_MAP_TYPE_NAMES[type] : null;
}

/** show_map_header_plain(): `ID: TYPE  name NAME  flags 0x..` and a newline. */
export function showMapHeaderPlain(ctx: CliContext, info: MapInfo): void {
  const t = mapTypeStr(info.type);
  let s = `${info.id}: ${t !== null ? `${t}  ` : `type ${info.type}  `}`;
  if (info.name) s += `name ${info.name}  `;
  s += `flags 0x${(info.mapFlags >>> 0).toString(16)}\n`;
  ctx.out.print(s);
}

/** show_map_header_json(): id, type, name, flags (as a signed int). */
export function showMapHeaderJson(info: MapInfo, jw: JsonWriter): void {
  jw.uintField("id", info.id);
  const t = mapTypeStr(info.type);
  if (t !== null) jw.stringField("type", t);
  else jw.uintField("type", info.type);
  if (info.name) jw.stringField("name", info.name);
  jw.name("flags");
  jw.printf(String(info.mapFlags | 0));
}

/** Per-call state of do_show: the -f table (null without -f). */
type PinTable = Map<number, string[]> | null;

/** show_map_close_json() */
function showMapCloseJson(ctx: CliContext, fd: number, info: MapInfo, pins: PinTable): void {
  const jw = ctx.out.json!;
  // get_fdinfo(fd, "memlock") / "frozen"
  const fdinfo = bpfMapGetInfo(ctx, fd);
  jw.startObject();
  showMapHeaderJson(info, jw);
  jw.uintField("bytes_key", info.keySize);
  jw.uintField("bytes_value", info.valueSize);
  jw.uintField("max_entries", info.maxEntries);
  if (typeof fdinfo !== "number") jw.intField("bytes_memlock", fdinfo.memlock);
  close(ctx, fd);
  jw.intField("frozen", typeof fdinfo !== "number" && fdinfo.frozen ? 1 : 0);
  if (pins && pins.size) {
    jw.name("pinned");
    jw.startArray();
    for (const p of pins.get(info.id) ?? []) jw.string(p);
    jw.endArray();
  }
  jw.endObject();
}

/** show_map_close_plain() */
function showMapClosePlain(ctx: CliContext, fd: number, info: MapInfo, pins: PinTable): void {
  const fdinfo = bpfMapGetInfo(ctx, fd);
  showMapHeaderPlain(ctx, info);
  let s = `\tkey ${info.keySize}B  value ${info.valueSize}B  max_entries ${info.maxEntries}`;
  if (typeof fdinfo !== "number") s += `  memlock ${fdinfo.memlock}B`;
  close(ctx, fd);
  if (pins && pins.size) { for (const p of pins.get(info.id) ?? []) s += `\n\tpinned ${p}`; }
  const frozen = typeof fdinfo !== "number" && fdinfo.frozen;
  if (frozen) s += "\n\tfrozen";
  ctx.out.print(s + "\n");
}

function showMapClose(ctx: CliContext, fd: number, info: MapInfo, pins: PinTable): void {
  if (ctx.out.json) showMapCloseJson(ctx, fd, info, pins);
  else showMapClosePlain(ctx, fd, info, pins);
}

/** do_show_subset(): the maps of one handle (an object, or an array for several). */
function doShowSubset(ctx: CliContext, args: Args, pins: PinTable): number {
  const fds = mapParseFds(ctx, args);
  if (fds === -1 || fds.length < 1) return -1;
  const jw = ctx.out.json;
  let err = -1;
  if (jw && fds.length > 1) jw.startArray();
  for (let i = 0; i < fds.length; i++) {
    const info = bpfMapGetInfo(ctx, fds[i]);
    if (typeof info === "number") {
      err = info;
      ctx.out.pErr(`can't get map info: ${strerror(ctx.errno)}`);
      for (; i < fds.length; i++) close(ctx, fds[i]);
      break;
    }
    err = 0;
    showMapClose(ctx, fds[i], info, pins);
    close(ctx, fds[i]); // bpftool closes it a second time (EBADF, seen by batch mode)
  }
  if (jw && fds.length > 1) jw.endArray();
  return err;
}

/** do_show(): `map show [MAP]`. */
export function doShow(ctx: CliContext, args: Args): number {
  const pins = ctx.flags.bpffs ? buildPinnedObjTable(ctx, "map") : null;
  if (args.argc === 2) return doShowSubset(ctx, args, pins);
  if (args.argc) return badArg(ctx, args);
  const jw = ctx.out.json;
  if (jw) jw.startArray();
  let id = 0;
  for (;;) {
    const next = bpfMapGetNextId(ctx, id);
    if (next < 0) {
      if (ctx.errno === ENOENT) break;
      ctx.out.pErr(`can't get next map: ${strerror(ctx.errno)}${ctx.errno === EINVAL ? " -- kernel too old?" : ""}`);
      break;
    }
    id = next;
    const fd = bpfMapGetFdById(ctx, id);
    if (fd < 0) {
      if (ctx.errno === ENOENT) continue;
      ctx.out.pErr(`can't get map by id (${id}): ${strerror(ctx.errno)}`);
      break;
    }
    const info = bpfMapGetInfo(ctx, fd);
    if (typeof info === "number") {
      ctx.out.pErr(`can't get map info: ${strerror(ctx.errno)}`);
      close(ctx, fd);
      break;
    }
    showMapClose(ctx, fd, info, pins);
  }
  if (jw) jw.endArray();
  return ctx.errno === ENOENT ? 0 : -1;
}
