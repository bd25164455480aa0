// fprint_hex / print_hex_data_json layouts, glibc strtoul() as bpftool uses
// it, is_prefix(), dirname().

import { assertEquals } from "../assert.ts";
import { fprintHex, printHexDataJson } from "../../cli/hex.ts";
import { JsonWriter } from "../../cli/json_writer.ts";
import { dirname, isPrefix, parseUnsigned, strtoul } from "../../cli/parse.ts";
import { glibcDirname } from "../../cli/bpffs.ts";

const seq = (n: number) => Uint8Array.from({ length: n }, (_, i) => i + 1);

Deno.test("fprint_hex: one space, two before byte 8 of a row, a newline before every 16th byte", () => {
  assertEquals(fprintHex(new Uint8Array(0)), "");
  assertEquals(fprintHex(seq(4)), "01 02 03 04");
  assertEquals(fprintHex(seq(9)), "01 02 03 04 05 06 07 08  09");
  assertEquals(
    fprintHex(seq(33)),
    "01 02 03 04 05 06 07 08  09 0a 0b 0c 0d 0e 0f 10\n11 12 13 14 15 16 17 18  19 1a 1b 1c 1d 1e 1f 20\n21",
  );
  assertEquals(fprintHex(seq(8), 3), "01 02 03");
});

Deno.test("print_hex_data_json: strings 0x%02hhx, compact and pretty", () => {
  for (const pretty of [false, true]) {
    let s = "";
    const jw = new JsonWriter((t) => (s += t), pretty);
    printHexDataJson(jw, Uint8Array.of(0, 255, 16));
    assertEquals(s, pretty ? '["0x00","0xff","0x10"\n]' : '["0x00","0xff","0x10"]');
  }
});

Deno.test("strtoul: base 0 and 16 as glibc 2.36 parses (no 0b), truncated to the C type", () => {
  const cases: [string, 0 | 16, number | null][] = [
    ["1", 0, 1],
    ["0x1f", 0, 0x1f],
    ["0X1F", 0, 0x1f],
    ["010", 0, 8],
    ["08", 0, null],
    ["0b1", 0, null],
    ["0x", 0, null],
    ["0xg", 16, null],
    ["256", 0, 0],
    ["0xABC", 0, 0xbc],
    ["-1", 0, 0xff],
    ["-7", 0, 0xf9],
    ["+6", 0, 6],
    [" 5", 0, 5],
    ["5 ", 0, null],
    ["", 0, 0],
    ["abc", 0, null],
    ["ABC", 16, 0xbc],
    ["0x1f", 16, 0x1f],
    ["99999999999999999999999", 0, 0xff],
  ];
  for (const [s, base, want] of cases) assertEquals(parseUnsigned(s, base, 8), want, `"${s}" base ${base}`);
  assertEquals(parseUnsigned("4294967358", 0, 32), 62);
  assertEquals(parseUnsigned("0x80000000", 0, 32), 0x80000000);
  assertEquals(strtoul("12ab", 10), { value: 12n, end: 2 });
  assertEquals(strtoul("x", 0), { value: 0n, end: 0 });
});

Deno.test("is_prefix and dirname", () => {
  assertEquals([isPrefix("", "show"), isPrefix("sh", "show"), isPrefix("shows", "show")], [true, true, false]);
  assertEquals(isPrefix(undefined, "show"), false);
  assertEquals(
    ["/sys/fs/bpf", "/sys/fs/bpf/", "/a", "/", "a", "a/", "//x", ""].map(dirname),
    ["/sys/fs", "/sys/fs", "/", "/", ".", ".", "/", "."],
  );
  // glibc's dirname() edits its argument in place, except for paths without a directory part
  assertEquals(glibcDirname("/sys/fs/bpf/x"), { dir: "/sys/fs/bpf", left: "/sys/fs/bpf" });
  assertEquals(glibcDirname("relative"), { dir: ".", left: "relative" });
  assertEquals(glibcDirname("a/"), { dir: ".", left: "a/" });
  assertEquals(glibcDirname("//x").dir, "//");
});
