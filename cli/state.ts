// The persisted kernel of one-shot mode. One directory holds the snapshot
// (kernel.state) and a lock file. Every command takes the lock exclusively
// for its whole run (load, execute, save), so concurrent one-shot commands
// serialise like processes taking turns at a syscall. Saves are atomic:
// write a temporary file, fsync it, rename it over the old one. A damaged
// or unreadable state is reported with its path and left untouched.

import type { Kernel } from "../lib/kernel/kernel.ts";
import { loadKernel, saveKernel } from "../lib/kernel/kernel_state.ts";
import { SnapshotError } from "../lib/kernel/snapshot.ts";

import { defaultStateDir, join, LOCK_FILE, STATE_FILE } from "./paths.ts";

export { defaultStateDir, STATE_FILE };

/** A state problem the user must see (damaged file, unwritable dir). */
export class StateError extends Error {}

/** An open, locked state directory. */
export class StateDir {
  private constructor(readonly dir: string, private readonly lock: Deno.FsFile) {}

  /** Creates the directory if needed and takes the exclusive lock (waits for it). */
  static open(dir: string): StateDir {
    try {
      Deno.mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new StateError(`cannot create state directory ${dir}: ${(e as Error).message}`);
    }
    let f: Deno.FsFile;
    try {
      f = Deno.openSync(join(dir, LOCK_FILE), { read: true, write: true, create: true });
    } catch (e) {
      throw new StateError(`cannot open ${join(dir, LOCK_FILE)}: ${(e as Error).message}`);
    }
    f.lockSync(true);
    return new StateDir(dir, f);
  }

  /** Path of the snapshot. */
  get file(): string {
    return join(this.dir, STATE_FILE);
  }

  /** True when a snapshot exists. */
  exists(): boolean {
    try {
      Deno.statSync(this.file);
      return true;
    } catch {
      return false;
    }
  }

  /** Loads the kernel; a damaged file is a StateError naming it. */
  load(): Kernel {
    let data: Uint8Array;
    try {
      data = Deno.readFileSync(this.file);
    } catch (e) {
      throw new StateError(`cannot read state file ${this.file}: ${(e as Error).message}`);
    }
    try {
      return loadKernel(data);
    } catch (e) {
      if (e instanceof SnapshotError || e instanceof SyntaxError || e instanceof TypeError) {
        throw new StateError(
          `state file ${this.file} is damaged (${(e as Error).message}); it was left untouched. ` +
            "Start over with: bpfsim kernel config --yes",
        );
      }
      throw e;
    }
  }

  /** Saves atomically: temp file, fsync, rename. */
  save(k: Kernel): void {
    const data = saveKernel(k);
    const tmp = join(this.dir, `${STATE_FILE}.tmp.${Deno.pid}`);
    try {
      const f = Deno.openSync(tmp, { write: true, create: true, truncate: true });
      try {
        let off = 0;
        while (off < data.length) off += f.writeSync(data.subarray(off));
        f.syncSync();
      } finally {
        f.close();
      }
      Deno.renameSync(tmp, this.file);
    } catch (e) {
      try {
        Deno.removeSync(tmp);
      } catch { /* nothing to clean up */ }
      throw new StateError(`cannot save state to ${this.file}: ${(e as Error).message}`);
    }
  }

  /** Removes the snapshot (kernel config starts over). */
  reset(): void {
    try {
      Deno.removeSync(this.file);
    } catch { /* already absent */ }
  }

  /** Releases the lock. */
  close(): void {
    try {
      this.lock.unlockSync();
    } finally {
      this.lock.close();
    }
  }
}
