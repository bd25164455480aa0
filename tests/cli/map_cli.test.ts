// Map commands where bpfsim goes beyond what the 2-CPU oracle machine could
// record: other CPU counts, older kernel profiles, and bpfsim's own answers
// for things it does not simulate (network devices, other bpffs mounts).

import { assertEquals, assertIncludes } from "../assert.ts";
import { withKernel } from "../helpers.ts";
import { run } from "./harness.ts";

const P = "/sys/fs/bpf/zz_t";
const t = (line: string) => line.split(" ");

Deno.test("per-CPU maps show one slot per possible CPU (4 CPUs), filled by a single update", () => {
  withKernel({ cpus: 4 }, (k) => {
    assertEquals(run(k, t(`-n map create ${P} type percpu_hash key 4 value 4 entries 2 name pc`)).rc, 0);
    assertEquals(run(k, t(`map update pinned ${P} key 1 0 0 0 value 9 0 0 0`)).rc, 0);
    assertEquals(
      run(k, t(`map dump pinned ${P}`)).stdout,
      "key:\n01 00 00 00\n" +
        [0, 1, 2, 3].map((c) => `value (CPU 0${c}): 09 00 00 00\n`).join("") +
        "Found 1 element\n",
    );
    const j = JSON.parse(run(k, t(`-j map lookup pinned ${P} key 1 0 0 0`)).stdout);
    assertEquals(j.values.map((v: { cpu: number }) => v.cpu), [0, 1, 2, 3]);
    // REAL-KERNEL-FINDINGS §5 with NCPU = 4: 832 + 16*2 + 32*4, + 64 per element, + 8*4 per element and CPU
    assertIncludes(run(k, t(`map show pinned ${P}`)).stdout, "max_entries 2  memlock 1184B");
  });
});

Deno.test("kernels before 4.15 take no map name: libbpf leaves it out", () => {
  withKernel({ profile: "v4.6" }, (k) => {
    assertEquals(run(k, t(`-n map create ${P} type hash key 4 value 4 entries 2 name old`)).rc, 0);
    assertEquals(run(k, t(`map show pinned ${P}`)).stdout.split("\n")[0], "1: hash  flags 0x0");
  });
});

Deno.test("bpfsim's own refusals: no network devices, one bpffs mount", () => {
  withKernel({}, (k) => {
    assertEquals(run(k, t(`-n map create ${P} type hash key 4 value 4 entries 2 name x dev lo`)), {
      stdout: "",
      stderr: "Error: unrecognized netdevice 'lo': No such device (bpfsim simulates no network devices)\n",
      rc: 255,
    });
    assertEquals(run(k, t(`map create /tmp/x type hash key 4 value 4 entries 2 name x`)), {
      stdout: "",
      stderr: "Error: can't mount BPF file system to pin the object (/tmp/x): " +
        "bpfsim has a single bpffs, at /sys/fs/bpf; mounting one on /tmp is not simulated\n",
      rc: 255,
    });
    // without -n, a missing directory inside bpffs fails like bpftool's mount(2) does
    assertEquals(
      run(k, t(`map create ${P}_d/x type hash key 4 value 4 entries 2 name x`)).stderr,
      `Error: can't mount BPF file system to pin the object (${P}_d/x): ` +
        `mount --make-private ${P}_d failed: No such file or directory\n`,
    );
    // nothing was left behind by the failed creates
    assertEquals(run(k, t(`-j map show`)).stdout, "[]\n");
  });
});
