// The helpers an interpreted program calls (kernel/bpf/helpers.c,
// kernel/trace/bpf_trace.c, kernel/bpf/ringbuf.c, kernel/bpf/bpf_iter.c's
// bpf_loop): each reads its arguments from registers, touches the simulated
// kernel (maps through their element ops, ring buffers, the trace buffer,
// memory), is an instrumented point where its kernel counterpart is, and
// returns r0. Pointers in and out are simulated addresses.

import { COST } from "../kernel/cost.ts";
import { E2BIG, EFAULT, EINVAL, EOPNOTSUPP } from "../kernel/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { definePoint } from "../kernel/points.ts";
import { local_irq_restore, local_irq_save } from "../kernel/context.ts";
import { currentTask } from "./helpers.ts";
import { HELPER_TABLE, type HelperFn, INSN_DONE, type InsnEnv, InsnEnv as Env, runInsns, setReg } from "./interp.ts";
import { bpf_map_kptr, isOuterMap } from "./map_in_map.ts";
import type { BpfMap } from "./map.ts";
import type { BpfProg } from "./prog.ts";
import { bpf_ringbuf_discard, bpf_ringbuf_submit, BpfRingbuf } from "./ringbuf.ts";
import { BPF_FUNC } from "./uapi_insn.ts";
import { BPF_MAP_TYPE_PROG_ARRAY } from "./uapi.ts";

const F = "kernel/bpf/helpers.c";
const T = "kernel/trace/bpf_trace.c";
const P_LOOKUP = definePoint("bpf_map_lookup_elem", F, "helper: look a key up in a map");
const P_UPDATE = definePoint("bpf_map_update_elem", F, "helper: insert or replace a map element");
const P_DELETE = definePoint("bpf_map_delete_elem", F, "helper: delete a map element");
const P_PUSH = definePoint("bpf_map_push_elem", F, "helper: push a value onto a queue or stack");
const P_POP = definePoint("bpf_map_pop_elem", F, "helper: pop a value from a queue or stack");
const P_PEEK = definePoint("bpf_map_peek_elem", F, "helper: peek at a queue's or stack's next value");
const P_SPIN_LOCK = definePoint("bpf_spin_lock", F, "helper: take a map value's bpf_spin_lock");
const P_SPIN_UNLOCK = definePoint("bpf_spin_unlock", F, "helper: release a bpf_spin_lock");
const P_KTIME = definePoint("bpf_ktime_get_ns", F, "helper: monotonic time in ns");
const P_KTIME_BOOT = definePoint("bpf_ktime_get_boot_ns", F, "helper: boot time in ns");
const P_PRANDOM = definePoint("bpf_user_rnd_u32", "kernel/bpf/core.c", "helper: bpf_get_prandom_u32()");
const P_PID_TGID = definePoint("bpf_get_current_pid_tgid", F, "helper: current tgid << 32 | pid");
const P_COMM = definePoint("bpf_get_current_comm", F, "helper: current->comm");
const P_PRINTK = definePoint("bpf_trace_printk", T, "helper: print to the trace buffer (trace_pipe)");
const P_PROBE_READ = definePoint("bpf_probe_read_kernel", T, "helper: copy kernel memory, faults read as zeros");
const P_PROBE_READ_USER = definePoint("bpf_probe_read_user", T, "helper: copy user memory");
const P_PERF_OUTPUT = definePoint("bpf_perf_event_output", T, "helper: write a sample to a perf event ring");
const P_SMP_ID = definePoint("bpf_get_smp_processor_id", F, "helper: the current CPU (inlined by the JIT)");
const P_NUMA = definePoint("bpf_get_numa_node_id", F, "helper: the current NUMA node");
const P_UID_GID = definePoint("bpf_get_current_uid_gid", F, "helper: current gid << 32 | uid");
const P_JIFFIES = definePoint("bpf_jiffies64", F, "helper: jiffies");
const P_KTIME_COARSE = definePoint("bpf_ktime_get_coarse_ns", F, "helper: coarse monotonic time in ns");
const P_LOOP = definePoint("bpf_loop", "kernel/bpf/bpf_iter.c", "helper: call a callback up to N times");
const P_TAIL_CALL = definePoint("bpf_tail_call", "kernel/bpf/core.c", "helper: jump to a program of a prog_array");

/** BPF_F_CURRENT_CPU */
const BPF_F_CURRENT_CPU = 0xffffffff;
/** BPF_MAX_LOOPS */
export const BPF_MAX_LOOPS = 8 * 1024 * 1024;
/** MAX_TAIL_CALL_CNT */
const MAX_TAIL_CALL_CNT = 33;

// -------------------------------------------------------------- utilities

/** Counts a map op's result in the run counters and, when the run belongs to a BpfProg, in the program's. */
function opResult(env: InsnEnv, r: number): void {
  const prog = env.owner as BpfProg | null;
  if (prog !== null && prog.opResults instanceof Map) env.k.bpf.opResult(r, prog);
  else {
    const m = env.k.bpf.counters.opResults;
    m.set(r, (m.get(r) ?? 0) + 1);
  }
}

/** Scratch buffers by size, so helper calls do not allocate. */
const scratch: Uint8Array[] = [];
function buf(n: number): Uint8Array {
  let b = scratch[n];
  if (b === undefined) {
    b = new Uint8Array(n);
    if (n <= 4096) scratch[n] = b;
  }
  return b;
}

/** Copies `n` bytes of simulated memory at `addr` into a scratch buffer. */
function memIn(k: Kernel, addr: number, n: number): Uint8Array {
  const b = buf(n);
  k.mem.copyOut(addr, b, 0, n);
  return b;
}

/** The map whose struct bpf_map pointer a register holds (used maps first, then every map). */
export function mapOfPtr(env: InsnEnv, ptr: number): BpfMap {
  for (const m of env.prog.maps) if (bpf_map_kptr(m) === ptr) return m;
  for (const m of env.k.bpf.allMaps()) if (!m.freed && bpf_map_kptr(m) === ptr) return m;
  // inner maps of map-in-map live in their outer maps' tables
  for (const m of env.k.bpf.allMaps()) {
    if (isOuterMap(m)) {
      const inner = m.innerMaps.get(ptr);
      if (inner) return inner;
    }
  }
  throw new Error(`bpfsim: ${env.prog.name}: no map at pointer ${ptr}`);
}

// ------------------------------------------------------------------- maps

const mapLookup: HelperFn = (env, r1, r2) => {
  const k = env.k;
  const map = mapOfPtr(env, r1);
  k.point(P_LOOKUP, map);
  return map.lookupElem(memIn(k, r2, map.keySize));
};

const mapUpdate: HelperFn = (env, r1, r2, r3, r4) => {
  const k = env.k;
  const map = mapOfPtr(env, r1);
  k.point(P_UPDATE, map);
  const key = memIn(k, r2, map.keySize).slice();
  const r = map.updateElem(key, memIn(k, r3, map.valueSize), r4);
  opResult(env, r);
  return r;
};

const mapDelete: HelperFn = (env, r1, r2) => {
  const k = env.k;
  const map = mapOfPtr(env, r1);
  k.point(P_DELETE, map);
  const r = map.deleteElem(memIn(k, r2, map.keySize));
  opResult(env, r);
  return r;
};

const mapPush: HelperFn = (env, r1, r2, r3) => {
  const k = env.k;
  const map = mapOfPtr(env, r1);
  k.point(P_PUSH, map);
  const r = map.pushElem(memIn(k, r2, map.valueSize), r3);
  opResult(env, r);
  return r;
};

function popPeek(pop: boolean): HelperFn {
  return (env, r1, r2) => {
    const k = env.k;
    const map = mapOfPtr(env, r1);
    k.point(pop ? P_POP : P_PEEK, map);
    const out = buf(map.valueSize);
    const r = pop ? map.popElem(out) : map.peekElem(out);
    if (r === 0) k.mem.copyIn(r2, out, 0, map.valueSize);
    return r;
  };
}

// --------------------------------------------------------- task and time

const ktimeGetNs: HelperFn = (env) => {
  env.k.point(P_KTIME);
  return Math.floor(env.cpu.clock);
};

const ktimeGetBootNs: HelperFn = (env) => {
  env.k.point(P_KTIME_BOOT);
  return Math.floor(env.cpu.clock);
};

/** The tick: CONFIG_HZ=250 (4 ms), as the oracle kernel is built. */
const TICK_NS = 4_000_000;
/** INITIAL_JIFFIES: jiffies start 5 minutes before wrapping. */
const INITIAL_JIFFIES = 4294937296;

const ktimeGetCoarseNs: HelperFn = (env) => {
  env.k.point(P_KTIME_COARSE);
  return Math.floor(env.cpu.clock / TICK_NS) * TICK_NS;
};

const jiffies64: HelperFn = (env) => {
  env.k.point(P_JIFFIES);
  return INITIAL_JIFFIES + Math.floor(env.cpu.clock / TICK_NS);
};

const getPrandomU32: HelperFn = (env) => {
  env.k.point(P_PRANDOM);
  return env.k.rng.u32();
};

const getSmpProcessorId: HelperFn = (env) => {
  env.k.point(P_SMP_ID);
  return env.cpu.id;
};

const getNumaNodeId: HelperFn = (env) => {
  env.k.point(P_NUMA);
  return 0;
};

const getCurrentPidTgid: HelperFn = (env) => {
  env.k.point(P_PID_TGID);
  const t = currentTask(env.cpu);
  // a single-threaded task: tgid == pid
  return t.pid * 4294967296 + t.pid;
};

/** bpfsim's tasks run as root: uid 0, gid 0. */
const getCurrentUidGid: HelperFn = (env) => {
  env.k.point(P_UID_GID);
  return 0;
};

const getCurrentComm: HelperFn = (env, r1, r2) => {
  const k = env.k;
  k.point(P_COMM);
  if (r2 === 0) return -EINVAL;
  const name = new TextEncoder().encode(currentTask(env.cpu).name);
  const out = buf(r2);
  out.fill(0);
  out.set(name.subarray(0, Math.min(name.length, Math.min(r2, 16) - 1)));
  k.mem.copyIn(r1, out, 0, r2);
  return 0;
};

// ------------------------------------------------------------ probe reads

/** bpf_probe_read_kernel(): copy, or zeros and -EFAULT when the source is not mapped. */
function probeRead(user: boolean): HelperFn {
  return (env, r1, r2, r3) => {
    const k = env.k;
    k.point(user ? P_PROBE_READ_USER : P_PROBE_READ);
    const out = buf(r2);
    // user memory is not simulated: every user address faults
    const src = user ? undefined : k.mem.tryRegion(r3);
    if (src === undefined || (r3 >>> 0) + r2 > src.size) {
      out.fill(0);
      if (r2) k.mem.copyIn(r1, out, 0, r2);
      return -EFAULT;
    }
    k.mem.copyOut(r3, out, 0, r2);
    k.mem.copyIn(r1, out, 0, r2);
    env.cpu.clock += COST.copyWord * Math.ceil(r2 / 8);
    return 0;
  };
}

/** bpf_probe_read_kernel_str(): up to size-1 bytes and a NUL; the length with the NUL. */
function probeReadStr(user: boolean): HelperFn {
  return (env, r1, r2, r3) => {
    const k = env.k;
    k.point(user ? P_PROBE_READ_USER : P_PROBE_READ);
    if (r2 === 0) return 0;
    const src = user ? undefined : k.mem.tryRegion(r3);
    const out = buf(r2);
    out.fill(0);
    if (src === undefined) {
      k.mem.copyIn(r1, out, 0, r2);
      return -EFAULT;
    }
    let n = 0;
    const o = r3 >>> 0;
    while (n < r2 - 1 && o + n < src.size && src.u8[o + n] !== 0) {
      out[n] = src.u8[o + n];
      n++;
    }
    k.mem.copyIn(r1, out, 0, r2);
    return n + 1;
  };
}

// ------------------------------------------------------------ trace_printk

/** A hashed %p value (ptr_to_id(): siphash with a boot-time key), deterministic from the kernel seed. */
function hashPtr(k: Kernel, v: bigint): string {
  let h = (k.config.seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < 8; i++) {
    h = Math.imul(h ^ Number((v >> BigInt(8 * i)) & 0xffn), 0x01000193) >>> 0;
    h ^= h >>> 13;
  }
  return "00000000" + h.toString(16).padStart(8, "0");
}

/**
 * bpf_bprintf_prepare() + bstr_printf() for bpf_trace_printk(): the formats
 * the kernel accepts (%d %i %u %x %X %c %s %p %pK %px and the l/ll/h/hh
 * modifiers, flags, width, precision), at most three arguments. Returns the
 * text, or -EINVAL for a format the kernel rejects.
 */
export function bprintf(env: InsnEnv, fmt: string, args: bigint[]): string | number {
  let out = "";
  let ai = 0;
  for (let i = 0; i < fmt.length; i++) {
    const ch = fmt[i];
    if (ch !== "%") {
      out += ch;
      continue;
    }
    if (fmt[i + 1] === "%") {
      out += "%";
      i++;
      continue;
    }
    const m = /^%([-+ #0]*)(\d*)(?:\.(\d+))?(hh|h|ll|l|z)?([diuxXcsp])([Kxs]?)/.exec(fmt.slice(i));
    if (!m) return -EINVAL;
    if (ai >= args.length) return -EINVAL;
    const [all, flags, width, prec, len, conv] = m;
    let pmod = m[6];
    const a = args[ai++];
    let s: string;
    const bits = len === "ll" || len === "l" || len === "z" ? 64 : len === "hh" ? 8 : len === "h" ? 16 : 32;
    const mask = (1n << BigInt(bits)) - 1n;
    const u = a & mask;
    switch (conv) {
      case "d":
      case "i": {
        const sv = BigInt.asIntN(bits, u);
        s = sv.toString();
        if (sv >= 0n && flags.includes("+")) s = "+" + s;
        else if (sv >= 0n && flags.includes(" ")) s = " " + s;
        break;
      }
      case "u":
        s = u.toString();
        break;
      case "x":
        s = (flags.includes("#") && u ? "0x" : "") + u.toString(16);
        break;
      case "X":
        s = (flags.includes("#") && u ? "0X" : "") + u.toString(16).toUpperCase();
        break;
      case "c":
        s = String.fromCharCode(Number(a & 0xffn));
        break;
      case "s": {
        // %s reads a kernel string (copy_from_kernel_nofault)
        const r = env.k.mem.tryRegion(Number(a));
        if (r === undefined) s = "(efault)";
        else {
          let o = Number(a) >>> 0;
          const bytes: number[] = [];
          while (o < r.size && r.u8[o] !== 0 && bytes.length < 512) bytes.push(r.u8[o++]);
          s = new TextDecoder().decode(new Uint8Array(bytes));
        }
        if (prec !== undefined) s = s.slice(0, Number(prec));
        break;
      }
      case "p":
        if (pmod === "x") s = a.toString(16).padStart(16, "0");
        else if (pmod === "s") {
          s = `0x${a.toString(16)}`;
        } else s = hashPtr(env.k, a);
        break;
      default:
        return -EINVAL;
    }
    if (conv !== "p") pmod = "";
    const w = width ? Number(width) : 0;
    if (s.length < w) {
      if (flags.includes("-")) s = s.padEnd(w);
      else if (flags.includes("0") && conv !== "s" && conv !== "c") {
        const neg = s.startsWith("-");
        s = (neg ? "-" : "") + s.slice(neg ? 1 : 0).padStart(w - (neg ? 1 : 0), "0");
      } else s = s.padStart(w);
    }
    out += s;
    i += all.length - 1 - (conv === "p" ? 0 : pmod.length);
  }
  return out;
}

const traceHelper: HelperFn = (env, r1, r2) => {
  const k = env.k;
  k.point(P_PRINTK);
  if (r2 === 0 || r2 > 65536) return -EINVAL;
  const raw = memIn(k, r1, r2);
  // the format must be NUL-terminated within fmt_size
  if (raw[r2 - 1] !== 0) return -EINVAL;
  const end = raw.indexOf(0);
  const fmt = new TextDecoder().decode(raw.subarray(0, end));
  const args = [env.regBig(3), env.regBig(4), env.regBig(5)];
  const text = bprintf(env, fmt, args);
  if (typeof text === "number") return text;
  // BPF_TRACE_PRINTK_SIZE: 1024 bytes with the NUL
  const msg = new TextEncoder().encode(text).subarray(0, 1023);
  const t = currentTask(env.cpu);
  k.trace.write(env.cpu, t.pid, t.name, "bpf_trace_printk: " + new TextDecoder().decode(msg));
  return msg.length;
};

// -------------------------------------------------------------- ringbuf

function ringOf(env: InsnEnv, ptr: number): BpfRingbuf {
  const m = mapOfPtr(env, ptr);
  if (!(m instanceof BpfRingbuf)) throw new Error(`bpfsim: map ${m.name} is not a ring buffer`);
  return m;
}

const ringbufOutput: HelperFn = (env, r1, r2, r3, r4) => {
  const k = env.k;
  const rb = ringOf(env, r1);
  const data = memIn(k, r2, r3).slice();
  const r = rb.output(data, r4);
  opResult(env, r);
  return r;
};

const ringbufReserve: HelperFn = (env, r1, r2, r3) => ringOf(env, r1).reserve(r2, r3);

const ringbufSubmit: HelperFn = (env, r1, r2) => {
  bpf_ringbuf_submit(env.k, r1, r2);
  return 0;
};

const ringbufDiscard: HelperFn = (env, r1, r2) => {
  bpf_ringbuf_discard(env.k, r1, r2);
  return 0;
};

const ringbufQuery: HelperFn = (env, r1, r2) => ringOf(env, r1).query(r2);

// ----------------------------------------------------------- perf events

/**
 * Writes a perf_event_output() sample: (kernel, map, flags, data) -> 0 or
 * -errno. The default takes maps with a perfEventOutput(index, data) method
 * and refuses others with -EOPNOTSUPP; install the perf_event_array's own
 * (bpf_perf_event_output) with setPerfEventOutput().
 */
export type PerfEventOutputFn = (k: Kernel, map: BpfMap, flags: number, data: Uint8Array, cpu: number) => number;

const defaultPerfOutput: PerfEventOutputFn = (_k, map, flags, data, cpu) => {
  const m = map as BpfMap & { perfEventOutput?: (index: number, data: Uint8Array) => number };
  if (typeof m.perfEventOutput !== "function") return -EOPNOTSUPP;
  const idx = (flags % 4294967296) >>> 0;
  const index = idx === BPF_F_CURRENT_CPU ? cpu : idx;
  if (index >= map.maxEntries) return -E2BIG;
  return m.perfEventOutput(index, data);
};

let perfOutput: PerfEventOutputFn = defaultPerfOutput;

/** Installs bpf_perf_event_output()'s implementation (null: the default). */
export function setPerfEventOutput(fn: PerfEventOutputFn | null): void {
  perfOutput = fn ?? defaultPerfOutput;
}

const perfEventOutput: HelperFn = (env, _r1, r2, r3, r4, r5) => {
  const k = env.k;
  k.point(P_PERF_OUTPUT);
  return perfOutput(k, mapOfPtr(env, r2), r3, memIn(k, r4, r5).slice(), env.cpu.id);
};

// ------------------------------------------------------------- spin locks

const spinLock: HelperFn = (env, r1) => {
  const k = env.k;
  k.point(P_SPIN_LOCK);
  const cpu = env.cpu;
  env.lockFlags = local_irq_save(k);
  const locks = k.bpf.spinLocks;
  const w = locks.get(r1) ?? 0;
  if (w < 0) {
    k.hang(cpu, `spinning on a bpf_spin_lock held by ${w === -(cpu.id + 1) ? "this CPU (AA)" : `CPU#${-w - 1}`}`);
  }
  if (cpu.clock < w) cpu.clock = w;
  cpu.clock += COST.lock;
  locks.set(r1, -(cpu.id + 1));
  env.lockAddr = r1;
  return 0;
};

const spinUnlock: HelperFn = (env, r1) => {
  const k = env.k;
  k.point(P_SPIN_UNLOCK);
  env.cpu.clock += COST.unlock;
  k.bpf.spinLocks.set(r1, env.cpu.clock);
  if (env.lockAddr === r1) {
    env.lockAddr = 0;
    local_irq_restore(k, env.lockFlags);
  }
  return 0;
};

// ------------------------------------------------------------- bpf_loop

/** Environments for callbacks (bpf_loop), one per calling environment. */
const callbackEnvs = new WeakMap<InsnEnv, InsnEnv>();

/** FUNC_PTR_HI: the high half of a subprogram "address" ld_imm64 BPF_PSEUDO_FUNC produces. */
export const FUNC_PTR_HI = 0x1ffffe;

const loop: HelperFn = (env, r1, r2, r3, r4) => {
  const k = env.k;
  k.point(P_LOOP);
  if (r4 !== 0) return -EINVAL;
  if (r1 > BPF_MAX_LOOPS) return -E2BIG;
  const start = r2 - FUNC_PTR_HI * 4294967296;
  if (start < 0 || start >= env.prog.len) throw new Error(`bpfsim: ${env.prog.name}: bad callback pointer ${r2}`);
  let cb = callbackEnvs.get(env);
  if (cb === undefined) {
    cb = new Env(k, env.prog, env.cpu, env.depth);
    cb.owner = env.owner;
    callbackEnvs.set(env, cb);
  }
  cb.prog = env.prog;
  cb.cpu = env.cpu;
  // the callback's frame goes below the caller's
  const fp = env.reg(10) - env.prog.frameSize[env.pc];
  let i = 0;
  for (; i < r1; i++) {
    cb.lo.fill(0);
    cb.hi.fill(0);
    cb.nframes = 0;
    cb.pc = start;
    cb.insns = 0;
    cb.pending = 0;
    cb.lockAddr = env.lockAddr;
    setReg(cb, 1, i);
    setReg(cb, 2, r3);
    setReg(cb, 10, fp);
    while (runInsns(cb) !== INSN_DONE);
    env.insns += cb.insns;
    env.lockAddr = cb.lockAddr;
    if (cb.r0 !== 0) {
      i++;
      break;
    }
  }
  return i;
};

// ------------------------------------------------------------- tail call

/**
 * Finds the program a bpf_tail_call() continues with: counts the call and
 * returns the program in the prog_array slot, or null to fall through (the
 * kernel's JMP_TAIL_CALL). `env` carries the run's tailCallCnt.
 */
export type TailCallResolver = (env: InsnEnv, map: BpfMap, index: number) => InsnEnv["prog"] | null;

/** The executable program of each loaded program object (BpfProg), for prog_array slots. */
const insnProgs = new WeakMap<object, InsnEnv["prog"]>();

/** Records that `owner` (the program object a prog_array slot holds) runs `prog`. */
export function registerInsnProg(owner: object, prog: InsnEnv["prog"]): void {
  insnProgs.set(owner, prog);
}

/**
 * The default: a map with progAt(index) (a prog_array) gives the slot's
 * program; an index past the array, a run that made MAX_TAIL_CALL_CNT tail
 * calls, an empty slot or a program that is not an instruction program falls through.
 */
const defaultTailCall: TailCallResolver = (env, map, index) => {
  const pa = map as BpfMap & { progAt?: (i: number) => object | null };
  if (map.mapType !== BPF_MAP_TYPE_PROG_ARRAY || typeof pa.progAt !== "function") return null;
  if (index >= map.maxEntries || env.tailCallCnt >= MAX_TAIL_CALL_CNT) return null;
  env.tailCallCnt++;
  const owner = pa.progAt(index);
  return owner ? insnProgs.get(owner) ?? null : null;
};

let tailCallResolver: TailCallResolver = defaultTailCall;

/** Installs how bpf_tail_call() finds the program in a prog_array slot (null: the default). */
export function setTailCallResolver(fn: TailCallResolver | null): void {
  tailCallResolver = fn ?? defaultTailCall;
}

const tailCall: HelperFn = (env, _r1, r2, r3) => {
  const k = env.k;
  k.point(P_TAIL_CALL);
  const target = tailCallResolver(env, mapOfPtr(env, r2), r3 % 4294967296);
  if (!target) return 0;
  env.prog = target;
  env.pc = 0;
  return 0;
};

// ------------------------------------------------------------- the table

HELPER_TABLE[BPF_FUNC.map_lookup_elem] = mapLookup;
HELPER_TABLE[BPF_FUNC.map_update_elem] = mapUpdate;
HELPER_TABLE[BPF_FUNC.map_delete_elem] = mapDelete;
HELPER_TABLE[BPF_FUNC.probe_read] = probeRead(false);
HELPER_TABLE[BPF_FUNC.ktime_get_ns] = ktimeGetNs;
HELPER_TABLE[BPF_FUNC.trace_printk] = traceHelper;
HELPER_TABLE[BPF_FUNC.get_prandom_u32] = getPrandomU32;
HELPER_TABLE[BPF_FUNC.get_smp_processor_id] = getSmpProcessorId;
HELPER_TABLE[BPF_FUNC.tail_call] = tailCall;
HELPER_TABLE[BPF_FUNC.get_current_pid_tgid] = getCurrentPidTgid;
HELPER_TABLE[BPF_FUNC.get_current_uid_gid] = getCurrentUidGid;
HELPER_TABLE[BPF_FUNC.get_current_comm] = getCurrentComm;
HELPER_TABLE[BPF_FUNC.perf_event_output] = perfEventOutput;
HELPER_TABLE[42] = getNumaNodeId;
HELPER_TABLE[BPF_FUNC.map_push_elem] = mapPush;
HELPER_TABLE[BPF_FUNC.map_pop_elem] = popPeek(true);
HELPER_TABLE[BPF_FUNC.map_peek_elem] = popPeek(false);
HELPER_TABLE[BPF_FUNC.spin_lock] = spinLock;
HELPER_TABLE[BPF_FUNC.spin_unlock] = spinUnlock;
HELPER_TABLE[BPF_FUNC.probe_read_user] = probeRead(true);
HELPER_TABLE[BPF_FUNC.probe_read_kernel] = probeRead(false);
HELPER_TABLE[BPF_FUNC.probe_read_user_str] = probeReadStr(true);
HELPER_TABLE[BPF_FUNC.probe_read_kernel_str] = probeReadStr(false);
HELPER_TABLE[118] = jiffies64;
HELPER_TABLE[BPF_FUNC.ktime_get_boot_ns] = ktimeGetBootNs;
HELPER_TABLE[BPF_FUNC.ringbuf_output] = ringbufOutput;
HELPER_TABLE[BPF_FUNC.ringbuf_reserve] = ringbufReserve;
HELPER_TABLE[BPF_FUNC.ringbuf_submit] = ringbufSubmit;
HELPER_TABLE[BPF_FUNC.ringbuf_discard] = ringbufDiscard;
HELPER_TABLE[BPF_FUNC.ringbuf_query] = ringbufQuery;
HELPER_TABLE[160] = ktimeGetCoarseNs;
HELPER_TABLE[BPF_FUNC.loop] = loop;

/** True when the interpreter has an implementation of helper `id`. */
export function helperImplemented(id: number): boolean {
  return HELPER_TABLE[id] !== undefined;
}
