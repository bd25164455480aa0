// Model-based tests (fast-check fc.commands) of LRU hash maps against two
// reference models, every command through bpf(2) (or a "program" on a CPU):
//
// 1. PolicyModel: the eviction policy stated plainly, for the cases where it
//    is easy to state: no ref bits (no program lookups, no replacements).
//    - per-CPU LRU (BPF_F_NO_COMMON_LRU), any CPU count: each CPU owns
//      E'/ncpu nodes and a FIFO of the keys in them; a pop on CPU c with no
//      free node evicts the min(4, n) oldest keys of c's FIFO.
//    - common LRU on one CPU: FIFO of flushed keys (inactive) + FIFO of keys
//      since the last refill (pending); a pop with no local free node flushes,
//      takes up to target_free global free nodes and evicts the oldest
//      flushed keys for the rest.
//    In both, every update takes a node before the flags are checked, and a
//    failed update gives it back; deletes free the node to where it came from.
// 2. ListModel: the kernel's lists restated with plain arrays of node ids
//    (active / inactive / free, the rotation cursor, local free and pending
//    lists, ref bits, stealing), compared after every command with the real
//    LRU's lists (in key terms), cursor, counts and ref bits. Per-CPU LRU with
//    any CPU count (nr_scans 4 exercises the scan budgets) and common LRU.

import fc from "fast-check";
import { assertEquals } from "../assert.ts";
import { withKernel } from "../helpers.ts";
import type { Kernel } from "../../lib/kernel/kernel.ts";
import { EEXIST, ENOENT } from "../../lib/kernel/errno.ts";
import {
  BPF_LRU_LIST_T_ACTIVE,
  BPF_LRU_LIST_T_FREE,
  BPF_LRU_LIST_T_INACTIVE,
  BPF_LRU_LOCAL_LIST_T_FREE,
  BPF_LRU_LOCAL_LIST_T_PENDING,
  type BpfLru,
} from "../../lib/bpf/bpf_lru_list.ts";
import { ELEM_KEY } from "../../lib/bpf/hashtab.ts";
import { BPF_EXIST, BPF_F_NO_COMMON_LRU, BPF_NOEXIST } from "../../lib/bpf/uapi.ts";
import { LruRig } from "./lru_helpers.ts";

const FC = { seed: 20261121, numRuns: 150, endOnFailure: true };
const MAX_COMMANDS = 80;

/** One map under test. */
interface Spec {
  profile: string;
  cpus: number;
  type: "lru_hash" | "lru_percpu_hash";
  percpuLru: boolean;
  entries: number;
  keys: number;
}

/** Both models answer the same operations. */
interface Model {
  update(cpu: number, key: number, flags: number): number;
  del(key: number): number;
  lookup(key: number): number;
  progLookup(key: number): number;
  keys(): number[];
}

function targetFree(s: Spec, nr: number): number {
  if (s.profile === "v6.15") return 128;
  return Math.min(128, Math.max(1, Math.floor(Math.floor(nr / s.cpus) / 2)));
}

function roundEntries(s: Spec): number {
  return s.percpuLru ? Math.ceil(s.entries / s.cpus) * s.cpus : s.entries;
}

function flagCheck(present: boolean, flags: number): number {
  if (present && flags === BPF_NOEXIST) return -EEXIST;
  if (!present && flags === BPF_EXIST) return -ENOENT;
  return 0;
}

// ---------------------------------------------------------------- 1. policy

/** The plain statement of the policy (no ref bits). */
class PolicyModel implements Model {
  /** keys -> owner CPU (per-CPU LRU) or where it sits (common). */
  readonly where = new Map<number, { cpu: number; pending: boolean }>();
  // per-CPU LRU
  readonly fifo: number[][] = [];
  readonly free: number[] = [];
  // common LRU, one CPU
  inactive: number[] = [];
  pending: number[] = [];
  global: number;
  local = 0;
  readonly target: number;

  constructor(readonly s: Spec) {
    const e = roundEntries(s);
    for (let c = 0; c < s.cpus; c++) {
      this.fifo.push([]);
      this.free.push(e / s.cpus);
    }
    this.global = e;
    this.target = targetFree(s, e);
  }

  private evict(key: number): void {
    this.where.delete(key);
  }

  /** Takes a node on `cpu`; true when one was found. */
  private pop(cpu: number): boolean {
    if (this.s.percpuLru) {
      if (this.free[cpu] === 0) {
        const victims = this.fifo[cpu].splice(0, Math.min(4, this.fifo[cpu].length));
        for (const v of victims) this.evict(v);
        this.free[cpu] += victims.length;
      }
      if (this.free[cpu] === 0) return false;
      this.free[cpu]--;
      return true;
    }
    if (this.local === 0) {
      // refill: flush pending behind the older flushed keys, take free nodes, evict the oldest for the rest
      for (const k of this.pending) this.where.set(k, { cpu: 0, pending: false });
      this.inactive.push(...this.pending);
      this.pending = [];
      const t = Math.min(this.target, this.global);
      this.global -= t;
      this.local += t;
      const victims = this.inactive.splice(0, Math.min(this.target - t, this.inactive.length));
      for (const v of victims) this.evict(v);
      this.local += victims.length;
    }
    if (this.local === 0) return false;
    this.local--;
    return true;
  }

  /** Gives back a node popped on `cpu` (its flags check failed). */
  private unpop(cpu: number): void {
    if (this.s.percpuLru) this.free[cpu]++;
    else this.local++;
  }

  update(cpu: number, key: number, flags: number): number {
    const percpuType = this.s.type === "lru_percpu_hash";
    const popped = !(percpuType && flags === BPF_EXIST);
    if (popped && !this.pop(cpu)) throw new Error("policy model: no node");
    const present = this.where.has(key);
    const rc = flagCheck(present, flags);
    if (rc !== 0 || present) {
      // present and rc 0 would be a replacement (ref bit): the commands never ask for one
      if (rc === 0) throw new Error("policy model: replacement");
      if (popped) this.unpop(cpu);
      return rc;
    }
    if (this.s.percpuLru) {
      this.fifo[cpu].push(key);
      this.where.set(key, { cpu, pending: false });
    } else {
      this.pending.push(key);
      this.where.set(key, { cpu: 0, pending: true });
    }
    return 0;
  }

  del(key: number): number {
    const w = this.where.get(key);
    if (!w) return -ENOENT;
    this.where.delete(key);
    if (this.s.percpuLru) {
      this.fifo[w.cpu].splice(this.fifo[w.cpu].indexOf(key), 1);
      this.free[w.cpu]++;
    } else if (w.pending) {
      this.pending.splice(this.pending.indexOf(key), 1);
      this.local++;
    } else {
      this.inactive.splice(this.inactive.indexOf(key), 1);
      this.global++;
    }
    return 0;
  }

  lookup(key: number): number {
    return this.where.has(key) ? 0 : -ENOENT;
  }

  progLookup(_key: number): number {
    throw new Error("policy model: program lookups set ref bits");
  }

  keys(): number[] {
    return [...this.where.keys()].sort((a, b) => a - b);
  }

  /** Could `update(key, flags)` replace an existing key (and set a ref bit)? */
  mayReplace(key: number, flags: number): boolean {
    return this.where.has(key) && flags !== BPF_NOEXIST;
  }
}

// ------------------------------------------------------------- 2. lists

const A = BPF_LRU_LIST_T_ACTIVE;
const I = BPF_LRU_LIST_T_INACTIVE;
const F = BPF_LRU_LIST_T_FREE;
const LF = BPF_LRU_LOCAL_LIST_T_FREE;
const LP = BPF_LRU_LOCAL_LIST_T_PENDING;

/** One bpf_lru_list: arrays of node ids, head first. */
interface MList {
  lists: number[][]; // [active, inactive, free]
  cursor: number | null; // next_inactive_rotation: an inactive node, or null for the list head
}

/** The kernel's LRU lists restated with arrays. Node ids are model-private. */
class ListModel implements Model {
  readonly l: MList[] = [];
  readonly localFree: number[][] = [];
  readonly pendingL: number[][] = [];
  readonly nextSteal: number[] = [];
  readonly type: number[] = [];
  readonly ref: boolean[] = [];
  readonly cpu: number[] = [];
  readonly nodeKey: (number | null)[] = [];
  readonly keyNode = new Map<number, number>();
  readonly nrScans: number;
  readonly target: number;
  readonly percpuType: boolean;
  cur = 0;

  constructor(readonly s: Spec) {
    const e = roundEntries(s);
    this.percpuType = s.type === "lru_percpu_hash";
    this.nrScans = s.percpuLru ? 4 : 128;
    this.target = targetFree(s, e);
    const nl = s.percpuLru ? s.cpus : 1;
    for (let i = 0; i < nl; i++) this.l.push({ lists: [[], [], []], cursor: null });
    for (let c = 0; c < s.cpus; c++) {
      this.localFree.push([]);
      this.pendingL.push([]);
      this.nextSteal.push(c);
    }
    const per = e / s.cpus;
    for (let n = 0; n < e; n++) {
      const c = s.percpuLru ? Math.floor(n / per) : 0;
      this.type.push(F);
      this.ref.push(false);
      this.cpu.push(c);
      this.nodeKey.push(null);
      this.l[s.percpuLru ? c : 0].lists[F].unshift(n); // list_add: newest first
    }
  }

  // list helpers: arr[0] is the head side (list_add), the tail is the oldest
  private arrOf(n: number): number[] {
    const t = this.type[n];
    if (t === LF) return this.localFree[this.cpu[n]];
    if (t === LP) return this.pendingL[this.cpu[n]];
    return this.l[this.s.percpuLru ? this.cpu[n] : 0].lists[t];
  }

  private prevOf(arr: number[], n: number): number | null {
    const i = arr.indexOf(n);
    return i > 0 ? arr[i - 1] : null;
  }

  private unlink(n: number): void {
    const arr = this.arrOf(n);
    arr.splice(arr.indexOf(n), 1);
  }

  /** __bpf_lru_node_move / move_to_free: out of an LRU list (cursor follows), to the head of `to`. */
  private moveOut(li: number, n: number, to: number[], tgt: number, clearRef: boolean): void {
    const L = this.l[li];
    if (L.cursor === n) L.cursor = this.prevOf(this.arrOf(n), n);
    this.unlink(n);
    this.type[n] = tgt;
    if (clearRef) this.ref[n] = false;
    to.unshift(n);
  }

  private evict(n: number): boolean {
    const k = this.nodeKey[n];
    if (k === null) return false; // not in the hash table (kernel: lookup of the node fails)
    this.keyNode.delete(k);
    this.nodeKey[n] = null;
    return true;
  }

  private rotate(li: number): void {
    const L = this.l[li];
    const act = L.lists[A];
    const ina = L.lists[I];
    if (ina.length < act.length) {
      const first = act[0];
      let i = 0;
      let n: number | null = act[act.length - 1] ?? null;
      while (n !== null) {
        const tmp = this.prevOf(act, n);
        if (this.ref[n]) this.moveOut(li, n, act, A, true);
        else this.moveOut(li, n, ina, I, true);
        if (++i === this.nrScans || n === first) break;
        n = tmp;
      }
    }
    if (ina.length === 0) return;
    const nextOf = (n: number | null) => {
      if (n === null) return ina[0];
      const i = ina.indexOf(n);
      return i + 1 < ina.length ? ina[i + 1] : null;
    };
    let last = nextOf(L.cursor);
    if (last === null) last = ina[0];
    let cur: number | null = L.cursor;
    let nxt: number | null = null;
    let i = 0;
    while (i < this.nrScans) {
      if (cur === null) {
        cur = ina[ina.length - 1];
        continue;
      }
      nxt = this.prevOf(ina, cur);
      if (this.ref[cur]) this.moveOut(li, cur, act, A, true);
      if (cur === last) break;
      cur = nxt;
      i++;
    }
    L.cursor = nxt;
  }

  private shrink(li: number, tgt: number, to: number[], tgtType: number): number {
    const L = this.l[li];
    const ina = L.lists[I];
    let done = 0;
    let i = 0;
    let n: number | null = ina[ina.length - 1] ?? null;
    while (n !== null) {
      const tmp = this.prevOf(ina, n);
      if (this.ref[n]) {
        this.moveOut(li, n, L.lists[A], A, true);
      } else if (this.evict(n)) {
        this.moveOut(li, n, to, tgtType, false);
        if (++done === tgt) break;
      }
      if (++i === this.nrScans) break;
      n = tmp;
    }
    if (done) return done;
    const force = ina.length ? ina : L.lists[A];
    for (let j = force.length - 1; j >= 0; j--) {
      const x = force[j];
      if (this.evict(x)) {
        this.moveOut(li, x, to, tgtType, false);
        return 1;
      }
    }
    return 0;
  }

  private popFree(hash: number): number | null {
    void hash;
    const c = this.cur;
    if (this.s.percpuLru) {
      const L = this.l[c];
      this.rotate(c);
      if (L.lists[F].length === 0) this.shrink(c, 4, L.lists[F], F);
      if (L.lists[F].length === 0) return null;
      const n = L.lists[F][0];
      this.ref[n] = false;
      this.moveOut(c, n, L.lists[I], I, true);
      return n;
    }
    let n: number | null = this.localFree[c].shift() ?? null;
    if (n === null) {
      const L = this.l[0];
      for (const p of [...this.pendingL[c]].reverse()) {
        this.unlink(p);
        this.type[p] = this.ref[p] ? A : I;
        this.ref[p] = false;
        L.lists[this.type[p]].unshift(p);
      }
      this.rotate(0);
      let nfree = 0;
      while (L.lists[F].length && nfree < this.target) {
        this.moveOut(0, L.lists[F][0], this.localFree[c], LF, false);
        nfree++;
      }
      if (nfree < this.target) this.shrink(0, this.target - nfree, this.localFree[c], LF);
      n = this.localFree[c].shift() ?? null;
    }
    if (n === null) {
      const first = this.nextSteal[c];
      let steal = first;
      do {
        n = this.localFree[steal].shift() ?? null;
        if (n === null) n = this.popPending(steal);
        steal = (steal + 1) % this.s.cpus;
      } while (n === null && steal !== first);
      this.nextSteal[c] = steal;
    }
    if (n === null) return null;
    this.type[n] = LP;
    this.cpu[n] = c;
    this.ref[n] = false;
    this.pendingL[c].unshift(n);
    return n;
  }

  private popPending(c: number): number | null {
    const p = this.pendingL[c];
    for (const force of [false, true]) {
      for (let j = p.length - 1; j >= 0; j--) {
        const n = p[j];
        if ((!this.ref[n] || force) && this.evict(n)) {
          p.splice(j, 1);
          return n;
        }
      }
    }
    return null;
  }

  private pushFree(n: number): void {
    if (this.s.percpuLru) {
      const c = this.cpu[n];
      this.moveOut(c, n, this.l[c].lists[F], F, true);
      return;
    }
    if (this.type[n] === LP) {
      this.unlink(n);
      this.type[n] = LF;
      this.ref[n] = false;
      this.localFree[this.cpu[n]].unshift(n);
      return;
    }
    this.moveOut(0, n, this.l[0].lists[F], F, true);
  }

  update(cpu: number, key: number, flags: number): number {
    this.cur = cpu;
    let lNew: number | null = null;
    if (!(this.percpuType && flags === BPF_EXIST)) {
      lNew = this.popFree(key);
      if (lNew === null) return -12;
    }
    const old = this.keyNode.get(key);
    const rc = flagCheck(old !== undefined, flags);
    if (rc === 0) {
      if (this.percpuType) {
        if (old !== undefined) {
          this.ref[old] = true;
        } else {
          this.keyNode.set(key, lNew!);
          this.nodeKey[lNew!] = key;
          lNew = null;
        }
      } else {
        this.keyNode.set(key, lNew!);
        this.nodeKey[lNew!] = key;
        if (old !== undefined) {
          this.ref[lNew!] = true;
          this.nodeKey[old] = null;
          this.pushFree(old);
        }
        lNew = null;
      }
    }
    if (lNew !== null) this.pushFree(lNew);
    return rc;
  }

  del(key: number): number {
    const n = this.keyNode.get(key);
    if (n === undefined) return -ENOENT;
    this.keyNode.delete(key);
    this.nodeKey[n] = null;
    this.pushFree(n);
    return 0;
  }

  lookup(key: number): number {
    return this.keyNode.has(key) ? 0 : -ENOENT;
  }

  progLookup(key: number): number {
    const n = this.keyNode.get(key);
    if (n === undefined) return -ENOENT;
    this.ref[n] = true;
    return 0;
  }

  keys(): number[] {
    return [...this.keyNode.keys()].sort((a, b) => a - b);
  }

  /** The lists in key terms (free lists as counts), cursors and ref bits, like realState(). */
  state(): unknown {
    const keysOf = (arr: number[]) => arr.map((n) => this.nodeKey[n]);
    return {
      lists: this.l.map((L) => ({
        active: keysOf(L.lists[A]),
        inactive: keysOf(L.lists[I]),
        free: L.lists[F].length,
        cursor: L.cursor === null ? null : this.nodeKey[L.cursor],
      })),
      local: this.s.percpuLru ? [] : this.localFree.map((f, c) => ({
        free: f.length,
        pending: keysOf(this.pendingL[c]),
        nextSteal: this.nextSteal[c],
      })),
      refs: this.keys().filter((k) => this.ref[this.keyNode.get(k)!]),
    };
  }
}

/** The real LRU in the shape of ListModel.state(). */
function realState(k: Kernel, r: LruRig): unknown {
  const lru: BpfLru = r.map.lru!;
  const keyOf = (idx: number) => k.mem.readU32(r.map.elems + (idx - lru.nrHeads) * r.map.elemSize + ELEM_KEY);
  const keysOf = (h: number) => lru.listElems(h).map((j) => keyOf(j + lru.nrHeads));
  const lists = [];
  for (let l = 0; l < lru.nLists; l++) {
    const c = lru.nextInactiveRotation[l];
    lists.push({
      active: keysOf(lru.head(l, A)),
      inactive: keysOf(lru.head(l, I)),
      free: lru.listElems(lru.head(l, F)).length,
      cursor: c < lru.nrHeads ? null : keyOf(c),
    });
  }
  const local = [];
  if (!lru.percpu) {
    for (let c = 0; c < k.ncpu; c++) {
      local.push({
        free: lru.listElems(lru.localHead(c, LF)).length,
        pending: keysOf(lru.localHead(c, LP)),
        nextSteal: lru.nextSteal[c],
      });
    }
  }
  // ref bits of the nodes holding keys (active, inactive, pending)
  const refs: number[] = [];
  const heads: number[] = [];
  for (let l = 0; l < lru.nLists; l++) heads.push(lru.head(l, A), lru.head(l, I));
  if (!lru.percpu) { for (let c = 0; c < k.ncpu; c++) heads.push(lru.localHead(c, LP)); }
  for (const h of heads) {
    for (const j of lru.listElems(h)) if (lru.ref[j + lru.nrHeads]) refs.push(keyOf(j + lru.nrHeads));
  }
  refs.sort((a, b) => a - b);
  return { lists, local, refs };
}

// ------------------------------------------------------------- commands

interface Real {
  k: Kernel;
  rig: LruRig;
}

type Cmd = fc.Command<Model, Real>;

class Update implements Cmd {
  constructor(readonly cpu: number, readonly key: number, readonly flags: number, readonly prog: boolean) {}
  check(m: Readonly<Model>): boolean {
    return !(m instanceof PolicyModel) || (!this.prog && !m.mayReplace(this.key, this.flags));
  }
  run(m: Model, r: Real): void {
    const want = m.update(this.cpu, this.key, this.flags);
    const got = this.prog
      ? r.rig.progUpdate(this.cpu, this.key, this.flags)
      : r.rig.update(this.cpu, this.key, this.flags);
    assertEquals(got, want, this.toString());
    after(m, r, this);
  }
  toString(): string {
    return `${this.prog ? "prog_" : ""}update(cpu ${this.cpu}, ${this.key}, flags ${this.flags})`;
  }
}

class Delete implements Cmd {
  constructor(readonly cpu: number, readonly key: number, readonly andLookup: boolean) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const want = m.del(this.key);
    const got = this.andLookup ? r.rig.lookupAndDelete(this.cpu, this.key) : r.rig.delete(this.cpu, this.key);
    assertEquals(got, want, this.toString());
    after(m, r, this);
  }
  toString(): string {
    return `${this.andLookup ? "lookup_and_delete" : "delete"}(cpu ${this.cpu}, ${this.key})`;
  }
}

class Lookup implements Cmd {
  constructor(readonly cpu: number, readonly key: number, readonly prog: boolean) {}
  check(m: Readonly<Model>): boolean {
    return !(this.prog && m instanceof PolicyModel);
  }
  run(m: Model, r: Real): void {
    const want = this.prog ? m.progLookup(this.key) : m.lookup(this.key);
    const got = this.prog ? r.rig.progLookup(this.cpu, this.key) : r.rig.lookup(this.cpu, this.key);
    assertEquals(got, want, this.toString());
    after(m, r, this);
  }
  toString(): string {
    return `${this.prog ? "prog_" : ""}lookup(cpu ${this.cpu}, ${this.key})`;
  }
}

function after(m: Model, r: Real, c: Cmd): void {
  assertEquals(r.rig.keys(), m.keys(), `keys after ${c}`);
  assertEquals(r.rig.map.elemCount(), m.keys().length, `elem count after ${c}`);
  if (m instanceof ListModel) assertEquals(realState(r.k, r.rig), m.state(), `lists after ${c}`);
}

function commands(s: Spec, policy: boolean): fc.Arbitrary<Iterable<Cmd>> {
  const cpu = fc.integer({ min: 0, max: s.cpus - 1 });
  const key = fc.integer({ min: 0, max: s.keys - 1 });
  const flags = fc.constantFrom(0, 0, 0, BPF_NOEXIST, BPF_EXIST);
  const update = fc.tuple(cpu, key, flags).map(([c, k, f]) => new Update(c, k, f, false));
  const arbs: fc.Arbitrary<Cmd>[] = [
    update,
    update,
    update,
    update,
    fc.tuple(cpu, key, fc.boolean()).map(([c, k, b]) => new Delete(c, k, b)),
    fc.tuple(cpu, key).map(([c, k]) => new Lookup(c, k, false)),
  ];
  if (!policy) {
    const progLookup = fc.tuple(cpu, key).map(([c, k]) => new Lookup(c, k, true));
    arbs.push(progLookup, progLookup, progLookup);
    arbs.push(fc.tuple(cpu, key, flags).map(([c, k, f]) => new Update(c, k, f, true)));
  }
  return fc.commands(arbs, { maxCommands: MAX_COMMANDS, size: "max" });
}

function runModel(s: Spec, policy: boolean, cmds: Iterable<Cmd>): void {
  withKernel({ cpus: s.cpus, profile: s.profile }, (k) => {
    const rig = new LruRig(k, s.type, 4, 4, s.entries, s.percpuLru ? BPF_F_NO_COMMON_LRU : 0);
    const model: Model = policy ? new PolicyModel(s) : new ListModel(s);
    fc.modelRun(() => ({ model, real: { k, rig } }), cmds);
    assertEquals(k.dmesg.ofKind("lockdep").length, 0);
    rig.close();
  });
}

function specArb(percpuLru: boolean, maxCpus: number): fc.Arbitrary<Spec> {
  return fc.record({
    profile: fc.constantFrom("v6.18", "v6.15"),
    cpus: fc.integer({ min: 1, max: maxCpus }),
    type: fc.constantFrom("lru_hash" as const, "lru_percpu_hash" as const),
    percpuLru: fc.constant(percpuLru),
    entries: fc.integer({ min: 1, max: 24 }),
    keys: fc.integer({ min: 2, max: 40 }),
  });
}

function property(percpuLru: boolean, maxCpus: number, policy: boolean) {
  return fc.property(
    specArb(percpuLru, maxCpus).chain((s) => fc.tuple(fc.constant(s), commands(s, policy))),
    ([s, cmds]) => runModel(s, policy, cmds),
  );
}

Deno.test("LRU model (policy): per-CPU LRU, 1-4 CPUs, FIFO per CPU, batches of 4", () => {
  fc.assert(property(true, 4, true), FC);
});

Deno.test("LRU model (policy): common LRU on one CPU, target_free batches", () => {
  fc.assert(property(false, 1, true), FC);
});

Deno.test("LRU model (lists): per-CPU LRU, 1-3 CPUs, ref bits, rotation cursor, scan budget 4", () => {
  fc.assert(property(true, 3, false), FC);
});

Deno.test("LRU model (lists): common LRU on one CPU with ref bits", () => {
  fc.assert(property(false, 1, false), FC);
});

Deno.test("LRU model (lists): common LRU on 2-4 CPUs, stealing", () => {
  fc.assert(
    fc.property(
      specArb(false, 4).filter((s) => s.cpus >= 2).chain((s) => fc.tuple(fc.constant(s), commands(s, false))),
      ([s, cmds]) => runModel(s, false, cmds),
    ),
    FC,
  );
});
