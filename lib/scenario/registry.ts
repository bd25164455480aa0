// Named scenarios: self-contained reproductions of what a seed thread (or a
// kernel selftest) describes. Each boots its own kernels from a seed, drives
// them through the same mechanisms a user drives by hand, and reports what
// happened in the kernel's own words (text) and as data (JSON). Scenario
// modules register themselves here; lib/scenario/all.ts imports them all.

/** A JSON value a scenario reports (written by the CLI's json_writer). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What a scenario observed. */
export interface ScenarioReport {
  /** Lines for a person: what ran, what the kernel said, the outcome per case. */
  readonly text: string[];
  /** The same outcome as data (`scenario run NAME -j`). */
  readonly data: JsonValue;
}

/** Knobs every scenario accepts; each documents what it does with them. */
export interface ScenarioOptions {
  /** PRNG seed of the kernels it boots (default: the scenario's own). */
  seed?: number;
  /** Called with a fraction 0..1 as a long run advances (a progress line on a terminal). */
  progress?: (fraction: number) => void;
}

/** One named scenario. */
export interface Scenario {
  /** The name `scenario run` takes, e.g. "prealloc-deadlock". */
  readonly name: string;
  /** One line: what it reproduces and where that comes from (seed, selftest). */
  readonly summary: string;
  /** Runs it; deterministic for the same options. */
  run(opts: ScenarioOptions): ScenarioReport;
}

const registry: Scenario[] = [];

/** Adds a scenario (at module load); names are unique. */
export function registerScenario(s: Scenario): void {
  if (registry.some((r) => r.name === s.name)) throw new Error(`scenario '${s.name}' is already registered`);
  registry.push(s);
}

/** Every registered scenario, in registration order. */
export function scenarios(): readonly Scenario[] {
  return registry;
}

/** A scenario by name; undefined when unknown. */
export function findScenario(name: string): Scenario | undefined {
  return registry.find((s) => s.name === name);
}
