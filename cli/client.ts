// The one-shot side of `bpfsim serve`: when a server holds the kernel of the
// state directory, send it the command line (with the working directory,
// and standard input when a word is "-") and print what it answers. No
// simulator code is loaded on this path.

import { serverSocket } from "./paths.ts";
import type { Sink } from "./sink.ts";

/** A request: the argv as typed, where relative paths are, stdin for "-". */
export interface ServerRequest {
  argv?: string[];
  cwd?: string;
  stdin?: string;
  /** `bpfsim serve stop`. */
  stop?: boolean;
}

/** The answer: every write in order, and the exit status. */
export interface ServerResponse {
  chunks: { fd: 1 | 2; text: string }[];
  rc: number;
}

/** Reads a connection (or stdin) to its end. */
export async function readAll(r: { read(b: Uint8Array): Promise<number | null> }): Promise<string> {
  const buf = new Uint8Array(1 << 16);
  const dec = new TextDecoder();
  let text = "";
  for (;;) {
    const n = await r.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n), { stream: true });
  }
  return text + dec.decode();
}

/** Writes all of a string. */
export async function writeAll(w: { write(b: Uint8Array): Promise<number> }, s: string): Promise<void> {
  const b = new TextEncoder().encode(s);
  let off = 0;
  while (off < b.length) off += await w.write(b.subarray(off));
}

/** Sends one request to the server of `dir`; null when no server listens there. */
export async function ask(dir: string, req: ServerRequest): Promise<ServerResponse | null> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: serverSocket(dir) });
  } catch {
    return null;
  }
  try {
    await writeAll(conn, JSON.stringify(req) + "\n");
    await conn.closeWrite();
    return JSON.parse(await readAll(conn)) as ServerResponse;
  } catch {
    return null;
  } finally {
    conn.close();
  }
}

/** Runs argv on the server of `dir` if one runs; returns its status, or null. */
export async function viaServer(dir: string, argv: string[], sink: Sink): Promise<number | null> {
  const req: ServerRequest = { argv, cwd: Deno.cwd() };
  if (argv.includes("-") && !Deno.stdin.isTerminal()) req.stdin = await readAll(Deno.stdin);
  const res = await ask(dir, req);
  if (!res) return null;
  for (const c of res.chunks) sink.write(c.fd, c.text);
  return res.rc;
}
