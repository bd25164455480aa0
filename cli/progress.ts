// A progress line for long simulations: on a terminal, once a run has taken
// more than a second of real time, `label  42%` is redrawn on stderr (at
// most ten times a second) and erased when the run ends. Off a terminal
// (pipes, tests, the server) it prints nothing.

/** A progress reporter: update(fraction) while running, done() at the end. */
export interface Progress {
  /** Reports the fraction done (0..1). */
  update: (fraction: number) => void;
  /** Erases the line if one was drawn. */
  done: () => void;
}

function onTerminal(): boolean {
  try {
    return typeof Deno !== "undefined" && Deno.stderr.isTerminal() && !Deno.env.get("BPFSIM_NO_PROGRESS");
  } catch {
    return false;
  }
}

/** A progress line labelled `label`. */
export function progressLine(label: string): Progress {
  if (!onTerminal()) return { update: () => {}, done: () => {} };
  const t0 = performance.now();
  let last = 0;
  let drawn = false;
  const enc = new TextEncoder();
  return {
    update(f: number) {
      const now = performance.now();
      if (now - t0 < 1000 || now - last < 100) return;
      last = now;
      drawn = true;
      Deno.stderr.writeSync(enc.encode(`\r${label}  ${Math.floor(f * 100)}%   `));
    },
    done() {
      if (drawn) Deno.stderr.writeSync(enc.encode(`\r${" ".repeat(label.length + 10)}\r`));
    },
  };
}
