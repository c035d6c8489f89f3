import assert from "node:assert/strict";
import { test } from "node:test";
import { binCounts, binOf, confusionCounts } from "../src/aggregate.js";

test("bin counts match a direct count, the top edge falls in the last bin, NaN is skipped", () => {
  const column = Float32Array.from([0, 0.1, 0.5, 0.99, 1.0, NaN, 0.5]);
  const flags = Uint8Array.from([1, 0, 1, 0, 1, 1, 0]);
  const tuples = binCounts(column, [0, 0.5, 1.0], flags);
  const counts = tuples.map((t) => [t.start, t._sel, t.count]);
  assert.deepEqual(counts, [
    [0, 1, 1],
    [0, 0, 1],
    [0.5, 1, 2],
    [0.5, 0, 2],
  ]);
  const all = binCounts(column, [0, 0.5, 1.0], null).filter((t) => t._sel === 1).map((t) => t.count);
  assert.deepEqual(all, [2, 4]);
});

test("bins of unequal width (log, quantile edges) count like np.histogram: [a, b), the last [a, b]", () => {
  const edges = [1e-8, 1e-6, 1e-4, 0.01, 0.5, 0.9, 0.99, 1];
  const column = Float64Array.from([1e-8, 5e-7, 1e-6, 2e-3, 0.01, 0.7, 0.95, 0.995, 1, 1, 0, 2, NaN, 0.999999]);
  const tuples = binCounts(column, edges, null).filter((t) => t._sel === 1);
  assert.deepEqual(tuples.map((t) => [t.start, t.end]), edges.slice(0, -1).map((e, b) => [e, edges[b + 1]]));
  // expected counts by hand: 1e-8, 5e-7 | 1e-6 | 2e-3 | 0.01 | 0.7 | 0.95 | 0.995, 1, 1, 0.999999 (0, 2, NaN: none)
  assert.deepEqual(tuples.map((t) => t.count), [2, 1, 1, 1, 1, 1, 4]);
  // against a linear scan over the bins, on random values and random increasing edges
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const cuts = Array.from({ length: 12 }, () => random() ** 4).sort((a, b) => a - b);
  const values = Float32Array.from({ length: 500 }, () => random() ** 4);
  const flags = Uint8Array.from(values, () => (random() < 0.3 ? 1 : 0));
  const want = new Array((cuts.length - 1) * 2).fill(0);
  values.forEach((v, i) => {
    for (let b = 0; b < cuts.length - 1; b++) {
      const last = b === cuts.length - 2;
      if (v >= cuts[b] && (v < cuts[b + 1] || (last && v === cuts[b + 1]))) want[2 * b + (flags[i] ? 0 : 1)]++;
    }
  });
  assert.deepEqual(binCounts(values, cuts, flags).map((t) => t.count), want);
  assert.equal(binOf(NaN, cuts), -1);
  assert.equal(binOf(cuts[cuts.length - 1], cuts), cuts.length - 2);
});

test("confusion counts per cell, with the selected share", () => {
  const labels = Int32Array.from([0, 0, 1, 1, 1]);
  const predictions = Int32Array.from([0, 1, 1, 1, 0]);
  const cells = confusionCounts(labels, predictions, ["a", "b"], Uint8Array.from([1, 1, 0, 1, 0]));
  assert.deepEqual(cells, [
    { label_name: "a", prediction_name: "a", count: 1, selected: 1 },
    { label_name: "a", prediction_name: "b", count: 1, selected: 1 },
    { label_name: "b", prediction_name: "a", count: 1, selected: 0 },
    { label_name: "b", prediction_name: "b", count: 2, selected: 1 },
  ]);
});

test("class-graph nodes count each class's instances and selected ones; nothing selected keeps all active", async () => {
  const { graphNodes, classPositions, pairPositions, matchClasses } = await import("../src/graph.js");
  const meta = { label: [0, 1, 2], name: ["Cat", "dog", "Bobcat"], x: [0, 1, 2], y: [2, 1, 0], color: ["a", "b", "a"],
    top_neighbours: ["", "", ""] };
  const labels = Int32Array.from([0, 0, 1, 2, 2, 2]);
  const predictions = Int32Array.from([0, 2, 1, 0, 2, 2]);
  const some = graphNodes(meta, labels, Uint8Array.from([0, 1, 0, 0, 1, 0]));
  assert.deepEqual(some.map((t) => [t.n, t.selected, t.active]), [[2, 1, 1], [1, 0, 0], [3, 1, 1]]);
  const none = graphNodes(meta, labels, Uint8Array.from([1, 1, 1, 1, 1, 1]));
  assert.deepEqual(none.map((t) => t.active), [1, 1, 1]);
  assert.deepEqual(Array.from(classPositions(labels, [2])), [3, 4, 5]);
  assert.deepEqual(Array.from(pairPositions(labels, predictions, 0, 2)), [1, 3]);
  assert.deepEqual(Array.from(pairPositions(labels, predictions, 2, 0)), [1, 3]);
  assert.deepEqual(matchClasses(meta.name, "CAT"), [0, 2]);
  assert.deepEqual(matchClasses(meta.name, "  "), []);
});
