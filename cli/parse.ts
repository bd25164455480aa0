// The C library pieces bpftool's argument parsing leans on: glibc 2.36
// strtoul() (base 0 / 16, leading blanks, a sign, "0x" prefix, no "0b"),
// is_prefix() from main.c, and dirname() from libgen.h.

const U64_MAX = (1n << 64n) - 1n;

/** isspace() in the C locale. */
function isSpace(c: string): boolean {
  return c === " " || c === "\t" || c === "\n" || c === "\v" || c === "\f" || c === "\r";
}

function digitValue(c: string | undefined): number {
  if (c === undefined) return -1;
  const x = c.charCodeAt(0);
  if (x >= 0x30 && x <= 0x39) return x - 0x30;
  if (x >= 0x61 && x <= 0x7a) return x - 0x61 + 10;
  if (x >= 0x41 && x <= 0x5a) return x - 0x41 + 10;
  return -1;
}

/** What strtoul() returned and where it stopped. */
export interface StrtoulResult {
  /** The unsigned long (64-bit) result: negated modulo 2^64 after '-', ULONG_MAX on overflow. */
  value: bigint;
  /** Index of *endptr in the string (0 when nothing was converted). */
  end: number;
}

/** strtoul(s, &end, base) for base 0, 10 or 16, as glibc 2.36 parses. */
export function strtoul(s: string, base: 0 | 8 | 10 | 16): StrtoulResult {
  let i = 0;
  while (i < s.length && isSpace(s[i])) i++;
  let neg = false;
  if (s[i] === "+" || s[i] === "-") {
    neg = s[i] === "-";
    i++;
  }
  let b: number = base;
  if (s[i] === "0" && (b === 0 || b === 16) && (s[i + 1] === "x" || s[i + 1] === "X")) {
    if (digitValue(s[i + 2]) >= 0 && digitValue(s[i + 2]) < 16) {
      i += 2;
      b = 16;
    } else {
      // "0x" without hex digits: 0 is converted and *endptr points at the 'x'
      return { value: 0n, end: i + 1 };
    }
  } else if (b === 0) b = s[i] === "0" ? 8 : 10;
  const start = i;
  let v = 0n;
  let overflow = false;
  const bb = BigInt(b);
  for (; i < s.length; i++) {
    const d = digitValue(s[i]);
    if (d < 0 || d >= b) break;
    if (!overflow) {
      v = v * bb + BigInt(d);
      if (v > U64_MAX) overflow = true;
    }
  }
  if (i === start) return { value: 0n, end: 0 };
  if (overflow) return { value: U64_MAX, end: i };
  return { value: neg ? (-v) & U64_MAX : v, end: i };
}

/**
 * `x = strtoul(arg, &endptr, base); if (*endptr) error;` truncated to the C
 * type's width (8 bits for a byte, 32 for __u32). Null when the text is not
 * fully converted.
 */
export function parseUnsigned(arg: string, base: 0 | 16, bits: 8 | 32): number | null {
  const r = strtoul(arg, base);
  if (r.end !== arg.length) return null;
  return Number(r.value & ((1n << BigInt(bits)) - 1n));
}

/** is_prefix(pfx, str): `pfx` is a prefix of `str` (the empty word is a prefix of everything). */
export function isPrefix(pfx: string | undefined, str: string): boolean {
  if (pfx === undefined) return false;
  return str.length >= pfx.length && str.startsWith(pfx);
}

/** POSIX dirname(): "/a/b" -> "/a", "/a" -> "/", "a" -> ".", "/" -> "/". */
export function dirname(path: string): string {
  let p = path;
  while (p.length > 1 && p.endsWith("/")) p = p.slice(0, -1);
  const i = p.lastIndexOf("/");
  if (i < 0) return ".";
  let d = p.slice(0, i);
  while (d.length > 1 && d.endsWith("/")) d = d.slice(0, -1);
  return d === "" ? "/" : d;
}
