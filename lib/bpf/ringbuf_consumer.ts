// tools/lib/bpf/ringbuf.c: libbpf's ring_buffer, the user-space consumer of
// BPF ring buffers, with the level-triggered epoll (fs/eventpoll.c) it waits
// on. ring_buffer__add() maps the consumer page read-write and the producer
// page + data (twice) read-only, and registers the map fd with epoll.
// Consumption is ringbuf_process_ring() over those mappings. A poll that has
// nothing to report blocks: its thread sleeps on the epoll wait queue until
// the ring's irq_work (bpf_ringbuf_notify -> ep_poll_callback) wakes it,
// and then runs as a step on the process's CPU.

import { EBUSY, EINVAL, ESIMHUNG } from "../kernel/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { PAGE_SIZE } from "../kernel/memory.ts";
import type { SysBpf } from "./syscall.ts";
import {
  BpfRingbuf,
  EPOLLIN,
  PROT_READ,
  PROT_WRITE,
  ringbuf_process_ring,
  type RingbufVma,
  type WaitFunc,
} from "./ringbuf.ts";
import { BPF_MAP_TYPE_RINGBUF } from "./uapi.ts";

/** ring_buffer_sample_fn: (sample bytes as mapped, length) -> 0 or a negative error. */
export type RingBufferSampleFn = (sample: Uint8Array, len: number) => number;

const INT_MAX = 0x7fffffff;

/** struct ring: one ring of a ring_buffer. */
export class Ring {
  /** The read-write mapping of the consumer_pos page. */
  consumerVma: RingbufVma | null = null;
  /** The read-only mapping of the producer_pos page and the data pages (twice). */
  producerVma: RingbufVma | null = null;
  /** Level-triggered epitem: on the ready list. */
  ready = false;

  /** A ring for `map` (opened as `mapFd`) whose samples go to `sampleCb`; ring_buffer__add() maps it. */
  constructor(
    readonly map: BpfRingbuf,
    readonly mapFd: number,
    readonly sampleCb: RingBufferSampleFn,
  ) {}

  /** r->mask */
  get mask(): number {
    return this.map.mask;
  }

  /** r->consumer_pos */
  get consumerPos(): number {
    return this.consumerVma!.addr;
  }

  /** r->producer_pos */
  get producerPos(): number {
    return this.producerVma!.addr;
  }

  /** r->data */
  get data(): number {
    return this.producerVma!.addr + PAGE_SIZE;
  }
}

/** A thread blocked in ring_buffer__poll() (pthread + epoll_wait). */
export class PollThread {
  /** ring_buffer__poll()'s result once finished. */
  result: number | undefined = undefined;
  /** Times the thread was woken (ep_poll_callback -> wake_up). */
  wakeups = 0;
  /** Blocked on the epoll wait queue. */
  blocked = false;

  /** A thread polling `rb` with epoll_wait's `timeoutMs` (negative: no timeout). */
  constructor(readonly rb: RingBuffer, readonly timeoutMs: number) {}

  /** pthread_tryjoin_np(): the result, or -EBUSY while the thread still runs. */
  tryJoin(): number {
    return this.result === undefined ? -EBUSY : this.result;
  }
}

/**
 * struct ring_buffer: rings registered with one epoll instance, owned by a
 * user process (its CPU runs the callbacks of blocking polls).
 */
export class RingBuffer {
  /** rb->rings, in the order they were added (ring_buffer__ring(idx)). */
  readonly rings: Ring[] = [];
  /** Threads sleeping in epoll_wait on this instance. */
  private readonly sleepers = new Set<PollThread>();
  /** ep_poll_callback, one per ring. */
  private readonly callbacks = new Map<Ring, WaitFunc>();
  /** Times any ring's wake-up reached this epoll instance. */
  epollWakeups = 0;
  private freed = false;

  private constructor(readonly sys: SysBpf) {}

  /** The kernel the owning process runs in. */
  private get k(): Kernel {
    return this.sys.k;
  }

  /** ring_buffer__new(map_fd, sample_cb): the ring buffer, or -errno. */
  static create(sys: SysBpf, mapFd: number, cb: RingBufferSampleFn): RingBuffer | number {
    const rb = new RingBuffer(sys);
    const err = rb.add(mapFd, cb);
    if (err) return err;
    return rb;
  }

  /** ring_buffer__add(): 0 or -errno. */
  add(mapFd: number, cb: RingBufferSampleFn): number {
    const info = this.sys.mapInfo(mapFd);
    if (typeof info === "number") return info;
    if (info.type !== BPF_MAP_TYPE_RINGBUF) return -EINVAL;
    const map = this.sys.mapOf(mapFd);
    if (!(map instanceof BpfRingbuf)) return -EINVAL;
    const r = new Ring(map, mapFd, cb);
    const k = this.k;
    // writable consumer page, then read-only producer page + 2 x data
    const cons = k.exec(this.sys.proc.cpu, () => map.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE));
    if (typeof cons !== "object") return typeof cons === "number" ? cons : -ESIMHUNG;
    r.consumerVma = cons;
    const prod = k.exec(this.sys.proc.cpu, () => map.mmap(1, PAGE_SIZE + 2 * map.size, PROT_READ));
    if (typeof prod !== "object") {
      k.exec(this.sys.proc.cpu, () => map.munmap(cons));
      return typeof prod === "number" ? prod : -ESIMHUNG;
    }
    r.producerVma = prod;
    // epoll_ctl(EPOLL_CTL_ADD, map_fd, EPOLLIN): ep_insert polls once
    const cb2: WaitFunc = () => this.epPollCallback(r);
    this.callbacks.set(r, cb2);
    map.addWaiter(cb2);
    if (map.poll() & EPOLLIN) r.ready = true;
    this.rings.push(r);
    return 0;
  }

  /** ring_buffer__ring(idx) */
  ring(idx: number): Ring | undefined {
    return this.rings[idx];
  }

  /** ep_poll_callback(): the item goes on the ready list, sleepers wake. */
  private epPollCallback(r: Ring): void {
    r.ready = true;
    this.epollWakeups++;
    for (const t of [...this.sleepers]) {
      this.sleepers.delete(t);
      t.blocked = false;
      t.wakeups++;
      this.k.queueStep(this.sys.proc.cpu, () => this.resume(t), { comm: this.sys.proc.comm, pid: this.sys.proc.pid });
    }
  }

  /**
   * epoll_wait()'s harvest (ep_send_events, level-triggered): every ready
   * item is polled again; those with EPOLLIN are reported and stay ready,
   * the others leave the list. Returns the reported rings.
   */
  private sendEvents(): Ring[] {
    const out: Ring[] = [];
    for (const r of this.rings) {
      if (!r.ready) continue;
      if (r.map.poll() & EPOLLIN) out.push(r);
      else r.ready = false;
    }
    return out;
  }

  /** ring_buffer__poll()'s body after epoll_wait returned `events`. */
  private processEvents(events: Ring[]): number {
    let res = 0;
    for (const r of events) {
      const err = ringProcess(this.k, r, INT_MAX);
      if (err < 0) return err;
      res += err;
    }
    return res > INT_MAX ? INT_MAX : res;
  }

  /** A woken poll thread runs again: harvests events and consumes them, or sleeps again on a spurious wake-up. */
  private resume(t: PollThread): void {
    if (t.result !== undefined) return;
    const events = this.sendEvents();
    if (events.length === 0) {
      // spurious: back to sleep
      t.blocked = true;
      this.sleepers.add(t);
      return;
    }
    t.result = this.processEvents(events);
  }

  /**
   * ring_buffer__poll(rb, timeout_ms) from a thread of its own: returns at
   * once with the thread, which finishes now if events are ready (or the
   * timeout is 0), and otherwise sleeps until a wake-up or the timeout.
   * Time passes and wake-ups arrive only as the kernel runs (Kernel.run).
   */
  pollInThread(timeoutMs: number): PollThread {
    const t = new PollThread(this, timeoutMs);
    const events = this.sendEvents();
    if (events.length > 0) {
      t.result = this.processEvents(events);
      return t;
    }
    if (timeoutMs === 0) {
      t.result = 0;
      return t;
    }
    t.blocked = true;
    this.sleepers.add(t);
    if (timeoutMs > 0) {
      const k = this.k;
      const at = k.cpus[this.sys.proc.cpu].clock + timeoutMs * 1e6;
      k.addTimer(at, () => {
        if (t.result !== undefined || !t.blocked) return;
        this.sleepers.delete(t);
        t.blocked = false;
        t.result = 0;
        // the thread returns from epoll_wait at the deadline
        const cpu = k.cpus[this.sys.proc.cpu];
        if (cpu.clock < at) cpu.clock = at;
      });
    }
    return t;
  }

  /**
   * ring_buffer__poll(rb, timeout_ms) by the calling thread: the number of
   * records consumed or a negative error (a callback's). While blocked, the
   * rest of the kernel runs (queued steps, interrupts, timers). A poll that
   * nothing can ever wake (timeout -1, nothing left to run) returns
   * -ESIMHUNG: the real call would never return.
   */
  poll(timeoutMs: number): number {
    const t = this.pollInThread(timeoutMs);
    const k = this.k;
    // each round runs due timers and interrupts and at most one step; 0 steps: nothing left
    while (t.result === undefined && k.run({ maxSteps: 1 }) > 0);
    if (t.result === undefined) {
      this.sleepers.delete(t);
      t.blocked = false;
      return -ESIMHUNG;
    }
    return t.result;
  }

  /** ring_buffer__consume(): every ring, without waiting. */
  consume(): number {
    return this.consumeN(INT_MAX);
  }

  /** ring_buffer__consume_n(rb, n): at most n records across the rings. */
  consumeN(n: number): number {
    let res = 0;
    for (const r of this.rings) {
      const err = ringProcess(this.k, r, n);
      if (err < 0) return err;
      res += err;
      n -= err;
      if (n <= 0) break;
    }
    return res > INT_MAX ? INT_MAX : res;
  }

  /** ring_buffer__free(): unmaps the rings and leaves epoll; sleeping threads are abandoned. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    const k = this.k;
    for (const r of this.rings) {
      const cb = this.callbacks.get(r);
      if (cb) r.map.removeWaiter(cb);
      k.exec(this.sys.proc.cpu, () => {
        if (r.consumerVma) r.map.munmap(r.consumerVma);
        if (r.producerVma) r.map.munmap(r.producerVma);
      });
    }
    this.sleepers.clear();
  }
}

/** ring__consume_n(ring, n) / ringbuf_process_ring over the ring's mappings. */
export function ringProcess(k: Kernel, r: Ring, n: number): number {
  return ringbuf_process_ring(k, r.consumerPos, r.producerPos, r.data, r.mask, r.sampleCb, n);
}

/** ring__consume(ring) */
export function ringConsume(k: Kernel, r: Ring): number {
  return ringProcess(k, r, INT_MAX);
}

/** ring__avail_data_size(): producer - consumer, read through the mappings. */
export function ringAvailDataSize(k: Kernel, r: Ring): number {
  return ringProducerPos(k, r) - ringConsumerPos(k, r);
}

/** ring__size() */
export function ringSize(r: Ring): number {
  return r.mask + 1;
}

/** ring__consumer_pos() */
export function ringConsumerPos(k: Kernel, r: Ring): number {
  return k.mem.readU32(r.consumerPos + 4) * 4294967296 + k.mem.readU32(r.consumerPos);
}

/** ring__producer_pos() */
export function ringProducerPos(k: Kernel, r: Ring): number {
  return k.mem.readU32(r.producerPos + 4) * 4294967296 + k.mem.readU32(r.producerPos);
}
