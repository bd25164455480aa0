// include/linux/jhash.h: Bob Jenkins' lookup3 hash as the kernel uses it for
// hash map buckets. jhash() hashes bytes, jhash2() 32-bit words; on little
// endian both give the same value for keys whose size is a multiple of 4.

/** JHASH_INITVAL */
export const JHASH_INITVAL = 0xdeadbeef;

function rol32(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** jhash(key, length, initval) over key[off .. off+length). */
export function jhash(key: Uint8Array, off: number, length: number, initval: number): number {
  let a = (JHASH_INITVAL + length + initval) | 0;
  let b = a;
  let c = a;
  let k = off;
  let len = length;
  while (len > 12) {
    a = (a + (key[k] | (key[k + 1] << 8) | (key[k + 2] << 16) | (key[k + 3] << 24))) | 0;
    b = (b + (key[k + 4] | (key[k + 5] << 8) | (key[k + 6] << 16) | (key[k + 7] << 24))) | 0;
    c = (c + (key[k + 8] | (key[k + 9] << 8) | (key[k + 10] << 16) | (key[k + 11] << 24))) | 0;
    // __jhash_mix
    a = (a - c) | 0;
    a ^= rol32(c, 4);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rol32(a, 6);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rol32(b, 8);
    b = (b + a) | 0;
    a = (a - c) | 0;
    a ^= rol32(c, 16);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rol32(a, 19);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rol32(b, 4);
    b = (b + a) | 0;
    len -= 12;
    k += 12;
  }
  switch (len) {
    case 12:
      c = (c + (key[k + 11] << 24)) | 0;
    /* falls through */
    case 11:
      c = (c + (key[k + 10] << 16)) | 0;
    /* falls through */
    case 10:
      c = (c + (key[k + 9] << 8)) | 0;
    /* falls through */
    case 9:
      c = (c + key[k + 8]) | 0;
    /* falls through */
    case 8:
      b = (b + (key[k + 7] << 24)) | 0;
    /* falls through */
    case 7:
      b = (b + (key[k + 6] << 16)) | 0;
    /* falls through */
    case 6:
      b = (b + (key[k + 5] << 8)) | 0;
    /* falls through */
    case 5:
      b = (b + key[k + 4]) | 0;
    /* falls through */
    case 4:
      a = (a + (key[k + 3] << 24)) | 0;
    /* falls through */
    case 3:
      a = (a + (key[k + 2] << 16)) | 0;
    /* falls through */
    case 2:
      a = (a + (key[k + 1] << 8)) | 0;
    /* falls through */
    case 1:
      a = (a + key[k]) | 0;
      return final(a, b, c);
    default:
      return c >>> 0;
  }
}

/** jhash2(words, length_in_words, initval) over the bytes key[off ..], little endian. */
export function jhash2(key: Uint8Array, off: number, words: number, initval: number): number {
  let a = (JHASH_INITVAL + (words << 2) + initval) | 0;
  let b = a;
  let c = a;
  let k = off;
  let len = words;
  while (len > 3) {
    a = (a + (key[k] | (key[k + 1] << 8) | (key[k + 2] << 16) | (key[k + 3] << 24))) | 0;
    b = (b + (key[k + 4] | (key[k + 5] << 8) | (key[k + 6] << 16) | (key[k + 7] << 24))) | 0;
    c = (c + (key[k + 8] | (key[k + 9] << 8) | (key[k + 10] << 16) | (key[k + 11] << 24))) | 0;
    a = (a - c) | 0;
    a ^= rol32(c, 4);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rol32(a, 6);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rol32(b, 8);
    b = (b + a) | 0;
    a = (a - c) | 0;
    a ^= rol32(c, 16);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rol32(a, 19);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rol32(b, 4);
    b = (b + a) | 0;
    len -= 3;
    k += 12;
  }
  switch (len) {
    case 3:
      c = (c + (key[k + 8] | (key[k + 9] << 8) | (key[k + 10] << 16) | (key[k + 11] << 24))) | 0;
    /* falls through */
    case 2:
      b = (b + (key[k + 4] | (key[k + 5] << 8) | (key[k + 6] << 16) | (key[k + 7] << 24))) | 0;
    /* falls through */
    case 1:
      a = (a + (key[k] | (key[k + 1] << 8) | (key[k + 2] << 16) | (key[k + 3] << 24))) | 0;
      return final(a, b, c);
    default:
      return c >>> 0;
  }
}

/** __jhash_final */
function final(a: number, b: number, c: number): number {
  c ^= b;
  c = (c - rol32(b, 14)) | 0;
  a ^= c;
  a = (a - rol32(c, 11)) | 0;
  b ^= a;
  b = (b - rol32(a, 25)) | 0;
  c ^= b;
  c = (c - rol32(b, 16)) | 0;
  a ^= c;
  a = (a - rol32(c, 4)) | 0;
  b ^= a;
  b = (b - rol32(a, 14)) | 0;
  c ^= b;
  c = (c - rol32(b, 24)) | 0;
  return c >>> 0;
}
