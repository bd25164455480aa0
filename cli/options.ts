// Global options as bpftool's main() reads them: getopt_long() with the
// short string "VhpjfLmndSi:k:B:l", opterr = 0 and GNU argument permutation
// (options anywhere until `--`), plus bpfsim's long options: state
// directory, kernel settings and the CPU a command runs on.
//
// Written out rather than node:util parseArgs so that getopt's corner cases
// match bpftool (`-1` is an option, a missing argument reads as an
// unrecognized option, `--` ends options, `-` is a word) and so that one-shot
// startup does not load the Node compatibility layer.

/** Parsed global options. */
export interface GlobalOptions {
  json: boolean;
  pretty: boolean;
  debug: boolean;
  bpffs: boolean;
  nomount: boolean;
  mapcompat: boolean;
  version: boolean;
  help: boolean;
  /** --state DIR (else $BPFSIM_STATE / XDG). */
  state?: string;
  /** Kernel settings that boot a state (--cpus, --profile, --rt, --seed). */
  cpus?: number;
  profile?: string;
  rt?: boolean;
  seed?: number;
  /** --cpu N: run the command as a process on CPU N (taskset -c N). */
  cpu?: number;
  /** --yes: answer yes to confirmations (kernel config). */
  yes: boolean;
}

/** Result of parsing: options and the remaining words, or a bpftool-style error. */
export type Parsed =
  | { ok: true; opts: GlobalOptions; args: string[] }
  | { ok: false; error: string; json: boolean };

type Flag = "json" | "pretty" | "debug" | "bpffs" | "nomount" | "mapcompat" | "version" | "help" | "rt" | "yes";
type Valued = "state" | "cpus" | "profile" | "seed" | "cpu";

/** bpftool's short options: letter -> [name, takes an argument]. */
const SHORT: Record<string, [string, boolean]> = {
  V: ["version", false],
  h: ["help", false],
  p: ["pretty", false],
  j: ["json", false],
  f: ["bpffs", false],
  L: ["use-loader", false],
  m: ["mapcompat", false],
  n: ["nomount", false],
  d: ["debug", false],
  S: ["sign", false],
  i: ["include", true],
  k: ["key", true],
  B: ["base-btf", true],
  l: ["legacy", false],
};

/** Long options: bpftool 7.1.0's (json, pretty, debug, bpffs, mapcompat, version, help, nomount, legacy) and bpfsim's. */
const LONG: Record<string, boolean> = {
  json: false,
  pretty: false,
  debug: false,
  bpffs: false,
  mapcompat: false,
  version: false,
  help: false,
  nomount: false,
  legacy: false,
  state: true,
  cpus: true,
  profile: true,
  rt: false,
  seed: true,
  cpu: true,
  yes: false,
};

function int(name: string, v: string): number | string {
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(v)) return `can't parse ${v} as ${name}`;
  return Number(v);
}

/** Parses argv (without the program name). */
export function parseGlobal(argv: string[]): Parsed {
  const opts: GlobalOptions = {
    json: false,
    pretty: false,
    debug: false,
    bpffs: false,
    nomount: false,
    mapcompat: false,
    version: false,
    help: false,
    yes: false,
  };
  const args: string[] = [];
  let error: string | null = null;
  const set = (name: string, value: string | null, word: string): void => {
    if (error) return;
    if (value === null) {
      if (name in opts || name === "rt") (opts as unknown as Record<Flag, boolean>)[name as Flag] = true;
      // -L, -S, -l are accepted by bpftool and change nothing here
      return;
    }
    if (name === "state" || name === "profile") {
      (opts as unknown as Record<Valued, string>)[name] = value;
      return;
    }
    if (name === "include" || name === "key" || name === "base-btf") return;
    const n = int(name, value);
    if (typeof n === "string") error = n;
    else (opts as unknown as Record<Valued, number>)[name as Valued] = n;
    void word;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.length < 2 || a[0] !== "-") {
      args.push(a);
      continue;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      // getopt_long accepts unambiguous prefixes of long options
      const hits = Object.keys(LONG).filter((n) => n.startsWith(name));
      const exact = hits.includes(name) ? name : hits.length === 1 ? hits[0] : null;
      if (!exact || (eq >= 0 && !LONG[exact])) {
        error ??= `unrecognized option '${a}'`;
        continue;
      }
      if (LONG[exact]) {
        let v: string | undefined = eq >= 0 ? a.slice(eq + 1) : argv[i + 1];
        if (eq < 0) i++;
        if (v === undefined) {
          error ??= `unrecognized option '${a}'`;
          v = "";
        }
        set(exact, v, a);
      } else {
        set(exact, null, a);
      }
      continue;
    }
    // a cluster of short options: -jp, -B file, -Bfile
    for (let j = 1; j < a.length; j++) {
      const s = SHORT[a[j]];
      if (!s) {
        error ??= `unrecognized option '${a}'`;
        break;
      }
      if (s[1]) {
        const rest = a.slice(j + 1);
        let v: string | undefined = rest || argv[i + 1];
        if (!rest) i++;
        if (v === undefined) {
          error ??= `unrecognized option '${a}'`;
          v = "";
        }
        set(s[0], v, a);
        break;
      }
      set(s[0], null, a);
    }
  }
  if (opts.pretty) opts.json = true;
  if (error) {
    const json = opts.json || argv.some((a) => /^-[a-zA-Z]*[jp]/.test(a) || a === "--json" || a === "--pretty");
    return { ok: false, error, json };
  }
  return { ok: true, opts, args };
}
