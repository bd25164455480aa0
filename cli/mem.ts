// bpfsim's `mem` object: where BPF map memory comes from and where it is
// now. `mem show [MAP]`: the kernel's memalloc flavour, per map its
// allocator (the preallocated arena, kmalloc + call_rcu, or bpf_mem_alloc
// and its caches: free_llist and every RCU stage per CPU), the RFC
// flavours' queues, the slab caches and the kernel's memory totals.

import { type AllocReport, type MapMemReport, memReport } from "../lib/bpf/memalloc_report.ts";
import type { BpfMap } from "../lib/bpf/map.ts";
import { type Args, badArg, type Cmd, cmdSelect, objectHelp } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { close } from "./libbpf.ts";
import { mapParseFd } from "./map_parse.ts";

/** Columns of a cache table: header and the report field. */
const COLUMNS: readonly [string, keyof AllocReport["cpus"][number]][] = [
  ["cpu", "cpu"],
  ["free", "free"],
  ["extra", "free_extra"],
  ["free_by_rcu", "free_by_rcu"],
  ["waiting_for_gp", "waiting_for_gp"],
  ["extra_rcu", "free_extra_rcu"],
  ["free_by_rcu_ttrace", "free_by_rcu_ttrace"],
  ["waiting_for_gp_ttrace", "waiting_for_gp_ttrace"],
  ["refills", "refills"],
  ["trims", "trims"],
  ["fails", "alloc_fails"],
];

/** The RFC reuse_after_rcu_gp lists, shown only for that flavour. */
const REUSE_COLUMNS: readonly [string, keyof AllocReport["cpus"][number]][] = [
  ["prepare_reuse", "prepare_reuse"],
  ["in_rcu_batch", "reuse_in_flight"],
  ["reuse_ready", "reuse_ready"],
  ["wait_for_free", "wait_for_free"],
];

function table(rows: string[][]): string[] {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  "));
}

function plainMap(m: MapMemReport): string[] {
  const name = m.name ? ` name ${m.name}` : "";
  const elems = m.elements >= 0 ? `  ${m.elements} element${m.elements === 1 ? "" : "s"}` : "";
  const head = `${m.id}: ${m.type}${name}  allocator ${m.allocator}${elems}  memlock ${m.bytes_memlock}B`;
  const out = [head];
  if (m.rcu_pending !== undefined) out.push(`\tfrees waiting for an RCU grace period: ${m.rcu_pending}`);
  for (const a of m.allocs ?? []) {
    out.push(
      `\t${a.kind}: unit ${a.unit_size}B  low ${a.low_watermark} high ${a.high_watermark} batch ${a.batch}  ` +
        `objects ${a.objects} (in use ${a.in_use})  ${a.bytes}B`,
    );
    const cols = m.allocator === "reuse_after_rcu_gp" ? [...COLUMNS, ...REUSE_COLUMNS] : COLUMNS;
    const rows = [cols.map((c) => c[0]), ...a.cpus.map((c) => cols.map((col) => String(c[col[1]])))];
    for (const l of table(rows)) out.push(`\t  ${l}`);
  }
  return out;
}

/** mem show [MAP] */
function doShow(ctx: CliContext, args: Args): number {
  let maps: BpfMap[] | undefined;
  if (args.argc) {
    const fd = mapParseFd(ctx, args);
    if (fd < 0) return -1;
    if (args.argc) {
      close(ctx, fd);
      return badArg(ctx, args);
    }
    const map = ctx.sys.mapOf(fd);
    close(ctx, fd);
    if (!map) {
      ctx.out.pErr("not a map");
      return -1;
    }
    maps = [map];
  }
  const r = memReport(ctx.k, maps);
  const jw = ctx.out.json;
  if (jw) {
    jw.value(r);
    return 0;
  }
  const out: string[] = [
    `memalloc ${r.memalloc}: ${r.memalloc_summary}`,
    `kernel.bpf_force_dyn_alloc ${r.force_dyn_alloc} (experimental: proposed in the bpf_mem_alloc series, never merged)`,
  ];
  for (const m of r.maps) out.push(...plainMap(m));
  if (r.free_queues) {
    out.push("free_after_rcu_gp queues:");
    const rows = [
      ["cpu", "to_free", "to_free_extra", "in_rcu_batch"],
      ...r.free_queues.map((q) => [q.cpu, q.to_free, q.to_free_extra, q.in_flight].map(String)),
    ];
    for (const l of table(rows)) out.push(`\t${l}`);
  }
  if (!maps) {
    out.push("slab:");
    const rows = [
      ["cache", "active", "total", "size"],
      ...r.slab.map((c) => [c.name, String(c.active), String(c.total), String(c.size)]),
    ];
    for (const l of table(rows)) out.push(`\t${l}`);
    const m = r.memory;
    out.push(
      `memory: slab objects ${m.slab_objects}B  slab pages ${m.slab_pages}B  vmalloc ${m.vmalloc}B  ` +
        `pages ${m.pages}B  percpu ${m.percpu}B`,
    );
  }
  ctx.out.print(out.map((l) => l + "\n").join(""));
  return 0;
}

/** Grammar of `mem` (help and completion). */
export const MEM_DEFS: readonly string[] = ["MAP := { id MAP_ID | pinned FILE | name MAP_NAME }"];

const doHelp = objectHelp("mem", () => MEM_CMDS, () => MEM_DEFS);

/** The `mem` command table. */
export const MEM_CMDS: readonly Cmd[] = [
  { name: "show", fn: doShow, args: "[MAP]", helpRank: 0, label: "{ show | list }" },
  { name: "list", fn: doShow, args: "[MAP]" },
  { name: "help", fn: doHelp },
];

/** `mem ...` */
export function doMem(ctx: CliContext, args: Args): number {
  return cmdSelect(ctx, MEM_CMDS, args, doHelp);
}
