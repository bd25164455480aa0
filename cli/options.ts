// Global options (tools/bpf/bpftool/main.c getopt_long with GNU argument
// permutation) plus bpfsim's own: state directory, kernel settings and the
// CPU a command runs on. Options may appear anywhere before `--`.

import { parseArgs } from "node:util";

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

const SPEC = {
  version: { type: "boolean", short: "V" },
  help: { type: "boolean", short: "h" },
  pretty: { type: "boolean", short: "p" },
  json: { type: "boolean", short: "j" },
  bpffs: { type: "boolean", short: "f" },
  "use-loader": { type: "boolean", short: "L" },
  mapcompat: { type: "boolean", short: "m" },
  nomount: { type: "boolean", short: "n" },
  debug: { type: "boolean", short: "d" },
  legacy: { type: "boolean", short: "l" },
  state: { type: "string" },
  cpus: { type: "string" },
  profile: { type: "string" },
  rt: { type: "boolean" },
  seed: { type: "string" },
  cpu: { type: "string" },
  yes: { type: "boolean" },
} as const;

function int(name: string, v: string | undefined): number | string | undefined {
  if (v === undefined) return undefined;
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(v)) return `can't parse ${v} as ${name}`;
  return Number(v);
}

/** Parses argv (without the program name). */
export function parseGlobal(argv: string[]): Parsed {
  const jsonWanted = argv.some((a) =>
    a === "-j" || a === "--json" || a === "-p" || a === "--pretty" ||
    (/^-[a-zA-Z]+$/.test(a) && /[jp]/.test(a))
  );
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const r = parseArgs({ args: argv, options: SPEC, allowPositionals: true, strict: true });
    values = r.values as Record<string, string | boolean | undefined>;
    positionals = r.positionals;
  } catch (e) {
    const m = /'(-{1,2}[^' ]*)'/.exec((e as Error).message);
    const bad = m ? m[1] : String((e as Error).message);
    const code = (e as { code?: string }).code;
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      // getopt with opterr = 0 reports a missing argument like an unknown option
      const opt = /'(--?[a-zA-Z-]+)/.exec((e as Error).message)?.[1] ?? bad;
      const word = argv.find((a) => a === opt || a.startsWith(opt + "=")) ?? opt;
      return { ok: false, error: `unrecognized option '${word}'`, json: jsonWanted };
    }
    // bpftool names the whole word it could not take
    const word = argv.find((a) => a === bad || (a.startsWith("-") && !a.startsWith("--") && a.includes(bad.slice(1))));
    return { ok: false, error: `unrecognized option '${word ?? bad}'`, json: jsonWanted };
  }
  const opts: GlobalOptions = {
    json: !!values.json || !!values.pretty,
    pretty: !!values.pretty,
    debug: !!values.debug,
    bpffs: !!values.bpffs,
    nomount: !!values.nomount,
    mapcompat: !!values.mapcompat,
    version: !!values.version,
    help: !!values.help,
    state: values.state as string | undefined,
    rt: values.rt as boolean | undefined,
    profile: values.profile as string | undefined,
    yes: !!values.yes,
  };
  for (const [k, name] of [["cpus", "cpus"], ["seed", "seed"], ["cpu", "cpu"]] as const) {
    const v = int(name, values[k] as string | undefined);
    if (typeof v === "string") return { ok: false, error: v, json: opts.json };
    opts[k] = v;
  }
  return { ok: true, opts, args: positionals };
}
