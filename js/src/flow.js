// The layer-wise difficulty flow: per probe, quartiles of the k-NN label agreement over a set of rows, and the rows
// whose agreement lies in a brushed range. Pure functions over one Float32Array laid out layer by layer
// (values[l * n + i] is row i at layer l; NaN = missing). Quantiles interpolate linearly, as numpy.percentile.
import { positionsWhere } from "./selection.js";

/** Linear-interpolation quantile q of an ascending array without NaN. */
export function quantileSorted(sorted, q) {
  if (sorted.length === 0) return null;
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/**
 * Per layer over the rows where `flags[i]` is 1 (all rows for null): {layer, median, q25, q75, mean, n};
 * `matches` (Uint8Array, same layout, optional) adds `vote_share`, the share of those rows whose vote equals
 * the final prediction.
 */
export function layerStats(values, matches, n, layers, flags) {
  const out = [];
  const buffer = new Float32Array(n);
  for (let l = 0; l < layers; l++) {
    let m = 0;
    let sum = 0;
    let votes = 0;
    let counted = 0;
    for (let i = 0; i < n; i++) {
      if (flags !== null && !flags[i]) continue;
      if (matches) {
        votes += matches[l * n + i];
        counted++;
      }
      const v = values[l * n + i];
      if (v !== v) continue;
      buffer[m++] = v;
      sum += v;
    }
    const sorted = buffer.subarray(0, m).sort();
    out.push({
      layer: l,
      median: quantileSorted(sorted, 0.5),
      q25: quantileSorted(sorted, 0.25),
      q75: quantileSorted(sorted, 0.75),
      mean: m ? sum / m : null,
      n: m,
      vote_share: matches && counted ? votes / counted : null,
    });
  }
  return out;
}

/** Row positions whose agreement lies in [low, high] at every layer in [first, last] (NaN never selected). */
export function rowsInLayerRange(values, n, layers, first, last, low, high) {
  const a = Math.max(0, Math.ceil(Math.min(first, last)));
  const b = Math.min(layers - 1, Math.floor(Math.max(first, last)));
  const lo = Math.min(low, high);
  const hi = Math.max(low, high);
  if (a > b) return new Uint32Array(0);
  const inRange = (i) => {
    for (let l = a; l <= b; l++) {
      const v = values[l * n + i];
      if (!(v >= lo && v <= hi)) return false;
    }
    return true;
  };
  return positionsWhere(inRange, n);
}

/** A brush over layers that covers no layer's axis snaps to the nearest layer. */
export function brushedLayers(range, layers) {
  const [x0, x1] = [Math.min(...range), Math.max(...range)];
  if (Math.ceil(x0) <= Math.floor(x1)) return [x0, x1];
  const nearest = Math.max(0, Math.min(layers - 1, Math.round((x0 + x1) / 2)));
  return [nearest, nearest];
}
