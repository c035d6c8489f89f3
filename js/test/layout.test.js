import assert from "node:assert/strict";
import { test } from "node:test";
import { NARROW_PX, chartLabel, layoutFor } from "../src/layout.js";

test("containers narrower than NARROW_PX get one column; not laid out yet counts as wide", () => {
  assert.equal(layoutFor(0), "wide");
  assert.equal(layoutFor(NARROW_PX - 1), "narrow");
  assert.equal(layoutFor(700), "narrow");
  assert.equal(layoutFor(NARROW_PX), "wide");
  assert.equal(layoutFor(1400), "wide");
});

test("chart buttons name ours by id, a histogram by its column, others by their title", () => {
  assert.equal(chartLabel("classes", {}), "per class");
  assert.equal(chartLabel("class_graph", {}), "class graph");
  const hist = { layer: [{ encoding: { x: { field: "loss", title: "loss (lower is easier)" } } }, {}] };
  assert.equal(chartLabel("hist_loss", hist), "loss (lower is easier)");
  assert.equal(chartLabel("hist_7", {}), "7");
  assert.equal(chartLabel("mine", { title: { text: "my chart (click)" } }), "my chart");
  assert.equal(chartLabel("mine", {}), "mine");
});
