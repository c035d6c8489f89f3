// Selection counts in a scatter's colour legend ("wrong  47 / 412", as FiftyOne shows them): per category of the
// colour column, how many rows are selected and how many there are. The kernel names the signal and the column.

export const LEGEND_SIGNAL = "dw_legend_counts";

/**
 * {category: "selected / total"} for every category of `column` (keys as Vega writes `datum.value + ''`: "true" /
 * "false" for a boolean column, which may arrive as 0 / 1); only the totals when nothing is selected (flags null,
 * or every flag 1).
 */
export function legendCounts(column, flags, boolean = false) {
  const total = new Map();
  const selected = new Map();
  let everything = true;
  for (let i = 0; i < column.length; i++) {
    const v = column[i];
    if (v === null || v === undefined) continue;
    const key = boolean && typeof v === "number" ? String(v === 1) : String(v);
    total.set(key, (total.get(key) || 0) + 1);
    const on = flags ? flags[i] === 1 : true;
    if (!on) everything = false;
    if (on) selected.set(key, (selected.get(key) || 0) + 1);
  }
  const out = {};
  for (const [key, n] of total) out[key] = everything ? String(n) : `${selected.get(key) || 0} / ${n}`;
  return out;
}
