// The top level: table order and prefixes, the registration hook for
// bpfsim's own objects, objects bpfsim does not simulate, version, exit
// statuses, option helpers, and the deliberate difference for usage errors
// inside `-j batch`.

import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import {
  Args,
  type Cmd,
  cmdSelect,
  detectCommonPrefix,
  renderUsage,
  reqArgs,
  usage,
  UsageExit,
} from "../../cli/cmd.ts";
import { newContext } from "../../cli/context.ts";
import {
  BPFSIM_VERSION,
  dispatch,
  exitStatus,
  optionHelp,
  optionVersion,
  registerObject,
  topCmds,
  unrecognizedOption,
} from "../../cli/dispatch.ts";
import { withKernel } from "../helpers.ts";
import { run } from "./harness.ts";

function ctxOf(k: Kernel, mode: "plain" | "json" | "pretty" = "plain") {
  return newContext({ k, sys: k.sys, mode });
}

Deno.test("cmd_select: first match in table order, empty argv runs the first row, no match prints help", () => {
  withKernel({}, (k) => {
    const seen: string[] = [];
    const row = (name: string): Cmd => ({ name, fn: (_c, a) => (seen.push(`${name}:${a.rest().join(",")}`), 0) });
    const cmds = [row("dump"), row("delete"), row("show")];
    const ctx = ctxOf(k);
    let helped = 0;
    const help = () => (helped++, 0);
    assertEquals(cmdSelect(ctx, cmds, new Args(["d", "x"]), help), 0);
    assertEquals(cmdSelect(ctx, cmds, new Args(["de"]), help), 0);
    assertEquals(cmdSelect(ctx, cmds, new Args([]), help), 0);
    assertEquals(cmdSelect(ctx, cmds, new Args(["zz"]), help), -1);
    assertEquals(seen, ["dump:x", "delete:", "dump:"]);
    assertEquals(helped, 1);
    assertEquals(
      topCmds().slice(0, 14).map((c) => c.name).join(" "),
      "help batch prog map link cgroup perf net feature btf gen struct_ops iter version",
    );
  });
});

Deno.test("REQ_ARGS, detect_common_prefix, usage()", () => {
  withKernel({}, (k) => {
    const ctx = ctxOf(k);
    assertEquals(reqArgs(ctx, new Args(["map", "pin", "id"], 2), 3), false);
    assertEquals(detectCommonPrefix(ctx, "d", "dump", "delete", "show"), -1);
    assertEquals(detectCommonPrefix(ctx, "du", "dump", "delete"), 0);
    assertEquals(
      ctx.out.stderr,
      "Error: 'pin' needs at least 3 arguments, 1 found\nError: ambiguous prefix: 'd' could be 'dump' or 'delete'\n",
    );
    let printed = "";
    ctx.last = { args: new Args(["map", "dump"], 1), help: (_c, a) => ((printed = a.at(-2)!), 0) };
    let rc = 0;
    try {
      usage(ctx);
    } catch (e) {
      rc = (e as UsageExit).rc;
    }
    assertEquals([rc, printed], [255, "map"]);
  });
});

Deno.test("help texts are generated from the table rows", () => {
  const cmds: Cmd[] = [
    { name: "show", fn: () => 0, label: "{ show | list }  ", args: "[OBJ]", helpRank: 0 },
    { name: "list", fn: () => 0 },
    { name: "help", fn: () => 0, helpRank: 2 },
    { name: "make", fn: () => 0, args: "NAME a A \\\nb B", helpRank: 1 },
  ];
  assertEquals(
    renderUsage("bpfsim", "thing", cmds),
    "Usage: bpfsim thing { show | list }   [OBJ]\n" +
      "       bpfsim thing make       NAME a A \\\n" + " ".repeat(34) + "b B\n" +
      "       bpfsim thing help\n",
  );
});

Deno.test("registerObject: bpfsim objects come after bpftool's, appear in help, and can be removed", () => {
  withKernel({}, (k) => {
    const calls: string[][] = [];
    const off = registerObject({
      name: "kernel",
      fn: (_c, a) => (calls.push(a.rest()), 0),
      help: "the simulated kernel",
    });
    try {
      assertEquals(run(k, ["kernel", "show"]).rc, 0);
      assertEquals(run(k, ["k", "x"]).rc, 0);
      assertEquals(calls, [["show"], ["x"]]);
      // bpftool's prefixes keep their meaning: "v" is still version
      assertIncludes(run(k, ["v"]).stdout, "bpftool v7.1.0");
      assertIncludes(run(k, ["help"]).stderr, "       BPFSIM_OBJECT := { kernel }\n");
      let dup = false;
      try {
        registerObject({ name: "map", fn: () => 0 });
      } catch {
        dup = true;
      }
      assertTrue(dup);
    } finally {
      off();
    }
    assertEquals(run(k, ["kernel"]).rc, 255);
    assertEquals(run(k, ["help"]).stderr.includes("BPFSIM_OBJECT"), false);
  });
});

Deno.test("objects bpfsim does not simulate answer honestly, in text and JSON", () => {
  withKernel({}, (k) => {
    for (const o of ["cgroup", "net", "feature", "btf", "gen", "struct_ops", "iter"]) {
      assertEquals(run(k, [o, "show"]), {
        stdout: "",
        stderr: `Error: ${o} is not simulated by bpfsim yet\n`,
        rc: 255,
      });
    }
    assertEquals(run(k, ["-j", "n", "help"]), {
      stdout: '{"error":"net is not simulated by bpfsim yet"}\n',
      stderr: "",
      rc: 255,
    });
  });
});

Deno.test("version: bpftool's layout and JSON keys, naming bpfsim", () => {
  withKernel({}, (k) => {
    assertEquals(
      run(k, ["version"]).stdout,
      `bpftool v7.1.0 (bpfsim ${BPFSIM_VERSION})\nusing libbpf v1.1\nfeatures: libbpf_strict\n`,
    );
    const j = JSON.parse(run(k, ["-j", "version"]).stdout);
    assertEquals(Object.keys(j), ["version", "libbpf_version", "features", "bpfsim_version"]);
    assertEquals(j.features, { libbfd: false, libbpf_strict: true, skeletons: false });
    // -V and -h return before jsonw_destroy(): no final newline in JSON
    const ctx = ctxOf(k, "json");
    assertEquals(optionVersion(ctx), 0);
    assertTrue(ctx.out.stdout.endsWith("}"));
    const h = ctxOf(k, "json");
    optionHelp(h);
    assertEquals(h.out.stdout, "null");
  });
});

Deno.test("unrecognized options: message and help, or the JSON error alone", () => {
  withKernel({}, (k) => {
    const p = ctxOf(k);
    assertEquals(unrecognizedOption(p, "-x"), 255);
    assertTrue(p.out.stderr.startsWith("Error: unrecognized option '-x'\nUsage: bpftool [OPTIONS] OBJECT"));
    const j = ctxOf(k, "json");
    unrecognizedOption(j, "-x");
    assertEquals([j.out.stdout, j.out.stderr], ['{"error":"unrecognized option \'-x\'"}\n', ""]);
  });
});

Deno.test("exit status: bpftool's int modulo 256, and a failure never exits 0", () => {
  assertEquals([exitStatus(0), exitStatus(-1), exitStatus(-22), exitStatus(-524), exitStatus(-4096)], [
    0,
    255,
    234,
    244,
    255,
  ]);
});

Deno.test("usage error inside -j batch: bpfsim closes the JSON (bpftool aborts with rc 134)", () => {
  withKernel({}, (k) => {
    const files = { "/b": "map help\nmap dump\nmap help\n" };
    assertEquals(run(k, ["-j", "batch", "file", "/b"], { files }), {
      stdout: '[{"command":["map","help"],"output":null},{"command":["map","dump"],"output":null}]\n',
      stderr: "",
      rc: 255,
    });
    assertEquals(run(k, ["-p", "batch", "file", "/b"], { files }).stdout.endsWith("}\n]\n"), true);
    // in text mode usage() exits at once: help, no "processed" line
    const r = run(k, ["batch", "file", "/b"], { files });
    assertEquals([r.rc, r.stdout], [255, ""]);
  });
});

Deno.test("dispatch: a context is one process; its JSON document ends once", () => {
  withKernel({}, (k) => {
    const ctx = ctxOf(k, "json");
    assertEquals(dispatch(ctx, ["map", "show"]), 0);
    assertEquals(ctx.out.stdout, "[]\n");
  });
});
