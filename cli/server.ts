// `bpfsim serve`: holds the state directory's kernel in memory and runs
// one-shot commands sent to its Unix socket, one at a time, exactly as file
// mode would (same option checks, same process per command, same output),
// saving the state atomically after every command that changed it. The
// state directory stays locked while the server runs, so nothing else writes
// it; one-shot commands find the socket and go through the server.
// `bpfsim serve stop` asks it to save and leave.

import { Kernel } from "../lib/kernel/kernel.ts";
import { ask, readAll, type ServerRequest, type ServerResponse, writeAll } from "./client.ts";
import { kernelOptions, readInput } from "./common.ts";
import { type GlobalOptions, parseGlobal } from "./options.ts";
import { join, serverSocket } from "./paths.ts";
import { defaultStateDir, StateDir, StateError } from "./state.ts";
import { fail, oneShotVersionOrError, runOn } from "./oneshot.ts";
import type { Sink } from "./sink.ts";

/** `bpfsim serve [stop]`; returns when the server stops. */
export async function runServer(opts: GlobalOptions, extra: string[], sink: Sink): Promise<number> {
  const dir = opts.state ?? defaultStateDir();
  if (extra[0] === "stop" && extra.length === 1) {
    const res = await ask(dir, { stop: true });
    if (!res) return fail(`no bpfsim server runs for ${dir}`, opts, sink);
    for (const c of res.chunks) sink.write(c.fd, c.text);
    return res.rc;
  }
  if (extra.length) return fail(`what is '${extra[0]}'?`, opts, sink);
  if (await ask(dir, {})) return fail(`a bpfsim server already runs for ${dir}`, opts, sink);
  let st: StateDir;
  try {
    st = StateDir.open(dir);
  } catch (e) {
    if (e instanceof StateError) return fail(e.message, opts, sink);
    throw e;
  }
  const path = serverSocket(dir);
  try {
    let k: Kernel;
    if (st.exists()) k = st.load();
    else {
      k = new Kernel(kernelOptions(opts));
      st.save(k);
    }
    try {
      Deno.removeSync(path); // a socket left by a server that died
    } catch { /* none */ }
    const listener = Deno.listen({ transport: "unix", path });
    sink.write(
      2,
      `bpfsim serve: ${k.config.profile.name}${
        k.config.preemptRt ? "-rt" : ""
      } kernel of ${dir}, listening on ${path}\n`,
    );
    const stop = () => {
      try {
        listener.close();
      } catch { /* closed */ }
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    try {
      for await (const conn of listener) {
        let req: ServerRequest;
        try {
          req = JSON.parse(await readAll(conn));
        } catch {
          conn.close();
          continue;
        }
        let res: ServerResponse;
        if (req.stop) {
          res = { chunks: [{ fd: 2, text: `bpfsim serve: stopped; the kernel is saved in ${st.file}\n` }], rc: 0 };
        } else if (!req.argv) {
          res = { chunks: [], rc: 0 }; // a probe
        } else {
          const r = handle(st, k, req);
          k = r.k;
          res = r.res;
        }
        try {
          await writeAll(conn, JSON.stringify(res));
        } catch { /* the client went away */ }
        conn.close();
        if (req.stop) break;
      }
    } catch (e) {
      // a signal closed the listener under the loop
      if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted)) throw e;
    } finally {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
    }
    st.save(k);
    return 0;
  } finally {
    try {
      Deno.removeSync(path);
    } catch { /* gone */ }
    st.close();
  }
}

/** Runs one request on the in-memory kernel. */
function handle(st: StateDir, k: Kernel, req: ServerRequest): { k: Kernel; res: ServerResponse } {
  const chunks: ServerResponse["chunks"] = [];
  const sink: Sink = {
    write: (fd, text) => {
      const last = chunks[chunks.length - 1];
      if (last && last.fd === fd) last.text += text;
      else chunks.push({ fd, text });
    },
  };
  const argv = req.argv!;
  const early = oneShotVersionOrError(argv, sink);
  if (early !== null) return { k, res: { chunks, rc: early } };
  const p = parseGlobal(argv);
  if (!p.ok) return { k, res: { chunks, rc: 255 } }; // handled above
  const cwd = req.cwd ?? "/";
  const reader = (path: string) => {
    if (path === "-") return req.stdin ?? "";
    return readInput(path.startsWith("/") ? path : join(cwd, path));
  };
  try {
    const r = runOn({ k, fresh: false, save: (kk) => st.save(kk), readInput: reader, cwd }, p.opts, p.args, sink);
    return { k: r.k, res: { chunks, rc: r.rc } };
  } catch (e) {
    if (e instanceof StateError) return { k, res: { chunks, rc: fail(e.message, p.opts, sink) } };
    sink.write(2, `Error: internal error in bpfsim: ${(e as Error).message}\n`);
    return { k, res: { chunks, rc: 255 } };
  }
}
