// tools/bpf/bpftool/prog.c: the `prog` object. `show`/`list` (bpftool's
// plain and JSON layout, run_time_ns/run_cnt/recursion_misses when the
// kernel reports them), `pin`, `help`, and bpfsim's ways to make and run
// programs: `load NAME type TYPE ops "OPS" ... pinned PATH` (an op-language
// program), `dump ops` (its source as the kernel keeps it), and `run`
// (BPF_PROG_TEST_RUN for syscall, xdp and tc programs).

import { ENOENT, strerror } from "../lib/kernel/errno.ts";
import type { ProgInfo } from "../lib/bpf/syscall_prog.ts";
import { PROG_KINDS } from "../lib/bpf/syscall_prog.ts";
import type { ProgKind } from "../lib/bpf/prog.ts";
import { formatOps } from "../lib/bpf/oplang.ts";
import { BPF_OBJ_NAME_LEN } from "../lib/bpf/uapi.ts";
import { type Args, badArg, type Cmd, cmdSelect, cstr, nextArg, renderUsage, reqArgs, usage } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { showAllById } from "./show_all.ts";
import { buildPinnedObjTable, doPinAny, doPinFd, openObjPinnedAny } from "./bpffs.ts";
import { bpfProgGetFdById, bpfProgGetInfo, bpfProgGetNextId, close } from "./libbpf.ts";
import { cStrlen } from "./map_parse.ts";
import { isPrefix, parseUnsigned } from "./parse.ts";

/** The simulated machine booted at 2026-01-01T00:00:00Z (wall clock = this + simulated ns). */
export const BOOT_EPOCH_S = 1767225600;

/** print_boot_time(): `%FT%T%z` of a boot-relative time, in UTC. */
export function bootTimePlain(ns: number): string {
  const d = new Date((BOOT_EPOCH_S + Math.floor(ns / 1e9)) * 1000);
  return d.toISOString().slice(0, 19) + "+0000";
}

/** The wall-clock seconds bpftool's JSON gives for a boot-relative time. */
export function bootTimeJson(ns: number): number {
  return BOOT_EPOCH_S + Math.floor(ns / 1e9);
}

function nextArgp(ctx: CliContext, args: Args): void {
  args.i++;
  if (args.argc < 0) usage(ctx);
}

/** prog_fd_by_nametag(): fds of the programs whose tag (tag=true) or name matches. */
function progFdsByNameTag(ctx: CliContext, what: string, tag: boolean): number[] | -1 {
  const fds: number[] = [];
  let id = 0;
  for (;;) {
    const next = bpfProgGetNextId(ctx, id);
    if (next < 0) {
      if (ctx.errno !== ENOENT) {
        ctx.out.pErr(strerror(ctx.errno));
        break;
      }
      return fds;
    }
    id = next;
    const fd = bpfProgGetFdById(ctx, id);
    if (fd < 0) {
      ctx.out.pErr(`can't get prog by id (${id}): ${strerror(ctx.errno)}`);
      break;
    }
    const info = bpfProgGetInfo(ctx, fd);
    if (typeof info === "number") {
      ctx.out.pErr(`can't get prog info (${id}): ${strerror(ctx.errno)}`);
      close(ctx, fd);
      break;
    }
    if ((tag ? info.tag : info.name) !== what) {
      close(ctx, fd);
      continue;
    }
    fds.push(fd);
  }
  for (const fd of fds.reverse()) close(ctx, fd);
  return -1;
}

/** prog_parse_fds(): `id N | pinned FILE | tag TAG | name NAME`; the fds, or -1 after an error. */
export function progParseFds(ctx: CliContext, args: Args): number[] | -1 {
  if (isPrefix(args.cur, "id")) {
    nextArgp(ctx, args);
    const id = parseUnsigned(cstr(args.cur), 0, 32);
    if (id === null) {
      ctx.out.pErr(`can't parse ${cstr(args.cur)} as ID`);
      return -1;
    }
    nextArgp(ctx, args);
    const fd = bpfProgGetFdById(ctx, id);
    if (fd < 0) {
      ctx.out.pErr(`get by id (${id}): ${strerror(ctx.errno)}`);
      return -1;
    }
    return [fd];
  } else if (isPrefix(args.cur, "tag")) {
    nextArgp(ctx, args);
    const tag = cstr(args.cur);
    if (!/^[0-9a-f]{16}$/.test(tag)) {
      ctx.out.pErr("can't parse tag");
      return -1;
    }
    nextArgp(ctx, args);
    return progFdsByNameTag(ctx, tag, true);
  } else if (isPrefix(args.cur, "name")) {
    nextArgp(ctx, args);
    const name = cstr(args.cur);
    if (cStrlen(name) > BPF_OBJ_NAME_LEN - 1) {
      ctx.out.pErr("can't parse name");
      return -1;
    }
    nextArgp(ctx, args);
    return progFdsByNameTag(ctx, name, false);
  } else if (isPrefix(args.cur, "pinned")) {
    nextArgp(ctx, args);
    const path = cstr(args.cur);
    nextArgp(ctx, args);
    const fd = openObjPinnedAny(ctx, path, "prog");
    return fd < 0 ? -1 : [fd];
  }
  ctx.out.pErr(`expected 'id', 'tag', 'name' or 'pinned', got: '${cstr(args.cur)}'?`);
  return -1;
}

/** prog_parse_fd(): exactly one program, else -1 (`several programs match this handle`). */
export function progParseFd(ctx: CliContext, args: Args): number {
  const fds = progParseFds(ctx, args);
  if (fds === -1) return -1;
  if (fds.length !== 1) {
    if (fds.length > 1) {
      ctx.out.pErr("several programs match this handle");
      for (const fd of [...fds].reverse()) close(ctx, fd);
    } else ctx.out.pErr("no program matches this handle");
    return -1;
  }
  return fds[0];
}

type PinTable = Map<number, string[]> | null;

/** print_prog_header_json() */
function headerJson(ctx: CliContext, info: ProgInfo): void {
  const jw = ctx.out.json!;
  jw.uintField("id", info.id);
  jw.stringField("type", info.typeName);
  if (info.name) jw.stringField("name", info.name);
  jw.name("tag");
  jw.printf(`"${info.tag}"`);
  jw.boolField("gpl_compatible", info.gplCompatible);
  if (info.runTimeNs) {
    jw.uintField("run_time_ns", info.runTimeNs);
    jw.uintField("run_cnt", info.runCnt);
  }
  if (info.recursionMisses) jw.uintField("recursion_misses", info.recursionMisses);
}

/** print_prog_header_plain() */
function headerPlain(ctx: CliContext, info: ProgInfo): void {
  let s = `${info.id}: ${info.typeName}  `;
  if (info.name) s += `name ${info.name}  `;
  s += `tag ${info.tag}`;
  s += info.gplCompatible ? "  gpl" : "";
  if (info.runTimeNs) s += ` run_time_ns ${info.runTimeNs} run_cnt ${info.runCnt}`;
  if (info.recursionMisses) s += ` recursion_misses ${info.recursionMisses}`;
  ctx.out.print(s + "\n");
}

/** print_prog_json() */
function showJson(ctx: CliContext, info: ProgInfo, pins: PinTable): void {
  const jw = ctx.out.json!;
  jw.startObject();
  headerJson(ctx, info);
  jw.name("loaded_at");
  jw.printf(String(bootTimeJson(info.loadTime)));
  jw.uintField("uid", info.uid);
  jw.uintField("bytes_xlated", info.xlatedLen);
  if (info.jitedLen) {
    jw.boolField("jited", true);
    jw.uintField("bytes_jited", info.jitedLen);
  } else jw.boolField("jited", false);
  jw.intField("bytes_memlock", info.memlock);
  if (info.mapIds.length) {
    jw.name("map_ids");
    jw.startArray();
    for (const id of info.mapIds) jw.uint(id);
    jw.endArray();
  }
  if (pins && pins.size) {
    jw.name("pinned");
    jw.startArray();
    for (const p of pins.get(info.id) ?? []) jw.string(p);
    jw.endArray();
  }
  jw.endObject();
}

/** print_prog_plain() */
function showPlain(ctx: CliContext, info: ProgInfo, pins: PinTable): void {
  headerPlain(ctx, info);
  let s = `\tloaded_at ${bootTimePlain(info.loadTime)}  uid ${info.uid}\n`;
  s += `\txlated ${info.xlatedLen}B`;
  s += info.jitedLen ? `  jited ${info.jitedLen}B` : "  not jited";
  s += `  memlock ${info.memlock}B`;
  if (info.mapIds.length) s += `  map_ids ${info.mapIds.join(",")}`;
  if (pins && pins.size) { for (const p of pins.get(info.id) ?? []) s += `\n\tpinned ${p}`; }
  ctx.out.print(s + "\n");
}

function showProg(ctx: CliContext, fd: number, pins: PinTable): number {
  const info = bpfProgGetInfo(ctx, fd);
  if (typeof info === "number") {
    ctx.out.pErr(`can't get prog info: ${strerror(ctx.errno)}`);
    return -1;
  }
  if (ctx.out.json) showJson(ctx, info, pins);
  else showPlain(ctx, info, pins);
  return 0;
}

/** do_show(): `prog show [PROG]`. */
function doShow(ctx: CliContext, args: Args): number {
  const pins = ctx.flags.bpffs ? buildPinnedObjTable(ctx, "prog") : null;
  const jw = ctx.out.json;
  if (args.argc === 2) {
    const fds = progParseFds(ctx, args);
    if (fds === -1 || fds.length < 1) return -1;
    if (jw && fds.length > 1) jw.startArray();
    let err = 0;
    for (let i = 0; i < fds.length; i++) {
      err = showProg(ctx, fds[i], pins);
      close(ctx, fds[i]);
      if (err) {
        for (i++; i < fds.length; i++) close(ctx, fds[i]);
        break;
      }
    }
    if (jw && fds.length > 1) jw.endArray();
    return err;
  }
  if (args.argc) return badArg(ctx, args);
  return showAllById(ctx, "prog", (fd) => showProg(ctx, fd, pins));
}

/** do_pin(): `prog pin PROG FILE`. */
function doPin(ctx: CliContext, args: Args): number {
  const err = doPinAny(ctx, args, progParseFd);
  if (!err) ctx.out.jsonNull();
  return err;
}

/** The kinds a user may name after `type`. */
export const PROG_KIND_WORDS: readonly string[] = Object.keys(PROG_KINDS);

/**
 * `prog load NAME type TYPE ops "OPS" [sleepable] [unsafe] pinned PATH`:
 * an op-language program, loaded (verified) and pinned.
 */
function doLoad(ctx: CliContext, args: Args): number {
  if (!reqArgs(ctx, args, 1)) return -1;
  const name = args.cur!;
  nextArg(ctx, args);
  if (args.argc && !isPrefix(args.cur, "type")) {
    ctx.out.pErr(
      `loading BPF object files (prog load OBJ PATH) is not simulated yet; ` +
        `load an op-language program: prog load NAME type TYPE ops "OPS" pinned PATH`,
    );
    return -1;
  }
  let kind: ProgKind | null = null;
  let ops: string | null = null;
  let pinned: string | null = null;
  let sleepable = false;
  let unsafe = false;
  while (args.argc) {
    const w = args.cur!;
    if (isPrefix(w, "type")) {
      nextArg(ctx, args);
      if (!reqArgs(ctx, args, 1)) return -1;
      if (!(PROG_KIND_WORDS as string[]).includes(args.cur!)) {
        ctx.out.pErr(`unknown program type '${args.cur}' (known: ${PROG_KIND_WORDS.join(", ")})`);
        return -1;
      }
      kind = args.cur as ProgKind;
    } else if (isPrefix(w, "ops")) {
      nextArg(ctx, args);
      if (!reqArgs(ctx, args, 1)) return -1;
      ops = args.cur!;
    } else if (isPrefix(w, "pinned")) {
      nextArg(ctx, args);
      if (!reqArgs(ctx, args, 1)) return -1;
      pinned = args.cur!;
    } else if (w === "sleepable") {
      sleepable = true;
    } else if (w === "unsafe") {
      unsafe = true;
    } else {
      return badArg(ctx, args);
    }
    nextArg(ctx, args);
  }
  if (!kind || ops === null || pinned === null) {
    ctx.out.pErr(
      `prog load needs ${
        [!kind && "type TYPE", ops === null && 'ops "OPS"', pinned === null && "pinned PATH"]
          .filter(Boolean).join(", ")
      }`,
    );
    return -1;
  }
  const log: string[] = [];
  const fd = ctx.sys.progLoad({ kind, name, ops, sleepable, unsafe, log });
  if (fd < 0) {
    ctx.errno = -fd;
    const why = log.length ? log[log.length - 1] : strerror(-fd);
    if (!ctx.out.json) { for (const l of log.slice(0, -1)) ctx.out.eprint(`${l}\n`); }
    ctx.out.pErr(`failed to load program '${name}': ${why} (${strerror(-fd)})`);
    return -1;
  }
  if (!ctx.out.json) { for (const l of log) ctx.out.eprint(`Warning: ${l}\n`); }
  const err = doPinFd(ctx, fd, pinned);
  close(ctx, fd);
  if (err) return err;
  ctx.out.jsonNull();
  return 0;
}

/** `prog dump ops PROG`: the program's op-language source as the kernel keeps it. */
function doDump(ctx: CliContext, args: Args): number {
  if (!reqArgs(ctx, args, 3)) return -1;
  const what = args.cur!;
  if (!isPrefix(what, "ops") && !isPrefix(what, "xlated") && !isPrefix(what, "jited")) {
    ctx.out.pErr(`expected 'ops', 'xlated' or 'jited', got: ${what}`);
    return -1;
  }
  nextArg(ctx, args);
  const fd = progParseFd(ctx, args);
  if (fd < 0) return -1;
  if (args.argc) {
    close(ctx, fd);
    return badArg(ctx, args);
  }
  const prog = ctx.sys.progOf(fd)!;
  close(ctx, fd);
  if (!isPrefix(what, "ops")) {
    ctx.out.pErr(
      `${what} dumps need BPF instructions; ${prog.name || prog.id} is an op-language program: use 'prog dump ops'`,
    );
    return -1;
  }
  if (prog.body.lang !== "ops") {
    ctx.out.pErr(`${prog.name || prog.id} has a TypeScript body (loaded through the library): nothing to dump`);
    return -1;
  }
  const text = formatOps(prog.body.ast);
  if (ctx.out.json) {
    const jw = ctx.out.json;
    jw.startArray();
    for (const l of text.split("\n")) jw.value(l);
    jw.endArray();
  } else ctx.out.print(text + "\n");
  return 0;
}

/** `prog run PROG [repeat N]`: BPF_PROG_TEST_RUN. */
function doRun(ctx: CliContext, args: Args): number {
  if (!reqArgs(ctx, args, 2)) return -1;
  const fd = progParseFd(ctx, args);
  if (fd < 0) return -1;
  let repeat = 1;
  while (args.argc) {
    if (isPrefix(args.cur, "repeat")) {
      nextArg(ctx, args);
      const n = args.cur === undefined ? null : parseUnsigned(args.cur, 0, 32);
      if (n === null) {
        ctx.out.pErr(`can't parse ${cstr(args.cur)} as repeat number`);
        close(ctx, fd);
        return -1;
      }
      repeat = Math.max(1, n);
      nextArg(ctx, args);
    } else {
      close(ctx, fd);
      return badArg(ctx, args);
    }
  }
  const r = ctx.sys.progTestRun(fd, repeat);
  close(ctx, fd);
  if (typeof r === "number") {
    ctx.errno = -r;
    ctx.out.pErr(`failed to run program: ${strerror(-r)}`);
    return -1;
  }
  const jw = ctx.out.json;
  if (jw) {
    jw.startObject();
    jw.uintField("retval", r.retval >>> 0);
    jw.uintField("duration", r.duration);
    jw.endObject();
  } else {
    ctx.out.print(`Return value: ${r.retval >>> 0}, duration${repeat > 1 ? " (average)" : ""}: ${r.duration}ns\n`);
  }
  return 0;
}

function doHelp(ctx: CliContext, args: Args): number {
  if (ctx.out.json) {
    ctx.out.jsonNull();
    return 0;
  }
  const word = args.at(-2) ?? "prog";
  let s = renderUsage(ctx.binName, word, PROG_CMDS) + "\n";
  for (const d of PROG_DEFS) s += `       ${d}\n`;
  ctx.out.eprint(s);
  return 0;
}

/** Definitions printed after the command lines of `prog help` (completion reads them too). */
export const PROG_DEFS: readonly string[] = [
  "PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }",
  `TYPE := { ${PROG_KIND_WORDS.join(" | ")} }`,
  'OPS := op-language source, one op per ";" or line (see README: Programs)',
];

/** The `prog` command table (bpftool's order for its rows, then bpfsim's). */
export const PROG_CMDS: readonly Cmd[] = [
  { name: "show", fn: doShow, args: "[PROG]", label: "{ show | list }", helpRank: 0 },
  { name: "list", fn: doShow },
  { name: "help", fn: doHelp, helpRank: 6 },
  { name: "dump", fn: doDump, args: "ops PROG", helpRank: 1 },
  { name: "pin", fn: doPin, args: "PROG FILE", helpRank: 2 },
  {
    name: "load",
    fn: doLoad,
    args: "NAME type TYPE ops OPS [sleepable] [unsafe] pinned FILE",
    helpRank: 3,
  },
  { name: "run", fn: doRun, args: "PROG [repeat N]", helpRank: 4 },
];

/** do_prog(): `bpftool prog ...`. */
export function doProg(ctx: CliContext, args: Args): number {
  return cmdSelect(ctx, PROG_CMDS, args, doHelp);
}
