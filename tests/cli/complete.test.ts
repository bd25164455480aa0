// Shell completion, generated from the command tables and usage syntax,
// with map ids, names and pinned paths from the kernel.

import { assertEquals } from "../assert.ts";
import { complete, parseDefs } from "../../cli/complete.ts";
import { registerObject } from "../../cli/dispatch.ts";
import { MAP_DEFS } from "../../cli/map.ts";
import { withKernel } from "../helpers.ts";
import { run } from "./harness.ts";

const P = "/sys/fs/bpf/zz_c";

function t(line: string): string[] {
  return line ? line.split(" ") : [];
}

Deno.test("completion: objects, map commands and prefixes, options", () => {
  withKernel({}, (k) => {
    assertEquals(complete(k, [], "m"), ["map"]);
    assertEquals(complete(k, t("map"), "d"), ["delete", "dequeue", "dump"]);
    assertEquals(complete(k, t("-j map"), "l"), ["list", "lookup"]);
    assertEquals(complete(k, t("map"), "--j"), ["--json"]);
    assertEquals(complete(k, t("batch"), ""), ["file"]);
    assertEquals(complete(k, t("prog"), ""), ["dump", "help", "list", "load", "pin", "run", "show"]);
    assertEquals(complete(k, t("link"), "d"), ["detach"]);
  });
});

Deno.test("completion: MAP handles with ids, names and pinned paths; DATA sized by the selected map", () => {
  withKernel({}, (k) => {
    assertEquals(run(k, t(`-n map create ${P}_h type hash key 4 value 8 entries 4 name zz_h`)).rc, 0);
    assertEquals(run(k, t(`-n map create ${P}_a type array key 4 value 4 entries 4 name zz_a`)).rc, 0);
    assertEquals(
      run(k, t(`-n map create ${P}_m type array_of_maps key 4 value 4 entries 4 name zz_m inner_map name zz_a`)).rc,
      0,
    );
    assertEquals(complete(k, t("map update"), ""), ["id", "name", "pinned"]);
    assertEquals(complete(k, t("map show id"), ""), ["1", "2", "3"]);
    assertEquals(complete(k, t("map dump name"), "zz_"), ["zz_a", "zz_h", "zz_m"]);
    assertEquals(complete(k, t("map lookup pinned"), `${P}_`), [`${P}_a`, `${P}_h`, `${P}_m`]);
    const h = `map update pinned ${P}_h`;
    assertEquals(complete(k, t(h), ""), ["any", "exist", "key", "noexist", "value"]);
    assertEquals(complete(k, t(`${h} key`), ""), ["hex"]);
    assertEquals(complete(k, t(`${h} key 1 0`), ""), []);
    assertEquals(complete(k, t(`${h} key 1 0 0 0`), ""), ["any", "exist", "noexist", "value"]);
    assertEquals(complete(k, t(`${h} key 1 0 0 0 value hex 1 2 3 4 5 6 7 8 any`), ""), []);
    // a map-in-map value is a MAP handle
    assertEquals(complete(k, t("map update name zz_m key 0 0 0 0 value"), ""), ["id", "name", "pinned"]);
    assertEquals(complete(k, t("map delete id 1"), ""), ["key"]);
    assertEquals(complete(k, t("map event_pipe id 1 cpu 0"), ""), ["index"]);
  });
});

Deno.test("completion: create keywords in any order, TYPE names from the help's definitions", () => {
  withKernel({}, (k) => {
    const c = `map create ${P}_x`;
    assertEquals(complete(k, t(c), ""), ["dev", "entries", "flags", "inner_map", "key", "name", "type", "value"]);
    assertEquals(complete(k, t(`${c} type`), "lru"), ["lru_hash", "lru_percpu_hash"]);
    assertEquals(complete(k, t(`${c} type hash name x key 4`), ""), ["dev", "entries", "flags", "inner_map", "value"]);
    assertEquals(parseDefs(MAP_DEFS).has("TYPE"), true);
  });
});

Deno.test("completion: a registered object's table is completed the same way", () => {
  withKernel({}, (k) => {
    const off = registerObject({
      name: "fs",
      fn: () => 0,
      cmds: [{ name: "ls", fn: () => 0, args: "[FILE]" }, { name: "mkdir", fn: () => 0, args: "FILE [mode MODE]" }],
    });
    try {
      assertEquals(complete(k, [], "f"), ["feature", "fs"]);
      assertEquals(complete(k, t("fs"), ""), ["ls", "mkdir"]);
      assertEquals(complete(k, t("fs mkdir /sys/fs/bpf/d"), ""), ["mode"]);
      assertEquals(complete(k, t("fs ls"), "/sys/fs/bpf"), ["/sys/fs/bpf/"]);
    } finally {
      off();
    }
  });
});
