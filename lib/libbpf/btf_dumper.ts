// bpftool's btf_dumper.c: a map key or value shown through its BTF type,
// the `formatted` part of `map dump`/`map lookup` for maps that carry BTF.
// Integers by size and signedness (%llu, %d, ...), chars as strings or hex,
// bools, enums by name, bitfields and 128-bit integers as hex, char arrays
// that hold a C string as strings, structs and unions by member name,
// arrays, pointers (plain text as %p, JSON as a number), typedefs and
// modifiers looked through, VARs and DATASECs (global data maps) by name.
// The result is a tree of JSON tokens, so a writer can print it compact or
// pretty, plain or -j, as bpftool's json_writer does.

import {
  Btf,
  BTF_INT_BOOL,
  BTF_INT_CHAR,
  BTF_INT_SIGNED,
  BTF_KIND,
  btfIntBits,
  btfIntEncoding,
  btfIntOffset,
} from "./btf.ts";

/** A JSON value as bpftool's json_writer emits it: raw tokens keep their exact text (u64s stay exact). */
export type BtfJson =
  | { readonly raw: string }
  | { readonly str: string }
  | { readonly arr: BtfJson[] }
  | { readonly obj: [string, BtfJson][] };

function u64(data: Uint8Array, off: number, n: number): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[off + i] ?? 0);
  return v;
}

/** btf_dumper_bitfield(): `nrBits` bits at bit `bitOff` of `data[off..]`, printed as hex. */
function bitfield(data: Uint8Array, off: number, bitOff: number, nrBits: number, plain: boolean): BtfJson {
  const bytes = Math.ceil((bitOff + nrBits) / 8);
  const v = (u64(data, off, Math.min(bytes, 16)) >> BigInt(bitOff)) & ((1n << BigInt(nrBits)) - 1n);
  const text = `0x${v.toString(16)}`;
  return plain ? { raw: text } : { raw: JSON.stringify(text) };
}

/** btf_dumper_type(): the value of type `id` at `data[off..]`; `plain` for bpftool's plain-text output. */
export function btfDump(btf: Btf, id: number, data: Uint8Array, off = 0, plain = false, bitOff = 0): BtfJson {
  const t = btf.type(id);
  if (!t) return { raw: "(unknown)" };
  switch (t.kind) {
    case BTF_KIND.INT: {
      const bits = btfIntBits(t), enc = btfIntEncoding(t), toff = btfIntOffset(t) + bitOff;
      if (toff || bits % 8) return bitfield(data, off + (toff >> 3), toff & 7, bits, plain);
      if (bits === 128) {
        const lo = u64(data, off, 8), hi = u64(data, off + 8, 8);
        const text = hi ? `0x${hi.toString(16)}${lo.toString(16).padStart(16, "0")}` : `0x${lo.toString(16)}`;
        return plain ? { raw: text } : { raw: JSON.stringify(text) };
      }
      const n = bits / 8;
      const v = u64(data, off, n);
      if (enc === BTF_INT_BOOL) return { raw: v !== 0n ? "true" : "false" };
      if (enc === BTF_INT_CHAR) {
        const c = Number(v & 0xffn);
        if (c >= 0x20 && c < 0x7f) return { str: String.fromCharCode(c) };
        return plain ? { raw: `0x${c.toString(16)}` } : { raw: `"\\u00${c.toString(16).padStart(2, "0")}"` };
      }
      if (enc === BTF_INT_SIGNED) return { raw: BigInt.asIntN(bits, v).toString() };
      return { raw: v.toString() };
    }
    case BTF_KIND.STRUCT:
    case BTF_KIND.UNION: {
      const fields: [string, BtfJson][] = [];
      for (const m of t.members) {
        const bo = t.kflag ? m.offset & 0xffffff : m.offset;
        const bsz = t.kflag ? m.offset >>> 24 : 0;
        const name = btf.str(m.nameOff);
        if (bsz) fields.push([name, bitfield(data, off + (bo >> 3), bo & 7, bsz, plain)]);
        else fields.push([name, btfDump(btf, m.type, data, off + (bo >> 3), plain, bo & 7)]);
      }
      return { obj: fields };
    }
    case BTF_KIND.ARRAY: {
      const a = t.array!;
      // a char array holding a NUL-terminated printable string prints as one
      let et = btf.type(a.type);
      while (et && (et.kind === BTF_KIND.VOLATILE || et.kind === BTF_KIND.CONST || et.kind === BTF_KIND.RESTRICT)) {
        et = btf.type(et.sizeOrType);
      }
      if (
        a.nelems && et && et.kind === BTF_KIND.INT && et.sizeOrType === 1 &&
        (btfIntEncoding(et) === BTF_INT_CHAR || btf.str(et.nameOff) === "char")
      ) {
        let s = "";
        for (let i = 0; i < a.nelems; i++) {
          const c = data[off + i] ?? 0;
          if (c === 0) return { str: s };
          if (c <= 0x1f || c >= 0x7f) break;
          s += String.fromCharCode(c);
        }
      }
      const esz = btf.resolveSize(a.type);
      const items: BtfJson[] = [];
      for (let i = 0; i < a.nelems; i++) items.push(btfDump(btf, a.type, data, off + i * esz, plain));
      return { arr: items };
    }
    case BTF_KIND.ENUM:
    case BTF_KIND.ENUM64: {
      const size = t.sizeOrType;
      const v = t.kind === BTF_KIND.ENUM ? BigInt.asIntN(size * 8, u64(data, off, size)) : u64(data, off, 8);
      for (const e of t.members) {
        const ev = t.kind === BTF_KIND.ENUM ? BigInt(e.offset | 0) : (BigInt(e.size) << 32n) | BigInt(e.offset >>> 0);
        if (ev === v) return { str: btf.str(e.nameOff) };
      }
      return { raw: v.toString() };
    }
    case BTF_KIND.PTR: {
      const v = u64(data, off, 8);
      // plain text: printf("%p"), which glibc prints as (nil) for NULL
      return plain ? { raw: JSON.stringify(v === 0n ? "(nil)" : `0x${v.toString(16)}`) } : { raw: v.toString() };
    }
    case BTF_KIND.TYPEDEF:
    case BTF_KIND.VOLATILE:
    case BTF_KIND.CONST:
    case BTF_KIND.RESTRICT:
    case BTF_KIND.TYPE_TAG:
      return btfDump(btf, btf.skipModsAndTypedefsId(id), data, off, plain, bitOff);
    case BTF_KIND.VAR:
      return { obj: [[btf.str(t.nameOff), btfDump(btf, t.sizeOrType, data, off, plain, bitOff)]] };
    case BTF_KIND.DATASEC:
      return {
        obj: [[btf.str(t.nameOff), { arr: t.members.map((v) => btfDump(btf, v.type, data, off + v.offset, plain)) }]],
      };
    case BTF_KIND.FWD:
      return { raw: "(fwd-kind-invalid)" };
    default:
      return { raw: "(unsupported-kind)" };
  }
}

/** Compact JSON text of a dumped value (jsonw without pretty printing). */
export function btfJsonText(v: BtfJson): string {
  if ("raw" in v) return v.raw;
  if ("str" in v) return JSON.stringify(v.str);
  if ("arr" in v) return `[${v.arr.map(btfJsonText).join(",")}]`;
  return `{${v.obj.map(([k, x]) => `${JSON.stringify(k)}:${btfJsonText(x)}`).join(",")}}`;
}
