// tools/bpf/bpftool/map.c: the `map` object. Its command table (bpftool's
// order, which settles prefixes: `d` is dump, `p` is pin), its help
// (generated from the same rows), and the writing commands: update / push /
// enqueue, delete, pin, freeze, event_pipe. Reading commands live in
// map_dump.ts and map_show.ts, create in map_create.ts.

import { BPF_ANY, BPF_MAP_TYPE_PERF_EVENT_ARRAY } from "../lib/bpf/uapi.ts";
import { strerror } from "../lib/kernel/errno.ts";
import { type Args, badArg, type Cmd, cmdSelect, renderUsage, reqArgs, usage } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { doPinAny } from "./bpffs.ts";
import { bpfMapDeleteElem, bpfMapFreeze, bpfMapUpdateElem, close } from "./libbpf.ts";
import { doCreate } from "./map_create.ts";
import { doDump, doGetnext, doLookup, doPopDequeue } from "./map_dump.ts";
import { allocValue, mapParseFd, mapParseFdAndInfo, parseElem } from "./map_parse.ts";
import { doShow } from "./map_show.ts";

/** do_update(): `map update MAP [key DATA] [value VALUE] [UPDATE_FLAGS]`, also push / enqueue. */
function doUpdate(ctx: CliContext, args: Args): number {
  if (args.argc < 2) usage(ctx);
  const r = mapParseFdAndInfo(ctx, args);
  if (!r) return -1;
  const { fd, info } = r;
  const key = info.keySize ? new Uint8Array(info.keySize) : null;
  const value = info.valueSize ? allocValue(ctx, info) : null;
  const flags = { value: BPF_ANY };
  const valueFd = { fd: -1 };
  let err = parseElem(ctx, args, info, key, value, info.keySize, info.valueSize, { flags, valueFd });
  if (!err) {
    err = bpfMapUpdateElem(ctx, fd, key, value, flags.value);
    if (err) ctx.out.pErr(`update failed: ${strerror(ctx.errno)}`);
  }
  if (valueFd.fd >= 0) close(ctx, valueFd.fd);
  close(ctx, fd);
  if (!err) ctx.out.jsonNull();
  return err;
}

/** do_delete(): `map delete MAP key DATA`. */
function doDelete(ctx: CliContext, args: Args): number {
  if (args.argc < 2) usage(ctx);
  const r = mapParseFdAndInfo(ctx, args);
  if (!r) return -1;
  const { fd, info } = r;
  // malloc(key_size): a non-NULL pointer even for a zero-size key
  const key = new Uint8Array(info.keySize);
  let err = parseElem(ctx, args, info, key, null, info.keySize, 0, { flags: null, valueFd: null });
  if (!err) {
    err = bpfMapDeleteElem(ctx, fd, key);
    if (err) ctx.out.pErr(`delete failed: ${strerror(ctx.errno)}`);
  }
  close(ctx, fd);
  if (!err) ctx.out.jsonNull();
  return err;
}

/** do_pin(): `map pin MAP FILE`. */
function doPin(ctx: CliContext, args: Args): number {
  const err = doPinAny(ctx, args, mapParseFd);
  if (!err) ctx.out.jsonNull();
  return err;
}

/** do_freeze(): `map freeze MAP`. */
function doFreeze(ctx: CliContext, args: Args): number {
  if (!reqArgs(ctx, args, 2)) return -1;
  const fd = mapParseFd(ctx, args);
  if (fd < 0) return -1;
  if (args.argc) {
    close(ctx, fd);
    return badArg(ctx, args);
  }
  const err = bpfMapFreeze(ctx, fd);
  close(ctx, fd);
  if (err) {
    ctx.out.pErr(`failed to freeze map: ${strerror(ctx.errno)}`);
    return err;
  }
  ctx.out.jsonNull();
  return 0;
}

/**
 * do_event_pipe() (map_perf_ring.c): only for perf_event_array maps, which
 * bpfsim does not simulate, so every map it can hold gets bpftool's refusal.
 */
function doEventPipe(ctx: CliContext, args: Args): number {
  const r = mapParseFdAndInfo(ctx, args);
  if (!r) return -1;
  if (r.info.type !== BPF_MAP_TYPE_PERF_EVENT_ARRAY) ctx.out.pErr("map is not a perf event array");
  else ctx.out.pErr("perf event arrays are not simulated by bpfsim yet");
  close(ctx, r.fd);
  return -1;
}

/** The `map` command table, in bpftool's order. */
export const MAP_CMDS: readonly Cmd[] = [
  { name: "show", fn: doShow, label: "{ show | list }  ", args: "[MAP]", helpRank: 0 },
  { name: "list", fn: doShow, args: "[MAP]" },
  { name: "help", fn: doMapHelp, helpRank: 15 },
  { name: "dump", fn: doDump, args: "MAP", helpRank: 2 },
  { name: "update", fn: doUpdate, args: "MAP [key DATA] [value VALUE] [UPDATE_FLAGS]", helpRank: 3 },
  { name: "lookup", fn: doLookup, args: "MAP [key DATA]", helpRank: 4 },
  { name: "getnext", fn: doGetnext, args: "MAP [key DATA]", helpRank: 5 },
  { name: "delete", fn: doDelete, args: "MAP  key DATA", helpRank: 6 },
  { name: "pin", fn: doPin, args: "MAP  FILE", helpRank: 7 },
  { name: "event_pipe", fn: doEventPipe, args: "MAP [cpu N index M]", helpRank: 8 },
  {
    name: "create",
    fn: doCreate,
    args: "FILE type TYPE key KEY_SIZE value VALUE_SIZE \\\n" +
      "entries MAX_ENTRIES name NAME [flags FLAGS] \\\n" +
      "[inner_map MAP] [dev NAME]",
    helpRank: 1,
  },
  { name: "peek", fn: doLookup, args: "MAP", helpRank: 9 },
  { name: "push", fn: doUpdate, args: "MAP value VALUE", helpRank: 10 },
  { name: "enqueue", fn: doUpdate, args: "MAP value VALUE", helpRank: 12 },
  { name: "pop", fn: doPopDequeue, args: "MAP", helpRank: 11 },
  { name: "dequeue", fn: doPopDequeue, args: "MAP", helpRank: 13 },
  { name: "freeze", fn: doFreeze, args: "MAP", helpRank: 14 },
];

/**
 * The definitions after the command lines of `map help` (7 spaces of indent
 * are added when printed). Completion reads MAP, DATA, VALUE, TYPE and
 * UPDATE_FLAGS from here.
 */
export const MAP_DEFS: readonly string[] = [
  "MAP := { id MAP_ID | pinned FILE | name MAP_NAME }",
  "DATA := { [hex] BYTES }",
  "PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }",
  "VALUE := { DATA | MAP | PROG }",
  "UPDATE_FLAGS := { any | exist | noexist }",
  "TYPE := { hash | array | prog_array | perf_event_array | percpu_hash |",
  "          percpu_array | stack_trace | cgroup_array | lru_hash |",
  "          lru_percpu_hash | lpm_trie | array_of_maps | hash_of_maps |",
  "          devmap | devmap_hash | sockmap | cpumap | xskmap | sockhash |",
  "          cgroup_storage | reuseport_sockarray | percpu_cgroup_storage |",
  "          queue | stack | sk_storage | struct_ops | ringbuf | inode_storage |",
  "          task_storage | bloom_filter | user_ringbuf }",
  "OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} | {-l|--legacy} |",
  "             {-f|--bpffs} | {-n|--nomount} }",
];

/** do_help() of map.c: usage on stderr, naming the object as typed (argv[-2]). */
function doMapHelp(ctx: CliContext, args: Args): number {
  if (ctx.out.json) {
    ctx.out.jsonNull();
    return 0;
  }
  const word = args.at(-2) ?? "map";
  let s = renderUsage(ctx.binName, word, MAP_CMDS) + "\n";
  for (const d of MAP_DEFS) s += `       ${d}\n`;
  ctx.out.eprint(s);
  return 0;
}

/** do_map(): `bpftool map ...`. */
export function doMap(ctx: CliContext, args: Args): number {
  return cmdSelect(ctx, MAP_CMDS, args, doMapHelp);
}
