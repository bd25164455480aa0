// Tab completion for the shell, generated from the command tables: the
// top-level rows, each object's rows, and each row's usage syntax
// (`MAP [key DATA] [value VALUE] [UPDATE_FLAGS]`) with the object's
// definitions (`MAP := { id MAP_ID | pinned FILE | name MAP_NAME }`), the
// same text `help` prints. Dynamic words (map ids, names, pinned paths) come
// from the kernel. Keywords after the positional part may come in any order,
// once each, as bpftool's parsers accept them.

import type { Kernel } from "../lib/kernel/kernel.ts";
import type { BpfMap } from "../lib/bpf/map.ts";
import { type BpfDir, BPFFS_MOUNT } from "../lib/bpf/inode.ts";
import { type Cmd, selectRow } from "./cmd.ts";
import { BPFTOOL_IMPL, simulatorObjects, topCmds } from "./dispatch.ts";
import { mapIsMapOfMaps } from "./map_parse.ts";
import { isPrefix } from "./parse.ts";
import { allPoints } from "../lib/kernel/points.ts";
import { allTracepoints } from "../lib/kernel/tracepoint.ts";
import { WORKLOADS } from "../lib/workload/run.ts";

/** bpftool's global options, offered when the word being completed starts with '-'. */
export const BPFTOOL_OPTIONS: readonly string[] = [
  "--json",
  "--pretty",
  "--bpffs",
  "--nomount",
  "--debug",
  "--mapcompat",
  "--version",
  "--help",
  "-j",
  "-p",
  "-f",
  "-n",
  "-d",
  "-m",
  "-V",
  "-h",
];

type Item =
  | { kind: "kw"; word: string; args: Item[] }
  | { kind: "nt"; name: string }
  | { kind: "opt"; items: Item[] }
  | { kind: "alt"; alts: Item[][] };

function tokenize(text: string): string[] {
  return text.replaceAll("\\\n", " ").replace(/([[\]{}|])/g, " $1 ").split(/\s+/).filter((t) => t !== "");
}

const isNt = (w: string) => /^[A-Z][A-Z0-9_]*$/.test(w);

/** Parses usage syntax into items; a keyword owns the nonterminals that follow it. */
export function parseSyntax(text: string): Item[] {
  const toks = tokenize(text);
  let i = 0;
  const seq = (stop: string[]): Item[] => {
    const out: Item[] = [];
    while (i < toks.length && !stop.includes(toks[i])) {
      const t = toks[i++];
      let item: Item;
      if (t === "[") {
        item = { kind: "opt", items: seq(["]"]) };
        i++;
      } else if (t === "{") {
        const alts: Item[][] = [seq(["|", "}"])];
        while (toks[i] === "|") {
          i++;
          alts.push(seq(["|", "}"]));
        }
        i++;
        item = { kind: "alt", alts };
      } else if (isNt(t)) {
        item = { kind: "nt", name: t };
      } else {
        item = { kind: "kw", word: t, args: [] };
      }
      const last = out[out.length - 1];
      if (item.kind === "nt" && last?.kind === "kw") last.args.push(item);
      else out.push(item);
    }
    return out;
  };
  return seq([]);
}

/** `NAME := SYNTAX` definitions (continuation lines joined). */
export function parseDefs(defs: readonly string[]): Map<string, Item[]> {
  const out = new Map<string, Item[]>();
  let cur: { name: string; text: string } | null = null;
  const flush = () => cur && out.set(cur.name, parseSyntax(cur.text));
  for (const line of defs) {
    const m = /^\s*([A-Z][A-Z0-9_]*) := (.*)$/.exec(line);
    if (m) {
      flush();
      cur = { name: m[1], text: m[2] };
    } else if (cur) cur.text += " " + line.trim();
  }
  flush();
  return out;
}

/** What completion knows about the kernel and the command being typed. */
interface Walk {
  k: Kernel;
  defs: Map<string, Item[]>;
  words: string[];
  pos: number;
  /** The map the MAP handle typed so far selects, when it resolves. */
  map: BpfMap | null;
}

/** Completion stops here with these candidates; null means "no match, nothing to offer". */
type Stop = { cands: string[] } | null;

function pinnedPaths(k: Kernel): string[] {
  const out: string[] = [BPFFS_MOUNT + "/"];
  const rec = (dir: BpfDir, prefix: string) => {
    for (const [name, node] of dir.entries) {
      const p = `${prefix}/${name}`;
      if (node.kind === "dir") {
        out.push(p + "/");
        rec(node, p);
      } else out.push(p);
    }
  };
  rec(k.bpf.fs.root, BPFFS_MOUNT);
  return out;
}

function dynamic(w: Walk, nt: string): string[] {
  const k = w.k;
  const maps = k.bpf.allMaps();
  switch (nt) {
    case "MAP_ID":
      return maps.map((m) => String(m.id));
    case "MAP_NAME":
      return [...new Set(maps.map((m) => m.name).filter((n) => n))];
    case "FILE":
      return pinnedPaths(k);
    case "PROG_ID":
      return k.bpf.allProgs().map((p) => String(p.id));
    case "PROG_NAME":
      return [...new Set(k.bpf.allProgs().map((p) => p.name).filter((n) => n))];
    case "PROG_TAG":
      return k.bpf.allProgs().map((p) => p.tag);
    case "LINK_ID":
      return k.bpf.allLinks().map((l) => String(l.id));
    case "FUNC":
      return allPoints().map((p) => p.name);
    case "TRACEPOINT":
      return allTracepoints().map((t) => `${t.system}:${t.name}`);
    case "RAW_TP":
      return allTracepoints().filter((t) => t.raw).map((t) => t.name);
    case "HOOK":
      return [
        ...allPoints().flatMap((p) => [`kprobe:${p.name}`, `fentry:${p.name}`]),
        ...allPoints().filter((p) => p.ret).flatMap((p) => [`kretprobe:${p.name}`, `fexit:${p.name}`]),
        ...allTracepoints().map((t) => `tracepoint:${t.system}:${t.name}`),
        ...allTracepoints().filter((t) => t.raw).map((t) => `raw_tp:${t.name}`),
        "perf_event",
      ];
    case "WORKLOAD":
      return WORKLOADS.map((x) => x.name);
  }
  return [];
}

function resolveMap(w: Walk, how: string, what: string): BpfMap | null {
  const k = w.k;
  if (isPrefix(how, "id")) return k.bpf.mapById(Number(what)) ?? null;
  if (isPrefix(how, "name")) return k.bpf.allMaps().find((m) => m.name === what) ?? null;
  const obj = k.bpf.fs.get(what);
  return typeof obj === "object" && obj.pinKind === "map" ? obj as unknown as BpfMap : null;
}

/** The words an item can start with (keywords only). */
function firstWords(w: Walk, item: Item): string[] {
  switch (item.kind) {
    case "kw":
      return [item.word];
    case "opt":
      return item.items.length ? firstWords(w, item.items[0]) : [];
    case "alt":
      return item.alts.flatMap((a) => (a.length ? firstWords(w, a[0]) : []));
    case "nt": {
      if (item.name === "DATA" || item.name === "VALUE") return ["hex"];
      const def = w.defs.get(item.name);
      return def && def.length ? firstWords(w, def[0]) : [];
    }
  }
}

/** A run of DATA bytes: `[hex]` then the key or value size in bytes. */
function consumeData(w: Walk, size: number | null, stopWords: string[]): Stop | undefined {
  if (w.pos === w.words.length) return { cands: ["hex"] };
  if (isPrefix(w.words[w.pos], "hex")) w.pos++;
  let n = 0;
  while (w.pos < w.words.length && (size === null ? !stopWords.includes(w.words[w.pos]) : n < size)) {
    w.pos++;
    n++;
  }
  if (w.pos === w.words.length && (size === null || n < size)) return { cands: [] };
  return undefined;
}

/** Consumes one item at w.pos; returns a Stop when the cursor is inside it (or it does not match). */
function consume(w: Walk, item: Item, clauseWord: string, stopWords: string[]): Stop | undefined {
  switch (item.kind) {
    case "kw": {
      if (w.pos === w.words.length) return { cands: [item.word] };
      if (!isPrefix(w.words[w.pos], item.word)) return null;
      w.pos++;
      for (const a of item.args) {
        const r = consume(w, a, item.word, stopWords);
        if (r !== undefined) return r;
      }
      return undefined;
    }
    case "opt":
      for (const a of item.items) {
        const r = consume(w, a, clauseWord, stopWords);
        if (r !== undefined) return r;
      }
      return undefined;
    case "alt": {
      if (w.pos === w.words.length) return { cands: firstWords(w, item) };
      const alt = item.alts.find((a) => a.length && firstWords(w, a[0]).some((f) => isPrefix(w.words[w.pos], f)));
      if (!alt) return null;
      for (const a of alt) {
        const r = consume(w, a, clauseWord, stopWords);
        if (r !== undefined) return r;
      }
      return undefined;
    }
    case "nt":
      return consumeNt(w, item.name, clauseWord, stopWords);
  }
}

function consumeNt(w: Walk, nt: string, clauseWord: string, stopWords: string[]): Stop | undefined {
  const m = w.map;
  if (nt === "MAP") {
    const start = w.pos;
    const r = consume(w, { kind: "alt", alts: (w.defs.get("MAP")![0] as { alts: Item[][] }).alts }, "", stopWords);
    if (r === undefined && w.pos === start + 2) w.map = resolveMap(w, w.words[start], w.words[start + 1]);
    return r;
  }
  if (nt === "VALUE") {
    if (m && mapIsMapOfMaps(m.mapType)) return consumeNt(w, "MAP", clauseWord, stopWords);
    return consumeData(w, m ? m.valueSize : null, stopWords);
  }
  if (nt === "DATA") {
    const size = m ? (clauseWord === "key" ? m.keySize : clauseWord === "value" ? m.valueSize : null) : null;
    return consumeData(w, size, stopWords);
  }
  const def = w.defs.get(nt);
  if (def && def.length === 1 && def[0].kind === "alt") return consume(w, def[0], clauseWord, stopWords);
  // a free word (FILE, MAP_ID, a size, a name)
  if (w.pos === w.words.length) return { cands: dynamic(w, nt) };
  w.pos++;
  return undefined;
}

/** Completes the words after a command word, following its usage syntax. */
function completeSyntax(w: Walk, syntax: string): string[] {
  const items = parseSyntax(syntax);
  // the positional part: nonterminals before the first keyword or option
  let i = 0;
  for (; i < items.length && (items[i].kind === "nt" || items[i].kind === "alt"); i++) {
    const r = consume(w, items[i], "", []);
    if (r !== undefined) return r ? r.cands : [];
  }
  // the rest: clauses in any order, once each ([cpu N index M] gives two)
  const clauses: Item[] = [];
  for (const it of items.slice(i)) {
    if (it.kind === "opt" && it.items.every((x) => x.kind === "kw")) clauses.push(...it.items);
    else clauses.push(it);
  }
  const stopOf = () => clauses.flatMap((c) => firstWords(w, c)).filter((x) => x !== "hex");
  // a clause that starts with a free word (`[FILE]`): offered and matched as such
  const freeNt = (c: Item): string | null => {
    const first = c.kind === "opt" ? c.items[0] : c;
    return first?.kind === "nt" && firstWords(w, first).length === 0 ? first.name : null;
  };
  while (clauses.length) {
    if (w.pos === w.words.length) {
      return clauses.flatMap((c) => {
        const nt = freeNt(c);
        return nt ? dynamic(w, nt) : firstWords(w, c);
      });
    }
    const word = w.words[w.pos];
    let idx = clauses.findIndex((c) => firstWords(w, c).some((f) => f !== "hex" && isPrefix(word, f)));
    if (idx < 0) idx = clauses.findIndex((c) => freeNt(c) !== null);
    if (idx < 0) return [];
    const [c] = clauses.splice(idx, 1);
    const r = consume(w, c, "", stopOf());
    if (r !== undefined) return r ? r.cands : [];
  }
  return [];
}

/** An object's table and definitions, for completion. */
function objectTables(name: string): { cmds: readonly Cmd[]; defs: readonly string[] } | null {
  const b = BPFTOOL_IMPL[name];
  if (b) return { cmds: b.cmds, defs: b.defs };
  const o = simulatorObjects().find((s) => s.name === name);
  return o?.cmds ? { cmds: o.cmds, defs: o.defs ?? [] } : null;
}

/**
 * Candidates for the word being typed: `tokens` are the complete words
 * before it (global options may be among them), `partial` is the word so
 * far. Only candidates starting with `partial` are returned, sorted, once.
 */
export function complete(k: Kernel, tokens: readonly string[], partial: string): string[] {
  const words: string[] = [];
  let optionsDone = false;
  for (const t of tokens) {
    if (!optionsDone && t === "--") optionsDone = true;
    else if (!optionsDone && t.startsWith("-") && t.length > 1) continue;
    else words.push(t);
  }
  let cands: string[];
  if (partial.startsWith("-") && !optionsDone) cands = [...BPFTOOL_OPTIONS];
  else if (words.length === 0) cands = topCmds().map((c) => c.name);
  else {
    const top = selectRow(topCmds(), words[0]);
    if (!top) cands = [];
    else if (top.name === "batch") cands = words.length === 1 ? ["file"] : [];
    else {
      const t = objectTables(top.name);
      if (!t) cands = [];
      else if (words.length === 1) cands = t.cmds.map((c) => c.name);
      else {
        const row = selectRow(t.cmds, words[1]);
        const w: Walk = { k, defs: parseDefs(t.defs), words: words.slice(2), pos: 0, map: null };
        cands = row?.args ? completeSyntax(w, row.args) : [];
      }
    }
  }
  return [...new Set(cands.filter((c) => isPrefix(partial, c)))].sort();
}
