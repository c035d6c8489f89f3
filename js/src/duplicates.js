// Duplicate groups in the front-end: which group a row is in, whether its group's labels conflict, and the
// alternating shade that tells adjacent groups apart in a gallery sorted by group. Pure functions, no DOM: the
// kernel finds the groups (difficulty_widget.measures.data_quality); the browser only reads the columns it was sent.
import { isFlagged } from "./labels.js";

export const GROUP_COLUMN = "duplicate_group";
export const NO_GROUP = 2;

/** Row i's duplicate group, or null where it has none (`duplicate_group` arrives as int32, or float32 with NaN). */
export function groupOf(groups, i) {
  const v = groups ? groups[i] : null;
  return v === null || v === undefined || v !== v ? null : Number(v);
}

/** True where row i's duplicate group carries more than one label. */
export function isConflicting(columns, i) {
  return isFlagged(columns.conflicting_duplicate_labels, i);
}

/**
 * Per entry of `order` (row positions as the gallery shows them): 0 or 1, alternating from one run of rows of the
 * same group to the next, or NO_GROUP for a row in no group; so that two adjacent groups look apart.
 */
export function groupStripes(order, groups) {
  const out = new Uint8Array(order.length).fill(NO_GROUP);
  let previous = null;
  let shade = 1;
  for (let k = 0; k < order.length; k++) {
    const group = groupOf(groups, order[k]);
    if (group === null) {
      previous = null;
      continue;
    }
    if (group !== previous) shade = 1 - shade;
    out[k] = shade;
    previous = group;
  }
  return out;
}
