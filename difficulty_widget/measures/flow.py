"""Layer-wise difficulty flow: statistics of the per-probe k-NN data that prediction depth produces.

Prediction depth (Baldock, Maennel, Neyshabur, "Deep Learning Through the Lens of Example Difficulty",
NeurIPS 2021) runs a k-NN probe at every layer; from the same neighbours come, per instance and probe, the
k-NN label agreement (share of the k neighbours with the instance's own label, N x L float32) and whether the
probe's vote equals the final prediction (N x L bool). :func:`layer_tables` lays them out as the Analysis
tables ``layer_agreement`` and ``layer_vote_matches``; :func:`flow_summary` gives per-layer quartiles and means
of a subset (what the flow view draws) and :func:`select_by_layer_range` the rows a brush on one layer's axis
selects. Pure functions: arrays in, arrays or small tables out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._validation import to_numpy

AGREEMENT_TABLE = "layer_agreement"
VOTE_MATCHES_TABLE = "layer_vote_matches"
ID_COLUMN = "id"


def layer_tables(ids: Any, agreement: Any, vote_matches: Any, probe_names: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The two flow tables, one row per instance (in the order of ``ids``): an ``id`` column, then one column
    per probe in probe order, float32 agreement in ``layer_agreement`` and bool in ``layer_vote_matches``."""
    agree = _check_matrix(agreement, "agreement")
    matches = to_numpy(vote_matches)
    if matches.dtype != bool or matches.shape != agree.shape:
        raise ValueError(
            f"vote_matches must be a bool array of shape {agree.shape}, got {matches.dtype} {matches.shape}"
        )
    names = _check_names(probe_names, agree.shape[1])
    if ID_COLUMN in names:
        raise ValueError(f"probe_names must not contain {ID_COLUMN!r} (the tables' id column)")
    ids = to_numpy(ids)
    if ids.shape != (agree.shape[0],):
        raise ValueError(f"ids must have shape ({agree.shape[0]},) (one per row of agreement), got {ids.shape}")
    tables = {}
    for table_name, values, dtype in ((AGREEMENT_TABLE, agree, np.float32), (VOTE_MATCHES_TABLE, matches, bool)):
        columns = {ID_COLUMN: ids, **{name: values[:, i].astype(dtype) for i, name in enumerate(names)}}
        tables[table_name] = pd.DataFrame(columns)
    return tables


def flow_summary(agreement: Any, rows: Any = None, probe_names: Sequence[str] | None = None) -> pd.DataFrame:
    """Per layer of ``agreement`` (N x L, or a ``layer_agreement`` table whose columns name the probes), over
    ``rows`` (positions or an (N,) bool mask; all rows when ``None``), ignoring NaN: ``layer`` (index),
    ``probe`` (when names are known), ``median``, ``q25``, ``q75`` (linear interpolation, as ``np.percentile``),
    ``mean`` and ``n`` (non-missing values). Layers without values get NaN statistics and ``n = 0``. A bool
    array (``layer_vote_matches``) works too: its ``mean`` is the share of votes equal to the prediction."""
    values, names = _values_and_names(agreement, probe_names)
    picked = values[_check_rows(rows, len(values))]
    present = ~np.isnan(picked)
    n = present.sum(axis=0)
    stats = np.full((4, values.shape[1]), np.nan)
    filled = np.flatnonzero(n > 0)
    if filled.size:  # no all-NaN slices: numpy would warn
        part = picked[:, filled].astype(np.float64)
        stats[:3, filled] = np.nanpercentile(part, [50, 25, 75], axis=0)
        stats[3, filled] = np.nanmean(part, axis=0)
    out = pd.DataFrame({"layer": np.arange(values.shape[1])})
    if names is not None:
        out["probe"] = names
    for i, column in enumerate(("median", "q25", "q75", "mean")):
        out[column] = stats[i]
    out["n"] = n.astype(np.int64)
    return out


def select_by_layer_range(
    agreement: Any, layer: int | str, low: float, high: float, *, probe_names: Sequence[str] | None = None
) -> np.ndarray:
    """Positions (ascending, int64) of the rows whose value at ``layer`` (index, or probe name when names are
    known) lies in ``[low, high]``: what a brush on that layer's axis selects. NaN values are never selected."""
    values, names = _values_and_names(agreement, probe_names)
    column = _layer_index(layer, values.shape[1], names)
    bounds = []
    for value, name in ((low, "low"), (high, "high")):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if np.isnan(value):
            raise ValueError(f"{name} must not be NaN")
        bounds.append(float(value))
    if bounds[0] > bounds[1]:
        raise ValueError(f"low must not exceed high, got low={low!r} and high={high!r}")
    picked = values[:, column]
    return np.flatnonzero((picked >= bounds[0]) & (picked <= bounds[1])).astype(np.int64)


def _check_matrix(values: Any, name: str) -> np.ndarray:
    arr = to_numpy(values)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_instances, n_layers), got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no layers: got shape {arr.shape}")
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float64)  # e.g. vote matches: their mean is the share of matching votes
    elif not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{name} must be a numeric array (NaN for missing values), got dtype {arr.dtype}")
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains infinite values")
    return arr


def _check_names(probe_names: Sequence[str], n_layers: int) -> list[str]:
    if isinstance(probe_names, str):
        raise ValueError("probe_names must be a sequence of names, not one string")
    names = [str(p) for p in probe_names]
    if len(names) != n_layers:
        raise ValueError(f"probe_names has {len(names)} names, expected {n_layers} (one per layer)")
    if len(set(names)) != len(names):
        raise ValueError(f"probe_names must be unique, got {names}")
    return names


def _values_and_names(agreement: Any, probe_names: Sequence[str] | None) -> tuple[np.ndarray, list[str] | None]:
    """The (N x L) values and the probe names: a table's probe columns (``id`` left out) and their names."""
    if isinstance(agreement, pd.DataFrame):
        frame = agreement.drop(columns=[ID_COLUMN], errors="ignore")
        if probe_names is None:
            probe_names = [str(c) for c in frame.columns]
        agreement = frame.to_numpy()
    values = _check_matrix(agreement, "agreement")
    return values, None if probe_names is None else _check_names(probe_names, values.shape[1])


def _check_rows(rows: Any, n: int) -> np.ndarray | slice:
    """Row positions from positions or an (n,) bool mask; every row when ``None``."""
    if rows is None:
        return slice(None)
    arr = to_numpy(rows)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"rows as a mask must have shape ({n},), got {arr.shape}")
        return np.flatnonzero(arr)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"rows must be a 1-D array of integer positions or a bool mask, got {arr.dtype} {arr.shape}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"rows must be positions in [0, {n}), got values from {arr.min()} to {arr.max()}")
    return arr


def _layer_index(layer: int | str, n_layers: int, names: list[str] | None) -> int:
    if isinstance(layer, str):
        if names is None:
            raise ValueError(f"layer {layer!r} is a probe name but no probe names are known (pass probe_names)")
        if layer not in names:
            raise ValueError(f"layer {layer!r} is not a probe; valid probe names: {names}")
        return names.index(layer)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < n_layers:
        raise ValueError(f"layer must be a probe name or an index in [0, {n_layers}), got {layer!r}")
    return int(layer)
