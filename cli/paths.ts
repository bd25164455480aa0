// Names in the state directory, kept free of kernel imports so that the
// one-shot entry can find a running server without loading the simulator.

/** The snapshot of the kernel. */
export const STATE_FILE = "kernel.state";
/** The lock every writer of the state takes. */
export const LOCK_FILE = "lock";
/** The Unix socket of `bpfsim serve`. */
export const SERVER_SOCKET = "server.sock";

/** sun_path holds 108 bytes with its NUL; longer paths cannot be bound. */
const SUN_PATH_MAX = 107;

/**
 * Where the server of a state directory listens: `DIR/server.sock`, or, when
 * that path is too long for a Unix socket, a name in /tmp derived from DIR
 * (FNV-1a), so that client and server agree without asking anyone.
 */
export function serverSocket(dir: string): string {
  const p = join(dir, SERVER_SOCKET);
  if (new TextEncoder().encode(p).length <= SUN_PATH_MAX) return p;
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(dir)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return `/tmp/bpfsim-${h.toString(16).padStart(8, "0")}.sock`;
}

/** path.join for the few joins here (no node:path: it costs one-shot startup time). */
export function join(...parts: string[]): string {
  return parts.join("/").replace(/\/{2,}/g, "/");
}

/** The default state directory: $BPFSIM_STATE, else $XDG_STATE_HOME/bpfsim, else ~/.local/state/bpfsim. */
export function defaultStateDir(): string {
  const env = Deno.env.get("BPFSIM_STATE");
  if (env) return env;
  const xdg = Deno.env.get("XDG_STATE_HOME");
  if (xdg) return join(xdg, "bpfsim");
  return join(Deno.env.get("HOME") ?? ".", ".local", "state", "bpfsim");
}
