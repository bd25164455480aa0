// bpfsim as a user runs it: separate processes (Deno.Command), exit codes,
// stdout and stderr; the shell through piped stdin; damaged state; kernel
// settings; and two processes updating one pinned map concurrently.

import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import { denoRunArgs } from "./e2e_replay.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

interface Run {
  stdout: string;
  stderr: string;
  rc: number;
}

function command(state: string, args: string[], stdin: boolean): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(["--state", state, ...args]),
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
}

function decode(out: Deno.CommandOutput): Run {
  const dec = new TextDecoder();
  return { stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr), rc: out.code };
}

function bpfsim(state: string, args: string[]): Run {
  return decode(command(state, args, false).outputSync());
}

async function bpfsimAsync(state: string, args: string[], stdin: string): Promise<Run> {
  const child = command(state, args, true).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  return decode(await child.output());
}

async function tmpState(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "bpfsim-proc-" });
}

Deno.test("process: one-shot commands keep pinned maps between processes; exit codes as bpftool", async () => {
  const st = await tmpState();
  try {
    let r = bpfsim(st, [
      "map",
      "create",
      "/sys/fs/bpf/m",
      "type",
      "hash",
      "key",
      "4",
      "value",
      "4",
      "entries",
      "8",
      "name",
      "m",
    ]);
    assertEquals([r.rc, r.stdout, r.stderr], [0, "", ""]);
    r = bpfsim(st, [
      "map",
      "update",
      "pinned",
      "/sys/fs/bpf/m",
      "key",
      "1",
      "0",
      "0",
      "0",
      "value",
      "7",
      "0",
      "0",
      "0",
    ]);
    assertEquals(r.rc, 0);
    r = bpfsim(st, ["map", "lookup", "pinned", "/sys/fs/bpf/m", "key", "1", "0", "0", "0"]);
    assertEquals([r.rc, r.stdout], [0, "key: 01 00 00 00  value: 07 00 00 00\n"]);
    r = bpfsim(st, ["map", "lookup", "pinned", "/sys/fs/bpf/m", "key", "2", "0", "0", "0"]);
    assertEquals([r.rc, r.stdout], [254, "key:\n02 00 00 00\n\nNot found\n"]);
    // GNU permutation: options after the command words
    r = bpfsim(st, ["map", "show", "name", "m", "-j"]);
    assertEquals(r.rc, 0);
    assertEquals(JSON.parse(r.stdout).name, "m");
    r = bpfsim(st, ["map", "update", "pinned", "/sys/fs/bpf/m", "value", "1", "0", "0", "0", "key", "1", "0", "0"]);
    assertEquals([r.rc, r.stderr], [255, "Error: key expected 4 bytes got 3\n"]);
    r = bpfsim(st, ["-x", "map"]);
    assertEquals(r.rc, 255);
    assertIncludes(r.stderr, "Error: unrecognized option '-x'\nUsage: bpfsim [OPTIONS] OBJECT { COMMAND | help }");
    r = bpfsim(st, ["-j", "map", "delete", "pinned", "/sys/fs/bpf/m", "key", "9", "0", "0", "0"]);
    assertEquals([r.rc, r.stdout], [254, `{"error":"delete failed: No such file or directory"}\n`]);
    // an unpinned map dies with the process that created it
    r = bpfsim(st, ["fs", "rm", "/sys/fs/bpf/m"]);
    assertEquals(r.rc, 0);
    r = bpfsim(st, ["-j", "map", "show"]);
    assertEquals([r.rc, r.stdout], [0, "[]\n"]);
    r = bpfsim(st, ["-j", "kernel", "show"]);
    const ks = JSON.parse(r.stdout);
    assertEquals([ks.maps, ks.memory.slab_objects, ks.memory.percpu], [0, 0, 0]);
  } finally {
    await Deno.remove(st, { recursive: true });
  }
});

Deno.test("process: kernel settings boot a state, must match later, and kernel config starts over", async () => {
  const st = await tmpState();
  try {
    let r = bpfsim(st, ["--cpus", "4", "--profile", "v5.11", "--seed", "7", "kernel", "show"]);
    assertEquals(r.rc, 0);
    assertIncludes(r.stdout, "profile v5.11  cpus 4  preempt_rt no  seed 7");
    r = bpfsim(st, ["--cpus", "4", "kernel", "show"]);
    assertEquals(r.rc, 0);
    r = bpfsim(st, ["--cpus", "2", "map", "show"]);
    assertEquals(r.rc, 255);
    assertIncludes(r.stderr, "bpfsim kernel config cpus 2 --yes");
    r = bpfsim(st, [
      "--cpu",
      "3",
      "map",
      "create",
      "/sys/fs/bpf/x",
      "type",
      "array",
      "key",
      "4",
      "value",
      "4",
      "entries",
      "1",
      "name",
      "x",
    ]);
    assertEquals(r.rc, 0);
    r = bpfsim(st, ["kernel", "config", "rt", "on"]);
    assertEquals(r.rc, 255);
    assertIncludes(r.stderr, "drops 1 map; add --yes to confirm");
    r = bpfsim(st, ["kernel", "config", "profile", "v6.18", "rt", "on", "--yes"]);
    assertEquals(r.rc, 0);
    r = bpfsim(st, ["kernel", "show"]);
    assertIncludes(r.stdout, "profile v6.18  cpus 4  preempt_rt yes  seed 7");
    assertIncludes(r.stdout, "maps 0");
  } finally {
    await Deno.remove(st, { recursive: true });
  }
});

Deno.test("process: a damaged state file is named and left untouched", async () => {
  const st = await tmpState();
  try {
    assertEquals(bpfsim(st, ["map", "show"]).rc, 0);
    const file = `${st}/kernel.state`;
    const data = Deno.readFileSync(file);
    data[20] ^= 0xff;
    data[21] ^= 0xff;
    Deno.writeFileSync(file, data);
    const r = bpfsim(st, ["map", "show"]);
    assertEquals(r.rc, 255);
    assertIncludes(r.stderr, `Error: state file ${file} is damaged`);
    assertIncludes(r.stderr, "kernel config --yes");
    assertEquals(Deno.readFileSync(file), data);
    assertEquals(
      bpfsim(st, ["-j", "map", "show"]).stdout,
      `{"error":"state file ${file} is damaged (${
        JSON.parse(bpfsim(st, ["-j", "map", "show"]).stdout).error.split("damaged (")[1]
      }"}\n`,
    );
  } finally {
    await Deno.remove(st, { recursive: true });
  }
});

Deno.test("process: the shell reads piped stdin without prompts, survives errors, saves on request", async () => {
  const st = await tmpState();
  try {
    const script = [
      "map create /sys/fs/bpf/s type hash key 4 value 4 entries 4 name s flags 64",
      "map update pinned /sys/fs/bpf/s key 1 0 0 0 value 2 0 0 0",
      "map lookup pinned /sys/fs/bpf/s key 3 0 0 0",
      "map frobnicate",
      "-j map dump pinned /sys/fs/bpf/s",
      "kernel save",
      "",
    ].join("\n");
    const r = await bpfsimAsync(st, ["shell"], script);
    assertEquals(r.rc, 0);
    assertEquals(
      r.stdout,
      'key:\n03 00 00 00\n\nNot found\n[{"key":["0x01","0x00","0x00","0x00"],"value":["0x02","0x00","0x00","0x00"]}]\n',
    );
    assertIncludes(r.stderr, "Usage: bpfsim map { show | list }");
    assertIncludes(r.stderr, "saved the kernel to");
    assertTrue(!r.stdout.includes("bpfsim v6.18>"));
    // the saved kernel is what one-shot commands see
    const d = bpfsim(st, ["map", "dump", "pinned", "/sys/fs/bpf/s"]);
    assertEquals(d.stdout, "key: 01 00 00 00  value: 02 00 00 00\nFound 1 element\n");
  } finally {
    await Deno.remove(st, { recursive: true });
  }
});

Deno.test("process: two processes doing 500 one-shot updates each end with 1000 entries", async () => {
  const st = await tmpState();
  try {
    let r = bpfsim(st, [
      "map",
      "create",
      "/sys/fs/bpf/c",
      "type",
      "hash",
      "key",
      "4",
      "value",
      "4",
      "entries",
      "1024",
      "name",
      "c",
    ]);
    assertEquals(r.rc, 0);
    const updater = `${ROOT}tests/cli/concurrent_updater.ts`;
    const spawn = (from: number) =>
      new Deno.Command(Deno.execPath(), {
        args: denoRunArgs([st, "/sys/fs/bpf/c", String(from), "500"], updater),
        stdout: "piped",
        stderr: "inherit",
      }).output();
    const [a, b] = await Promise.all([spawn(0), spawn(500)]);
    for (const o of [a, b]) assertEquals(JSON.parse(new TextDecoder().decode(o.stdout)), { failures: 0 });
    r = bpfsim(st, ["map", "dump", "pinned", "/sys/fs/bpf/c"]);
    assertTrue(r.stdout.endsWith("Found 1000 elements\n"), r.stdout.slice(-200));
  } finally {
    await Deno.remove(st, { recursive: true });
  }
});

Deno.test("process: bpfsim's kernel, fs and dmesg objects and version, plain and JSON", async () => {
  const st = await tmpState();
  try {
    let r = bpfsim(st, ["kernel", "profiles"]);
    assertEquals(r.rc, 0);
    assertIncludes(r.stdout, "* v6.18  the kernel this machine runs (default)\n");
    r = bpfsim(st, ["-j", "kernel", "profiles"]);
    assertEquals(JSON.parse(r.stdout).length, 7);
    r = bpfsim(st, ["-j", "kernel", "points"]);
    const names = JSON.parse(r.stdout).map((p: { name: string }) => p.name);
    for (const n of ["htab_map_update_elem", "kfree", "_raw_spin_unlock", "call_rcu", "bpf_lru_pop_free"]) {
      assertTrue(names.includes(n), n);
    }
    r = bpfsim(st, ["fs", "mkdir", "/sys/fs/bpf/dir"]);
    assertEquals([r.rc, r.stdout, r.stderr], [0, "", ""]);
    r = bpfsim(st, ["fs", "mkdir", "/sys/fs/bpf/dir"]);
    assertEquals([r.rc, r.stderr], [255, "Error: cannot create directory '/sys/fs/bpf/dir': File exists\n"]);
    r = bpfsim(st, [
      "map",
      "create",
      "/sys/fs/bpf/dir/q",
      "type",
      "queue",
      "key",
      "0",
      "value",
      "4",
      "entries",
      "2",
      "name",
      "q",
    ]);
    assertEquals(r.rc, 0);
    r = bpfsim(st, ["fs", "ls"]);
    assertEquals(r.stdout, "dir/\n");
    r = bpfsim(st, ["-j", "fs", "ls", "/sys/fs/bpf/dir"]);
    assertEquals(r.stdout, '[{"name":"q","type":"map"}]\n');
    r = bpfsim(st, ["fs", "rm", "/sys/fs/bpf/dir"]);
    assertEquals([r.rc, r.stderr], [255, "Error: cannot remove '/sys/fs/bpf/dir': Is a directory\n"]);
    r = bpfsim(st, ["-j", "fs", "rm", "recursive", "/sys/fs/bpf/dir"]);
    assertEquals([r.rc, r.stdout], [0, "null\n"]);
    r = bpfsim(st, ["-j", "map", "show"]);
    assertEquals(r.stdout, "[]\n");
    r = bpfsim(st, ["dmesg"]);
    assertEquals([r.rc, r.stdout], [0, ""]);
    r = bpfsim(st, ["-j", "dmesg"]);
    assertEquals(r.stdout, "[]\n");
    r = bpfsim(st, ["kernel", "help"]);
    assertIncludes(r.stderr, "Usage: bpfsim kernel { show | list }");
    r = bpfsim(st, ["-V"]);
    assertIncludes(r.stdout, "bpftool v7.1.0 (bpfsim ");
    r = bpfsim(st, ["-j", "version"]);
    assertEquals(JSON.parse(r.stdout).version, "7.1.0");
  } finally {
    await Deno.remove(st, { recursive: true });
  }
});
