// bpfsim's entry point. Kept small: when a `bpfsim serve` holds the kernel
// of the state directory, a one-shot command only parses its options and
// asks the server over its Unix socket; otherwise (or for the shell and the
// server itself) it loads the simulator and runs the command in this
// process (oneshot.ts).

import { parseGlobal } from "./options.ts";
import { defaultStateDir } from "./paths.ts";
import { viaServer } from "./client.ts";
import { processSink, type Sink } from "./sink.ts";

export { processSink, type Sink } from "./sink.ts";

/** Runs one command line; returns the exit status. */
export async function main(argv: string[], sink: Sink = processSink): Promise<number> {
  const p = parseGlobal(argv);
  if (p.ok && !p.opts.version && !p.opts.help && p.args[0] !== "shell" && p.args[0] !== "serve") {
    const rc = await viaServer(p.opts.state ?? defaultStateDir(), argv, sink);
    if (rc !== null) return rc;
  }
  // a computed specifier: the simulator is not loaded when a server answered
  const url = new URL("./oneshot.ts", import.meta.url).href;
  const { oneShotMain } = await import(url) as { oneShotMain: (a: string[], s: Sink) => Promise<number> };
  return oneShotMain(argv, sink);
}

if (import.meta.main) {
  let rc: number;
  try {
    rc = await main(Deno.args);
  } catch (e) {
    // no stack trace ever reaches a user
    processSink.write(2, `Error: internal error in bpfsim: ${(e as Error).message}\n`);
    rc = 255;
  }
  Deno.exit(rc);
}
