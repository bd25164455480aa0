// tools/bpf/bpftool/main.c do_batch() and make_args(): `batch file FILE|-`.
// Lines are read with fgets() semantics (65535 characters at most), a '#'
// ends the line even inside quotes, a trailing backslash joins the next
// line, words split on blanks with '…' / "…" quoting (no escapes), every
// command goes through the top-level table, and the batch stops at the
// first command that fails.

import { E2BIG, ENOENT, strerror } from "../lib/kernel/errno.ts";
import { Args, type Cmd, cmdSelect, nextArg } from "./cmd.ts";
import type { CliContext, HelpFn } from "./context.ts";
import { isPrefix } from "./parse.ts";

/** BATCH_LINE_LEN_MAX: fgets() buffer size. */
export const BATCH_LINE_LEN_MAX = 65536;
/** BATCH_ARG_NB_MAX: argv slots per command (the last is the NULL). */
export const BATCH_ARG_NB_MAX = 4096;

/** fgets() over a text: at most size-1 characters, up to and including '\n'. */
export class LineReader {
  private pos = 0;
  constructor(private readonly text: string) {}

  /** The next chunk as a C string (cut at a NUL byte), or null at end of file. */
  fgets(size = BATCH_LINE_LEN_MAX): string | null {
    if (this.pos >= this.text.length) return null;
    const nl = this.text.indexOf("\n", this.pos);
    const end = Math.min(nl < 0 ? this.text.length : nl + 1, this.pos + size - 1);
    const chunk = this.text.slice(this.pos, end);
    this.pos = end;
    const nul = chunk.indexOf("\0");
    return nul < 0 ? chunk : chunk.slice(0, nul);
  }
}

/** Everything before the first '#' (strchr(buf, '#') = '\0'). */
function cutComment(s: string): string {
  const i = s.indexOf("#");
  return i < 0 ? s : s.slice(0, i);
}

const WS = " \t\r\n";

/** make_args() without printing: the words, or the error text. */
function splitWords(line: string, maxargs: number, cmdNb: number): string[] | { error: string } {
  const argv: string[] = [];
  let cp = 0;
  while (cp < line.length) {
    while (cp < line.length && WS.includes(line[cp])) cp++;
    if (cp >= line.length) break;
    if (argv.length >= maxargs - 1) return { error: `too many arguments to command ${cmdNb}` };
    if (line[cp] === "'" || line[cp] === '"') {
      const quote = line[cp++];
      const end = line.indexOf(quote, cp);
      if (end < 0) return { error: `unterminated quoted string in command ${cmdNb}` };
      argv.push(line.slice(cp, end));
      cp = end;
    } else {
      const start = cp;
      while (cp < line.length && !WS.includes(line[cp])) cp++;
      argv.push(line.slice(start, cp));
      if (cp >= line.length) break;
    }
    cp++; // the separator (or closing quote) becomes the word's NUL
  }
  return argv;
}

/**
 * make_args(): splits a command line into words. Quotes start a word only
 * at its beginning and end it at the next identical quote; -1 after an
 * error message.
 */
export function makeArgs(ctx: CliContext, line: string, maxargs: number, cmdNb: number): string[] | -1 {
  const r = splitWords(line, maxargs, cmdNb);
  if (Array.isArray(r)) return r;
  ctx.out.pErr(r.error);
  return -1;
}

/**
 * One line as batch mode reads it ('#' comment cut, make_args() words),
 * for the shell: the words, or bpftool's error text (`command 0`).
 */
export function splitCommandLine(line: string): string[] | { error: string } {
  return splitWords(cutComment(line), BATCH_ARG_NB_MAX, 0);
}

/**
 * do_batch(): runs each line of FILE ("-" is standard input) through
 * `cmds`. Text mode ends with `processed N commands`; JSON mode wraps every
 * command as {"command":[...],"output":...} in one array.
 */
export function doBatch(ctx: CliContext, args: Args, cmds: readonly Cmd[], help: HelpFn): number {
  const out = ctx.out;
  if (args.argc < 2) {
    out.pErr("too few parameters for batch");
    return -1;
  } else if (!isPrefix(args.cur, "file")) {
    out.pErr(`expected 'file', got: ${args.cur}`);
    return -1;
  } else if (args.argc > 2) {
    out.pErr("too many parameters for batch");
    return -1;
  }
  nextArg(ctx, args);
  const path = args.cur!;
  const text = ctx.readInput(path);
  if (typeof text === "number") {
    ctx.errno = -text;
    out.pErr(`Can't open file (${path}): ${strerror(ctx.errno)}`);
    return -1;
  }
  const fp = new LineReader(text);
  const jw = out.json;
  let lines = 0;
  let err = 0;
  jw?.startArray();
  run: {
    let buf: string | null;
    while ((buf = fp.fgets()) !== null) {
      buf = cutComment(buf);
      if (buf.length === BATCH_LINE_LEN_MAX - 1) {
        ctx.errno = E2BIG;
        break;
      }
      // continuation lines: a line ending with '\' joins the next one
      while (buf.includes("\\\n")) {
        let cont = fp.fgets();
        if (cont === null || cont.length === 0) {
          out.pErr(`missing continuation line on command ${lines}`);
          err = -1;
          break run;
        }
        cont = cutComment(cont);
        if (buf.length + cont.length + 1 > BATCH_LINE_LEN_MAX) {
          out.pErr(`command ${lines} is too long`);
          err = -1;
          break run;
        }
        buf = buf.slice(0, buf.length - 2) + cont;
      }
      const argv = makeArgs(ctx, buf, BATCH_ARG_NB_MAX, lines);
      if (argv === -1) {
        err = -1;
        break run;
      }
      if (argv.length === 0) continue;
      if (jw) {
        jw.startObject();
        jw.name("command");
        jw.startArray();
        for (const w of argv) jw.string(w);
        jw.endArray();
        jw.name("output");
      }
      err = cmdSelect(ctx, cmds, new Args(argv), help);
      if (jw) jw.endObject();
      if (err) break run;
      lines++;
    }
    // bpftool reads errno here, whatever call last set it (a double close() sets EBADF)
    if (ctx.errno && ctx.errno !== ENOENT) {
      out.pErr(`reading batch file failed: ${strerror(ctx.errno)}`);
      err = -1;
    } else if (!jw) {
      out.print(`processed ${lines} commands\n`);
    }
  }
  jw?.endArray();
  return err;
}
