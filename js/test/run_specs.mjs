// Compiles and runs the kernel's Vega-Lite specs headless (no DOM), for the Python tests: each spec gets the rows
// (on its named "instances" source), each named brush is dragged over its whole chart, and the selection Vega-Lite
// reports is turned into rows with the front-end's own predicateFor. Prints one JSON object per spec.
// Usage: node test/run_specs.mjs input.json   (input: {specs: [{id, spec, brush}], rows: [...]})
import { readFileSync } from "node:fs";
import { parse, View } from "vega";
import { compile } from "vega-lite";
import { positionsWhere, predicateFor } from "../src/selection.js";

// numbers JSON cannot hold travel as the strings "__NaN__", "__Infinity__", "__-Infinity__"
const special = { __NaN__: NaN, __Infinity__: Infinity, "__-Infinity__": -Infinity };
const revive = (_, v) => (typeof v === "string" && v in special ? special[v] : v);
const { specs, rows } = JSON.parse(readFileSync(process.argv[2], "utf8"), revive);
const columns = {};
for (const row of rows) for (const [k, v] of Object.entries(row)) (columns[k] ||= []).push(v);

function collector(messages) {
  let level = 2;
  const put = (kind) => (...args) => {
    messages.push(`${kind}: ${args.map(String).join(" ")}`);
  };
  return { level(l) { if (l === undefined) return level; level = l; return this; },
    error: put("error"), warn: put("warn"), info() {}, debug() {} };
}

function markItems(scene, out = {}) {
  if (!scene) return out;
  if (scene.marktype && scene.items) out[scene.marktype] = (out[scene.marktype] || 0) + scene.items.length;
  for (const item of scene.items || []) markItems(item, out);
  return out;
}

for (const { id, spec, brush } of specs) {
  const messages = [];
  const result = { id, messages };
  try {
    const logger = collector(messages);
    const view = new View(parse(compile(spec, { logger }).spec), { renderer: "none", logger });
    const source = (spec.data && spec.data.name) || "instances";
    if (source === "instances") view.data("instances", rows.map((r) => ({ ...r, _sel: 1 })));
    await view.runAsync();
    result.marks = markItems(view.scenegraph().root);
    if (brush) {
      const width = view.width();
      const height = view.height();
      view.signal(`${brush}_x`, [0, width]);
      try { view.signal(`${brush}_y`, [0, height]); } catch { /* an x-only brush */ }
      await view.runAsync();
      const value = view.signal(brush);
      result.value = value;
      const predicate = predicateFor(value, columns);
      result.selected = predicate ? Array.from(positionsWhere(predicate, rows.length)) : null;
    }
  } catch (err) {
    messages.push(`exception: ${err && err.message}`);
  }
  console.log(JSON.stringify(result));
}
