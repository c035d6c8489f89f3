import assert from "node:assert/strict";
import { test } from "node:test";
import { legendCounts } from "../src/legend.js";

test("selected / total per category, against a direct count", () => {
  const column = ["cat", "dog", "cat", "cat", null, "dog"];
  const flags = Uint8Array.from([1, 0, 0, 1, 1, 1]);
  assert.deepEqual(legendCounts(column, flags), { cat: "2 / 3", dog: "1 / 2" });
  // nothing selected (all flags 1, or none): the totals alone
  assert.deepEqual(legendCounts(column, Uint8Array.from([1, 1, 1, 1, 1, 1])), { cat: "3", dog: "2" });
  assert.deepEqual(legendCounts(column, null), { cat: "3", dog: "2" });
});

test("a boolean column keys as Vega writes it, whether it arrives as booleans or as 0 / 1", () => {
  const flags = Uint8Array.from([1, 1, 0]);
  assert.deepEqual(legendCounts([true, false, false], flags, true), { true: "1 / 1", false: "1 / 2" });
  assert.deepEqual(legendCounts(Uint8Array.from([1, 0, 0]), flags, true), { true: "1 / 1", false: "1 / 2" });
});
