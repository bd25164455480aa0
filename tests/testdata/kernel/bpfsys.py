"""Minimal bpf(2) wrapper (ctypes) used to record goldens from the real kernel.

Only used by record.py on a machine with a real kernel; the Deno tests read the
JSON files it writes and never need the real kernel.
"""
import ctypes
import ctypes.util
import os
import struct

NR_BPF = 321  # x86_64
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.syscall.restype = ctypes.c_long

MAP_CREATE, LOOKUP, UPDATE, DELETE, GET_NEXT_KEY = 0, 1, 2, 3, 4
OBJ_PIN, OBJ_GET = 6, 7
MAP_GET_NEXT_ID, MAP_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD = 12, 14, 15
LOOKUP_AND_DELETE, FREEZE = 21, 22

TYPES = {"hash": 1, "array": 2, "percpu_hash": 5, "percpu_array": 6, "queue": 22, "stack": 23}


def sys_bpf(cmd, attr: bytes):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(NR_BPF, cmd, buf, 128)
    if r < 0:
        return -ctypes.get_errno()
    return r


def create(mtype, key, value, entries, flags=0, name=b"", numa=0):
    t = TYPES[mtype] if isinstance(mtype, str) else mtype
    attr = struct.pack("<IIIIIII16s", t, key, value, entries, flags, 0, numa, name)
    return sys_bpf(MAP_CREATE, attr)


class Buf:
    def __init__(self, data):
        self.b = ctypes.create_string_buffer(bytes(data), max(len(data), 1))

    @property
    def addr(self):
        return ctypes.addressof(self.b)

    def bytes(self, n):
        return bytes(self.b.raw[:n])


def _elem(cmd, fd, key, value, flags):
    kb = Buf(key) if key is not None else None
    vb = Buf(value) if value is not None else None
    attr = struct.pack("<IIQQQ", fd & 0xFFFFFFFF, 0, kb.addr if kb else 0, vb.addr if vb else 0, flags & 0xFFFFFFFFFFFFFFFF)
    r = sys_bpf(cmd, attr)
    return r, vb


def update(fd, key, value, flags=0):
    return _elem(UPDATE, fd, key, value, flags)[0]


def lookup(fd, key, vsize, flags=0):
    r, vb = _elem(LOOKUP, fd, key, bytes(max(vsize, 1)), flags)
    return r, vb.bytes(vsize)


def lookup_and_delete(fd, key, vsize, flags=0):
    r, vb = _elem(LOOKUP_AND_DELETE, fd, key, bytes(max(vsize, 1)), flags)
    return r, vb.bytes(vsize)


def delete(fd, key):
    return _elem(DELETE, fd, key, None, 0)[0]


def get_next_key(fd, key, ksize):
    r, vb = _elem(GET_NEXT_KEY, fd, key, bytes(max(ksize, 1)), 0)
    return r, vb.bytes(ksize)


def freeze(fd):
    return sys_bpf(FREEZE, struct.pack("<I", fd & 0xFFFFFFFF))


def info(fd):
    ib = Buf(bytes(88))
    attr = struct.pack("<IIQ", fd, 88, ib.addr)
    r = sys_bpf(OBJ_GET_INFO_BY_FD, attr)
    if r < 0:
        return r
    t, mid, k, v, e, f = struct.unpack("<IIIIII", ib.bytes(24))
    name = ib.bytes(40)[24:40].split(b"\0")[0].decode()
    return {"type": t, "id": mid, "key": k, "value": v, "entries": e, "flags": f, "name": name}


def fdinfo(fd):
    out = {}
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
    return out


def close(fd):
    os.close(fd)
