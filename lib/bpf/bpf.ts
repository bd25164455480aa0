// The BPF subsystem of one kernel: the map idr (ids are global and
// sequential, idr_alloc_cyclic from 1), the bpffs instance, and the map
// reference counting of kernel/bpf/syscall.c (bpf_map_inc/put, the uref
// count, and freeing in a workqueue when the last reference goes).

import type { Kernel } from "../kernel/kernel.ts";
import { queue_work } from "../kernel/workqueue.ts";
import { BpfFs } from "./inode.ts";
import type { BpfMap } from "./map.ts";
import type { BpfProg } from "./prog.ts";
import type { BpfLink } from "./link.ts";
import { Hooks } from "./hooks.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";

/** What program runs did since the counters were last reset (a `sim` command's summary). */
export class RunCounters {
  /** Program runs started. */
  runs = 0;
  /** Runs skipped by a recursion guard, by guard ("bpf_prog_active", "prog->active"). */
  readonly skipped: Map<string, number> = new Map();
  /** Results of map updates, deletes, incs and ring buffer outputs from programs, by errno (0: success). */
  readonly opResults: Map<number, number> = new Map();
  /** Reads or writes through a reused element (use-after-reuse). */
  reuseHits = 0;
}

const INT_MAX = 0x7fffffff;

/** Per-kernel BPF state. */
export class Bpf {
  /** map_idr */
  private readonly maps = new Map<number, BpfMap>();
  private nextMapId = 1;
  /** The BPF filesystem instance (bpffs at /sys/fs/bpf) holding pins. */
  readonly fs: BpfFs = new BpfFs();
  /** Maps whose map_free has not finished (for leak checks). */
  readonly dying = new Set<BpfMap>();
  /** prog_idr */
  private readonly progs = new Map<number, BpfProg>();
  private nextProgId = 1;
  /** link_idr */
  private readonly links = new Map<number, BpfLink>();
  private nextLinkId = 1;
  /** Where links attach programs. */
  readonly hooks: Hooks;
  /** bpf_spin_lock words of map values, by value address: last release time, or -(cpu+1) while held. */
  readonly spinLocks: Map<number, number> = new Map();
  /** Counters of program runs (reset by `sim` commands). */
  counters: RunCounters = new RunCounters();

  /** BPF state of kernel `k`: no maps, an empty bpffs. */
  constructor(private readonly k: Kernel) {
    this.hooks = new Hooks(k);
  }

  /** Program runs started (all time, for reports). */
  get runs(): number {
    return this.counters.runs;
  }

  set runs(n: number) {
    this.counters.runs = n;
  }

  /** Reads or writes through reused elements (all time). */
  get reuseHits(): number {
    return this.counters.reuseHits;
  }

  set reuseHits(n: number) {
    this.counters.reuseHits = n;
  }

  /** Counts `n` runs skipped by `guard`. */
  skip(guard: string, n: number): void {
    if (n > 0) this.counters.skipped.set(guard, (this.counters.skipped.get(guard) ?? 0) + n);
  }

  /** Counts a program's map op result (0 or -errno), in the run counters and the program's own. */
  opResult(r: number, prog: BpfProg): void {
    const m = this.counters.opResults;
    m.set(r, (m.get(r) ?? 0) + 1);
    prog.opResults.set(r, (prog.opResults.get(r) ?? 0) + 1);
  }

  /** bpf_prog_alloc_id() */
  allocProgId(prog: BpfProg): number {
    let id = this.nextProgId;
    while (this.progs.has(id)) id = id >= INT_MAX ? 1 : id + 1;
    this.nextProgId = id >= INT_MAX ? 1 : id + 1;
    prog.id = id;
    this.progs.set(id, prog);
    return id;
  }

  /** BPF_PROG_GET_FD_BY_ID's idr lookup. */
  progById(id: number): BpfProg | undefined {
    return this.progs.get(id);
  }

  /** The next program id after `start` (BPF_PROG_GET_NEXT_ID), or 0. */
  nextProgIdAfter(start: number): number {
    return nextAfter(this.progs, start);
  }

  /** Every live program, by id. */
  allProgs(): BpfProg[] {
    return [...this.progs.keys()].sort((a, b) => a - b).map((id) => this.progs.get(id)!);
  }

  /**
   * bpf_prog_put(): the last reference frees the id at once and the program
   * after a grace period (RCU tasks-trace too for sleepable programs), which
   * drops its maps' references (bpf_prog_put_deferred -> __bpf_prog_put_rcu).
   */
  progPut(prog: BpfProg): void {
    if (--prog.refcnt > 0) return;
    if (this.progs.get(prog.id) === prog) this.progs.delete(prog.id);
    const free = () => {
      prog.freed = true;
      for (const m of prog.maps) this.mapPut(m);
    };
    if (prog.sleepable) this.k.rcu.call_rcu_tasks_trace(() => this.k.rcu.call_rcu(free));
    else this.k.rcu.call_rcu(free);
  }

  /** bpf_link_prime()'s id (bpf_link_alloc_id). */
  allocLinkId(link: BpfLink): number {
    let id = this.nextLinkId;
    while (this.links.has(id)) id = id >= INT_MAX ? 1 : id + 1;
    this.nextLinkId = id >= INT_MAX ? 1 : id + 1;
    link.id = id;
    this.links.set(id, link);
    return id;
  }

  /** BPF_LINK_GET_FD_BY_ID's idr lookup. */
  linkById(id: number): BpfLink | undefined {
    return this.links.get(id);
  }

  /** The next link id after `start` (BPF_LINK_GET_NEXT_ID), or 0. */
  nextLinkIdAfter(start: number): number {
    return nextAfter(this.links, start);
  }

  /** Every live link, by id. */
  allLinks(): BpfLink[] {
    return [...this.links.keys()].sort((a, b) => a - b).map((id) => this.links.get(id)!);
  }

  /** bpf_link_put(): the last reference detaches the link and drops its program. */
  linkPut(link: BpfLink): void {
    if (--link.refcnt > 0) return;
    if (this.links.get(link.id) === link) this.links.delete(link.id);
    if (!link.detached) this.hooks.detach(link);
    this.progPut(link.prog);
  }

  /** bpf_map_alloc_id(): idr_alloc_cyclic(1, INT_MAX). */
  allocMapId(map: BpfMap): number {
    let id = this.nextMapId;
    while (this.maps.has(id)) id = id >= INT_MAX ? 1 : id + 1;
    this.nextMapId = id >= INT_MAX ? 1 : id + 1;
    map.id = id;
    this.maps.set(id, map);
    return id;
  }

  /** bpf_map_free_id() */
  freeMapId(map: BpfMap): void {
    if (map.id && this.maps.get(map.id) === map) this.maps.delete(map.id);
  }

  /** bpf_map_idr lookup (BPF_MAP_GET_FD_BY_ID). */
  mapById(id: number): BpfMap | undefined {
    return this.maps.get(id);
  }

  /** Map ids in ascending order (BPF_MAP_GET_NEXT_ID walks). */
  mapIds(): number[] {
    return [...this.maps.keys()].sort((a, b) => a - b);
  }

  /** The next map id after `start` (BPF_MAP_GET_NEXT_ID), or 0. */
  nextMapIdAfter(start: number): number {
    return nextAfter(this.maps, start);
  }

  /** bpf_map_inc(): a kernel reference. */
  mapInc(map: BpfMap): void {
    map.refcnt++;
  }

  /** bpf_map_inc_with_uref(): a user reference (fd or pin). */
  mapIncWithUref(map: BpfMap): void {
    map.refcnt++;
    map.usercnt++;
  }

  /**
   * Maps with map->free_after_rcu_gp set (6.7+): inner maps taken out of an
   * outer map while programs may still use them (bpf_map_fd_put_ptr).
   */
  readonly freeAfterRcuGp = new Set<BpfMap>();

  /**
   * bpf_map_put(): when the last reference goes the id is freed at once and
   * the map is freed in a workqueue, after an RCU grace period first if
   * free_after_rcu_gp is set (bpf_map_free_rcu_gp).
   */
  mapPut(map: BpfMap): void {
    if (--map.refcnt > 0) return;
    this.freeMapId(map);
    this.dying.add(map);
    if (this.freeAfterRcuGp.delete(map)) this.k.rcu.call_rcu(() => this.freeInWork(map));
    else this.freeInWork(map);
  }

  /** bpf_map_free_in_work(): map_free in a kworker (it may sleep). */
  private freeInWork(map: BpfMap): void {
    queue_work(this.k, "bpf_map_free_deferred", () => {
      map.free();
      this.dying.delete(map);
    }, true);
  }

  /** bpf_map_put_with_uref() */
  mapPutWithUref(map: BpfMap): void {
    if (--map.usercnt === 0) this.mapReleaseUref(map);
    this.mapPut(map);
  }

  /** map_release_uref hook (prog_array clears itself; nothing for others yet). */
  private mapReleaseUref(_map: BpfMap): void {}

  /** Every live map, by id. */
  allMaps(): BpfMap[] {
    return this.mapIds().map((id) => this.maps.get(id)!);
  }
}

/** The smallest key of `m` above `start`, or 0. */
function nextAfter(m: Map<number, unknown>, start: number): number {
  let best = 0;
  for (const id of m.keys()) if (id > start && (best === 0 || id < best)) best = id;
  return best;
}

snapshotClasses(Bpf, RunCounters);
