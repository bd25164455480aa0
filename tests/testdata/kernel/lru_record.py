#!/usr/bin/env python3
"""Records the LRU goldens (lru_ops.json, lru_memlock.json) from the real kernel (run as root).

    cd tests/testdata/kernel && python3 lru_record.py

Each op runs through bpf(2) (bpfsys.py) with the process pinned to the op's CPU
(sched_setaffinity, like `taskset -c CPU`). Program-side ops load a tiny
socket-filter program (raw instructions, the key as an immediate) that calls
bpf_map_lookup_elem / bpf_map_update_elem on the map, and run it once with
BPF_PROG_TEST_RUN on that CPU. Keys are u32 (or u64 for key size 8), values are
the key number, little-endian, repeated per CPU for per-CPU maps.

ops: ["u", cpu, key, "any"|"noexist"|"exist"]  syscall update
     ["d", cpu, key]                           syscall delete
     ["l", cpu, key]                           syscall lookup (rc)
     ["ld", cpu, key]                          syscall lookup_and_delete (rc)
     ["p", cpu, key]                           program lookup (rc: 0 found, -2 not)
     ["pu", cpu, key, flags]                   program update (rc of the helper)
     ["dump"]                                  sorted keys (get_next_key walk)
The Deno tests (tests/bpf/lru_golden.test.ts) replay the same ops on a 2-CPU
bpfsim kernel and never need this machine.
"""
import ctypes
import json
import os
import platform
import struct
import subprocess

import bpfsys as b

NCPU = os.cpu_count()
TYPES = {"lru_hash": 9, "lru_percpu_hash": 10}
FLAGS = {"any": 0, "noexist": 1, "exist": 2}
PROG_LOAD, PROG_TEST_RUN = 5, 10


def insn(code, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", code, dst | (src << 4), off, imm)


def prog(map_fd, key, key_size, update=None):
    """r1 = map, r2 = &key on the stack; lookup (or update with r3 = &value, r4 = flags)."""
    code = b""
    # *(u32 *)(fp - 8) = key low, *(u32 *)(fp - 4) = key high (for u64 keys)
    code += insn(0x62, 10, 0, -16, key & 0xFFFFFFFF)
    code += insn(0x62, 10, 0, -12, (key >> 32) & 0xFFFFFFFF if key_size > 4 else 0)
    code += insn(0xbf, 2, 10)  # r2 = fp
    code += insn(0x07, 2, 0, 0, -16)  # r2 -= 16
    code += insn(0x18, 1, 1, 0, map_fd) + insn(0, 0, 0, 0, 0)  # r1 = map (BPF_PSEUDO_MAP_FD)
    if update is None:
        code += insn(0x85, 0, 0, 0, 1)  # call bpf_map_lookup_elem
        code += insn(0x15, 0, 0, 2, 0)  # if r0 == 0 goto +2
        code += insn(0xb7, 0, 0, 0, 0)  # r0 = 0
        code += insn(0x95)
        code += insn(0xb7, 0, 0, 0, 1)  # r0 = 1 (not found)
        code += insn(0x95)
    else:
        value_words, flags = update
        for i, w in enumerate(value_words):
            code += insn(0x62, 10, 0, -64 + 4 * i, w)
        code += insn(0xbf, 3, 10)
        code += insn(0x07, 3, 0, 0, -64)  # r3 = fp - 64
        code += insn(0xb7, 4, 0, 0, flags)
        code += insn(0x85, 0, 0, 0, 2)  # call bpf_map_update_elem
        code += insn(0x95)
    return code


def prog_run(map_fd, key, key_size, update=None):
    code = prog(map_fd, key, key_size, update)
    ibuf = b.Buf(code)
    lic = b.Buf(b"GPL\0")
    attr = struct.pack("<IIQQIIQII16s", 1, len(code) // 8, ibuf.addr, lic.addr, 0, 0, 0, 0, 0, b"zzlru")
    pfd = b.sys_bpf(PROG_LOAD, attr)
    if pfd < 0:
        raise OSError(-pfd, "prog load")
    data = b.Buf(bytes(64))
    attr = struct.pack("<IIIIQQII", pfd, 0, 64, 0, data.addr, 0, 1, 0)
    tbuf = ctypes.create_string_buffer(attr, 128)
    r = b.libc.syscall(b.NR_BPF, PROG_TEST_RUN, tbuf, 128)
    os.close(pfd)
    if r < 0:
        raise OSError(ctypes.get_errno(), "test run")
    retval = struct.unpack("<I", tbuf.raw[4:8])[0]
    return retval


def le(n, size):
    return bytes((n >> (8 * i)) & 0xFF for i in range(size))


def pin(cpu):
    os.sched_setaffinity(0, {cpu})


def keys(fd, ksize):
    out, cur = [], None
    while True:
        r, nk = b.get_next_key(fd, cur, ksize)
        if r != 0:
            break
        out.append(int.from_bytes(nk, "little"))
        cur = nk
    return sorted(out)


def run_case(c):
    pin(0)
    t = TYPES[c["type"]]
    ks, vs = c["key"], c["value"]
    fd = b.create(t, ks, vs, c["entries"], c.get("flags", 0), b"zzlru")
    if fd < 0:
        return dict(c, create=fd)
    inf = b.info(fd)
    memlock = int(b.fdinfo(fd)["memlock"])
    percpu = "percpu" in c["type"]
    vsys = ((vs + 7) // 8 * 8) * NCPU if percpu else vs
    results = []
    for op in c.get("ops", []):
        if op[0] == "dump":
            results.append(keys(fd, ks))
            continue
        kind, cpu, key = op[0], op[1], op[2]
        pin(cpu)
        if kind == "u":
            if percpu:
                val = b"".join(le(key, vs) + bytes((-vs) % 8) for _ in range(NCPU))
            else:
                val = le(key, vs)
            results.append(b.update(fd, le(key, ks), val, FLAGS[op[3]] if len(op) > 3 else 0))
        elif kind == "d":
            results.append(b.delete(fd, le(key, ks)))
        elif kind == "l":
            results.append(b.lookup(fd, le(key, ks), vsys)[0])
        elif kind == "ld":
            results.append(b.lookup_and_delete(fd, le(key, ks), vsys)[0])
        elif kind == "p":
            results.append(0 if prog_run(fd, key, ks) == 0 else -2)
        elif kind == "pu":
            words = [w for w in struct.unpack("<%dI" % ((vs + 3) // 4), le(key, (vs + 3) // 4 * 4))]
            r = prog_run(fd, key, ks, (words, op[3]))
            results.append(r - (1 << 32) if r >= 1 << 31 else r)
        else:
            raise ValueError(op)
    pin(0)
    os.close(fd)
    out = dict(c, max_entries=inf["entries"], memlock=memlock)
    if "ops" in c:
        out["results"] = results
    return out


def U(cpu, k, f="any"):
    return ["u", cpu, k, f]


D = ["dump"]


def ops_cases():
    cs = []

    def add(name, typ, entries, ops, flags=0, key=4, value=4):
        cs.append({"name": name, "type": typ, "key": key, "value": value, "entries": entries, "flags": flags,
                   "ops": ops})

    fill4 = [U(0, i) for i in range(1, 5)]
    add("sys-lookup-no-ref", "lru_hash", 4, fill4 + [["l", 0, 1], ["l", 0, 2], U(0, 5), D, ["l", 0, 3], U(0, 6), D])
    add("full-update-existing", "lru_hash", 4, fill4 + [D, U(0, 3), D, U(0, 4), D])
    add("full-exist-fails-evicts", "lru_hash", 4, fill4 + [U(0, 9, "exist"), D, U(0, 4, "noexist"), D])
    add("full-noexist-new", "lru_hash", 4, fill4 + [U(0, 5, "noexist"), D])
    add("not-full-failures-and-delete", "lru_hash", 4,
        [U(0, 1), U(0, 2), U(0, 9, "exist"), U(0, 1, "noexist"), D, ["d", 0, 1], ["d", 0, 1], U(0, 3), U(0, 4),
         U(0, 5), D, U(0, 6), D])
    add("batch-16", "lru_hash", 16,
        [U(0, i) for i in range(1, 17)] + [D, U(0, 17), D, U(0, 18), U(0, 19), U(0, 20), D, U(0, 21), D])
    add("batch-64", "lru_hash", 64, [U(0, i) for i in range(1, 67)] + [D])
    alt = []
    for i in range(1, 25):
        alt.append(U((i + 1) % 2, i))
        if i >= 16:
            alt.append(D)
    add("alternating-16", "lru_hash", 16, alt)
    add("percpu-lru-3", "lru_hash", 3, sum([[U(0, i), D] for i in range(1, 6)], []), flags=2)
    add("percpu-lru-8-alternating", "lru_hash", 8, sum([[U((i + 1) % 2, i), D] for i in range(1, 13)], []), flags=2)
    add("lru-percpu-hash-update-existing", "lru_percpu_hash", 4,
        fill4 + [D, U(0, 3), D, U(0, 4, "exist"), D, U(0, 9, "exist"), D, U(0, 2, "noexist"), D])
    add("lru-percpu-hash-nocommon", "lru_percpu_hash", 5, sum([[U(0, i), D] for i in range(1, 6)], []), flags=2)
    add("lru-percpu-hash-full-exist", "lru_percpu_hash", 4,
        fill4 + [U(0, 4, "exist"), D, U(0, 9, "exist"), D, U(0, 2, "noexist"), D, U(0, 7), D])
    add("refill-free-plus-shrink", "lru_hash", 16,
        [U(0, i) for i in range(1, 18)] + [D, ["d", 0, 10], U(0, 18), U(0, 19), U(0, 20), D, U(0, 21), D])
    add("cross-cpu-delete-pending", "lru_hash", 4,
        fill4 + [["d", 1, 4], D, U(1, 5), D, U(0, 6), D, U(0, 7), D])
    add("cpu1-only", "lru_hash", 8, [U(1, i) for i in range(1, 10)] + [D, U(0, 10), D, U(0, 11), D, U(1, 12), D])
    add("key-8-value-16", "lru_hash", 12, [U(0, i) for i in range(1, 14)] + [D, U(1, 14), D], key=8, value=16)
    # program-side lookups set the ref bit (second chance), syscall ones do not
    add("prog-lookup-protects", "lru_hash", 4, fill4 + [["p", 0, 1], U(0, 5), D, ["p", 0, 9], U(0, 6), D])
    add("prog-lookup-other-cpu", "lru_hash", 4, fill4 + [["p", 1, 1], ["p", 1, 2], U(0, 5), D, U(0, 6), D])
    add("prog-lookup-pending-active", "lru_hash", 16,
        [U(0, i) for i in range(1, 17)] + [["p", 0, 1], ["p", 0, 2], U(0, 17), D, U(0, 18), U(0, 19), U(0, 20),
                                          U(0, 21), D, U(0, 22), U(0, 23), U(0, 24), U(0, 25), D])
    add("prog-lookup-all-force-shrink", "lru_hash", 4,
        fill4 + [["p", 0, 1], ["p", 0, 2], ["p", 0, 3], ["p", 0, 4], U(0, 5), D, U(0, 6), D])
    add("prog-lookup-percpu-lru", "lru_hash", 8,
        [U(0, i) for i in range(1, 5)] + [["p", 0, 1], U(0, 5), D, ["p", 0, 2], ["p", 0, 5], U(0, 6), D, U(0, 7),
                                          D], flags=2)
    add("prog-update", "lru_hash", 4,
        [["pu", 0, 1, 0], ["pu", 0, 2, 0], ["pu", 0, 3, 0], ["pu", 0, 4, 0], ["pu", 0, 2, 1], D, ["pu", 0, 9, 2], D,
         ["pu", 1, 3, 0], D, ["pu", 0, 9, 4]])
    add("prog-lookup-lru-percpu-hash", "lru_percpu_hash", 4,
        fill4 + [["p", 0, 1], U(0, 5), D, ["p", 1, 3], U(0, 6), D])
    add("update-oldest-evicts-itself", "lru_hash", 4,
        fill4 + [U(0, 5), U(0, 6), U(0, 4), D, U(0, 7), D, U(0, 5, "exist"), D, U(0, 6), D])
    add("replace-sets-ref", "lru_hash", 16,
        [U(0, i) for i in range(1, 17)] + [U(0, 2), D, U(0, 5), U(0, 17), U(0, 18), U(0, 19), D, U(0, 20), U(0, 21),
                                          U(0, 22), U(0, 23), D])
    # one node, two CPUs: a CPU that finds nothing local or global steals the other CPU's pending node
    add("steal-single-node", "lru_hash", 1,
        [U(1, 1), U(0, 2), D, U(0, 3), D, U(1, 4), D, ["d", 0, 4], U(1, 5), D, U(0, 6), D, ["p", 1, 6], U(1, 7), D])
    add("steal-single-node-percpu-hash", "lru_percpu_hash", 1,
        [U(1, 1), U(0, 2), D, U(0, 2, "exist"), U(1, 2, "noexist"), D, U(1, 3), D])
    add("lookup-and-delete", "lru_hash", 4,
        fill4 + [["ld", 0, 2], ["ld", 0, 2], D, U(0, 5), D, U(0, 6), D])
    add("lookup-and-delete-percpu", "lru_percpu_hash", 4,
        fill4 + [["ld", 1, 4], D, U(0, 5), D, U(1, 6), D])
    return cs


def random_cases():
    """Seeded random op sequences on both CPUs (an LCG, so the file is reproducible)."""
    cs = []
    specs = [
        ("random-lru-32", "lru_hash", 32, 0, 48, 1),
        ("random-lru-300", "lru_hash", 300, 0, 420, 2),
        ("random-lru-nocommon-24", "lru_hash", 24, 2, 36, 3),
        ("random-lru-percpu-hash-16", "lru_percpu_hash", 16, 0, 24, 4),
        ("random-lru-percpu-hash-nocommon-10", "lru_percpu_hash", 10, 2, 16, 5),
        ("random-lru-6", "lru_hash", 6, 0, 10, 6),
    ]
    for name, typ, entries, flags, nkeys, seed in specs:
        x = seed * 2654435761 % (1 << 32)

        def rnd(n):
            nonlocal x
            x = (x * 1103515245 + 12345) % (1 << 31)
            return (x >> 8) % n

        ops = []
        for i in range(1, 601 if entries >= 300 else 301):
            cpu, key, r = rnd(2), 1 + rnd(nkeys), rnd(100)
            if r < 45:
                ops.append(U(cpu, key, ["any", "any", "noexist", "exist"][rnd(4)]))
            elif r < 55:
                ops.append(["d", cpu, key])
            elif r < 60:
                ops.append(["ld", cpu, key])
            elif r < 65:
                ops.append(["l", cpu, key])
            elif r < 90:
                ops.append(["p", cpu, key])
            else:
                ops.append(["pu", cpu, key, rnd(3)])
            if i % 10 == 0:
                ops.append(D)
        cs.append({"name": name, "type": typ, "key": 4, "value": 4, "entries": entries, "flags": flags, "ops": ops})
    return cs


def memlock_cases():
    cs = []
    for t in ["lru_hash", "lru_percpu_hash"]:
        for (k, v) in [(4, 4), (1, 1), (8, 13), (16, 100), (3, 4000)]:
            for e in [1, 2, 3, 5, 7, 16, 100, 1000, 4097]:
                for fl in [0, 2]:
                    if t == "lru_percpu_hash" and v > 1000 and e > 100:
                        continue
                    cs.append({"name": f"mem-{t}-k{k}-v{v}-e{e}-f{fl}", "type": t, "key": k, "value": v,
                               "entries": e, "flags": fl})
    return cs


def write(path, hdr, cases):
    """One case per line, so that diffs stay readable."""
    with open(path, "w") as f:
        f.write("{\n")
        for k, v in hdr.items():
            f.write(f" {json.dumps(k)}: {json.dumps(v)},\n")
        f.write(' "cases": [\n')
        f.write(",\n".join("  " + json.dumps(c) for c in cases))
        f.write("\n ]\n}\n")


def main():
    env = {"uname": platform.release(), "ncpu": NCPU,
           "bpftool": subprocess.run(["bpftool", "version"], capture_output=True, text=True).stdout.split("\n")[0]}
    hdr = {"_comment": "Recorded by lru_record.py (bpf(2) on the real kernel, CPU-pinned; see its docstring).",
           "env": env}
    write("lru_ops.json", hdr, [run_case(c) for c in ops_cases() + random_cases()])
    write("lru_memlock.json", hdr, [run_case(c) for c in memlock_cases()])

if __name__ == "__main__":
    main()
