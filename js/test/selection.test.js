import assert from "node:assert/strict";
import { test } from "node:test";
import {
  debounce,
  filterRanked,
  isEmptySelection,
  positionsWhere,
  predicateFor,
  rankBy,
  sortPositions,
  throttle,
  unescapeField,
} from "../src/selection.js";

const columns = {
  margin: Float64Array.from([-2, -0.5, 0, 0.5, 3]),
  loss: Float64Array.from([2.1, 0.9, 0.7, 0.3, 0.01]),
  label_name: ["cat", "dog", "cat", "bird", "dog"],
  prediction_name: ["dog", "dog", "cat", "cat", "dog"],
  correct: [false, true, true, false, true],
};

test("empty selections select nothing in particular", () => {
  assert.ok(isEmptySelection(undefined));
  assert.ok(isEmptySelection({}));
  assert.equal(predicateFor({}, columns), null);
});

test("an interval brush over two numeric fields keeps the rows inside both ranges, bounds included", () => {
  const p = predicateFor({ margin: [0.5, -0.5], loss: [0.3, 1.0] }, columns);
  assert.deepEqual(Array.from(positionsWhere(p, 5)), [1, 2, 3]);
});

test("a point selection over two fields matches whole tuples, not each field alone", () => {
  const value = {
    vlPoint: { or: [{ label_name: "cat", prediction_name: "dog" }] },
    label_name: ["cat"],
    prediction_name: ["dog"],
  };
  assert.deepEqual(Array.from(positionsWhere(predicateFor(value, columns), 5)), [0]);
});

test("categorical intervals and booleans use membership", () => {
  assert.deepEqual(Array.from(positionsWhere(predicateFor({ label_name: ["dog", "bird"] }, columns), 5)), [1, 3, 4]);
  assert.deepEqual(Array.from(positionsWhere(predicateFor({ correct: [false] }, columns), 5)), [0, 3]);
});

test("unknown fields are ignored", () => {
  assert.equal(predicateFor({ nope: [1, 2] }, columns), null);
});

test("sorting is stable with NaN last, both directions", () => {
  const col = Float64Array.from([3, NaN, 1, 3, 2]);
  assert.deepEqual(sortPositions([0, 1, 2, 3, 4], col, false), [2, 4, 0, 3, 1]);
  assert.deepEqual(sortPositions([0, 1, 2, 3, 4], col, true), [0, 3, 4, 2, 1]);
});

test("throttle bounds the calls of a burst and always delivers the last one", () => {
  const calls = [];
  const queue = [];
  const timers = { setTimeout: (fn) => queue.push(fn) && queue.length, clearTimeout: () => {} };
  const t = throttle((v) => calls.push(v), 1000, timers);
  for (let i = 0; i < 50; i++) t(i);
  assert.deepEqual(calls, [0]); // the first call runs at once, the rest wait
  queue.shift()();
  assert.deepEqual(calls, [0, 49]); // the final value arrives
});

test("filtering a precomputed ranking keeps its order", () => {
  const ranking = Uint32Array.from([4, 2, 0, 3, 1]);
  assert.deepEqual(Array.from(filterRanked(ranking, Uint8Array.from([1, 0, 1, 0, 1]))), [4, 2, 0]);
  assert.equal(filterRanked(ranking, null), ranking);
});

test("debounce runs once, after the burst", () => {
  const calls = [];
  let pending = null;
  const timers = { setTimeout: (fn) => (pending = fn), clearTimeout: () => (pending = null) };
  const d = debounce((v) => calls.push(v), 100, timers);
  for (let i = 0; i < 10; i++) d(i);
  assert.deepEqual(calls, []);
  pending();
  assert.deepEqual(calls, [9]);
});

test("radix ranking equals the comparator sort on floats, ints, ties and NaN, both directions", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const floats = Float32Array.from({ length: 5000 }, () => (random() < 0.05 ? NaN : Math.round((random() - 0.5) * 200) / 8));
  floats[3] = -0;
  floats[4] = 0;
  const ints = Int32Array.from({ length: 5000 }, () => Math.floor((random() - 0.5) * 100));
  const all = Array.from({ length: 5000 }, (_, i) => i);
  for (const column of [floats, ints, Float64Array.from(floats)]) {
    for (const descending of [false, true]) {
      const fast = Array.from(rankBy(column, descending));
      const slow = sortPositions(all, column, descending);
      assert.deepEqual(fast, slow); // the same rows in the same order, ties by row order
    }
  }
});

test("selection values keyed by escaped Vega-Lite fields select the columns with dots, brackets and quotes", () => {
  const odd = {
    "a.b": Float64Array.from([0, 1, 2, 3]),
    "x[0]": Float64Array.from([3, 2, 1, 0]),
    "it's": ["p", "q", "p", "q"],
    'say "hi"': Float64Array.from([5, 6, 7, 8]),
    "back\\slash": Float64Array.from([1, 1, 2, 2]),
  };
  assert.equal(unescapeField("a\\.b"), "a.b");
  assert.equal(unescapeField("x\\[0\\]"), "x[0]");
  assert.equal(unescapeField("it\\'s"), "it's");
  assert.equal(unescapeField("back\\\\slash"), "back\\slash");
  // as Vega-Lite reports an interval brush on the fields "a\\.b" and "x\\[0\\]"
  let p = predicateFor({ "a\\.b": [0.5, 3], "x\\[0\\]": [1, 3] }, odd);
  assert.deepEqual(Array.from(positionsWhere(p, 4)), [1, 2]);
  p = predicateFor({ 'say \\"hi\\"': [6, 7], "back\\slash": [2, 2] }, odd);
  assert.deepEqual(Array.from(positionsWhere(p, 4)), [2]);
  // a point selection's tuples, keyed the same way
  p = predicateFor({ vlPoint: { or: [{ "it\\'s": "q" }] }, "it\\'s": ["q"] }, odd);
  assert.deepEqual(Array.from(positionsWhere(p, 4)), [1, 3]);
  // a key that is a column's own name is taken as it is; one that names no column is ignored
  assert.equal(predicateFor({ "no\\.such": [0, 1] }, odd), null);
  assert.equal(predicateFor({ constructor: [0, 1] }, odd), null);
});

test("a point selection keyed only by Vega-Lite's internal _vgsid_ selects nothing, not every row", () => {
  const columns = { id: Int32Array.from([5, 6, 7]), loss: Float32Array.from([0.1, 0.2, 0.3]) };
  assert.equal(predicateFor({ vlPoint: { or: [{ _vgsid_: 2 }] } }, columns), null);
  const byId = predicateFor({ vlPoint: { or: [{ id: 6 }] } }, columns);
  assert.deepEqual([0, 1, 2].filter(byId), [1]);
});

test("float64 columns beyond float32 rank by their exact values", () => {
  // 1e39, 2e39 and 3e39 are all Infinity as float32; 1 and 1 + 2**-40 are one float32
  const column = Float64Array.from([3e39, 1e39, 2e39, 1 + 2 ** -40, 1, NaN]);
  assert.deepEqual(Array.from(rankBy(column, false)), [4, 3, 1, 2, 0, 5]);
  assert.deepEqual(Array.from(rankBy(column, true)), [0, 2, 1, 3, 4, 5]);
});
