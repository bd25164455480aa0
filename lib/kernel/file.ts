// Files and file descriptor tables (fs/file.c, fs/file_table.c): a process
// holds fds; each fd refers to a File; the File releases its object when
// the last reference goes (fput -> ->release()). Like a real process, a
// simulated one closes everything when it exits.

import { EBADF, EMFILE } from "./errno.ts";
import { snapshotClasses } from "./snapshot.ts";

/** FMODE_CAN_READ / FMODE_CAN_WRITE */
export const FMODE_CAN_READ = 1;
export const FMODE_CAN_WRITE = 2;

/** What a File points at; `release` runs when the last reference drops. */
export interface FileObject {
  /** Kind of anonymous inode ("bpf-map", "bpf-prog", ...). */
  readonly fileKind: string;
  /** The file's ->release(): the last reference to `file` went (fput). */
  release(file: File): void;
}

/** An open file description. */
export class File {
  /** file->f_count: fds and other holders of this file. */
  refs = 1;
  /** A file for `obj` opened with `mode` (FMODE_CAN_READ | FMODE_CAN_WRITE bits), one reference. */
  constructor(readonly obj: FileObject, readonly mode: number) {}
}

/** RLIMIT_NOFILE default soft limit. */
export const NR_OPEN_DEFAULT = 1024;

/** A process: pid, comm, the CPU it runs on, and its fd table. */
export class Process {
  private readonly fds: (File | undefined)[] = [];
  /** Set once exit() closed every fd. */
  exited = false;

  /** Process `pid` named `comm` running on CPU `cpu`, with no fds open. */
  constructor(readonly pid: number, readonly comm: string, public cpu: number) {}

  /** Installs a file at the lowest free fd >= 3 (0-2 are stdio). */
  install(file: File): number {
    for (let fd = 3; fd < NR_OPEN_DEFAULT; fd++) {
      if (this.fds[fd] === undefined) {
        this.fds[fd] = file;
        return fd;
      }
    }
    return -EMFILE;
  }

  /** The file at fd, or undefined. */
  get(fd: number): File | undefined {
    return Number.isInteger(fd) && fd >= 0 ? this.fds[fd] : undefined;
  }

  /** close(fd): 0 or -EBADF. */
  close(fd: number): number {
    const f = this.get(fd);
    if (!f) return -EBADF;
    this.fds[fd] = undefined;
    fput(f);
    return 0;
  }

  /** Open fds. */
  openFds(): number[] {
    const out: number[] = [];
    this.fds.forEach((f, i) => f && out.push(i));
    return out;
  }

  /** exit(): closes every fd. */
  exit(): void {
    for (const fd of this.openFds()) this.close(fd);
    this.exited = true;
  }
}

/** fput(): drops a reference; the last one releases the object. */
export function fput(f: File): void {
  if (--f.refs === 0) f.obj.release(f);
}

/** -EBADF helper for callers that validated nothing else. */
export const BAD_FD = -EBADF;

snapshotClasses(Process, File);
