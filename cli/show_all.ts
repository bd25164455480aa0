// The id walk of bpftool's `prog show` and `link show` without a handle
// (prog.c / link.c do_show): BPF_*_GET_NEXT_ID from 0, an fd per id, show
// it, close it; ENOENT ends the walk, an object that went away between the
// two calls is skipped. JSON output is one array around all of them.

import { EINVAL, ENOENT, strerror } from "../lib/kernel/errno.ts";
import type { CliContext } from "./context.ts";
import { bpfLinkGetFdById, bpfLinkGetNextId, bpfProgGetFdById, bpfProgGetNextId, close } from "./libbpf.ts";

const KINDS = {
  prog: { next: bpfProgGetNextId, fd: bpfProgGetFdById, noun: "program", short: "prog" },
  link: { next: bpfLinkGetNextId, fd: bpfLinkGetFdById, noun: "link", short: "link" },
};

/** Shows every program or link by id with `show(fd)` (which returns 0 or -1); bpftool's return value. */
export function showAllById(ctx: CliContext, kind: "prog" | "link", show: (fd: number) => number): number {
  const o = KINDS[kind];
  const jw = ctx.out.json;
  if (jw) jw.startArray();
  let id = 0;
  let err = 0;
  for (;;) {
    const next = o.next(ctx, id);
    if (next < 0) {
      if (ctx.errno !== ENOENT) {
        ctx.out.pErr(
          `can't get next ${o.noun}: ${strerror(ctx.errno)}${ctx.errno === EINVAL ? " -- kernel too old?" : ""}`,
        );
        err = -1;
      }
      break;
    }
    id = next;
    const fd = o.fd(ctx, id);
    if (fd < 0) {
      if (ctx.errno === ENOENT) continue;
      ctx.out.pErr(`can't get ${o.short} by id (${id}): ${strerror(ctx.errno)}`);
      err = -1;
      break;
    }
    err = show(fd);
    close(ctx, fd);
    if (err) break;
  }
  if (jw) jw.endArray();
  return err;
}
