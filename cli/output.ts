// The output side of one bpftool process (tools/bpf/bpftool/common.c
// p_err/p_info, main.c's json_wtr): stdout and stderr as strings, kept in
// the order they were written, and the process' single JSON writer.

import { JsonWriter } from "./json_writer.ts";

/** Plain text, compact JSON (-j) or pretty JSON (-p). */
export type OutputMode = "plain" | "json" | "pretty";

/** One write to stdout (1) or stderr (2). */
export interface OutputChunk {
  fd: 1 | 2;
  text: string;
}

/**
 * Where one bpftool invocation writes. In JSON mode every command writes
 * through `json` (one writer for the whole process, as in bpftool, so batch
 * output nests); `finish()` ends the document with exactly one newline.
 */
export class Output {
  readonly mode: OutputMode;
  /** bpftool's json_wtr; null in plain mode. */
  readonly json: JsonWriter | null;
  /** Every write in order (stdout and stderr interleaved as a terminal shows them). */
  readonly chunks: OutputChunk[] = [];
  private finished = false;

  /** `onWrite` sees each write as it happens (a shell streaming output). */
  constructor(mode: OutputMode = "plain", private readonly onWrite?: (fd: 1 | 2, text: string) => void) {
    this.mode = mode;
    this.json = mode === "plain" ? null : new JsonWriter((s) => this.write(1, s), mode === "pretty");
  }

  /** json_output */
  get jsonOutput(): boolean {
    return this.json !== null;
  }

  /** All of stdout so far. */
  get stdout(): string {
    return this.chunks.filter((c) => c.fd === 1).map((c) => c.text).join("");
  }

  /** All of stderr so far. */
  get stderr(): string {
    return this.chunks.filter((c) => c.fd === 2).map((c) => c.text).join("");
  }

  private write(fd: 1 | 2, text: string): void {
    if (!text) return;
    const last = this.chunks[this.chunks.length - 1];
    if (last && last.fd === fd) last.text += text;
    else this.chunks.push({ fd, text });
    this.onWrite?.(fd, text);
  }

  /** printf() to stdout. */
  print(text: string): void {
    this.write(1, text);
  }

  /** fprintf(stderr, ...) */
  eprint(text: string): void {
    this.write(2, text);
  }

  /** p_err(): `Error: msg` on stderr, or `{"error":"msg"}` (not escaped) in JSON. */
  pErr(msg: string): void {
    if (this.json) {
      this.json.startObject();
      this.json.name("error");
      this.json.enquote(msg);
      this.json.endObject();
    } else {
      this.eprint(`Error: ${msg}\n`);
    }
  }

  /** p_info(): a warning on stderr, dropped in JSON mode. */
  pInfo(msg: string): void {
    if (this.json) return;
    this.eprint(`${msg}\n`);
  }

  /** jsonw_null() in JSON mode (the answer of a silent success). */
  jsonNull(): void {
    this.json?.null();
  }

  /**
   * main()'s jsonw_destroy(): in JSON mode, the trailing newline (also after
   * an empty document). Safe to call twice.
   */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.json?.destroy();
  }

  /** True once finish() ran. */
  get isFinished(): boolean {
    return this.finished;
  }
}
