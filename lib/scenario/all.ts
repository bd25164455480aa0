// Imports every scenario module so that it registers itself. One line each.

export { findScenario, scenarios } from "./registry.ts";
