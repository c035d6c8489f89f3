import assert from "node:assert/strict";
import { test } from "node:test";
import { cellCounts, cellPositions, classStats } from "../src/panels.js";

test("heatmap cells count rows and selected rows; 255 is no cell", () => {
  const cells = Uint8Array.from([0, 3, 3, 255, 1, 3]);
  const meta = { nx: 2, ny: 2, x_ranges: ["a", "b"], y_ranges: ["c", "d"] };
  const tuples = cellCounts(cells, meta, Uint8Array.from([1, 0, 1, 1, 0, 1]));
  assert.deepEqual(tuples.map((t) => [t.cell, t.x_bin, t.y_bin, t.count, t.selected]), [
    [0, 0, 0, 1, 1],
    [1, 0, 1, 1, 0],
    [2, 1, 0, 0, 0],
    [3, 1, 1, 3, 2],
  ]);
  assert.equal(tuples[3].x_range, "b");
  assert.deepEqual(Array.from(cellPositions(cells, 3)), [1, 2, 5]);
});

test("per-class accuracy and mean score, over all rows and over the selection, NaN skipped", () => {
  const labels = Int32Array.from([0, 0, 1, 1, 1]);
  const correct = [true, false, true, true, false];
  const loss = Float32Array.from([0.5, 1.5, NaN, 1, 3]);
  const stats = classStats(labels, correct, loss, ["a", "b"], Uint8Array.from([0, 1, 1, 0, 1]));
  assert.deepEqual(stats[0], { label: 0, name: "a", n: 2, selected: 1, accuracy: 0.5, selected_accuracy: 0,
    mean_score: 1, selected_mean_score: 1.5 });
  assert.deepEqual(stats[1], { label: 1, name: "b", n: 3, selected: 2, accuracy: 2 / 3, selected_accuracy: 0.5,
    mean_score: 2, selected_mean_score: 3 });
});
