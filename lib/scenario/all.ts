// Imports every scenario module so that it registers itself. One line each.

import "./prealloc_deadlock.ts";
import "./rt_bucket_lock.ts";
import "./nmi_reentry.ts";

export { findScenario, scenarios } from "./registry.ts";
