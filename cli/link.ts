// tools/bpf/bpftool/link.c: the `link` object. `show`/`list` with bpftool's
// layout (the perf_event details, kprobe/tracepoint/event, as bpftool 7.3+
// prints them: 7.1 prints none, which hides where a link is attached),
// `pin`, `detach`, `help`, and bpfsim's `create`, which attaches a program
// at a hook of its type (what libbpf's bpf_program__attach_*() do).

import { strerror } from "../lib/kernel/errno.ts";
import type { LinkInfo, LinkSpec } from "../lib/bpf/syscall_prog.ts";
import { ATTACH_TYPE_NAMES, BPF_TRACE_FENTRY, BPF_TRACE_FEXIT, LINK_TYPE_NAMES } from "../lib/bpf/uapi_prog.ts";
import { type Args, badArg, type Cmd, cmdSelect, cstr, nextArg, renderUsage, reqArgs, usage } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { showAllById } from "./show_all.ts";
import { buildPinnedObjTable, doPinAny, doPinFd, openObjPinnedAny } from "./bpffs.ts";
import { bpfLinkGetFdById, bpfLinkGetInfo, close } from "./libbpf.ts";
import { isPrefix, parseUnsigned } from "./parse.ts";
import { progParseFd } from "./prog.ts";

/** libbpf 1.1's link type names, up to struct_ops (bpftool 7.1 prints `type N` for newer ones, e.g. tcx). */
const LIBBPF_LINK_TYPES = LINK_TYPE_NAMES.slice(0, 10);

function nextArgp(ctx: CliContext, args: Args): void {
  args.i++;
  if (args.argc < 0) usage(ctx);
}

/** link_parse_fd(): `id N | pinned FILE`. */
export function linkParseFd(ctx: CliContext, args: Args): number {
  if (isPrefix(args.cur, "id")) {
    nextArgp(ctx, args);
    const id = parseUnsigned(cstr(args.cur), 0, 32);
    if (id === null) {
      ctx.out.pErr(`can't parse ${cstr(args.cur)} as ID`);
      return -1;
    }
    nextArgp(ctx, args);
    const fd = bpfLinkGetFdById(ctx, id);
    if (fd < 0) ctx.out.pErr(`failed to get link with ID ${id}: ${strerror(ctx.errno)}`);
    return fd < 0 ? -1 : fd;
  } else if (isPrefix(args.cur, "pinned")) {
    nextArgp(ctx, args);
    const path = cstr(args.cur);
    nextArgp(ctx, args);
    return openObjPinnedAny(ctx, path, "link");
  }
  ctx.out.pErr(`expected 'id' or 'pinned', got: '${cstr(args.cur)}'?`);
  return -1;
}

type PinTable = Map<number, string[]> | null;

function typeStr(info: LinkInfo): string | null {
  return LIBBPF_LINK_TYPES[info.type] ?? null;
}

/** show_link_close_json() */
function showJson(ctx: CliContext, info: LinkInfo, pins: PinTable): void {
  const jw = ctx.out.json!;
  jw.startObject();
  jw.uintField("id", info.id);
  const t = typeStr(info);
  if (t) jw.stringField("type", t);
  else jw.uintField("type", info.type);
  jw.uintField("prog_id", info.progId);
  const tg = info.target;
  switch (tg.hook) {
    case "raw_tp":
      jw.stringField("tp_name", tg.tp);
      break;
    case "fentry":
    case "fexit":
      jw.stringField("prog_type", "tracing");
      jw.stringField("attach_type", ATTACH_TYPE_NAMES[tg.hook === "fentry" ? BPF_TRACE_FENTRY : BPF_TRACE_FEXIT]);
      jw.stringField("func", tg.func);
      break;
    case "kprobe":
    case "kretprobe":
      jw.boolField("retprobe", tg.hook === "kretprobe");
      jw.stringField("func", tg.func);
      jw.uintField("offset", 0);
      jw.uintField("missed", info.missed);
      break;
    case "tracepoint":
      jw.stringField("tracepoint", tg.tp.split(":")[1]);
      break;
    case "perf_event":
      jw.uintField("event_type", tg.sw ? 1 : 0);
      jw.uintField("event_config", 0);
      jw.uintField("freq", tg.freq);
      jw.intField("cpu", tg.cpu);
      break;
    case "xdp":
    case "tc":
      jw.uintField("ifindex", tg.ifindex);
      break;
  }
  if (pins && pins.size) {
    jw.name("pinned");
    jw.startArray();
    for (const p of pins.get(info.id) ?? []) jw.string(p);
    jw.endArray();
  }
  jw.endObject();
}

/** show_link_close_plain() */
function showPlain(ctx: CliContext, info: LinkInfo, pins: PinTable): void {
  const t = typeStr(info);
  let s = `${info.id}: ${t ? `${t}  ` : `type ${info.type}  `}prog ${info.progId}  `;
  const tg = info.target;
  switch (tg.hook) {
    case "raw_tp":
      s += `\n\ttp '${tg.tp}'  `;
      break;
    case "fentry":
    case "fexit":
      s += `\n\tprog_type tracing  attach_type ${
        ATTACH_TYPE_NAMES[tg.hook === "fentry" ? BPF_TRACE_FENTRY : BPF_TRACE_FEXIT]
      }  \n\tfunc ${tg.func}  `;
      break;
    case "kprobe":
    case "kretprobe":
      s += `\n\t${tg.hook} ${tg.func}${info.missed ? `  missed ${info.missed}` : ""}  `;
      break;
    case "tracepoint":
      s += `\n\ttracepoint ${tg.tp.split(":")[1]}  `;
      break;
    case "perf_event":
      s += `\n\tevent ${tg.sw ? "software:cpu-clock" : "hardware:cpu-cycles"}  freq ${tg.freq}  cpu ${
        tg.cpu < 0 ? "all" : tg.cpu
      }  `;
      break;
    case "xdp":
    case "tc":
      s += `\n\tifindex ${tg.ifname}(${tg.ifindex})  `;
      break;
  }
  if (pins && pins.size) { for (const p of pins.get(info.id) ?? []) s += `\n\tpinned ${p}`; }
  ctx.out.print(s + "\n");
}

function showLink(ctx: CliContext, fd: number, pins: PinTable): number {
  const info = bpfLinkGetInfo(ctx, fd);
  if (typeof info === "number") {
    ctx.out.pErr(`can't get link info: ${strerror(ctx.errno)}`);
    return -1;
  }
  if (ctx.out.json) showJson(ctx, info, pins);
  else showPlain(ctx, info, pins);
  return 0;
}

/** do_show(): `link show [LINK]`. */
function doShow(ctx: CliContext, args: Args): number {
  const pins = ctx.flags.bpffs ? buildPinnedObjTable(ctx, "link") : null;
  if (args.argc === 2) {
    const fd = linkParseFd(ctx, args);
    if (fd < 0) return -1;
    const err = showLink(ctx, fd, pins);
    close(ctx, fd);
    return err;
  }
  if (args.argc) return badArg(ctx, args);
  return showAllById(ctx, "link", (fd) => showLink(ctx, fd, pins));
}

/** do_pin(): `link pin LINK FILE`. */
function doPin(ctx: CliContext, args: Args): number {
  const err = doPinAny(ctx, args, linkParseFd);
  if (!err) ctx.out.jsonNull();
  return err;
}

/** do_detach(): `link detach LINK`. */
function doDetach(ctx: CliContext, args: Args): number {
  if (args.argc !== 2) {
    ctx.out.pErr("link specifier is invalid or missing\n");
    return 1;
  }
  const fd = linkParseFd(ctx, args);
  if (fd < 0) return 1;
  const err = ctx.sys.linkDetach(fd);
  close(ctx, fd);
  if (err) {
    ctx.errno = -err;
    ctx.out.pErr(`failed link detach: ${strerror(-err)}`);
    return 1;
  }
  ctx.out.jsonNull();
  return 0;
}

/** The hooks `link create` takes, with their argument. */
const HOOK_WORDS = ["kprobe", "kretprobe", "fentry", "fexit", "tracepoint", "raw_tp", "perf_event", "xdp", "tc"];

/**
 * `link create PROG HOOK ... [pinned FILE]`: BPF_LINK_CREATE. Without a pin
 * the link lives as long as this process (one command, or one batch file).
 */
function doCreate(ctx: CliContext, args: Args): number {
  if (!reqArgs(ctx, args, 3)) return -1;
  const progFd = progParseFd(ctx, args);
  if (progFd < 0) return -1;
  const fail = (msg: string) => {
    close(ctx, progFd);
    ctx.out.pErr(msg);
    return -1;
  };
  const hook = args.cur;
  if (hook === undefined || !HOOK_WORDS.includes(hook)) {
    return fail(`expected a hook (${HOOK_WORDS.join(", ")}), got: '${cstr(hook)}'`);
  }
  nextArg(ctx, args);
  let spec: LinkSpec;
  switch (hook) {
    case "kprobe":
    case "kretprobe":
    case "fentry":
    case "fexit":
      if (!args.argc) return fail(`expected a kernel function after ${hook} (see 'kernel points')`);
      spec = { hook, func: args.cur! };
      nextArg(ctx, args);
      break;
    case "tracepoint":
      if (!args.argc || !args.cur!.includes(":")) {
        return fail(`expected CATEGORY:NAME after tracepoint (see 'tracepoint list')`);
      }
      spec = { hook, tp: args.cur! };
      nextArg(ctx, args);
      break;
    case "raw_tp":
      if (!args.argc) return fail(`expected a raw tracepoint name after raw_tp (see 'tracepoint list')`);
      spec = { hook, tp: args.cur! };
      nextArg(ctx, args);
      break;
    case "perf_event": {
      const pe: { hook: "perf_event"; freq?: number; cpu?: number; sw?: boolean } = { hook };
      for (;;) {
        if (isPrefix(args.cur, "freq") && args.cur) {
          nextArg(ctx, args);
          const n = args.cur === undefined ? null : parseUnsigned(args.cur, 0, 32);
          if (n === null) return fail(`can't parse ${cstr(args.cur)} as frequency`);
          pe.freq = n;
          nextArg(ctx, args);
        } else if (args.cur === "cpu") {
          nextArg(ctx, args);
          const n = args.cur === undefined ? null : parseUnsigned(args.cur, 0, 32);
          if (n === null) return fail(`can't parse ${cstr(args.cur)} as CPU`);
          pe.cpu = n;
          nextArg(ctx, args);
        } else if (args.cur === "sw") {
          pe.sw = true;
          nextArg(ctx, args);
        } else break;
      }
      spec = pe;
      break;
    }
    default: {
      let ifname: string | undefined;
      if (args.cur === "dev") {
        nextArg(ctx, args);
        if (!args.argc) return fail("expected a device name after dev");
        ifname = args.cur;
        nextArg(ctx, args);
      }
      spec = { hook: hook as "xdp" | "tc", ifname };
    }
  }
  let pinned: string | null = null;
  if (args.argc) {
    if (!isPrefix(args.cur, "pinned")) {
      close(ctx, progFd);
      return badArg(ctx, args);
    }
    nextArg(ctx, args);
    if (!args.argc) return fail("expected a path after pinned");
    pinned = args.cur!;
    nextArg(ctx, args);
    if (args.argc) {
      close(ctx, progFd);
      return badArg(ctx, args);
    }
  }
  const log: string[] = [];
  const fd = ctx.sys.linkCreate(progFd, spec, log);
  close(ctx, progFd);
  if (fd < 0) {
    ctx.errno = -fd;
    ctx.out.pErr(
      `failed to attach program: ${log.length ? log[log.length - 1] + " (" : ""}${strerror(-fd)}${
        log.length ? ")" : ""
      }`,
    );
    return -1;
  }
  if (pinned !== null) {
    const err = doPinFd(ctx, fd, pinned);
    close(ctx, fd);
    if (err) return err;
  } else if (!ctx.out.json) {
    ctx.out.pInfo(`link ${ctx.sys.linkOf(fd)?.id} is not pinned: it is released when this process exits`);
  }
  ctx.out.jsonNull();
  return 0;
}

function doHelp(ctx: CliContext, args: Args): number {
  if (ctx.out.json) {
    ctx.out.jsonNull();
    return 0;
  }
  const word = args.at(-2) ?? "link";
  let s = renderUsage(ctx.binName, word, LINK_CMDS) + "\n";
  for (const d of LINK_DEFS) s += `       ${d}\n`;
  s +=
    `\n       FUNC is a function of 'kernel points'; TRACEPOINT a CATEGORY:NAME and RAW_TP a NAME of 'tracepoint list'.\n`;
  ctx.out.eprint(s);
  return 0;
}

/** Definitions printed after `link help`'s command lines (completion reads them). */
export const LINK_DEFS: readonly string[] = [
  "LINK := { id LINK_ID | pinned FILE }",
  "PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }",
  "HOOK := { kprobe FUNC | kretprobe FUNC | fentry FUNC | fexit FUNC |",
  "          tracepoint TRACEPOINT | raw_tp RAW_TP |",
  "          perf_event [freq HZ] [cpu N] [sw] | xdp [dev NAME] | tc [dev NAME] }",
];

/** The `link` command table. */
export const LINK_CMDS: readonly Cmd[] = [
  { name: "show", fn: doShow, args: "[LINK]", label: "{ show | list }", helpRank: 0 },
  { name: "list", fn: doShow },
  { name: "help", fn: doHelp, helpRank: 4 },
  { name: "pin", fn: doPin, args: "LINK FILE", helpRank: 1 },
  { name: "detach", fn: doDetach, args: "LINK", helpRank: 2 },
  { name: "create", fn: doCreate, args: "PROG HOOK [pinned FILE]", helpRank: 3 },
];

/** do_link(): `bpftool link ...`. */
export function doLink(ctx: CliContext, args: Args): number {
  return cmdSelect(ctx, LINK_CMDS, args, doHelp);
}
