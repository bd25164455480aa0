#!/usr/bin/env python3
"""Records what the real kernel does with the test objects (tests/bpf-src/*.bpf.o).

Each object is opened and loaded by the system's libbpf (through ctypes, as a
libbpf application would), its programs attached or run with
BPF_PROG_TEST_RUN, the events of its scenario made to happen (system calls
with chosen arguments from a task named "bsim_rec" pinned to CPU 0, packets,
contexts, perf samples), and the result written to
tests/testdata/bpf_objects/<object>.json:

  - the events, exactly as they happened (arguments, return values), so that
    bpfsim can replay them into its interpreter;
  - every map's contents afterwards (per-CPU values per CPU), ring buffer
    records, trace_pipe messages, test-run return values and outputs;
  - what bpftool and the kernel say about the maps and programs: map names,
    types and flags, program tags, the xlated instructions with the kernel's
    func_info/line_info, and `bpftool prog dump xlated` in its variants.

Run as root on the machine whose kernel is the oracle:
    python3 tests/bpf-src/record.py [OBJECT ...]
The Deno tests only read the JSON files.
"""
import ctypes
import ctypes.util
import hashlib
import json
import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "testdata", "bpf_objects")
NCPU = os.cpu_count()

lb = ctypes.CDLL("libbpf.so.1", use_errno=True)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
V = ctypes.c_void_p
for name, res, args in [
    ("bpf_object__open_file", V, [ctypes.c_char_p, V]),
    ("bpf_object__load", ctypes.c_int, [V]),
    ("bpf_object__close", None, [V]),
    ("bpf_object__find_program_by_name", V, [V, ctypes.c_char_p]),
    ("bpf_object__next_program", V, [V, V]),
    ("bpf_object__next_map", V, [V, V]),
    ("bpf_program__fd", ctypes.c_int, [V]),
    ("bpf_program__name", ctypes.c_char_p, [V]),
    ("bpf_program__attach", V, [V]),
    ("bpf_program__attach_perf_event", V, [V, ctypes.c_int]),
    ("bpf_link__destroy", ctypes.c_int, [V]),
    ("bpf_map__fd", ctypes.c_int, [V]),
    ("bpf_map__name", ctypes.c_char_p, [V]),
    ("bpf_map_get_next_key", ctypes.c_int, [ctypes.c_int, V, V]),
    ("bpf_map_lookup_elem", ctypes.c_int, [ctypes.c_int, V, V]),
    ("bpf_map_lookup_and_delete_elem", ctypes.c_int, [ctypes.c_int, V, V]),
    ("bpf_map_get_fd_by_id", ctypes.c_int, [ctypes.c_uint]),
    ("bpf_prog_test_run_opts", ctypes.c_int, [ctypes.c_int, V]),
    ("bpf_obj_get_info_by_fd", ctypes.c_int, [ctypes.c_int, V, V]),
    ("ring_buffer__new", V, [ctypes.c_int, V, V, V]),
    ("ring_buffer__consume", ctypes.c_int, [V]),
    ("ring_buffer__free", None, [V]),
]:
    f = getattr(lb, name)
    f.restype = res
    f.argtypes = args

RB_CB = ctypes.CFUNCTYPE(ctypes.c_int, V, V, ctypes.c_size_t)


class TestRunOpts(ctypes.Structure):
    """struct bpf_test_run_opts (libbpf 1.1)."""

    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("data_in", V),
        ("data_out", V),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", V),
        ("ctx_out", V),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    ]


def as_recorder():
    """The calling thread becomes "bsim_rec" on CPU 0 (the programs filter on the name)."""
    os.sched_setaffinity(0, {0})
    libc.prctl(15, b"bsim_rec", 0, 0, 0)


def not_recorder():
    libc.prctl(15, b"record.py", 0, 0, 0)


def sh(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def map_info(fd):
    info = ctypes.create_string_buffer(128)
    n = ctypes.c_uint32(128)
    if lb.bpf_obj_get_info_by_fd(fd, info, ctypes.byref(n)):
        raise OSError(ctypes.get_errno(), "map info")
    t, mid, ks, vs, me, fl = struct.unpack_from("<IIIIII", info.raw, 0)
    name = info.raw[24:40].split(b"\0")[0].decode()
    return {"id": mid, "type": t, "key": ks, "value": vs, "max_entries": me, "flags": fl, "name": name}


PERCPU = {5, 6, 10, 21}  # percpu_hash, percpu_array, lru_percpu_hash, percpu_cgroup_storage


def dump_map(fd):
    """Every element: [key hex, value hex] or [key hex, [value hex per CPU]]; queues/stacks popped in order."""
    mi = map_info(fd)
    out = []
    if mi["type"] in (22, 23):  # queue, stack
        v = ctypes.create_string_buffer(mi["value"])
        while lb.bpf_map_lookup_and_delete_elem(fd, None, v) == 0:
            out.append(["", v.raw.hex()])
        return out
    if mi["type"] in (12, 13, 27):  # map-in-map, ringbuf: dumped by their scenarios
        return out
    vs = mi["value"]
    per = mi["type"] in PERCPU
    size = ((vs + 7) & ~7) * NCPU if per else vs
    key = ctypes.create_string_buffer(max(mi["key"], 1))
    nxt = ctypes.create_string_buffer(max(mi["key"], 1))
    val = ctypes.create_string_buffer(size)
    prev = None
    while lb.bpf_map_get_next_key(fd, prev, nxt) == 0:
        ctypes.memmove(key, nxt, mi["key"])
        prev = key
        if lb.bpf_map_lookup_elem(fd, key, val) != 0:
            continue
        k = key.raw[: mi["key"]].hex()
        if per:
            step = (vs + 7) & ~7
            out.append([k, [val.raw[i * step: i * step + vs].hex() for i in range(NCPU)]])
        else:
            out.append([k, val.raw[:vs].hex()])
    out.sort()
    return out


class BpfProgInfo:
    """struct bpf_prog_info through BPF_OBJ_GET_INFO_BY_FD: tag, xlated insns, func/line info, jited ksyms."""

    SIZE = 232

    def __init__(self, fd):
        raw = ctypes.create_string_buffer(self.SIZE)
        n = ctypes.c_uint32(self.SIZE)
        if lb.bpf_obj_get_info_by_fd(fd, raw, ctypes.byref(n)):
            raise OSError(ctypes.get_errno(), "prog info")
        r = raw.raw
        xlen = struct.unpack_from("<I", r, 20)[0]
        nksyms = struct.unpack_from("<I", r, 104)[0]
        finfo_rec, nfinfo, nlinfo = struct.unpack_from("<I", r, 132)[0], *struct.unpack_from("<II", r, 144)
        linfo_rec = struct.unpack_from("<I", r, 172)[0]
        self.tag = r[8:16].hex()
        self.btf_id = struct.unpack_from("<I", r, 128)[0]
        xl = ctypes.create_string_buffer(xlen)
        ks = ctypes.create_string_buffer(8 * max(nksyms, 1))
        fi = ctypes.create_string_buffer(finfo_rec * max(nfinfo, 1))
        li = ctypes.create_string_buffer(linfo_rec * max(nlinfo, 1))
        raw2 = ctypes.create_string_buffer(self.SIZE)
        struct.pack_into("<I", raw2, 20, xlen)
        struct.pack_into("<Q", raw2, 32, ctypes.addressof(xl))
        struct.pack_into("<I", raw2, 104, nksyms)
        struct.pack_into("<Q", raw2, 112, ctypes.addressof(ks))
        struct.pack_into("<I", raw2, 132, finfo_rec)
        struct.pack_into("<Q", raw2, 136, ctypes.addressof(fi))
        struct.pack_into("<II", raw2, 144, nfinfo, nlinfo)
        struct.pack_into("<Q", raw2, 152, ctypes.addressof(li))
        struct.pack_into("<I", raw2, 172, linfo_rec)
        n = ctypes.c_uint32(self.SIZE)
        if lb.bpf_obj_get_info_by_fd(fd, raw2, ctypes.byref(n)):
            raise OSError(ctypes.get_errno(), "prog info (arrays)")
        self.xlated = xl.raw[:xlen].hex()
        self.ksym_addrs = list(struct.unpack_from("<%dQ" % nksyms, ks.raw, 0)) if nksyms else []
        self.func_info = [list(struct.unpack_from("<II", fi.raw, i * finfo_rec)) for i in range(nfinfo)]
        self.line_info = [list(struct.unpack_from("<IIII", li.raw, i * linfo_rec)) for i in range(nlinfo)]


def kallsyms():
    syms = {}
    with open("/proc/kallsyms") as f:
        for line in f:
            a, _, name = line.split()[:3]
            syms.setdefault(int(a, 16), name)
    return syms


KSYMS = kallsyms()
CALL_BASE = next(a for a, n in KSYMS.items() if n == "__bpf_call_base")


def prog_record(prog):
    fd = lb.bpf_program__fd(prog)
    info = BpfProgInfo(fd)
    # the program's own symbols (bpf_prog_<tag>_<func>) exist only while it is loaded
    KSYMS.update(kallsyms())
    pid = json.loads(sh("bpftool", "-j", "prog", "show", "id", str(prog_id(fd))))
    # helper calls: the symbol at __bpf_call_base + imm (what bpftool's kallsyms lookup finds)
    insns = bytes.fromhex(info.xlated)
    helper_syms = {}
    for i in range(0, len(insns), 8):
        code, regs = insns[i], insns[i + 1]
        imm = struct.unpack_from("<i", insns, i + 4)[0]
        if code == 0x85 and (regs >> 4) == 0:
            sym = KSYMS.get(CALL_BASE + imm)
            if sym:
                helper_syms[str(imm)] = sym
    ident = str(pid["id"])
    dump = {
        "plain": sh("bpftool", "prog", "dump", "xlated", "id", ident),
        "linum": sh("bpftool", "prog", "dump", "xlated", "id", ident, "linum"),
        "opcodes": sh("bpftool", "prog", "dump", "xlated", "id", ident, "opcodes"),
        "json_opcodes": json.loads(sh("bpftool", "-j", "prog", "dump", "xlated", "id", ident, "opcodes")),
        "json_linum": json.loads(sh("bpftool", "-j", "prog", "dump", "xlated", "id", ident, "linum")),
    }
    return {
        "name": lb.bpf_program__name(prog).decode(),
        "type": pid["type"],
        "tag": info.tag,
        "xlated": info.xlated,
        "func_info": info.func_info,
        "line_info": info.line_info,
        "jited_ksyms": [KSYMS.get(a, "") for a in info.ksym_addrs],
        "helper_syms": helper_syms,
        "map_ids": pid.get("map_ids", []),
        "dump": dump,
    }


def prog_id(fd):
    raw = ctypes.create_string_buffer(BpfProgInfo.SIZE)
    n = ctypes.c_uint32(BpfProgInfo.SIZE)
    lb.bpf_obj_get_info_by_fd(fd, raw, ctypes.byref(n))
    return struct.unpack_from("<I", raw.raw, 4)[0]


def test_run(prog, ctx_in=b"", data_in=b"", ctx_out_size=0, data_out_size=0, ctx_inout=False):
    o = TestRunOpts()
    o.sz = ctypes.sizeof(TestRunOpts)
    keep = []
    if data_in:
        b = ctypes.create_string_buffer(data_in, len(data_in))
        keep.append(b)
        o.data_in = ctypes.addressof(b)
        o.data_size_in = len(data_in)
    if data_out_size:
        b = ctypes.create_string_buffer(data_out_size)
        keep.append(b)
        o.data_out = ctypes.addressof(b)
        o.data_size_out = data_out_size
    ctx_buf = None
    if ctx_in:
        ctx_buf = ctypes.create_string_buffer(ctx_in, len(ctx_in))
        keep.append(ctx_buf)
        o.ctx_in = ctypes.addressof(ctx_buf)
        o.ctx_size_in = len(ctx_in)
    if ctx_out_size:
        b = ctypes.create_string_buffer(ctx_out_size)
        keep.append(b)
        o.ctx_out = ctypes.addressof(b)
        o.ctx_size_out = ctx_out_size
    r = lb.bpf_prog_test_run_opts(lb.bpf_program__fd(prog), ctypes.byref(o))
    if r:
        raise OSError(ctypes.get_errno(), "test_run")
    res = {"retval": o.retval}
    if data_out_size:
        res["data_out"] = ctypes.string_at(o.data_out, o.data_size_out).hex()
    if ctx_out_size:
        res["ctx_out"] = ctypes.string_at(o.ctx_out, o.ctx_size_out).hex()
    if ctx_inout:
        # bpf_prog_test_run_syscall() copies the ctx back into ctx_in
        res["ctx_out"] = ctx_buf.raw[: len(ctx_in)].hex()
    return res


def u64s(*xs):
    return struct.pack("<%dQ" % len(xs), *xs)


def eth_ipv4(proto, ttl=64, payload=b"", total=60):
    """An Ethernet frame with an IPv4 header (no options) and `payload`, padded to `total` bytes."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total - 14, 1, 0, ttl, proto, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    frame = bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]) + b"\x08\x00" + ip + payload
    return frame + bytes(total - len(frame))


def udp(dport):
    return struct.pack("!HHHH", 40000, dport, 8, 0)


# ------------------------------------------------------------ the scenarios


def kprobes_available():
    return os.path.exists("/sys/bus/event_source/devices/kprobe") or os.path.exists("/sys/kernel/tracing/kprobe_events")


def sc_kprobe(obj, rec):
    if not kprobes_available():
        # CONFIG_KPROBES off: the programs load (tags, maps, xlated are recorded) but cannot attach
        rec["events"] = []
        rec["attach"] = "kprobes are not available on this kernel (CONFIG_KPROBES is not set)"
        return
    links = [lb.bpf_program__attach(lb.bpf_object__find_program_by_name(obj, n)) for n in (b"on_getpgid", b"ret_getpgid")]
    events = []
    as_recorder()
    for pid in (4190001, 4190001, 4190002, 4190001, 4190003, 4190003):
        r = libc.syscall(121, ctypes.c_long(pid))  # getpgid
        err = ctypes.get_errno()
        events.append({"kind": "kprobe_syscall", "func": "__x64_sys_getpgid", "args": [pid], "ret": -err if r < 0 else r})
    not_recorder()
    for l in links:
        lb.bpf_link__destroy(l)
    rec["events"] = events


def sc_tracepoint(obj, rec):
    links = [lb.bpf_program__attach(lb.bpf_object__find_program_by_name(obj, n)) for n in (b"on_sys_enter", b"on_raw_enter")]
    events = []
    as_recorder()
    for a in ((1, 10, 100), (2, 20, 100), (9, 5, 200), (1, 1, 300), (4, 7, 100)):
        libc.syscall(1001, *[ctypes.c_long(x) for x in a])
        # raw_syscalls:sys_enter passes (struct pt_regs *regs, long id); the record holds id and args[6]
        events.append({"kind": "sys_enter", "id": 1001, "args": list(a), "cpu": 0})
    not_recorder()
    for l in links:
        lb.bpf_link__destroy(l)
    rec["events"] = events


def sc_rawtp(obj, rec):
    prog = lb.bpf_object__find_program_by_name(obj, b"on_raw")
    events = []
    for a in ((5, 3), (9, 3), (2, 4), (7, 3)):
        r = test_run(prog, ctx_in=u64s(*a))
        events.append({"kind": "test_run", "prog": "on_raw", "ctx_in": u64s(*a).hex(), **r})
    rec["events"] = events


def sc_ringbuf(obj, rec):
    prog = lb.bpf_object__find_program_by_name(obj, b"rb_emit")
    events = []
    for a in ((11, 22), (33, 44)):
        r = test_run(prog, ctx_in=u64s(*a))
        events.append({"kind": "test_run", "prog": "rb_emit", "ctx_in": u64s(*a).hex(), **r})
    rec["events"] = events
    m = lb.bpf_object__next_map(obj, None)
    while m and lb.bpf_map__name(m) != b"events":
        m = lb.bpf_object__next_map(obj, m)
    got = []

    @RB_CB
    def cb(_ctx, data, size):
        got.append(ctypes.string_at(data, size).hex())
        return 0

    rb = lb.ring_buffer__new(lb.bpf_map__fd(m), ctypes.cast(cb, V), None, None)
    lb.ring_buffer__consume(rb)
    lb.ring_buffer__free(rb)
    rec["ringbuf"] = {"events": got}


def sc_perf_event(obj, rec):
    prog = lb.bpf_object__find_program_by_name(obj, b"on_sample")
    # struct perf_event_attr: software cpu-clock, a sample every 100 us on CPU 0
    attr = bytearray(128)
    struct.pack_into("<IIQQ", attr, 0, 1, 128, 0, 100000)  # type, size, config, sample_period (flags: freq off)
    buf = ctypes.create_string_buffer(bytes(attr), 128)
    pfd = libc.syscall(298, buf, ctypes.c_int(-1), ctypes.c_int(0), ctypes.c_int(-1), ctypes.c_ulong(0))
    if pfd < 0:
        raise OSError(ctypes.get_errno(), "perf_event_open")
    link = lb.bpf_program__attach_perf_event(prog, pfd)
    os.sched_setaffinity(0, {0})
    end = time.time() + 0.05
    while time.time() < end:
        pass
    lb.bpf_link__destroy(link)  # closes the perf event fd too
    rec["events"] = [{"kind": "perf_sample", "prog": "on_sample", "sample_period": 100000, "cpu": 0}]


def sc_xdp(obj, rec):
    prog = lb.bpf_object__find_program_by_name(obj, b"xdp_count")
    arp = bytes([0xFF] * 6 + [2, 0, 0, 0, 0, 1]) + b"\x08\x06" + bytes(28)
    pkts = [
        eth_ipv4(17, payload=udp(9), total=60),
        eth_ipv4(17, payload=udp(53), total=70),
        eth_ipv4(6, total=74),
        eth_ipv4(1, total=98),
        arp,
        eth_ipv4(17, payload=udp(9), total=64),
    ]
    os.sched_setaffinity(0, {0})
    events = []
    for p in pkts:
        r = test_run(prog, data_in=p, data_out_size=len(p))
        events.append({"kind": "test_run", "prog": "xdp_count", "data_in": p.hex(), "cpu": 0, **r})
    rec["events"] = events


def sc_tc(obj, rec):
    prog = lb.bpf_object__find_program_by_name(obj, b"tc_count")
    pkts = [eth_ipv4(6, ttl=64, total=60), eth_ipv4(17, ttl=1, total=80), eth_ipv4(6, ttl=64, total=100), eth_ipv4(1, ttl=7)]
    os.sched_setaffinity(0, {0})
    events = []
    for p in pkts:
        r = test_run(prog, data_in=p, data_out_size=len(p), ctx_in=bytes(192), ctx_out_size=192)
        events.append({"kind": "test_run", "prog": "tc_count", "data_in": p.hex(), "ctx_in": bytes(192).hex(), "cpu": 0, **r})
    rec["events"] = events


def sc_syscall(obj, rec):
    prog = lb.bpf_object__find_program_by_name(obj, b"sys_prog")
    with open("/sys/kernel/tracing/trace", "w") as f:
        f.write("")
    events = []
    for n, seed in ((4, 1), (20, 3), (0, 9)):
        ctx = struct.pack("<IIQ", n, seed, 0)
        r = test_run(prog, ctx_in=ctx, ctx_inout=True)
        events.append({"kind": "test_run", "prog": "sys_prog", "ctx_in": ctx.hex(), **r})
    rec["events"] = events
    with open("/sys/kernel/tracing/trace") as f:
        rec["trace"] = [l.split("bpf_trace_printk: ", 1)[1].rstrip("\n") for l in f if "bpf_trace_printk: " in l]


def sc_mapinmap(obj, rec):
    prog = lb.bpf_object__find_program_by_name(obj, b"count_inner")
    events = []
    for _ in range(3):
        r = test_run(prog)
        events.append({"kind": "test_run", "prog": "count_inner", **r})
    rec["events"] = events


SCENARIOS = {
    "kprobe": sc_kprobe,
    "tracepoint": sc_tracepoint,
    "rawtp": sc_rawtp,
    "ringbuf": sc_ringbuf,
    "perf_event": sc_perf_event,
    "xdp": sc_xdp,
    "tc": sc_tc,
    "syscall": sc_syscall,
    "mapinmap": sc_mapinmap,
}


def record(name):
    path = os.path.join(HERE, name + ".bpf.o")
    data = open(path, "rb").read()
    obj = lb.bpf_object__open_file(path.encode(), None)
    if not obj:
        raise OSError(ctypes.get_errno(), "open " + path)
    if lb.bpf_object__load(obj):
        raise OSError(ctypes.get_errno(), "load " + path)
    rec = {
        "object": name + ".bpf.o",
        "sha256": hashlib.sha256(data).hexdigest(),
        "kernel": os.uname().release,
        "cpus": NCPU,
        "tools": sh("bpftool", "version").splitlines()[:2],
    }
    SCENARIOS[name](obj, rec)
    maps = []
    m = lb.bpf_object__next_map(obj, None)
    while m:
        fd = lb.bpf_map__fd(m)
        mi = map_info(fd)
        show = json.loads(sh("bpftool", "-j", "map", "show", "id", str(mi["id"])))
        dumped = None
        if show.get("btf_id") and mi["type"] not in (12, 13, 22, 23, 27):
            # bpftool's BTF-formatted dump, before the queue is drained by dump_map()
            dumped = json.loads(sh("bpftool", "-j", "map", "dump", "id", str(mi["id"])))
        entry = {
            "name": mi["name"],
            "type": show["type"],
            "flags": mi["flags"],
            "key": mi["key"],
            "value": mi["value"],
            "max_entries": mi["max_entries"],
            "frozen": show.get("frozen", 0),
            "elements": dump_map(fd),
        }
        if dumped is not None:
            entry["bpftool_dump"] = dumped
        if mi["type"] in (12, 13):  # the inner maps in the slots
            inner = []
            key = ctypes.create_string_buffer(mi["key"])
            nxt = ctypes.create_string_buffer(mi["key"])
            val = ctypes.create_string_buffer(4)
            prev = None
            while lb.bpf_map_get_next_key(fd, prev, nxt) == 0:
                ctypes.memmove(key, nxt, mi["key"])
                prev = key
                if lb.bpf_map_lookup_elem(fd, key, val) == 0:
                    ifd = lb.bpf_map_get_fd_by_id(struct.unpack("<I", val.raw)[0])
                    inner.append([key.raw.hex(), map_info(ifd)["name"], dump_map(ifd)])
                    os.close(ifd)
            entry["inner"] = inner
        maps.append(entry)
        m = lb.bpf_object__next_map(obj, m)
    rec["maps"] = maps
    progs = []
    p = lb.bpf_object__next_program(obj, None)
    while p:
        progs.append(prog_record(p))
        p = lb.bpf_object__next_program(obj, p)
    rec["programs"] = progs
    lb.bpf_object__close(obj)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(rec, f, indent=1, sort_keys=True)
        f.write("\n")
    print("recorded", name)


if __name__ == "__main__":
    for n in sys.argv[1:] or SCENARIOS:
        record(n)
