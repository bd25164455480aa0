// The instruction verifier's rejections: each program breaks one rule the
// kernel enforces, and the load fails with the kernel's errno and message,
// the log naming the offending instruction. Accepted counterparts show the
// rule is not over-broad.

import { assertEquals, assertIncludes } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { EACCES, EBADF, EINVAL } from "../../lib/kernel/errno.ts";
import { loadInsnProg } from "../../lib/bpf/insn_prog.ts";
import type { BpfInsn } from "../../lib/bpf/uapi_insn.ts";
import {
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_PROG_TYPE_SYSCALL,
  BPF_PROG_TYPE_XDP,
} from "../../lib/bpf/uapi_prog.ts";
import { BPF_F_RDONLY_PROG } from "../../lib/bpf/uapi.ts";

const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): BpfInsn => ({ code, dst, src, off, imm });
const EXIT = I(0x95);
const R0_0 = I(0xb7, 0, 0, 0, 0);
/** r1 = map fd (ld_imm64 BPF_PSEUDO_MAP_FD) */
const LD_MAP = (r: number, fd: number) => [I(0x18, r, 1, 0, fd), I(0)];
/** *(u32 *)(r10 -4) = 0; r2 = r10; r2 += -4 */
const KEY_ON_STACK = [I(0x62, 10, 0, -4, 0), I(0xbf, 2, 10), I(0x07, 2, 0, 0, -4)];

interface Try {
  profile?: string;
  progType?: number;
  license?: string;
  map?: { type: string; key: number; value: number; entries: number; flags?: number };
}

/** Loads `insns`; returns errno (0 when accepted) and the log. */
function load(insns: BpfInsn[], t: Try = {}): { errno: number; log: string[]; msg: string } {
  const k = new Kernel({ cpus: 2, profile: t.profile ?? "v6.18" });
  let fd = -1;
  if (t.map) {
    fd = k.sys.mapCreate({
      mapType: t.map.type,
      keySize: t.map.key,
      valueSize: t.map.value,
      maxEntries: t.map.entries,
      mapFlags: t.map.flags ?? 0,
    });
    if (fd < 0) throw new Error(`map create: ${fd}`);
  }
  const r = loadInsnProg(k, {
    name: "t",
    progType: t.progType ?? BPF_PROG_TYPE_RAW_TRACEPOINT,
    attachType: 0,
    insns: insns.map((x) => (x.code === 0x18 && (x.src === 1 || x.src === 2) && x.imm === -1 ? { ...x, imm: fd } : x)),
    license: t.license ?? "GPL",
    mapOfFd: (f) => k.sys.fdGetMap(f),
  });
  if ("errno" in r) return { errno: r.errno, log: [...r.log], msg: r.log[r.log.length - 1] };
  r.prog.free();
  return { errno: 0, log: [...r.log], msg: "" };
}

function rejects(insns: BpfInsn[], errno: number, msg: string, insnLine: string | null, t: Try = {}): void {
  const r = load(insns, t);
  assertEquals([r.errno, r.msg], [errno, msg], r.log.join("\n"));
  if (insnLine) assertIncludes(r.log.join("\n"), insnLine);
}

const HASH = { type: "hash", key: 4, value: 8, entries: 4 };

Deno.test("a map value must be NULL-checked before it is dereferenced", () => {
  const lookup = [...KEY_ON_STACK, ...LD_MAP(1, -1), I(0x85, 0, 0, 0, 1)];
  rejects(
    [...lookup, I(0x79, 1, 0, 0), R0_0, EXIT],
    EACCES,
    "R0 invalid mem access 'map_value_or_null'",
    "6: (79) r1 = *(u64 *)(r0 +0)",
    { map: HASH },
  );
  // with the check it loads
  assertEquals(load([...lookup, I(0x15, 0, 0, 1, 0), I(0x79, 1, 0, 0), R0_0, EXIT], { map: HASH }).errno, 0);
});

Deno.test("map value accesses stay within value_size; constant offsets and checked variable ones", () => {
  const lookup = [...KEY_ON_STACK, ...LD_MAP(1, -1), I(0x85, 0, 0, 0, 1)];
  const checked = (body: BpfInsn[]) => [...lookup, I(0x15, 0, 0, body.length, 0), ...body, R0_0, EXIT];
  rejects(checked([I(0x79, 1, 0, 8)]), EACCES, "invalid access to map value, value_size=8 off=8 size=8", "7: (79)", {
    map: HASH,
  });
  // a bounded variable offset is fine
  assertEquals(load(checked([I(0xb7, 3, 0, 0, 3), I(0x0f, 0, 3), I(0x71, 1, 0, 4)]), { map: HASH }).errno, 0);
  // an unknown one must be bounds-checked first
  const unbounded = [I(0x61, 6, 1, 0), ...checked([I(0x0f, 0, 6), I(0x71, 1, 0, 0)])];
  rejects(unbounded, EACCES, "R0 unbounded memory access, make sure to bounds check any such access", null, {
    map: HASH,
    progType: BPF_PROG_TYPE_SYSCALL,
  });
  const bounded = [I(0x61, 6, 1, 0), I(0x57, 6, 0, 0, 7), ...checked([I(0x0f, 0, 6), I(0x71, 1, 0, 0)])];
  assertEquals(load(bounded, { map: HASH, progType: BPF_PROG_TYPE_SYSCALL }).errno, 0);
  const tooBig = [I(0x61, 6, 1, 0), I(0x57, 6, 0, 0, 15), ...checked([I(0x0f, 0, 6), I(0x71, 1, 0, 0)])];
  rejects(tooBig, EACCES, "R0 max value is outside of the allowed memory range", null, {
    map: HASH,
    progType: BPF_PROG_TYPE_SYSCALL,
  });
});

Deno.test("stack accesses stay within the 512-byte frame; r10 is read only", () => {
  rejects([I(0x7a, 10, 0, -520, 1), R0_0, EXIT], EACCES, "invalid write to stack R10 off=-520 size=8", "0: (7a)");
  rejects([I(0x7a, 10, 0, 0, 1), R0_0, EXIT], EACCES, "invalid write to stack R10 off=0 size=8", null);
  rejects([I(0x07, 10, 0, 0, 8), R0_0, EXIT], EACCES, "frame pointer is read only", "0: (07) r10 += 8");
});

Deno.test("registers must be written before they are read; r0 at exit", () => {
  rejects([I(0xbf, 0, 2), EXIT], EACCES, "R2 !read_ok", "0: (bf) r0 = r2");
  rejects([EXIT], EACCES, "R0 !read_ok", "0: (95) exit");
  // a helper call clobbers r1-r5
  rejects([I(0x85, 0, 0, 0, 5), I(0xbf, 0, 1), EXIT], EACCES, "R1 !read_ok", null);
});

Deno.test("loops: back-edges before 5.3, bounded loops since, an infinite loop is found", () => {
  // r0 = 0; loop: r0 += 1; if r0 < 10 goto loop; exit
  const bounded = [R0_0, I(0x07, 0, 0, 0, 1), I(0xa5, 0, 0, -2, 10), EXIT];
  rejects(bounded, EINVAL, "back-edge from insn 2 to 1", null, { profile: "v4.6" });
  assertEquals(load(bounded).errno, 0);
  // r0 = 0; loop: if r0 == 0 goto loop (never changes)
  rejects([R0_0, I(0x15, 0, 0, -1, 0), EXIT], EINVAL, "infinite loop detected at insn 1", null);
});

Deno.test("control flow: unreachable code, jumps out of range, a last instruction that falls off", () => {
  rejects([R0_0, EXIT, R0_0, EXIT], EINVAL, "unreachable insn 2", null);
  rejects([R0_0, I(0x05, 0, 0, 5), EXIT], EINVAL, "jump out of range from insn 1 to 7", null);
  rejects([R0_0, I(0xb7, 1, 0, 0, 1)], EINVAL, "last insn is not an exit or jmp", null);
  rejects([R0_0, I(0x37, 0, 0, 0, 0), EXIT], EINVAL, "div by zero", null);
  rejects([R0_0, I(0x67, 0, 0, 0, 64), EXIT], EINVAL, "invalid shift 64", null);
});

Deno.test("helpers: the release must have them, the program type must offer them, bpfsim must run them", () => {
  const rb = [
    ...LD_MAP(1, -1),
    I(0xbf, 2, 10),
    I(0x07, 2, 0, 0, -8),
    I(0x7a, 10, 0, -8, 0),
    I(0xb7, 3, 0, 0, 8),
    I(0xb7, 4, 0, 0, 0),
    I(0x85, 0, 0, 0, 130),
    R0_0,
    EXIT,
  ];
  const ring = { type: "ringbuf", key: 0, value: 0, entries: 4096 };
  assertEquals(load(rb, { map: ring }).errno, 0);
  rejects(rb, EINVAL, "invalid func unknown#130", "7: (85) call bpf_ringbuf_output#130", {
    map: { type: "hash", key: 4, value: 8, entries: 4 },
    profile: "v5.7",
  });
  rejects([I(0x85, 0, 0, 0, 14), R0_0, EXIT], EINVAL, "unknown func bpf_get_current_pid_tgid#14", null, {
    progType: BPF_PROG_TYPE_XDP,
  });
  rejects([I(0x85, 0, 0, 0, 27), R0_0, EXIT], EINVAL, "bpfsim does not implement helper bpf_get_stackid#27", null, {
    progType: BPF_PROG_TYPE_KPROBE,
  });
  rejects([I(0x85, 0, 0, 0, 5000), R0_0, EXIT], EINVAL, "invalid func unknown#5000", null);
  // bpf_probe_read_kernel is GPL-only
  const probe = [
    I(0xbf, 1, 10),
    I(0x07, 1, 0, 0, -8),
    I(0xb7, 2, 0, 0, 8),
    I(0xb7, 3, 0, 0, 0),
    I(0x85, 0, 0, 0, 113),
    R0_0,
    EXIT,
  ];
  assertEquals(load(probe).errno, 0);
  rejects(probe, EINVAL, "cannot call GPL-restricted function from non-GPL compatible program", null, {
    license: "Proprietary",
  });
  // map type and helper must go together
  rejects(rb, EINVAL, "cannot pass map_type 1 into func bpf_ringbuf_output#130", null, { map: HASH });
});

Deno.test("a reserved ring buffer record must be submitted or discarded", () => {
  const reserve = [...LD_MAP(1, -1), I(0xb7, 2, 0, 0, 16), I(0xb7, 3, 0, 0, 0), I(0x85, 0, 0, 0, 131)];
  const ring = { type: "ringbuf", key: 0, value: 0, entries: 4096 };
  rejects([...reserve, R0_0, EXIT], EINVAL, "Unreleased reference id=1 alloc_insn=4", null, { map: ring });
  const submit = [I(0x15, 0, 0, 3, 0), I(0xbf, 1, 0), I(0xb7, 2, 0, 0, 0), I(0x85, 0, 0, 0, 132), R0_0, EXIT];
  assertEquals(load([...reserve, ...submit], { map: ring }).errno, 0);
  // the record is 16 bytes
  const tooFar = [
    I(0x15, 0, 0, 4, 0),
    I(0x7a, 0, 0, 16, 1),
    I(0xbf, 1, 0),
    I(0xb7, 2, 0, 0, 0),
    I(0x85, 0, 0, 0, 132),
    R0_0,
    EXIT,
  ];
  rejects([...reserve, ...tooFar], EACCES, "invalid access to memory, mem_size=16 off=16 size=8", null, { map: ring });
});

Deno.test("bpf_spin_lock regions: no calls inside, no exit inside", () => {
  const lock = { type: "array", key: 4, value: 16, entries: 1 };
  const get = [
    ...KEY_ON_STACK,
    ...LD_MAP(1, -1),
    I(0x85, 0, 0, 0, 1),
    I(0x15, 0, 0, 0, 0),
    I(0xbf, 6, 0),
    I(0xbf, 1, 6),
  ];
  const nullExit = (body: BpfInsn[]) => {
    const p = [...get, ...body, R0_0, EXIT];
    p[6] = I(0x15, 0, 0, p.length - 2 - 7, 0);
    return p;
  };
  const ok = nullExit([I(0x85, 0, 0, 0, 93), I(0xbf, 1, 6), I(0x85, 0, 0, 0, 94)]);
  assertEquals(load(ok, { map: lock, progType: BPF_PROG_TYPE_SYSCALL }).errno, 0);
  rejects(
    nullExit([I(0x85, 0, 0, 0, 93), I(0x85, 0, 0, 0, 5), I(0xbf, 1, 6), I(0x85, 0, 0, 0, 94)]),
    EINVAL,
    "function calls are not allowed while holding a lock",
    "10: (85) call bpf_ktime_get_ns#5",
    { map: lock, progType: BPF_PROG_TYPE_SYSCALL },
  );
  rejects(
    nullExit([I(0x85, 0, 0, 0, 93)]),
    EINVAL,
    "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region",
    null,
    {
      map: lock,
      progType: BPF_PROG_TYPE_SYSCALL,
    },
  );
  rejects(nullExit([I(0x85, 0, 0, 0, 94)]), EINVAL, "bpf_spin_unlock without taking a lock", null, {
    map: lock,
    progType: BPF_PROG_TYPE_SYSCALL,
  });
});

Deno.test("the context: what each program type may read and write", () => {
  // kprobe: pt_regs is read-only
  rejects([I(0x7a, 1, 0, 112, 1), R0_0, EXIT], EACCES, "invalid bpf_context access off=112 size=8", "0: (7a)", {
    progType: BPF_PROG_TYPE_KPROBE,
  });
  assertEquals(load([I(0x79, 2, 1, 112), R0_0, EXIT], { progType: BPF_PROG_TYPE_KPROBE }).errno, 0);
  rejects([I(0x79, 2, 1, 168), R0_0, EXIT], EACCES, "invalid bpf_context access off=168 size=8", null, {
    progType: BPF_PROG_TYPE_KPROBE,
  });
  // xdp: packet bytes need a data_end check
  const pkt = [I(0x61, 2, 1, 0), I(0x61, 3, 1, 4)];
  rejects(
    [...pkt, I(0x71, 0, 2, 0), EXIT],
    EACCES,
    "invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)",
    "2: (71) r0 = *(u8 *)(r2 +0)",
    {
      progType: BPF_PROG_TYPE_XDP,
    },
  );
  const checked = [...pkt, I(0xbf, 4, 2), I(0x07, 4, 0, 0, 1), I(0x2d, 4, 3, 2), I(0x71, 0, 2, 0), EXIT, R0_0, EXIT];
  assertEquals(load(checked, { progType: BPF_PROG_TYPE_XDP }).errno, 0);
});

Deno.test("maps: .rodata-style maps are read-only for programs; bad fds and pointer arithmetic", () => {
  const ro = { type: "array", key: 4, value: 8, entries: 1, flags: BPF_F_RDONLY_PROG };
  const store = [I(0x18, 1, 2, 0, -1), I(0, 0, 0, 0, 0), I(0x7a, 1, 0, 0, 5), R0_0, EXIT];
  rejects(store, EACCES, "write into map forbidden, value_size=8 off=0 size=8", null, { map: ro });
  rejects([I(0x18, 1, 1, 0, 77), I(0), R0_0, EXIT], EBADF, "fd 77 is not pointing to valid bpf_map", null);
  rejects(
    [...LD_MAP(1, -1), I(0x07, 1, 0, 0, 8), R0_0, EXIT],
    EACCES,
    "R1 pointer arithmetic on map_ptr prohibited",
    null,
    { map: HASH },
  );
  rejects(
    [I(0xbf, 1, 10), I(0x57, 1, 0, 0, 7), R0_0, EXIT],
    EACCES,
    "R1 bitwise operator &= on pointer prohibited",
    null,
  );
});
