// .BTF.ext (tools/lib/bpf/btf.c btf_ext__new, libbpf_internal.h): per
// ELF section, func_info records (insn_off, type_id), line_info records
// (insn_off, file_name_off, line_off, line_col) and CO-RE relocation records.
// Offsets are in bytes within the section, as clang writes them; libbpf turns
// them into instruction indexes of each relocated program.

import { LibbpfError } from "./errors.ts";

/** struct bpf_func_info */
export interface FuncInfo {
  /** Instruction offset (bytes in .BTF.ext, instructions once relocated). */
  insnOff: number;
  /** BTF id of the FUNC. */
  typeId: number;
}

/** struct bpf_line_info */
export interface LineInfo {
  /** Instruction offset (bytes in .BTF.ext, instructions once relocated). */
  insnOff: number;
  /** String offset of the file name. */
  fileNameOff: number;
  /** String offset of the source line. */
  lineOff: number;
  /** line number << 10 | column */
  lineCol: number;
}

/** struct bpf_core_relo */
export interface CoreRelo {
  /** Byte offset of the instruction. */
  insnOff: number;
  /** Local BTF type id of the root type. */
  typeId: number;
  /** String offset of the access spec ("0:1:2"). */
  accessStrOff: number;
  /** enum bpf_core_relo_kind */
  kind: number;
}

/** The records of one ELF section. */
export interface ExtSec<T> {
  /** The ELF section's name. */
  readonly secName: string;
  /** Its records, in order. */
  readonly recs: T[];
}

/** A parsed .BTF.ext. */
export class BtfExt {
  /** func_info by section. */
  readonly funcInfo: ExtSec<FuncInfo>[] = [];
  /** line_info by section. */
  readonly lineInfo: ExtSec<LineInfo>[] = [];
  /** CO-RE relocations by section. */
  readonly coreRelo: ExtSec<CoreRelo>[] = [];
  /** Record sizes as found (func_info_rec_size, line_info_rec_size). */
  funcInfoRecSize = 8;
  /** line_info_rec_size */
  lineInfoRecSize = 16;

  /** btf_ext__new(): `str` resolves section-name offsets in the object's .BTF strings. */
  constructor(data: Uint8Array, str: (off: number) => string) {
    if (data.length < 24) throw new LibbpfError("BTF.ext header not found", "EINVAL");
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (dv.getUint16(0, true) !== 0xeb9f) throw new LibbpfError("Invalid BTF.ext magic", "EINVAL");
    const hdrLen = dv.getUint32(4, true);
    const seg = (off: number, len: number, minRec: number, read: (o: number) => unknown, out: ExtSec<any>[]) => {
      if (len === 0) return 0;
      const start = hdrLen + off;
      if (start + len > data.length || len < 4) throw new LibbpfError("BTF.ext info section out of bounds", "EINVAL");
      const recSize = dv.getUint32(start, true);
      if (recSize < minRec || recSize % 4) throw new LibbpfError(".BTF.ext info record size is wrong", "EINVAL");
      let o = start + 4;
      const end = start + len;
      while (o < end) {
        const secName = str(dv.getUint32(o, true));
        const n = dv.getUint32(o + 4, true);
        o += 8;
        if (o + n * recSize > end) throw new LibbpfError(".BTF.ext info section is truncated", "EINVAL");
        const recs: unknown[] = [];
        for (let i = 0; i < n; i++, o += recSize) recs.push(read(o));
        out.push({ secName, recs });
      }
      return recSize;
    };
    const u32 = (o: number) => dv.getUint32(o, true);
    this.funcInfoRecSize = seg(u32(8), u32(12), 8, (o) => ({ insnOff: u32(o), typeId: u32(o + 4) }), this.funcInfo) ||
      8;
    this.lineInfoRecSize = seg(
      u32(16),
      u32(20),
      16,
      (o) => ({ insnOff: u32(o), fileNameOff: u32(o + 4), lineOff: u32(o + 8), lineCol: u32(o + 12) }),
      this.lineInfo,
    ) || 16;
    if (hdrLen >= 32) {
      seg(
        u32(24),
        u32(28),
        16,
        (o) => ({ insnOff: u32(o), typeId: u32(o + 4), accessStrOff: u32(o + 8), kind: u32(o + 12) }),
        this.coreRelo,
      );
    }
  }
}

/** BPF_LINE_INFO_LINE_NUM() */
export function lineNum(lineCol: number): number {
  return lineCol >>> 10;
}

/** BPF_LINE_INFO_LINE_COL() */
export function lineColumn(lineCol: number): number {
  return lineCol & 0x3ff;
}
