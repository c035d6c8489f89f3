import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_GROUP, groupOf, groupStripes, isConflicting } from "../src/duplicates.js";
import { filterRanked, rankBy } from "../src/selection.js";

// duplicate_group as it arrives with missing values (rows in no group): float32 with NaN
const groups = Float32Array.from([NaN, 1, 0, NaN, 1, 0, 2, NaN]);

test("a row's group is known where duplicate_group is; conflicts read as a flag", () => {
  assert.deepEqual([0, 1, 2, 3].map((i) => groupOf(groups, i)), [null, 1, 0, null]);
  assert.equal(groupOf(Int32Array.from([4]), 0), 4); // no missing value: int32
  assert.equal(groupOf(undefined, 0), null);
  const columns = { conflicting_duplicate_labels: [false, true, true] };
  assert.deepEqual([0, 1, 2].map((i) => isConflicting(columns, i)), [false, true, true]);
  assert.equal(isConflicting({}, 0), false);
});

test("sorted by group (the gallery's own ranking), members sit side by side and rows in no group come last", () => {
  for (const descending of [false, true]) {
    const order = Array.from(filterRanked(rankBy(groups, descending), null));
    const shown = order.map((p) => groupOf(groups, p));
    assert.deepEqual(shown.slice(5), [null, null, null]);
    const runs = shown.slice(0, 5).filter((g, k, all) => k === 0 || all[k - 1] !== g);
    assert.equal(new Set(runs).size, runs.length); // each group is one run
  }
  const flags = Uint8Array.from([1, 1, 0, 1, 1, 1, 0, 0]); // a selection: group 0 half selected
  assert.deepEqual(Array.from(filterRanked(rankBy(groups, false), flags)), [5, 1, 4, 0, 3]);
});

test("the shade alternates from one group to the next, none for rows in no group", () => {
  const order = [2, 5, 1, 4, 6, 0, 3];
  assert.deepEqual(Array.from(groupStripes(order, groups)), [0, 0, 1, 1, 0, NO_GROUP, NO_GROUP]);
  assert.deepEqual(Array.from(groupStripes([], groups)), []);
});
