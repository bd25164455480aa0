// Imports every scenario module so that it registers itself. One line each.

import "./prealloc_deadlock.ts";
import "./rt_bucket_lock.ts";
import "./nmi_reentry.ts";
import "./concurrent_update.ts";
import "./rt_pi_block.ts";

export { findScenario, scenarios } from "./registry.ts";
import "./memalloc_contexts.ts";
import "./reuse_flavours.ts";
