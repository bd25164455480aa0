// The command sequences recorded from the real bpftool 7.1.0 (see
// record_goldens.ts) and replayed against bpfsim (goldens.test.ts), and
// the normalisation both sides go through: map ids are global on the real
// kernel, so every id is renumbered #1, #2 ... by first appearance.
//
// Pins live under /sys/fs/bpf/zz_cli_*. Every step that may pin passes -n
// (without it bpftool mounts a new bpffs over a non-bpffs directory).
// Hash maps use BPF_F_ZERO_SEED (flags 64) so that their order is fixed.

/** One bpftool invocation. */
export interface GoldenStep {
  /** argv after "bpftool"; `{id:PATH}` is replaced by the id of the map pinned at PATH. */
  args: string[];
  /** Files for `batch file` (written to the real filesystem when recording). */
  files?: Record<string, string>;
  /** Standard input (for `batch file -`). */
  stdin?: string;
  /** Directories to create in bpffs before the command (mkdir(2), which bpftool cannot do). */
  mkdir?: string[];
  /** The 4-byte values printed are map ids (map-in-map lookups): renumber them too. */
  valuesAreIds?: boolean;
}

/** A sequence run on a fresh kernel. */
export interface GoldenScript {
  name: string;
  about: string;
  steps: GoldenStep[];
}

/** What one step printed and returned. */
export interface StepResult {
  stdout: string;
  stderr: string;
  rc: number;
}

/** A recorded golden file (tests/testdata/bpftool/NAME.json). */
export interface GoldenFile {
  script: string;
  about: string;
  recorded: string;
  steps: (GoldenStep & StepResult)[];
}

/** Prefix of every pin the scripts make. */
export const PIN = "/sys/fs/bpf/zz_cli";

function s(line: string, extra: Partial<GoldenStep> = {}): GoldenStep {
  return { args: line.split(/\s+/).filter((w) => w !== ""), ...extra };
}

/**
 * A file's content as written: `@@REPEAT(TEXT,N)@@` stands for TEXT repeated
 * N times (keeps the goldens of very long batch lines small).
 */
export function expandFile(content: string): string {
  return content.replace(/@@REPEAT\((.*?),(\d+)\)@@/gs, (_, t: string, n: string) => t.repeat(Number(n)));
}

function rep(text: string, n: number): string {
  return `@@REPEAT(${text},${n})@@`;
}

/** The id placeholders of a step's argv. */
export function idPlaceholders(args: string[]): string[] {
  return args.flatMap((a) => [...a.matchAll(/\{id:([^}]+)\}/g)].map((m) => m[1]));
}

/** Replaces `{id:PATH}` using `resolve`. */
export function resolveArgs(args: string[], resolve: (path: string) => number): string[] {
  return args.map((a) => a.replace(/\{id:([^}]+)\}/g, (_, p: string) => String(resolve(p))));
}

function u32le(n: number): string {
  return [0, 8, 16, 24].map((sh) => ((n >>> sh) & 0xff).toString(16).padStart(2, "0")).join(" ");
}

/**
 * Renumbers map ids in a transcript: `ID:` at the start of a line, JSON
 * "id" members, `by id (N)`, and the ids used in argv (`resolved`). With
 * `valuesAreIds`, 4-byte values (plain `value: xx xx xx xx`, JSON
 * ["0x..",...]) are ids too. `ids` carries the numbering across steps.
 */
export function normalize(
  r: StepResult,
  ids: Map<number, number>,
  resolved: number[],
  valuesAreIds = false,
): StepResult {
  const canon = (id: number) => {
    if (!ids.has(id)) ids.set(id, ids.size + 1);
    return ids.get(id)!;
  };
  for (const id of resolved) canon(id);
  const fix = (text: string) => {
    let t = text.replace(/^(\d+): /gm, (_, n: string) => `#${canon(Number(n))}: `);
    t = t.replace(/"id": ?(\d+)/g, (m, n: string) => m.replace(n, `#${canon(Number(n))}`));
    t = t.replace(/by id \((\d+)\)/g, (_, n: string) => `by id (#${canon(Number(n))})`);
    if (valuesAreIds) {
      t = t.replace(/value: ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2})$/gm, (m, a, b, c, d) => {
        const id = parseInt(d + c + b + a, 16);
        return m.replace(u32le(id), `<id #${canon(id)}>`);
      });
      t = t.replace(
        /"value": ?\["0x([0-9a-f]{2})","0x([0-9a-f]{2})","0x([0-9a-f]{2})","0x([0-9a-f]{2})"\s*\]/g,
        (m, a, b, c, d) => m.replace(/\[[^\]]*\]/, `["<id #${canon(parseInt(d + c + b + a, 16))}>"]`),
      );
    }
    return t;
  };
  return { stdout: fix(r.stdout), stderr: fix(r.stderr), rc: r.rc };
}

const H = `${PIN}_h`; // hash k4 v8 e16, zero seed
const A = `${PIN}_a`; // array k4 v4 e4
const PA = `${PIN}_pa`; // percpu_array k4 v4 e2
const PH = `${PIN}_ph`; // percpu_hash k4 v20 e4, zero seed
const BIG = `${PIN}_big`; // hash k20 v20 e4, zero seed
const Q = `${PIN}_q`; // queue v4 e3
const ST = `${PIN}_st`; // stack v4 e3

const CREATE_COMMON = [
  s(`-n map create ${H} type hash key 4 value 8 entries 16 name zz_h flags 64`),
  s(`-n map create ${A} type array key 4 value 4 entries 4 name zz_a`),
];

/** Every recorded script. */
export const SCRIPTS: GoldenScript[] = [
  {
    name: "map_show",
    about: "show / list: plain, JSON, pretty, -f pins, frozen, handles by id, name and pinned, handle errors",
    steps: [
      ...CREATE_COMMON,
      s(`-n map create ${PA} type percpu_array key 4 value 4 entries 2 name zz_pa`),
      s(`map show pinned ${H}`),
      s(`map list pinned ${A}`),
      s(`-j map show pinned ${H}`),
      s(`-p map show pinned ${H}`),
      s(`-f map show pinned ${H}`),
      s(`-f -j map show pinned ${A}`),
      s(`-f -p map show pinned ${PA}`),
      s(`-n map pin pinned ${H} ${H}_2`),
      s(`-f map show pinned ${H}`),
      s(`-f -j map show pinned ${H}_2`),
      s(`map show id {id:${A}}`),
      s(`-j map show id {id:${A}}`),
      s(`map s i {id:${PA}}`),
      s(`map sh na zz_a`),
      s(`-j map show name zz_a`),
      s(`-n map create ${A}_2 type array key 4 value 4 entries 4 name zz_a`),
      s(`map show name zz_a`),
      s(`-j map show name zz_a`),
      s(`-p map show name zz_a`),
      s(`map show name zz_none`),
      s(`-j map show name zz_none`),
      s(`-p map show name zz_none`),
      s(`map show name zz_name_is_too_long`),
      s(`map freeze pinned ${PA}`),
      s(`map show pinned ${PA}`),
      s(`-j map show pinned ${PA}`),
      s(`-f map show pinned ${PA}`),
      s(`map show id 0x7fffffff`),
      s(`-j map show id 0x7fffffff`),
      s(`map show id abc`),
      s(`map show id`),
      s(`map show pinned`),
      s(`map show foo bar`),
      s(`map show foo`),
      s(`map show pinned ${H} extra`),
      s(`map show pinned /sys/fs/bpf/zz_cli_none`),
      s(`-j map show pinned /sys/fs/bpf/zz_cli_none`),
      s(`map show pinned /sys/fs/bpf`),
      s(`map show pinned /sys/fs/bpf/`),
      s(`map show pinned ${H}/x`),
      s(`map show pinned relative_path`),
      s(`-n map create ${PIN}_dir_x type hash key 4 value 4 entries 1 name zz_x flags 64`),
      s(`map show pinned /sys/fs/bpf/zz_cli_nodir/x`),
    ],
  },
  {
    name: "map_create",
    about: "create: keywords, prefixes, sizes, flags, name rules, kernel errors, pin errors",
    steps: [
      s(`-n map create ${PIN}_c1 type hash key 4 value 8 entries 4 name zz_c1`),
      s(`-n map show pinned ${PIN}_c1`),
      s(`-n -j map create ${PIN}_c2 t array k 0x4 v 010 e 2 n zz_c2`),
      s(`-n map show pinned ${PIN}_c2`),
      s(`-n -p map create ${PIN}_c3 name zz_c3 entries 4 value 4 key 4 type hash flags 0x41`),
      s(`-n -j map show pinned ${PIN}_c3`),
      s(`-n map create ${PIN}_c4 typ percpu_hash key 4 value 12 entries 3 name zz_c4_abcdefghijklmnop`),
      s(`-n map show pinned ${PIN}_c4`),
      s(`-n map create ${PIN}_c5 type queue key 0 value 4 entries 8 name zz_c5`),
      s(`-n map create ${PIN}_c6 type stack key 0 value 8 entries 2 name zz_c6`),
      s(`-n map create ${PIN}_c7 type hash key 4 value 8 entries 4 name zz_c7 inner_map pinned ${PIN}_c1`),
      s(`-n map create ${PIN}_c8 type array key 4 value 4 entries 4 name zz_c8 flags 1024`),
      s(`-n map create ${PIN}_c9 type hash key 0 key 4 value 4 entries 4 name zz_c9 flags 64`),
      s(`-n map create ${PIN}_c10 type lru_hash key 4 value 8 entries 4 name zz_c10`),
      {
        args: [
          "-n",
          "map",
          "create",
          `${PIN}_c11`,
          "type",
          "percpu_array",
          "key",
          "4",
          "value",
          "4",
          "entries",
          "2",
          "name",
          "",
        ],
      },
      s(`-n -f map show name zz_c1`),
      s(`-n map show pinned ${PIN}_c2`),
      s(`-n map show pinned ${PIN}_c4`),
      s(`-n map show pinned ${PIN}_c5`),
      s(`-n map show pinned ${PIN}_c6`),
      s(`-n map show pinned ${PIN}_c7`),
      s(`-n map show pinned ${PIN}_c8`),
      s(`-n map show pinned ${PIN}_c9`),
      s(`-n map show pinned ${PIN}_c10`),
      s(`-n -j map show pinned ${PIN}_c11`),
      s(`-n map create ${PIN}_e type hash key 4 value 8 entries 4`),
      s(`-n map create ${PIN}_e type hash key 4 value 8 entries 4 name`),
      s(`-n map create ${PIN}_e type has key 4 value 8 entries 4 name x`),
      s(`-n map create ${PIN}_e type 1 key 4 value 8 entries 4 name x`),
      s(`-n map create ${PIN}_e t hash k 4 v 8 e 4 n x f 0x40 t array`),
      s(`-n map create ${PIN}_e t hash k 4 k 8 v 8 e 4 n x`),
      s(`-n map create ${PIN}_e t hash k abc v 8 e 4 n x`),
      s(`-n map create ${PIN}_e t hash k 4 v 0b1 e 4 n x`),
      s(`-n map create ${PIN}_e t hash k 4 v 8 e 4 n x f x`),
      s(`-n map create ${PIN}_e t hash k 4 v 8 e 4 n x foo bar`),
      s(`-n map create ${PIN}_e t hash k 4 v 8 e 4 n x offload_dev lo`),
      s(`-n map create ${PIN}_e t hash k 4 v 8 e 4 n x inner_map`),
      s(`-n map create ${PIN}_e t hash k 4 v 8 e 4 n x inner_map id`),
      s(`-n map create ${PIN}_e t hash k 4 v 8 e 4 n x inner_map id 0x7fffffff`),
      s(`-n map create ${PIN}_e t hash k 4 v 8 e 4 n x inner_map foo bar`),
      s(`-n map create ${PIN}_e type hash key 4 value 8 entries 4 name ab type`),
      s(`-n map create ${PIN}_e`),
      s(`-n map c`),
      s(`-n -j map create ${PIN}_e type hash`),
      s(`-n map create ${PIN}_e type hash key 4 value 8 entries 4 name a-b`),
      s(`-n map create ${PIN}_e type hash key 0 value 8 entries 4 name x`),
      s(`-n map create ${PIN}_e type hash key 4 value 0 entries 4 name x`),
      s(`-n map create ${PIN}_e type hash key 4 value 8 entries 0 name x`),
      s(`-n -j map create ${PIN}_e type hash key 0 value 8 entries 4 name x`),
      s(`-n map create ${PIN}_e type array key 8 value 4 entries 4 name x`),
      s(`-n map create ${PIN}_e type array key 4 value 4 entries 4 name x flags 1`),
      s(`-n map create ${PIN}_e type hash key 4 value 8 entries 4 name x flags 0x80000000`),
      s(`-n map create ${PIN}_e type hash key 4 value 8 entries 4 name x flags 24`),
      s(`-n map create ${PIN}_e type hash key 0x400000 value 8 entries 4 name x`),
      s(`-n map create ${PIN}_e type percpu_array key 4 value 32769 entries 4 name x`),
      s(`-n map create ${PIN}_e type queue key 4 value 4 entries 4 name x`),
      s(`-n map create ${PIN}_e type stack key 0 value 4 entries 4 name x flags 1`),
      s(`-n map create ${PIN}_e type lru_hash key 4 value 8 entries 4 name x flags 1`),
      s(`-n map create ${PIN}_e type unspec key 4 value 8 entries 4 name x`),
      s(`-n map create ${PIN}_c1 type hash key 4 value 8 entries 4 name zz_dup`),
      s(`-n -j map create ${PIN}_c1 type hash key 4 value 8 entries 4 name zz_dup`),
      s(`-n map create ${PIN}_e.x type hash key 4 value 8 entries 4 name zz_dot`),
      s(`-n map create ${PIN}_c1/x type hash key 4 value 8 entries 4 name zz_notdir`),
      s(`-n map create /sys/fs/bpf type hash key 4 value 8 entries 4 name zz_root`),
      s(`-n map create /sys/fs/bpf/zz_cli_nodir/x type hash key 4 value 8 entries 4 name zz_nodir`),
      s(`-n map create /tmp/zz_cli_x type hash key 4 value 8 entries 4 name zz_tmp`),
      s(`-n map show name zz_dup`),
      s(`-n map show name zz_dot`),
    ],
  },
  {
    name: "map_elem",
    about: "update / lookup / getnext / delete on hash, array, per-CPU and 20-byte maps: output shapes and errors",
    steps: [
      ...CREATE_COMMON,
      s(`-n map create ${PA} type percpu_array key 4 value 4 entries 2 name zz_pa`),
      s(`-n map create ${PH} type percpu_hash key 4 value 20 entries 4 name zz_ph flags 64`),
      s(`-n map create ${BIG} type hash key 20 value 20 entries 4 name zz_big flags 64`),
      s(`map update pinned ${H} key 1 0 0 0 value 1 2 3 4 5 6 7 8`),
      s(`-j map update pinned ${H} key 2 0 0 0 value hex ff 0 0 0 0 0 0 1`),
      s(`-p map update pinned ${H} key 3 0 0 0 value 3 0 0 0 0 0 0 0 any`),
      s(`map lookup pinned ${H} key 1 0 0 0`),
      s(`-j map lookup pinned ${H} key 2 0 0 0`),
      s(`-p map lookup pinned ${H} key 3 0 0 0`),
      s(`map lookup pinned ${H} key 9 0 0 0`),
      s(`-j map lookup pinned ${H} key 9 0 0 0`),
      s(`-p map lookup pinned ${H} key 9 0 0 0`),
      s(`map getnext pinned ${H}`),
      s(`map getnext pinned ${H} key 2 0 0 0`),
      s(`map getnext pinned ${H} key 9 0 0 0`),
      s(`-j map getnext pinned ${H}`),
      s(`-p map getnext pinned ${H} key 2 0 0 0`),
      s(`map getnext pinned ${H} key 3 0 0 0`),
      s(`-j map getnext pinned ${H} key 3 0 0 0`),
      s(`map update pinned ${H} key 1 0 0 0 value 1 0 0 0 0 0 0 0 noexist`),
      s(`-j map update pinned ${H} key 1 0 0 0 value 1 0 0 0 0 0 0 0 noexist`),
      s(`map update pinned ${H} key 7 0 0 0 value 1 0 0 0 0 0 0 0 exist`),
      s(`map update pinned ${H} key 1 0 0 0 value 9 0 0 0 0 0 0 0 e`),
      s(`map update pinned ${H} value 5 0 0 0 0 0 0 0 n key 5 0 0 0`),
      s(`map delete pinned ${H} key 5 0 0 0`),
      s(`-j map delete pinned ${H} key 1 0 0 0`),
      s(`map delete pinned ${H} key 1 0 0 0`),
      s(`-p map delete pinned ${H} key 1 0 0 0`),
      s(`map lookup pinned ${H} key 1 0 0 0`),
      s(`map update pinned ${A} key 0x1 0 0 0 value 256 0xABC 010 255`),
      s(`map lookup pinned ${A} key 1 0 0 0`),
      s(`map update pinned ${A} key h 2 0 0 0 value h ABC 0x1f 0X2 7`),
      s(`map lookup pinned ${A} key 2 0 0 0`),
      s(`map update pinned ${A} key 9 0 0 0 value 1 0 0 0`),
      s(`map update pinned ${A} key 1 0 0 0 value 1 0 0 0 noexist`),
      s(`map delete pinned ${A} key 1 0 0 0`),
      s(`map lookup pinned ${A} key 9 0 0 0`),
      s(`map getnext pinned ${A} key 9 0 0 0`),
      s(`map getnext pinned ${A} key 3 0 0 0`),
      s(`-j map lookup pinned ${A} key 0 0 0 0`),
      s(`map update pinned ${PA} key 1 0 0 0 value 7 0 0 0`),
      s(`map lookup pinned ${PA} key 1 0 0 0`),
      s(`-j map lookup pinned ${PA} key 1 0 0 0`),
      s(`-p map lookup pinned ${PA} key 0 0 0 0`),
      s(`map update pinned ${PH} key 1 0 0 0 value 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20`),
      s(`map lookup pinned ${PH} key 1 0 0 0`),
      s(`-j map lookup pinned ${PH} key 1 0 0 0`),
      s(`map update pinned ${BIG} key 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 value hex ff fe fd`),
      s(
        `map update pinned ${BIG} key 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 ` +
          `value 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20`,
      ),
      s(`map lookup pinned ${BIG} key 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20`),
      s(`map lookup pinned ${BIG} key 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 0`),
      s(`map getnext pinned ${BIG} key 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 0`),
      s(`-j map getnext pinned ${BIG}`),
      s(`map update pinned ${A} key 1 0 0 value 1 0 0 0`),
      s(`map update pinned ${A} key 1 0 0 0 0 value 1 0 0 0`),
      s(`map update pinned ${A} key 1 0 0 0 value 1 0 0 0 exist noexist`),
      s(`map update pinned ${A} key 1 0 0 0 value 1 0 0 0 key 1`),
      s(`map update pinned ${A} value 1 0 0 0 value 1`),
      s(`map update pinned ${A} key 1 0 0 0`),
      s(`map update pinned ${A} value 1 0 0 0`),
      s(`map update pinned ${A} key 08 0 0 0 value 1 0 0 0`),
      s(`map update pinned ${A} key 0x 0 0 0 value 1 0 0 0`),
      s(`map update pinned ${A} key h 1 0 0 0 value h zz 0 0 0`),
      s(`map update pinned ${A} key 1 0 0 0 value 1 0 0 0 x`),
      s(`-j map update pinned ${A} key 1 0 0 0 value 1 0 0 0 x`),
      s(`map update pinned ${A} k 1 0 0 0 v 1 0 0 0`),
      s(`map update pinned ${A}`),
      s(`map update pinned ${A} 1`),
      s(`map update`),
      s(`-j map update`),
      s(`map delete pinned ${A} key 1 0 0 0 value 1`),
      s(`map delete pinned ${A}`),
      s(`map delete pinned ${A} any`),
      s(`map lookup pinned ${A} key 1 0 0 0 any`),
      s(`map lookup pinned ${A}`),
      s(`map lookup pinned ${A} key`),
      s(`map getnext pinned ${A} key 1 0 0 0 x`),
      s(`map lookup pinned`),
      s(`map push pinned ${A} value 1 0 0 0`),
      s(`map pop pinned ${H}`),
    ],
  },
  {
    name: "map_dump",
    about: "dump: entry shapes per map kind, several maps by name, errors and their exit codes",
    steps: [
      ...CREATE_COMMON,
      s(`-n map create ${PA} type percpu_array key 4 value 4 entries 2 name zz_pa`),
      s(`-n map create ${PH} type percpu_hash key 4 value 20 entries 4 name zz_ph flags 64`),
      s(`-n map create ${BIG} type hash key 20 value 20 entries 4 name zz_big flags 64`),
      s(`-n map create ${Q} type queue key 0 value 4 entries 3 name zz_q`),
      s(`map dump pinned ${H}`),
      s(`-j map dump pinned ${H}`),
      s(`-p map dump pinned ${H}`),
      s(`map update pinned ${H} key 1 0 0 0 value 1 2 3 4 5 6 7 8`),
      s(`map update pinned ${H} key 2 0 0 0 value hex ff 0 0 0 0 0 0 1`),
      s(`map update pinned ${H} key 3 0 0 0 value 3 0 0 0 0 0 0 0`),
      s(`map update pinned ${H} key 0x11 0 0 0 value 0x11 0 0 0 0 0 0 0`),
      s(`map dump pinned ${H}`),
      s(`-j map dump pinned ${H}`),
      s(`-p map dump pinned ${H}`),
      s(`map d id {id:${H}}`),
      s(`map update pinned ${A} key 1 0 0 0 value 7 0 0 0`),
      s(`map dump pinned ${A}`),
      s(`-j map dump pinned ${A}`),
      s(`map update pinned ${PA} key 1 0 0 0 value 7 0 0 0`),
      s(`map dump pinned ${PA}`),
      s(`-j map dump pinned ${PA}`),
      s(`-p map dump pinned ${PA}`),
      s(`map update pinned ${PH} key 1 0 0 0 value 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20`),
      s(`map dump pinned ${PH}`),
      s(`-p map dump pinned ${PH}`),
      s(
        `map update pinned ${BIG} key 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 ` +
          `value 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20`,
      ),
      s(`map dump pinned ${BIG}`),
      s(`-j map dump pinned ${BIG}`),
      s(`map dump pinned ${Q}`),
      s(`-j map dump pinned ${Q}`),
      s(`-n map create ${A}_2 type array key 4 value 4 entries 2 name zz_a`),
      s(`map dump name zz_a`),
      s(`-j map dump name zz_a`),
      s(`-p map dump name zz_a`),
      s(`-n map create ${Q}_2 type queue key 0 value 4 entries 3 name zz_q`),
      s(`map dump name zz_q`),
      s(`-j map dump name zz_q`),
      s(`map dump name zz_none`),
      s(`-j map dump name zz_none`),
      s(`map dump`),
      s(`-j map dump`),
      s(`map dump pinned`),
      s(`map dump pinned ${A} extra`),
      s(`map dump foo bar`),
      s(`map dump pinned /sys/fs/bpf/zz_cli_none`),
      s(`map dump id 0x7fffffff`),
    ],
  },
  {
    name: "map_queue_stack",
    about: "queue / stack: push, enqueue, peek, pop, dequeue, full and empty maps, key errors",
    steps: [
      s(`-n map create ${Q} type queue key 0 value 4 entries 3 name zz_q`),
      s(`-n map create ${ST} type stack key 0 value 4 entries 3 name zz_st`),
      s(`map peek pinned ${Q}`),
      s(`-j map peek pinned ${Q}`),
      s(`map pop pinned ${Q}`),
      s(`-j map pop pinned ${Q}`),
      s(`-p map pop pinned ${Q}`),
      s(`map push pinned ${Q} value 1 0 0 0`),
      s(`-j map enqueue pinned ${Q} value 2 0 0 0`),
      s(`map update pinned ${Q} value 3 0 0 0`),
      s(`map push pinned ${Q} value 4 0 0 0`),
      s(`map push pinned ${Q} value 4 0 0 0 exist`),
      s(`map push pinned ${Q} value 5 0 0 0 noexist`),
      s(`map peek pinned ${Q}`),
      s(`-j map peek pinned ${Q}`),
      s(`-p map peek pinned ${Q}`),
      s(`map pop pinned ${Q}`),
      s(`-j map dequeue pinned ${Q}`),
      s(`-p map pop pinned ${Q}`),
      s(`map pop pinned ${Q}`),
      s(`map lookup pinned ${Q} key 1`),
      s(`map lookup pinned ${Q} key`),
      s(`map update pinned ${Q} value 1 0 0 0 key 1`),
      s(`map update pinned ${Q}`),
      s(`map getnext pinned ${Q}`),
      s(`map getnext pinned ${Q} key`),
      s(`map delete pinned ${Q} key`),
      s(`map delete pinned ${Q} key 0 0 0 0`),
      s(`map delete pinned ${Q}`),
      s(`map pop pinned ${Q} key`),
      s(`-p map push pinned ${Q} value 9 0 0 0`),
      s(`-p map enqueue pinned ${Q} value 9 0 0 0 any any`),
      s(`-p map dequeue pinned ${Q}`),
      s(`-p map peek pinned ${Q}`),
      s(`map push pinned ${ST} value 1 0 0 0`),
      s(`map push pinned ${ST} value 2 0 0 0`),
      s(`map pu pinned ${ST} value 3 0 0 0`),
      s(`map peek pinned ${ST}`),
      s(`map push pinned ${ST} value 4 0 0 0`),
      s(`map push pinned ${ST} value 4 0 0 0 exist`),
      s(`map pop pinned ${ST}`),
      s(`map deq pinned ${ST}`),
      s(`map pop pinned ${ST}`),
      s(`map pop pinned ${ST}`),
      s(`map dump pinned ${ST}`),
      s(`map show pinned ${ST}`),
      s(`map freeze pinned ${ST}`),
      s(`map push pinned ${ST} value 4 0 0 0`),
      s(`map pop pinned ${ST}`),
      s(`map peek pinned ${ST}`),
    ],
  },
  {
    name: "map_pin_freeze",
    about: "pin and freeze: extra pins and -f, pin errors, frozen maps refusing writes, event_pipe, help",
    steps: [
      ...CREATE_COMMON,
      s(`-n map pin pinned ${H} ${H}_pin2`),
      s(`-n -j map pin id {id:${H}} ${H}_pin3`),
      s(`-f map show pinned ${H}`),
      s(`-f -p map show pinned ${H}_pin3`),
      s(`-n map pin pinned ${H} ${H}_pin2`),
      s(`-n -j map pin pinned ${H} ${H}_pin2`),
      s(`-n map pin pinned ${H} ${H}/y`),
      s(`-n map pin pinned ${H} ${PIN}.dot`),
      s(`-n map pin pinned ${H} /sys/fs/bpf`),
      s(`-n map pin pinned ${H} /sys/fs/bpf/zz_cli_nodir/x`),
      s(`-n map pin pinned ${H} /tmp/zz_cli_x`),
      s(`-n map pin pinned ${H}`),
      s(`-n map pin pinned`),
      s(`-n map pin`),
      s(`-n -j map pin id`),
      s(`-n map p pinned ${H}`),
      s(`-n map pin id 0x7fffffff ${H}_x`),
      s(`-n map pin foo bar baz`),
      s(`map freeze pinned ${A}`),
      s(`-j map freeze pinned ${A}`),
      s(`map freeze pinned ${A}`),
      s(`map show pinned ${A}`),
      s(`map update pinned ${A} key 1 0 0 0 value 1 0 0 0`),
      s(`map delete pinned ${A} key 1 0 0 0`),
      s(`map lookup pinned ${A} key 1 0 0 0`),
      s(`map dump pinned ${A}`),
      s(`map freeze`),
      s(`map freeze pinned`),
      s(`map freeze pinned ${A} x`),
      s(`map f pinned ${H}`),
      s(`-j map show pinned ${H}`),
      s(`map event_pipe`),
      s(`map event_pipe pinned ${A}`),
      s(`-j map event_pipe pinned ${A} cpu 0`),
      s(`map help`),
      s(`-j map help`),
      s(`map h`),
      s(`m help`),
      s(`map frobnicate`),
      s(`-j map frobnicate`),
      s(`-p map help`),
      s(`-p map frobnicate`),
      s(`-n -p map pin pinned ${H} ${H}_pin4`),
      s(`-n -p map pin pinned ${H} ${H}_pin4`),
      s(`-p map freeze pinned ${H}`),
      s(`-p map freeze pinned ${H}`),
      s(`-p map event_pipe pinned ${A}`),
      s(`map`),
      { args: ["map", ""] },
      { args: ["map", "lookup", "pinned", H, "key", "", "", "", ""] },
      { args: ["map", "lookup", "pinned", H, "key", " 1", "+0", "0", "0"] },
    ],
  },
  {
    name: "top_level",
    about: "top-level dispatch: help, prefixes, unknown objects, options",
    steps: [
      s(``),
      s(`help`),
      s(`-j help`),
      s(`h`),
      s(`frobnicate`),
      s(`-j frobnicate`),
      s(`-p frobnicate`),
      s(`-x`),
      s(`-j -x`),
      s(`-n map create ${A} type array key 4 value 4 entries 4 name zz_a`),
      s(`m s pinned ${A}`),
      s(`ma show pinned ${A}`),
      s(`-j m s pinned ${A}`),
    ],
  },
];

function padTo(line: string, n: number): string {
  return line + rep(" ", n - line.length);
}

function b(name: string, content: string, args: string): GoldenStep {
  const path = `/tmp/zz_cli_batch_${name}`;
  return { args: args.replace("FILE", path).split(/\s+/).filter((w) => w), files: { [path]: content } };
}

SCRIPTS.push({
  name: "batch",
  about: "batch file: parsing (comments, quotes, continuations), stop at the first failure, JSON wrapping, errno",
  steps: [
    ...CREATE_COMMON,
    b(
      "ok",
      `map update pinned ${H} key 1 0 0 0 value 1 0 0 0 0 0 0 0\nmap lookup pinned ${H} key 1 0 0 0\n`,
      "-n batch file FILE",
    ),
    b(
      "ok",
      `map update pinned ${H} key 1 0 0 0 value 1 0 0 0 0 0 0 0\nmap lookup pinned ${H} key 1 0 0 0\n`,
      "-n -j batch file FILE",
    ),
    b(
      "ok",
      `map update pinned ${H} key 1 0 0 0 value 1 0 0 0 0 0 0 0\nmap lookup pinned ${H} key 1 0 0 0\n`,
      "-n -p batch file FILE",
    ),
    b("empty", ``, "batch file FILE"),
    b("empty", ``, "-j batch file FILE"),
    b(
      "comments",
      `# a comment\n\n   \nmap lookup pinned ${H} key 1 0 0 0 # trailing\n\t# indented\n`,
      "batch file FILE",
    ),
    b(
      "miss",
      `map lookup pinned ${H} key 1 0 0 0\nmap lookup pinned ${H} key 7 0 0 0\nmap lookup pinned ${H} key 1 0 0 0\n`,
      "batch file FILE",
    ),
    b(
      "miss",
      `map lookup pinned ${H} key 1 0 0 0\nmap lookup pinned ${H} key 7 0 0 0\nmap lookup pinned ${H} key 1 0 0 0\n`,
      "-j batch file FILE",
    ),
    b("fail", `map update pinned ${A} key 9 0 0 0 value 1 0 0 0\nmap show pinned ${A}\n`, "batch file FILE"),
    b("fail", `map update pinned ${A} key 9 0 0 0 value 1 0 0 0\nmap show pinned ${A}\n`, "-j batch file FILE"),
    b("show", `map show pinned ${A}\n`, "batch file FILE"),
    b("show", `map show pinned ${A}\n`, "-j batch file FILE"),
    b("dump", `map dump pinned ${A}\n`, "batch file FILE"),
    b("dump", `map dump pinned ${A}\n`, "-p batch file FILE"),
    b("dumpshow", `map dump pinned ${A}\nmap show name zz_a\n`, "batch file FILE"),
    b("help", `map help\nhelp\nmap lookup pinned ${H} key 1 0 0 0\n`, "batch file FILE"),
    b("help", `map help\nhelp\nmap lookup pinned ${H} key 1 0 0 0\n`, "-j batch file FILE"),
    b(
      "unknown",
      `map lookup pinned ${H} key 1 0 0 0\nmap frob\nmap lookup pinned ${H} key 1 0 0 0\n`,
      "batch file FILE",
    ),
    b("unknown", `map lookup pinned ${H} key 1 0 0 0\nfrob\n`, "batch file FILE"),
    b("usage", `map lookup pinned ${H} key 1 0 0 0\nmap dump\nmap lookup pinned ${H} key 1 0 0 0\n`, "batch file FILE"),
    b("quotes", `map lookup 'pinned' "${H}" key "1" '0' 0 0\n`, "batch file FILE"),
    b("quotes2", `map lookup pinned ${H} key "1"0 0 0\n`, "batch file FILE"),
    b("quotes3", `map lookup pinned ${H} key "1 0 0 0\n`, "batch file FILE"),
    b("quotes4", `map lookup pinned ${H} key '1 0 0 0 # unterminated'\n`, "batch file FILE"),
    b("quotes5", `map lookup pinned ${H} key 1 0 0 0\nmap lookup pinned "${H}" key "1 0 0 0"\n`, "-j batch file FILE"),
    b(
      "cont",
      `map lookup pinned ${H} \\\nkey 1 0 0 0\nmap lookup \\\n pinned ${H} \\\n key 1 0 0 0\n`,
      "batch file FILE",
    ),
    b("cont2", `map lookup pinned ${H} key 1 0 0 0 \\`, "batch file FILE"),
    b("cont3", `map lookup pinned ${H} key 1 0 0 0\nmap lookup pinned ${H} \\\n`, "batch file FILE"),
    b(
      "cont4",
      `map lookup pinned ${H} key 1 0 0 0 # comment \\\nmap lookup pinned ${H} key 1 0 0 0\n`,
      "batch file FILE",
    ),
    b("crlf", `map lookup pinned ${H} key 1 0 0 0\r\nmap lookup pinned ${H} key 1 0 0 0\r\n`, "batch file FILE"),
    b("opt", `-j map show pinned ${A}\n`, "batch file FILE"),
    b("noout", `map show name zz_none\nmap show pinned ${A}\n`, "-j batch file FILE"),
    b("noout", `map show name zz_none\nmap show pinned ${A}\n`, "-p batch file FILE"),
    b("json_esc", `map lookup pinned ${H} key 1 0 0 0 'a\\b"c'\n`, "-j batch file FILE"),
    b("nested", `map lookup pinned ${H} key 1 0 0 0\nbatch file /tmp/zz_cli_batch_ok\n`, "batch file FILE"),
    {
      args: ["-j", "batch", "file", "/tmp/zz_cli_batch_nested"],
      files: {
        "/tmp/zz_cli_batch_nested": `map lookup pinned ${H} key 1 0 0 0\nbatch file /tmp/zz_cli_batch_ok\n`,
        "/tmp/zz_cli_batch_ok": `map update pinned ${H} key 1 0 0 0 value 1 0 0 0 0 0 0 0\n` +
          `map lookup pinned ${H} key 1 0 0 0\n`,
      },
    },
    { args: ["batch", "file", "-"], stdin: `map lookup pinned ${H} key 1 0 0 0\nmap help\n` },
    { args: ["-j", "batch", "file", "-"], stdin: `map lookup pinned ${H} key 1 0 0 0\n` },
    s(`batch`),
    s(`batch f`),
    s(`batch x y`),
    s(`batch file a b`),
    s(`batch file /tmp/zz_cli_batch_none`),
    s(`-j batch file /tmp/zz_cli_batch_none`),
    s(`b f /tmp/zz_cli_batch_none`),
  ],
});

/** Types that arrive with other work: scripts that need them. */
SCRIPTS.push({
  name: "map_lru_ringbuf",
  about: "lru_hash and ringbuf through the CLI: eviction seen by dump, ringbuf refusals and dump rc",
  steps: [
    s(`-n map create ${PIN}_lru type lru_hash key 4 value 4 entries 4 name zz_lru flags 64`),
    s(`map update pinned ${PIN}_lru key 1 0 0 0 value 1 0 0 0`),
    s(`map update pinned ${PIN}_lru key 2 0 0 0 value 2 0 0 0`),
    s(`map update pinned ${PIN}_lru key 3 0 0 0 value 3 0 0 0`),
    s(`map update pinned ${PIN}_lru key 4 0 0 0 value 4 0 0 0`),
    s(`map update pinned ${PIN}_lru key 5 0 0 0 value 5 0 0 0`),
    s(`map dump pinned ${PIN}_lru`),
    s(`-j map show pinned ${PIN}_lru`),
    s(`-n map create ${PIN}_lpc type lru_percpu_hash key 4 value 4 entries 4 name zz_lpc flags 64`),
    s(`map update pinned ${PIN}_lpc key 1 0 0 0 value 1 0 0 0`),
    s(`map dump pinned ${PIN}_lpc`),
    s(`-j map dump pinned ${PIN}_lpc`),
    s(`-p map dump pinned ${PIN}_lpc`),
    s(`-p map lookup pinned ${PIN}_lru key 5 0 0 0`),
    s(`-n map create ${PIN}_rb type ringbuf key 0 value 0 entries 4096 name zz_rb`),
    s(`map show pinned ${PIN}_rb`),
    s(`map dump pinned ${PIN}_rb`),
    s(`-j map dump pinned ${PIN}_rb`),
    s(`map lookup pinned ${PIN}_rb`),
    s(`map peek pinned ${PIN}_rb`),
    s(`map pop pinned ${PIN}_rb`),
    s(`map getnext pinned ${PIN}_rb`),
    s(`map update pinned ${PIN}_rb`),
    s(`map update pinned ${PIN}_rb value 1`),
    s(`map delete pinned ${PIN}_rb key`),
    s(`map event_pipe pinned ${PIN}_rb`),
    s(`map freeze pinned ${PIN}_rb`),
    s(`map show pinned ${PIN}_rb`),
    s(`-n map create ${PIN}_rb2 type ringbuf key 0 value 0 entries 1000 name zz_rb2`),
  ],
});

SCRIPTS.push({
  name: "map_in_map",
  about: "array_of_maps / hash_of_maps: inner_map templates, values given as MAP handles, ids shown as bytes",
  steps: [
    s(`-n map create ${PIN}_in1 type array key 4 value 4 entries 4 name zz_in1`),
    s(`-n map create ${PIN}_in2 type array key 4 value 4 entries 4 name zz_in2`),
    s(`-n map create ${PIN}_in8 type array key 4 value 4 entries 8 name zz_in8`),
    s(`-n map create ${PIN}_hin type hash key 4 value 4 entries 4 name zz_hin flags 64`),
    s(`-n map create ${PIN}_aom type array_of_maps key 4 value 4 entries 4 name zz_aom inner_map pinned ${PIN}_in1`),
    s(`-n map create ${PIN}_hom type hash_of_maps key 4 value 4 entries 4 name zz_hom inner_map name zz_hin`),
    s(`-n map create ${PIN}_e type array_of_maps key 4 value 4 entries 4 name zz_e`),
    s(`-n map create ${PIN}_e type array_of_maps key 4 value 8 entries 4 name zz_e inner_map pinned ${PIN}_in1`),
    s(`-n map create ${PIN}_e type array_of_maps key 4 value 4 entries 4 name zz_e inner_map pinned ${PIN}_aom`),
    s(`map show pinned ${PIN}_aom`),
    s(`-j map show pinned ${PIN}_hom`),
    s(`map update pinned ${PIN}_aom key 0 0 0 0 value pinned ${PIN}_in1`),
    s(`map update pinned ${PIN}_aom key 2 0 0 0 value id {id:${PIN}_in2}`),
    s(`map update pinned ${PIN}_aom key 3 0 0 0 value name zz_in2`),
    s(`map update pinned ${PIN}_aom key 1 0 0 0 value pinned ${PIN}_in8`),
    s(`map update pinned ${PIN}_aom key 1 0 0 0 value 1 0 0 0`),
    s(`map update pinned ${PIN}_aom key 1 0 0 0 value id`),
    s(`map update pinned ${PIN}_aom key 1 0 0 0 value pinned ${PIN}_in1 noexist`),
    s(`map update pinned ${PIN}_aom key 9 0 0 0 value pinned ${PIN}_in1`),
    s(`map lookup pinned ${PIN}_aom key 0 0 0 0`, { valuesAreIds: true }),
    s(`-j map lookup pinned ${PIN}_aom key 2 0 0 0`, { valuesAreIds: true }),
    s(`map lookup pinned ${PIN}_aom key 1 0 0 0`),
    s(`map dump pinned ${PIN}_aom`, { valuesAreIds: true }),
    s(`-j map dump pinned ${PIN}_aom`, { valuesAreIds: true }),
    s(`map delete pinned ${PIN}_aom key 3 0 0 0`),
    s(`map delete pinned ${PIN}_aom key 3 0 0 0`),
    s(`map update pinned ${PIN}_hom key 7 0 0 0 value pinned ${PIN}_hin`),
    s(`map update pinned ${PIN}_hom key 8 0 0 0 value pinned ${PIN}_in1`),
    s(`map dump pinned ${PIN}_hom`, { valuesAreIds: true }),
    s(`map getnext pinned ${PIN}_hom`),
  ],
});

/** -f lists a map's pins in libbpf hashmap order, which changes as the table grows. */
SCRIPTS.push({
  name: "pin_order",
  about: "-f pinned lists with 1 to 11 pins spread over three maps (libbpf hashmap growth reorders them)",
  steps: [
    s(`-n map create ${PIN}_m1 type array key 4 value 4 entries 1 name zz_m1`),
    s(`-n map create ${PIN}_m2 type array key 4 value 4 entries 1 name zz_m2`),
    s(`-f map show name zz_m1`),
    ...[2, 3, 4, 5, 6, 7, 8].flatMap((i) => [
      s(`-n map pin name zz_m1 ${PIN}_m1_p${i}`),
      s(`-f map show name zz_m1`),
    ]),
    s(`-n map pin name zz_m2 ${PIN}_m2_p2`),
    s(`-f -j map show name zz_m1`),
    s(`-f -j map show name zz_m2`),
    s(`-n map create ${PIN}_m3 type array key 4 value 4 entries 1 name zz_m3`),
    s(`-n map pin name zz_m3 ${PIN}_m3_p2`),
    s(`-f map show name zz_m1`),
    s(`-f map show name zz_m3`),
  ],
});

SCRIPTS.push({
  name: "batch_limits",
  about: "batch: a 65535-character line (fgets chunk, E2BIG), 4095 arguments, NUL bytes",
  steps: [
    s(`-n map create ${A} type array key 4 value 4 entries 4 name zz_a`),
    b("long", `map lookup pinned ${A} key 1 0 0 0${rep(" ", 70000)}\nmap help\n`, "batch file FILE"),
    b("long3", `${padTo(`map lookup pinned ${A} key 1 0 0 0`, 65534)}\nmap help\n`, "batch file FILE"),
    b("long4", `${padTo(`map lookup pinned ${A} key 1 0 0 0`, 65533)}\nmap help\n`, "batch file FILE"),
    b(
      "long2",
      `map lookup pinned ${A} key 1 0 0 0 #${rep("x", 70000)}\nmap lookup pinned ${A} key 1 0 0 0\n`,
      "batch file FILE",
    ),
    b("args", `map lookup pinned ${A} key 1 0 0 0${rep(" 0", 4087)}\n`, "batch file FILE"),
    b("args2", `map lookup pinned ${A} key 1 0 0 0${rep(" 0", 4086)}\n`, "batch file FILE"),
    b("nul", `map lookup pinned ${A} key 1 0 0 0\0 junk\nmap lookup pinned ${A} key 2 0 0 0\n`, "batch file FILE"),
  ],
});

SCRIPTS.push({
  name: "pin_dirs",
  about: "pins in bpffs subdirectories: -f order (nftw descends into directories, newest entry first), dir handles",
  steps: [
    s(`-n map create ${PIN}_m1 type array key 4 value 4 entries 1 name zz_m1`),
    { ...s(`-n map pin name zz_m1 ${PIN}_d1/p`), mkdir: [`${PIN}_d1`] },
    { ...s(`-n map pin name zz_m1 ${PIN}_d1/sub/q`), mkdir: [`${PIN}_d1/sub`] },
    s(`-n map create ${PIN}_m2 type array key 4 value 4 entries 1 name zz_m2`),
    s(`-n map pin name zz_m2 ${PIN}_d1/r`),
    s(`-f map show name zz_m1`),
    s(`-f map show name zz_m2`),
    { ...s(`-n map pin name zz_m1 ${PIN}_d0/z`), mkdir: [`${PIN}_d0`] },
    s(`-n map pin name zz_m1 ${PIN}_d1/sub/a`),
    s(`-f map show name zz_m1`),
    s(`-f -j map show name zz_m2`),
    s(`map show pinned ${PIN}_d1`),
    s(`map show pinned ${PIN}_d1/sub/`),
    s(`map show pinned ${PIN}_d1/sub/q`),
    s(`-n map pin name zz_m2 ${PIN}_d1/sub`),
    s(`-n map pin name zz_m2 ${PIN}_d1/none/x`),
  ],
});
