// tools/bpf/bpftool/map.c do_create() with common.c parse_u32_arg():
// `map create FILE type TYPE key KSIZE value VSIZE entries N name NAME
// [flags FLAGS] [inner_map MAP] [dev NAME]`, keywords in any order and by
// prefix, then the new map is pinned at FILE.

import type { MapCreateAttr } from "../lib/bpf/syscall.ts";
import { BPF_OBJ_NAME_LEN } from "../lib/bpf/uapi.ts";
import { strerror } from "../lib/kernel/errno.ts";
import { type Args, cstr, getArg, nextArg, reqArgs, usage } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { doPinFd } from "./bpffs.ts";
import { bpfMapCreate, close } from "./libbpf.ts";
import { mapParseFdAndInfo } from "./map_parse.ts";
import { isPrefix, parseUnsigned } from "./parse.ts";
import { LIBBPF_MAP_TYPE_NAMES } from "./map_show.ts";

/** map_type_from_str(): exact names only ("has" is not "hash"); -1 when unknown. */
export function mapTypeFromStr(type: string): number {
  return LIBBPF_MAP_TYPE_NAMES.indexOf(type);
}

/** parse_u32_arg(): `WORD NUMBER`, refusing a second nonzero value. */
function parseU32Arg(ctx: CliContext, args: Args, cur: number, what: string): number | null {
  nextArg(ctx, args);
  if (cur) {
    ctx.out.pErr(`${what} already specified`);
    return null;
  }
  const v = parseUnsigned(cstr(args.cur), 0, 32);
  if (v === null) {
    ctx.out.pErr(`can't parse ${cstr(args.cur)} as ${what}`);
    return null;
  }
  nextArg(ctx, args);
  return v;
}

/** libbpf_strlcpy() into bpf_attr.map_name: at most 15 bytes, cut silently. */
function truncateName(name: string): string {
  const b = new TextEncoder().encode(name);
  if (b.length < BPF_OBJ_NAME_LEN) return name;
  return new TextDecoder().decode(b.subarray(0, BPF_OBJ_NAME_LEN - 1));
}

/** do_create() */
export function doCreate(ctx: CliContext, args: Args): number {
  let mapType = 0;
  let keySize = 0;
  let valueSize = 0;
  let maxEntries = 0;
  let mapFlags = 0;
  let innerMapFd = 0;
  let mapName: string | null = null;
  if (!reqArgs(ctx, args, 7)) return -1;
  const pinfile = getArg(args)!;
  let err = -1;
  const exit = () => {
    if (innerMapFd > 0) close(ctx, innerMapFd);
    return err;
  };
  while (args.argc) {
    if (!reqArgs(ctx, args, 2)) return -1;
    if (isPrefix(args.cur, "type")) {
      nextArg(ctx, args);
      if (mapType) {
        ctx.out.pErr("map type already specified");
        return exit();
      }
      mapType = mapTypeFromStr(args.cur!);
      if (mapType < 0) {
        ctx.out.pErr(`unrecognized map type: ${args.cur}`);
        return exit();
      }
      nextArg(ctx, args);
    } else if (isPrefix(args.cur, "name")) {
      nextArg(ctx, args);
      mapName = getArg(args)!;
    } else if (isPrefix(args.cur, "key")) {
      const v = parseU32Arg(ctx, args, keySize, "key size");
      if (v === null) return exit();
      keySize = v;
    } else if (isPrefix(args.cur, "value")) {
      const v = parseU32Arg(ctx, args, valueSize, "value size");
      if (v === null) return exit();
      valueSize = v;
    } else if (isPrefix(args.cur, "entries")) {
      const v = parseU32Arg(ctx, args, maxEntries, "max entries");
      if (v === null) return exit();
      maxEntries = v;
    } else if (isPrefix(args.cur, "flags")) {
      const v = parseU32Arg(ctx, args, mapFlags, "flags");
      if (v === null) return exit();
      mapFlags = v;
    } else if (isPrefix(args.cur, "dev")) {
      nextArg(ctx, args);
      // if_nametoindex(): the simulated machine has no network devices
      ctx.out.pErr(`unrecognized netdevice '${args.cur}': No such device (bpfsim simulates no network devices)`);
      return exit();
    } else if (isPrefix(args.cur, "inner_map")) {
      nextArg(ctx, args);
      if (!reqArgs(ctx, args, 2)) usage(ctx);
      const r = mapParseFdAndInfo(ctx, args);
      if (!r) return -1;
      innerMapFd = r.fd; // a second inner_map leaks the first fd, as in bpftool
    } else {
      ctx.out.pErr(`unknown arg ${args.cur}`);
      return exit();
    }
  }
  if (mapName === null) {
    ctx.out.pErr("map name not specified");
    return exit();
  }
  const attr: MapCreateAttr = {
    mapType,
    keySize,
    valueSize,
    maxEntries,
    mapFlags,
    // libbpf probes FEAT_PROG_NAME and leaves the name out on kernels without it (< 4.15)
    name: ctx.k.features.version >= 415 ? truncateName(mapName) : "",
    innerMapFd, // 0 when not given: bpftool's zeroed bpf_attr
  };
  const fd = bpfMapCreate(ctx, attr);
  if (fd < 0) {
    ctx.out.pErr(`map create failed: ${strerror(ctx.errno)}`);
    return exit();
  }
  err = doPinFd(ctx, fd, pinfile);
  close(ctx, fd);
  if (!err) ctx.out.jsonNull();
  return exit();
}
