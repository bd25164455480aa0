// tools/bpf/bpftool/json_writer.c: bpftool's streaming JSON writer, byte
// for byte. Compact by default; pretty mode indents 4 spaces per depth and
// puts a newline + indent before every member name and before the closing
// bracket of a non-empty container, never before a scalar array element, so
// byte arrays stay on one line (`"key": ["0x01","0x00"\n    ],`).

/**
 * jsonw_puts(): quotes a string the way json_writer.c does. It escapes \t \n
 * \r \f \b, `"` and `'` (as `\'`, which is not valid JSON), and writes a
 * backslash as `\n` (a long-standing json_writer.c quirk kept on purpose).
 * Other control characters and non-ASCII text pass through unescaped.
 */
export function jsonwQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    switch (ch) {
      case "\t":
        out += "\\t";
        break;
      case "\n":
        out += "\\n";
        break;
      case "\r":
        out += "\\r";
        break;
      case "\f":
        out += "\\f";
        break;
      case "\b":
        out += "\\b";
        break;
      case "\\":
        out += "\\n";
        break;
      case '"':
        out += '\\"';
        break;
      case "'":
        out += "\\'";
        break;
      default:
        out += ch;
    }
  }
  return out + '"';
}

/** Thrown by destroy() when containers are still open (json_writer.c asserts). */
export class JsonDepthError extends Error {
  constructor(readonly depth: number) {
    super(`json_writer.c: jsonw_destroy: Assertion 'self->depth == 0' failed (depth ${depth})`);
  }
}

/** json_writer_t: writes through `emit` (the stdout of one bpftool process). */
export class JsonWriter {
  /** Nesting depth (open objects and arrays). */
  depth = 0;
  /** Pretty printing (-p). */
  pretty: boolean;
  /** "" or "," : what goes before the next element. */
  private sep = "";
  /** Kinds of the open containers (json_writer.c only counts them). */
  private readonly open: ("{" | "[")[] = [];

  constructor(private readonly emit: (s: string) => void, pretty = false) {
    this.pretty = pretty;
  }

  private indent(): void {
    if (this.depth) this.emit("    ".repeat(this.depth));
  }

  /** jsonw_eol(): newline and indent, pretty mode only. */
  private eol(): void {
    if (!this.pretty) return;
    this.emit("\n");
    this.indent();
  }

  /** jsonw_eor(): a comma if the current container is not empty. */
  private eor(): void {
    if (this.sep) this.emit(this.sep);
    this.sep = ",";
  }

  private begin(c: "{" | "["): void {
    this.eor();
    this.emit(c);
    this.depth++;
    this.open.push(c);
    this.sep = "";
  }

  private end(c: "}" | "]"): void {
    if (this.depth <= 0) throw new JsonDepthError(this.depth);
    this.depth--;
    this.open.pop();
    if (this.sep) this.eol();
    this.emit(c);
    this.sep = ",";
  }

  /** jsonw_name(): a member name. */
  name(name: string): void {
    this.eor();
    this.eol();
    this.sep = "";
    this.emit(jsonwQuote(name));
    this.emit(this.pretty ? ": " : ":");
  }

  /** jsonw_printf(): a raw value, printed as given. */
  printf(raw: string): void {
    this.eor();
    this.emit(raw);
  }

  /** jsonw_vprintf_enquote(): a raw text in quotes, not escaped (p_err uses it). */
  enquote(raw: string): void {
    this.eor();
    this.emit(`"${raw}"`);
  }

  startObject(): void {
    this.begin("{");
  }

  endObject(): void {
    this.end("}");
  }

  startArray(): void {
    this.begin("[");
  }

  endArray(): void {
    this.end("]");
  }

  /** jsonw_string() */
  string(v: string): void {
    this.eor();
    this.emit(jsonwQuote(v));
  }

  /** jsonw_bool() */
  bool(v: boolean): void {
    this.printf(v ? "true" : "false");
  }

  /** jsonw_null() */
  null(): void {
    this.printf("null");
  }

  /** jsonw_uint() / jsonw_int() / jsonw_lluint(): an integer as decimal. */
  uint(v: number | bigint): void {
    this.printf(String(v));
  }

  /** jsonw_int() */
  int(v: number | bigint): void {
    this.printf(String(v));
  }

  stringField(prop: string, v: string): void {
    this.name(prop);
    this.string(v);
  }

  /**
   * A string member as valid JSON (JSON.stringify escaping). bpfsim's own
   * objects (kernel, fs, dmesg) use it: their texts are free prose, and
   * bpftool's quirks are only owed to bpftool's own commands.
   */
  textField(prop: string, v: string): void {
    this.name(prop);
    this.eor();
    this.emit(JSON.stringify(v));
  }

  /**
   * Any JSON value (bpfsim's own objects: scenario reports, run summaries):
   * objects and arrays through the writer (so -p indents them), strings as
   * textField escapes them, numbers as JSON numbers (non-finite ones as null).
   */
  value(v: unknown): void {
    if (v === null || v === undefined) this.null();
    else if (typeof v === "boolean") this.bool(v);
    else if (typeof v === "number") this.printf(Number.isFinite(v) ? String(v) : "null");
    else if (typeof v === "bigint") this.printf(String(v));
    else if (typeof v === "string") {
      this.eor();
      this.emit(JSON.stringify(v));
    } else if (Array.isArray(v)) {
      this.startArray();
      for (const x of v) this.value(x);
      this.endArray();
    } else {
      this.startObject();
      for (const [key, x] of Object.entries(v as Record<string, unknown>)) {
        if (x === undefined) continue;
        this.name(key);
        this.value(x);
      }
      this.endObject();
    }
  }

  /** A member holding any JSON value (see value()). */
  valueField(prop: string, v: unknown): void {
    this.name(prop);
    this.value(v);
  }

  boolField(prop: string, v: boolean): void {
    this.name(prop);
    this.bool(v);
  }

  uintField(prop: string, v: number | bigint): void {
    this.name(prop);
    this.uint(v);
  }

  intField(prop: string, v: number | bigint): void {
    this.name(prop);
    this.int(v);
  }

  nullField(prop: string): void {
    this.name(prop);
    this.null();
  }

  /**
   * jsonw_destroy(): the final newline. json_writer.c asserts that every
   * container was closed; this throws JsonDepthError instead of aborting.
   */
  destroy(): void {
    if (this.depth !== 0) throw new JsonDepthError(this.depth);
    this.emit("\n");
  }

  /**
   * Closes every open container. bpfsim's answer where bpftool aborts on the
   * jsonw_destroy() assertion (a usage error inside `-j batch`).
   */
  closeAll(): void {
    while (this.depth > 0) this.end(this.open[this.open.length - 1] === "[" ? "]" : "}");
  }
}
