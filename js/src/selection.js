// Pure selection logic: Vega-Lite selection values -> row positions. No DOM, no Vega.

/** True when a Vega-Lite selection value selects nothing in particular (an empty brush or no click). */
export function isEmptySelection(value) {
  if (value == null) return true;
  return Object.keys(value).filter((k) => k !== "vlPoint").length === 0 && !value.vlPoint;
}

/**
 * Build a row predicate from the value of a Vega-Lite selection param.
 * Interval values look like {field: [lo, hi]} (numbers) or {field: [category, ...]};
 * point values look like {vlPoint: {or: [{field: v, ...}, ...]}, field: [v, ...]}.
 * `columns` maps field names to arrays (typed arrays for numbers, arrays for strings or booleans).
 */
export function predicateFor(value, columns) {
  if (isEmptySelection(value)) return null;
  const tuples = value.vlPoint && Array.isArray(value.vlPoint.or) ? value.vlPoint.or : null;
  if (tuples) {
    const fields = [...new Set(tuples.flatMap((t) => Object.keys(t)))].filter((f) => columnOf(f, columns) !== null);
    // no field names a column (Vega-Lite's internal _vgsid_ of a point selection without fields=): nothing to
    // match rows by, so no selection (not every row); declare the selection with fields=["id"]
    if (fields.length === 0) return null;
    const keys = new Set(tuples.map((t) => JSON.stringify(fields.map((f) => t[f]))));
    const picked = fields.map((f) => columns[columnOf(f, columns)]);
    return (i) => keys.has(JSON.stringify(picked.map((column) => normalise(column[i]))));
  }
  const tests = [];
  for (const [field, range] of Object.entries(value)) {
    const name = field === "vlPoint" ? null : columnOf(field, columns);
    if (name === null || !Array.isArray(range)) continue;
    const column = columns[name];
    const numeric = range.length === 2 && range.every((v) => typeof v === "number") && isNumeric(column);
    if (numeric) {
      const lo = Math.min(range[0], range[1]);
      const hi = Math.max(range[0], range[1]);
      tests.push((i) => column[i] >= lo && column[i] <= hi);
    } else {
      const allowed = new Set(range.map(normalise));
      tests.push((i) => allowed.has(normalise(column[i])));
    }
  }
  if (tests.length === 0) return null;
  return (i) => tests.every((t) => t(i));
}

/**
 * A Vega-Lite field as written in a spec, back to the column's name: the kernel escapes `.`, `[`, `]`, quotes and
 * backslashes with a backslash ("a\\.b" is the column "a.b"), and a selection's value is keyed by the field as
 * written. Escapes are undone only for a key that is not itself a column's name.
 */
export function unescapeField(field) {
  return field.replace(/\\(.)/gs, "$1");
}

function columnOf(field, columns) {
  if (Object.prototype.hasOwnProperty.call(columns, field)) return field;
  const name = unescapeField(field);
  return Object.prototype.hasOwnProperty.call(columns, name) ? name : null;
}

/** Row positions (ascending, Uint32Array) of the n rows where `predicate` holds. */
export function positionsWhere(predicate, n) {
  const out = new Uint32Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) if (predicate(i)) out[k++] = i;
  return out.slice(0, k);
}

/** Row positions sorted by a numeric or string column (stable; NaN last), descending if asked. */
export function sortPositions(positions, column, descending) {
  const out = Array.from(positions);
  if (!column) return out;
  const sign = descending ? -1 : 1;
  out.sort((a, b) => {
    const va = column[a];
    const vb = column[b];
    const na = va == null || Number.isNaN(va);
    const nb = vb == null || Number.isNaN(vb);
    if (na || nb) return na === nb ? a - b : na ? 1 : -1;
    if (va < vb) return -sign;
    if (va > vb) return sign;
    return a - b;
  });
  return out;
}

/**
 * All row positions ordered by a column (stable: ties keep row order; NaN last), like sortPositions over every
 * row, but for typed numeric columns in linear time: an LSD radix sort of order-preserving 32-bit keys.
 */
export function rankBy(column, descending) {
  const n = column.length;
  // float64 columns (sent so only where float32 would change a value) are compared exactly, not by float32 keys
  const exact = column instanceof Float64Array || column instanceof BigInt64Array || column instanceof BigUint64Array;
  if (!ArrayBuffer.isView(column) || exact) {
    return Uint32Array.from(sortPositions(Array.from({ length: n }, (_, i) => i), column, descending));
  }
  const keys = new Uint32Array(n);
  const isFloat = column instanceof Float32Array || column instanceof Float64Array;
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const last = 0xffffffff;
  for (let i = 0; i < n; i++) {
    const v = column[i];
    let key;
    if (isFloat) {
      if (Number.isNaN(v)) {
        keys[i] = last;
        continue;
      }
      f32[0] = v === 0 ? 0 : v; // -0 ties with 0, as in a comparator sort
      const bits = u32[0];
      key = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
    } else {
      key = (v ^ 0x80000000) >>> 0; // integers (and booleans as 0/1)
    }
    if (descending) key = ~key >>> 0;
    keys[i] = Math.min(key, last - 1); // the last key is kept for NaN
  }
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let next = new Uint32Array(n);
  const counts = new Uint32Array(257);
  for (let shift = 0; shift < 32; shift += 8) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[((keys[order[i]] >>> shift) & 0xff) + 1]++;
    for (let d = 0; d < 256; d++) counts[d + 1] += counts[d];
    for (let i = 0; i < n; i++) next[counts[(keys[order[i]] >>> shift) & 0xff]++] = order[i];
    [order, next] = [next, order];
  }
  return order;
}

/** Calls `fn` once, `wait` ms after the last of a burst of calls. */
export function debounce(fn, wait, timers = globalThis) {
  let handle = null;
  return (...args) => {
    if (handle !== null) timers.clearTimeout(handle);
    handle = timers.setTimeout(() => {
      handle = null;
      fn(...args);
    }, wait);
  };
}

/** Row positions in the order of `ranking` (all rows, pre-sorted) that are flagged (or all if flags is null). */
export function filterRanked(ranking, flags) {
  if (flags === null) return ranking;
  let k = 0;
  for (let i = 0; i < ranking.length; i++) if (flags[ranking[i]]) k++;
  const out = new Uint32Array(k);
  k = 0;
  for (let i = 0; i < ranking.length; i++) if (flags[ranking[i]]) out[k++] = ranking[i];
  return out;
}

/** Calls `fn` at most once per `wait` ms; the last call of a burst always runs (trailing edge). */
export function throttle(fn, wait, timers = globalThis) {
  let last = -Infinity;
  let pending = null;
  let handle = null;
  const run = () => {
    handle = null;
    last = Date.now();
    const args = pending;
    pending = null;
    fn(...args);
  };
  const throttled = (...args) => {
    pending = args;
    if (handle !== null) return;
    const delay = Math.max(0, last + wait - Date.now());
    if (delay === 0) run();
    else handle = timers.setTimeout(run, delay);
  };
  throttled.flush = () => {
    if (handle !== null) {
      timers.clearTimeout(handle);
      run();
    }
  };
  return throttled;
}

function isNumeric(column) {
  return ArrayBuffer.isView(column) || (column.length > 0 && typeof column[0] === "number");
}

function normalise(v) {
  return typeof v === "bigint" ? Number(v) : v;
}
