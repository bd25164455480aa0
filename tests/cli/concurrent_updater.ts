// Helper process for the concurrency test: N one-shot updates in a row,
// each a full main() run (lock, load, update, save), keys from an offset.
import { main } from "../../cli/main.ts";

const [state, path, from, count] = Deno.args;
const quiet = { write() {} };
let failures = 0;
for (let i = Number(from); i < Number(from) + Number(count); i++) {
  const key = [i & 0xff, (i >> 8) & 0xff, 0, 0].map(String);
  const rc = await main(
    ["--state", state, "map", "update", "pinned", path, "key", ...key, "value", "1", "0", "0", "0"],
    quiet,
  );
  if (rc !== 0) failures++;
}
console.log(JSON.stringify({ failures }));
