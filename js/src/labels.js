// The label-issue flag in the front-end: which rows carry a suggested label other than their own, the text that
// shows it, and the rows behind a label-issue edge of the class graph. Pure functions, no DOM: the kernel flags
// and suggests (difficulty_widget.measures.label_issues); the browser only reads the columns it was sent.
import { positionsWhere } from "./selection.js";

const known = (v) => v !== null && v !== undefined && v === v; // NaN (a missing value on the wire) is unknown

/** True where row i is flagged (`label_issue` arrives as booleans, or as 1 / 0 / NaN when it has missing values). */
export function isFlagged(issues, i) {
  const v = issues ? issues[i] : null;
  return v === true || v === 1;
}

/** The class a row's suggested label names, or null where it has none or it equals the given label. */
export function suggestedClass(columns, position) {
  const suggested = columns.suggested_label ? columns.suggested_label[position] : null;
  if (!known(suggested)) return null;
  const label = columns.label[position];
  return Number(suggested) === Number(label) ? null : Number(suggested);
}

/** "label: shirt → suggested: T-shirt" (the same text as difficulty_widget.instance.suggestion_text). */
export function suggestionText(labelName, suggestedName) {
  return `label: ${labelName} → suggested: ${suggestedName}`;
}

/** Row positions flagged with the given label and the suggested label a pair {a, b}, either way round. */
export function issuePairPositions(columns, a, b) {
  const { label, suggested_label: suggested, label_issue: issues } = columns;
  if (!suggested || !issues) return new Uint32Array(0);
  const pair = (i) =>
    isFlagged(issues, i) &&
    ((label[i] === a && Number(suggested[i]) === b) || (label[i] === b && Number(suggested[i]) === a));
  return positionsWhere(pair, label.length);
}
