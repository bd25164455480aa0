// deno bench: bpf_mem_alloc alloc+free pairs against a JS free list.
import { jsRound, maRound, setupMa } from "./memalloc_ops.ts";

const s = setupMa();
const free: number[] = [];

Deno.bench("bpf_mem_alloc: 64k alloc+free pairs (bursts of 64, refill/trim by irq_work)", {
  group: "memalloc",
  baseline: false,
}, () => {
  maRound(s);
});

Deno.bench("the same pairs on a JS free list", { group: "memalloc", baseline: true }, () => {
  jsRound(free);
});
