// json_writer.c semantics: separators, pretty layout, escaping quirks, and
// the depth check at destroy; plus Output's p_err / p_info / null rules.

import { assertEquals, assertTrue } from "../assert.ts";
import { JsonDepthError, jsonwQuote, JsonWriter } from "../../cli/json_writer.ts";
import { Output } from "../../cli/output.ts";

function write(pretty: boolean, fn: (jw: JsonWriter) => void): string {
  let s = "";
  const jw = new JsonWriter((t) => (s += t), pretty);
  fn(jw);
  jw.destroy();
  return s;
}

function entry(jw: JsonWriter): void {
  jw.startArray();
  jw.startObject();
  jw.name("key");
  jw.startArray();
  for (const b of ["0x01", "0x00"]) jw.printf(`"${b}"`);
  jw.endArray();
  jw.name("values");
  jw.startArray();
  jw.startObject();
  jw.intField("cpu", 0);
  jw.name("empty");
  jw.startArray();
  jw.endArray();
  jw.endObject();
  jw.endArray();
  jw.nullField("n");
  jw.boolField("b", true);
  jw.endObject();
  jw.endArray();
}

Deno.test("json_writer: compact output has no spaces and one final newline", () => {
  assertEquals(write(false, entry), '[{"key":["0x01","0x00"],"values":[{"cpu":0,"empty":[]}],"n":null,"b":true}]\n');
  assertEquals(write(false, () => {}), "\n");
});

Deno.test("json_writer: pretty output breaks before names and closing brackets, never before array scalars", () => {
  assertEquals(
    write(true, entry),
    [
      "[{",
      '        "key": ["0x01","0x00"',
      "        ],",
      '        "values": [{',
      '                "cpu": 0,',
      '                "empty": []',
      "            }",
      "        ],",
      '        "n": null,',
      '        "b": true',
      "    }",
      "]",
      "",
    ].join("\n"),
  );
});

Deno.test("json_writer: jsonw_puts escapes like json_writer.c, quirks included", () => {
  assertEquals(jsonwQuote('a\tb\nc\rd\fe\bf"g'), '"a\\tb\\nc\\rd\\fe\\bf\\"g"');
  assertEquals(jsonwQuote("a\\b"), '"a\\nb"'); // a backslash comes out as \n
  assertEquals(jsonwQuote("it's"), '"it\\\'s"'); // \' is not valid JSON; bpftool prints it
  assertEquals(jsonwQuote("\x01é"), '"\x01é"');
});

Deno.test("json_writer: destroy with open containers is the assertion bpftool aborts on; closeAll closes them", () => {
  let s = "";
  const jw = new JsonWriter((t) => (s += t));
  jw.startArray();
  jw.startObject();
  jw.name("output");
  let threw = false;
  try {
    jw.destroy();
  } catch (e) {
    threw = e instanceof JsonDepthError && e.depth === 2;
  }
  assertTrue(threw);
  jw.closeAll();
  jw.destroy();
  assertEquals(s, '[{"output":}]\n');
});

Deno.test("output: p_err goes to stderr in text and into the JSON stream (unescaped) with -j; p_info is dropped", () => {
  const plain = new Output("plain");
  plain.pErr("can't 'x'");
  plain.pInfo("warning");
  plain.jsonNull();
  plain.finish();
  assertEquals([plain.stdout, plain.stderr], ["", "Error: can't 'x'\nwarning\n"]);

  const json = new Output("json");
  json.pErr('bad "quote"');
  json.pInfo("warning");
  json.finish();
  json.finish();
  assertEquals([json.stdout, json.stderr], ['{"error":"bad "quote""}\n', ""]);

  const pretty = new Output("pretty");
  pretty.pErr("x");
  pretty.finish();
  assertEquals(pretty.stdout, '{\n    "error": "x"\n}\n');
});

Deno.test("output: chunks keep stdout and stderr interleaved in write order and stream to onWrite", () => {
  const seen: string[] = [];
  const o = new Output("plain", (fd, t) => seen.push(`${fd}:${t}`));
  o.print("a");
  o.print("b");
  o.eprint("c");
  o.print("d");
  assertEquals(o.chunks, [{ fd: 1, text: "ab" }, { fd: 2, text: "c" }, { fd: 1, text: "d" }]);
  assertEquals(seen, ["1:a", "1:b", "2:c", "1:d"]);
});
