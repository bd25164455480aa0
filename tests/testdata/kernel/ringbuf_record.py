#!/usr/bin/env python3
"""Records the ring buffer goldens from the real kernel (run as root).

    cd tests/testdata/kernel && python3 ringbuf_record.py

Writes:
  ringbuf_memlock.json  fdinfo memlock of ringbuf / user_ringbuf maps per size
  ringbuf_errno.json    bpf(2) results: MAP_CREATE with bad attributes, the
                        element commands, freeze, and the mmap / mprotect /
                        mremap permission checks of prog_tests/ringbuf.c

Uses bpfsys.py (ctypes bpf(2)); creates no pins. The Deno tests replay the
same operations in bpfsim and never need this machine.
"""
import ctypes
import json
import os
import platform
import subprocess

import bpfsys as b

RINGBUF, USER_RINGBUF = 27, 31
PAGE = os.sysconf("SC_PAGE_SIZE")
libc = b.libc
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.mremap.restype = ctypes.c_void_p
libc.mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int]
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_SHARED, MREMAP_MAYMOVE = 1, 1
MAP_FAILED = ctypes.c_void_p(-1).value


def err():
    return -ctypes.get_errno()


def mmap(fd, length, prot, off):
    p = libc.mmap(None, length, prot, MAP_SHARED, fd, off)
    return (err(), None) if p == MAP_FAILED else (0, p)


def memlock_cases():
    out = []
    for t, name in ((RINGBUF, "ringbuf"), (USER_RINGBUF, "user_ringbuf")):
        for e in (4096, 8192, 16384, 65536, 262144, 1 << 20, 1 << 24, 1 << 28):
            fd = b.create(t, 0, 0, e, 0, b"zzrb")
            out.append({"type": name, "entries": e, "memlock": int(b.fdinfo(fd)["memlock"]) if fd >= 0 else fd})
            if fd >= 0:
                b.close(fd)
    return out


def create_cases():
    cases = [
        ("entries 0", 0, 0, 0, 0),
        ("entries 1000", 0, 0, 1000, 0),
        ("entries 2048", 0, 0, 2048, 0),
        ("entries 4096", 0, 0, 4096, 0),
        ("entries 12288", 0, 0, 12288, 0),
        ("entries 2^31+4096", 0, 0, (1 << 31) + 4096, 0),
        ("key 4", 4, 0, 4096, 0),
        ("value 4", 0, 4, 4096, 0),
        ("flags NO_PREALLOC", 0, 0, 4096, 1),
        ("flags NO_COMMON_LRU", 0, 0, 4096, 2),
        ("flags NUMA_NODE", 0, 0, 4096, 4),
        ("flags RDONLY", 0, 0, 4096, 8),
        ("flags RDONLY_PROG", 0, 0, 4096, 0x80),
        ("flags MMAPABLE", 0, 0, 4096, 0x400),
        ("flags RB_OVERWRITE", 0, 0, 4096, 1 << 19),
        ("key 4 entries 1000", 4, 0, 1000, 0),
        ("flags 1 entries 1000", 0, 0, 1000, 1),
    ]
    out = []
    for t, name in ((RINGBUF, "ringbuf"), (USER_RINGBUF, "user_ringbuf")):
        for label, k, v, e, f in cases:
            fd = b.create(t, k, v, e, f, b"zzrb")
            out.append({"type": name, "case": label, "key": k, "value": v, "entries": e, "flags": f,
                        "result": "fd" if fd >= 0 else fd})
            if fd >= 0:
                b.close(fd)
    return out


def element_cases():
    fd = b.create(RINGBUF, 0, 0, 4096, 0, b"zzrb")
    r = {
        "lookup": b.lookup(fd, None, 0)[0],
        "update": b.update(fd, None, bytes(1)),
        "delete": b.delete(fd, None),
        "get_next_key": b.get_next_key(fd, None, 0)[0],
        "lookup_and_delete": b.lookup_and_delete(fd, None, 0)[0],
    }
    # a writable mapping blocks freeze; after munmap freeze works; then writable mmap is refused
    e, p = mmap(fd, PAGE, PROT_READ | PROT_WRITE, 0)
    r["mmap_rw_cons"] = e
    r["freeze_while_mapped_rw"] = b.freeze(fd)
    libc.munmap(p, PAGE)
    r["freeze"] = b.freeze(fd)
    r["mmap_rw_cons_frozen"] = mmap(fd, PAGE, PROT_READ | PROT_WRITE, 0)[0]
    r["mmap_ro_frozen"] = mmap(fd, PAGE, PROT_READ, 0)[0]
    b.close(fd)
    return r


def mmap_cases():
    """The mmap assertions of prog_tests/ringbuf.c (ring of one page), kernel and user rings."""
    out = {}
    for t, name in ((RINGBUF, "ringbuf"), (USER_RINGBUF, "user_ringbuf")):
        fd = b.create(t, 0, 0, PAGE, 0, b"zzrb")
        r = {}
        e, p = mmap(fd, PAGE, PROT_READ | PROT_WRITE, 0)
        r["rw_cons_pos"] = e
        if p:
            q = libc.mremap(p, PAGE, 2 * PAGE, MREMAP_MAYMOVE)
            r["rw_extend"] = err() if q == MAP_FAILED else 0
            r["exec_cons_pos_protect"] = err() if libc.mprotect(p, PAGE, PROT_EXEC) else 0
            r["unmap_rw"] = libc.munmap(p, PAGE)
        r["wr_prod_pos"] = mmap(fd, PAGE, PROT_WRITE, PAGE)[0]
        r["wr_data_page_one"] = mmap(fd, PAGE, PROT_WRITE, 2 * PAGE)[0]
        r["wr_data_page_two"] = mmap(fd, PAGE, PROT_WRITE, 3 * PAGE)[0]
        r["wr_data_page_all"] = mmap(fd, 2 * PAGE, PROT_WRITE, 2 * PAGE)[0]
        e, p = mmap(fd, 4 * PAGE, PROT_READ, 0)
        r["ro_4_pages"] = e
        if p:
            r["ro_write_protect"] = err() if libc.mprotect(p, 4 * PAGE, PROT_WRITE) else 0
            r["ro_exec_protect"] = err() if libc.mprotect(p, 4 * PAGE, PROT_EXEC) else 0
            q = libc.mremap(p, 0, 4 * PAGE, MREMAP_MAYMOVE)
            r["ro_remap"] = err() if q == MAP_FAILED else 0
            r["unmap_ro"] = libc.munmap(p, 4 * PAGE)
        e, p = mmap(fd, PAGE, PROT_READ, PAGE)
        r["ro_prod_pos"] = e
        if p:
            r["ro_prod_write_protect"] = err() if libc.mprotect(p, PAGE, PROT_WRITE) else 0
            q = libc.mremap(p, 0, 3 * PAGE, MREMAP_MAYMOVE)
            r["ro_prod_remap"] = err() if q == MAP_FAILED else 0
            libc.munmap(p, PAGE)
        r["ro_too_long"] = mmap(fd, 5 * PAGE, PROT_READ, 0)[0]
        r["ro_whole"] = mmap(fd, 4 * PAGE, PROT_READ, PAGE)[0]
        r["rw_data_user"] = mmap(fd, PAGE, PROT_READ | PROT_WRITE, 2 * PAGE)[0]
        r["rw_prod_user"] = mmap(fd, PAGE, PROT_READ | PROT_WRITE, PAGE)[0]
        out[name] = r
        b.close(fd)
    return out


def main():
    env = {
        "uname": platform.release(),
        "ncpu": os.cpu_count(),
        "bpftool": subprocess.run(["bpftool", "version"], capture_output=True, text=True).stdout.splitlines()[0],
    }
    with open("ringbuf_memlock.json", "w") as f:
        json.dump({"_comment": "ringbuf_record.py: fdinfo memlock per ring size", "env": env,
                   "cases": memlock_cases()}, f, indent=1)
        f.write("\n")
    with open("ringbuf_errno.json", "w") as f:
        json.dump({"_comment": "ringbuf_record.py: bpf(2) and mmap results on ring buffers", "env": env,
                   "create": create_cases(), "element": element_cases(), "mmap": mmap_cases()}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
