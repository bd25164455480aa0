// batch.ts pieces: fgets() chunking and make_args() word splitting.

import { assertEquals } from "../assert.ts";
import { BATCH_LINE_LEN_MAX, LineReader, makeArgs, splitCommandLine } from "../../cli/batch.ts";
import { newContext } from "../../cli/context.ts";
import { withKernel } from "../helpers.ts";
import { run } from "./harness.ts";

Deno.test("fgets: lines keep their newline, long lines come in 65535-character chunks, NUL ends a C string", () => {
  const r = new LineReader("ab\n" + "x".repeat(70000) + "\nc\0d\ne");
  assertEquals(r.fgets(), "ab\n");
  assertEquals(r.fgets()!.length, BATCH_LINE_LEN_MAX - 1);
  assertEquals(r.fgets(), "x".repeat(70000 - 65535) + "\n");
  assertEquals(r.fgets(), "c");
  assertEquals(r.fgets(), "e");
  assertEquals(r.fgets(), null);
});

Deno.test("make_args: blanks split, quotes start words only at their start, errors name the command number", () => {
  withKernel({}, (k) => {
    const ctx = newContext({ k, sys: k.sys });
    assertEquals(makeArgs(ctx, " map\tshow \r\n", 4096, 0), ["map", "show"]);
    assertEquals(makeArgs(ctx, `a 'b c' "d'e" x"y"z "g_"b1 ''`, 4096, 0), ["a", "b c", "d'e", 'x"y"z', "g_", "b1", ""]);
    assertEquals(makeArgs(ctx, "a b c", 3, 5), -1);
    assertEquals(makeArgs(ctx, "a 'b", 4096, 7), -1);
    assertEquals(
      ctx.out.stderr,
      "Error: too many arguments to command 5\nError: unterminated quoted string in command 7\n",
    );
  });
});

Deno.test("batch: stdin ('-'), nested batches, and errno left by a double close()", () => {
  withKernel({}, (k) => {
    const P = "/sys/fs/bpf/zz_b";
    assertEquals(
      run(k, ["-n", "map", "create", P, "type", "array", "key", "4", "value", "4", "entries", "1", "name", "b"]).rc,
      0,
    );
    const files = { "-": `map lookup pinned ${P} key 0 0 0 0\n`, "/n": "batch file -\nversion\n" };
    const r = run(k, ["batch", "file", "/n"], { files });
    assertEquals(r.rc, 0);
    assertEquals(r.stdout.split("\n").filter((l) => l.startsWith("processed")), [
      "processed 1 commands",
      "processed 2 commands",
    ]);
    // `map show pinned` closes its fd twice: EBADF is still errno when the batch ends
    const s = run(k, ["batch", "file", "/s"], { files: { "/s": `map show pinned ${P}\nversion\n` } });
    assertEquals([s.rc, s.stderr], [255, "Error: reading batch file failed: Bad file descriptor\n"]);
    // ...unless a later command leaves ENOENT there (map show ends its id walk with it)
    const t = run(k, ["batch", "file", "/s"], { files: { "/s": `map show pinned ${P}\nmap show\n` } });
    assertEquals([t.rc, t.stderr], [0, ""]);
  });
});

Deno.test("splitCommandLine: the batch splitter for the shell, comments cut, errors returned", () => {
  assertEquals(splitCommandLine(`map lookup pinned "/sys/fs/bpf/a b" key 1 0 0 0 # note`), [
    "map",
    "lookup",
    "pinned",
    "/sys/fs/bpf/a b",
    "key",
    "1",
    "0",
    "0",
    "0",
  ]);
  assertEquals(splitCommandLine("map show 'x"), { error: "unterminated quoted string in command 0" });
  assertEquals(splitCommandLine("  # only a comment"), []);
});
