// Counts behind the patterns heatmap and the per-class panel, from the typed columns and the selection flags.
// Pure functions, no DOM: the kernel decides which cell each row is in; the browser only counts.
import { isFlagged } from "./labels.js";
import { positionsWhere } from "./selection.js";

const NO_CELL = 255;

/** One tuple per heatmap cell: {cell, x_bin, y_bin, x_range, y_range, count, selected}. */
export function cellCounts(cells, meta, flags) {
  const { nx, ny } = meta;
  const all = new Float64Array(nx * ny);
  const chosen = new Float64Array(nx * ny);
  for (let i = 0; i < cells.length; i++) {
    const k = cells[i];
    if (k === NO_CELL) continue;
    all[k]++;
    if (flags === null || flags[i]) chosen[k]++;
  }
  const out = [];
  for (let k = 0; k < nx * ny; k++) {
    const xb = Math.floor(k / ny);
    const yb = k % ny;
    out.push({
      cell: k,
      x_bin: xb,
      y_bin: yb,
      x_range: meta.x_ranges[xb],
      y_range: meta.y_ranges[yb],
      count: all[k],
      selected: chosen[k],
    });
  }
  return out;
}

/** Row positions in heatmap cell `cell`. */
export function cellPositions(cells, cell) {
  return positionsWhere((i) => cells[i] === cell, cells.length);
}

/**
 * One tuple per class: {label, name, n, selected, accuracy, selected_accuracy, mean_score, selected_mean_score}.
 * With `issues` ({flags: the label_issue column, estimated_errors, error_rate: per class, from the kernel}) also
 * estimated_errors, error_rate and selected_estimated_errors (the flagged rows among the selected ones).
 */
export function classStats(labels, correct, score, names, flags, issues = null) {
  const c = names.length;
  const n = new Float64Array(c);
  const right = new Float64Array(c);
  const sum = new Float64Array(c);
  const counted = new Float64Array(c);
  const sel = new Float64Array(c);
  const selRight = new Float64Array(c);
  const selSum = new Float64Array(c);
  const selCounted = new Float64Array(c);
  const selFlagged = new Float64Array(c);
  for (let i = 0; i < labels.length; i++) {
    const k = labels[i];
    const ok = correct ? Number(Boolean(correct[i])) : 0;
    const v = score ? score[i] : NaN;
    const finite = v === v && v !== null; // NaN and null are skipped
    n[k]++;
    right[k] += ok;
    if (finite) {
      sum[k] += v;
      counted[k]++;
    }
    if (flags === null || flags[i]) {
      sel[k]++;
      selRight[k] += ok;
      if (issues && isFlagged(issues.flags, i)) selFlagged[k]++;
      if (finite) {
        selSum[k] += v;
        selCounted[k]++;
      }
    }
  }
  const ratio = (a, b) => (b > 0 ? a / b : null);
  return Array.from({ length: c }, (_, k) => {
    const tuple = {
      label: k,
      name: names[k],
      n: n[k],
      selected: sel[k],
      accuracy: ratio(right[k], n[k]),
      selected_accuracy: ratio(selRight[k], sel[k]),
      mean_score: ratio(sum[k], counted[k]),
      selected_mean_score: ratio(selSum[k], selCounted[k]),
    };
    if (issues) {
      tuple.estimated_errors = issues.estimated_errors[k];
      tuple.error_rate = issues.error_rate[k];
      tuple.selected_estimated_errors = selFlagged[k];
    }
    return tuple;
  });
}
