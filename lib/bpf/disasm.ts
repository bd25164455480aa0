// kernel/bpf/disasm.c print_bpf_insn(), and what bpftool's xlated_dumper.c
// and btf_dumper.c print around it for `prog dump xlated`: the instruction
// index, the function signature from func_info, the source line from
// line_info (with `linum`, its file and position), and `opcodes`. The
// callbacks are bpftool's: helper calls named by kallsyms, map references
// as map[id:N] / map[id:N][0]+off, bpf-to-bpf calls as pc-relative offsets.

import { Btf, BTF_KIND, BTF_VAR_STATIC, type BtfType } from "../libbpf/btf.ts";
import { type FuncInfo, lineColumn, type LineInfo, lineNum } from "../libbpf/btf_ext.ts";
import {
  BPF_ABS,
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_ATOMIC,
  BPF_CALL,
  BPF_CMPXCHG,
  BPF_DW,
  BPF_END,
  BPF_EXIT,
  BPF_FETCH,
  BPF_FUNC_MAX_ID,
  BPF_IMM,
  BPF_IND,
  BPF_JA,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LDX,
  BPF_MEM,
  BPF_MEMSX,
  BPF_NEG,
  BPF_OR,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_PSEUDO_MAP_VALUE,
  BPF_ST,
  BPF_STX,
  BPF_TO_BE,
  BPF_X,
  BPF_XCHG,
  BPF_XOR,
  bpfClass,
  type BpfInsn,
  bpfMode,
  bpfOp,
  bpfSize,
  bpfSrc,
  funcIdName,
  LD_IMM64,
} from "./uapi_insn.ts";

const CLASS = ["ld", "ldx", "st", "stx", "alu", "jmp", "jmp32", "alu64"];
const ALU = ["+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>=", "endian"];
const ALU_SIGN: Record<number, string> = { 3: "s/=", 9: "s%=" };
const MOVSX: Record<number, string> = { 0: "(s8)", 1: "(s16)", 3: "(s32)" };
const ATOMIC_ALU: Record<number, string> = { 0: "add", 5: "and", 4: "or", 10: "xor" };
const LDST = ["u32", "u16", "u8", "u64"];
const LDSX = ["s32", "s16", "s8"];
const JMP = ["jmp", "==", ">", ">=", "&", "!=", "s>", "s>=", "call", "exit", "<", "<=", "s<", "s<="];

/** struct bpf_insn_cbs: how names and immediates are printed. */
export interface InsnCallbacks {
  /** cb_call: the name of a call target (null: the default); `insn` is the call. */
  call?(insn: BpfInsn): string | null;
  /** cb_imm: the text of a ld_imm64's value (`insn` and the one after it). */
  imm?(insn: BpfInsn, next: BpfInsn, fullImm: bigint): string;
}

function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, "0");
}

function signed(n: number): string {
  return n >= 0 ? `+${n}` : `${n}`;
}

/** __func_get_name() */
function funcGetName(cbs: InsnCallbacks, x: BpfInsn): string {
  if (!x.src && x.imm >= 0 && x.imm < BPF_FUNC_MAX_ID) return funcIdName(x.imm);
  const r = cbs.call?.(x);
  if (r) return r;
  if (x.src === BPF_PSEUDO_CALL) return signed(x.imm);
  if (x.src === BPF_PSEUDO_KFUNC_CALL) return "kernel-function";
  return "unknown";
}

/** print_bpf_insn(): one instruction (without the index and the newline). `next` is the second half of a ld_imm64. */
export function printBpfInsn(
  x: BpfInsn,
  next: BpfInsn | undefined,
  cbs: InsnCallbacks = {},
  allowPtrLeaks = true,
): string {
  const cls = bpfClass(x.code);
  const c = `(${hex2(x.code)})`;
  const w = cls === BPF_ALU ? "w" : "r";
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    const op = bpfOp(x.code);
    if (op === BPF_END) {
      if (cls === BPF_ALU64) return `${c} r${x.dst} = bswap${x.imm} r${x.dst}`;
      return `${c} r${x.dst} = ${bpfSrc(x.code) === BPF_TO_BE ? "be" : "le"}${x.imm} r${x.dst}`;
    }
    if (op === BPF_NEG) return `${c} ${w}${x.dst} = -${w}${x.dst}`;
    if (x.code === (BPF_ALU64 | 0xb0 | BPF_X) && x.off === 1) {
      return `${c} r${x.dst} = addr_space_cast(r${x.src}, ${(x.imm >>> 16) & 0xffff}, ${x.imm & 0xffff})`;
    }
    const sdivmod = (op === 0x30 || op === 0x90) && x.off === 1;
    const opStr = sdivmod ? ALU_SIGN[op >> 4] : ALU[op >> 4];
    if (bpfSrc(x.code) === BPF_X) {
      const movsx = op === 0xb0 && (x.off === 8 || x.off === 16 || x.off === 32) ? MOVSX[(x.off >> 3) - 1] : "";
      return `${c} ${w}${x.dst} ${opStr} ${movsx}${w}${x.src}`;
    }
    return `${c} ${w}${x.dst} ${opStr} ${x.imm}`;
  }
  if (cls === BPF_STX) {
    const sz = LDST[bpfSize(x.code) >> 3];
    if (bpfMode(x.code) === BPF_MEM) return `${c} *(${sz} *)(r${x.dst} ${signed(x.off)}) = r${x.src}`;
    if (bpfMode(x.code) === BPF_ATOMIC) {
      const i = x.imm;
      const dw = bpfSize(x.code) === BPF_DW ? "64" : "";
      if (i === BPF_ADD || i === BPF_AND || i === BPF_OR || i === BPF_XOR) {
        return `${c} lock *(${sz} *)(r${x.dst} ${signed(x.off)}) ${ALU[i >> 4]} r${x.src}`;
      }
      if (
        i === (BPF_ADD | BPF_FETCH) || i === (BPF_AND | BPF_FETCH) || i === (BPF_OR | BPF_FETCH) ||
        i === (BPF_XOR | BPF_FETCH)
      ) {
        return `${c} r${x.src} = atomic${dw}_fetch_${ATOMIC_ALU[i >> 4]}((${sz} *)(r${x.dst} ${
          signed(x.off)
        }), r${x.src})`;
      }
      if (i === BPF_CMPXCHG) {
        return `${c} r0 = atomic${dw}_cmpxchg((${sz} *)(r${x.dst} ${signed(x.off)}), r0, r${x.src})`;
      }
      if (i === BPF_XCHG) return `${c} r${x.src} = atomic${dw}_xchg((${sz} *)(r${x.dst} ${signed(x.off)}), r${x.src})`;
      if (i === 0x100) return `${c} r${x.dst} = load_acquire((${sz} *)(r${x.src} ${signed(x.off)}))`;
      if (i === 0x110) return `${c} store_release((${sz} *)(r${x.dst} ${signed(x.off)}), r${x.src})`;
    }
    return `BUG_${hex2(x.code)}`;
  }
  if (cls === BPF_ST) {
    if (bpfMode(x.code) === BPF_MEM) {
      return `${c} *(${LDST[bpfSize(x.code) >> 3]} *)(r${x.dst} ${signed(x.off)}) = ${x.imm}`;
    }
    if (bpfMode(x.code) === 0xc0) return `${c} nospec`;
    return `BUG_st_${hex2(x.code)}`;
  }
  if (cls === BPF_LDX) {
    const mode = bpfMode(x.code);
    if (mode !== BPF_MEM && mode !== BPF_MEMSX) return `BUG_ldx_${hex2(x.code)}`;
    const sz = mode === BPF_MEM ? LDST[bpfSize(x.code) >> 3] : LDSX[bpfSize(x.code) >> 3];
    return `${c} r${x.dst} = *(${sz} *)(r${x.src} ${signed(x.off)})`;
  }
  if (cls === BPF_LD) {
    const mode = bpfMode(x.code);
    if (mode === BPF_ABS) return `${c} r0 = *(${LDST[bpfSize(x.code) >> 3]} *)skb[${x.imm}]`;
    if (mode === BPF_IND) return `${c} r0 = *(${LDST[bpfSize(x.code) >> 3]} *)skb[r${x.src} + ${x.imm}]`;
    if (mode === BPF_IMM && bpfSize(x.code) === BPF_DW) {
      const n = next ?? { code: 0, dst: 0, src: 0, off: 0, imm: 0 };
      let imm = (BigInt(n.imm >>> 0) << 32n) | BigInt(x.imm >>> 0);
      const isPtr = x.src === BPF_PSEUDO_MAP_FD || x.src === BPF_PSEUDO_MAP_VALUE;
      if (isPtr && !allowPtrLeaks) imm = 0n;
      const s = cbs.imm ? cbs.imm(x, n, imm) : `0x${imm.toString(16)}`;
      return `${c} r${x.dst} = ${s}`;
    }
    return `BUG_ld_${hex2(x.code)}`;
  }
  if (cls === BPF_JMP || cls === BPF_JMP32) {
    const op = bpfOp(x.code);
    if (op === BPF_CALL) {
      if (x.src === BPF_PSEUDO_CALL) return `${c} call pc${funcGetName(cbs, x)}`;
      return `${c} call ${funcGetName(cbs, x)}#${x.imm}`;
    }
    if (x.code === (BPF_JMP | BPF_JA)) return `${c} goto pc${signed(x.off)}`;
    if (x.code === (BPF_JMP | 0xe0) && x.src === 0) return `${c} may_goto pc${signed(x.off)}`;
    if (x.code === (BPF_JMP32 | BPF_JA)) return `${c} gotol pc${signed(x.imm)}`;
    if (x.code === (BPF_JMP | BPF_EXIT)) return `${c} exit`;
    const r = cls === BPF_JMP32 ? "w" : "r";
    if (bpfSrc(x.code) === BPF_X) {
      return `${c} if ${r}${x.dst} ${JMP[op >> 4]} ${r}${x.src} goto pc${signed(x.off)}`;
    }
    return `${c} if ${r}${x.dst} ${JMP[op >> 4]} 0x${(x.imm >>> 0).toString(16)} goto pc${signed(x.off)}`;
  }
  return `${c} ${CLASS[cls]}`;
}

/** The verifier log's form of instruction `i` (kernel callbacks: plain immediates). */
export function disasmInsn(insns: readonly BpfInsn[], i: number): string {
  return printBpfInsn(insns[i], insns[i + 1]);
}

/** How bpftool resolves what the kernel reports (kallsyms, jited ksyms), for the callbacks. */
export interface DumpContext {
  /** The kernel symbol at __bpf_call_base + imm of a helper call (kallsyms), or null. */
  helperSymbol?(imm: number): string | null;
  /** jited_ksyms of bpf-to-bpf callees (absent for interpreted programs). */
  jitedKsyms?: readonly string[];
  /** The program's BTF (func and line info refer to it), or null. */
  btf?: Btf | null;
  /** bpf_func_info records (insn_off in instructions). */
  funcInfo?: readonly FuncInfo[];
  /** bpf_line_info records (insn_off in instructions). */
  lineInfo?: readonly LineInfo[];
}

/** bpftool's print_call()/print_imm() callbacks for a program. */
export function bpftoolCallbacks(ctx: DumpContext): InsnCallbacks {
  return {
    call(x) {
      if (x.src === BPF_PSEUDO_CALL) {
        // print_call_pcrel(): interpreted programs show only the offset
        if (!ctx.jitedKsyms?.length) return signed(x.off);
        const sym = ctx.jitedKsyms[x.imm];
        return sym ? `${signed(x.off)}#${sym}` : signed(x.off);
      }
      const sym = ctx.helperSymbol?.(x.imm) ?? null;
      return sym ?? `0x${(x.imm >>> 0).toString(16)}`;
    },
    imm(x, n, full) {
      if (x.src === BPF_PSEUDO_MAP_FD) return `map[id:${x.imm}]`;
      if (x.src === BPF_PSEUDO_MAP_VALUE) return `map[id:${x.imm}][0]+${n.imm}`;
      if (x.src === BPF_PSEUDO_MAP_IDX_VALUE) return `map[idx:${x.imm}]+${n.imm}`;
      if (x.src === BPF_PSEUDO_FUNC) return `subprog[${signed(x.imm)}]`;
      return `0x${full.toString(16)}`;
    },
  };
}

/** btf_dumper_type_only(): a type as C text ("int func(struct pt_regs * ctx)"), "" when not printable. */
export function btfTypeOnly(btf: Btf, id: number): string {
  const out: string[] = [];
  const ok = typeOnly(btf, id, out);
  return ok ? out.join("") : "";
}

function typeOnly(btf: Btf, id: number, out: string[]): boolean {
  if (!id) {
    out.push("void ");
    return true;
  }
  const t = btf.type(id);
  if (!t) return false;
  const name = btf.str(t.nameOff);
  switch (t.kind) {
    case BTF_KIND.INT:
    case BTF_KIND.TYPEDEF:
    case BTF_KIND.FLOAT:
      out.push(`${name} `);
      return true;
    case BTF_KIND.STRUCT:
      out.push(`struct ${name} `);
      return true;
    case BTF_KIND.UNION:
      out.push(`union ${name} `);
      return true;
    case BTF_KIND.ENUM:
    case BTF_KIND.ENUM64:
      out.push(`enum ${name} `);
      return true;
    case BTF_KIND.ARRAY:
      if (!typeOnly(btf, t.array!.type, out)) return false;
      out.push(`[${t.array!.nelems}]`);
      return true;
    case BTF_KIND.PTR:
      if (!typeOnly(btf, t.sizeOrType, out)) return false;
      out.push("* ");
      return true;
    case BTF_KIND.FWD:
      out.push(`${t.kflag ? "union" : "struct"} ${name} `);
      return true;
    case BTF_KIND.VOLATILE:
      out.push("volatile ");
      return typeOnly(btf, t.sizeOrType, out);
    case BTF_KIND.CONST:
      out.push("const ");
      return typeOnly(btf, t.sizeOrType, out);
    case BTF_KIND.RESTRICT:
      out.push("restrict ");
      return typeOnly(btf, t.sizeOrType, out);
    case BTF_KIND.FUNC_PROTO:
      return dumpFunc(btf, t, null, out);
    case BTF_KIND.FUNC: {
      const proto = btf.type(t.sizeOrType);
      return !!proto && dumpFunc(btf, proto, t, out);
    }
    case BTF_KIND.VAR:
      if (t.linkage === BTF_VAR_STATIC) out.push("static ");
      if (!typeOnly(btf, t.sizeOrType, out)) return false;
      out.push(` ${name}`);
      return true;
    case BTF_KIND.DATASEC:
      out.push(`section ("${name}") `);
      return true;
    default:
      return false;
  }
}

/** btf_dump_func() */
function dumpFunc(btf: Btf, proto: BtfType, func: BtfType | null, out: string[]): boolean {
  if (!typeOnly(btf, proto.sizeOrType, out)) return false;
  out.push(func ? `${btf.str(func.nameOff)}(` : "(");
  proto.members.forEach((p, i) => {
    if (i) out.push(", ");
    if (p.type) {
      typeOnly(btf, p.type, out);
      if (p.nameOff) out.push(btf.str(p.nameOff));
      else {
        // no parameter name: drop the space the type left
        const last = out.length - 1;
        if (out[last].endsWith(" ")) out[last] = out[last].slice(0, -1);
      }
    } else out.push("...");
  });
  out.push(")");
  return true;
}

/** bpf_prog_linfo__lfind(): the line info for `insnOff` starting at record `nrSkip`, or null. */
export function lfind(lines: readonly LineInfo[], insnOff: number, nrSkip: number): LineInfo | null {
  if (nrSkip >= lines.length) return null;
  if (insnOff < lines[nrSkip].insnOff) return null;
  let i = nrSkip;
  for (; i < lines.length; i++) if (insnOff < lines[i].insnOff) break;
  return lines[i - 1];
}

/** Options of `prog dump xlated`. */
export interface XlatedOpts {
  /** `opcodes`: the raw bytes under each instruction. */
  opcodes?: boolean;
  /** `linum`: file, line and column of each source line. */
  linum?: boolean;
}

function fprintHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

function insnBytes(x: BpfInsn): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  b[0] = x.code;
  b[1] = (x.dst & 0xf) | ((x.src & 0xf) << 4);
  dv.setInt16(2, x.off, true);
  dv.setInt32(4, x.imm, true);
  return b;
}

/** dump_xlated_plain(): bpftool's text, one string with a newline after every line. */
export function dumpXlatedPlain(insns: readonly BpfInsn[], ctx: DumpContext, opts: XlatedOpts = {}): string {
  const cbs = bpftoolCallbacks(ctx);
  const btf = ctx.btf ?? null;
  const funcs = ctx.funcInfo ?? [];
  const lines = ctx.lineInfo ?? [];
  let rec = 0;
  let nrSkip = 0;
  let doubleInsn = false;
  const out: string[] = [];
  for (let i = 0; i < insns.length; i++) {
    if (doubleInsn) {
      doubleInsn = false;
      continue;
    }
    if (btf && rec < funcs.length && funcs[rec].insnOff === i) {
      const sig = btfTypeOnly(btf, funcs[rec].typeId);
      if (sig) out.push(`${sig}:\n`);
      rec++;
    }
    if (btf && lines.length) {
      const l = lfind(lines, i, nrSkip);
      if (l) {
        out.push(linfoPlain(btf, l, "; ", opts.linum ?? false));
        nrSkip++;
      }
    }
    doubleInsn = insns[i].code === LD_IMM64;
    out.push(`${String(i).padStart(4)}: ${printBpfInsn(insns[i], insns[i + 1], cbs)}\n`);
    if (opts.opcodes) {
      let s = `       ${fprintHex(insnBytes(insns[i]))}`;
      if (doubleInsn && i < insns.length - 1) s += ` ${fprintHex(insnBytes(insns[i + 1]))}`;
      out.push(s + "\n");
    }
  }
  return out.join("");
}

/** btf_dump_linfo_plain() */
function linfoPlain(btf: Btf, l: LineInfo, prefix: string, linum: boolean): string {
  const line = btf.str(l.lineOff).replace(/^\s+/, "");
  if (linum) {
    const file = btf.str(l.fileNameOff);
    return `${prefix}${line} [file:${file} line_num:${lineNum(l.lineCol)} line_col:${lineColumn(l.lineCol)}]\n`;
  }
  return `${prefix}${line}\n`;
}

/** One element of dump_xlated_json()'s array. */
export interface XlatedJsonInsn {
  /** "proto": the function signature at a function's first instruction. */
  proto?: string;
  /** "src": the source line. */
  src?: string;
  /** "file" (linum) */
  file?: string;
  /** "line_num" (linum) */
  line_num?: number;
  /** "line_col" (linum) */
  line_col?: number;
  /** "disasm": the instruction. */
  disasm: string;
  /** "opcodes" */
  opcodes?: { code: string; src_reg: string; dst_reg: string; off: string[]; imm: string[] };
}

/** dump_xlated_json(): the array bpftool prints with -j (in its key order). */
export function dumpXlatedJson(insns: readonly BpfInsn[], ctx: DumpContext, opts: XlatedOpts = {}): XlatedJsonInsn[] {
  const cbs = bpftoolCallbacks(ctx);
  const btf = ctx.btf ?? null;
  const funcs = ctx.funcInfo ?? [];
  const lines = ctx.lineInfo ?? [];
  let rec = 0, nrSkip = 0;
  let doubleInsn = false;
  const out: XlatedJsonInsn[] = [];
  for (let i = 0; i < insns.length; i++) {
    if (doubleInsn) {
      doubleInsn = false;
      continue;
    }
    doubleInsn = insns[i].code === LD_IMM64;
    const o: Partial<XlatedJsonInsn> = {};
    if (btf && rec < funcs.length && funcs[rec].insnOff === i) {
      const sig = btfTypeOnly(btf, funcs[rec].typeId);
      if (sig) o.proto = sig;
      rec++;
    }
    if (btf && lines.length) {
      const l = lfind(lines, i, nrSkip);
      if (l) {
        o.src = btf.str(l.lineOff).replace(/^\s+/, "");
        if (opts.linum) {
          o.file = btf.str(l.fileNameOff);
          if (lineNum(l.lineCol)) o.line_num = lineNum(l.lineCol);
          if (lineColumn(l.lineCol)) o.line_col = lineColumn(l.lineCol);
        }
        nrSkip++;
      }
    }
    o.disasm = printBpfInsn(insns[i], insns[i + 1], cbs);
    if (opts.opcodes) {
      const b = insnBytes(insns[i]);
      const hx = (a: Uint8Array) => [...a].map((v) => `0x${v.toString(16).padStart(2, "0")}`);
      const immBytes = doubleInsn && i < insns.length - 1
        ? new Uint8Array([...b.subarray(4, 8), ...insnBytes(insns[i + 1])])
        : b.subarray(4, 8);
      o.opcodes = {
        code: `0x${b[0].toString(16).padStart(2, "0")}`,
        src_reg: `0x${insns[i].src.toString(16)}`,
        dst_reg: `0x${insns[i].dst.toString(16)}`,
        off: hx(b.subarray(2, 4)),
        imm: hx(immBytes),
      };
    }
    out.push(o as XlatedJsonInsn);
  }
  return out;
}

/** The kernel side of BPF_OBJ_GET_INFO_BY_FD xlated_prog_insns (bpf_insn_prepare_dump()): map pointers become ids. */
export function prepareDump(
  insns: readonly BpfInsn[],
  mapOf: (insnIdx: number) => { id: number; off: number; value: boolean } | null,
): BpfInsn[] {
  const out = insns.map((x) => ({ ...x }));
  for (let i = 0; i < out.length; i++) {
    const x = out[i];
    if (x.code !== LD_IMM64) continue;
    const m = mapOf(i);
    if (m) {
      x.src = m.value ? BPF_PSEUDO_MAP_VALUE : BPF_PSEUDO_MAP_FD;
      x.imm = m.id;
      out[i + 1].imm = m.off;
    }
    i++;
  }
  return out;
}

void BPF_CALL;
