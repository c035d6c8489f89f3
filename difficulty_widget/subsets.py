"""Saved subsets of instance ids (the Explorer's "saved subsets" view): name a selection, combine selections with
set operations, export them, and keep them with the Analysis.

:func:`relabelling_table` is the relabelling worklist of a set of ids: each instance's given label, the label the
label-issue flag suggests (:mod:`difficulty_widget.measures.label_issues`) and its score, ready to write as CSV.

:class:`Subsets` maps names to sorted unique int64 id arrays (read-only). ``write_to(analysis)`` stores them in
``analysis.tables["subsets"]`` (long format: one row per (subset, id)), so they are saved and loaded with the
Analysis's Parquet file; :meth:`Subsets.from_analysis` reads them back. The ``subset`` column is categorical with
every name as a category, so the order of the subsets and empty subsets survive the round trip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._validation import check_bool, to_numpy
from .analysis import frame_of

if TYPE_CHECKING:
    from .analysis import Analysis

TABLE_NAME = "subsets"
_SHOWN = 10  # ids quoted in an error message
_RELABELLING_NEEDS = ("id", "label", "suggested_label", "label_issue_score")


class Subsets(Mapping[str, np.ndarray]):
    """Named sets of instance ids: ``subsets["confident but wrong"]`` is a sorted unique int64 array.

    ``valid_ids`` (optional): the ids that exist (an array of ids, e.g. ``analysis.df["id"]``, or an int ``n``
    for ids ``0..n-1``); ids outside it are rejected. Looking up an unknown name raises ``KeyError`` (the mapping
    protocol, so ``in`` and ``get`` work); every other misuse raises ``ValueError``.
    """

    def __init__(self, subsets: Mapping[str, Any] | None = None, *, valid_ids: Any = None) -> None:
        self._valid = None if valid_ids is None else _check_valid_ids(valid_ids)
        self._sets: dict[str, np.ndarray] = {}
        self._listeners: list[Any] = []
        for name, ids in (subsets or {}).items():
            self.save(name, ids)

    # ------------------------------------------------------------------ mapping
    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._sets[name]
        except (KeyError, TypeError):
            raise KeyError(f"no subset named {name!r}; saved subsets: {list(self._sets)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._sets)

    def __len__(self) -> int:
        return len(self._sets)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Subsets):
            return NotImplemented
        return list(self) == list(other) and all(np.array_equal(self[n], other[n]) for n in self)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        inner = ", ".join(f"{name!r}: {len(ids)} ids" for name, ids in self._sets.items())
        return f"Subsets({{{inner}}})"

    # ------------------------------------------------------------------ editing
    def save(self, name: str, ids: Any, overwrite: bool = False) -> np.ndarray:
        """Store ``ids`` (integers, or a DataFrame with an ``id`` column such as a widget's selection) under
        ``name`` and return the stored sorted unique array. An existing name is replaced only with
        ``overwrite=True``."""
        overwrite = check_bool(overwrite, "overwrite")
        if not isinstance(name, str) or not name:
            raise ValueError(f"subset name must be a non-empty string, got {name!r}")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            message = f"subset name {name!r} is not valid text (a lone surrogate), so it could not be saved"
            raise ValueError(message) from None
        if name in self._sets and not overwrite:
            raise ValueError(f"a subset named {name!r} already exists; pass overwrite=True to replace it")
        arr = self._check_ids(ids, name)
        arr.setflags(write=False)
        self._sets[name] = arr
        self._changed()
        return arr

    def remove(self, name: str) -> None:
        """Forget the subset ``name``."""
        self._check_names([name])
        del self._sets[name]
        self._changed()

    def on_change(self, callback: Any) -> None:
        """Call ``callback()`` after every save or removal (the Explorer keeps its list and the Analysis in step)."""
        if callback not in self._listeners:
            self._listeners.append(callback)

    def _changed(self) -> None:
        for callback in list(self._listeners):
            callback()

    # ------------------------------------------------------------------ set operations
    def union(self, *names: str, as_: str | None = None) -> np.ndarray:
        """Ids in any of the subsets ``names``; stored under ``as_`` if given."""
        sets = self._operands(names, "union")
        return self._result(np.unique(np.concatenate(sets)), as_)

    def intersection(self, *names: str, as_: str | None = None) -> np.ndarray:
        """Ids in all of the subsets ``names``; stored under ``as_`` if given."""
        sets = self._operands(names, "intersection")
        result = sets[0].copy()
        for other in sets[1:]:
            result = np.intersect1d(result, other, assume_unique=True)
        return self._result(result, as_)

    def difference(self, a: str, b: str, *, as_: str | None = None) -> np.ndarray:
        """Ids in subset ``a`` and not in subset ``b``; stored under ``as_`` if given."""
        first, second = self._operands((a, b), "difference")
        return self._result(np.setdiff1d(first, second, assume_unique=True), as_)

    # ------------------------------------------------------------------ export
    def to_frame(self, df: pd.DataFrame | Analysis | None = None) -> pd.DataFrame:
        """Long table with columns ``subset`` (categorical, one category per saved subset) and ``id``; with ``df``
        (or an Analysis) given, each row also carries that instance's columns from ``df``."""
        names = list(self._sets)
        lengths = [len(ids) for ids in self._sets.values()]
        codes = np.repeat(np.arange(len(names)), lengths)
        ids = np.concatenate([np.zeros(0, np.int64), *self._sets.values()])
        frame = pd.DataFrame({"subset": pd.Categorical.from_codes(codes, categories=names), "id": ids})
        if df is None:
            return frame
        table = frame_of(df)
        if "id" not in table.columns:
            raise ValueError(f"df must have an 'id' column; it has {list(table.columns)}")
        missing = np.setdiff1d(ids, table["id"].to_numpy())
        if len(missing):
            raise ValueError(f"{len(missing)} saved id(s) are not in df['id']: {missing[:_SHOWN].tolist()}")
        if table["id"].duplicated().any():
            raise ValueError("df['id'] must be unique to join subsets with it")
        extra = table.drop(columns=["subset"], errors="ignore")
        return frame.merge(extra, on="id", how="left", validate="many_to_one")

    def to_csv(self, path: str | os.PathLike, df: pd.DataFrame | Analysis | None = None) -> Path:
        """Write :meth:`to_frame` (joined with ``df`` if given) to a CSV file and return its path."""
        path = Path(path)
        self.to_frame(df).to_csv(path, index=False)
        return path

    def write_to(self, analysis: Analysis) -> Analysis:
        """Store the subsets in ``analysis.tables["subsets"]`` (saved with the Analysis) and return ``analysis``.
        Ids not in ``analysis.df["id"]`` are an error."""
        from .analysis import Analysis

        if not isinstance(analysis, Analysis):
            raise ValueError(f"analysis must be an Analysis, got {type(analysis).__name__}")
        frame = self.to_frame()
        unknown = np.setdiff1d(frame["id"].to_numpy(), analysis.df["id"].to_numpy())
        if len(unknown):
            raise ValueError(f"{len(unknown)} saved id(s) are not in the analysis: {unknown[:_SHOWN].tolist()}")
        return analysis.add_table(TABLE_NAME, frame)

    @classmethod
    def from_analysis(cls, analysis: Analysis) -> Subsets:
        """The subsets stored by :meth:`write_to` (none if there are none), validated against the analysis's ids."""
        from .analysis import Analysis

        if not isinstance(analysis, Analysis):
            raise ValueError(f"analysis must be an Analysis, got {type(analysis).__name__}")
        out = cls(valid_ids=analysis.df["id"].to_numpy())
        table = analysis.tables.get(TABLE_NAME)
        if table is None:
            return out
        if not {"subset", "id"} <= set(table.columns):
            raise ValueError(
                f"analysis.tables[{TABLE_NAME!r}] must have columns 'subset' and 'id'; it has {list(table.columns)}"
            )
        subset = table["subset"]
        names = list(subset.cat.categories) if isinstance(subset.dtype, pd.CategoricalDtype) else subset.unique()
        ids = table["id"].to_numpy()
        for name in names:
            out.save(str(name), ids[(subset == name).to_numpy()])
        return out

    # ------------------------------------------------------------------ helpers
    def _check_ids(self, ids: Any, name: str) -> np.ndarray:
        arr = _id_array(ids, f"ids for {name!r}")
        bad = arr[arr < 0] if self._valid is None else np.setdiff1d(arr, self._valid, assume_unique=True)
        if len(bad):
            expected = "non-negative" if self._valid is None else "among the valid ids"
            raise ValueError(f"ids for {name!r} must be {expected}; {len(bad)} are not: {bad[:_SHOWN].tolist()}")
        return arr

    def _check_names(self, names: Any) -> None:
        unknown = [n for n in names if not isinstance(n, str) or n not in self._sets]
        if unknown:
            raise ValueError(f"no subset named {unknown}; saved subsets: {list(self._sets)}")

    def _operands(self, names: tuple[str, ...], operation: str) -> list[np.ndarray]:
        if not names:
            raise ValueError(f"{operation} needs at least one subset name; saved subsets: {list(self._sets)}")
        self._check_names(names)
        return [self._sets[n] for n in names]

    def _result(self, ids: np.ndarray, as_: str | None) -> np.ndarray:
        if as_ is not None:
            return self.save(as_, ids)
        return ids


def _id_array(ids: Any, what: str) -> np.ndarray:
    """Sorted unique int64 ids from integers or a DataFrame's ``id`` column (``what`` names them in errors)."""
    if isinstance(ids, pd.DataFrame):
        if "id" not in ids.columns:
            raise ValueError(f"{what} is a DataFrame without an 'id' column; it has {list(ids.columns)}")
        ids = ids["id"]
    arr = to_numpy(ids)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D sequence of instance ids, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{what} must be integers, got dtype {arr.dtype}")
    return np.unique(arr.astype(np.int64))


def relabelling_table(df: pd.DataFrame | Analysis, ids: Any, class_names: Any = None) -> pd.DataFrame:
    """The relabelling worklist of ``ids`` (integers, or a DataFrame with an ``id`` column), one row per id in
    ascending order: ``id``, the given label (``label``, ``label_name``), the suggested label (``suggested_label``,
    ``suggested_name``: missing where the table has none, e.g. test rows), ``label_issue_score`` and, when the table
    has it, the flag ``label_issue``.

    ``df``: an Analysis (its class names are used) or a DataFrame with the columns ``id``, ``label``,
    ``suggested_label`` and ``label_issue_score`` (from ``analyze(...)`` with features, see
    :func:`difficulty_widget.measures.label_issues.label_issue_scores`). ``class_names``: the names of the classes
    (default: the Analysis's, else the class indices as text)."""
    table = frame_of(df)
    missing = [c for c in _RELABELLING_NEEDS if c not in table.columns]
    if missing:
        raise ValueError(
            f"a relabelling table needs the columns {missing}, which the table does not have; the label-issue "
            "columns come from analyze(...) with features (difficulty_widget.measures.label_issues)"
        )
    if class_names is None:
        class_names = getattr(df, "class_names", None)
    wanted = _id_array(ids, "ids")
    if wanted.size == 0:
        raise ValueError("ids is empty: there is nothing to relabel")
    if table["id"].duplicated().any():
        raise ValueError("df['id'] must be unique")
    rows = table.set_index("id").reindex(wanted)
    unknown = wanted[rows["label"].isna().to_numpy()]
    if len(unknown):
        raise ValueError(f"{len(unknown)} id(s) are not in df['id']: {unknown[:_SHOWN].tolist()}")
    rows = rows.reset_index()
    labels = rows["label"].astype(np.int64)
    suggested = rows["suggested_label"].astype("Int64")
    names = None if class_names is None else [str(name) for name in class_names]

    def name_of(values: pd.Series) -> pd.Series:
        if names is None:
            return values.astype("string")
        return pd.Series([pd.NA if pd.isna(v) else names[int(v)] for v in values], dtype="string")

    out = pd.DataFrame(
        {
            "id": wanted,
            "label": labels,
            "label_name": name_of(labels),
            "suggested_label": suggested,
            "suggested_name": name_of(suggested),
            "label_issue_score": rows["label_issue_score"].astype(np.float64),
        }
    )
    if "label_issue" in rows.columns:
        out["label_issue"] = rows["label_issue"].astype("boolean")
    return out


def _check_valid_ids(valid_ids: Any) -> np.ndarray:
    if isinstance(valid_ids, (int, np.integer)) and not isinstance(valid_ids, bool):
        if valid_ids < 0:
            raise ValueError(f"valid_ids as a count must be >= 0, got {valid_ids}")
        return np.arange(int(valid_ids), dtype=np.int64)
    arr = to_numpy(valid_ids)
    if arr.ndim != 1 or (arr.size and (arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer))):
        raise ValueError(
            f"valid_ids must be an int n (ids 0..n-1) or a 1-D array of integer ids, got {arr.dtype}, shape {arr.shape}"
        )
    return np.unique(arr.astype(np.int64))
