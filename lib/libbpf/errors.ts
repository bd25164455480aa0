// libbpf's errors (tools/lib/bpf/libbpf.h enum libbpf_errno, and plain
// errno values): what bpf_object__open()/load() return, with the pr_warn()
// line libbpf prints for it.

import { E2BIG, EINVAL, ENOENT, ENOTSUPP, EOPNOTSUPP } from "../kernel/errno.ts";

/** enum libbpf_errno (tools/lib/bpf/libbpf.h), beyond the kernel's errno range. */
export const LIBBPF_ERRNO = {
  LIBBPF_ERRNO__LIBELF: 4000,
  LIBBPF_ERRNO__FORMAT: 4001,
  LIBBPF_ERRNO__KVERSION: 4002,
  LIBBPF_ERRNO__ENDIAN: 4003,
  LIBBPF_ERRNO__INTERNAL: 4004,
  LIBBPF_ERRNO__RELOC: 4005,
  LIBBPF_ERRNO__LOAD: 4006,
  LIBBPF_ERRNO__VERIFY: 4007,
  LIBBPF_ERRNO__PROG2BIG: 4008,
  LIBBPF_ERRNO__KVER: 4009,
  LIBBPF_ERRNO__PROGTYPE: 4010,
  LIBBPF_ERRNO__WRNGPID: 4011,
  LIBBPF_ERRNO__INVSEQ: 4012,
  LIBBPF_ERRNO__NLPARSE: 4013,
} as const;

/** A libbpf error name or a plain errno. */
export type LibbpfCode = keyof typeof LIBBPF_ERRNO | "EINVAL" | "ENOENT" | "ENOTSUP" | "EOPNOTSUPP" | "E2BIG" | "ESRCH";

const PLAIN: Record<string, number> = {
  EINVAL,
  ENOENT,
  ENOTSUP: EOPNOTSUPP,
  EOPNOTSUPP,
  E2BIG,
  ENOTSUPP,
  ESRCH: 3,
};

/** A failure of bpf_object__open() or bpf_object__load(): libbpf's warning line and its (positive) error number. */
export class LibbpfError extends Error {
  /** The positive error number (an errno or a LIBBPF_ERRNO__* value). */
  readonly errno: number;
  /** `message` is the line libbpf's pr_warn() prints (without the "libbpf: " prefix). */
  constructor(message: string, readonly code: LibbpfCode | number) {
    super(message);
    this.errno = typeof code === "number"
      ? code
      : (LIBBPF_ERRNO as Record<string, number>)[code] ?? PLAIN[code] ?? EINVAL;
  }
}
