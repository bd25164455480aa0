// node:assert/strict under names that read well in tests.
import assert from "node:assert/strict";

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.deepStrictEqual(actual, expected, msg);
}

/** Truthiness. */
export function assertTrue(v: unknown, msg?: string): asserts v {
  assert.ok(v, msg);
}

/** A string contains a substring. */
export function assertIncludes(hay: string, needle: string, msg?: string): void {
  assert.ok(hay.includes(needle), msg ?? `expected to find ${JSON.stringify(needle)} in:\n${hay}`);
}

/** A string matches a pattern. */
export function assertMatch(s: string, re: RegExp, msg?: string): void {
  assert.match(s, re, msg);
}

export { assert };
