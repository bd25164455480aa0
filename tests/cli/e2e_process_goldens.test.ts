// One-shot mode end to end as a user runs it: bpftool transcripts that
// together use every map command (plain, -j and -p) replayed with a real
// process per step (Deno.Command running cli/main.ts): exit codes, stdout
// and stderr must match bpftool 7.1.0's.

import { assertEquals } from "../assert.ts";
import { goldens, processRun, replay } from "./e2e_replay.ts";

const COVERING = ["map_create", "map_elem", "map_show", "map_dump", "map_queue_stack", "map_pin_freeze", "top_level"];

for (const g of goldens().filter((g) => COVERING.includes(g.script))) {
  Deno.test(`process e2e: ${g.script} (${g.steps.length} processes)`, async () => {
    const diffs = await replay(g, processRun);
    assertEquals(diffs, [], `${diffs.length} steps differ:\n${diffs.join("\n")}`);
  });
}
