// kernel/bpf/map_in_map.c: the generic inner-map compatibility check.
// (Outer maps themselves come with the maps-of-maps work.)

import type { BpfMap } from "./map.ts";

/**
 * bpf_map_meta_equal(): type, key size, value size and flags must match;
 * before 5.10 max_entries too, for every type (map_meta_equal ops then let
 * each type decide, and only arrays without BPF_F_INNER_MAP kept it).
 */
export function bpf_map_meta_equal(meta: BpfMap, inner: BpfMap): boolean {
  return meta.mapType === inner.mapType && meta.keySize === inner.keySize &&
    meta.valueSize === inner.valueSize && meta.mapFlags === inner.mapFlags &&
    (!meta.k.features.metaEqualMaxEntries || meta.maxEntries === inner.maxEntries);
}
