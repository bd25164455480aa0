// Imports every scenario module so that it registers itself. One line each.

export { findScenario, scenarios } from "./registry.ts";
import "./memalloc_contexts.ts";
import "./reuse_flavours.ts";
