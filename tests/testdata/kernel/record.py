#!/usr/bin/env python3
"""Records the goldens in this directory from the real kernel (run as root).

    cd tests/testdata/kernel && python3 record.py

Writes:
  memlock.json          `bpftool map create ... && bpftool -j map show` per case
                        (plus bpftool updates/deletes for the per-element cases)
  zero_seed_order.json  BPF_F_ZERO_SEED (flags 64) hash maps driven by bpftool
                        update/delete; `bpftool -j map dump` key order after each
                        phase, and `bpftool -j map getnext` probes
  errno.json            bpf(2) scenarios through bpfsys.py (ctypes): the return
                        value (fd -> "fd", or -errno) of every step

Pins live under /sys/fs/bpf/zz_conftest_* and are removed afterwards. The
Deno tests replay the same operations in bpfsim; they never need this machine.
"""
import json
import os
import platform
import subprocess

import bpfsys as b

PIN = "/sys/fs/bpf/zz_conftest_map"
NCPU = os.cpu_count()


def sh(args):
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def bt(*args):
    return sh(["bpftool", *[str(a) for a in args]])


def unpin():
    if os.path.exists(PIN):
        os.unlink(PIN)


def le(n, size):
    return [(n >> (8 * i)) & 0xFF for i in range(size)]


def bytes_words(bs):
    return [str(x) for x in bs]


def create_cmd(mtype, k, v, e, flags, name="zzconf"):
    return ["map", "create", PIN, "type", mtype, "key", k, "value", v, "entries", e, "name", name, "flags", flags]


def show_json():
    rc, out, err = bt("-j", "map", "show", "pinned", PIN)
    assert rc == 0, err
    return json.loads(out)


def show_plain():
    return bt("map", "show", "pinned", PIN)[1]


def elem_cmd(op, k, v, mtype, key, val=None, flag=None):
    cmd = ["map", op, "pinned", PIN]
    if k:
        cmd += ["key", *bytes_words(le(key, k))]
    if val is not None:
        cmd += ["value", *bytes_words(le(val, v))]
    if flag:
        cmd.append(flag)
    return cmd


# ---------------------------------------------------------------- memlock

def memlock_cases():
    cases = []
    hashes = [(4, 8, 1), (4, 8, 2), (4, 8, 3), (4, 8, 16), (4, 8, 1000), (4, 8, 1024), (4, 8, 65536),
              (1, 1, 7), (3, 5, 100), (8, 16, 33), (16, 24, 4096), (64, 256, 10), (7, 4096, 5), (513, 3, 9)]
    for t in ("hash", "percpu_hash"):
        for (k, v, e) in hashes:
            for f in (0, 1):
                cases.append((t, k, v, e, f))
        cases.append((t, 4, 32768 if t == "percpu_hash" else 65536, 4, 0))
    for (v, e) in [(1, 1), (4, 1), (8, 2), (12, 3), (100, 1000), (4096, 7), (8, 65536), (3, 12345)]:
        cases.append(("array", 4, v, e, 0))
        cases.append(("array", 4, v, e, 1024))
        cases.append(("percpu_array", 4, v, e, 0))
    for t in ("queue", "stack"):
        for (v, e) in [(1, 1), (4, 2), (8, 10), (100, 1000), (4096, 3), (3, 65536)]:
            cases.append((t, 0, v, e, 0))
    out = []
    for (t, k, v, e, f) in cases:
        unpin()
        cmd = create_cmd(t, k, v, e, f)
        rc, _, err = bt(*cmd)
        assert rc == 0, (cmd, err)
        j = show_json()
        out.append({
            "cmd": "bpftool " + " ".join(str(x) for x in cmd),
            "show": show_plain(),
            "type": t, "key": k, "value": v, "entries": e, "flags": f,
            "memlock": j["bytes_memlock"],
        })
        unpin()
    return out


def memlock_growth():
    """NO_PREALLOC hash maps: memlock after each bpftool update/delete."""
    out = []
    for (t, k, v) in [("hash", 4, 8), ("percpu_hash", 4, 8), ("hash", 16, 100), ("percpu_hash", 8, 20)]:
        unpin()
        cmd = create_cmd(t, k, v, 64, 1)
        assert bt(*cmd)[0] == 0
        steps = [{"cmd": "bpftool " + " ".join(str(x) for x in cmd), "memlock": show_json()["bytes_memlock"]}]
        ops = [("update", i) for i in range(10)] + [("update", 3), ("delete", 4), ("delete", 7)]
        ops += [("update", i) for i in range(10, 20)]
        for (op, key) in ops:
            c = elem_cmd(op, k, v, t, key, key if op == "update" else None)
            rc, _, err = bt(*c)
            assert rc == 0, (c, err)
            steps.append({"cmd": "bpftool " + " ".join(c), "op": op, "key": key,
                          "memlock": show_json()["bytes_memlock"]})
        out.append({"type": t, "key": k, "value": v, "entries": 64, "flags": 1, "steps": steps})
        unpin()
    return out


# ------------------------------------------------------- zero-seed order

def lcg(seed):
    x = seed
    while True:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        yield x


def order_cases():
    cases = []
    # (name, type, K, E, flags, phases); a phase is a list of [op, key] with
    # op in u (BPF_ANY), n (BPF_NOEXIST), x (BPF_EXIST), d (delete)
    cases.append(("k4 e16 insert 1..10", "hash", 4, 16, 64, [[["u", i] for i in range(1, 11)]]))
    cases.append(("k4 e8 fill, delete, re-insert, update", "hash", 4, 8, 64, [
        [["n", i] for i in range(8)],
        [["d", 3], ["d", 5]],
        [["n", 100], ["n", 3]],
        [["x", 0], ["u", 6]],
    ]))
    cases.append(("k3 e8", "hash", 3, 8, 64, [
        [["n", i] for i in range(1, 9)],
        [["d", 2], ["n", 0x10203]],
        [["x", 4], ["d", 8], ["u", 8]],
    ]))
    cases.append(("k8 e64 full then churn", "hash", 8, 64, 64, [
        [["n", i * 7 + 1] for i in range(64)],
        [["d", i * 7 + 1] for i in range(0, 64, 3)],
        [["n", 1000 + i] for i in range(0, 64, 3)],
        [["x", i * 7 + 1] for i in range(1, 64, 5)],
    ]))
    r = lcg(7)
    keys = [next(r) for _ in range(60)]
    cases.append(("k4 e64 pseudo-random keys", "hash", 4, 64, 64, [
        [["u", x] for x in keys],
        [["d", x] for x in keys[::4]],
        [["u", x] for x in keys[::8]],
    ]))
    r = lcg(11)
    keys3 = [next(r) & 0xFFFFFF for _ in range(16)]
    cases.append(("k3 e16 pseudo-random keys", "hash", 3, 16, 64, [
        [["u", x] for x in keys3],
        [["d", keys3[5]], ["u", keys3[0]], ["u", 0xABCDEF]],
    ]))
    r = lcg(13)
    keys8 = [(next(r) << 31) | next(r) for _ in range(12)]
    cases.append(("k8 e16 pseudo-random keys", "hash", 8, 16, 64, [
        [["u", x] for x in keys8],
        [["x", keys8[3]], ["d", keys8[7]]],
    ]))
    cases.append(("k3 e64", "hash", 3, 64, 64, [[["u", i * 0x10101] for i in range(40)]]))
    cases.append(("k8 e8", "hash", 8, 8, 64, [[["u", 1 << (8 * i)] for i in range(8)], [["d", 1 << 16]]]))
    cases.append(("k4 e8 no_prealloc (flags 65), same ops as k4 e8", "hash", 4, 8, 65, cases[1][5]))
    cases.append(("percpu_hash k4 e16", "percpu_hash", 4, 16, 64, [[["u", i] for i in range(1, 11)], [["d", 4], ["u", 2]]]))
    cases.append(("percpu_hash k8 e64 no_prealloc", "percpu_hash", 8, 64, 65, cases[3][5]))

    out = []
    for (name, t, k, e, f, phases) in cases:
        unpin()
        cmd = create_cmd(t, k, 8, e, f)
        assert bt(*cmd)[0] == 0
        res_phases = []
        for ph in phases:
            results = []
            for (op, key) in ph:
                if op == "d":
                    c = elem_cmd("delete", k, 8, t, key)
                else:
                    flag = {"u": "any", "n": "noexist", "x": "exist"}[op]
                    c = elem_cmd("update", k, 8, t, key, key & 0xFFFFFFFF, flag)
                rc, _, _ = bt(*c)
                results.append(rc)
            rc, out_j, _ = bt("-j", "map", "dump", "pinned", PIN)
            order = [[int(x, 16) for x in el["key"]] for el in json.loads(out_j)]
            # keys as little-endian byte lists (some 8-byte keys exceed 2^53)
            res_phases.append({"ops": [[op, le(key, k)] for (op, key) in ph], "rc": results, "order": order})
        # getnext probes on the final state
        probes = []
        final = res_phases[-1]["order"]
        absent = [0xEE] * k
        for frm in [None, absent] + ([final[-1]] if final else []) + ([final[0]] if final else []):
            c = ["-j", "map", "getnext", "pinned", PIN]
            if frm is not None:
                c += ["key", *bytes_words(frm)]
            rc, o, _ = bt(*c)
            j = json.loads(o)
            probes.append({"from": frm, "rc": rc, "next": None if "error" in j else [int(x, 16) for x in j["next_key"]]})
        out.append({"name": name, "type": t, "key": k, "value": 8, "entries": e, "flags": f,
                    "create": "bpftool " + " ".join(str(x) for x in cmd), "phases": res_phases, "getnext": probes})
        unpin()
    # array order and getnext edges
    unpin()
    assert bt(*create_cmd("array", 4, 4, 5, 0))[0] == 0
    rc, o, _ = bt("-j", "map", "dump", "pinned", PIN)
    arr = {"create": "bpftool " + " ".join(str(x) for x in create_cmd("array", 4, 4, 5, 0)),
           "order": [[int(x, 16) for x in el["key"]] for el in json.loads(o)], "getnext": []}
    for frm in [None, [0, 0, 0, 0], [3, 0, 0, 0], [4, 0, 0, 0], [5, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF]]:
        c = ["-j", "map", "getnext", "pinned", PIN] + (["key", *bytes_words(frm)] if frm else [])
        rc, o, _ = bt(*c)
        j = json.loads(o)
        arr["getnext"].append({"from": frm, "rc": rc, "next": None if "error" in j else [int(x, 16) for x in j["next_key"]]})
    unpin()
    return out, arr


# ----------------------------------------------------------------- errno

def hx(bs):
    return bytes(bs).hex()


class Scenario:
    """Runs steps against the real kernel and records each result."""

    def __init__(self, name):
        self.name = name
        self.steps = []
        self.maps = {}
        self.fds = []

    def create(self, as_, mtype, k, v, e, flags=0, name=""):
        r = b.create(mtype, k, v, e, flags, name.encode())
        step = {"op": "create", "as": as_, "type": mtype, "key": k, "value": v, "entries": e, "flags": flags,
                "name": name, "r": "fd" if r >= 0 else r}
        if r >= 0:
            self.maps[as_] = (r, mtype, k, v)
            self.fds.append(r)
            step["id"] = b.info(r)["id"]
            step["memlock"] = int(b.fdinfo(r)["memlock"])
        self.steps.append(step)
        return r

    def _fd(self, m):
        return self.maps[m][0] if isinstance(m, str) else m

    def vsize(self, m):
        _, t, _, v = self.maps[m]
        return ((v + 7) // 8 * 8) * NCPU if t.startswith("percpu") else v

    def update(self, m, key, val, flags=0):
        r = b.update(self._fd(m), bytes(key) if key is not None else None, bytes(val), flags)
        self.steps.append({"op": "update", "map": m, "k": None if key is None else hx(key), "v": hx(val),
                           "flags": flags, "r": r})

    def lookup(self, m, key, flags=0):
        n = self.vsize(m) if isinstance(m, str) else 8
        r, val = b.lookup(self._fd(m), bytes(key) if key is not None else None, n, flags)
        self.steps.append({"op": "lookup", "map": m, "k": None if key is None else hx(key), "flags": flags, "r": r,
                           "out": hx(val) if r == 0 else None})

    def lad(self, m, key, flags=0):
        n = self.vsize(m) if isinstance(m, str) else 8
        r, val = b.lookup_and_delete(self._fd(m), bytes(key) if key is not None else None, n, flags)
        self.steps.append({"op": "lookup_and_delete", "map": m, "k": None if key is None else hx(key),
                           "flags": flags, "r": r, "out": hx(val) if r == 0 else None})

    def delete(self, m, key):
        r = b.delete(self._fd(m), bytes(key) if key is not None else None)
        self.steps.append({"op": "delete", "map": m, "k": None if key is None else hx(key), "r": r})

    def getnext(self, m, key):
        ks = self.maps[m][2] if isinstance(m, str) else 4
        r, nk = b.get_next_key(self._fd(m), bytes(key) if key is not None else None, ks)
        self.steps.append({"op": "getnext", "map": m, "k": None if key is None else hx(key), "r": r,
                           "out": hx(nk) if r == 0 else None})

    def freeze(self, m):
        self.steps.append({"op": "freeze", "map": m, "r": b.freeze(self._fd(m))})

    def done(self):
        for fd in self.fds:
            b.close(fd)
        return {"name": self.name, "steps": self.steps}


def K(n, size=4):
    return le(n, size)


def errno_scenarios():
    out = []
    z8 = [0] * 8

    # creation checks
    s = Scenario("create: hash/percpu_hash checks")
    for t in ("hash", "percpu_hash"):
        s.create("x", t, 0, 8, 4)
        s.create("x", t, 4, 0, 4)
        s.create("x", t, 4, 8, 0)
        s.create("x", t, 4, 8, 4, 2)            # NO_COMMON_LRU on a non-LRU map
        s.create("x", t, 4, 8, 4, 0x80000000)   # unknown flag
        s.create("x", t, 4, 8, 4, 0x40000)
        s.create("x", t, 4, 8, 4, 8 | 16)       # RDONLY|WRONLY
        s.create("x", t, 4, 8, 4, 0x80 | 0x100)  # RDONLY_PROG|WRONLY_PROG
        s.create("x", t, 4, 8, 4, 1024)         # MMAPABLE on a hash
        s.create("x", t, 0x400000, 8, 4, 1)
        s.create("x", t, 4, 0x40000000, 4, 1)
        s.create("x", t, 513, 8, 4)
    s.create("x", "hash", 4, 4194251, 1, 1)     # key+value = KMALLOC_MAX_SIZE - 48 - 1
    s.create("x", "hash", 4, 4194252, 1, 1)     # = KMALLOC_MAX_SIZE - 48
    s.create("x", "percpu_hash", 4, 32768, 1, 1)
    s.create("x", "percpu_hash", 4, 32761, 1, 1)  # round_up -> 32768
    s.create("x", "percpu_hash", 4, 32769, 1, 1)
    for e in (0x80000001, 0x80000000, 0xFFFFFFFF, 0x8000001):  # > 2^31, n_buckets * 16 > U32_MAX
        s.create("x", "hash", 4, 8, e, 1)
    s.create("x", "percpu_hash", 4, 8, 0x80000001, 1)
    s.create("x", "hash", 4, 8, 0x7FFFFFFF, 0)
    s.create("x", "hash", 4, 8, 1, 4, "")       # NUMA_NODE with node 0
    s.create("x", "percpu_hash", 4, 8, 1, 4)    # NUMA_NODE on percpu
    out.append(s.done())

    s = Scenario("create: array/percpu_array checks")
    for t in ("array", "percpu_array"):
        s.create("x", t, 0, 8, 4)
        s.create("x", t, 2, 8, 4)
        s.create("x", t, 8, 8, 4)
        s.create("x", t, 4, 0, 4)
        s.create("x", t, 4, 8, 0)
        s.create("x", t, 4, 8, 4, 1)            # NO_PREALLOC
        s.create("x", t, 4, 8, 4, 64)           # ZERO_SEED
        s.create("x", t, 4, 8, 4, 1024)         # MMAPABLE
        s.create("x", t, 4, 8, 4, 0x1000)       # INNER_MAP
        s.create("x", t, 4, 8, 4, 0x800)        # PRESERVE_ELEMS
        s.create("x", t, 4, 8, 4, 4)            # NUMA_NODE
        s.create("x", t, 4, 0x80000000, 1)
    s.create("x", "percpu_array", 4, 32769, 1)
    s.create("x", "percpu_array", 4, 32768, 1)
    out.append(s.done())

    s = Scenario("create: queue/stack checks")
    for t in ("queue", "stack"):
        s.create("x", t, 4, 4, 4)
        s.create("x", t, 0, 0, 4)
        s.create("x", t, 0, 4, 0)
        s.create("x", t, 0, 4, 4, 1)
        s.create("x", t, 0, 4, 4, 64)
        s.create("x", t, 0, 4, 4, 1024)
        s.create("x", t, 0, 4, 4, 8 | 16)
        s.create("x", t, 0, 4194305, 1)
        s.create("x", t, 0, 4, 4, 4)
    out.append(s.done())

    s = Scenario("create: names, types, ids")
    s.create("a", "hash", 4, 4, 1, 0, "ok_name.1")
    s.create("x", "hash", 4, 4, 1, 0, "bad-name")
    s.create("x", "hash", 4, 4, 1, 0, "bad name")
    s.create("x", "hash", 4, 4, 1, 0, "a" * 16)
    s.create("b", "hash", 4, 4, 1, 0, "a" * 15)
    s.create("x", 0, 4, 4, 1)
    s.create("x", 10000, 4, 4, 1)
    s.create("x", "hash", 0, 4, 1)
    s.create("c", "array", 4, 4, 1)
    out.append(s.done())

    # test_hashmap (flags 0 and NO_PREALLOC)
    for f in (0, 1):
        s = Scenario(f"test_hashmap flags {f}")
        s.create("m", "hash", 8, 8, 2, f)
        s.update("m", K(1, 8), K(1234, 8), 0)
        s.update("m", K(1, 8), z8, 1)
        s.update("m", K(1, 8), z8, -1)
        s.update("m", K(1, 8), z8, 3)
        s.update("m", K(1, 8), z8, 4)
        s.lookup("m", K(1, 8))
        s.update("m", K(2, 8), K(1234, 8), 0)
        s.lad("m", K(2, 8))
        s.lad("m", K(2, 8))
        s.lad("m", K(1, 8), 1)
        s.lad("m", K(1, 8), 4)
        s.lad("m", None)
        s.lookup("m", K(2, 8))
        s.update("m", K(2, 8), z8, 2)
        s.update("m", K(2, 8), z8, 1)
        s.update("m", K(0, 8), z8, 1)
        s.update("m", K(0, 8), z8, 0)
        s.update("m", K(0, 8), z8, 2)
        s.update("m", K(1, 8), z8, 2)
        s.update("m", K(2, 8), z8, 0)
        s.update("m", K(3, 8), z8, 1)
        s.delete("m", K(0, 8))
        s.getnext("m", None)
        s.getnext("m", K(0, 8))
        s.delete("m", K(1, 8))
        s.delete("m", K(2, 8))
        s.delete("m", K(2, 8))
        s.getnext("m", None)
        s.getnext("m", K(0, 8))
        s.lookup("m", K(1, 8), 1)
        s.lookup("m", K(1, 8), 4)
        out.append(s.done())

    s = Scenario("percpu_hash flags and values")
    vals = sum([K(i + 100, 8) for i in range(NCPU)], [])
    s.create("m", "percpu_hash", 8, 8, 2, 0)
    s.update("m", K(1, 8), vals, 0)
    s.lad("m", K(1, 8))
    s.update("m", K(1, 8), vals, 1)
    s.update("m", K(1, 8), vals, 1)
    s.update("m", K(1, 8), vals, -1)
    s.update("m", K(1, 8), vals, 4)
    s.lookup("m", K(1, 8))
    s.update("m", K(2, 8), vals, 2)
    s.update("m", K(2, 8), vals, 1)
    s.update("m", K(0, 8), vals, 1)
    s.update("m", K(1, 8), vals, 2)
    s.create("p", "percpu_hash", 4, 3, 4, 0)
    s.update("p", K(7), [1, 2, 3, 4, 5, 6, 7, 8] * NCPU, 0)
    s.lookup("p", K(7))
    out.append(s.done())

    s = Scenario("array element ops")
    s.create("a", "array", 4, 8, 2)
    s.update("a", K(1), K(1234, 8), 0)
    s.update("a", K(1), z8, 1)
    s.update("a", K(1), z8, 2)
    s.update("a", K(1), z8, 3)
    s.update("a", K(1), z8, -1)
    s.update("a", K(1), z8, 4)
    s.lookup("a", K(1))
    s.lookup("a", K(0))
    s.update("a", K(2), z8, 2)
    s.update("a", K(2), z8, 0)
    s.lookup("a", K(2))
    s.lookup("a", K(0xFFFFFFFF))
    s.getnext("a", None)
    s.getnext("a", K(2))
    s.getnext("a", K(0))
    s.getnext("a", K(1))
    s.delete("a", K(1))
    s.delete("a", K(5))
    s.lad("a", K(1))
    s.create("p", "percpu_array", 4, 8, 2)
    s.update("p", K(1), vals, 0)
    s.update("p", K(1), vals, 1)
    s.update("p", K(1), vals, -1)
    s.update("p", K(2), vals, 0)
    s.lookup("p", K(1))
    s.lookup("p", K(0))
    s.lookup("p", K(2))
    s.delete("p", K(0))
    s.lad("p", K(0))
    out.append(s.done())

    for t in ("queue", "stack"):
        s = Scenario(f"{t} element ops")
        s.create("q", t, 0, 4, 3)
        s.lookup("q", None)
        s.lad("q", None)
        for i in range(1, 4):
            s.update("q", None, K(i), 0)
        s.update("q", None, K(9), 0)
        s.update("q", None, K(9), 1)
        s.update("q", None, K(9), 3)
        s.update("q", None, K(9), -1)
        s.update("q", None, K(4), 2)
        s.update("q", K(0), K(5), 0)
        s.lookup("q", None)
        s.lookup("q", K(0))
        s.lad("q", None, 1)
        s.lad("q", None, 4)
        s.lad("q", None)
        s.lad("q", None)
        s.delete("q", None)
        s.delete("q", K(0))
        s.getnext("q", None)
        s.lad("q", None)
        s.lad("q", None)
        s.lookup("q", None)
        s.update("q", None, K(6), 2)
        s.lookup("q", None)
        out.append(s.done())

    s = Scenario("rdonly / wronly fds")
    s.create("r", "hash", 4, 4, 8, 8)
    s.update("r", K(1), K(1234), 0)
    s.lookup("r", K(1))
    s.getnext("r", K(1))
    s.delete("r", K(1))
    s.lad("r", K(1))
    s.freeze("r")
    s.create("w", "hash", 4, 4, 8, 16)
    s.update("w", K(1), K(1234), 0)
    s.lookup("w", K(1))
    s.getnext("w", K(1))
    s.lad("w", K(1))
    s.delete("w", K(1))
    s.freeze("w")
    for t in ("queue", "stack"):
        s.create("wq", t, 0, 4, 8, 16)
        s.update("wq", None, K(1234), 0)
        s.lookup("wq", None)
        s.lad("wq", None)
        s.create("rq", t, 0, 4, 8, 8)
        s.update("rq", None, K(1234), 0)
        s.lookup("rq", None)
        s.lad("rq", None)
    s.create("ra", "array", 4, 4, 8, 8)
    s.update("ra", K(1), K(1), 0)
    s.lookup("ra", K(1))
    s.create("wa", "array", 4, 4, 8, 16)
    s.update("wa", K(1), K(1), 0)
    s.lookup("wa", K(1))
    s.getnext("wa", None)
    out.append(s.done())

    s = Scenario("freeze")
    s.create("h", "hash", 4, 4, 8)
    s.update("h", K(1), K(1), 0)
    s.freeze("h")
    s.freeze("h")
    s.update("h", K(1), K(2), 0)
    s.update("h", K(2), K(2), 0)
    s.delete("h", K(1))
    s.lad("h", K(1))
    s.lookup("h", K(1))
    s.getnext("h", None)
    s.create("q", "queue", 0, 4, 4)
    s.update("q", None, K(1), 0)
    s.freeze("q")
    s.update("q", None, K(1), 0)
    s.lad("q", None)
    s.lookup("q", None)
    s.create("a", "array", 4, 4, 4)
    s.freeze("a")
    s.update("a", K(0), K(1), 0)
    s.lookup("a", K(0))
    out.append(s.done())

    s = Scenario("bad fds")
    s.update(9999, K(1), K(1), 0)
    s.lookup(9999, K(1))
    s.delete(9999, K(1))
    s.getnext(9999, None)
    s.lad(9999, K(1))
    s.steps.append({"op": "freeze", "map": 9999, "r": b.freeze(9999)})
    s.update(-1, K(1), K(1), 0)
    s.update(0, K(1), K(1), 0)
    s.lookup(0, K(1), 3)
    out.append(s.done())
    return out


def main():
    assert os.geteuid() == 0
    unpin()
    env = {"uname": platform.release(), "ncpu": NCPU, "bpftool": bt("version")[1].splitlines()[0]}
    ml = memlock_cases()
    growth = memlock_growth()
    with open("memlock.json", "w") as f:
        json.dump({"_comment": __doc__.strip().splitlines()[0] + " See record.py (memlock_cases, memlock_growth).",
                   "env": env, "cases": ml, "growth": growth}, f, indent=1)
    orders, arr = order_cases()
    with open("zero_seed_order.json", "w") as f:
        json.dump({"_comment": "Recorded by record.py (order_cases): bpftool map create ... flags 64 (BPF_F_ZERO_SEED), "
                               "then per phase `bpftool map update|delete pinned P key <LE bytes> [value <LE u64 of the key's low 32 bits>] "
                               "any|noexist|exist` and `bpftool -j map dump pinned P`; `rc` = bpftool exit codes; "
                               "`getnext` = `bpftool -j map getnext pinned P [key ...]` on the final state.",
                   "env": env, "cases": orders, "array": arr}, f, indent=1)
    errs = errno_scenarios()
    with open("errno.json", "w") as f:
        json.dump({"_comment": "Recorded by record.py (errno_scenarios) through raw bpf(2) (bpfsys.py): r is 'fd' for a "
                               "successful create, else the return value (0 or -errno); out = bytes copied out.",
                   "env": env, "scenarios": errs}, f, indent=1)
    print("ok", len(ml), len(growth), len(orders), len(errs))


if __name__ == "__main__":
    main()
