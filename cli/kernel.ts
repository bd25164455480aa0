// bpfsim's `kernel` object: what the simulated machine is and how to change
// it. show (profile, CPUs, RT, seed, clocks, memory), config (boots a new
// kernel: every map is lost), profiles, points (the probe-able functions),
// and in the shell save/load of the in-memory kernel.

import {
  defaultMemalloc,
  findProfile,
  MEMALLOC_FLAVOURS,
  memallocError,
  type MemallocFlavour,
  PROFILES,
  versionString,
} from "../lib/kernel/config.ts";
import { memallocOf } from "../lib/bpf/memalloc.ts";
import type { KernelOptions, Sysctls } from "../lib/kernel/config.ts";
import { allPoints } from "../lib/kernel/points.ts";
import { type Args, badArg, type Cmd, cmdSelect, nextArg, renderUsage } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { getHost } from "./host.ts";
import { isPrefix, parseUnsigned } from "./parse.ts";

function secs(ns: number): string {
  return (ns / 1e9).toFixed(9);
}

/** kernel show */
function doShow(ctx: CliContext, args: Args): number {
  if (args.argc) return badArg(ctx, args);
  const k = ctx.k;
  const mem = k.memoryUsage();
  const maps = k.bpf.allMaps().length;
  const pins = k.bpf.fs.pins().length;
  const stuck = k.stuckCpus();
  const jw = ctx.out.json;
  if (jw) {
    jw.startObject();
    jw.textField("release", k.release);
    jw.textField("profile", k.config.profile.name);
    jw.uintField("cpus", k.ncpu);
    jw.boolField("preempt_rt", k.config.preemptRt);
    jw.uintField("seed", k.config.seed);
    jw.textField("memalloc", memallocOf(k));
    jw.name("clock_ns");
    jw.startArray();
    for (const c of k.cpus) jw.uint(Math.round(c.clock));
    jw.endArray();
    jw.name("memory");
    jw.startObject();
    jw.uintField("slab_objects", mem.slabObjects);
    jw.uintField("slab_pages", mem.slabPages);
    jw.uintField("vmalloc", mem.vmalloc);
    jw.uintField("pages", mem.pages);
    jw.uintField("percpu", mem.percpu);
    jw.endObject();
    jw.uintField("maps", maps);
    jw.uintField("pins", pins);
    jw.name("stuck_cpus");
    jw.startArray();
    for (const c of stuck) jw.uint(c);
    jw.endArray();
    jw.uintField("dmesg_entries", k.dmesg.entries.length);
    jw.endObject();
    return 0;
  }
  ctx.out.print(
    `kernel ${k.release}  profile ${k.config.profile.name}  cpus ${k.ncpu}  preempt_rt ${
      k.config.preemptRt ? "yes" : "no"
    }  seed ${k.config.seed}  memalloc ${memallocOf(k)}\n` +
      `\tclock ${secs(k.now())}s  (${k.cpus.map((c) => `cpu${c.id} ${secs(c.clock)}s`).join(", ")})\n` +
      `\tmemory: slab objects ${mem.slabObjects}B  slab pages ${mem.slabPages}B  vmalloc ${mem.vmalloc}B  pages ${mem.pages}B  percpu ${mem.percpu}B\n` +
      `\tmaps ${maps}  pins ${pins}  stuck cpus ${
        stuck.length ? stuck.join(",") : "none"
      }  dmesg ${k.dmesg.entries.length} entries\n`,
  );
  return 0;
}

/** kernel profiles */
function doProfiles(ctx: CliContext, args: Args): number {
  if (args.argc) return badArg(ctx, args);
  const cur = ctx.k.config.profile.name;
  const jw = ctx.out.json;
  if (jw) {
    jw.startArray();
    for (const p of PROFILES) {
      jw.startObject();
      jw.textField("name", p.name);
      jw.textField("release", versionString(p.version));
      jw.textField("summary", p.summary);
      jw.boolField("current", p.name === cur);
      jw.endObject();
    }
    jw.endArray();
    return 0;
  }
  for (const p of PROFILES) ctx.out.print(`${p.name === cur ? "*" : " "} ${p.name.padEnd(6)} ${p.summary}\n`);
  return 0;
}

/** A name filter: a glob when it has * or ?, else a substring. */
export function nameFilter(pattern: string | undefined): (name: string) => boolean {
  if (pattern === undefined) return () => true;
  if (!/[*?]/.test(pattern)) return (n) => n.includes(pattern);
  const re = new RegExp(
    "^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$",
  );
  return (n) => re.test(n);
}

/** kernel points [PATTERN]: the probe-able functions (where kprobes and fentry attach; ret: kretprobe/fexit too). */
function doPoints(ctx: CliContext, args: Args): number {
  const pattern = args.cur;
  if (args.argc > 1) return badArg(ctx, args.sub(1));
  const match = nameFilter(pattern);
  const pts = [...allPoints()].filter((p) => match(p.name)).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0
  );
  const jw = ctx.out.json;
  if (jw) {
    jw.startArray();
    for (const p of pts) {
      jw.startObject();
      jw.textField("name", p.name);
      jw.textField("file", p.file);
      jw.textField("doc", p.doc);
      jw.boolField("ret", p.ret);
      jw.boolField("sleepable", p.sleepable);
      jw.endObject();
    }
    jw.endArray();
    return 0;
  }
  if (!pts.length) {
    ctx.out.pErr(`no probe-able function matches '${pattern}'`);
    return -1;
  }
  const w = Math.max(...pts.map((p) => p.name.length));
  for (const p of pts) {
    const flags = [p.ret ? "ret" : "", p.sleepable ? "sleepable" : ""].filter(Boolean).join(",");
    ctx.out.print(`${p.name.padEnd(w)}  ${flags.padEnd(13)}  ${p.file.padEnd(34)}  ${p.doc}\n`);
  }
  return 0;
}

/** The sysctls bpfsim models, with the release each appeared in. */
const SYSCTLS: readonly { name: keyof Sysctls; since: number; doc: string; experimental?: boolean }[] = [
  { name: "bpf_stats_enabled", since: 501, doc: "collect run_cnt and run_time_ns of every program" },
  {
    name: "bpf_force_dyn_alloc",
    since: 601,
    doc: "make every non-LRU hash map dynamic (bpf_mem_alloc); proposed in the series, never merged",
    experimental: true,
  },
];

/** What a plain listing adds after an experimental knob's value. */
const EXPERIMENTAL = "  (experimental: never merged)";

/** kernel sysctl [NAME [VALUE]]: kernel.bpf_* tunables (sysctl -a / sysctl -w). */
function doSysctl(ctx: CliContext, args: Args): number {
  const k = ctx.k;
  const all = SYSCTLS.filter((x) => k.features.version >= x.since);
  if (!args.argc) {
    const jw = ctx.out.json;
    if (jw) {
      jw.startObject();
      for (const x of all) jw.uintField(`kernel.${x.name}`, k.sysctl[x.name]);
      jw.endObject();
    } else {
      for (const x of all) {
        ctx.out.print(`kernel.${x.name} = ${k.sysctl[x.name]}${x.experimental ? EXPERIMENTAL : ""}\n`);
      }
    }
    return 0;
  }
  const name = args.cur!.replace(/^kernel\./, "");
  const x = SYSCTLS.find((s) => s.name === name);
  if (!x || k.features.version < x.since) {
    ctx.out.pErr(`cannot stat /proc/sys/kernel/${name}: No such file or directory`);
    return -1;
  }
  nextArg(ctx, args);
  if (!args.argc) {
    if (ctx.out.json) ctx.out.json.value({ [`kernel.${x.name}`]: k.sysctl[x.name] });
    else ctx.out.print(`kernel.${x.name} = ${k.sysctl[x.name]}${x.experimental ? EXPERIMENTAL : ""}\n`);
    return 0;
  }
  const v = parseUnsigned(args.cur!, 0, 32);
  if (v === null || v > 1) {
    ctx.out.pErr(`setting key "kernel.${x.name}": Invalid argument`);
    return -1;
  }
  nextArg(ctx, args);
  if (args.argc) return badArg(ctx, args);
  k.sysctl[x.name] = v;
  if (ctx.out.json) ctx.out.jsonNull();
  else ctx.out.print(`kernel.${x.name} = ${v}${x.experimental ? EXPERIMENTAL : ""}\n`);
  return 0;
}

/** kernel config [profile P] [cpus N] [rt {on|off}] [seed S] [memalloc FLAVOUR] */
function doConfig(ctx: CliContext, args: Args): number {
  const k = ctx.k;
  const host = getHost(ctx);
  const o: KernelOptions = {
    profile: k.config.profile.name,
    cpus: k.ncpu,
    preemptRt: k.config.preemptRt,
    seed: k.config.seed,
  };
  let memalloc: string | undefined;
  while (args.argc) {
    const w = args.cur!;
    if (isPrefix(w, "profile") && w.length) {
      nextArg(ctx, args);
      const p = args.cur === undefined ? undefined : findProfile(args.cur);
      if (!p) {
        ctx.out.pErr(`unknown profile '${args.cur ?? ""}' (known: ${PROFILES.map((x) => x.name).join(", ")})`);
        return -1;
      }
      o.profile = p.name;
    } else if (isPrefix(w, "cpus") && w.length) {
      nextArg(ctx, args);
      const n = args.cur === undefined ? null : parseUnsigned(args.cur, 0, 32);
      if (n === null || n < 1 || n > 64) {
        ctx.out.pErr(`can't parse ${args.cur ?? ""} as CPU count (1-64)`);
        return -1;
      }
      o.cpus = n;
    } else if (isPrefix(w, "rt") && w.length) {
      nextArg(ctx, args);
      if (args.cur !== "on" && args.cur !== "off") {
        ctx.out.pErr(`expected 'on' or 'off' after rt, got: '${args.cur ?? ""}'`);
        return -1;
      }
      o.preemptRt = args.cur === "on";
    } else if (isPrefix(w, "seed") && w.length) {
      nextArg(ctx, args);
      const n = args.cur === undefined ? null : parseUnsigned(args.cur, 0, 32);
      if (n === null) {
        ctx.out.pErr(`can't parse ${args.cur ?? ""} as seed`);
        return -1;
      }
      o.seed = n;
    } else if (isPrefix(w, "memalloc") && w.length) {
      nextArg(ctx, args);
      if (args.cur === undefined) {
        ctx.out.pErr(`expected a memalloc flavour (${MEMALLOC_FLAVOURS.map((f) => f.name).join(", ")})`);
        return -1;
      }
      memalloc = args.cur;
    } else {
      return badArg(ctx, args);
    }
    nextArg(ctx, args);
  }
  // unless given, a chosen flavour stays; the release's default follows the new release
  const version = findProfile(o.profile!)!.version;
  const cur = memallocOf(k);
  const flavour = memalloc ?? (cur === defaultMemalloc(k.features.version) ? defaultMemalloc(version) : cur);
  const err = memallocError(flavour, version);
  if (err) {
    ctx.out.pErr(memalloc === undefined ? `${err}; choose one with memalloc FLAVOUR` : err);
    return -1;
  }
  o.memalloc = flavour as MemallocFlavour;
  const maps = k.bpf.allMaps().length;
  if (maps && !host.yes) {
    ctx.out.pErr(
      `kernel config boots a new kernel and drops ${maps} map${maps === 1 ? "" : "s"}; add --yes to confirm`,
    );
    return -1;
  }
  host.reboot(o);
  if (ctx.out.json) ctx.out.jsonNull();
  else {
    ctx.out.pInfo(
      `booted ${o.profile}${o.preemptRt ? " (PREEMPT_RT)" : ""} with ${o.cpus} CPU${
        o.cpus === 1 ? "" : "s"
      }, seed ${o.seed}, memalloc ${o.memalloc}`,
    );
  }
  return 0;
}

/** kernel save (shell): writes the in-memory kernel to the state directory. */
function doSave(ctx: CliContext, args: Args): number {
  if (args.argc) return badArg(ctx, args);
  const host = getHost(ctx);
  if (!host.save) {
    ctx.out.pErr("kernel save is for the shell; one-shot commands save after every command");
    return -1;
  }
  const msg = host.save();
  if (ctx.out.json) ctx.out.jsonNull();
  else ctx.out.pInfo(msg);
  return 0;
}

/** kernel load (shell): replaces the in-memory kernel with the saved one. */
function doLoad(ctx: CliContext, args: Args): number {
  if (args.argc) return badArg(ctx, args);
  const host = getHost(ctx);
  if (!host.load) {
    ctx.out.pErr("kernel load is for the shell; one-shot commands always use the saved kernel");
    return -1;
  }
  const msg = host.load();
  if (ctx.out.json) ctx.out.jsonNull();
  else ctx.out.pInfo(msg);
  return 0;
}

function doHelp(ctx: CliContext, _args: Args): number {
  if (ctx.out.json) {
    ctx.out.jsonNull();
    return 0;
  }
  ctx.out.eprint(
    renderUsage(ctx.binName, "kernel", KERNEL_CMDS) +
      `       ${ctx.binName} kernel help\n\n` +
      KERNEL_DEFS.map((d) => `       ${d}\n`).join("") +
      `       config boots a new kernel (maps are lost; --yes confirms);\n` +
      `       save/load keep the shell's kernel in the state directory.\n`,
  );
  return 0;
}

/** Grammar of `kernel` (help and completion). */
export const KERNEL_DEFS: readonly string[] = [
  `PROFILE := { ${PROFILES.map((p) => p.name).join(" | ")} }`,
  `FLAVOUR := { ${MEMALLOC_FLAVOURS.map((f) => f.name).join(" | ")} }`,
];

/** The `kernel` command table (help and completion are generated from it). */
export const KERNEL_CMDS: readonly Cmd[] = [
  { name: "show", fn: doShow, helpRank: 0, label: "{ show | list }" },
  { name: "list", fn: doShow },
  {
    name: "config",
    fn: doConfig,
    args: "[profile PROFILE] [cpus N] [rt { on | off }] [seed SEED] \\\n[memalloc FLAVOUR]",
    helpRank: 1,
  },
  { name: "profiles", fn: doProfiles, helpRank: 2 },
  { name: "points", fn: doPoints, args: "[PATTERN]", helpRank: 3 },
  { name: "sysctl", fn: doSysctl, args: "[NAME [VALUE]]", helpRank: 6 },
  { name: "save", fn: doSave, helpRank: 4 },
  { name: "load", fn: doLoad, helpRank: 5 },
  { name: "help", fn: doHelp },
];

/** `kernel ...` */
export function doKernel(ctx: CliContext, args: Args): number {
  return cmdSelect(ctx, KERNEL_CMDS, args, doHelp);
}
