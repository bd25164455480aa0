// struct bpf_link (include/linux/bpf.h, kernel/bpf/syscall.c): a program
// attached to a hook, as an object of its own with an id, a reference count
// (fds and pins hold it) and the target it is attached to. The target is
// data; the hook tables (hooks.ts) point back at the link, so an attached
// program survives a snapshot and is re-bound when the kernel is loaded.

import { snapshotClasses } from "../kernel/snapshot.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { BpfProg } from "./prog.ts";
import { LINK_TYPE_NAMES } from "./uapi_prog.ts";

/** Where a link attaches its program. */
export type LinkTarget =
  | { readonly hook: "kprobe" | "kretprobe"; readonly func: string }
  | { readonly hook: "fentry" | "fexit"; readonly func: string }
  | { readonly hook: "tracepoint"; readonly tp: string }
  | { readonly hook: "raw_tp"; readonly tp: string }
  | {
    readonly hook: "perf_event";
    /** Samples per second per CPU. */
    readonly freq: number;
    /** The CPU sampled, or -1 for every CPU. */
    readonly cpu: number;
    /** A software clock event (hrtimer, hardirq) instead of a hardware PMU overflow (NMI). */
    readonly sw: boolean;
  }
  | { readonly hook: "xdp" | "tc"; readonly ifname: string; readonly ifindex: number };

/** A program attached to a hook. */
export class BpfLink {
  /** Link id (link_idr), 0 until published. */
  id = 0;
  /** All references: fds and pins. */
  refcnt = 1;
  /** bpffs: what kind of object a pin of this is. */
  readonly pinKind = "link" as const;
  /** Set by BPF_LINK_DETACH or when the last reference goes: the program no longer runs. */
  detached = false;
  /** Times the hook fired while a kprobe handler already ran on that CPU (kprobe's nmissed, link info "missed"). */
  missed = 0;
  /** Times the hook fired with the program attached (kprobe nhit, tracepoint hits). */
  hits = 0;

  /** A link of `type` (enum bpf_link_type) for `prog` at `target`; the caller holds a program reference for it. */
  constructor(
    readonly k: Kernel,
    readonly type: number,
    readonly prog: BpfProg,
    readonly target: LinkTarget,
  ) {}

  /** libbpf's name of the link type. */
  get typeName(): string {
    return LINK_TYPE_NAMES[this.type] ?? `type ${this.type}`;
  }

  /** What it is attached to, as a person reads it ("kprobe htab_map_update_elem"). */
  describe(): string {
    const t = this.target;
    switch (t.hook) {
      case "kprobe":
      case "kretprobe":
      case "fentry":
      case "fexit":
        return `${t.hook} ${t.func}`;
      case "tracepoint":
      case "raw_tp":
        return `${t.hook} ${t.tp}`;
      case "perf_event":
        return `perf_event ${t.sw ? "cpu-clock" : "cycles"} freq ${t.freq}${t.cpu >= 0 ? ` cpu ${t.cpu}` : ""}`;
      case "xdp":
      case "tc":
        return `${t.hook} ${t.ifname}`;
    }
  }

  /** bpf_any_get() for a bpffs pin. */
  pinGet(): void {
    this.refcnt++;
  }

  /** bpf_any_put() when a pin is unlinked. */
  pinPut(): void {
    this.k.bpf.linkPut(this);
  }
}

snapshotClasses(BpfLink);
