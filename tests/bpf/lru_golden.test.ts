// LRU hash maps against the real kernel: every case of
// tests/testdata/kernel/lru_ops.json (recorded by lru_record.py on this
// machine's 6.18 kernel with 2 CPUs, each op pinned to a CPU; program-side
// lookups/updates through BPF_PROG_TEST_RUN) is replayed on a 2-CPU bpfsim
// kernel, op by op, and must give the same return codes and map contents.
// Also the fdinfo memlock / max_entries of lru_memlock.json.

import { assertEquals } from "../assert.ts";
import { createRecorded, type RecordedCreate, withKernel } from "../helpers.ts";
import { FLAG, LruRig } from "./lru_helpers.ts";

/** A create recorded on the real kernel, and what it recorded. */
interface OpsCase extends RecordedCreate {
  name: string;
  max_entries: number;
  memlock: number;
  ops: (string | number)[][];
  results: (number | number[])[];
}

interface Golden<C> {
  env: { uname: string; ncpu: number };
  cases: C[];
}

function load<C>(name: string): Golden<C> {
  return JSON.parse(Deno.readTextFileSync(new URL(`../testdata/kernel/${name}`, import.meta.url)));
}

const ops = load<OpsCase>("lru_ops.json");
const mem = load<Omit<OpsCase, "ops" | "results">>("lru_memlock.json");

/** Replays one golden case; returns what bpfsim answered, in the golden's shape. */
function replay(c: OpsCase): { results: (number | number[])[]; maxEntries: number; memlock: number } {
  let out!: { results: (number | number[])[]; maxEntries: number; memlock: number };
  withKernel({ cpus: ops.env.ncpu }, (k) => {
    const rig = new LruRig(k, c.type, c.key, c.value, c.entries, c.flags);
    const info = rig.procs[0].mapInfo(rig.fds[0]);
    if (typeof info === "number") throw new Error(`info ${info}`);
    const results: (number | number[])[] = [];
    for (const op of c.ops) {
      const [kind, cpu, key, flag] = op as [string, number, number, string | number];
      switch (kind) {
        case "dump":
          results.push(rig.keys());
          break;
        case "u":
          results.push(rig.update(cpu, key, FLAG[flag as string] ?? 0));
          break;
        case "d":
          results.push(rig.delete(cpu, key));
          break;
        case "l":
          results.push(rig.lookup(cpu, key));
          break;
        case "ld":
          results.push(rig.lookupAndDelete(cpu, key));
          break;
        case "p":
          results.push(rig.progLookup(cpu, key));
          break;
        case "pu":
          results.push(rig.progUpdate(cpu, key, flag as number));
          break;
        default:
          throw new Error(`unknown op ${kind}`);
      }
    }
    out = { results, maxEntries: info.maxEntries, memlock: info.memlock };
    rig.close();
  });
  return out;
}

for (const c of ops.cases) {
  Deno.test(`lru golden (${ops.env.uname}): ${c.name}`, () => {
    const r = replay(c);
    assertEquals(r.maxEntries, c.max_entries, "max_entries");
    assertEquals(r.memlock, c.memlock, "memlock");
    for (let i = 0; i < c.ops.length; i++) {
      assertEquals(r.results[i], c.results[i], `op ${i} ${JSON.stringify(c.ops[i])}`);
    }
  });
}

Deno.test(`lru golden (${mem.env.uname}): memlock and max_entries of ${mem.cases.length} creates`, () => {
  withKernel({ cpus: mem.env.ncpu }, (k) => {
    for (const c of mem.cases) {
      const fd = createRecorded(k, c, "zzlru");
      const info = k.sys.mapInfo(fd);
      if (typeof info === "number") throw new Error(`${c.name}: ${fd} / ${info}`);
      assertEquals([info.maxEntries, info.memlock], [c.max_entries, c.memlock], c.name);
      k.sys.close(fd);
    }
  });
});
