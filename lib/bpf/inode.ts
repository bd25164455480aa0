// kernel/bpf/inode.c: the BPF filesystem mounted at /sys/fs/bpf. Pinning a
// map creates a file that holds a user reference; unlinking the last pin of
// an otherwise unreferenced map frees it. Names may not contain '.'.

import { EACCES, EEXIST, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY, EPERM } from "../kernel/errno.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";

/** Where bpffs is mounted. */
export const BPFFS_MOUNT = "/sys/fs/bpf";

/** A pinned object (map, later programs and links). */
export interface Pinnable {
  /** Which bpf object it is (enum bpf_type: BPF_TYPE_MAP, _PROG, _LINK). */
  readonly pinKind: "map" | "prog" | "link";
  /** bpf_any_get(): take a user reference for the pin. */
  pinGet(): void;
  /** bpf_any_put(): drop it. */
  pinPut(): void;
}

/** A bpffs directory. */
export class BpfDir {
  /** Node tag: a directory. */
  readonly kind = "dir";
  /** Children by name. */
  readonly entries: Map<string, BpfDir | BpfPin> = new Map();
}

/** A bpffs file holding an object. */
export class BpfPin {
  /** Node tag: a pinned object. */
  readonly kind = "pin";
  /** A pin of `obj` (the caller took its user reference). */
  constructor(readonly obj: Pinnable) {}
}

/** Splits an absolute path into components ("/a//b/" -> ["a","b"]). */
export function splitPath(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

const MOUNT = splitPath(BPFFS_MOUNT);

/** The bpffs instance of one kernel. */
export class BpfFs {
  /** The mount point /sys/fs/bpf. */
  readonly root: BpfDir = new BpfDir();

  /** Components below the mount point, or null when the path is outside bpffs. */
  private inside(path: string): string[] | null {
    if (!path.startsWith("/")) path = "/" + path;
    const parts = splitPath(path);
    const out: string[] = [];
    for (const p of parts) {
      if (p === "..") out.pop();
      else out.push(p);
    }
    if (out.length < MOUNT.length) return null;
    for (let i = 0; i < MOUNT.length; i++) if (out[i] !== MOUNT[i]) return null;
    return out.slice(MOUNT.length);
  }

  /** True when the path (or its parent) lies in bpffs. */
  isBpffs(path: string): boolean {
    return this.inside(path) !== null;
  }

  /** Path lookup below the mount point: the node, -ENOTDIR or -ENOENT. */
  private walk(parts: string[]): BpfDir | BpfPin | number {
    let node: BpfDir | BpfPin = this.root;
    for (const p of parts) {
      if (node.kind !== "dir") return -ENOTDIR;
      const next = node.entries.get(p);
      if (!next) return -ENOENT;
      node = next;
    }
    return node;
  }

  /** The directory that would hold `path` and the last component, or -errno (-EPERM outside bpffs). */
  private parentOf(path: string): { dir: BpfDir; name: string } | number {
    const parts = this.inside(path);
    if (parts === null) {
      // a path on some other filesystem: its directories exist, bpf files do not
      return -EPERM;
    }
    if (parts.length === 0) return -EEXIST; // the mount point itself
    const dir = this.walk(parts.slice(0, -1));
    if (typeof dir === "number") return dir;
    if (dir.kind !== "dir") return -ENOTDIR;
    return { dir, name: parts[parts.length - 1] };
  }

  /** bpf_obj_pin_user(): 0 or -errno. */
  pin(path: string, obj: Pinnable): number {
    const p = this.parentOf(path);
    if (typeof p === "number") return p;
    if (p.name.includes(".")) return -EPERM;
    if (p.dir.entries.has(p.name)) return -EEXIST;
    obj.pinGet();
    p.dir.entries.set(p.name, new BpfPin(obj));
    return 0;
  }

  /** bpf_obj_get_user(): the object, or -errno. */
  get(path: string): Pinnable | number {
    const parts = this.inside(path);
    if (parts === null) return -ENOENT;
    const node = this.walk(parts);
    if (typeof node === "number") return node;
    if (node.kind === "dir") return -EACCES;
    return node.obj;
  }

  /** mkdir(): 0 or -errno. */
  mkdir(path: string): number {
    const p = this.parentOf(path);
    if (typeof p === "number") return p === -EPERM ? -EPERM : p;
    if (p.name.includes(".")) return -EPERM;
    if (p.dir.entries.has(p.name)) return -EEXIST;
    p.dir.entries.set(p.name, new BpfDir());
    return 0;
  }

  /** unlink(): drops a pin; -EISDIR for directories. */
  unlink(path: string): number {
    const p = this.parentOf(path);
    if (typeof p === "number") return p === -EEXIST ? -EISDIR : p === -EPERM ? -ENOENT : p;
    const node = p.dir.entries.get(p.name);
    if (!node) return -ENOENT;
    if (node.kind === "dir") return -EISDIR;
    p.dir.entries.delete(p.name);
    node.obj.pinPut();
    return 0;
  }

  /** rmdir(): -ENOTEMPTY unless empty. */
  rmdir(path: string): number {
    const p = this.parentOf(path);
    if (typeof p === "number") return p === -EEXIST ? -EINVAL : p === -EPERM ? -ENOENT : p;
    const node = p.dir.entries.get(p.name);
    if (!node) return -ENOENT;
    if (node.kind !== "dir") return -ENOTDIR;
    if (node.entries.size) return -ENOTEMPTY;
    p.dir.entries.delete(p.name);
    return 0;
  }

  /** readdir(): sorted entries, or -errno. */
  list(path: string): { name: string; kind: "dir" | "map" | "prog" | "link" }[] | number {
    const parts = this.inside(path);
    if (parts === null) return -ENOENT;
    const node = this.walk(parts);
    if (typeof node === "number") return node;
    if (node.kind !== "dir") return -ENOTDIR;
    return [...node.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, n]) => ({
      name,
      kind: n.kind === "dir" ? "dir" : n.obj.pinKind,
    }));
  }

  /** Is `path` a directory, a pin, or absent. */
  stat(path: string): "dir" | "pin" | null {
    const parts = this.inside(path);
    if (parts === null) return null;
    const node = this.walk(parts);
    if (typeof node === "number") return null;
    return node.kind;
  }

  /** Every pin with its path, depth first (bpftool's -f lists). */
  pins(): { path: string; obj: Pinnable }[] {
    const out: { path: string; obj: Pinnable }[] = [];
    const rec = (dir: BpfDir, prefix: string) => {
      const names = [...dir.entries.keys()].sort();
      for (const name of names) {
        const n = dir.entries.get(name)!;
        const p = `${prefix}/${name}`;
        if (n.kind === "dir") rec(n, p);
        else out.push({ path: p, obj: n.obj });
      }
    };
    rec(this.root, BPFFS_MOUNT);
    return out;
  }
}

snapshotClasses(BpfFs, BpfDir, BpfPin);
