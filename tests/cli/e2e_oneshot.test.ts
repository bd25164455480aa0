// One-shot mode end to end in this process: every bpftool transcript
// replayed through cli/main.ts's main() and the state file (e2e_replay.ts).

import { assertEquals } from "../assert.ts";
import { goldens, replay } from "./e2e_replay.ts";

for (const g of goldens()) {
  Deno.test(`one-shot e2e: ${g.script} (${g.steps.length} steps through main() and the state file)`, async () => {
    const diffs = await replay(g);
    assertEquals(diffs, [], `${diffs.length} steps differ:\n${diffs.join("\n")}`);
  });
}
