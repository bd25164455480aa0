// tools/testing/selftests/bpf/prog_tests/ringbuf.c re-implemented (KERNEL-NOTES
// 9.3): the BPF program of progs/test_ringbuf.c is driven from the test on
// CPU 0 (as if getpgid() fired its tracepoint), the user side is libbpf's
// ring_buffer (lib/bpf/ringbuf_consumer.ts) with its epoll semantics.

import { assertEquals, assertTrue } from "../assert.ts";
import { readU32, u32, withKernel } from "../helpers.ts";
import type { Kernel } from "../../lib/kernel/kernel.ts";
import { EBUSY } from "../../lib/kernel/errno.ts";
import { BPF_RINGBUF_HDR_SZ, type BpfRingbuf } from "../../lib/bpf/ringbuf.ts";
import {
  ringAvailDataSize,
  RingBuffer,
  ringConsume,
  ringConsumerPos,
  ringProducerPos,
  ringSize,
} from "../../lib/bpf/ringbuf_consumer.ts";
import { BPF_RB_AVAIL_DATA, BPF_RB_CONS_POS, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP } from "../../lib/bpf/uapi.ts";
import { BPF_RB_PROD_POS, BPF_RB_RING_SIZE } from "../../lib/bpf/uapi.ts";
import { makeRing } from "./ringbuf_helpers.ts";

const EDONE = 7777;
/** struct sample { int pid; int seq; long value; char comm[16]; } */
const SAMPLE_SZ = 32;
const REC_SZ = BPF_RINGBUF_HDR_SZ + SAMPLE_SZ;
const PAGE = 4096;

/** progs/test_ringbuf.c's globals ("bss"). */
class Bss {
  pid = 0;
  value = 0;
  flags = 0;
  total = 0;
  discarded = 0;
  dropped = 0;
  avail_data = 0;
  ring_size = 0;
  cons_pos = 0;
  prod_pos = 0;
  seq = 0;
}

/** test_ringbuf(): reserve, fill, then submit (even seq) or output a copy and discard (odd seq). */
function testRingbufProg(k: Kernel, rb: BpfRingbuf, bss: Bss, curPid: number): number {
  if (curPid !== bss.pid) return 0;
  const sample = rb.reserve(SAMPLE_SZ, 0);
  if (sample === 0) {
    bss.dropped++;
    return 1;
  }
  const dv = new DataView(new ArrayBuffer(SAMPLE_SZ));
  dv.setInt32(0, bss.pid, true);
  dv.setBigInt64(8, BigInt(bss.value), true);
  const comm = new TextEncoder().encode("test_progs");
  const seq = bss.seq++;
  dv.setInt32(4, seq, true);
  const bytes = new Uint8Array(dv.buffer);
  bytes.set(comm, 16);
  k.mem.copyIn(sample, bytes, 0, SAMPLE_SZ);
  bss.total++;
  if (seq & 1) {
    // copy from the reserved sample to a new one, then discard the reserved one
    const copy = k.mem.bytes(sample, SAMPLE_SZ);
    rb.output(copy, bss.flags);
    rb.discard(sample, bss.flags);
    bss.discarded++;
  } else {
    rb.submit(sample, bss.flags);
  }
  bss.avail_data = rb.query(BPF_RB_AVAIL_DATA);
  bss.ring_size = rb.query(BPF_RB_RING_SIZE);
  bss.cons_pos = rb.query(BPF_RB_CONS_POS);
  bss.prod_pos = rb.query(BPF_RB_PROD_POS);
  return 0;
}

Deno.test("selftest ringbuf: accounting, polling, NO_WAKEUP, adaptive and FORCE wakeups", () => {
  withKernel({ cpus: 2 }, (k) => {
    const { fd, rb } = makeRing(k, PAGE);
    const bss = new Bss();
    const user = k.spawn("test_progs", 0);
    const userFd = user.mapGetFdById(rb.id);
    const pid = 4242;
    bss.pid = pid;
    /** syscall(__NR_getpgid): the tracepoint runs the program on the caller's CPU. */
    const getpgid = () => k.exec(0, () => testRingbufProg(k, rb, bss, pid), { comm: "test_progs", pid });
    const triggerSamples = () => {
      bss.dropped = bss.total = bss.discarded = 0;
      bss.value = 333;
      getpgid();
      bss.value = 777;
      getpgid();
    };
    let sampleCnt = 0;
    const processSample = (s: Uint8Array) => {
      sampleCnt++;
      const dv = new DataView(s.buffer, s.byteOffset, s.byteLength);
      const seq = dv.getInt32(4, true);
      const value = Number(dv.getBigInt64(8, true));
      if (seq === 0) {
        assertEquals(value, 333, "sample1_value");
        return 0;
      }
      if (seq === 1) {
        assertEquals(value, 777, "sample2_value");
        return -EDONE;
      }
      return 0;
    };
    const ringbuf = RingBuffer.create(user, userFd, processSample);
    assertTrue(ringbuf instanceof RingBuffer);
    /** usleep(): simulated time passes, interrupts and queued work run. */
    const usleep = (us: number) => k.run({ until: k.now() + us * 1000 });

    triggerSamples();
    const ring = ringbuf.ring(0)!;
    assertEquals(ring.mapFd, userFd);
    // 2 submitted + 1 discarded records
    assertEquals(bss.avail_data, 3 * REC_SZ, "err_avail_size");
    assertEquals(bss.ring_size, PAGE, "err_ring_size");
    assertEquals(bss.cons_pos, 0, "err_cons_pos");
    assertEquals(bss.prod_pos, 3 * REC_SZ, "err_prod_pos");
    // the same through the ring object
    assertEquals(ringAvailDataSize(k, ring), 3 * REC_SZ);
    assertEquals(ringSize(ring), PAGE);
    assertEquals(ringConsumerPos(k, ring), 0);
    assertEquals(ringProducerPos(k, ring), 3 * REC_SZ);

    // poll for samples: -EDONE is used as an indicator that we are done
    assertEquals(ringbuf.poll(-1), -EDONE, "err_done");
    assertEquals(sampleCnt, 2);
    sampleCnt = 0;
    // extra polling returns nothing
    assertEquals(ringbuf.poll(0), 0, "extra_samples");
    assertEquals(sampleCnt, 0);
    assertEquals([bss.dropped, bss.total, bss.discarded], [0, 2, 1]);

    // consumer position is updated and returned
    triggerSamples();
    assertEquals(bss.cons_pos, 3 * REC_SZ, "err_cons_pos");
    const err = ringbuf.poll(-1);
    assertTrue(err > 0, `poll_err ${err}`);
    assertEquals(sampleCnt, 2);
    sampleCnt = 0;

    // start poll in background with a long timeout
    const thread = ringbuf.pollInThread(10000);
    // turn off notifications now
    bss.flags = BPF_RB_NO_WAKEUP;
    usleep(50000);
    triggerSamples();
    usleep(50000);
    // background poll should still be blocked
    assertEquals(thread.tryJoin(), -EBUSY, "try_join");
    assertEquals([bss.dropped, bss.total, bss.discarded], [0, 2, 1]);
    assertEquals(sampleCnt, 0);

    // back to adaptive: no notification, because the consumer is now behind
    bss.flags = 0;
    triggerSamples();
    usleep(50000);
    assertEquals(thread.tryJoin(), -EBUSY, "try_join");
    assertEquals(sampleCnt, 0, "still no samples, because consumer is behind");

    bss.dropped = bss.total = bss.discarded = 0;
    bss.value = 333;
    getpgid();
    // now force notifications
    bss.flags = BPF_RB_FORCE_WAKEUP;
    bss.value = 777;
    getpgid();
    // now we should get a pending notification
    usleep(50000);
    const bgRet = thread.tryJoin();
    assertTrue(bgRet > 0, `bg_ret ${bgRet}`);
    assertEquals(thread.wakeups, 1);
    // consume what the notification did not deliver (timing variations on real hardware)
    assertTrue(ringbuf.consume() >= 0, "rb_consume");
    assertTrue(ringConsume(k, ring) >= 0, "ring_consume");
    // 3 rounds, 2 samples each
    assertEquals(sampleCnt, 6);
    assertEquals([bss.dropped, bss.total, bss.discarded], [0, 2, 1]);
    // the kernel side agrees: 4 irq_work runs (two adaptive, two forced), no drops
    assertEquals(rb.notifyRequests, 4);
    assertEquals(rb.wakeups, 4);
    assertEquals(ringbuf.epollWakeups, 4);
    ringbuf.free();
    user.exit();
    k.sys.close(fd);
  });
});

Deno.test("selftest ringbuf_n: 32 samples consumed 4 at a time with ring_buffer__consume_n", () => {
  withKernel({}, (k) => {
    const { fd, rb } = makeRing(k, PAGE);
    const value = 42;
    let seen = 0;
    const ringbuf = RingBuffer.create(k.sys, fd, (s) => {
      assertEquals(Number(new DataView(s.buffer, s.byteOffset).getBigInt64(8, true)), value, "sample_value");
      seen++;
      return 0;
    }) as RingBuffer;
    // progs/test_ringbuf_n.c: reserve a sample, fill it, submit
    for (let i = 0; i < 32; i++) {
      k.exec(0, () => {
        const s = rb.reserve(SAMPLE_SZ, 0);
        assertTrue(s !== 0);
        k.mem.writeU32(s, 4242);
        k.mem.writePtr(s + 8, 0);
        k.mem.writeU32(s + 8, value);
        rb.submit(s, 0);
      });
    }
    for (let i = 0; i < 32; i += 4) assertEquals(ringbuf.consumeN(4), 4, "rb_consume");
    assertEquals(seen, 32);
    assertEquals(ringbuf.consumeN(4), 0);
    ringbuf.free();
  });
});

Deno.test("selftest ringbuf_map_key: a sample used in place as a hash map key", () => {
  withKernel({}, (k) => {
    const { fd, rb } = makeRing(k, PAGE);
    const hfd = k.sys.mapCreate({ mapType: "hash", keySize: SAMPLE_SZ, valueSize: 4, maxEntries: 2, name: "hash_map" });
    assertTrue(hfd > 0);
    const hash = k.sys.mapOf(hfd)!;
    let seq = 0;
    // progs/test_ringbuf_map_key.c: the reserved sample is the key of bpf_map_update_elem()
    k.exec(0, () => {
      const s = rb.reserve(SAMPLE_SZ, 0);
      k.mem.writeU32(s, 4242);
      k.mem.writeU32(s + 4, ++seq);
      k.mem.writeU32(s + 8, 42);
      const key = k.mem.region(s).u8.subarray(s >>> 0, (s >>> 0) + SAMPLE_SZ);
      assertEquals(hash.updateElem(key, u32(1), 0), 0);
      rb.submit(s, 0);
    });
    assertEquals(seq, 1);
    const ringbuf = RingBuffer.create(k.sys, fd, (s) => {
      if (readU32(s, 4) !== 1) return 0;
      assertEquals(readU32(s, 8), 42);
      const val = new Uint8Array(4);
      assertEquals(k.sys.mapLookupElem(hfd, s, val), 0, "hash_map bpf_map_lookup_elem");
      assertEquals(readU32(val), 1);
      return -EDONE;
    }) as RingBuffer;
    assertEquals(ringbuf.poll(-1), -EDONE);
    ringbuf.free();
  });
});

Deno.test("ring_buffer: a poll nothing can wake reports that it would block forever; a timeout ends it", () => {
  withKernel({}, (k) => {
    const { fd } = makeRing(k, PAGE);
    const ringbuf = RingBuffer.create(k.sys, fd, () => 0) as RingBuffer;
    assertEquals(ringbuf.poll(-1), -4096); // -ESIMHUNG
    const t0 = k.now();
    assertEquals(ringbuf.poll(5), 0);
    assertTrue(k.now() - t0 >= 5e6, "5 ms of simulated time passed");
    ringbuf.free();
    // a non-ringbuf map is refused like libbpf does
    const afd = k.sys.mapCreate({ mapType: "array", keySize: 4, valueSize: 4, maxEntries: 1 });
    assertEquals(RingBuffer.create(k.sys, afd, () => 0), -22);
  });
});

Deno.test("ring_buffer: the mappings keep the map alive after its fd is closed", () => {
  withKernel({}, (k) => {
    const { fd, rb } = makeRing(k, PAGE);
    const ringbuf = RingBuffer.create(k.sys, fd, () => 0) as RingBuffer;
    k.sys.close(fd);
    k.quiesce();
    assertEquals(rb.freed, false);
    assertEquals(k.bpf.allMaps().length, 1);
    ringbuf.free();
    k.quiesce();
    assertEquals(rb.freed, true);
  });
});
