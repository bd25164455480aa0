// tools/bpf/bpftool/main.c fprint_hex() and common.c print_hex_data_json():
// how bpftool shows key and value bytes.

import type { JsonWriter } from "./json_writer.ts";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * fprint_hex(): `%02x` bytes separated by `sep`, two spaces before each
 * 8th byte of a row and a newline before every 16th byte. No trailing
 * newline.
 */
export function fprintHex(data: Uint8Array, n = data.length, sep = " "): string {
  let s = "";
  for (let i = 0; i < n; i++) {
    if (i === 0) {
      // nothing
    } else if (i % 16 === 0) s += "\n";
    else if (i % 8 === 0) s += "  ";
    else s += sep;
    s += HEX[data[i]];
  }
  return s;
}

/** print_hex_data_json(): an array of `"0x%02hhx"` strings. */
export function printHexDataJson(jw: JsonWriter, data: Uint8Array, n = data.length): void {
  jw.startArray();
  for (let i = 0; i < n; i++) jw.printf(`"0x${HEX[data[i]]}"`);
  jw.endArray();
}

/** print_data_json(): an array of decimal bytes. */
export function printDataJson(jw: JsonWriter, data: Uint8Array, n = data.length): void {
  jw.startArray();
  for (let i = 0; i < n; i++) jw.printf(String(data[i]));
  jw.endArray();
}
