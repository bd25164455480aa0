/**
 * bpfsim: a simulated Linux kernel BPF map subsystem.
 *
 * ```ts
 * import { Kernel } from "./mod.ts";
 * const k = new Kernel({ cpus: 4, profile: "v6.18", seed: 1 });
 * const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 1024 });
 * ```
 * @module
 */

export { CpuStuck, HUNG, Kernel } from "./lib/kernel/kernel.ts";
export type { IrqOptions, MemoryUsage, TaskOptions } from "./lib/kernel/kernel.ts";
export {
  DEFAULT_PROFILE,
  defaultMemalloc,
  Features,
  findProfile,
  MEMALLOC_FLAVOURS,
  memallocError,
  PROFILES,
  versionString,
} from "./lib/kernel/config.ts";
export type { KernelConfig, KernelOptions, MemallocFlavour, Profile, Sysctls } from "./lib/kernel/config.ts";
export * from "./lib/kernel/errno.ts";
export { Cpu } from "./lib/kernel/cpu.ts";
export type { CtxKind, Frame, IrqEvent, Step, ThreadWork } from "./lib/kernel/cpu.ts";
export { Dmesg } from "./lib/kernel/dmesg.ts";
export type { Level, LogEntry } from "./lib/kernel/dmesg.ts";
export { allPoints, pointByName } from "./lib/kernel/points.ts";
export type { Kprobe, PointInfo, ProbeHandler } from "./lib/kernel/points.ts";
export { COST } from "./lib/kernel/cost.ts";
export type { CacheLine } from "./lib/kernel/cost.ts";
export type { Prng } from "./lib/kernel/prng.ts";
export type { Memory, Region, RegionKind } from "./lib/kernel/memory.ts";
export type { HeldLock, HeldStack, LockClass, Lockdep, LockKind, LockSet, Verdict } from "./lib/kernel/lockdep.ts";
export type { Kprobes } from "./lib/kernel/kprobes.ts";
export type { Softirq } from "./lib/kernel/softirq.ts";
export type { KmemCache, Slab, SlabPage } from "./lib/kernel/slab.ts";
export type { Percpu } from "./lib/kernel/percpu.ts";
export type { GracePeriod, Rcu, RcuCallback, RcuFlavor } from "./lib/kernel/rcu.ts";
export * from "./lib/bpf/uapi.ts";
export { BpfMap } from "./lib/bpf/map.ts";
export { SysBpf } from "./lib/bpf/syscall.ts";
export type { Bpf } from "./lib/bpf/bpf.ts";
export type { BpfDir, BpfFs, BpfPin, Pinnable } from "./lib/bpf/inode.ts";
export type { File, FileObject, Process } from "./lib/kernel/file.ts";
export type { InnerMapTable, MapFdTable, OuterMap } from "./lib/bpf/map_in_map.ts";
export type { MapCreateAttr, MapInfo } from "./lib/bpf/syscall.ts";
export { BpfError, decodeU64, encode, MapHandle } from "./lib/bpf/map_handle.ts";
export type { Datum } from "./lib/bpf/map_handle.ts";
export {
  BPF_RINGBUF_BUSY_BIT,
  bpf_ringbuf_discard,
  BPF_RINGBUF_DISCARD_BIT,
  BPF_RINGBUF_HDR_SZ,
  bpf_ringbuf_submit,
  BpfRingbuf,
  ringbufRecordSize,
} from "./lib/bpf/ringbuf.ts";
export type { RingbufVma, WaitFunc } from "./lib/bpf/ringbuf.ts";
export { Ring, RingBuffer } from "./lib/bpf/ringbuf_consumer.ts";
export type { PollThread, RingBufferSampleFn } from "./lib/bpf/ringbuf_consumer.ts";
export type { IrqWork } from "./lib/kernel/irq_work.ts";
export { ArrayOfMaps } from "./lib/bpf/arraymap_of_maps.ts";
export { HashOfMaps } from "./lib/bpf/hashtab_of_maps.ts";
export { Htab } from "./lib/bpf/hashtab.ts";
export type { ElemAllocator } from "./lib/bpf/hashtab.ts";
export {
  BpfMaElemAllocator,
  CallRcuFreeElemAllocator,
  KmallocElemAllocator,
  newElemAllocator,
} from "./lib/bpf/hashtab_alloc.ts";
export type { ElemGeometry } from "./lib/bpf/hashtab_alloc.ts";
export {
  bpf_mem_alloc_check_size,
  bpf_mem_cache_idx,
  BPF_MEM_SIZES,
  BpfMemAlloc,
  BpfMemCache,
  memallocOf,
} from "./lib/bpf/memalloc.ts";
export type { BpfMaFreeCtx } from "./lib/bpf/memalloc_rfc.ts";
export { mapMemReport, memReport } from "./lib/bpf/memalloc_report.ts";
export type { AllocReport, CacheCpuReport, MapMemReport, MemReport } from "./lib/bpf/memalloc_report.ts";
export type { PcpuFreelist } from "./lib/bpf/percpu_freelist.ts";
export { BpfArray } from "./lib/bpf/arraymap.ts";
export { QueueStack } from "./lib/bpf/queue_stack_maps.ts";
export { LruHtab } from "./lib/bpf/hashtab_lru.ts";
export { BpfLru } from "./lib/bpf/bpf_lru_list.ts";
export type { LruDelFromHtab } from "./lib/bpf/bpf_lru_list.ts";
export { BpfProg } from "./lib/bpf/prog.ts";
export type { ProgBody, ProgFn, ProgKind } from "./lib/bpf/prog.ts";
export { BpfLink } from "./lib/bpf/link.ts";
export type { LinkTarget } from "./lib/bpf/link.ts";
export { ProgEnv } from "./lib/bpf/helpers.ts";
export { PROG_KINDS } from "./lib/bpf/syscall_prog.ts";
export type { LinkInfo, LinkSpec, ProgInfo, ProgLoadAttr, TestRunResult } from "./lib/bpf/syscall_prog.ts";
export { formatOps, OpSyntaxError, parseOps } from "./lib/bpf/oplang.ts";
export type { Expr, Op, OpPos, OpProgram, VarName } from "./lib/bpf/oplang.ts";
export type { Hooks, Trampoline } from "./lib/bpf/hooks.ts";
export type { RunCounters } from "./lib/bpf/bpf.ts";
export { allTracepoints, rawTracepointByName, tracepointByName } from "./lib/kernel/tracepoint.ts";
export type { TracepointInfo } from "./lib/kernel/tracepoint.ts";
export { fireHook, parseHook } from "./lib/workload/fire.ts";
export type { FireContext, FireOptions, HookRef } from "./lib/workload/fire.ts";
export { findWorkload, runWorkloads, WORKLOADS } from "./lib/workload/run.ts";
export type { RunOptions } from "./lib/workload/run.ts";
export type { Workload, WorkloadParams, WorkloadSpan } from "./lib/workload/workload.ts";
export type { EventCounter, RunSummary } from "./lib/workload/summary.ts";
export { TraceRecorder } from "./lib/trace/recorder.ts";
export { findScenario, scenarios } from "./lib/scenario/all.ts";
export type { JsonValue, Scenario, ScenarioOptions, ScenarioReport } from "./lib/scenario/registry.ts";
export { TaskBlocked } from "./lib/kernel/kernel.ts";
export type { PiBlock } from "./lib/kernel/kernel.ts";
export type { CustomSnapshot } from "./lib/kernel/snapshot.ts";
export { BpfObject } from "./lib/libbpf/object.ts";
export type { ObjExtern, ObjProgram, OpenOpts, Relo, ReloType } from "./lib/libbpf/object.ts";
export { bpfObjectLoad, LoadedObject } from "./lib/libbpf/load.ts";
export type { ObjectLoadOpts, ProgramImage } from "./lib/libbpf/load.ts";
export { LIBBPF_ERRNO, LibbpfError } from "./lib/libbpf/errors.ts";
export type { LibbpfCode } from "./lib/libbpf/errors.ts";
export { Btf } from "./lib/libbpf/btf.ts";
export type { BtfMember, BtfType } from "./lib/libbpf/btf.ts";
export { BtfExt } from "./lib/libbpf/btf_ext.ts";
export type { CoreRelo, ExtSec, FuncInfo, LineInfo } from "./lib/libbpf/btf_ext.ts";
export type { ElfFile, ElfRel, ElfSection, ElfSymbol } from "./lib/libbpf/elf.ts";
export { attachTargetOf, findSecDef, SECTION_DEFS } from "./lib/libbpf/sec_def.ts";
export type { AttachTarget, AutoAttach, SecDef } from "./lib/libbpf/sec_def.ts";
export type { LibbpfMapType, MapDef, ObjMap } from "./lib/libbpf/map_def.ts";
export { linkProgram } from "./lib/libbpf/relo.ts";
export type { LinkedProgram, MapRef } from "./lib/libbpf/relo.ts";
export {
  buildCtx,
  ctxFromArgs,
  finishInsnRun,
  insnEnv,
  loadInsnProg,
  progTag,
  runInsnProg,
  startInsnRun,
} from "./lib/bpf/insn_prog.ts";
export type { CtxSpec, InsnLoadAttr, InsnLoadError, InsnRunResult, LoadedInsnProg } from "./lib/bpf/insn_prog.ts";
export { BpfFault, HELPER_TABLE, INSN_DONE, INSN_YIELD, InsnEnv, InsnProg, runInsns } from "./lib/bpf/interp.ts";
export type { HelperFn } from "./lib/bpf/interp.ts";
export { registerInsnProg, setPerfEventOutput, setTailCallResolver } from "./lib/bpf/interp_helpers.ts";
export type { PerfEventOutputFn, TailCallResolver } from "./lib/bpf/interp_helpers.ts";
export { checkHelper, FUNC_PROTOS, funcMaxId } from "./lib/bpf/helper_protos.ts";
export type { ArgType, FuncProto, HelperCheck, ProtoGroup, RetType } from "./lib/bpf/helper_protos.ts";
export { bpf_check_insns } from "./lib/bpf/verifier_insn.ts";
export type { InsnVerifierErr, InsnVerifierInput, InsnVerifierOk } from "./lib/bpf/verifier_insn.ts";
export { btfTypeOnly, dumpXlatedJson, dumpXlatedPlain, printBpfInsn } from "./lib/bpf/disasm.ts";
export type { DumpContext, InsnCallbacks, XlatedJsonInsn, XlatedOpts } from "./lib/bpf/disasm.ts";
export type { CtxAccess, CtxRewrite, PacketCtx, SkbFields } from "./lib/bpf/prog_ctx.ts";
export { decodeInsns, encodeInsns, funcIdName, HELPER_NAMES, helperId } from "./lib/bpf/uapi_insn.ts";
export type { BpfInsn } from "./lib/bpf/uapi_insn.ts";
export { formatTraceLine, TraceBuffer } from "./lib/kernel/trace.ts";
export type { TraceEntry } from "./lib/kernel/trace.ts";
export { btfDump, btfJsonText } from "./lib/libbpf/btf_dumper.ts";
export type { BtfJson } from "./lib/libbpf/btf_dumper.ts";
