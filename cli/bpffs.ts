// tools/bpf/bpftool/common.c: opening pinned objects (open_obj_pinned*),
// pinning (mount_bpffs_for_pin, do_pin_fd, do_pin_any) and the -f table of
// pinned paths (build_pinned_obj_table, an nftw() over every bpffs mount).

import { type BpfDir, BPFFS_MOUNT } from "../lib/bpf/inode.ts";
import { EACCES, EINVAL, strerror } from "../lib/kernel/errno.ts";
import { type Args, reqArgs } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { bpfObjGet, bpfObjId, bpfObjPin, close, fdType } from "./libbpf.ts";

/**
 * glibc dirname(): what it returns and what it leaves in its (modified)
 * argument. A path without a directory part returns a static "." and is
 * left as it was.
 */
export function glibcDirname(path: string): { dir: string; left: string } {
  let last = path.lastIndexOf("/");
  if (last > 0 && last === path.length - 1) {
    let runp = last;
    while (runp !== 0 && path[runp - 1] === "/") runp--;
    if (runp !== 0) last = path.lastIndexOf("/", runp - 1);
  }
  if (last < 0) return { dir: ".", left: path };
  let runp = last;
  while (runp !== 0 && path[runp - 1] === "/") runp--;
  let cut: number;
  if (runp === 0) cut = last === 1 ? 2 : 1;
  else cut = runp;
  const d = path.slice(0, cut);
  return { dir: d, left: d };
}

/** Absolute form of a path for the simulated process (its cwd is "/"). */
function absolute(path: string): string {
  return path.startsWith("/") ? path : "/" + path;
}

/** is_bpffs(): statfs() works and says BPF_FS_MAGIC. */
export function isBpffs(ctx: CliContext, path: string): boolean {
  const fs = ctx.k.bpf.fs;
  const p = absolute(path);
  return fs.isBpffs(p) && fs.stat(p) !== null;
}

/**
 * open_obj_pinned(): an fd, or -1 after `bpf obj get (PATH): ...`. On EACCES
 * glibc's dirname() has cut PATH down to its directory before it is printed.
 */
export function openObjPinned(ctx: CliContext, path: string, quiet: boolean): number {
  const fd = bpfObjGet(ctx, path);
  if (fd >= 0) return fd;
  if (!quiet) {
    let shown = path;
    let msg = strerror(ctx.errno);
    if (ctx.errno === EACCES) {
      const { dir, left } = glibcDirname(path);
      shown = left;
      if (!isBpffs(ctx, dir)) msg = "directory not in bpf file system (bpffs)";
    }
    ctx.out.pErr(`bpf obj get (${shown}): ${msg}`);
  }
  return -1;
}

/** open_obj_pinned_any(): the fd when the pinned object is of the expected kind. */
export function openObjPinnedAny(ctx: CliContext, path: string, want: "map" | "prog" | "link"): number {
  const fd = openObjPinned(ctx, path, false);
  if (fd < 0) return -1;
  const type = fdType(ctx, fd);
  if (type !== want) {
    ctx.out.pErr(`incorrect object type: ${type}`);
    close(ctx, fd);
    return -1;
  }
  return fd;
}

/**
 * mount_bpffs_for_pin(): the pin's directory must be on bpffs. bpftool would
 * mount a new bpffs there; bpfsim has exactly one bpffs, at /sys/fs/bpf, and
 * says so instead of pretending.
 */
export function mountBpffsForPin(ctx: CliContext, name: string): number {
  const { dir } = glibcDirname(name);
  if (isBpffs(ctx, dir)) return 0;
  if (ctx.flags.nomount) {
    ctx.out.pErr("no BPF file system found, not mounting it due to --nomount option");
    return -1;
  }
  const abs = absolute(dir);
  const why = ctx.k.bpf.fs.isBpffs(abs)
    // inside the bpffs mount but missing: the first mount(2) of mnt_fs() fails like this
    ? `mount --make-private ${dir} failed: ${strerror(2)}`
    : `bpfsim has a single bpffs, at ${BPFFS_MOUNT}; mounting one on ${dir} is not simulated`;
  ctx.out.pErr(`can't mount BPF file system to pin the object (${name}): ${why}`);
  return -1;
}

/** do_pin_fd() */
export function doPinFd(ctx: CliContext, fd: number, name: string): number {
  const err = mountBpffsForPin(ctx, name);
  if (err) return err;
  const r = bpfObjPin(ctx, fd, name);
  if (r) ctx.out.pErr(`can't pin the object (${name}): ${strerror(ctx.errno)}`);
  return r;
}

/** do_pin_any(): `OBJECT FILE`, the object found by `getFd`. */
export function doPinAny(ctx: CliContext, args: Args, getFd: (ctx: CliContext, args: Args) => number): number {
  if (!reqArgs(ctx, args, 3)) return -EINVAL;
  const fd = getFd(ctx, args);
  if (fd < 0) return fd;
  const err = doPinFd(ctx, fd, args.cur ?? "");
  close(ctx, fd);
  return err;
}

/**
 * Files of the bpffs tree in nftw() order: readdir() of bpffs lists the
 * newest entry first, and nftw() descends into a directory when it meets it.
 */
function nftwFiles(dir: BpfDir, prefix: string, out: string[]): void {
  const entries = [...dir.entries].reverse();
  for (const [name, node] of entries) {
    const p = `${prefix}/${name}`;
    if (node.kind === "dir") nftwFiles(node, p, out);
    else out.push(p);
  }
}

/**
 * build_pinned_obj_table(): pinned paths by object id, in the order
 * bpftool prints them. The paths go into a libbpf hashmap keyed by id
 * (hashmap__append puts each entry at the head of its bucket, and every
 * growth of the table re-adds the entries head first, reversing each
 * bucket), so the order depends on how many pins were collected.
 */
export function buildPinnedObjTable(ctx: CliContext, want: "map" | "prog" | "link"): Map<number, string[]> {
  const table = new Map<number, string[]>();
  const files: string[] = [];
  nftwFiles(ctx.k.bpf.fs.root, BPFFS_MOUNT, files);
  let size = 0;
  let cap = 0;
  for (const path of files) {
    const fd = openObjPinned(ctx, path, true);
    if (fd < 0) continue;
    if (fdType(ctx, fd) === want) {
      const id = bpfObjId(ctx, fd);
      if (id >= 0) {
        // hashmap_needs_to_grow(): empty, or (sz + 1) * 4 / 3 > cap
        if (cap === 0 || Math.floor(((size + 1) * 4) / 3) > cap) {
          if (cap) { for (const list of table.values()) list.reverse(); }
          cap = cap ? cap * 2 : 4;
        }
        const list = table.get(id) ?? [];
        list.unshift(path);
        table.set(id, list);
        size++;
      }
    }
    close(ctx, fd);
  }
  return table;
}
