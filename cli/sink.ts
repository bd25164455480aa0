// Where a command's bytes go (kept tiny: the one-shot entry imports it).

/** stdout (1) / stderr (2) writer. */
export interface Sink {
  write(fd: 1 | 2, text: string): void;
}

/** Writes to the real stdout/stderr. */
export const processSink: Sink = {
  write(fd, text) {
    const b = new TextEncoder().encode(text);
    const f = fd === 1 ? Deno.stdout : Deno.stderr;
    let off = 0;
    while (off < b.length) off += f.writeSync(b.subarray(off));
  },
};
