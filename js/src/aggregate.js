// Counts for very large tables: bins and confusion cells counted from the typed columns, so that Vega gets a
// few hundred tuples instead of one per instance. Pure functions, no DOM.

/**
 * The bin of `v` among increasing `edges` (bins may differ in width: log or quantile scales): the last b with
 * edges[b] <= v, the top edge falling in the last bin, as in np.histogram; -1 for NaN or a value outside the edges.
 */
export function binOf(v, edges) {
  const bins = edges.length - 1;
  if (!(v >= edges[0] && v <= edges[bins])) return -1;
  let lo = 0;
  let hi = bins; // edges[lo] <= v < edges[hi], or v is the top edge
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (v < edges[mid]) hi = mid;
    else lo = mid;
  }
  return lo;
}

/** Two tuples per bin: {start, end, _sel: 1, count of selected} and {..., _sel: 0, count of the rest}. */
export function binCounts(column, edges, flags) {
  const bins = edges.length - 1;
  const selected = new Float64Array(bins);
  const rest = new Float64Array(bins);
  for (let i = 0; i < column.length; i++) {
    const b = binOf(column[i], edges);
    if (b < 0) continue; // NaN and out-of-range values are not drawn
    if (flags === null || flags[i]) selected[b]++;
    else rest[b]++;
  }
  const out = [];
  for (let b = 0; b < bins; b++) {
    out.push({ start: edges[b], end: edges[b + 1], _sel: 1, count: selected[b] });
    out.push({ start: edges[b], end: edges[b + 1], _sel: 0, count: rest[b] });
  }
  return out;
}

/** One tuple per non-empty (label, prediction) cell: {label_name, prediction_name, count, selected}. */
export function confusionCounts(labels, predictions, names, flags) {
  const c = names.length;
  const all = new Float64Array(c * c);
  const chosen = new Float64Array(c * c);
  for (let i = 0; i < labels.length; i++) {
    const k = labels[i] * c + predictions[i];
    all[k]++;
    if (flags === null || flags[i]) chosen[k]++;
  }
  const out = [];
  for (let k = 0; k < c * c; k++) {
    if (all[k] === 0) continue;
    out.push({
      label_name: names[Math.floor(k / c)],
      prediction_name: names[k % c],
      count: all[k],
      selected: flags === null ? 0 : chosen[k],
    });
  }
  return out;
}
