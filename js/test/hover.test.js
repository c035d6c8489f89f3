import assert from "node:assert/strict";
import { test } from "node:test";
import { nearestRow } from "../src/hover.js";

const identity = (v) => v;

test("the nearest shown row within the radius, against a direct search", () => {
  const X = Float64Array.from([0, 10, 10.5, 30, NaN]);
  const Y = Float64Array.from([0, 10, 10, 30, 1]);
  assert.equal(nearestRow(X, Y, identity, identity, 10.4, 10, null), 2);
  assert.equal(nearestRow(X, Y, identity, identity, 10.1, 10, null), 1);
  // unselected rows are not hovered: the next nearest selected one is
  assert.equal(nearestRow(X, Y, identity, identity, 10.4, 10, Uint8Array.from([1, 1, 0, 1, 1])), 1);
  // beyond the radius: none; a NaN coordinate is never hovered
  assert.equal(nearestRow(X, Y, identity, identity, 20, 20, null), -1);
  assert.equal(nearestRow(X, Y, identity, identity, 0, 1, Uint8Array.from([0, 1, 1, 1, 1])), -1);
});

test("the scales map values to pixels, and ties go to the lower row", () => {
  const X = Float64Array.from([1, 3, 1]);
  const Y = Float64Array.from([1, 1, 1]);
  const toX = (v) => v * 100; // one unit = 100 px
  assert.equal(nearestRow(X, Y, toX, identity, 200, 1, null), -1); // 100 px from both: out of reach
  assert.equal(nearestRow(X, Y, toX, identity, 104, 1, null), 0);
  assert.equal(nearestRow(X, Y, toX, identity, 296, 1, null), 1);
  // random rows: the result equals a brute-force minimum
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const n = 500;
  const RX = Float64Array.from({ length: n }, rand);
  const RY = Float64Array.from({ length: n }, rand);
  for (let t = 0; t < 50; t++) {
    const px = rand() * 100;
    const py = rand() * 100;
    let best = -1;
    let bestD = 64;
    for (let i = 0; i < n; i++) {
      const d = (RX[i] * 100 - px) ** 2 + (RY[i] * 100 - py) ** 2;
      if (d < bestD) [best, bestD] = [i, d];
    }
    assert.equal(nearestRow(RX, RY, (v) => v * 100, (v) => v * 100, px, py, null, 8), best);
  }
});
