"""The Analysis: one table of per-instance scores, the single input of every view.

``analysis.df`` has one row per instance: ``id``, ``label``, ``label_name``, ``split``, then score columns
(``prediction``, ``correct``, ``confidence``, ... and whatever later measures add). Class metadata
(``class_names``, optional ``wnids``) and provenance (model, dataset, seed, library version) travel with it.
``save``/``load`` write Parquet with that metadata in the schema, atomically (temporary file + rename),
and round-trip exactly.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._validation import check_labels
from ._version import __version__
from .measures import registry

BASE_COLUMNS = ("id", "label", "label_name", "split")
METADATA_KEY = b"difficulty_widget"
FORMAT_VERSION = 1
DEFAULT_SPLIT = "all"


class Analysis:
    """Per-instance difficulty table with class metadata and provenance.

    Build one with :func:`difficulty_widget.analyze` (from a model and data), with
    :meth:`from_dataframe` (from your own scores), or with :meth:`load` (from a saved file).
    """

    def __init__(
        self,
        df: pd.DataFrame,
        class_names: Sequence[str],
        *,
        wnids: Sequence[str] | None = None,
        provenance: Mapping[str, Any] | None = None,
        tables: Mapping[str, pd.DataFrame] | None = None,
        embeddings: Mapping[str, Any] | None = None,
    ) -> None:
        self.class_names = _check_class_names(class_names)
        self.wnids = None if wnids is None else [str(w) for w in wnids]
        if self.wnids is not None and len(self.wnids) != len(self.class_names):
            raise ValueError(f"wnids has {len(self.wnids)} entries, expected one per class ({self.n_classes})")
        self.provenance = dict(provenance or {})
        self.provenance.setdefault("library_version", __version__)
        _check_json(self.provenance, "provenance")
        self._df = _normalise_frame(df, self.class_names)
        self.tables: dict[str, pd.DataFrame] = {}
        for name, table in (tables or {}).items():
            self.add_table(name, table)
        self.embeddings = dict(embeddings or {})

    @property
    def embeddings(self) -> dict[str, np.ndarray]:
        """Embeddings kept in memory, row-aligned with ``df`` (``analyze(..., keep_embeddings="penultimate")``
        keeps the features probe under ``"penultimate"``; the Explorer's instance view finds neighbours in it).
        Not written by :meth:`save`: keep them with ``np.save`` if you need them after a reload."""
        return self._embeddings

    @embeddings.setter
    def embeddings(self, value: Mapping[str, Any]) -> None:
        from ._validation import to_numpy

        checked = {}
        for name, array in dict(value).items():
            arr = to_numpy(array)
            if arr.ndim != 2 or len(arr) != len(self._df):
                raise ValueError(
                    f"embeddings[{name!r}] must be an (N, d) array with one row per instance (N = {len(self._df)}), "
                    f"got shape {arr.shape}"
                )
            checked[str(name)] = arr
        self._embeddings = checked

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dataframe(
        cls,
        df: pd.DataFrame,
        class_names: Sequence[str] | None = None,
        *,
        wnids: Sequence[str] | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> Analysis:
        """An Analysis from your own table: an ``id`` column, integer ``label``, optional ``prediction``,
        ``split`` and ``label_name``, and any score columns.

        ``class_names`` defaults to the names in ``label_name`` (if present) or to "0".."C-1" with C one more
        than the largest label (or prediction). When ``prediction`` is given and ``correct`` is not,
        ``correct`` is added.
        """
        if not isinstance(df, pd.DataFrame):
            raise ValueError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        for column in ("id", "label"):
            if column not in df.columns:
                raise ValueError(f"df must have a column {column!r}; it has {list(df.columns)}")
        frame = df.reset_index(drop=True).copy()
        labels = check_labels(frame["label"].to_numpy(), name="df['label']")
        if class_names is None:
            class_names = _class_names_from_frame(frame, labels)
        if "prediction" in frame.columns and "correct" not in frame.columns:
            predictions = check_labels(frame["prediction"].to_numpy(), n=len(frame), name="df['prediction']")
            frame["correct"] = predictions == labels
        return cls(frame, class_names, wnids=wnids, provenance=provenance)

    # ------------------------------------------------------------------ access
    @property
    def df(self) -> pd.DataFrame:
        """The per-instance table (one row per instance)."""
        return self._df

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self._df)

    @property
    def score_columns(self) -> list[str]:
        """Columns that are registered measures, in table order."""
        known = {m.name for m in registry.measures()}
        return [c for c in self._df.columns if c in known]

    def add_columns(self, columns: pd.DataFrame | Mapping[str, Any], *, overwrite: bool = False) -> Analysis:
        """Add per-instance columns (in row order, or aligned on ``id`` when ``columns`` has an ``id`` column).

        Returns ``self`` so calls can be chained. Existing columns are replaced only with ``overwrite=True``.
        """
        frame = pd.DataFrame(columns) if not isinstance(columns, pd.DataFrame) else columns
        if "id" in frame.columns:
            unknown = ~frame["id"].isin(self._df["id"])
            if unknown.any():
                raise ValueError(f"columns has ids not in the analysis: {frame['id'][unknown].head(10).tolist()}")
            if frame["id"].duplicated().any():
                raise ValueError("columns has duplicate ids")
            missing = int((~self._df["id"].isin(frame["id"])).sum())
            if missing:
                raise ValueError(f"columns lacks {missing} of the analysis's ids")
            frame = frame.set_index("id").reindex(self._df["id"].to_numpy())
        elif len(frame) != len(self._df):
            raise ValueError(f"columns has {len(frame)} rows, expected {len(self._df)} (one per instance) or an 'id'")
        clash = [c for c in frame.columns if c in self._df.columns]
        if clash and not overwrite:
            raise ValueError(f"columns {clash} already exist; pass overwrite=True to replace them")
        protected = [c for c in frame.columns if c in BASE_COLUMNS]
        if protected:
            raise ValueError(f"columns {protected} are the analysis's own and cannot be replaced")
        updated = self._df.copy()
        for column in frame.columns:
            updated[column] = frame[column].array  # keeps categorical and nullable dtypes
        self._df = _normalise_frame(updated, self.class_names)
        return self

    def add_table(self, name: str, table: pd.DataFrame) -> Analysis:
        """Keep a small summary table with the analysis (e.g. a models x models kappa matrix); saved with it."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"table name must be a non-empty string, got {name!r}")
        if not isinstance(table, pd.DataFrame):
            raise ValueError(f"table {name!r} must be a pandas DataFrame, got {type(table).__name__}")
        self.tables[name] = table.copy()
        return self

    def hardest(self, measure: str, n: int = 10, split: str | None = None) -> pd.DataFrame:
        """The ``n`` hardest instances by a registered measure (using its direction), ties by id."""
        direction = registry.get(measure).direction
        frame = self._df if split is None else self._df[self._df["split"] == split]
        if measure not in frame.columns:
            raise ValueError(f"the analysis has no column {measure!r}; it has {self.score_columns}")
        ascending = direction == "hard = low"
        return frame.sort_values([measure, "id"], ascending=[ascending, True], kind="stable").head(n)

    def per_class_accuracy(self, split: str | None = None) -> pd.DataFrame:
        """Accuracy and count per class (needs a ``correct`` column)."""
        if "correct" not in self._df.columns:
            raise ValueError("the analysis has no 'correct' column (no predictions)")
        frame = self._df if split is None else self._df[self._df["split"] == split]
        grouped = frame.groupby("label", observed=True)["correct"]
        out = pd.DataFrame({"class": self.class_names})
        out["n"] = grouped.size().reindex(range(self.n_classes), fill_value=0).to_numpy()
        out["accuracy"] = grouped.mean().reindex(range(self.n_classes)).to_numpy()
        return out

    def __repr__(self) -> str:
        splits = ", ".join(f"{k}={v}" for k, v in self._df["split"].value_counts(sort=False).items())
        model = self.provenance.get("model", "?")
        return (
            f"Analysis(n={len(self)}, classes={self.n_classes}, splits=[{splits}], model={model!r}, "
            f"scores={self.score_columns}" + (f", tables={list(self.tables)})" if self.tables else ")")
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write the table and its metadata to a Parquet file, atomically (temporary file, then rename)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(self._df, preserve_index=False)
        meta = {
            "format": FORMAT_VERSION,
            "class_names": self.class_names,
            "wnids": self.wnids,
            "provenance": self.provenance,
            "tables": {name: _table_to_text(table) for name, table in self.tables.items()},
        }
        table = table.replace_schema_metadata({**table.schema.metadata, METADATA_KEY: json.dumps(meta).encode()})
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Analysis:
        """Read an Analysis written by :meth:`save`; a corrupt or foreign file raises ``ValueError``."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as err:
            raise ValueError(f"{path} is not a readable Parquet file ({err})") from None
        raw = (table.schema.metadata or {}).get(METADATA_KEY)
        if raw is None:
            raise ValueError(f"{path} is a Parquet file but not an Analysis saved by difficulty-widget (no metadata)")
        try:
            meta = json.loads(raw)
            version = int(meta["format"])
            class_names = meta["class_names"]
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}: the difficulty-widget metadata is damaged ({err})") from None
        if version > FORMAT_VERSION:
            raise ValueError(f"{path} was written by a newer difficulty-widget (format {version}); upgrade to read it")
        try:
            tables = {name: _table_from_text(text) for name, text in (meta.get("tables") or {}).items()}
        except (pa.ArrowException, ValueError, TypeError) as err:
            raise ValueError(f"{path}: a summary table in the metadata is damaged ({err})") from None
        return cls(
            table.to_pandas(), class_names, wnids=meta.get("wnids"), provenance=meta.get("provenance"), tables=tables
        )


def _table_to_text(table: pd.DataFrame) -> str:
    """A summary table as base64 Arrow IPC (exact: dtypes, index and float bits survive)."""
    import pyarrow as pa

    arrow = pa.Table.from_pandas(table, preserve_index=True)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, arrow.schema) as writer:
        writer.write_table(arrow)
    return base64.b64encode(sink.getvalue().to_pybytes()).decode("ascii")


def _table_from_text(text: str) -> pd.DataFrame:
    import pyarrow as pa

    return pa.ipc.open_stream(base64.b64decode(text.encode("ascii"), validate=True)).read_all().to_pandas()


def _check_class_names(class_names: Sequence[str]) -> list[str]:
    if isinstance(class_names, str):
        raise ValueError("class_names must be a sequence of names, not one string")
    names = [str(c) for c in class_names]
    if len(names) < 2:
        raise ValueError(f"class_names must name at least 2 classes, got {names}")
    if len(set(names)) != len(names):
        seen: set[str] = set()
        twice = sorted({n for n in names if n in seen or seen.add(n)})
        raise ValueError(f"class_names must be unique; these appear more than once: {twice}")
    return names


def _check_json(value: Any, name: str) -> None:
    try:
        json.dumps(value)
    except TypeError as err:
        raise ValueError(f"{name} must hold JSON values (str, numbers, lists, dicts): {err}") from None


def _class_names_from_frame(frame: pd.DataFrame, labels: np.ndarray) -> list[str]:
    top = int(labels.max())
    if "prediction" in frame.columns:
        top = max(top, int(check_labels(frame["prediction"].to_numpy(), name="df['prediction']").max()))
    names = [str(i) for i in range(max(top + 1, 2))]
    if "label_name" in frame.columns:
        pairs = frame[["label", "label_name"]].drop_duplicates()
        if pairs["label"].duplicated().any():
            raise ValueError("df['label_name'] gives more than one name for the same label")
        for label, name in zip(pairs["label"], pairs["label_name"], strict=True):
            names[int(label)] = str(name)
    return names


def _normalise_frame(df: pd.DataFrame, class_names: list[str]) -> pd.DataFrame:
    """Validate the base columns, set their dtypes and put them first; other columns keep their order."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise ValueError("df is empty: an Analysis needs at least one instance")
    for column in ("id", "label"):
        if column not in df.columns:
            raise ValueError(f"df must have a column {column!r}; it has {list(df.columns)}")
    if df.columns.duplicated().any():
        raise ValueError(f"df has duplicate column names: {list(df.columns[df.columns.duplicated()])}")
    frame = df.reset_index(drop=True).copy()
    ids = check_labels(frame["id"].to_numpy(), name="df['id']")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("df['id'] must be unique (one id per instance)")
    labels = check_labels(frame["label"].to_numpy(), n=len(frame), n_classes=len(class_names), name="df['label']")
    if "prediction" in frame.columns:
        preds = check_labels(frame["prediction"].to_numpy(), n=len(frame), n_classes=len(class_names),
                             name="df['prediction']")  # fmt: skip
        frame["prediction"] = preds
    frame["id"] = ids
    frame["label"] = labels
    frame["label_name"] = pd.Categorical.from_codes(labels, categories=class_names)
    split = frame["split"].astype(str).to_numpy() if "split" in frame.columns else np.full(len(frame), DEFAULT_SPLIT)
    frame["split"] = pd.Categorical(split, categories=sorted(set(split.tolist())))
    rest = [c for c in frame.columns if c not in BASE_COLUMNS]
    return frame[[*BASE_COLUMNS, *rest]]


def frame_of(df: Any) -> pd.DataFrame:
    """The per-instance table of ``df``: an Analysis's ``df``, or the DataFrame itself."""
    if isinstance(df, Analysis):
        return df.df
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame or an Analysis, got {type(df).__name__}")
    return df
