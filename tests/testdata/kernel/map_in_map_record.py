#!/usr/bin/env python3
"""Records map_in_map.json from the real kernel (run as root).

    cd tests/testdata/kernel && python3 map_in_map_record.py

array_of_maps / hash_of_maps through bpf(2) (bpfsys.py + inner_map_fd):
  scenarios  every step's return value (fd -> "fd", or -errno). Lookups of an
             outer map return an inner map id; it is recorded as the name of the
             map that has that id ("out_map"). "close" drops our fd of a map,
             "get_by_id" opens (and closes again) a map by the id it had,
             "listed" walks BPF_MAP_GET_NEXT_ID for that id.
  memlock    fdinfo memlock of outer maps for many sizes, and of a
             BPF_F_NO_PREALLOC hash_of_maps as elements come and go.

No pins are used: every map dies when the script closes its fds. The Deno
tests replay the same steps in bpfsim and never need this machine.
"""
import ctypes
import json
import os
import platform
import struct
import subprocess

import bpfsys as b

NCPU = os.cpu_count()
TYPES = {"hash": 1, "array": 2, "percpu_hash": 5, "percpu_array": 6, "lru_hash": 9, "array_of_maps": 12,
         "hash_of_maps": 13, "queue": 22, "stack": 23, "ringbuf": 27, "user_ringbuf": 31}
STDIN = 0


def create(mtype, key, value, entries, flags=0, inner_fd=0):
    attr = struct.pack("<IIIIIII16s", TYPES[mtype], key, value, entries, flags, inner_fd, 0, b"")
    return b.sys_bpf(b.MAP_CREATE, attr)


def get_fd_by_id(mid):
    return b.sys_bpf(b.MAP_GET_FD_BY_ID, struct.pack("<II", mid, 0))


def next_id(start):
    buf = ctypes.create_string_buffer(struct.pack("<II", start, 0), 128)
    r = b.libc.syscall(b.NR_BPF, b.MAP_GET_NEXT_ID, buf, 128)
    if r < 0:
        return -ctypes.get_errno()
    return struct.unpack("<II", buf.raw[:8])[1]


def listed(mid):
    cur = 0
    while True:
        n = next_id(cur)
        if n < 0:
            return False
        if n == mid:
            return True
        cur = n


def le(n, size=4):
    return bytes((n >> (8 * i)) & 0xFF for i in range(size))


class Scenario:
    """Runs steps against the real kernel and records each result."""

    def __init__(self, name):
        self.name = name
        self.steps = []
        self.fd = {}
        self.id = {}

    def _inner_fd(self, inner):
        if inner is None:
            return STDIN
        if isinstance(inner, int):
            return inner
        return self.fd[inner]

    def create(self, as_, mtype, k, v, e, flags=0, inner=None):
        r = create(mtype, k, v, e, flags, self._inner_fd(inner) if mtype.endswith("_of_maps") else 0)
        step = {"op": "create", "as": as_, "type": mtype, "key": k, "value": v, "entries": e, "flags": flags,
                "inner": inner, "r": "fd" if r >= 0 else r}
        if r >= 0:
            if as_ in self.fd:
                b.close(self.fd[as_])
            self.fd[as_] = r
            self.id[as_] = b.info(r)["id"]
            step["memlock"] = int(b.fdinfo(r)["memlock"])
        self.steps.append(step)
        return r

    def update(self, m, key, inner, flags=0):
        """Outer update: the value is the fd of `inner` (a name) or a raw fd number."""
        fd = self._inner_fd(inner)
        r = b.update(self.fd[m], le(key), le(fd), flags)
        self.steps.append({"op": "update", "map": m, "k": key, "inner": inner, "flags": flags, "r": r})

    def lookup(self, m, key):
        r, out = b.lookup(self.fd[m], le(key), 4)
        step = {"op": "lookup", "map": m, "k": key, "r": r}
        if r == 0:
            mid = struct.unpack("<I", out)[0]
            names = [n for n, i in self.id.items() if i == mid]
            step["out_map"] = names[0] if names else None
        self.steps.append(step)

    def delete(self, m, key):
        self.steps.append({"op": "delete", "map": m, "k": key, "r": b.delete(self.fd[m], le(key))})

    def getnext(self, m, key):
        r, nk = b.get_next_key(self.fd[m], None if key is None else le(key), 4)
        self.steps.append({"op": "getnext", "map": m, "k": key, "r": r,
                           "out": struct.unpack("<I", nk)[0] if r == 0 else None})

    def close(self, m):
        b.close(self.fd.pop(m))
        self.steps.append({"op": "close", "map": m})

    def get_by_id(self, m):
        r = get_fd_by_id(self.id[m])
        if r >= 0:
            b.close(r)
        self.steps.append({"op": "get_by_id", "map": m, "r": "fd" if r >= 0 else r})

    def listed(self, m):
        self.steps.append({"op": "listed", "map": m, "r": listed(self.id[m])})

    def memlock(self, m):
        self.steps.append({"op": "memlock", "map": m, "r": int(b.fdinfo(self.fd[m])["memlock"])})

    def done(self):
        for fd in self.fd.values():
            b.close(fd)
        return {"name": self.name, "steps": self.steps}


def scenarios():
    out = []

    s = Scenario("create: outer map checks")
    s.create("t", "array", 4, 4, 4)
    s.create("o", "array_of_maps", 4, 4, 4, 0, None)        # no inner_map: fd 0 is stdin, not a map
    s.create("o", "array_of_maps", 4, 4, 4, 0, 999)         # not an open fd
    s.create("o", "array_of_maps", 4, 8, 4, 0, "t")         # value must be an fd (u32)
    s.create("o", "array_of_maps", 4, 8, 4, 0, 999)         # value size is checked first
    s.create("o", "array_of_maps", 8, 4, 4, 0, "t")         # key must be 4
    s.create("o", "array_of_maps", 4, 4, 0, 0, "t")
    s.create("o", "array_of_maps", 4, 4, 4, 1, "t")         # NO_PREALLOC
    s.create("o", "array_of_maps", 4, 4, 4, 0x1000, "t")    # INNER_MAP on the outer
    s.create("o", "array_of_maps", 4, 4, 4, 0x400, "t")     # MMAPABLE
    s.create("o", "array_of_maps", 4, 4, 4, 0x80, "t")      # RDONLY_PROG
    s.create("o", "array_of_maps", 4, 4, 4, 0, "t")
    s.create("o2", "array_of_maps", 4, 4, 4, 0, "o")        # a map-in-map template
    s.create("o2", "hash_of_maps", 4, 4, 4, 0, "o")
    s.create("h", "hash_of_maps", 4, 8, 4, 0, "t")
    s.create("h", "hash_of_maps", 0, 4, 4, 0, "t")
    s.create("h", "hash_of_maps", 4, 4, 0, 0, "t")
    s.create("h", "hash_of_maps", 4, 4, 4, 2, "t")          # NO_COMMON_LRU
    s.create("h", "hash_of_maps", 4, 4, 4, 0, None)
    s.create("h", "hash_of_maps", 4, 4, 4, 1, "t")
    s.create("h2", "hash_of_maps", 8, 4, 16, 0, "t")
    s.create("o3", "array_of_maps", 4, 4, 4, 0, "h")        # hash_of_maps template
    for t in ("hash", "percpu_hash", "percpu_array", "lru_hash", "queue", "stack"):
        q = 0 if t in ("queue", "stack") else 4
        s.create("tt", t, q, 4, 4)
        s.create("x", "array_of_maps", 4, 4, 4, 0, "tt")
        s.create("y", "hash_of_maps", 4, 4, 4, 0, "tt")
    out.append(s.done())

    s = Scenario("create: outer map flags")
    s.create("t", "hash", 4, 4, 4)
    s.create("ta", "array", 4, 4, 4)
    for f in (0x4, 0x8, 0x10, 0x18, 0x40, 0x80, 0x100, 0x180, 0x400, 0x800, 0x1000, 0x80000000):
        s.create("h", "hash_of_maps", 4, 4, 4, f, "t")
        s.create("o", "array_of_maps", 4, 4, 4, f, "ta")
    out.append(s.done())

    s = Scenario("array_of_maps: meta_equal with an array k4 v4 E4 template")
    s.create("t", "array", 4, 4, 4)
    s.create("o", "array_of_maps", 4, 4, 8, 0, "t")
    cands = [("same", "array", 4, 4, 4, 0), ("e8", "array", 4, 4, 8, 0), ("e2", "array", 4, 4, 2, 0),
             ("v8", "array", 4, 8, 4, 0), ("hash", "hash", 4, 4, 4, 0), ("pcpu", "percpu_array", 4, 4, 4, 0),
             ("mmap", "array", 4, 4, 4, 0x400), ("rdonly", "array", 4, 4, 4, 0x80), ("innerf", "array", 4, 4, 4, 0x1000),
             ("queue", "queue", 0, 4, 4, 0)]
    for i, (n, t, k, v, e, f) in enumerate(cands):
        s.create(n, t, k, v, e, f)
        s.update("o", i % 8, n)
    s.update("o", 0, "o")          # the outer map itself
    s.update("o", 0, STDIN)        # an fd that is not a map
    s.update("o", 0, 999)          # not an fd
    s.lookup("o", 0)
    out.append(s.done())

    s = Scenario("array_of_maps: BPF_F_INNER_MAP template skips max_entries")
    s.create("t", "array", 4, 4, 4, 0x1000)
    s.create("o", "array_of_maps", 4, 4, 4, 0, "t")
    for n, e, f in (("e4f", 4, 0x1000), ("e8f", 8, 0x1000), ("e1f", 1, 0x1000), ("e8", 8, 0), ("e4", 4, 0)):
        s.create(n, "array", 4, 4, e, f)
        s.update("o", 1, n)
    s.lookup("o", 1)
    out.append(s.done())

    s = Scenario("array_of_maps: ringbuf template (max_entries not compared)")
    s.create("t", "ringbuf", 0, 0, 4096)
    s.create("o", "array_of_maps", 4, 4, 4, 0, "t")
    s.create("h", "hash_of_maps", 4, 4, 4, 0, "t")
    for i, (n, t, e) in enumerate((("r8k", "ringbuf", 8192), ("r4k", "ringbuf", 4096), ("u4k", "user_ringbuf", 4096))):
        s.create(n, t, 0, 0, e)
        s.update("o", i, n)
        s.update("h", i, n)
    s.lookup("o", 0)
    s.lookup("h", 1)
    s.close("r8k")
    s.delete("o", 0)
    s.get_by_id("r8k")
    out.append(s.done())

    s = Scenario("hash_of_maps: meta_equal with a hash k4 v4 E4 template")
    s.create("t", "hash", 4, 4, 4)
    s.create("h", "hash_of_maps", 4, 4, 16, 0, "t")
    cands = [("same", "hash", 4, 4, 4, 0), ("e64", "hash", 4, 4, 64, 0), ("e2", "hash", 4, 4, 2, 0),
             ("k8", "hash", 8, 4, 4, 0), ("v8", "hash", 4, 8, 4, 0), ("np", "hash", 4, 4, 4, 1),
             ("zs", "hash", 4, 4, 4, 0x40), ("lru", "lru_hash", 4, 4, 4, 0), ("arr", "array", 4, 4, 4, 0),
             ("pch", "percpu_hash", 4, 4, 4, 0)]
    for i, (n, t, k, v, e, f) in enumerate(cands):
        s.create(n, t, k, v, e, f)
        s.update("h", i, n)
    for i in range(len(cands)):
        s.lookup("h", i)
    out.append(s.done())

    s = Scenario("array_of_maps: slots")
    s.create("t", "array", 4, 4, 4)
    s.create("a", "array", 4, 4, 4)
    s.create("b", "array", 4, 4, 4)
    s.create("o", "array_of_maps", 4, 4, 4, 0, "t")
    s.lookup("o", 0)
    s.delete("o", 0)
    s.update("o", 0, "a", 1)       # BPF_NOEXIST
    s.update("o", 0, "a", 2)       # BPF_EXIST
    s.update("o", 0, "a", 4)       # BPF_F_LOCK
    s.update("o", 4, "a")
    s.update("o", 4, 999)          # index checked before the fd
    s.update("o", 0, 999, 1)       # flags checked before anything
    s.delete("o", 4)
    s.lookup("o", 4)
    s.update("o", 0, "a")
    s.update("o", 2, "a")          # one inner map in two slots
    s.update("o", 3, "b")
    s.lookup("o", 0)
    s.lookup("o", 1)
    s.lookup("o", 2)
    s.lookup("o", 3)
    s.getnext("o", None)
    s.getnext("o", 0)
    s.getnext("o", 1)
    s.getnext("o", 3)
    s.getnext("o", 4)
    s.getnext("o", 0xFFFFFFFF)
    s.update("o", 0, "b")          # replace
    s.lookup("o", 0)
    s.delete("o", 3)
    s.delete("o", 3)
    s.lookup("o", 3)
    s.memlock("o")
    out.append(s.done())

    s = Scenario("hash_of_maps: elements")
    s.create("t", "hash", 4, 4, 4)
    s.create("a", "hash", 4, 4, 4)
    s.create("b", "hash", 4, 4, 4)
    s.create("h", "hash_of_maps", 4, 4, 4, 0, "t")
    s.getnext("h", None)
    s.lookup("h", 1)
    s.delete("h", 1)
    s.update("h", 1, "a", 2)       # BPF_EXIST on a missing key
    s.update("h", 1, "a", 4)       # BPF_F_LOCK
    s.update("h", 1, "a", 8)       # unknown flag
    s.update("h", 1, 999)          # bad fd
    s.update("h", 1, 999, 8)       # the fd is resolved before the flags are checked
    s.update("h", 1, "a")
    s.update("h", 1, "b", 1)       # BPF_NOEXIST on a present key
    s.update("h", 2, "a", 1)
    s.update("h", 3, "b")
    s.update("h", 4, "b")
    s.update("h", 5, "a")          # full: 5th key
    s.update("h", 5, "a", 1)
    s.update("h", 4, "a")          # replacing in a full map works
    s.update("h", 4, "a", 2)
    for k in range(1, 6):
        s.lookup("h", k)
    s.memlock("h")
    s.delete("h", 4)
    s.delete("h", 4)
    s.update("h", 5, "b")
    s.lookup("h", 5)
    out.append(s.done())

    s = Scenario("array_of_maps: lifetime of inner maps")
    s.create("t", "array", 4, 4, 4)
    s.create("o", "array_of_maps", 4, 4, 4, 0, "t")
    s.create("a", "array", 4, 4, 4)
    s.create("b", "array", 4, 4, 4)
    s.create("c", "array", 4, 4, 4)
    s.update("o", 0, "a")
    s.update("o", 1, "a")
    s.update("o", 2, "b")
    s.close("a")
    s.close("b")
    s.get_by_id("a")
    s.listed("a")
    s.lookup("o", 0)
    s.delete("o", 0)
    s.get_by_id("a")               # still in slot 1
    s.listed("a")
    s.delete("o", 1)
    s.get_by_id("a")
    s.listed("a")
    s.lookup("o", 1)
    s.update("o", 2, "c")          # replace: b loses its last reference
    s.get_by_id("b")
    s.listed("b")
    s.lookup("o", 2)
    s.close("t")                   # the template is copied: the outer does not need it
    s.get_by_id("t")
    s.create("d", "array", 4, 4, 4)
    s.update("o", 3, "d")
    s.lookup("o", 3)
    out.append(s.done())

    s = Scenario("hash_of_maps: lifetime of inner maps")
    s.create("t", "hash", 4, 4, 4)
    s.create("h", "hash_of_maps", 4, 4, 8, 0, "t")
    s.create("a", "hash", 4, 4, 4)
    s.create("b", "hash", 4, 4, 4)
    s.create("c", "hash", 4, 4, 4)
    s.update("h", 10, "a")
    s.update("h", 11, "b")
    s.close("a")
    s.close("b")
    s.get_by_id("a")
    s.listed("b")
    s.update("h", 10, "c")         # replace: a loses its last reference
    s.get_by_id("a")
    s.listed("a")
    s.lookup("h", 10)
    s.delete("h", 11)
    s.get_by_id("b")
    s.lookup("h", 11)
    s.close("t")
    s.get_by_id("t")
    out.append(s.done())

    s = Scenario("hash_of_maps: NO_PREALLOC outer")
    s.create("t", "hash", 4, 4, 4)
    s.create("a", "hash", 4, 4, 4)
    s.create("h", "hash_of_maps", 4, 4, 3, 1, "t")
    s.memlock("h")
    for k in range(4):
        s.update("h", k, "a")
        s.memlock("h")
    s.update("h", 0, "a")
    s.memlock("h")
    s.delete("h", 0)
    s.memlock("h")
    out.append(s.done())
    return out


def memlock_cases():
    out = []
    tmpl_a = create("array", 4, 4, 4)
    tmpl_h = create("hash", 4, 4, 4)
    for e in (1, 2, 3, 5, 8, 100, 1000, 4096, 100000):
        fd = create("array_of_maps", 4, 4, e, 0, tmpl_a)
        out.append({"type": "array_of_maps", "key": 4, "entries": e, "flags": 0, "memlock": int(b.fdinfo(fd)["memlock"])})
        b.close(fd)
    for k in (4, 8, 13, 64):
        for e in (1, 2, 3, 4, 16, 100, 1024, 65536):
            for f in (0, 1):
                fd = create("hash_of_maps", k, 4, e, f, tmpl_h)
                out.append({"type": "hash_of_maps", "key": k, "entries": e, "flags": f,
                            "memlock": int(b.fdinfo(fd)["memlock"])})
                b.close(fd)
    b.close(tmpl_a)
    b.close(tmpl_h)
    return out


def main():
    rc = subprocess.run(["bpftool", "version"], capture_output=True, text=True).stdout.splitlines()[0]
    doc = {
        "_comment": "Recorded from the real kernel by map_in_map_record.py (bpf(2) through ctypes).",
        "env": {"uname": platform.release(), "ncpu": NCPU, "bpftool": rc},
        "scenarios": scenarios(),
        "memlock": memlock_cases(),
    }
    with open("map_in_map.json", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
