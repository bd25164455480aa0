// The program-facing CLI: `prog` and `link` with bpftool's layouts (as the
// real bpftool 7.1.0 printed them on this machine's 6.18 kernel, see below),
// `sim fire`/`sim run` summaries, `trace` export, `kernel points`/`sysctl`,
// `tracepoint list`, `scenario`, and programs persisting across one-shot
// commands only through pins. A scenario built by hand gives the scenario's
// outcome.
//
// bpftool 7.1.0 on Linux 6.18 (tracepoint program attached with libbpf,
// stats enabled), recorded 2026-12-03:
//   113: tracepoint  name lead_tp  tag 7d4688f980f1ced8  gpl run_time_ns 182107 run_cnt 275
//   \tloaded_at 2026-12-03T20:31:29+0000  uid 0
//   \txlated 208B  jited 130B  memlock 4096B  map_ids 29
//   \tbtf_id 49
//   {"id":113,"type":"tracepoint","name":"lead_tp","tag":"7d4688f980f1ced8","gpl_compatible":true,
//    "run_time_ns":182688,"run_cnt":276,"loaded_at":1796329889,"uid":0,"bytes_xlated":208,"jited":true,
//    "bytes_jited":130,"bytes_memlock":4096,"map_ids":[29],"btf_id":49}
//   89: perf_event  prog 113
//   90: raw_tracepoint  prog 126  \n\ttp 'sys_enter'
//   [{"id":89,"type":"perf_event","prog_id":113},{"id":90,"type":"raw_tracepoint","prog_id":126,"tp_name":"sys_enter"}]
// bpfsim interprets programs (like bpf_jit_enable=0: "not jited") and has no BTF (no btf_id).

import { assertEquals, assertIncludes, assertMatch, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { registerSimObjects } from "../../cli/objects.ts";
import { run } from "./harness.ts";
import { oneShot } from "./e2e_replay.ts";
import { complete } from "../../cli/complete.ts";

registerSimObjects();

function kernel(profile = "v6.18"): Kernel {
  const k = new Kernel({ cpus: 2, profile, seed: 1 });
  assertEquals(
    run(k, [
      "map",
      "create",
      "/sys/fs/bpf/counts",
      "type",
      "hash",
      "key",
      "4",
      "value",
      "8",
      "entries",
      "64",
      "name",
      "counts",
    ])
      .rc,
    0,
  );
  return k;
}

Deno.test("prog load/show: bpftool's plain and JSON layouts; stats appear when enabled", () => {
  const k = kernel();
  const r = run(k, [
    "prog",
    "load",
    "cnt",
    "type",
    "tracepoint",
    "ops",
    "inc counts key cpu",
    "pinned",
    "/sys/fs/bpf/cnt",
  ]);
  assertEquals([r.rc, r.stdout, r.stderr], [0, "", ""]);
  const plain = run(k, ["prog", "show"]).stdout;
  assertMatch(
    plain,
    new RegExp(
      "^1: tracepoint  name cnt  tag [0-9a-f]{16}  gpl\n\tloaded_at 2026-01-01T00:00:\\d\\d\\+0000  uid 0\n" +
        "\txlated \\d+B  not jited  memlock 4096B  map_ids 1\n$",
    ),
  );
  const json = JSON.parse(run(k, ["-j", "prog", "show", "id", "1"]).stdout);
  assertEquals(Object.keys(json), [
    "id",
    "type",
    "name",
    "tag",
    "gpl_compatible",
    "loaded_at",
    "uid",
    "bytes_xlated",
    "jited",
    "bytes_memlock",
    "map_ids",
  ]);
  assertEquals([json.type, json.jited, json.map_ids], ["tracepoint", false, [1]]);
  assertEquals(run(k, ["kernel", "sysctl", "kernel.bpf_stats_enabled", "1"]).rc, 0);
  assertEquals(
    run(k, ["link", "create", "name", "cnt", "tracepoint", "syscalls:sys_enter_getpid", "pinned", "/sys/fs/bpf/l"]).rc,
    0,
  );
  assertEquals(run(k, ["sim", "run", "syscall", "count", "10"]).rc, 0);
  assertMatch(run(k, ["prog", "show", "name", "cnt"]).stdout, /gpl run_time_ns \d+ run_cnt 10\n/);
  const j2 = JSON.parse(run(k, ["-j", "prog", "show", "pinned", "/sys/fs/bpf/cnt"]).stdout);
  assertEquals(j2.run_cnt, 10);
  assertTrue(j2.run_time_ns > 0);
  // -f adds the pinned paths
  assertIncludes(run(k, ["-f", "prog", "show"]).stdout, "\n\tpinned /sys/fs/bpf/cnt\n");
  assertEquals(run(k, ["prog", "dump", "ops", "id", "1"]).stdout, "inc counts key cpu by 1\n");
});

Deno.test("prog load: errors in bpftool's style, plain and JSON", () => {
  const k = kernel("v5.7");
  const bad = run(k, [
    "prog",
    "load",
    "x",
    "type",
    "kprobe",
    "ops",
    "lookup counts key cpu; add value 1",
    "pinned",
    "/sys/fs/bpf/x",
  ]);
  assertEquals(bad.rc, 255);
  assertEquals(
    bad.stderr,
    "Error: failed to load program 'x': op 2 (line 1): R0 invalid mem access 'map_value_or_null' (check the lookup with 'if ok' first) (Permission denied)\n",
  );
  const j = run(k, ["-j", "prog", "load", "x", "type", "nosuch", "ops", "inc counts key 1", "pinned", "/sys/fs/bpf/x"]);
  assertEquals(JSON.parse(j.stdout), {
    error:
      "unknown program type 'nosuch' (known: kprobe, kretprobe, tracepoint, raw_tp, fentry, fexit, perf_event, xdp, tc, syscall)",
  });
  assertIncludes(
    run(k, ["prog", "load", "x", "type", "kprobe", "ops", "inc counts key 1"]).stderr,
    "needs pinned PATH",
  );
  assertIncludes(run(k, ["prog", "show", "name", "nosuch"]).stderr, "");
  assertEquals(run(k, ["prog", "show", "id", "99"]).stderr, "Error: get by id (99): No such file or directory\n");
  // an unpinned result is not left behind
  assertEquals(run(k, ["prog", "show"]).stdout, "");
});

Deno.test("link create/show/detach: the hook decides the link type; wrong pairs are refused", () => {
  const k = kernel();
  run(k, ["prog", "load", "kp", "type", "kprobe", "ops", "inc counts key 1", "pinned", "/sys/fs/bpf/kp"]);
  run(k, ["prog", "load", "rt", "type", "raw_tp", "ops", "inc counts key 2", "pinned", "/sys/fs/bpf/rt"]);
  assertEquals(
    run(k, ["link", "create", "pinned", "/sys/fs/bpf/kp", "kprobe", "kfree", "pinned", "/sys/fs/bpf/l1"]).rc,
    0,
  );
  assertEquals(
    run(k, ["link", "create", "pinned", "/sys/fs/bpf/rt", "raw_tp", "sys_enter", "pinned", "/sys/fs/bpf/l2"]).rc,
    0,
  );
  assertEquals(
    run(k, ["link", "show"]).stdout,
    "1: perf_event  prog 1  \n\tkprobe kfree  \n2: raw_tracepoint  prog 2  \n\ttp 'sys_enter'  \n",
  );
  assertEquals(JSON.parse(run(k, ["-j", "link", "show", "id", "2"]).stdout), {
    id: 2,
    type: "raw_tracepoint",
    prog_id: 2,
    tp_name: "sys_enter",
  });
  const wrong = run(k, ["link", "create", "pinned", "/sys/fs/bpf/kp", "raw_tp", "sys_enter"]);
  assertEquals(
    wrong.stderr,
    "Error: failed to attach program: raw_tp needs a raw_tp program, not kprobe (prog type kprobe) (Invalid argument)\n",
  );
  assertIncludes(
    run(k, ["link", "create", "id", "1", "kprobe", "nosuch"]).stderr,
    "no probe-able kernel function 'nosuch'",
  );
  assertIncludes(
    run(k, ["link", "create", "id", "1", "kretprobe", "alloc_htab_elem"]).stderr,
    "instruments its entry only",
  );
  // detach: the program stops running, the link stays until unpinned
  assertEquals(run(k, ["link", "detach", "pinned", "/sys/fs/bpf/l1"]).rc, 0);
  const s = JSON.parse(run(k, ["-j", "sim", "fire", "kprobe:kfree", "count", "3"]).stdout);
  assertEquals(s.runs, 0);
  assertEquals(run(k, ["-j", "link", "show"]).stdout.includes('"id":1'), true);
  assertEquals(run(k, ["fs", "rm", "/sys/fs/bpf/l1"]).rc, 0);
  assertEquals(run(k, ["-j", "link", "show"]).stdout.includes('"id":1'), false);
});

Deno.test("sim fire/run: summaries in plain text and JSON; bad input gets bpftool-style errors", () => {
  const k = kernel();
  run(k, ["prog", "load", "kp", "type", "kprobe", "ops", "inc counts key cpu", "pinned", "/sys/fs/bpf/kp"]);
  run(k, ["link", "create", "name", "kp", "kprobe", "__x64_sys_getpid", "pinned", "/sys/fs/bpf/l"]);
  const plain = run(k, ["sim", "run", "syscall", "count", "100"]);
  assertEquals(plain.rc, 0);
  assertMatch(
    plain.stdout,
    new RegExp(
      "^sim run syscall: 100 events on CPUs 0,1, [\\d.]+ ms simulated\n  programs: 100 runs, 0 skipped\n" +
        "  map ops: ok 100\n  dmesg: nothing new\n$",
    ),
  );
  const j = JSON.parse(
    run(k, ["-j", "sim", "fire", "kprobe:__x64_sys_getpid", "cpu", "1", "context", "hardirq", "count", "4"]).stdout,
  );
  assertEquals([j.events, j.runs, j.cpus, j.map_ops], [4, 4, [1], { ok: 4 }]);
  assertEquals(
    run(k, ["sim", "run", "nope"]).stderr,
    "Error: unknown workload 'nope' (known: syscall, timer, netrx, perf, kmalloc, sched)\n",
  );
  assertEquals(
    run(k, ["sim", "run", "syscall", "duration", "soon"]).stderr,
    "Error: can't parse soon as a duration (e.g. 10ms, 1s)\n",
  );
  assertEquals(
    run(k, ["sim", "fire", "kprobe:nosuch"]).stderr,
    "Error: no probe-able kernel function 'nosuch' (see 'kernel points')\n",
  );
  assertEquals(run(k, ["sim", "fire", "perf_event", "context", "user"]).rc, 255);
  // ticks every 10 ms from 10 ms on: two per CPU in 25 ms
  assertIncludes(run(k, ["sim", "run", "timer", "duration", "25ms", "hz", "100"]).stdout, "timer: 4 events");
});

Deno.test("trace: start, run, stop, export writes Chrome trace-event JSON with a track per CPU", () => {
  const k = kernel();
  run(k, ["prog", "load", "kp", "type", "kprobe", "ops", "inc counts key cpu", "pinned", "/sys/fs/bpf/kp"]);
  run(k, ["link", "create", "name", "kp", "kprobe", "__x64_sys_getpid", "pinned", "/sys/fs/bpf/l"]);
  assertEquals(run(k, ["trace", "start"]).rc, 0);
  run(k, ["sim", "run", "syscall", "count", "20"]);
  assertEquals(run(k, ["trace", "stop"]).rc, 0);
  const file = Deno.makeTempFileSync({ suffix: ".json" });
  try {
    assertEquals(run(k, ["trace", "export", file]).rc, 0);
    const t = JSON.parse(Deno.readTextFileSync(file));
    const ev = t.traceEvents as { ph: string; tid?: number; name?: string; cat?: string }[];
    assertEquals(ev.filter((e) => e.name === "thread_name").map((e) => e.tid), [0, 1]);
    assertEquals(ev.filter((e) => e.cat === "prog").length, 20);
    assertTrue(ev.some((e) => e.cat === "map" && e.name === "lookup counts"));
    // begins and ends balance per CPU
    for (const cpu of [0, 1]) {
      const b = ev.filter((e) => e.tid === cpu && e.ph === "B").length;
      const e = ev.filter((x) => x.tid === cpu && x.ph === "E").length;
      assertEquals(b, e, `CPU ${cpu}`);
    }
  } finally {
    Deno.removeSync(file);
  }
  assertEquals(run(k, ["trace", "export"]).stderr, "Error: expected a file to write the trace to\n");
});

Deno.test("kernel points PATTERN, kernel sysctl, tracepoint list", () => {
  const k = new Kernel({ cpus: 1, profile: "v4.6" });
  const pts = run(k, ["kernel", "points", "htab_map_*elem"]).stdout.split("\n").filter(Boolean).map((l) =>
    l.split(/\s+/)[0]
  );
  assertEquals(pts, ["htab_map_delete_elem", "htab_map_update_elem"]);
  assertIncludes(run(k, ["kernel", "points", "kmalloc"]).stdout, "__kmalloc");
  assertEquals(run(k, ["kernel", "points", "zzz"]).stderr, "Error: no probe-able function matches 'zzz'\n");
  // 4.6 has no kernel.bpf_stats_enabled (5.1)
  assertEquals(run(k, ["kernel", "sysctl"]).stdout, "");
  assertEquals(
    run(k, ["kernel", "sysctl", "bpf_stats_enabled", "1"]).stderr,
    "Error: cannot stat /proc/sys/kernel/bpf_stats_enabled: No such file or directory\n",
  );
  const tps = JSON.parse(run(k, ["-j", "tracepoint", "list", "sched*"]).stdout);
  assertEquals(tps.map((t: { name: string }) => t.name), ["sched:sched_switch"]);
});

Deno.test("prealloc-deadlock built by hand from the shell's commands gives the scenario's outcome", () => {
  for (const [profile, dead] of [["v4.5", true], ["v4.6", false]] as const) {
    const k = new Kernel({ cpus: 2, profile, seed: 1 });
    const cmds = [
      [
        "map",
        "create",
        "/sys/fs/bpf/counts",
        "type",
        "hash",
        "key",
        "4",
        "value",
        "8",
        "entries",
        "1024",
        "name",
        "counts",
      ],
      [
        "prog",
        "load",
        "on_unlock",
        "type",
        "kprobe",
        "ops",
        "update /sys/fs/bpf/counts key seq % 1024 value cpu", // no map names before 4.15
        "pinned",
        "/sys/fs/bpf/p",
      ],
      ["link", "create", "pinned", "/sys/fs/bpf/p", "kprobe", "_raw_spin_unlock_irqrestore", "pinned", "/sys/fs/bpf/l"],
    ];
    for (const c of cmds) assertEquals(run(k, c).rc, 0, c.join(" "));
    const s = JSON.parse(run(k, ["-j", "sim", "run", "kmalloc", "cpus", "0", "count", "200", "batch", "64"]).stdout);
    assertEquals(s.stuck_cpus, dead ? [0] : [], profile);
    if (dead) {
      assertIncludes(run(k, ["dmesg"]).stdout, "WARNING: possible recursive locking detected");
      // the other CPU still answers
      assertEquals(run(k, ["map", "show", "pinned", "/sys/fs/bpf/counts"], { cpu: 1 }).rc, 0);
    }
  }
});

Deno.test("one-shot: programs and links live on only when pinned; scenarios run from the CLI", async () => {
  const state = await Deno.makeTempDir({ prefix: "bpfsim-prog-" });
  const sh = (...a: string[]) => oneShot(["--state", state, ...a]);
  try {
    assertEquals(
      (await sh(
        "map",
        "create",
        "/sys/fs/bpf/c",
        "type",
        "array",
        "key",
        "4",
        "value",
        "8",
        "entries",
        "4",
        "name",
        "c",
      )).rc,
      0,
    );
    assertEquals(
      (await sh("prog", "load", "p", "type", "kprobe", "ops", "inc c key 0", "pinned", "/sys/fs/bpf/p")).rc,
      0,
    );
    // an unpinned link is gone when its command ends
    const unpinned = await sh("link", "create", "pinned", "/sys/fs/bpf/p", "kprobe", "kfree");
    assertIncludes(unpinned.stderr, "is not pinned");
    assertEquals((await sh("-j", "link", "show")).stdout, "[]\n");
    assertEquals(
      (await sh("link", "create", "pinned", "/sys/fs/bpf/p", "kprobe", "kfree", "pinned", "/sys/fs/bpf/l")).rc,
      0,
    );
    assertEquals((await sh("sim", "fire", "kprobe:kfree", "count", "3")).rc, 0);
    assertEquals(
      (await sh("map", "lookup", "pinned", "/sys/fs/bpf/c", "key", "0", "0", "0", "0")).stdout,
      "key: 00 00 00 00  value: 03 00 00 00 00 00 00 00\n",
    );
    const sc = await sh("-j", "scenario", "run", "nmi-reentry");
    assertEquals(JSON.parse(sc.stdout).map((x: { outcome: string }) => x.outcome), [
      "deadlock",
      "-EBUSY",
      "-EBUSY",
      "-EDEADLK",
      "-EDEADLK",
    ]);
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

Deno.test("completion: program selectors, hooks, functions, tracepoints and workloads", () => {
  const k = kernel();
  run(k, ["prog", "load", "kp", "type", "kprobe", "ops", "inc counts key 1", "pinned", "/sys/fs/bpf/kp"]);
  const t = (s: string) => s.split(" ").filter(Boolean);
  assertEquals(complete(k, t("prog show name"), ""), ["kp"]);
  assertEquals(complete(k, t("link create id 1"), "kr"), ["kretprobe"]);
  assertEquals(complete(k, t("link create id 1 kprobe"), "kfr"), ["kfree"]);
  assertEquals(complete(k, t("link create id 1 tracepoint"), "sched"), ["sched:sched_switch"]);
  assertEquals(complete(k, t("link create id 1 raw_tp"), "sys_e"), ["sys_enter", "sys_exit"]);
  assertEquals(complete(k, t("sim fire"), "kretprobe:__km"), ["kretprobe:__kmalloc"]);
  assertEquals(complete(k, t("sim fire kfree context"), ""), ["hardirq", "nmi", "softirq", "task"]);
  assertEquals(complete(k, t("sim run"), "s"), ["sched", "syscall"]);
});

Deno.test("perf show: no process holds a perf event fd (links hold them), as bpftool 7.1.0 shows for pinned links", () => {
  const k = kernel();
  run(k, ["prog", "load", "s", "type", "perf_event", "ops", "inc counts key cpu", "pinned", "/sys/fs/bpf/s"]);
  run(k, ["link", "create", "name", "s", "perf_event", "freq", "99", "pinned", "/sys/fs/bpf/sl"]);
  assertEquals(run(k, ["perf", "show"]), { stdout: "", stderr: "", rc: 0 });
  assertEquals(run(k, ["-j", "perf", "list"]).stdout, "[]\n");
  assertEquals(
    run(k, ["perf", "help"]).stderr,
    "Usage: bpftool perf { show | list }\n       bpftool perf help }\n\n" +
      "       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} | {-l|--legacy} }\n",
  );
});
