// The op language of synthetic BPF programs: what a user types after
// `prog load NAME type TYPE ops "..."`. One op per `;` or line, blocks in
// braces. Parsing yields plain data (the AST below), which is what a kernel
// snapshot keeps; maps are named by the ops and bound at load time.
//
//   lookup MAP key E            update MAP key E value E [any|noexist|exist]
//   delete MAP key E            inc MAP key E [by E]
//   set value E                 add value E          (through the looked-up pointer)
//   output RB SIZE [data E] [no_wakeup|force_wakeup]
//   reserve RB SIZE             write OFF E          submit|discard [no_wakeup|force_wakeup]
//   query RB avail|size|cons|prod
//   spin_lock MAP key E         spin_unlock
//   copy_from_user SIZE         (may fault and sleep: sleepable programs only)
//   repeat N { ... }            if ok|fail { ... }
//
// Expressions: integers (decimal or 0x hex), cpu, pid, tgid, comm, seq, ktime,
// rand(N), value (reads through the looked-up pointer), ret (the last op's
// result), arg0..arg5, + - * / % and parentheses. MAP is a map name or a
// pinned path.

/** Where an op starts in the source (1-based), for load-time errors. */
export interface OpPos {
  /** Op number in source order (1 = the first op). */
  readonly n: number;
  /** Line of the source. */
  readonly line: number;
}

/** An expression. */
export type Expr =
  | { readonly e: "num"; readonly v: number }
  | { readonly e: "var"; readonly name: VarName }
  | { readonly e: "comm" }
  | { readonly e: "rand"; readonly n: Expr }
  | { readonly e: "bin"; readonly op: "+" | "-" | "*" | "/" | "%"; readonly a: Expr; readonly b: Expr }
  | { readonly e: "neg"; readonly a: Expr };

/** Scalar variables of the expression language. */
export type VarName =
  | "cpu"
  | "pid"
  | "tgid"
  | "seq"
  | "ktime"
  | "value"
  | "ret"
  | "arg0"
  | "arg1"
  | "arg2"
  | "arg3"
  | "arg4"
  | "arg5";

const VARS: readonly string[] = [
  "cpu",
  "pid",
  "tgid",
  "seq",
  "ktime",
  "value",
  "ret",
  "arg0",
  "arg1",
  "arg2",
  "arg3",
  "arg4",
  "arg5",
];

/** Update flags by keyword (BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
const UPDATE_FLAGS: Readonly<Record<string, number>> = { any: 0, noexist: 1, exist: 2 };
/** Ring buffer commit flags by keyword. */
const RB_FLAGS: Readonly<Record<string, number>> = { no_wakeup: 1, force_wakeup: 2 };
/** bpf_ringbuf_query() selectors by keyword. */
const QUERY: Readonly<Record<string, number>> = { avail: 0, size: 1, cons: 2, prod: 3 };

/** One op; `map` fields index OpProgram.maps. */
export type Op =
  & { readonly at: OpPos }
  & (
    | { readonly op: "lookup"; readonly map: number; readonly key: Expr }
    | { readonly op: "update"; readonly map: number; readonly key: Expr; readonly value: Expr; readonly flags: number }
    | { readonly op: "delete"; readonly map: number; readonly key: Expr }
    | { readonly op: "inc"; readonly map: number; readonly key: Expr; readonly by: Expr }
    | { readonly op: "set" | "add"; readonly v: Expr }
    | {
      readonly op: "output";
      readonly map: number;
      readonly size: number;
      readonly data: Expr | null;
      readonly flags: number;
    }
    | { readonly op: "reserve"; readonly map: number; readonly size: number }
    | { readonly op: "write"; readonly off: number; readonly v: Expr }
    | { readonly op: "submit" | "discard"; readonly flags: number }
    | { readonly op: "query"; readonly map: number; readonly what: number }
    | { readonly op: "spin_lock"; readonly map: number; readonly key: Expr }
    | { readonly op: "spin_unlock" }
    | { readonly op: "copy_from_user"; readonly size: number }
    | { readonly op: "repeat"; readonly n: number; readonly body: readonly Op[] }
    | { readonly op: "if"; readonly cond: "ok" | "fail"; readonly body: readonly Op[] }
  );

/** A parsed program: its ops and the map tokens they name, in order of first use. */
export interface OpProgram {
  /** The top-level ops, blocks nested inside `repeat` and `if`. */
  readonly ops: readonly Op[];
  /** Map names or pinned paths, indexed by the ops' `map` fields. */
  readonly maps: readonly string[];
  /** Total number of ops (nested ones included). */
  readonly count: number;
}

/** A syntax error with its position. */
export class OpSyntaxError extends Error {
  /** An error at `line`, `col` (1-based) saying `msg`. */
  constructor(readonly line: number, readonly col: number, msg: string) {
    super(`line ${line} col ${col}: ${msg}`);
  }
}

/** The largest repeat count (the verifier's loop bound, BPF_MAX_LOOPS). */
export const MAX_REPEAT = 8 * 1024 * 1024;
/** The largest number of ops in one program (BPF_MAXINSNS for unprivileged, a sane bound here). */
export const MAX_OPS = 4096;

/** Recursive-descent parser over the source text. */
class Parser {
  private i = 0;
  private line = 1;
  private lineStart = 0;
  private count = 0;
  readonly maps: string[] = [];

  constructor(private readonly s: string) {}

  private fail(msg: string, at = this.i): never {
    throw new OpSyntaxError(this.line, at - this.lineStart + 1, msg);
  }

  /** Skips spaces and comments (# to end of line); newlines only when `nl`. */
  private skip(nl: boolean): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === " " || c === "\t" || c === "\r") this.i++;
      else if (c === "#") {
        while (this.i < s.length && s[this.i] !== "\n") this.i++;
      } else if (c === "\n" && nl) {
        this.i++;
        this.line++;
        this.lineStart = this.i;
      } else break;
    }
  }

  private peekChar(): string {
    this.skip(false);
    return this.s[this.i] ?? "";
  }

  /** A word: a run of characters up to space, `;`, braces, parentheses or a newline. */
  private word(what: string): string {
    this.skip(false);
    const start = this.i;
    while (this.i < this.s.length && !/[\s;{}()]/.test(this.s[this.i])) this.i++;
    if (this.i === start) this.fail(`expected ${what}`);
    return this.s.slice(start, this.i);
  }

  /** The next word without consuming it ("" at a separator). */
  private peekWord(): string {
    const save = this.i;
    this.skip(false);
    let j = this.i;
    while (j < this.s.length && !/[\s;{}()]/.test(this.s[j])) j++;
    const w = this.s.slice(this.i, j);
    this.i = save;
    return w;
  }

  private keyword(kw: string): void {
    this.skip(false);
    const at = this.i;
    const w = this.word(`'${kw}'`);
    if (w !== kw) this.fail(`expected '${kw}', got '${w}'`, at);
  }

  private mapRef(): number {
    const w = this.word("a map name or pinned path");
    let idx = this.maps.indexOf(w);
    if (idx < 0) {
      idx = this.maps.length;
      this.maps.push(w);
    }
    return idx;
  }

  private integer(what: string, max: number): number {
    this.skip(false);
    const at = this.i;
    const w = this.word(what);
    const v = /^0x[0-9a-f]+$/i.test(w) ? parseInt(w, 16) : /^\d+$/.test(w) ? Number(w) : NaN;
    if (!Number.isSafeInteger(v) || v < 0 || v > max) this.fail(`expected ${what} (0-${max}), got '${w}'`, at);
    return v;
  }

  private optional(table: Readonly<Record<string, number>>): number {
    const w = this.peekWord();
    if (w in table) {
      this.word("flag");
      return table[w];
    }
    return 0;
  }

  // ----------------------------------------------------------- expressions

  private expr(): Expr {
    let a = this.term();
    for (;;) {
      const c = this.peekChar();
      if (c !== "+" && c !== "-") return a;
      this.i++;
      a = { e: "bin", op: c, a, b: this.term() };
    }
  }

  private term(): Expr {
    let a = this.unary();
    for (;;) {
      const c = this.peekChar();
      if (c !== "*" && c !== "/" && c !== "%") return a;
      this.i++;
      a = { e: "bin", op: c, a, b: this.unary() };
    }
  }

  private unary(): Expr {
    const c = this.peekChar();
    if (c === "-") {
      this.i++;
      return { e: "neg", a: this.unary() };
    }
    if (c === "(") {
      this.i++;
      const e = this.expr();
      if (this.peekChar() !== ")") this.fail("expected ')'");
      this.i++;
      return e;
    }
    this.skip(false);
    const at = this.i;
    const m = /^(0x[0-9a-fA-F]+|\d+|[A-Za-z_][A-Za-z0-9_]*)/.exec(this.s.slice(this.i));
    if (!m) this.fail(c ? `unexpected '${c}' in an expression` : "expected an expression");
    const t = m[1];
    this.i += t.length;
    if (/^\d|^0x/.test(t)) {
      const v = t.startsWith("0x") ? parseInt(t, 16) : Number(t);
      if (!Number.isSafeInteger(v)) this.fail(`number '${t}' is too large (beyond 2^53)`, at);
      return { e: "num", v };
    }
    if (t === "rand") {
      if (this.peekChar() !== "(") this.fail("expected '(' after rand");
      this.i++;
      const n = this.expr();
      if (this.peekChar() !== ")") this.fail("expected ')'");
      this.i++;
      return { e: "rand", n };
    }
    if (t === "comm") return { e: "comm" };
    if (VARS.includes(t)) return { e: "var", name: t as VarName };
    this.fail(`unknown name '${t}' in an expression`, at);
  }

  // ----------------------------------------------------------------- ops

  /** Ops until `}` (when nested) or the end. */
  block(nested: boolean): Op[] {
    const ops: Op[] = [];
    for (;;) {
      this.skip(true);
      const c = this.s[this.i];
      if (c === undefined) {
        if (nested) this.fail("missing '}'");
        return ops;
      }
      if (c === ";") {
        this.i++;
        continue;
      }
      if (c === "}") {
        if (!nested) this.fail("unexpected '}'");
        this.i++;
        return ops;
      }
      ops.push(this.op());
      // an op ends at ';', a newline, '}' or the end
      const e = this.peekChar();
      if (e !== "" && e !== ";" && e !== "\n" && e !== "}") this.fail(`unexpected '${this.peekWord() || e}'`);
    }
  }

  private op(): Op {
    const line = this.line;
    const start = this.i;
    const name = this.word("an op");
    if (++this.count > MAX_OPS) this.fail(`more than ${MAX_OPS} ops`, start);
    const at: OpPos = { n: this.count, line };
    switch (name) {
      case "lookup":
      case "delete": {
        const map = this.mapRef();
        this.keyword("key");
        return { at, op: name, map, key: this.expr() };
      }
      case "update": {
        const map = this.mapRef();
        this.keyword("key");
        const key = this.expr();
        this.keyword("value");
        const value = this.expr();
        return { at, op: "update", map, key, value, flags: this.optional(UPDATE_FLAGS) };
      }
      case "inc": {
        const map = this.mapRef();
        this.keyword("key");
        const key = this.expr();
        let by: Expr = { e: "num", v: 1 };
        if (this.peekWord() === "by") {
          this.word("by");
          by = this.expr();
        }
        return { at, op: "inc", map, key, by };
      }
      case "set":
      case "add": {
        this.keyword("value");
        return { at, op: name, v: this.expr() };
      }
      case "output": {
        const map = this.mapRef();
        const size = this.integer("a record size", 1 << 28);
        let data: Expr | null = null;
        if (this.peekWord() === "data") {
          this.word("data");
          data = this.expr();
        }
        return { at, op: "output", map, size, data, flags: this.optional(RB_FLAGS) };
      }
      case "reserve":
        return { at, op: "reserve", map: this.mapRef(), size: this.integer("a record size", 1 << 28) };
      case "write": {
        const off = this.integer("an offset", 1 << 28);
        return { at, op: "write", off, v: this.expr() };
      }
      case "submit":
      case "discard":
        return { at, op: name, flags: this.optional(RB_FLAGS) };
      case "query": {
        const map = this.mapRef();
        this.skip(false);
        const wat = this.i;
        const w = this.word("avail, size, cons or prod");
        if (!(w in QUERY)) this.fail(`expected avail, size, cons or prod, got '${w}'`, wat);
        return { at, op: "query", map, what: QUERY[w] };
      }
      case "spin_lock": {
        const map = this.mapRef();
        this.keyword("key");
        return { at, op: "spin_lock", map, key: this.expr() };
      }
      case "spin_unlock":
        return { at, op: "spin_unlock" };
      case "copy_from_user":
        return { at, op: "copy_from_user", size: this.integer("a size", 4096) };
      case "repeat": {
        const n = this.integer("a repeat count", MAX_REPEAT);
        this.openBrace();
        return { at, op: "repeat", n, body: this.block(true) };
      }
      case "if": {
        this.skip(false);
        const wat = this.i;
        const w = this.word("ok or fail");
        if (w !== "ok" && w !== "fail") this.fail(`expected 'ok' or 'fail', got '${w}'`, wat);
        this.openBrace();
        return { at, op: "if", cond: w, body: this.block(true) };
      }
    }
    this.fail(`unknown op '${name}'`, start);
  }

  private openBrace(): void {
    if (this.peekChar() !== "{") this.fail("expected '{'");
    this.i++;
  }

  parse(): OpProgram {
    const ops = this.block(false);
    return { ops, maps: this.maps, count: this.count };
  }
}

/** Parses op-language source; throws OpSyntaxError with the line and column. */
export function parseOps(source: string): OpProgram {
  return new Parser(source).parse();
}

/** Calls `fn` for every op, nested ones included, in source order. */
export function walkOps(ops: readonly Op[], fn: (op: Op, depth: number) => void, depth = 0): void {
  for (const op of ops) {
    fn(op, depth);
    if (op.op === "repeat" || op.op === "if") walkOps(op.body, fn, depth + 1);
  }
}

/** The op back as source text, one op per line, blocks indented (`prog dump ops`). */
export function formatOps(p: OpProgram, indent = ""): string {
  const lines: string[] = [];
  const fmt = (ops: readonly Op[], ind: string) => {
    for (const op of ops) {
      const m = (i: number) => p.maps[i];
      switch (op.op) {
        case "lookup":
        case "delete":
          lines.push(`${ind}${op.op} ${m(op.map)} key ${formatExpr(op.key)}`);
          break;
        case "update": {
          const f = Object.keys(UPDATE_FLAGS).find((x) => UPDATE_FLAGS[x] === op.flags)!;
          lines.push(
            `${ind}update ${m(op.map)} key ${formatExpr(op.key)} value ${formatExpr(op.value)}${
              op.flags ? " " + f : ""
            }`,
          );
          break;
        }
        case "inc":
          lines.push(`${ind}inc ${m(op.map)} key ${formatExpr(op.key)} by ${formatExpr(op.by)}`);
          break;
        case "set":
        case "add":
          lines.push(`${ind}${op.op} value ${formatExpr(op.v)}`);
          break;
        case "output":
          lines.push(
            `${ind}output ${m(op.map)} ${op.size}${op.data ? " data " + formatExpr(op.data) : ""}${rbFlag(op.flags)}`,
          );
          break;
        case "reserve":
          lines.push(`${ind}reserve ${m(op.map)} ${op.size}`);
          break;
        case "write":
          lines.push(`${ind}write ${op.off} ${formatExpr(op.v)}`);
          break;
        case "submit":
        case "discard":
          lines.push(`${ind}${op.op}${rbFlag(op.flags)}`);
          break;
        case "query":
          lines.push(`${ind}query ${m(op.map)} ${Object.keys(QUERY).find((x) => QUERY[x] === op.what)}`);
          break;
        case "spin_lock":
          lines.push(`${ind}spin_lock ${m(op.map)} key ${formatExpr(op.key)}`);
          break;
        case "spin_unlock":
          lines.push(`${ind}spin_unlock`);
          break;
        case "copy_from_user":
          lines.push(`${ind}copy_from_user ${op.size}`);
          break;
        case "repeat":
        case "if":
          lines.push(`${ind}${op.op} ${op.op === "repeat" ? op.n : op.cond} {`);
          fmt(op.body, ind + "    ");
          lines.push(`${ind}}`);
          break;
      }
    }
  };
  fmt(p.ops, indent);
  return lines.join("\n");
}

function rbFlag(f: number): string {
  const w = Object.keys(RB_FLAGS).find((x) => RB_FLAGS[x] === f);
  return w ? " " + w : "";
}

/** An expression as source text (fully parenthesised where it matters). */
export function formatExpr(x: Expr): string {
  switch (x.e) {
    case "num":
      return String(x.v);
    case "var":
      return x.name;
    case "comm":
      return "comm";
    case "rand":
      return `rand(${formatExpr(x.n)})`;
    case "neg":
      return `-${wrap(x.a)}`;
    case "bin":
      return `${wrap(x.a)} ${x.op} ${wrap(x.b)}`;
  }
}

function wrap(x: Expr): string {
  return x.e === "bin" ? `(${formatExpr(x)})` : formatExpr(x);
}
