// Where each chart's data comes from: the instance rows, or tuples derived in the browser from the typed columns
// and the selection flags (bins, confusion cells, heatmap cells, per-class statistics, the flow view, a
// histogram's reference line). No DOM.
import { binCounts, confusionCounts } from "./aggregate.js";
import { brushedLayers, layerStats, rowsInLayerRange } from "./flow.js";
import { graphNodes } from "./graph.js";
import { cellCounts, classStats } from "./panels.js";

export const DATA = "instances";

/** How a chart gets its data: the instance rows, or counts derived in the browser (for very large tables). */
export function dataSource(spec, table, model) {
  const meta = spec.usermeta || {};
  const name = (spec.data && spec.data.name) || DATA;
  if (meta.dw_empty) return { name, fields: {}, derive: () => [] }; // a column without finite values: nothing to draw
  if (meta.dw_cells) {
    const cells = () => bytesOf(model.get("_pattern_cells"));
    return { name, fields: {}, derive: (flags) => cellCounts(cells(), meta.dw_cells, flags), cells };
  }
  if (meta.dw_flow) return flowSource(name, meta.dw_flow, table, model);
  if (meta.dw_classes) {
    const { label, correct } = table.columns;
    const classes = meta.dw_classes;
    const score = classes.score ? table.columns[classes.score] : null;
    const issues = classes.estimated_errors
      ? { flags: table.columns.label_issue, estimated_errors: classes.estimated_errors, error_rate: classes.error_rate }
      : null;
    return { name, fields: {}, derive: (flags) => classStats(label, correct, score, table.classNames, flags, issues) };
  }
  if (meta.dw_bins) {
    const { column, edges } = meta.dw_bins;
    return { name, fields: { start: column, end: column }, derive: (flags) => binCounts(table.columns[column], edges, flags) };
  }
  if (meta.dw_graph) {
    const labels = table.columns.label;
    return { name: "graph_nodes", fields: {}, derive: (flags) => graphNodes(meta.dw_graph, labels, flags) };
  }
  if (meta.dw_confusion) {
    const { label, prediction } = table.columns;
    return { name, fields: {}, derive: (flags) => confusionCounts(label, prediction, table.classNames, flags) };
  }
  return { name, fields: {}, derive: null };
}

/** A selection value on derived fields (a histogram's bin "start") rewritten onto the table's columns. */
export function onColumns(value, fields) {
  if (!value || Object.keys(fields).length === 0) return value;
  const out = {};
  for (const [key, range] of Object.entries(value)) out[fields[key] || key] = range;
  return out;
}

/** The flow view: per-layer agreement quartiles of the selection, the reference and the focused instance. */
function flowSource(name, meta, table, model) {
  const n = table.n;
  const layers = meta.probes.length;
  let cached = null; // decoded once per table message
  const arrays = () => {
    const raw = model.get("_flow");
    if (!cached || cached.raw !== raw) {
      const bytes = bytesOf(raw);
      const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      const votes = bytesOf(model.get("_flow_matches"));
      cached = { raw, values, matches: votes.length === n * layers ? votes : null };
    }
    return cached;
  };
  const label = (group, stats) => stats.map((s) => ({ ...s, probe: meta.probes[s.layer], group }));
  let referenceCache = null; // the reference changes rarely: its statistics are kept until it does
  const referenceStats = (values, matches) => {
    const raw = model.get("_reference");
    if (!referenceCache || referenceCache.raw !== raw || referenceCache.values !== values) {
      const reference = positionsFromTrait(raw);
      const flags = reference === null || reference.length === 0 ? null : flagsOf(reference, n);
      referenceCache = { raw, values, tuples: label("reference", layerStats(values, matches, n, layers, flags)) };
    }
    return referenceCache.tuples.map((t) => ({ ...t })); // fresh tuples: Vega owns the ones it was given
  };
  const derive = (flags) => {
    const { values, matches } = arrays();
    const out = [...label("selection", layerStats(values, matches, n, layers, flags)), ...referenceStats(values, matches)];
    const focus = table.columns.id.indexOf(model.get("focus"));
    if (focus >= 0) {
      for (let l = 0; l < layers; l++) {
        const v = values[l * n + focus];
        out.push({ layer: l, probe: meta.probes[l], group: "focused instance", median: v === v ? v : null,
          vote_share: matches ? matches[l * n + focus] : null, n: 1 });
      }
    }
    return out;
  };
  const select = (value) => {
    if (!value || !value.layer || !value.q25) return null;
    const [first, last] = brushedLayers(value.layer, layers);
    return rowsInLayerRange(arrays().values, n, layers, first, last, value.q25[0], value.q25[1]);
  };
  return { name, fields: {}, derive, select, refreshOn: ["focus", "_reference"] };
}

/** A step line of the reference subset's counts per bin: one point per bin start, one more at the last edge. */
export function referenceSteps(column, edges, model) {
  const rows = positionsFromTrait(model.get("_reference"));
  if (rows === null || rows.length === 0) return [];
  const counts = binCounts(column, edges, flagsOf(rows, column.length)).filter((t) => t._sel === 1);
  const steps = counts.map((t) => ({ start: t.start, count: t.count }));
  steps.push({ start: edges[edges.length - 1], count: counts[counts.length - 1].count });
  return steps;
}

export function bytesOf(value) {
  if (value == null) return new Uint8Array(0);
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

export function positionsFromTrait(value) {
  if (value == null) return null;
  return new Uint32Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
}

export function flagsOf(positions, n) {
  const flags = new Uint8Array(n);
  if (positions === null) flags.fill(1);
  else for (const p of positions) flags[p] = 1;
  return flags;
}
