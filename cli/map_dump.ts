// tools/bpf/bpftool/map.c: reading maps. `dump` (map_dump, dump_map_elem,
// print_entry_error), `lookup` / `peek` (do_lookup), `getnext`, `pop` /
// `dequeue`, and the plain and JSON entry printers. bpfsim maps carry no
// BTF, so the BTF-formatted variants never apply.

import type { MapInfo } from "../lib/bpf/syscall.ts";
import { ENOENT, ENOSPC, strerror } from "../lib/kernel/errno.ts";
import { BPF_MAP_TYPE_REUSEPORT_SOCKARRAY } from "../lib/bpf/uapi.ts";
import { type Args, usage } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { fprintHex, printHexDataJson } from "./hex.ts";
import type { JsonWriter } from "./json_writer.ts";
import { bpfMapGetInfo, bpfMapGetNextKey, bpfMapLookupAndDeleteElem, bpfMapLookupElem, close } from "./libbpf.ts";
import {
  allocValue,
  mapIsMapOfMaps,
  mapIsMapOfProgs,
  mapIsPerCpu,
  mapParseFdAndInfo,
  mapParseFds,
  parseElem,
  perCpuStride,
  possibleCpus,
} from "./map_parse.ts";
import { mapTypeStr, showMapHeaderJson, showMapHeaderPlain } from "./map_show.ts";

/** print_entry_json() */
export function printEntryJson(ctx: CliContext, info: MapInfo, key: Uint8Array | null, value: Uint8Array): void {
  const jw = ctx.out.json!;
  const k = key ?? new Uint8Array(0);
  jw.startObject();
  if (!mapIsPerCpu(info.type)) {
    jw.name("key");
    printHexDataJson(jw, k, info.keySize);
    jw.name("value");
    printHexDataJson(jw, value, info.valueSize);
  } else {
    const n = possibleCpus(ctx);
    const step = perCpuStride(info.valueSize);
    jw.name("key");
    printHexDataJson(jw, k, info.keySize);
    jw.name("values");
    jw.startArray();
    for (let i = 0; i < n; i++) {
      jw.startObject();
      jw.intField("cpu", i);
      jw.name("value");
      printHexDataJson(jw, value.subarray(i * step), info.valueSize);
      jw.endObject();
    }
    jw.endArray();
  }
  jw.endObject();
}

/** print_entry_plain() */
export function printEntryPlain(ctx: CliContext, info: MapInfo, key: Uint8Array | null, value: Uint8Array): void {
  const k = key ?? new Uint8Array(0);
  let s = "";
  if (!mapIsPerCpu(info.type)) {
    const breakNames = info.keySize > 16 || info.valueSize > 16;
    const singleLine = info.keySize + info.valueSize <= 24 && !breakNames;
    if (info.keySize) {
      s += `key:${breakNames ? "\n" : " "}${fprintHex(k, info.keySize)}${singleLine ? "  " : "\n"}`;
    }
    if (info.valueSize) s += `value:${breakNames ? "\n" : " "}${fprintHex(value, info.valueSize)}`;
    s += "\n";
  } else {
    const n = possibleCpus(ctx);
    const step = perCpuStride(info.valueSize);
    if (info.keySize) s += `key:\n${fprintHex(k, info.keySize)}\n`;
    if (info.valueSize) {
      for (let i = 0; i < n; i++) {
        s += `value (CPU ${String(i).padStart(2, "0")}):${info.valueSize > 16 ? "\n" : " "}`;
        s += `${fprintHex(value.subarray(i * step), info.valueSize)}\n`;
      }
    }
  }
  ctx.out.print(s);
}

/** print_entry_error_msg() */
function printEntryErrorMsg(ctx: CliContext, info: MapInfo, key: Uint8Array, msg: string): void {
  const msgSize = new TextEncoder().encode(msg).length;
  const breakNames = info.keySize > 16 || msgSize > 16;
  const singleLine = info.keySize + msgSize <= 24 && !breakNames;
  ctx.out.print(
    `key:${breakNames ? "\n" : " "}${fprintHex(key, info.keySize)}${singleLine ? "  " : "\n"}` +
      `value:${breakNames ? "\n" : " "}${msg}\n`,
  );
}

/** print_entry_error(): a dump entry whose lookup failed. */
function printEntryError(ctx: CliContext, info: MapInfo, key: Uint8Array, lookupErrno: number): void {
  // prog_array and map-in-map: no value simply means no entry
  if ((mapIsMapOfMaps(info.type) || mapIsMapOfProgs(info.type)) && lookupErrno === ENOENT) return;
  const jw = ctx.out.json;
  if (jw) {
    jw.startObject();
    jw.name("key");
    printHexDataJson(jw, key, info.keySize);
    jw.name("value");
    jw.startObject();
    jw.stringField("error", strerror(lookupErrno));
    jw.endObject();
    jw.endObject();
  } else {
    let msg: string | null = null;
    if (lookupErrno === ENOENT) msg = "<no entry>";
    else if (lookupErrno === ENOSPC && info.type === BPF_MAP_TYPE_REUSEPORT_SOCKARRAY) msg = "<cannot read>";
    printEntryErrorMsg(ctx, info, key, msg ?? strerror(lookupErrno));
  }
}

/** dump_map_elem(): 0 when the entry was printed, -1 when its lookup failed. */
function dumpMapElem(ctx: CliContext, fd: number, key: Uint8Array, value: Uint8Array, info: MapInfo): number {
  if (bpfMapLookupElem(ctx, fd, key, value)) {
    printEntryError(ctx, info, key, ctx.errno);
    return -1;
  }
  if (ctx.out.json) printEntryJson(ctx, info, key, value);
  else printEntryPlain(ctx, info, key, value);
  return 0;
}

/** map_dump(): one map's entries (closes fd). Returns 0 or -errno of get_next_key. */
function mapDump(ctx: CliContext, fd: number, info: MapInfo, jw: JsonWriter | null, showHeader: boolean): number {
  const key = new Uint8Array(info.keySize);
  const value = allocValue(ctx, info);
  let prevKey: Uint8Array | null = null;
  let numElems = 0;
  let err = 0;
  if (jw) {
    if (showHeader) {
      jw.startObject();
      showMapHeaderJson(info, jw);
      jw.name("elements");
    }
    jw.startArray();
  } else if (showHeader) {
    showMapHeaderPlain(ctx, info);
  }
  if (info.type === BPF_MAP_TYPE_REUSEPORT_SOCKARRAY && info.valueSize !== 8) {
    ctx.out.pInfo(`Warning: cannot read values from ${mapTypeStr(info.type)} map with value_size != 8`);
  }
  for (;;) {
    err = bpfMapGetNextKey(ctx, fd, prevKey, key);
    if (err) {
      if (ctx.errno === ENOENT) err = 0;
      break;
    }
    if (!dumpMapElem(ctx, fd, key, value, info)) numElems++;
    prevKey = key;
  }
  if (jw) {
    jw.endArray();
    if (showHeader) jw.endObject();
  } else {
    ctx.out.print(`Found ${numElems} element${numElems !== 1 ? "s" : ""}\n`);
  }
  close(ctx, fd);
  return err;
}

/** do_dump(): `map dump MAP`; a name may select several maps. */
export function doDump(ctx: CliContext, args: Args): number {
  if (args.argc !== 2) usage(ctx);
  const fds = mapParseFds(ctx, args);
  if (fds === -1 || fds.length < 1) return -1;
  // maps_have_btf(): no bpfsim map has BTF, so plain output stays plain
  const jw = ctx.out.json;
  let err = -1;
  let i = 0;
  if (jw && fds.length > 1) jw.startArray();
  for (; i < fds.length; i++) {
    const info = bpfMapGetInfo(ctx, fds[i]);
    if (typeof info === "number") {
      ctx.out.pErr(`can't get map info: ${strerror(ctx.errno)}`);
      break;
    }
    err = mapDump(ctx, fds[i], info, jw, fds.length > 1);
    if (!jw && i !== fds.length - 1) ctx.out.print("\n");
    if (err) break;
    close(ctx, fds[i]); // a second close (EBADF), as bpftool 7.1.0 does
  }
  if (jw && fds.length > 1) jw.endArray();
  for (; i < fds.length; i++) close(ctx, fds[i]);
  return err;
}

/** alloc_key_value(): null for a zero size (bpftool passes NULL then). */
function allocKeyValue(ctx: CliContext, info: MapInfo): { key: Uint8Array | null; value: Uint8Array | null } {
  return {
    key: info.keySize ? new Uint8Array(info.keySize) : null,
    value: info.valueSize ? allocValue(ctx, info) : null,
  };
}

/** print_key_value() */
function printKeyValue(ctx: CliContext, info: MapInfo, key: Uint8Array | null, value: Uint8Array | null): void {
  const v = value ?? new Uint8Array(0);
  if (ctx.out.json) printEntryJson(ctx, info, key, v);
  else printEntryPlain(ctx, info, key, v);
}

/** do_lookup(): `map lookup MAP [key DATA]`, also `map peek MAP`. */
export function doLookup(ctx: CliContext, args: Args): number {
  if (args.argc < 2) usage(ctx);
  const r = mapParseFdAndInfo(ctx, args);
  if (!r) return -1;
  const { fd, info } = r;
  const { key, value } = allocKeyValue(ctx, info);
  let err = parseElem(ctx, args, info, key, null, info.keySize, 0, { flags: null, valueFd: null });
  if (!err) {
    err = bpfMapLookupElem(ctx, fd, key, value ?? new Uint8Array(0));
    if (err) {
      if (ctx.errno === ENOENT) {
        if (ctx.out.json) ctx.out.jsonNull();
        else ctx.out.print(`key:\n${fprintHex(key ?? new Uint8Array(0), info.keySize)}\n\nNot found\n`);
      } else {
        ctx.out.pErr(`lookup failed: ${strerror(ctx.errno)}`);
      }
    } else {
      printKeyValue(ctx, info, key, value);
    }
  }
  close(ctx, fd);
  return err;
}

/** do_getnext(): `map getnext MAP [key DATA]`. */
export function doGetnext(ctx: CliContext, args: Args): number {
  if (args.argc < 2) usage(ctx);
  const r = mapParseFdAndInfo(ctx, args);
  if (!r) return -1;
  const { fd, info } = r;
  let key: Uint8Array | null = new Uint8Array(info.keySize);
  const nextkey = new Uint8Array(info.keySize);
  let err = 0;
  if (args.argc) {
    err = parseElem(ctx, args, info, key, null, info.keySize, 0, { flags: null, valueFd: null });
  } else {
    key = null;
  }
  if (!err) {
    err = bpfMapGetNextKey(ctx, fd, key, nextkey);
    if (err) {
      ctx.out.pErr(`can't get next key: ${strerror(ctx.errno)}`);
    } else if (ctx.out.json) {
      const jw = ctx.out.json;
      jw.startObject();
      if (key) {
        jw.name("key");
        printHexDataJson(jw, key, info.keySize);
      } else {
        jw.nullField("key");
      }
      jw.name("next_key");
      printHexDataJson(jw, nextkey, info.keySize);
      jw.endObject();
    } else {
      let s = key ? `key:\n${fprintHex(key, info.keySize)}\n` : "key: None\n";
      s += `next key:\n${fprintHex(nextkey, info.keySize)}\n`;
      ctx.out.print(s);
    }
  }
  close(ctx, fd);
  return err;
}

/**
 * do_pop_dequeue(): `map pop | dequeue MAP`. The key buffer of a keyed map
 * is whatever malloc() returned in bpftool; bpfsim uses zeros.
 */
export function doPopDequeue(ctx: CliContext, args: Args): number {
  if (args.argc < 2) usage(ctx);
  const r = mapParseFdAndInfo(ctx, args);
  if (!r) return -1;
  const { fd, info } = r;
  const { key, value } = allocKeyValue(ctx, info);
  const err = bpfMapLookupAndDeleteElem(ctx, fd, key, value);
  if (err) {
    if (ctx.errno === ENOENT) {
      if (ctx.out.json) ctx.out.jsonNull();
      else ctx.out.print("Error: empty map\n");
    } else {
      ctx.out.pErr(`pop failed: ${strerror(ctx.errno)}`);
    }
  } else {
    printKeyValue(ctx, info, key, value);
  }
  close(ctx, fd);
  return err;
}
