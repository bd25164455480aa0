// The BPF subsystem of one kernel: the map idr (ids are global and
// sequential, idr_alloc_cyclic from 1), the bpffs instance, and the map
// reference counting of kernel/bpf/syscall.c (bpf_map_inc/put, the uref
// count, and freeing in a workqueue when the last reference goes).

import type { Kernel } from "../kernel/kernel.ts";
import { queue_work } from "../kernel/workqueue.ts";
import { BpfFs } from "./inode.ts";
import type { BpfMap } from "./map.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";

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

  /** BPF state of kernel `k`: no maps, an empty bpffs. */
  constructor(private readonly k: Kernel) {}

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

  /** Ids in ascending order (BPF_MAP_GET_NEXT_ID walks). */
  mapIds(): number[] {
    return [...this.maps.keys()].sort((a, b) => a - b);
  }

  /** The next map id after `start` (BPF_MAP_GET_NEXT_ID), or 0. */
  nextMapIdAfter(start: number): number {
    let best = 0;
    for (const id of this.maps.keys()) if (id > start && (best === 0 || id < best)) best = id;
    return best;
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

snapshotClasses(Bpf);
