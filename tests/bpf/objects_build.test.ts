// The committed test objects are what their sources build to: when this
// machine has the clang the objects were built with (tests/bpf-src/
// CLANG_VERSION), tests/bpf-src/build.sh is run into a temporary directory
// and every object must come out byte-identical. Without that clang the
// test is skipped (the suite never needs clang).

import { assertEquals } from "../assert.ts";
import { SRC_DIR } from "./objects_helpers.ts";

function clangVersion(): string | null {
  try {
    const out = new Deno.Command("clang", { args: ["--version"], stdout: "piped", stderr: "null" }).outputSync();
    return out.success ? new TextDecoder().decode(out.stdout).split("\n")[0].trim() : null;
  } catch {
    return null;
  }
}

const want = Deno.readTextFileSync(new URL("CLANG_VERSION", SRC_DIR)).trim();
const have = clangVersion();

Deno.test({
  name: `committed tests/bpf-src objects match their sources (${want})`,
  ignore: have !== want,
  fn() {
    const srcDir = new URL(".", SRC_DIR).pathname;
    const sources = [...Deno.readDirSync(srcDir)].filter((e) => e.name.endsWith(".bpf.c")).map((e) => e.name).sort();
    const objects = [...Deno.readDirSync(srcDir)].filter((e) => e.name.endsWith(".bpf.o")).map((e) => e.name).sort();
    assertEquals(objects, sources.map((s) => s.replace(/\.c$/, ".o")), "one committed object per source");
    const tmp = Deno.makeTempDirSync({ prefix: "bpfsim-objs-" });
    try {
      const r = new Deno.Command("sh", { args: [`${srcDir}build.sh`, tmp], stdout: "piped", stderr: "piped" })
        .outputSync();
      assertEquals(r.success, true, new TextDecoder().decode(r.stderr));
      for (const o of objects) {
        const built = Deno.readFileSync(`${tmp}/${o}`);
        const committed = Deno.readFileSync(`${srcDir}${o}`);
        assertEquals(
          built.length === committed.length && built.every((b, i) => b === committed[i]),
          true,
          `${o} differs`,
        );
      }
    } finally {
      Deno.removeSync(tmp, { recursive: true });
    }
  },
});
