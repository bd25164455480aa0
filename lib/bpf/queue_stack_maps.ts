// kernel/bpf/queue_stack_maps.c: BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK.
// A ring of max_entries + 1 slots after struct bpf_queue_stack, guarded by
// one lock (raw spinlock, NMI trylock before 6.15; rqspinlock after).
// BPF_EXIST on push makes room by dropping the oldest element.

import { COST } from "../kernel/cost.ts";
import { E2BIG, EBUSY, EINVAL, ENOENT, ENOMEM } from "../kernel/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { LockSet } from "../kernel/lockdep.ts";
import { KMALLOC_MAX_SIZE } from "../kernel/slab.ts";
import { definePoint } from "../kernel/points.ts";
import {
  raw_spin_lock_irqsave,
  raw_spin_trylock_irqsave,
  raw_spin_unlock_irqrestore,
  res_spin_lock_irqsave,
  res_spin_unlock_irqrestore,
} from "../kernel/spinlock.ts";
import {
  ARRAY_STRUCT_SIZE,
  bpf_map_area_alloc,
  bpf_map_area_free,
  BpfMap,
  bpfMapFlagsAccessOk,
  type MapAttr,
} from "./map.ts";
import { bpf_map_meta_equal } from "./map_in_map.ts";
import {
  BPF_EXIST,
  BPF_F_NUMA_NODE,
  BPF_F_RDONLY,
  BPF_F_RDONLY_PROG,
  BPF_F_WRONLY,
  BPF_F_WRONLY_PROG,
  BPF_MAP_TYPE_STACK,
  BPF_NOEXIST,
} from "./uapi.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";

const P_PUSH = definePoint("queue_stack_map_push_elem", "kernel/bpf/queue_stack_maps.c", "push onto a queue/stack");
const P_POP = definePoint("queue_map_pop_elem", "kernel/bpf/queue_stack_maps.c", "pop from a queue/stack");
const P_PEEK = definePoint("queue_map_peek_elem", "kernel/bpf/queue_stack_maps.c", "peek at a queue/stack");

/** sizeof(struct bpf_queue_stack) on the oracle kernel. */
const QS_STRUCT_SIZE = ARRAY_STRUCT_SIZE;

/** queue_stack_map_alloc_check() */
export function queueStackMapAllocCheck(_k: Kernel, attr: MapAttr): number {
  const mask = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;
  if (
    attr.maxEntries === 0 || attr.keySize !== 0 || attr.valueSize === 0 || (attr.mapFlags & ~mask) !== 0 ||
    !bpfMapFlagsAccessOk(attr.mapFlags)
  ) return -EINVAL;
  if (attr.valueSize > KMALLOC_MAX_SIZE) return -E2BIG;
  return 0;
}

/** struct bpf_queue_stack */
export class QueueStack extends BpfMap {
  /** qs->head: the slot the next push writes. */
  head = 0;
  /** qs->tail: the oldest element (a queue pops here; a full ring drops it on BPF_EXIST). */
  tail = 0;
  /** max_entries + 1 */
  readonly size: number;
  /** BPF_MAP_TYPE_STACK (pop and peek take the newest element) rather than QUEUE. */
  readonly isStack: boolean;
  /** The allocation holding struct bpf_queue_stack and the ring of slots (0 until init). */
  addr = 0;
  /** qs->lock: raw_spinlock_t (trylock in NMI) before 6.15, rqspinlock_t since. */
  readonly lock: LockSet;
  private readonly lockOut = { flags: false };

  /** The geometry of queue_stack_map_alloc(); init() allocates. */
  constructor(k: Kernel, attr: MapAttr) {
    super(k, attr);
    this.size = attr.maxEntries + 1;
    this.isStack = attr.mapType === BPF_MAP_TYPE_STACK;
    const kind = k.features.rqspinlock ? "rqspinlock_t" : "raw_spinlock_t";
    this.lock = new LockSet(k.lockdep.lockClass("&qs->lock"), kind, 1, 0, 64);
  }

  /** Allocates struct bpf_queue_stack and its slots: 0 or -ENOMEM. */
  init(): number {
    const bytes = QS_STRUCT_SIZE + this.size * this.valueSize;
    if (!this.k.mem.fits(bytes)) return -ENOMEM;
    this.addr = bpf_map_area_alloc(this.k, bytes, "bpf_queue_stack");
    if (this.addr === 0) return -ENOMEM;
    this.lock.addr = this.addr + 256;
    return 0;
  }

  /** queue_stack_map_is_empty(): head == tail. */
  private isEmpty(): boolean {
    return this.head === this.tail;
  }

  /** queue_stack_map_is_full(): head + 1 (wrapping) == tail. */
  private isFull(): boolean {
    let h = this.head + 1;
    if (h >= this.size) h = 0;
    return h === this.tail;
  }

  /** Address of slot i (qs->elements + i * value_size). */
  private slot(i: number): number {
    return this.addr + QS_STRUCT_SIZE + i * this.valueSize;
  }

  /** Takes the lock: saved flags (0/1) or -EBUSY. */
  private lockQs(): number {
    const k = this.k;
    if (k.features.rqspinlock) {
      if (res_spin_lock_irqsave(k, this.lock, 0, "queue_stack_map", this.lockOut) !== 0) return -EBUSY;
      return this.lockOut.flags ? 1 : 0;
    }
    if (k.cur.inNmi()) {
      const f = raw_spin_trylock_irqsave(k, this.lock, 0, "queue_stack_map");
      return f === null ? -EBUSY : f ? 1 : 0;
    }
    return raw_spin_lock_irqsave(k, this.lock, 0, "queue_stack_map") ? 1 : 0;
  }

  /** Releases qs->lock and restores the saved interrupt state. */
  private unlockQs(flags: number): void {
    if (this.k.features.rqspinlock) res_spin_unlock_irqrestore(this.k, this.lock, 0, flags === 1);
    else raw_spin_unlock_irqrestore(this.k, this.lock, 0, flags === 1);
  }

  /** __queue_map_get() / __stack_map_get(): copies the oldest (queue) or newest (stack) element, removing it when `del`; -ENOENT (value zeroed) when empty. */
  private get(value: Uint8Array, del: boolean): number {
    const k = this.k;
    const fl = this.lockQs();
    if (fl < 0) return fl;
    let err = 0;
    if (this.isEmpty()) {
      value.fill(0, 0, this.valueSize);
      err = -ENOENT;
    } else if (this.isStack) {
      let index = this.head - 1;
      if (index < 0 || index >= this.size) index = this.size - 1;
      k.mem.copyOut(this.slot(index), value, 0, this.valueSize);
      if (del) this.head = index;
    } else {
      k.mem.copyOut(this.slot(this.tail), value, 0, this.valueSize);
      if (del && ++this.tail >= this.size) this.tail = 0;
    }
    k.cur.clock += COST.copyWord * ((this.valueSize + 7) >> 3);
    this.unlockQs(fl);
    return err;
  }

  /** queue_map_peek_elem() / stack_map_peek_elem() */
  override peekElem(value: Uint8Array): number {
    this.k.point(P_PEEK);
    return this.get(value, false);
  }

  /** queue_map_pop_elem() / stack_map_pop_elem() */
  override popElem(value: Uint8Array): number {
    this.k.point(P_POP);
    return this.get(value, true);
  }

  /** queue_stack_map_push_elem() */
  override pushElem(value: Uint8Array, flags: number): number {
    const k = this.k;
    k.point(P_PUSH);
    const replace = (flags & BPF_EXIST) !== 0;
    if (flags & BPF_NOEXIST || flags < 0 || flags > BPF_EXIST) return -EINVAL;
    const fl = this.lockQs();
    if (fl < 0) return fl;
    if (this.isFull()) {
      if (!replace) {
        this.unlockQs(fl);
        return -E2BIG;
      }
      if (++this.tail >= this.size) this.tail = 0;
    }
    k.mem.copyIn(this.slot(this.head), value, 0, this.valueSize);
    if (++this.head >= this.size) this.head = 0;
    k.cur.clock += COST.copyWord * ((this.valueSize + 7) >> 3);
    this.unlockQs(fl);
    return 0;
  }

  /** The syscall lookup is a peek. */
  override sysLookup(_key: Uint8Array, out: Uint8Array, _flags: number): number {
    return this.peekElem(out);
  }

  /** The syscall update is a push. */
  override sysUpdate(_key: Uint8Array, value: Uint8Array, flags: number): number {
    return this.pushElem(value, flags);
  }

  /** Programs cannot look up by key in a queue/stack. */
  lookupElem(_key: Uint8Array): number {
    return 0;
  }

  /** queue_stack_map_update_elem(): -EINVAL (programs push instead). */
  override updateElem(): number {
    return -EINVAL;
  }

  /** queue_stack_map_delete_elem(): -EINVAL. */
  override deleteElem(): number {
    return -EINVAL;
  }

  /** queue_stack_map_get_next_key(): -EINVAL (there are no keys). */
  override getNextKey(): number {
    return -EINVAL;
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM on a queue/stack is map_pop_elem(). */
  override lookupAndDeleteElem(_key: Uint8Array | null, value: Uint8Array, _flags: number): number {
    return this.popElem(value);
  }

  /** map_meta_equal = bpf_map_meta_equal: a queue/stack may be an inner map. */
  override metaEqual(inner: BpfMap): boolean {
    return bpf_map_meta_equal(this, inner);
  }

  /** Elements currently queued. */
  override elemCount(): number {
    return (this.head - this.tail + this.size) % this.size;
  }

  /** queue_stack_map_mem_usage() */
  memUsage(): number {
    return QS_STRUCT_SIZE + this.size * this.valueSize;
  }

  /** queue_stack_map_free(): bpf_map_area_free() of the whole allocation. */
  free(): void {
    if (this.addr !== 0) bpf_map_area_free(this.k, this.addr);
    this.addr = 0;
    this.freed = true;
  }
}

/** queue_stack_map_alloc() */
export function queueStackMapAlloc(k: Kernel, attr: MapAttr): QueueStack | number {
  const q = new QueueStack(k, attr);
  const err = q.init();
  if (err) {
    q.free();
    return err;
  }
  if (k.features.memlock === "precharge") q.precharged = Math.ceil(q.memUsage() / 4096) * 4096;
  return q;
}

snapshotClasses(QueueStack);
