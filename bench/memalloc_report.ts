// `deno task bench`: bpf_mem_alloc alloc+free pairs per real second in the
// simulator (issue 8), with a plain JS free list doing the same bookkeeping
// as the baseline measured in this run.
import { jsRound, maRound, setupMa } from "./memalloc_ops.ts";

function medianRate(fn: () => number, rounds: number): number {
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const n = fn();
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  return rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)];
}

const s = setupMa();
const free: number[] = [];
for (let i = 0; i < 3; i++) {
  maRound(s);
  jsRound(free);
}
const ma = medianRate(() => maRound(s), 9);
const js = medianRate(() => jsRound(free), 9);
const row = (name: string, value: string) => console.log(`      ${name.padEnd(52)} ${value.padStart(14)}`);
console.log("bpf_mem_alloc benchmark (medians of 9 rounds of 65536 pairs; figures from this run)");
row("bpf_mem_alloc alloc+free pairs per real second", `${(ma / 1e6).toFixed(2)} M/s`);
row("JS free list push+pop pairs per real second", `${(js / 1e6).toFixed(2)} M/s`);
row("ratio JS / bpf_mem_alloc", `${(js / ma).toFixed(1)}x`);
