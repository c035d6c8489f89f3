import assert from "node:assert/strict";
import { test } from "node:test";
import { brushedLayers, layerStats, quantileSorted, rowsInLayerRange } from "../src/flow.js";

test("quantiles interpolate linearly like numpy.percentile", () => {
  const sorted = Float32Array.from([0, 1, 2, 10]);
  assert.equal(quantileSorted(sorted, 0.5), 1.5);
  assert.equal(quantileSorted(sorted, 0.25), 0.75);
  assert.equal(quantileSorted(sorted, 1), 10);
  assert.equal(quantileSorted(new Float32Array(0), 0.5), null);
});

test("per-layer statistics over the flagged rows skip NaN; vote share counts every flagged row", () => {
  // 4 rows, 2 layers, layer-major
  const values = Float32Array.from([0.1, 0.5, NaN, 0.9, 1, 0.5, 0, 0.25]);
  const matches = Uint8Array.from([1, 0, 0, 1, 1, 1, 1, 0]);
  const stats = layerStats(values, matches, 4, 2, Uint8Array.from([1, 1, 1, 0]));
  const close = (a, b) => assert.ok(Math.abs(a - b) < 1e-6, `${a} != ${b}`);
  close(stats[0].median, 0.3);
  close(stats[0].q25, 0.2);
  close(stats[0].q75, 0.4);
  close(stats[0].mean, 0.3);
  assert.equal(stats[0].n, 2);
  close(stats[0].vote_share, 1 / 3);
  assert.equal(stats[1].median, 0.5);
  assert.equal(stats[1].vote_share, 1);
  assert.equal(layerStats(values, null, 4, 2, null)[0].n, 3);
});

test("rows in a brushed layer range, every covered layer in range", () => {
  const values = Float32Array.from([0.1, 0.5, NaN, 0.9, 1, 0.5, 0, 0.25]);
  assert.deepEqual(Array.from(rowsInLayerRange(values, 4, 2, 0, 0, 0, 0.6)), [0, 1]);
  assert.deepEqual(Array.from(rowsInLayerRange(values, 4, 2, -0.2, 1.3, 0, 0.6)), [1]);
  assert.deepEqual(brushedLayers([0.2, 0.4], 2), [0, 0]);
  assert.deepEqual(brushedLayers([0.6, 0.8], 2), [1, 1]);
  assert.deepEqual(brushedLayers([1.9, 0.1], 3), [0.1, 1.9]);
});
