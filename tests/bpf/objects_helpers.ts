// Shared by the tests of clang-built objects: reading the recorded goldens
// (tests/testdata/bpf_objects/*.json, written by tests/bpf-src/record.py on
// the real 6.18 kernel), opening and loading an object in a bpfsim kernel,
// running its programs directly with the interpreter (as the hook or
// BPF_PROG_TEST_RUN would, in a task named bsim_rec), and dumping maps
// through bpf(2) as the recorder did.

import type { Kernel } from "../../lib/kernel/kernel.ts";
import { rcu_read_lock, rcu_read_unlock } from "../../lib/kernel/context.ts";
import { HUNG } from "../../lib/kernel/kernel.ts";
import { BpfObject } from "../../lib/libbpf/object.ts";
import { bpfObjectLoad, type LoadedObject } from "../../lib/libbpf/load.ts";
import {
  type CtxSpec,
  type InsnRunResult,
  type LoadedInsnProg,
  loadInsnProg,
  runInsnProg,
} from "../../lib/bpf/insn_prog.ts";
import {
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_QUEUE,
  BPF_MAP_TYPE_STACK,
} from "../../lib/bpf/uapi.ts";

/** Where the test objects and their sources live. */
export const SRC_DIR = new URL("../bpf-src/", import.meta.url);
/** Where the recorded goldens live. */
export const GOLDEN_DIR = new URL("../testdata/bpf_objects/", import.meta.url);

/** One program as the real kernel reported it. */
export interface GoldenProg {
  name: string;
  type: string;
  tag: string;
  xlated: string;
  func_info: [number, number][];
  line_info: [number, number, number, number][];
  jited_ksyms: string[];
  helper_syms: Record<string, string>;
  map_ids: number[];
  dump: { plain: string; linum: string; opcodes: string; json_opcodes: unknown; json_linum: unknown };
}

/** One map and its contents after the scenario. */
export interface GoldenMap {
  name: string;
  type: string;
  flags: number;
  key: number;
  value: number;
  max_entries: number;
  frozen: number;
  elements: [string, string | string[]][];
  inner?: [string, string, [string, string | string[]][]][];
}

/** A recorded object. */
export interface Golden {
  object: string;
  sha256: string;
  kernel: string;
  cpus: number;
  events: Record<string, unknown>[];
  maps: GoldenMap[];
  programs: GoldenProg[];
  ringbuf?: { events: string[] };
  trace?: string[];
  attach?: string;
}

/** The recorded golden of `name` (e.g. "xdp"). */
export function golden(name: string): Golden {
  return JSON.parse(Deno.readTextFileSync(new URL(`${name}.json`, GOLDEN_DIR)));
}

/** The names of the recorded objects. */
export function goldenNames(): string[] {
  return [...Deno.readDirSync(GOLDEN_DIR)].map((e) => e.name.replace(/\.json$/, "")).sort();
}

/** The bytes of a committed test object. */
export function objectBytes(name: string): Uint8Array {
  return Deno.readFileSync(new URL(`${name}.bpf.o`, SRC_DIR));
}

/** Hex of bytes. */
export function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** Bytes of hex. */
export function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** An object opened and loaded into `k`, with every program verified. */
export interface LoadedTestObject {
  /** The libbpf side. */
  readonly lo: LoadedObject;
  /** The kernel side, by function name. */
  readonly progs: Map<string, LoadedInsnProg>;
}

/** Opens, loads (maps) and loads every program of test object `name`; throws on a rejection. */
export function loadObject(k: Kernel, name: string): LoadedTestObject {
  const obj = new BpfObject(objectBytes(name), `${name}.bpf.o`);
  const lo = bpfObjectLoad(k.sys, obj);
  const progs = new Map<string, LoadedInsnProg>();
  for (const img of lo.programs) {
    const lp = loadInsnProg(k, {
      name: img.name.slice(0, 15),
      progType: img.progType,
      attachType: img.attachType,
      insns: img.insns,
      license: obj.license,
      mapOfFd: (fd) => k.sys.fdGetMap(fd),
      sleepable: img.sleepable,
      btf: obj.btf,
      funcInfo: img.funcInfo,
      lineInfo: img.lineInfo,
    });
    if ("errno" in lp) throw new Error(`${name}: ${img.name} rejected:\n${lp.log.join("\n")}`);
    progs.set(img.name, lp);
  }
  return { lo, progs };
}

/**
 * Runs `lp` on CPU `cpu` as a task named bsim_rec would meet it: under
 * rcu_read_lock() (what every run path holds), with the ctx `spec` builds.
 */
export function runAsRecorder(
  k: Kernel,
  lp: LoadedInsnProg,
  cpu: number,
  spec: CtxSpec,
  comm = "bsim_rec",
): InsnRunResult {
  const r = k.exec(cpu, () => {
    rcu_read_lock(k);
    try {
      return runInsnProg(k, lp, k.cur, 0, spec);
    } finally {
      rcu_read_unlock(k);
    }
  }, { comm });
  if (r === HUNG) throw new Error("CPU hung");
  return r;
}

/** A map's elements as the recorder dumps them: [key hex, value hex | per-CPU value hexes], sorted. */
export function dumpMap(k: Kernel, fd: number): [string, string | string[]][] {
  const map = k.sys.mapOf(fd)!;
  const out: [string, string | string[]][] = [];
  if (map.mapType === BPF_MAP_TYPE_QUEUE || map.mapType === BPF_MAP_TYPE_STACK) {
    const v = new Uint8Array(map.valueSize);
    while (k.sys.mapLookupAndDeleteElem(fd, null, v) === 0) out.push(["", hex(v)]);
    return out;
  }
  if (map.mapType === BPF_MAP_TYPE_ARRAY_OF_MAPS || map.mapType === BPF_MAP_TYPE_HASH_OF_MAPS) return out;
  const vs = map.valueSize;
  const per = map.percpu;
  const step = (vs + 7) & ~7;
  const val = new Uint8Array(per ? step * k.ncpu : vs);
  let prev: Uint8Array | null = null;
  const next = new Uint8Array(Math.max(map.keySize, 1));
  while (k.sys.mapGetNextKey(fd, prev, next) === 0) {
    const key = next.slice(0, map.keySize);
    prev = key;
    if (k.sys.mapLookupElem(fd, key, val) !== 0) continue;
    if (per) out.push([hex(key), Array.from({ length: k.ncpu }, (_, c) => hex(val.subarray(c * step, c * step + vs)))]);
    else out.push([hex(key), hex(val.subarray(0, vs))]);
  }
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out;
}
