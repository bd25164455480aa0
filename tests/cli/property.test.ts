// Property tests of the command layer: random token sequences built from
// bpftool's vocabulary never make dispatch() throw, always give an exit
// status in 0..255 and JSON output ending in exactly one newline (bpftool's
// JSON is not always valid: `"output": }` for a command that printed nothing,
// `\'` escapes, unescaped error text; bpfsim keeps that), and a
// rejected command (nonzero status) leaves the kernel as it was: same maps,
// same contents, same pins, same frozen flags.

import fc from "fast-check";
import { assert, assertEquals, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import type { BpfMap } from "../../lib/bpf/map.ts";
import { leakCheck } from "../helpers.ts";
import { run } from "./harness.ts";

const P = "/sys/fs/bpf/zz_prop";

/** Maps every case starts with (no LRU: a failing LRU update may evict, as the kernel does). */
const SETUP = [
  `-n map create ${P}_h type hash key 4 value 8 entries 4 name zz_h flags 64`,
  `-n map create ${P}_a type array key 4 value 4 entries 4 name zz_a`,
  `-n map create ${P}_pa type percpu_array key 4 value 4 entries 2 name zz_pa`,
  `-n map create ${P}_ph type percpu_hash key 4 value 4 entries 2 name zz_ph`,
  `-n map create ${P}_q type queue key 0 value 4 entries 2 name zz_q`,
  `-n map create ${P}_s type stack key 0 value 4 entries 2 name zz_s`,
  `-n map create ${P}_rb type ringbuf key 0 value 0 entries 4096 name zz_rb`,
  `-n map create ${P}_aom type array_of_maps key 4 value 4 entries 2 name zz_aom inner_map pinned ${P}_a`,
  `map update pinned ${P}_h key 1 0 0 0 value 1 0 0 0 0 0 0 0`,
  `map update pinned ${P}_h key 2 0 0 0 value 2 0 0 0 0 0 0 0`,
  `map update pinned ${P}_a key 1 0 0 0 value 7 0 0 0`,
  `map update pinned ${P}_ph key 1 0 0 0 value 7 0 0 0`,
  `map push pinned ${P}_q value 1 0 0 0`,
  `map push pinned ${P}_s value 1 0 0 0`,
  `map update pinned ${P}_aom key 0 0 0 0 value pinned ${P}_a`,
];

function setup(): Kernel {
  const k = new Kernel({ cpus: 2 });
  for (const line of SETUP) {
    const r = run(k, line.split(" "));
    assertEquals(r.rc, 0, `setup failed: ${line}\n${r.stderr}${r.stdout}`);
  }
  return k;
}

/** Everything a rejected command must leave alone. */
function snapshot(k: Kernel): string {
  const sys = k.spawn("snapshot", 0);
  const maps = k.bpf.allMaps().map((m: BpfMap) => {
    const fd = sys.mapGetFdById(m.id);
    const entries: string[] = [];
    const vsize = m.sysValueSize();
    let key: Uint8Array | null = null;
    const next = new Uint8Array(m.keySize);
    for (let i = 0; i < 64 && sys.mapGetNextKey(fd, key, next) === 0; i++) {
      const v = new Uint8Array(vsize);
      const r = sys.mapLookupElem(fd, next, v);
      entries.push(`${next.join(",")}=${r === 0 ? v.join(",") : r}`);
      key = next.slice();
    }
    if (m.keySize === 0 && vsize > 0) {
      const v = new Uint8Array(vsize);
      entries.push(`peek=${sys.mapLookupElem(fd, null, v)}:${v.join(",")} n=${m.elemCount()}`);
    }
    sys.close(fd);
    return `${m.id} ${m.typeName} ${m.name} flags=${m.mapFlags} frozen=${m.frozen} [${entries.join(" ")}]`;
  });
  sys.exit();
  const pins = k.bpf.fs.pins().map((p) => `${p.path}->${(p.obj as unknown as BpfMap).id}`);
  return [...maps, ...pins].join("\n");
}

const PATHS = [`${P}_h`, `${P}_a`, `${P}_pa`, `${P}_ph`, `${P}_q`, `${P}_s`, `${P}_rb`, `${P}_aom`, `${P}_new`];
const WORDS = [
  // objects and commands (with prefixes)
  "map",
  "m",
  "help",
  "h",
  "batch",
  "file",
  "version",
  "prog",
  "show",
  "list",
  "s",
  "dump",
  "d",
  "update",
  "u",
  "lookup",
  "lo",
  "getnext",
  "g",
  "delete",
  "de",
  "pin",
  "p",
  "event_pipe",
  "create",
  "c",
  "peek",
  "pe",
  "push",
  "enqueue",
  "pop",
  "dequeue",
  "deq",
  "freeze",
  "f",
  // handles and keywords
  "id",
  "i",
  "name",
  "na",
  "pinned",
  "pin",
  "key",
  "k",
  "value",
  "v",
  "hex",
  "any",
  "exist",
  "noexist",
  "e",
  "n",
  "type",
  "t",
  "entries",
  "flags",
  "inner_map",
  "dev",
  "cpu",
  "index",
  // values
  "0",
  "1",
  "2",
  "3",
  "4",
  "7",
  "8",
  "16",
  "255",
  "256",
  "-1",
  "0x10",
  "08",
  "0x",
  "abc",
  "",
  " 1",
  "1024",
  "64",
  "4096",
  "zz_h",
  "zz_a",
  "zz_q",
  "zz_pa",
  "zz_nope",
  "zz_name_too_long_x",
  "hash",
  "array",
  "queue",
  "stack",
  "percpu_hash",
  "lru_hash",
  "ringbuf",
  "array_of_maps",
  "has",
  "/sys/fs/bpf",
  "/tmp/x",
  "/sys/fs/bpf/zz_prop.x",
  ...PATHS,
];

const OPTS = fc.subarray(["-j", "-p", "-f", "-n"], { minLength: 0, maxLength: 2 });
const TOKENS = fc.array(fc.constantFrom(...WORDS), { minLength: 0, maxLength: 14 });

/** A command line biased toward valid shapes: `map SUBCMD HANDLE ...`. */
const LINE = fc.oneof(
  fc.tuple(OPTS, TOKENS).map(([o, t]) => [...o, ...t]),
  fc.tuple(
    OPTS,
    fc.constantFrom("show", "dump", "update", "lookup", "getnext", "delete", "pin", "peek", "push", "pop", "freeze"),
    fc.constantFrom("pinned", "id", "name"),
    fc.constantFrom(...PATHS, "1", "2", "3", "9", "zz_h", "zz_a", "zz_q"),
    TOKENS,
  ).map(([o, c, how, what, t]) => [...o, "map", c, how, what, ...t]),
);

function checkOutput(argv: string[], r: { stdout: string; stderr: string; rc: number }): void {
  assertTrue(Number.isInteger(r.rc) && r.rc >= 0 && r.rc <= 255, `rc ${r.rc} for ${argv.join(" ")}`);
  const json = argv.includes("-j") || argv.includes("-p");
  if (json) {
    assertTrue(r.stdout.endsWith("\n") && !r.stdout.endsWith("\n\n"), `JSON must end in one newline: ${argv}`);
    assertEquals(r.stderr, "", `stderr under -j: ${argv.join(" ")}`);
  }
}

Deno.test("property: random command lines never throw, and rejected ones change nothing", () => {
  fc.assert(
    fc.property(fc.array(LINE, { minLength: 1, maxLength: 6 }), (lines) => {
      const k = setup();
      for (const argv of lines) {
        const before = snapshot(k);
        let r;
        try {
          r = run(k, argv);
        } catch (e) {
          assert.fail(`dispatch threw for: bpftool ${JSON.stringify(argv)}: ${(e as Error).stack}`);
        }
        checkOutput(argv, r);
        if (r.rc !== 0) {
          assertEquals(snapshot(k), before, `rejected command changed the kernel: bpftool ${JSON.stringify(argv)}`);
        }
      }
      leakCheck(k);
    }),
    { numRuns: 300, seed: 20251121 },
  );
});

Deno.test("property: batch files of random lines never throw and end with one newline under -j", () => {
  fc.assert(
    fc.property(fc.array(LINE, { minLength: 0, maxLength: 5 }), OPTS, (lines, opts) => {
      const k = setup();
      const text = lines.map((l) => l.filter((w) => !w.startsWith("-")).map((w) => (w === "" ? "''" : w)).join(" "))
        .join("\n");
      const argv = [...opts, "batch", "file", "/tmp/b"];
      const r = run(k, argv, { files: { "/tmp/b": text } });
      checkOutput(argv, r);
      leakCheck(k);
    }),
    { numRuns: 150, seed: 7 },
  );
});
