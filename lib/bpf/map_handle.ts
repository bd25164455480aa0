// A typed convenience layer over bpf(2), in the spirit of cilium/ebpf's
// *ebpf.Map and libbpf's bpf_map__*: numbers and bigints as keys/values,
// iteration, and errors as exceptions carrying the errno.

import { ENOENT, errnoName, strerror } from "../kernel/errno.ts";
import type { MapCreateAttr, MapInfo, SysBpf } from "./syscall.ts";

/** A failed bpf(2) call seen through MapHandle. */
export class BpfError extends Error {
  /** `op` failed with `errno` (positive, e.g. ENOENT); the message names both. */
  constructor(readonly op: string, readonly errno: number) {
    super(`${op}: ${strerror(errno)} (${errnoName(errno)})`);
  }
}

/** Key or value as given to MapHandle: raw bytes, a number (u32/u64 LE) or a bigint (u64 LE). */
export type Datum = Uint8Array | number | bigint;

/** Encodes a datum into exactly `size` bytes (little endian for numbers). */
export function encode(d: Datum, size: number): Uint8Array {
  if (d instanceof Uint8Array) {
    if (d.length === size) return d;
    const out = new Uint8Array(size);
    out.set(d.subarray(0, size));
    return out;
  }
  const out = new Uint8Array(size);
  let v = typeof d === "bigint" ? d : BigInt(Math.trunc(d));
  for (let i = 0; i < size && i < 8; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Little-endian unsigned integer of up to 8 bytes. */
export function decodeU64(b: Uint8Array, off = 0, size = Math.min(8, b.length)): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[off + i]);
  return v;
}

/** An open map: an fd plus its geometry. */
export class MapHandle {
  private constructor(readonly sys: SysBpf, readonly fd: number, readonly info: MapInfo) {}

  /** Creates a map (BPF_MAP_CREATE); throws BpfError on failure. */
  static create(sys: SysBpf, attr: MapCreateAttr): MapHandle {
    const fd = sys.mapCreate(attr);
    if (fd < 0) throw new BpfError("map create", -fd);
    return MapHandle.fromFd(sys, fd);
  }

  /** Opens a pinned map (BPF_OBJ_GET). */
  static open(sys: SysBpf, path: string): MapHandle {
    const fd = sys.objGet(path);
    if (fd < 0) throw new BpfError(`bpf obj get (${path})`, -fd);
    return MapHandle.fromFd(sys, fd);
  }

  /** Wraps an fd the process already owns. */
  static fromFd(sys: SysBpf, fd: number): MapHandle {
    const info = sys.mapInfo(fd);
    if (typeof info === "number") throw new BpfError("map info", -info);
    return new MapHandle(sys, fd, info);
  }

  /** Bytes of one value as the syscall sees it (ncpu slots for per-CPU maps). */
  get valueBytes(): number {
    return this.sys.mapOf(this.fd)?.sysValueSize() ?? this.info.valueSize;
  }

  /** The key buffer for bpf(2): null when `k` is null or the map has no key (queue, stack), else `k` in key_size bytes. */
  private key(k: Datum | null): Uint8Array | null {
    // maps without keys (queue, stack) take a NULL key pointer
    return k === null || this.info.keySize === 0 ? null : encode(k, this.info.keySize);
  }

  /** BPF_MAP_UPDATE_ELEM; per-CPU maps take one value copied to every CPU unless given all. */
  update(key: Datum | null, value: Datum, flags = 0): void {
    let v = encode(value, this.info.valueSize);
    if (this.valueBytes !== this.info.valueSize) {
      const full = value instanceof Uint8Array && value.length === this.valueBytes ? value : null;
      if (full) v = full;
      else {
        const slot = (this.info.valueSize + 7) & ~7;
        const all = new Uint8Array(this.valueBytes);
        for (let off = 0; off < all.length; off += slot) all.set(v, off);
        v = all;
      }
    }
    const r = this.sys.mapUpdateElem(this.fd, this.key(key), v, flags);
    if (r < 0) throw new BpfError("update", -r);
  }

  /** BPF_MAP_LOOKUP_ELEM; undefined when absent. */
  lookup(key: Datum | null): Uint8Array | undefined {
    const out = new Uint8Array(this.valueBytes);
    const r = this.sys.mapLookupElem(this.fd, this.key(key), out);
    if (r === -ENOENT) return undefined;
    if (r < 0) throw new BpfError("lookup", -r);
    return out;
  }

  /** BPF_MAP_DELETE_ELEM; false when absent. */
  delete(key: Datum): boolean {
    const r = this.sys.mapDeleteElem(this.fd, this.key(key));
    if (r === -ENOENT) return false;
    if (r < 0) throw new BpfError("delete", -r);
    return true;
  }

  /** Keys in get_next_key order. */
  *keys(): Generator<Uint8Array> {
    let cur: Uint8Array | null = null;
    for (;;) {
      const next = new Uint8Array(this.info.keySize);
      const r = this.sys.mapGetNextKey(this.fd, cur, next);
      if (r === -ENOENT) return;
      if (r < 0) throw new BpfError("get next key", -r);
      yield next;
      cur = next;
    }
  }

  /** [key, value] pairs, skipping keys deleted meanwhile. */
  *entries(): Generator<[Uint8Array, Uint8Array]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v) yield [k, v];
    }
  }

  /** BPF_OBJ_PIN */
  pin(path: string): void {
    const r = this.sys.objPin(this.fd, path);
    if (r < 0) throw new BpfError(`pin ${path}`, -r);
  }

  /** BPF_MAP_FREEZE */
  freeze(): void {
    const r = this.sys.mapFreeze(this.fd);
    if (r < 0) throw new BpfError("freeze", -r);
  }

  /** Current info (memlock changes with dynamic maps). */
  refresh(): MapInfo {
    const info = this.sys.mapInfo(this.fd);
    if (typeof info === "number") throw new BpfError("map info", -info);
    return info;
  }

  /** close(fd) */
  close(): void {
    this.sys.close(this.fd);
  }
}
