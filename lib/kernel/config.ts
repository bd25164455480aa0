// Kernel profiles: the behaviours of kernel/bpf that changed across releases,
// selected by a release number (KERNEL-NOTES 0.1). A profile is a version;
// every feature test below is "which release introduced or removed it".

import { snapshotClasses } from "./snapshot.ts";

/** A named preset of the simulated kernel. */
export interface Profile {
  /** Preset name as the CLI spells it, e.g. "v6.18". */
  readonly name: string;
  /** Release as major*100+minor (6.18 -> 618). */
  readonly version: number;
  /** One line saying why this release matters for BPF maps. */
  readonly summary: string;
}

/** The presets, oldest first. */
export const PROFILES: readonly Profile[] = [
  { name: "v4.5", version: 405, summary: "hash maps kmalloc elements in program context (the 2016 deadlock)" },
  { name: "v4.6", version: 406, summary: "preallocated hash maps and percpu_freelist; BPF_F_NO_PREALLOC" },
  { name: "v5.7", version: 507, summary: "PREEMPT_RT preparation: raw/sleeping bucket lock union" },
  { name: "v5.11", version: 511, summary: "per-CPU map_locked counters (-EBUSY); memcg accounting" },
  { name: "v6.1", version: 601, summary: "bpf_mem_alloc for dynamic hash maps; even freelist populate" },
  { name: "v6.15", version: 615, summary: "resilient queued spinlocks (-EDEADLK/-ETIMEDOUT)" },
  { name: "v6.18", version: 618, summary: "the kernel this machine runs (default)" },
];

/** The profile used when none is given. */
export const DEFAULT_PROFILE = "v6.18";

/** Looks a preset up by name ("v6.18", "6.18"); undefined when unknown. */
export function findProfile(name: string): Profile | undefined {
  const n = name.startsWith("v") ? name : `v${name}`;
  return PROFILES.find((p) => p.name === n);
}

/** Release number -> "6.18". */
export function versionString(v: number): string {
  return `${Math.floor(v / 100)}.${v % 100}`;
}

/** Tunables of /proc/sys the simulation models. */
export interface Sysctls {
  /** kernel.bpf_stats_enabled: run_cnt/run_time_ns collection. */
  bpf_stats_enabled: number;
  /**
   * kernel.bpf_force_dyn_alloc: proposed in the bpf_mem_alloc series (v3/v4)
   * and dropped before merge. An experimental knob here, not a kernel feature.
   */
  bpf_force_dyn_alloc: number;
}

/**
 * Where dynamic (BPF_F_NO_PREALLOC) hash map elements come from and how they
 * are given back (seeds 002 and 003):
 *   kmalloc             kmalloc in the caller's context, kfree after an RCU
 *                       grace period (call_rcu): the design before 6.1
 *   bpf_ma              bpf_mem_alloc with immediate reuse (6.1+, the kernel)
 *   reuse_after_rcu_gp  Hou Tao's RFC: freed objects reusable after an RCU GP,
 *                       back to slab after a tasks-trace GP (never merged)
 *   free_after_rcu_gp   Hou Tao's RFC v3: freed objects go back to slab after
 *                       one RCU GP, never reused (never merged)
 *   call_rcu_free       bpf_mem_alloc, the hash map calling bpf_mem_cache_free()
 *                       from a call_rcu() callback (the RFC's comparison hack)
 */
export type MemallocFlavour = "kmalloc" | "bpf_ma" | "reuse_after_rcu_gp" | "free_after_rcu_gp" | "call_rcu_free";

/** Every memalloc flavour with one line on what it is. */
export const MEMALLOC_FLAVOURS: readonly { readonly name: MemallocFlavour; readonly summary: string }[] = [
  { name: "kmalloc", summary: "kmalloc in the caller's context, kfree after an RCU GP (before 6.1)" },
  { name: "bpf_ma", summary: "bpf_mem_alloc, immediate reuse (6.1+)" },
  { name: "reuse_after_rcu_gp", summary: "RFC (never merged): reuse after an RCU GP, free after tasks-trace GP" },
  { name: "free_after_rcu_gp", summary: "RFC v3 (never merged): free to slab after an RCU GP, no reuse" },
  { name: "call_rcu_free", summary: "bpf_mem_alloc freed from call_rcu() (the RFC's comparison)" },
];

/** The flavour a release uses when none is chosen: bpf_mem_alloc from 6.1, kmalloc before. */
export function defaultMemalloc(version: number): MemallocFlavour {
  return version >= 601 ? "bpf_ma" : "kmalloc";
}

/**
 * Checks a flavour for a release: null when it can run there, else why not
 * (bpf_mem_alloc and the flavours built on it exist from 6.1).
 */
export function memallocError(flavour: string, version: number): string | null {
  if (!MEMALLOC_FLAVOURS.some((f) => f.name === flavour)) {
    return `unknown memalloc flavour '${flavour}' (known: ${MEMALLOC_FLAVOURS.map((f) => f.name).join(", ")})`;
  }
  if (flavour !== "kmalloc" && version < 601) {
    return `memalloc ${flavour} needs bpf_mem_alloc, which exists from v6.1 (this profile is v${
      versionString(version)
    })`;
  }
  return null;
}

/** Options for `new Kernel(...)`. */
export interface KernelOptions {
  /** Simulated CPUs, 1-64 (possible == online). Default 2, like this machine. */
  cpus?: number;
  /** Profile name (see PROFILES). Default "v6.18". */
  profile?: string;
  /** CONFIG_PREEMPT_RT. Default false. */
  preemptRt?: boolean;
  /** PRNG seed. Default 1. */
  seed?: number;
  /** Initial sysctl values. */
  sysctl?: Partial<Sysctls>;
  /** Minimum latency of a normal RCU grace period in ns (default 3 ms). */
  rcuGpNs?: number;
  /** Minimum latency of an RCU tasks-trace grace period in ns (default 20 ms). */
  rcuTasksTraceGpNs?: number;
  /** RLIMIT_MEMLOCK in bytes for the pre-5.11 precharge (default unlimited). */
  rlimitMemlock?: number;
  /** Simulated RAM for kernel allocations in bytes (default 2 GiB). */
  memoryLimit?: number;
  /** Allocator of dynamic hash map elements (default: bpf_ma from 6.1, kmalloc before). */
  memalloc?: MemallocFlavour;
}

/** Resolved configuration of one kernel. */
export interface KernelConfig {
  /** Number of simulated CPUs (possible == online), 1-64. */
  readonly cpus: number;
  /** The kernel release whose behaviour is simulated. */
  readonly profile: Profile;
  /** CONFIG_PREEMPT_RT: spinlock_t sleeps, interrupts and softirqs run in kthreads. */
  readonly preemptRt: boolean;
  /** Seed of the kernel's PRNG (k.rng; e.g. the hash maps' hashrnd). */
  readonly seed: number;
  /** Minimum latency of a normal RCU grace period, ns. */
  readonly rcuGpNs: number;
  /** Minimum latency of an RCU tasks-trace grace period, ns. */
  readonly rcuTasksTraceGpNs: number;
  /** RLIMIT_MEMLOCK in bytes, checked by the pre-5.11 memlock precharge (Infinity: unlimited). */
  rlimitMemlock: number;
  /** Allocator of dynamic hash map elements (absent in kernels saved before it existed: the release's default). */
  readonly memalloc?: MemallocFlavour;
}

/**
 * Behaviour switches derived from the release (KERNEL-NOTES 0.1 and the
 * sections it points to). Read-only; computed once per kernel.
 */
export class Features {
  /** 4.6: hash map elements preallocated unless BPF_F_NO_PREALLOC. */
  readonly htabPrealloc: boolean;
  /** 4.10 (a6ed3ea65d98): per-CPU extra_elems let a full map replace a key. */
  readonly htabExtraElems: boolean;
  /** 4.11: hlist_nulls buckets; lockless lookups restart on a nulls mismatch. */
  readonly htabNulls: boolean;
  /** 4.11: freelist link overlays pprev, not next (the padding trick). */
  readonly htabPaddingTrick: boolean;
  /** 5.7-6.0: on PREEMPT_RT non-prealloc maps use a sleeping spinlock_t. */
  readonly htabRtLockUnion: boolean;
  /** 5.11-6.14: per-CPU map_locked counters return -EBUSY. */
  readonly htabMapLocked: boolean;
  /** 6.15+: rqspinlock bucket locks (-EDEADLK / -ETIMEDOUT). */
  readonly rqspinlock: boolean;
  /** 5.10-6.14: percpu_freelist NMI trylock paths and the extralist. */
  readonly freelistNmi: boolean;
  /** 6.1+: populate splits elements evenly over CPUs. */
  readonly freelistEvenPopulate: boolean;
  /** <6.1: exact element count (atomic inc, compare, undo). */
  readonly htabExactCount: boolean;
  /** 6.6+: per-CPU element counters for statistics. */
  readonly htabElemStats: boolean;
  /** 5.14+: BPF_MAP_LOOKUP_AND_DELETE_ELEM works on hash maps. */
  readonly htabLookupAndDelete: boolean;
  /** Memory accounting: precharge (<5.11), footprint (5.11-6.3), mem_usage (6.4+). */
  readonly memlock: "precharge" | "footprint" | "mem_usage";
  /** <5.10: map_meta_equal compares max_entries for every type. */
  readonly metaEqualMaxEntries: boolean;
  /** 6.16+: LRU per-CPU refill target clamp(max/ncpu/2, 1, 128). */
  readonly lruTargetClamp: boolean;
  /** 6.10+: ringbuf pending_pos. */
  readonly ringbufPendingPos: boolean;
  /** 6.1+: bpf_mem_alloc backs dynamic hash maps. */
  readonly bpfMemAlloc: boolean;
  /** 6.13+ (81eef03cbf70): free_htab_elem() after htab_unlock_bucket(); before, under the lock. */
  readonly htabFreeAfterUnlock: boolean;
  /** 5.7+: programs run with migrate_disable() (before: preempt_disable()). */
  readonly progMigrateDisable: boolean;
  /** 6.7+ (dd8657894c11): runs skipped by bpf_prog_active / raw_tp recursion count as the program's misses. */
  readonly progMissesCounted: boolean;
  /** 5.12+: the trampoline's per-program `active` guard and recursion_misses (fentry/fexit). */
  readonly trampRecursion: boolean;
  /** 6.2+: raw tracepoint programs use the per-program `active` guard. */
  readonly rawTpRecursion: boolean;
  /** 5.1+: run_cnt/run_time_ns and the kernel.bpf_stats_enabled sysctl. */
  readonly bpfStats: boolean;
  /** 5.1+: bpf_spin_lock. */
  readonly bpfSpinLock: boolean;
  /** 5.10+: sleepable programs (BPF_F_SLEEPABLE). */
  readonly sleepableProgs: boolean;
  /** 4.9-6.0: the verifier lets perf_event programs use only preallocated hash maps. */
  readonly verifierPerfPrealloc: boolean;
  /** 5.7-6.0 with PREEMPT_RT: tracing programs may use only preallocated hash maps. */
  readonly verifierRtPrealloc: boolean;
  /** 5.10-6.0: sleepable programs may use only preallocated hash maps. */
  readonly verifierSleepablePrealloc: boolean;

  /** Derives the switches from a release (major*100+minor) and CONFIG_PREEMPT_RT. */
  constructor(readonly version: number, readonly preemptRt: boolean) {
    const v = version;
    this.htabPrealloc = v >= 406;
    this.htabExtraElems = v >= 410;
    this.htabNulls = v >= 411;
    this.htabPaddingTrick = v >= 411;
    this.htabRtLockUnion = v >= 507 && v < 601;
    this.htabMapLocked = v >= 511 && v < 615;
    this.rqspinlock = v >= 615;
    this.freelistNmi = v >= 510 && v < 615;
    this.freelistEvenPopulate = v >= 601;
    this.htabExactCount = v < 601;
    this.htabElemStats = v >= 606;
    this.htabLookupAndDelete = v >= 514;
    this.memlock = v < 511 ? "precharge" : v < 604 ? "footprint" : "mem_usage";
    this.metaEqualMaxEntries = v < 510;
    this.lruTargetClamp = v >= 616;
    this.ringbufPendingPos = v >= 610;
    this.bpfMemAlloc = v >= 601;
    this.htabFreeAfterUnlock = v >= 613;
    this.progMigrateDisable = v >= 507;
    this.progMissesCounted = v >= 607;
    this.trampRecursion = v >= 512;
    this.rawTpRecursion = v >= 602;
    this.bpfStats = v >= 501;
    this.bpfSpinLock = v >= 501;
    this.sleepableProgs = v >= 510;
    this.verifierPerfPrealloc = v >= 409 && v < 601;
    this.verifierRtPrealloc = preemptRt && v >= 507 && v < 601;
    this.verifierSleepablePrealloc = v >= 510 && v < 601;
  }

  /** True when the release is at least major.minor. */
  atLeast(major: number, minor: number): boolean {
    return this.version >= major * 100 + minor;
  }
}

snapshotClasses(Features);
