// Names in the state directory, kept free of kernel imports so that the
// one-shot entry can find a running server without loading the simulator.

/** The snapshot of the kernel. */
export const STATE_FILE = "kernel.state";
/** The lock every writer of the state takes. */
export const LOCK_FILE = "lock";
/** The Unix socket of `bpfsim serve`. */
export const SERVER_SOCKET = "server.sock";

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
