// include/linux/bpf_types.h: which ops serve each map type. Types the kernel
// has but bpfsim does not simulate are listed as such, so that creating one
// fails with a clear answer instead of pretending.

import type { MapTypeOps } from "./map.ts";
import { htabMapAlloc, htabMapAllocCheck } from "./hashtab.ts";
import "./hashtab_lru.ts";
import { arrayMapAlloc, arrayMapAllocCheck } from "./arraymap.ts";
import { queueStackMapAlloc, queueStackMapAllocCheck } from "./queue_stack_maps.ts";
import { ringbufMapAlloc } from "./ringbuf.ts";
import { arrayOfMapAlloc, fdArrayMapAllocCheck } from "./arraymap_of_maps.ts";
import { fdHtabMapAllocCheck, htabOfMapAlloc } from "./hashtab_of_maps.ts";
import {
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_QUEUE,
  BPF_MAP_TYPE_RINGBUF,
  BPF_MAP_TYPE_STACK,
  BPF_MAP_TYPE_USER_RINGBUF,
} from "./uapi.ts";

/** bpf_map_types[]: ops by map type number; undefined = not simulated. */
export const MAP_TYPE_OPS: (MapTypeOps | undefined)[] = [];

/** Registers the ops of a map type (map type files call this). */
export function registerMapType(type: number, ops: MapTypeOps): void {
  MAP_TYPE_OPS[type] = ops;
}

const htabOps: MapTypeOps = { allocCheck: htabMapAllocCheck, alloc: htabMapAlloc };
const arrayOps: MapTypeOps = { allocCheck: arrayMapAllocCheck, alloc: arrayMapAlloc };
const queueOps: MapTypeOps = { allocCheck: queueStackMapAllocCheck, alloc: queueStackMapAlloc };

registerMapType(BPF_MAP_TYPE_HASH, htabOps);
registerMapType(BPF_MAP_TYPE_PERCPU_HASH, htabOps);
registerMapType(BPF_MAP_TYPE_LRU_HASH, htabOps);
registerMapType(BPF_MAP_TYPE_LRU_PERCPU_HASH, htabOps);
registerMapType(BPF_MAP_TYPE_ARRAY, arrayOps);
registerMapType(BPF_MAP_TYPE_PERCPU_ARRAY, arrayOps);
registerMapType(BPF_MAP_TYPE_QUEUE, queueOps);
registerMapType(BPF_MAP_TYPE_STACK, queueOps);
registerMapType(BPF_MAP_TYPE_RINGBUF, { alloc: ringbufMapAlloc });
registerMapType(BPF_MAP_TYPE_USER_RINGBUF, { alloc: ringbufMapAlloc });
registerMapType(BPF_MAP_TYPE_ARRAY_OF_MAPS, { allocCheck: fdArrayMapAllocCheck, alloc: arrayOfMapAlloc });
registerMapType(BPF_MAP_TYPE_HASH_OF_MAPS, { allocCheck: fdHtabMapAllocCheck, alloc: htabOfMapAlloc });
