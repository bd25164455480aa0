// Snapshots of a quiescent kernel: a generic object-graph codec. Objects are
// written once (shared references and cycles survive), class instances are
// recreated from a registry of constructors without running them, and the
// bytes of ArrayBuffers (simulated memory, lock tables) go to one binary
// blob. Functions cannot be saved: a quiescent kernel holds none, and meeting
// one is reported with its path so that the bug is found, not hidden.
//
// File layout: "BPFSIM\0\x01" | u32 LE json length | json | padding to 8 | blob

const MAGIC = new TextEncoder().encode("BPFSIM\0\x01");

type Ctor = { name: string; prototype: object };
const classes = new Map<string, Ctor>();

/**
 * The object model's version: bumped whenever a saved class gains, loses or
 * changes a field, so that a kernel saved by an older bpfsim is refused with
 * a clear message instead of coming back with fields missing.
 *   1: maps, bpffs, the kernel core
 *   2: programs, links, hooks, tracepoints, traces, task preemption
 */
export const SNAPSHOT_FORMAT = 2;

/** Registers classes whose instances may appear in a snapshot. */
export function snapshotClasses(...ctors: Ctor[]): void {
  for (const c of ctors) {
    const have = classes.get(c.name);
    if (have && have !== c) throw new Error(`two snapshot classes named ${c.name}`);
    classes.set(c.name, c);
  }
}

/** Raised when a value cannot be saved (a function, an unregistered class). */
export class SnapshotError extends Error {}

type Enc =
  | number
  | string
  | boolean
  | null
  | { u: 1 }
  | { f: string }
  | { n: string }
  | { r: number };

/**
 * A class may save a compact state instead of its fields: snapshotSave()
 * returns any saveable value, and snapshotLoad(v) rebuilds the instance
 * (created without its constructor) from it.
 */
export interface CustomSnapshot {
  /** The state to save (any saveable value); may throw SnapshotError to refuse. */
  snapshotSave(): unknown;
  /** Rebuilds the instance (made without its constructor) from what snapshotSave() returned. */
  snapshotLoad(state: unknown): void;
}

interface Node {
  /** Class name, or one of Object/Array/Map/Set/ArrayBuffer/typed array names. */
  c: string;
  /** Custom state (classes implementing CustomSnapshot). */
  s?: Enc;
  /** Own fields (objects). */
  p?: Record<string, Enc>;
  /** Elements (arrays), entries (Map), members (Set). */
  a?: Enc[];
  /** ArrayBuffer: blob offset and length. */
  o?: number;
  l?: number;
  /** Typed array: buffer ref, byte offset, element length. */
  b?: number;
}

const TYPED: Record<string, { new (b: ArrayBuffer, o: number, l: number): ArrayBufferView }> = {
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigUint64Array,
  BigInt64Array,
} as unknown as Record<string, { new (b: ArrayBuffer, o: number, l: number): ArrayBufferView }>;

/** Serialises the graph reachable from `root`. */
export function saveSnapshot(root: object): Uint8Array {
  const ids = new Map<object, number>();
  const nodes: Node[] = [];
  const buffers: ArrayBuffer[] = [];
  const offsets: number[] = [];
  let blobLen = 0;
  const stack: { obj: object; path: string }[] = [];

  const enc = (v: unknown, path: string): Enc => {
    switch (typeof v) {
      case "number":
        if (Number.isFinite(v) && !Object.is(v, -0)) return v;
        return { f: String(Object.is(v, -0) ? "-0" : v) };
      case "string":
      case "boolean":
        return v;
      case "undefined":
        return { u: 1 };
      case "bigint":
        return { n: v.toString() };
      case "function":
        throw new SnapshotError(`cannot save a function at ${path}`);
      case "symbol":
        throw new SnapshotError(`cannot save a symbol at ${path}`);
    }
    if (v === null) return null;
    const o = v as object;
    let id = ids.get(o);
    if (id === undefined) {
      id = nodes.length;
      ids.set(o, id);
      nodes.push({ c: "" });
      stack.push({ obj: o, path });
    }
    return { r: id };
  };

  enc(root, "root");
  while (stack.length) {
    const { obj, path } = stack.pop()!;
    const node = nodes[ids.get(obj)!];
    if (obj instanceof ArrayBuffer) {
      node.c = "ArrayBuffer";
      node.o = blobLen;
      node.l = obj.byteLength;
      buffers.push(obj);
      offsets.push(blobLen);
      blobLen += (obj.byteLength + 7) & ~7;
    } else if (ArrayBuffer.isView(obj)) {
      const ta = obj as ArrayBufferView & { length: number };
      node.c = obj.constructor.name;
      if (!TYPED[node.c]) throw new SnapshotError(`cannot save a ${node.c} at ${path}`);
      node.b = (enc(ta.buffer, `${path}.buffer`) as { r: number }).r;
      node.o = ta.byteOffset;
      node.l = ta.length;
    } else if (Array.isArray(obj)) {
      node.c = "Array";
      // holes of sparse arrays (tables indexed by id) come back as undefined, not null
      node.a = Array.from(obj, (x, i) => enc(x, `${path}[${i}]`));
    } else if (obj instanceof Map) {
      node.c = "Map";
      node.a = [];
      let i = 0;
      for (const [k, x] of obj) {
        node.a.push(enc(k, `${path}<key ${i}>`), enc(x, `${path}<${String(k)}>`));
        i++;
      }
    } else if (obj instanceof Set) {
      node.c = "Set";
      node.a = [...obj].map((x, i) => enc(x, `${path}{${i}}`));
    } else {
      const proto = Object.getPrototypeOf(obj);
      const name = proto === Object.prototype || proto === null ? "Object" : proto.constructor.name;
      if (name !== "Object" && classes.get(name)?.prototype !== proto) {
        throw new SnapshotError(`class ${name} is not registered for snapshots (at ${path})`);
      }
      node.c = name;
      const custom = (obj as Partial<CustomSnapshot>).snapshotSave;
      if (typeof custom === "function") {
        node.s = enc(custom.call(obj), `${path}<state>`);
        continue;
      }
      node.p = {};
      for (const key of Object.keys(obj)) {
        node.p[key] = enc((obj as Record<string, unknown>)[key], `${path}.${key}`);
      }
    }
  }

  const json = new TextEncoder().encode(JSON.stringify({ v: SNAPSHOT_FORMAT, nodes }));
  const head = MAGIC.length + 4;
  const jsonEnd = head + json.length;
  const blobStart = (jsonEnd + 7) & ~7;
  const out = new Uint8Array(blobStart + blobLen);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, head);
  buffers.forEach((b, i) => out.set(new Uint8Array(b), blobStart + offsets[i]));
  return out;
}

/** Rebuilds the graph saved by saveSnapshot; throws SnapshotError on damage. */
export function loadSnapshot<T>(data: Uint8Array): T {
  if (data.length < MAGIC.length + 4 || !MAGIC.every((b, i) => data[i] === b)) {
    throw new SnapshotError("not a bpfsim state file (bad magic)");
  }
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const jsonLen = dv.getUint32(MAGIC.length, true);
  const head = MAGIC.length + 4;
  if (head + jsonLen > data.length) throw new SnapshotError("truncated state file");
  let parsed: { v: number; nodes: Node[] };
  try {
    parsed = JSON.parse(new TextDecoder().decode(data.subarray(head, head + jsonLen)));
  } catch (e) {
    throw new SnapshotError(`damaged state file: ${(e as Error).message}`);
  }
  if (!Array.isArray(parsed.nodes)) throw new SnapshotError("damaged state file: no object table");
  if (parsed.v !== SNAPSHOT_FORMAT) {
    throw new SnapshotError(
      `the state file was written by another bpfsim version (format ${parsed.v}; this one reads format ${SNAPSHOT_FORMAT})`,
    );
  }
  const blobStart = (head + jsonLen + 7) & ~7;
  const nodes = parsed.nodes;
  const objs: unknown[] = new Array(nodes.length);

  // pass 1: allocate every object (buffers first so that views can wrap them)
  const make = (i: number): unknown => {
    if (objs[i] !== undefined) return objs[i];
    const n = nodes[i];
    if (!n) throw new SnapshotError(`damaged state file: dangling reference ${i}`);
    let o: unknown;
    switch (n.c) {
      case "ArrayBuffer": {
        if (blobStart + n.o! + n.l! > data.length) throw new SnapshotError("truncated state file (blob)");
        const buf = new ArrayBuffer(n.l!);
        new Uint8Array(buf).set(data.subarray(blobStart + n.o!, blobStart + n.o! + n.l!));
        o = buf;
        break;
      }
      case "Array":
        o = new Array(n.a!.length);
        break;
      case "Map":
        o = new Map();
        break;
      case "Set":
        o = new Set();
        break;
      case "Object":
        o = {};
        break;
      default: {
        const T = TYPED[n.c];
        if (T) {
          const buf = make(n.b!) as ArrayBuffer;
          o = new T(buf, n.o!, n.l!);
          break;
        }
        const C = classes.get(n.c);
        if (!C) throw new SnapshotError(`state file names an unknown class ${n.c}`);
        o = Object.create(C.prototype);
      }
    }
    objs[i] = o;
    return o;
  };
  for (let i = 0; i < nodes.length; i++) make(i);

  const dec = (e: Enc): unknown => {
    if (e === null || typeof e !== "object") return e;
    if ("r" in e) {
      if (objs[e.r] === undefined) throw new SnapshotError(`damaged state file: dangling reference ${e.r}`);
      return objs[e.r];
    }
    if ("u" in e) return undefined;
    if ("n" in e) return BigInt(e.n);
    if ("f" in e) return e.f === "-0" ? -0 : Number(e.f);
    throw new SnapshotError("damaged state file: bad value");
  };

  // pass 2: fill fields and elements; custom states last, when what they refer to is complete
  const customs: number[] = [];
  nodes.forEach((n, i) => {
    const o = objs[i];
    if (n.s !== undefined) {
      customs.push(i);
      return;
    }
    switch (n.c) {
      case "Array":
        n.a!.forEach((x, j) => ((o as unknown[])[j] = dec(x)));
        break;
      case "Map":
        for (let j = 0; j < n.a!.length; j += 2) (o as Map<unknown, unknown>).set(dec(n.a![j]), dec(n.a![j + 1]));
        break;
      case "Set":
        for (const x of n.a!) (o as Set<unknown>).add(dec(x));
        break;
      default:
        if (n.p) {
          const rec = o as Record<string, unknown>;
          for (const key in n.p) rec[key] = dec(n.p[key]);
        }
    }
  });
  for (const i of customs) (objs[i] as CustomSnapshot).snapshotLoad(dec(nodes[i].s!));
  return objs[0] as T;
}
