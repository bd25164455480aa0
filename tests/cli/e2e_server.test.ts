// `bpfsim serve`: the same bpftool transcripts answered through the server's
// socket (one-shot clients in this process), and the server's lifecycle as a
// user sees it: stop saves, the shell and a second server are refused, file
// mode takes over afterwards, concurrent clients are serialised.

import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import { denoRunArgs, goldens, oneShot, replay } from "./e2e_replay.ts";

/** Starts `bpfsim serve` on a state directory; resolves once it listens. */
async function startServer(state: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(["--state", state, "serve"]),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.getReader();
  let text = "";
  while (!text.includes("listening on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server did not start: ${text}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  child.stderr.cancel();
  return child;
}

/** A failed test must not leave a server behind. */
function killIfRunning(child: Deno.ChildProcess | null): void {
  if (!child) return;
  try {
    child.kill("SIGKILL");
  } catch { /* already gone */ }
}

async function stopServer(state: string, child: Deno.ChildProcess): Promise<void> {
  const r = await oneShot(["--state", state, "serve", "stop"]);
  assertEquals(r.rc, 0, r.stderr);
  assertEquals((await child.status).code, 0);
}

Deno.test("server e2e: every bpftool transcript answered through `bpfsim serve`", async () => {
  for (const g of goldens()) {
    // replay() makes its own state directory: serve it while replaying
    let child: Deno.ChildProcess | null = null;
    let served = "";
    try {
      const diffs = await replay(g, async (argv) => {
        const state = argv[1];
        if (served !== state) {
          child = await startServer(state);
          served = state;
        }
        return await oneShot(argv);
      }, async (state) => {
        if (child) await stopServer(state, child);
        child = null;
      });
      assertEquals(diffs, [], `${g.script}: ${diffs.length} steps differ:\n${diffs.join("\n")}`);
    } finally {
      killIfRunning(child);
    }
  }
});

Deno.test("server e2e: lifecycle, refusals, and file mode after stop", async () => {
  const state = await Deno.makeTempDir({ prefix: "bpfsim-srv-" });
  let child: Deno.ChildProcess | null = null;
  try {
    child = await startServer(state);
    let r = await oneShot([
      "--state",
      state,
      "map",
      "create",
      "/sys/fs/bpf/s",
      "type",
      "hash",
      "key",
      "4",
      "value",
      "4",
      "entries",
      "4",
      "name",
      "s",
    ]);
    assertEquals(r.rc, 0);
    r = await oneShot(["--state", state, "serve"]);
    assertEquals([r.rc, r.stderr], [255, `Error: a bpfsim server already runs for ${state}\n`]);
    r = await oneShot(["--state", state, "shell"]);
    assertEquals(r.rc, 255);
    assertIncludes(r.stderr, "a bpfsim server holds the kernel");
    r = await oneShot(["--state", state, "--cpus", "8", "map", "show"]);
    assertEquals(r.rc, 255);
    assertIncludes(r.stderr, "the saved kernel differs: cpus 8");
    // concurrent clients are served one at a time
    const ups = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        oneShot([
          "--state",
          state,
          "map",
          "update",
          "pinned",
          "/sys/fs/bpf/s",
          "key",
          String(i),
          "0",
          "0",
          "0",
          "value",
          "1",
          "0",
          "0",
          "0",
        ])
      ),
    );
    assertTrue(ups.every((u) => u.rc === 0));
    await stopServer(state, child);
    child = null;
    // the state was saved: file mode continues from it
    r = await oneShot(["--state", state, "map", "dump", "pinned", "/sys/fs/bpf/s"]);
    assertTrue(r.stdout.endsWith("Found 4 elements\n"), r.stdout);
    r = await oneShot(["--state", state, "serve", "stop"]);
    assertEquals([r.rc, r.stderr], [255, `Error: no bpfsim server runs for ${state}\n`]);
  } finally {
    killIfRunning(child);
    await Deno.remove(state, { recursive: true });
  }
});
