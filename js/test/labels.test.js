import assert from "node:assert/strict";
import { test } from "node:test";
import { isFlagged, issuePairPositions, suggestedClass, suggestionText } from "../src/labels.js";
import { classStats } from "../src/panels.js";

// label_issue / suggested_label as they arrive with missing values (test rows): float32 with NaN
const columns = {
  label: Int32Array.from([0, 1, 2, 1, 0, 2]),
  suggested_label: Float32Array.from([1, 1, NaN, 0, 0, 0]),
  label_issue: Float32Array.from([1, 0, NaN, 1, 0, 1]),
};

test("a suggestion shows where the suggested label is known and differs from the given one", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => suggestedClass(columns, i)), [1, null, null, 0, null, 0]);
  assert.equal(suggestedClass({ label: [0] }, 0), null); // no suggested_label column
  assert.equal(suggestionText("shirt", "T-shirt"), "label: shirt → suggested: T-shirt");
});

test("flags arrive as booleans or as 1 / 0 / NaN", () => {
  assert.deepEqual([0, 1, 2, 3].map((i) => isFlagged(columns.label_issue, i)), [true, false, false, true]);
  assert.deepEqual([true, false, null].map((_, i) => isFlagged([true, false, null], i)), [true, false, false]);
  assert.equal(isFlagged(undefined, 0), false);
});

test("a label-issue edge selects the flagged rows of its pair, either way round", () => {
  assert.deepEqual(Array.from(issuePairPositions(columns, 0, 1)), [0, 3]);
  assert.deepEqual(Array.from(issuePairPositions(columns, 0, 2)), [5]);
  assert.deepEqual(Array.from(issuePairPositions({ label: columns.label }, 0, 1)), []);
});

test("the per-class panel carries the kernel's estimated errors and counts flagged rows among the selected", () => {
  const issues = { flags: columns.label_issue, estimated_errors: [1, 1, 1], error_rate: [0.5, 0.5, 1] };
  const stats = classStats(columns.label, null, null, ["a", "b", "c"], Uint8Array.from([1, 1, 1, 0, 1, 1]), issues);
  assert.deepEqual(stats.map((s) => [s.estimated_errors, s.error_rate, s.selected_estimated_errors]), [
    [1, 0.5, 1],
    [1, 0.5, 0],
    [1, 1, 1],
  ]);
  assert.equal(classStats(columns.label, null, null, ["a", "b", "c"], null)[0].estimated_errors, undefined);
});
