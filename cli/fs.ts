// bpfsim's `fs` object: the simulated bpffs at /sys/fs/bpf, as ls, rm and
// mkdir see it on a real system. Removing the last pin of an otherwise
// unreferenced map frees it (after the deferred free runs).

import { BPFFS_MOUNT } from "../lib/bpf/inode.ts";
import { strerror } from "../lib/kernel/errno.ts";
import { type Args, badArg, type Cmd, cmdSelect, renderUsage } from "./cmd.ts";
import type { CliContext } from "./context.ts";

/** Runs bpffs code as this command's process (unlink may free a map). */
function onCpu<T>(ctx: CliContext, fn: () => T): T {
  const r = ctx.k.exec(ctx.sys.proc.cpu, fn, { comm: ctx.sys.proc.comm, pid: ctx.sys.proc.pid });
  if (typeof r === "symbol") throw new Error("CPU locked up");
  return r;
}

/** fs ls [DIR] */
function doLs(ctx: CliContext, args: Args): number {
  if (args.argc > 1) return badArg(ctx, args.sub(1));
  const dir = args.cur ?? BPFFS_MOUNT;
  const fs = ctx.k.bpf.fs;
  const st = fs.stat(dir);
  if (st === "pin") {
    if (ctx.out.json) {
      ctx.out.json.startArray();
      ctx.out.json.startObject();
      ctx.out.json.textField("name", dir);
      ctx.out.json.textField("type", "map");
      ctx.out.json.endObject();
      ctx.out.json.endArray();
    } else ctx.out.print(`${dir}\n`);
    return 0;
  }
  const list = fs.list(dir);
  if (typeof list === "number") {
    ctx.out.pErr(`cannot access '${dir}': ${strerror(list)}`);
    return -1;
  }
  const jw = ctx.out.json;
  if (jw) {
    jw.startArray();
    for (const e of list) {
      jw.startObject();
      jw.textField("name", e.name);
      jw.textField("type", e.kind);
      jw.endObject();
    }
    jw.endArray();
    return 0;
  }
  for (const e of list) ctx.out.print(`${e.name}${e.kind === "dir" ? "/" : ""}\n`);
  return 0;
}

/**
 * fs rm [recursive] PATH (a keyword, not -r: global options are permuted
 * out of the command line as bpftool's getopt does).
 */
function doRm(ctx: CliContext, args: Args): number {
  let recursive = false;
  if (args.argc > 1 && args.cur && "recursive".startsWith(args.cur)) {
    recursive = true;
    args = args.sub(1);
  }
  if (args.argc !== 1) {
    if (args.argc === 0) {
      ctx.out.pErr("missing operand");
      return -1;
    }
    return badArg(ctx, args.sub(1));
  }
  const path = args.cur!;
  const fs = ctx.k.bpf.fs;
  const rm = (p: string): number => {
    if (fs.stat(p) === "dir" && recursive) {
      const list = fs.list(p);
      if (typeof list === "number") return list;
      for (const e of list) {
        const r = rm(`${p.replace(/\/+$/, "")}/${e.name}`);
        if (r) return r;
      }
      return onCpu(ctx, () => fs.rmdir(p));
    }
    return onCpu(ctx, () => fs.unlink(p));
  };
  const r = rm(path);
  if (r) {
    ctx.out.pErr(`cannot remove '${path}': ${strerror(r)}`);
    return -1;
  }
  if (ctx.out.json) ctx.out.jsonNull();
  return 0;
}

/** fs mkdir DIR */
function doMkdir(ctx: CliContext, args: Args): number {
  if (args.argc !== 1) {
    if (args.argc === 0) {
      ctx.out.pErr("missing operand");
      return -1;
    }
    return badArg(ctx, args.sub(1));
  }
  const r = onCpu(ctx, () => ctx.k.bpf.fs.mkdir(args.cur!));
  if (r) {
    ctx.out.pErr(`cannot create directory '${args.cur}': ${strerror(r)}`);
    return -1;
  }
  if (ctx.out.json) ctx.out.jsonNull();
  return 0;
}

function doHelp(ctx: CliContext, _args: Args): number {
  if (ctx.out.json) {
    ctx.out.jsonNull();
    return 0;
  }
  ctx.out.eprint(
    renderUsage(ctx.binName, "fs", FS_CMDS) +
      `       ${ctx.binName} fs help\n\n` +
      `       DIR and PATH are paths in bpffs (${BPFFS_MOUNT}).\n`,
  );
  return 0;
}

/** The `fs` command table. */
export const FS_CMDS: readonly Cmd[] = [
  { name: "ls", fn: doLs, args: "[DIR]", helpRank: 0 },
  { name: "rm", fn: doRm, args: "[recursive] PATH", helpRank: 1 },
  { name: "mkdir", fn: doMkdir, args: "DIR", helpRank: 2 },
  { name: "help", fn: doHelp },
];

/** `fs ...` */
export function doFs(ctx: CliContext, args: Args): number {
  return cmdSelect(ctx, FS_CMDS, args, doHelp);
}
