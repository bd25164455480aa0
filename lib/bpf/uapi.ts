// include/uapi/linux/bpf.h: map types, flags and commands as user space sees
// them, with bpftool's names for map types (tools/bpf/bpftool/map.c).

// enum bpf_map_type, in type-number order.
/** Type 0 of enum bpf_map_type: reserved, never a valid map type. */
export const BPF_MAP_TYPE_UNSPEC = 0;
/** Hash table of key/value pairs (kernel/bpf/hashtab.c). */
export const BPF_MAP_TYPE_HASH = 1;
/** Preallocated array indexed by a u32 key (kernel/bpf/arraymap.c). */
export const BPF_MAP_TYPE_ARRAY = 2;
/** Array of program fds, the jump table of bpf_tail_call(). */
export const BPF_MAP_TYPE_PROG_ARRAY = 3;
/** Per-CPU perf event fds for bpf_perf_event_output() and bpf_perf_event_read(). */
export const BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4;
/** Hash table with one value per possible CPU for each key. */
export const BPF_MAP_TYPE_PERCPU_HASH = 5;
/** Array with one value per possible CPU for each index. */
export const BPF_MAP_TYPE_PERCPU_ARRAY = 6;
/** Stack ids to stack traces, filled by bpf_get_stackid() (kernel/bpf/stackmap.c). */
export const BPF_MAP_TYPE_STACK_TRACE = 7;
/** Array of cgroup fds for bpf_skb_under_cgroup() and bpf_current_task_under_cgroup(). */
export const BPF_MAP_TYPE_CGROUP_ARRAY = 8;
/** Hash table that evicts the least recently used element when full (kernel/bpf/bpf_lru_list.c). */
export const BPF_MAP_TYPE_LRU_HASH = 9;
/** LRU hash table with one value per possible CPU for each key. */
export const BPF_MAP_TYPE_LRU_PERCPU_HASH = 10;
/** Longest-prefix-match trie, e.g. for IP prefixes (kernel/bpf/lpm_trie.c). */
export const BPF_MAP_TYPE_LPM_TRIE = 11;
/** Array whose values are inner maps (kernel/bpf/map_in_map.c). */
export const BPF_MAP_TYPE_ARRAY_OF_MAPS = 12;
/** Hash table whose values are inner maps (kernel/bpf/map_in_map.c). */
export const BPF_MAP_TYPE_HASH_OF_MAPS = 13;
/** Array of net devices for XDP bpf_redirect_map() (kernel/bpf/devmap.c). */
export const BPF_MAP_TYPE_DEVMAP = 14;
/** Array of sockets for sk_msg/sk_skb redirection (net/core/sock_map.c). */
export const BPF_MAP_TYPE_SOCKMAP = 15;
/** Array of CPUs that XDP frames are redirected to (kernel/bpf/cpumap.c). */
export const BPF_MAP_TYPE_CPUMAP = 16;
/** Array of AF_XDP sockets for XDP redirection (net/xdp/xskmap.c). */
export const BPF_MAP_TYPE_XSKMAP = 17;
/** Hash table of sockets for sk_msg/sk_skb redirection (net/core/sock_map.c). */
export const BPF_MAP_TYPE_SOCKHASH = 18;
/** Storage per cgroup and attach type for cgroup programs (kernel/bpf/local_storage.c). */
export const BPF_MAP_TYPE_CGROUP_STORAGE = 19;
/** Sockets an SO_REUSEPORT group selects from (kernel/bpf/reuseport_array.c). */
export const BPF_MAP_TYPE_REUSEPORT_SOCKARRAY = 20;
/** Per-CPU cgroup storage (kernel/bpf/local_storage.c). */
export const BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE = 21;
/** FIFO of values without keys (kernel/bpf/queue_stack_maps.c). */
export const BPF_MAP_TYPE_QUEUE = 22;
/** LIFO of values without keys (kernel/bpf/queue_stack_maps.c). */
export const BPF_MAP_TYPE_STACK = 23;
/** Socket-local storage (net/core/bpf_sk_storage.c). */
export const BPF_MAP_TYPE_SK_STORAGE = 24;
/** Net devices for XDP redirection, hashed by key (kernel/bpf/devmap.c). */
export const BPF_MAP_TYPE_DEVMAP_HASH = 25;
/** A kernel ops struct implemented by BPF programs (kernel/bpf/bpf_struct_ops.c). */
export const BPF_MAP_TYPE_STRUCT_OPS = 26;
/** Multi-producer, single-consumer ring buffer shared with user space (kernel/bpf/ringbuf.c). */
export const BPF_MAP_TYPE_RINGBUF = 27;
/** Inode-local storage for LSM programs (kernel/bpf/bpf_inode_storage.c). */
export const BPF_MAP_TYPE_INODE_STORAGE = 28;
/** task_struct-local storage (kernel/bpf/bpf_task_storage.c). */
export const BPF_MAP_TYPE_TASK_STORAGE = 29;
/** Bloom filter: push values, test membership (kernel/bpf/bloom_filter.c). */
export const BPF_MAP_TYPE_BLOOM_FILTER = 30;
/** Ring buffer that user space produces into and programs drain (kernel/bpf/ringbuf.c). */
export const BPF_MAP_TYPE_USER_RINGBUF = 31;
/** cgroup-local storage (kernel/bpf/bpf_cgrp_storage.c). */
export const BPF_MAP_TYPE_CGRP_STORAGE = 32;
/** Sparse memory region shared by programs and user space (kernel/bpf/arena.c). */
export const BPF_MAP_TYPE_ARENA = 33;

/** bpftool's map type names, indexed by type number (map_type_name[]). */
export const MAP_TYPE_NAMES: readonly string[] = [
  "unspec",
  "hash",
  "array",
  "prog_array",
  "perf_event_array",
  "percpu_hash",
  "percpu_array",
  "stack_trace",
  "cgroup_array",
  "lru_hash",
  "lru_percpu_hash",
  "lpm_trie",
  "array_of_maps",
  "hash_of_maps",
  "devmap",
  "sockmap",
  "cpumap",
  "xskmap",
  "sockhash",
  "cgroup_storage",
  "reuseport_sockarray",
  "percpu_cgroup_storage",
  "queue",
  "stack",
  "sk_storage",
  "devmap_hash",
  "struct_ops",
  "ringbuf",
  "inode_storage",
  "task_storage",
  "bloom_filter",
  "user_ringbuf",
  "cgrp_storage",
  "arena",
];

/** Release (major*100+minor) that introduced each map type. */
export const MAP_TYPE_SINCE: readonly number[] = [
  0,
  319,
  319,
  402,
  403,
  406,
  406,
  406,
  408,
  410,
  410,
  411,
  412,
  412,
  414,
  414,
  415,
  418,
  418,
  419,
  419,
  420,
  420,
  420,
  502,
  504,
  506,
  508,
  510,
  511,
  516,
  601,
  602,
  609,
];

/** Map type number for a bpftool name ("hash", "lru_hash", ...); -1 when unknown. */
export function mapTypeFromName(name: string): number {
  const i = MAP_TYPE_NAMES.indexOf(name);
  if (i > 0) return i;
  return -1;
}

/** bpftool's name for a map type, or "type N" for unknown numbers (map.c). */
export function mapTypeName(type: number): string {
  return type > 0 && type < MAP_TYPE_NAMES.length ? MAP_TYPE_NAMES[type] : `type ${type}`;
}

// Map creation flags (the anonymous BPF_MAP_CREATE flag enum).
/** BPF_MAP_CREATE flag: allocate hash elements on update instead of preallocating them all. */
export const BPF_F_NO_PREALLOC = 1 << 0;
/** BPF_MAP_CREATE flag: LRU hash maps keep a per-CPU LRU list instead of one common list. */
export const BPF_F_NO_COMMON_LRU = 1 << 1;
/** BPF_MAP_CREATE flag: allocate on the NUMA node given in `numa_node`. */
export const BPF_F_NUMA_NODE = 1 << 2;
/** BPF_MAP_CREATE / fd flag: the syscall side may only read the map. */
export const BPF_F_RDONLY = 1 << 3;
/** BPF_MAP_CREATE / fd flag: the syscall side may only write the map. */
export const BPF_F_WRONLY = 1 << 4;
/** BPF_MAP_CREATE flag for stack trace maps: store build_id+offset instead of IPs. */
export const BPF_F_STACK_BUILD_ID = 1 << 5;
/** BPF_MAP_CREATE flag: zero hash seed (hashrnd), for testing only. */
export const BPF_F_ZERO_SEED = 1 << 6;
/** BPF_MAP_CREATE flag: programs may only read the map. */
export const BPF_F_RDONLY_PROG = 1 << 7;
/** BPF_MAP_CREATE flag: programs may only write the map. */
export const BPF_F_WRONLY_PROG = 1 << 8;
/** BPF_MAP_CREATE flag for socket storage: clone the value to sockets accepted from a listener. */
export const BPF_F_CLONE = 1 << 9;
/** BPF_MAP_CREATE flag: the map (array, arena) may be mmap()ed by user space. */
export const BPF_F_MMAPABLE = 1 << 10;
/** BPF_MAP_CREATE flag for perf event arrays: keep entries when the creating fd closes. */
export const BPF_F_PRESERVE_ELEMS = 1 << 11;
/** BPF_MAP_CREATE flag: an inner map whose max_entries may differ from the template. */
export const BPF_F_INNER_MAP = 1 << 12;
/** BPF_MAP_CREATE flag for struct_ops maps: registered and unregistered through a bpf_link. */
export const BPF_F_LINK = 1 << 13;
/** BPF_OBJ_PIN / BPF_OBJ_GET flag: the path is relative to the directory fd in path_fd. */
export const BPF_F_PATH_FD = 1 << 14;
/** BPF_MAP_CREATE flag: value_type_btf_obj_fd holds a BTF object fd. */
export const BPF_F_VTYPE_BTF_OBJ_FD = 1 << 15;
/** Command flag: the attr carries a BPF token fd in token_fd. */
export const BPF_F_TOKEN_FD = 1 << 16;
/** BPF_MAP_CREATE flag for arenas: a user page fault raises SIGSEGV instead of adding a page. */
export const BPF_F_SEGV_ON_FAULT = 1 << 17;
/** BPF_MAP_CREATE flag for arenas: do not translate kernel arena pointers to user pointers. */
export const BPF_F_NO_USER_CONV = 1 << 18;
/** BPF_MAP_CREATE flag for ring buffers: overwrite the oldest records when full (6.19). */
export const BPF_F_RB_OVERWRITE = 1 << 19;

/** BPF_F_ACCESS_MASK */
export const BPF_F_ACCESS_MASK = BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG;

// Flags of BPF_MAP_UPDATE_ELEM / BPF_MAP_LOOKUP_ELEM (BPF_ANY ... BPF_F_LOCK).
/** Element update flag: create a new element or update an existing one. */
export const BPF_ANY = 0;
/** Element update flag: create only; -EEXIST if the key exists. */
export const BPF_NOEXIST = 1;
/** Element update flag: update only; -ENOENT if the key does not exist. */
export const BPF_EXIST = 2;
/** Element lookup/update flag: copy the value under its struct bpf_spin_lock. */
export const BPF_F_LOCK = 4;

// Ring buffer flags (BPF_RB_NO_WAKEUP ...) and bpf_ringbuf_query() selectors.
/** bpf_ringbuf_submit/discard/output() flag: do not wake up the consumer. */
export const BPF_RB_NO_WAKEUP = 1;
/** bpf_ringbuf_submit/discard/output() flag: wake up the consumer unconditionally. */
export const BPF_RB_FORCE_WAKEUP = 2;
/** bpf_ringbuf_query() selector: bytes not yet consumed (producer - consumer position). */
export const BPF_RB_AVAIL_DATA = 0;
/** bpf_ringbuf_query() selector: size of the data area in bytes. */
export const BPF_RB_RING_SIZE = 1;
/** bpf_ringbuf_query() selector: the consumer position. */
export const BPF_RB_CONS_POS = 2;
/** bpf_ringbuf_query() selector: the producer position. */
export const BPF_RB_PROD_POS = 3;

/** BPF_OBJ_NAME_LEN */
export const BPF_OBJ_NAME_LEN = 16;
