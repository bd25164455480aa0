// kernel/bpf/syscall.c, the program and link commands: BPF_PROG_LOAD
// (bpf_prog_load: type, flags and name checks, the verifier, the id),
// BPF_LINK_CREATE (attach a program at a hook of its type), BPF_LINK_DETACH,
// the id walks and fd lookups, OBJ_GET_INFO_BY_FD for programs and links,
// and BPF_PROG_TEST_RUN for programs run on demand (syscall, xdp, tc). The
// map names an op-language program uses are resolved here, the way a loader
// (libbpf) turns them into map fds before the program reaches the kernel.

import { EBADF, EINVAL, ENOENT, EOPNOTSUPP } from "../kernel/errno.ts";
import type { File, FileObject } from "../kernel/file.ts";
import { pointByName } from "../kernel/points.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";
import { rcu_read_lock, rcu_read_lock_trace, rcu_read_unlock, rcu_read_unlock_trace } from "../kernel/context.ts";
import { migrate_disable, migrate_enable } from "../kernel/context.ts";
import { bpf_prog_run } from "./core.ts";
import { BpfLink, type LinkTarget } from "./link.ts";
import type { BpfMap } from "./map.ts";
import { OpSyntaxError, parseOps } from "./oplang.ts";
import { BpfProg, type ProgFn, type ProgKind } from "./prog.ts";
import { bpf_check, sleepableAllowed } from "./verifier.ts";
import {
  BPF_LINK_TYPE_PERF_EVENT,
  BPF_LINK_TYPE_RAW_TRACEPOINT,
  BPF_LINK_TYPE_TCX,
  BPF_LINK_TYPE_TRACING,
  BPF_LINK_TYPE_XDP,
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_PERF_EVENT,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_PROG_TYPE_SYSCALL,
  BPF_PROG_TYPE_TRACEPOINT,
  BPF_PROG_TYPE_TRACING,
  BPF_PROG_TYPE_XDP,
  BPF_TRACE_FENTRY,
  BPF_TRACE_FEXIT,
  PROG_TYPE_SINCE,
} from "./uapi_prog.ts";
import type { SysBpf } from "./syscall.ts";
import { bpfObjNameCheck } from "./syscall.ts";

/** Prog type and expected attach type of each kind a user names. */
export const PROG_KINDS: Readonly<Record<ProgKind, { type: number; attach: number }>> = {
  kprobe: { type: BPF_PROG_TYPE_KPROBE, attach: 0 },
  kretprobe: { type: BPF_PROG_TYPE_KPROBE, attach: 0 },
  tracepoint: { type: BPF_PROG_TYPE_TRACEPOINT, attach: 0 },
  raw_tp: { type: BPF_PROG_TYPE_RAW_TRACEPOINT, attach: 0 },
  fentry: { type: BPF_PROG_TYPE_TRACING, attach: BPF_TRACE_FENTRY },
  fexit: { type: BPF_PROG_TYPE_TRACING, attach: BPF_TRACE_FEXIT },
  perf_event: { type: BPF_PROG_TYPE_PERF_EVENT, attach: 0 },
  xdp: { type: BPF_PROG_TYPE_XDP, attach: 0 },
  tc: { type: BPF_PROG_TYPE_SCHED_CLS, attach: 0 },
  syscall: { type: BPF_PROG_TYPE_SYSCALL, attach: 0 },
};

/** Arguments of progLoad (BPF_PROG_LOAD). */
export interface ProgLoadAttr {
  /** The program's kind: picks prog_type and expected_attach_type. */
  kind: ProgKind;
  /** prog_name (< 16 bytes of letters, digits, '_' and '.'). */
  name?: string;
  /** Op-language source; map names and pinned paths are resolved at load. */
  ops?: string;
  /** A TypeScript body instead (library only; such a kernel cannot be saved). */
  fn?: ProgFn;
  /** For a TypeScript body: the maps it uses (their references are held like used_maps). */
  maps?: BpfMap[];
  /** BPF_F_SLEEPABLE */
  sleepable?: boolean;
  /** bpfsim: skip the verifier's placement and safety rules. */
  unsafe?: boolean;
  /** Receives the verifier log (errors and warnings), one line per entry. */
  log?: string[];
}

/** bpf_prog_info plus fdinfo, what `prog show` prints. */
export interface ProgInfo {
  /** Program id. */
  id: number;
  /** enum bpf_prog_type. */
  type: number;
  /** libbpf's name of the type. */
  typeName: string;
  /** The kind it was loaded as. */
  kind: ProgKind;
  /** Program name ("" when none). */
  name: string;
  /** 16 hex digits. */
  tag: string;
  /** License is GPL-compatible (always, for op programs). */
  gplCompatible: boolean;
  /** Sum of run_time_ns (0 while stats are off). */
  runTimeNs: number;
  /** Sum of run_cnt. */
  runCnt: number;
  /** Runs skipped by a recursion guard (where the release counts them). */
  recursionMisses: number;
  /** load_time, boot-relative simulated ns. */
  loadTime: number;
  /** created_by_uid. */
  uid: number;
  /** xlated_prog_len in bytes. */
  xlatedLen: number;
  /** jited_prog_len (0: interpreted). */
  jitedLen: number;
  /** fdinfo memlock. */
  memlock: number;
  /** Ids of the maps it uses. */
  mapIds: number[];
  /** Loaded BPF_F_SLEEPABLE. */
  sleepable: boolean;
  /** Loaded with the verifier's rules skipped. */
  unsafe: boolean;
  /** bpfsim: reads/writes through reused elements. */
  reuseHits: number;
}

/** bpf_link_info */
export interface LinkInfo {
  /** Link id. */
  id: number;
  /** enum bpf_link_type. */
  type: number;
  /** libbpf's name of the type. */
  typeName: string;
  /** The attached program's id. */
  progId: number;
  /** Where it is attached. */
  target: LinkTarget;
  /** kprobe misses (another kprobe handler was running). */
  missed: number;
  /** Times the hook fired. */
  hits: number;
}

/** The anonymous inode behind a program fd. */
export class ProgFile implements FileObject {
  readonly fileKind = "bpf-prog";
  constructor(readonly prog: BpfProg) {}
  release(_f: File): void {
    this.prog.k.bpf.progPut(this.prog);
  }
}

/** The anonymous inode behind a link fd. */
export class LinkFile implements FileObject {
  readonly fileKind = "bpf_link";
  constructor(readonly link: BpfLink) {}
  release(_f: File): void {
    this.link.k.bpf.linkPut(this.link);
  }
}

/** Resolves a map token of an op program: a pinned path or a unique map name. */
function resolveMap(sys: SysBpf, token: string): BpfMap | string {
  const k = sys.k;
  if (token.startsWith("/")) {
    const obj = k.bpf.fs.get(token);
    if (typeof obj === "number") return `map ${token}: ${obj === -ENOENT ? "no such pinned object" : "not found"}`;
    if (obj.pinKind !== "map") return `map ${token}: pinned object is a ${obj.pinKind}, not a map`;
    return obj as unknown as BpfMap;
  }
  const found = k.bpf.allMaps().filter((m) => m.name === token);
  if (found.length === 0) {
    return k.features.version < 415
      ? `map '${token}' not found (maps have no names before 4.15: name it by its pinned path)`
      : `map '${token}' not found (name a map by its name or its pinned path)`;
  }
  if (found.length > 1) return `several maps are named '${token}'; name it by its pinned path`;
  return found[0];
}

/** bpf_prog_load() */
export function progLoad(sys: SysBpf, a: ProgLoadAttr): number {
  const k = sys.k;
  const f = k.features;
  const log = a.log ?? [];
  const kind = PROG_KINDS[a.kind];
  if (!kind) {
    log.push(`unknown program kind '${a.kind}'`);
    return -EINVAL;
  }
  // find_prog_type(): a type this release does not know
  if (f.version < (PROG_TYPE_SINCE[kind.type] ?? Infinity)) {
    log.push(`program type ${a.kind} is not supported by ${k.config.profile.name}`);
    return -EINVAL;
  }
  if (a.sleepable) {
    // CHECK_ATTR: BPF_F_SLEEPABLE is an unknown prog_flags bit before 5.10
    if (!f.sleepableProgs) {
      log.push(`BPF_F_SLEEPABLE is not supported by ${k.config.profile.name}`);
      return -EINVAL;
    }
    if (!sleepableAllowed(kind.type)) {
      log.push("Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be sleepable");
      return -EINVAL;
    }
  }
  const name = a.name ?? "";
  if (bpfObjNameCheck(name)) {
    log.push(`invalid program name '${name}'`);
    return -EINVAL;
  }
  if ((a.ops === undefined) === (a.fn === undefined)) {
    log.push("a program needs exactly one body: ops or fn");
    return -EINVAL;
  }
  let prog: BpfProg;
  if (a.ops !== undefined) {
    let ast;
    try {
      ast = parseOps(a.ops);
    } catch (e) {
      if (!(e instanceof OpSyntaxError)) throw e;
      log.push(e.message);
      return -EINVAL;
    }
    if (ast.count === 0) {
      log.push("empty program");
      return -EINVAL;
    }
    const maps: BpfMap[] = [];
    for (const t of ast.maps) {
      const m = resolveMap(sys, t);
      if (typeof m === "string") {
        log.push(m);
        return -EBADF;
      }
      maps.push(m);
    }
    const v = bpf_check({
      progType: kind.type,
      sleepable: a.sleepable ?? false,
      unsafe: a.unsafe ?? false,
      ast,
      maps,
      features: f,
    });
    log.push(...v.log);
    if (v.error) return -v.error.errno;
    for (const m of maps) k.bpf.mapInc(m);
    prog = new BpfProg(
      k,
      kind.type,
      kind.attach,
      a.kind,
      name,
      { lang: "ops", source: a.ops, ast },
      maps,
      a.sleepable ?? false,
      a.unsafe ?? false,
    );
  } else {
    const maps = a.maps ?? [];
    for (const m of maps) k.bpf.mapInc(m);
    prog = new BpfProg(
      k,
      kind.type,
      kind.attach,
      a.kind,
      name,
      { lang: "ts", fn: a.fn! },
      maps,
      a.sleepable ?? false,
      a.unsafe ?? false,
    );
  }
  k.bpf.allocProgId(prog);
  return sys.installProg(prog);
}

/** What `link create` asks for. */
export type LinkSpec =
  | { hook: "kprobe" | "kretprobe" | "fentry" | "fexit"; func: string }
  | { hook: "tracepoint" | "raw_tp"; tp: string }
  | { hook: "perf_event"; freq?: number; cpu?: number; sw?: boolean }
  | { hook: "xdp" | "tc"; ifname?: string };

/** The simulated network device programs attach to (lo is 1). */
export const SIM_NIC = { name: "eth0", ifindex: 2 };

/** Which hooks each program type attaches to, and the link type it makes. */
function linkTypeFor(prog: BpfProg, spec: LinkSpec): number | string {
  const t = prog.progType;
  switch (spec.hook) {
    case "kprobe":
    case "kretprobe":
      return t === BPF_PROG_TYPE_KPROBE ? BPF_LINK_TYPE_PERF_EVENT : "needs a kprobe program";
    case "tracepoint":
      return t === BPF_PROG_TYPE_TRACEPOINT ? BPF_LINK_TYPE_PERF_EVENT : "needs a tracepoint program";
    case "raw_tp":
      return t === BPF_PROG_TYPE_RAW_TRACEPOINT ? BPF_LINK_TYPE_RAW_TRACEPOINT : "needs a raw_tp program";
    case "fentry":
      return t === BPF_PROG_TYPE_TRACING && prog.attachType === BPF_TRACE_FENTRY
        ? BPF_LINK_TYPE_TRACING
        : "needs an fentry program";
    case "fexit":
      return t === BPF_PROG_TYPE_TRACING && prog.attachType === BPF_TRACE_FEXIT
        ? BPF_LINK_TYPE_TRACING
        : "needs an fexit program";
    case "perf_event":
      return t === BPF_PROG_TYPE_PERF_EVENT ? BPF_LINK_TYPE_PERF_EVENT : "needs a perf_event program";
    case "xdp":
      return t === BPF_PROG_TYPE_XDP ? BPF_LINK_TYPE_XDP : "needs an xdp program";
    case "tc":
      return t === BPF_PROG_TYPE_SCHED_CLS ? BPF_LINK_TYPE_TCX : "needs a tc program";
  }
}

/**
 * BPF_LINK_CREATE (and perf_event_open + PERF_EVENT_IOC_SET_BPF for
 * kprobes, tracepoints and perf events): attaches the program behind
 * `progFd`. Returns a link fd or -errno; `log` gets why it was refused.
 */
export function linkCreate(sys: SysBpf, progFd: number, spec: LinkSpec, log: string[] = []): number {
  const k = sys.k;
  const prog = sys.progOf(progFd);
  if (!prog) return progFd >= 0 && progFd <= 2 ? -EINVAL : -EBADF;
  const type = linkTypeFor(prog, spec);
  if (typeof type === "string") {
    log.push(`${spec.hook} ${type}, not ${prog.kind} (prog type ${prog.typeName})`);
    return -EINVAL;
  }
  let target: LinkTarget;
  switch (spec.hook) {
    case "kprobe":
    case "kretprobe":
    case "fentry":
    case "fexit": {
      const p = pointByName(spec.func);
      if (!p) {
        log.push(`no probe-able kernel function '${spec.func}' (see 'kernel points')`);
        return -ENOENT;
      }
      if ((spec.hook === "kretprobe" || spec.hook === "fexit") && !p.ret) {
        log.push(
          `${spec.func}: bpfsim instruments its entry only; ${spec.hook} needs a function with 'ret' in 'kernel points'`,
        );
        return -EOPNOTSUPP;
      }
      if (prog.sleepable && !p.sleepable) {
        log.push(`${spec.func} is not sleepable`);
        return -EINVAL;
      }
      target = { hook: spec.hook, func: spec.func };
      break;
    }
    case "tracepoint":
    case "raw_tp":
      target = { hook: spec.hook, tp: spec.tp };
      break;
    case "perf_event": {
      const cpu = spec.cpu ?? -1;
      if (cpu >= k.ncpu || cpu < -1) {
        log.push(`no CPU ${cpu} (this kernel has ${k.ncpu})`);
        return -EINVAL;
      }
      const freq = spec.freq ?? 1000;
      if (!Number.isInteger(freq) || freq < 1 || freq > 100_000) {
        log.push(`perf_event freq must be 1-100000 Hz (kernel.perf_event_max_sample_rate), got ${freq}`);
        return -EINVAL;
      }
      target = { hook: "perf_event", freq, cpu, sw: spec.sw ?? false };
      break;
    }
    case "xdp":
    case "tc": {
      const ifname = spec.ifname ?? SIM_NIC.name;
      if (ifname !== SIM_NIC.name) {
        log.push(`no device ${ifname} (the simulated kernel has ${SIM_NIC.name})`);
        return -ENOENT;
      }
      target = { hook: spec.hook, ifname, ifindex: SIM_NIC.ifindex };
      break;
    }
  }
  const link = new BpfLink(k, type, prog, target);
  const err = k.bpf.hooks.attach(link);
  if (err) {
    log.push(
      err === -ENOENT
        ? `no such ${spec.hook} target`
        : `${spec.hook}: already attached (${-err === 17 ? "EEXIST" : err})`,
    );
    return err;
  }
  prog.refcnt++; // the link's reference to its program
  k.bpf.allocLinkId(link);
  return sys.installLink(link);
}

/** BPF_LINK_DETACH: the program stops running; the link object stays until its last reference goes. */
export function linkDetach(sys: SysBpf, fd: number): number {
  const link = sys.linkOf(fd);
  if (!link) return -EINVAL;
  if (link.detached) return 0;
  sys.k.bpf.hooks.detach(link);
  return 0;
}

/** BPF_OBJ_GET_INFO_BY_FD for a program. */
export function progInfo(prog: BpfProg): ProgInfo {
  const stats = prog.k.features.bpfStats;
  return {
    id: prog.id,
    type: prog.progType,
    typeName: prog.typeName,
    kind: prog.kind,
    name: prog.name,
    tag: prog.tag,
    gplCompatible: true,
    runTimeNs: stats ? Math.round(prog.runTime) : 0,
    runCnt: stats ? prog.runCount : 0,
    recursionMisses: prog.k.features.trampRecursion || prog.k.features.progMissesCounted ? prog.recursionMisses : 0,
    loadTime: prog.loadTime,
    uid: 0,
    xlatedLen: prog.xlatedLen,
    jitedLen: 0,
    memlock: prog.memlock,
    mapIds: prog.maps.map((m) => m.id),
    sleepable: prog.sleepable,
    unsafe: prog.unsafe,
    reuseHits: prog.reuseHits,
  };
}

/** BPF_OBJ_GET_INFO_BY_FD for a link. */
export function linkInfo(link: BpfLink): LinkInfo {
  return {
    id: link.id,
    type: link.type,
    typeName: link.typeName,
    progId: link.prog.id,
    target: link.target,
    missed: link.missed,
    hits: link.hits,
  };
}

/** Result of BPF_PROG_TEST_RUN. */
export interface TestRunResult {
  /** The program's return value of the last run. */
  retval: number;
  /** Average simulated ns per run. */
  duration: number;
}

/**
 * BPF_PROG_TEST_RUN: runs a syscall, xdp or tc program `repeat` times in the
 * caller's task context (syscall programs: rcu_read_lock_trace when
 * sleepable; the others under rcu_read_lock with migration disabled).
 */
export function progTestRun(sys: SysBpf, fd: number, repeat: number): TestRunResult | number {
  const k = sys.k;
  const prog = sys.progOf(fd);
  if (!prog) return -EINVAL;
  const t = prog.progType;
  if (t !== BPF_PROG_TYPE_SYSCALL && t !== BPF_PROG_TYPE_XDP && t !== BPF_PROG_TYPE_SCHED_CLS) return -EOPNOTSUPP;
  if (t === BPF_PROG_TYPE_SYSCALL && repeat > 1) return -EINVAL; // syscall programs run once
  const cpu = k.cur;
  const start = cpu.clock;
  let retval = 0;
  const n = Math.max(1, repeat);
  for (let i = 0; i < n; i++) {
    if (prog.sleepable) rcu_read_lock_trace(k);
    else rcu_read_lock(k);
    migrate_disable(k);
    retval = bpf_prog_run(k, prog, null);
    migrate_enable(k);
    if (prog.sleepable) rcu_read_unlock_trace(k);
    else rcu_read_unlock(k);
  }
  return { retval, duration: Math.round((cpu.clock - start) / n) };
}

snapshotClasses(ProgFile, LinkFile);
