"""The Analysis: one table of per-instance scores, the single input of every view.

``analysis.df`` has one row per instance: ``id``, ``label``, ``label_name``, ``split``, then score columns
(``prediction`` with its ``prediction_name``, ``correct``, ``confidence``, ... and whatever later measures add).
Class metadata (``class_names``, optional ``wnids``) and provenance (model, dataset, seed, library version)
travel with it.
``save``/``load`` write Parquet with that metadata in the schema, atomically (temporary file + rename), with page
checksums and a sha256 of the whole content, and round-trip exactly: column names (strings or integers), dtypes,
list cells, categoricals, tables with their index, provenance with its tuples and non-string keys. What a Parquet
file cannot keep exactly (complex numbers, mixed-type or tuple cells, lone surrogates, ...) is refused when the
Analysis is built, naming the column, rather than failing or changing at save time.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import json
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._validation import (
    check_bool,
    check_labels,
    check_names,
    check_non_negative_int,
    check_real_array,
    to_numpy,
)
from ._version import __version__
from .measures import registry

BASE_COLUMNS = ("id", "label", "label_name", "split")
#: Derived from ``prediction`` and the class names whenever a table has predictions (never stored on its own).
PREDICTION_NAME = "prediction_name"
METADATA_KEY = b"difficulty_widget"
FORMAT_VERSION = 2
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
        if wnids is not None and (isinstance(wnids, str) or not isinstance(wnids, Sequence)):
            raise ValueError(f"wnids must be a sequence of WordNet ids, got {type(wnids).__name__}")
        self.wnids = (
            None
            if wnids is None
            else [_check_text(str(w), f"wnids[{i}]") for i, w in enumerate(check_names(wnids, "wnids"))]
        )
        if self.wnids is not None and len(self.wnids) != len(self.class_names):
            raise ValueError(f"wnids has {len(self.wnids)} entries, expected one per class ({self.n_classes})")
        if provenance is not None and not isinstance(provenance, Mapping):
            raise ValueError(f"provenance must be a mapping (a dict), got {type(provenance).__name__}")
        provenance = dict(provenance or {})
        provenance.setdefault("library_version", __version__)
        # Kept as it will load: tuples stay tuples, non-string keys stay keys, NumPy scalars become Python ones.
        self.provenance = _decode(_encode(provenance, "provenance"), "provenance")
        self._df = _normalise_frame(df, self.class_names)
        self.tables: dict[str, pd.DataFrame] = {}
        if tables is not None and not isinstance(tables, Mapping):
            raise ValueError(f"tables must be a mapping of names to DataFrames, got {type(tables).__name__}")
        for name, table in (tables or {}).items():
            self.add_table(name, table)
        self.embeddings = {} if embeddings is None else embeddings

    @property
    def embeddings(self) -> dict[str, np.ndarray]:
        """Embeddings kept in memory, row-aligned with ``df`` (``analyze(..., keep_embeddings="penultimate")``
        keeps the features probe under ``"penultimate"``; the Explorer's instance view finds neighbours in it).
        Not written by :meth:`save`: keep them with ``np.save`` if you need them after a reload.

        Setting it checks every entry: a string name, a 2-D array of real numbers (integer or floating dtype, kept
        as given) with one row per instance, and no NaN or infinite values."""
        return self._embeddings

    @embeddings.setter
    def embeddings(self, value: Mapping[str, Any]) -> None:
        checked = {}
        if not isinstance(value, Mapping):
            raise ValueError(f"embeddings must be a mapping of names to (N, d) arrays, got {type(value).__name__}")
        for name, array in value.items():
            if not isinstance(name, str):  # str() would merge 1 and "1" into one entry, losing an array
                raise TypeError(f"embeddings names must be strings, got {type(name).__name__} {name!r:.60}")
            where = f"embeddings[{name!r}]"
            arr = to_numpy(array)
            if arr.ndim != 2 or len(arr) != len(self._df):
                raise ValueError(
                    f"{where} must be an (N, d) array with one row per instance (N = {len(self._df)}), "
                    f"got shape {arr.shape}"
                )
            check_real_array(arr[:0], where)  # the dtype only: the array itself is kept as given (no float64 copy)
            _check_finite_rows(arr, where)
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
        than the largest label (or prediction), at most :data:`MAX_INFERRED_CLASSES`: pass ``class_names`` for
        more. Class names (and ``label_name`` values) must be strings. Every row needs a ``split`` name (a string or
        an integer) when there is a ``split`` column. When ``prediction`` is given and ``correct`` is not,
        ``correct`` is added; a given ``correct`` must be boolean (a column of integers 0 and 1 becomes bool).

        Columns must be of a type that :meth:`save` keeps exactly (numbers, booleans, strings, bytes, lists of one
        scalar type, categoricals, nullable pandas dtypes, datetimes); others are refused here with the column
        named. Object columns of strings become pandas' string dtype, which is what they load back as.
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
        """Add per-instance columns; returns ``self`` so calls can be chained.

        ``columns`` is a DataFrame or a mapping of column names to values. When it has an ``id`` column, rows are
        matched on ``id``. Otherwise a pandas Series or DataFrame is matched on its index, which must be the
        analysis's row labels (``analysis.df.index``, always 0..n-1) in any order, and plain arrays and lists are
        taken in row order. (In a mapping with ``id``, every value is taken in the order of the ids.)

        Existing columns are replaced only with ``overwrite=True`` (``True`` or ``False``, nothing else).
        ``id``, ``label``, ``label_name``, ``split`` and ``prediction_name`` are the analysis's own and are never
        replaced: build a new Analysis with :meth:`from_dataframe` to change them. Adding or replacing
        ``prediction`` recomputes what is derived from it, ``prediction_name`` and ``correct``
        (``prediction == label``), unless ``correct`` is given in the same call.
        """
        overwrite = check_bool(overwrite, "overwrite")
        frame = self._columns_frame(columns)
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
        protected = [c for c in frame.columns if isinstance(c, str) and c in (*BASE_COLUMNS, PREDICTION_NAME)]
        if protected:
            raise ValueError(
                f"columns {protected} are the analysis's own and cannot be replaced (id, label, label_name, split "
                "and prediction_name define its rows and classes); build a new Analysis with "
                "Analysis.from_dataframe(...) to change them"
            )
        derives_correct = "prediction" in frame.columns and "correct" not in frame.columns
        clash = [c for c in [*frame.columns, *(["correct"] if derives_correct else [])] if c in self._df.columns]
        if clash and not overwrite:
            why = (
                " ('correct' is recomputed from the new 'prediction')" if derives_correct and "correct" in clash else ""
            )
            raise ValueError(f"columns {clash} already exist{why}; pass overwrite=True to replace them")
        updated = self._df.copy()
        for column in frame.columns:
            updated[column] = frame[column].array  # keeps categorical and nullable dtypes
        if derives_correct:  # derived like in from_dataframe, so that it never goes stale
            predictions = check_labels(
                updated["prediction"].to_numpy(), n=len(updated), n_classes=self.n_classes, name="columns['prediction']"
            )
            updated["correct"] = predictions == updated["label"].to_numpy()
        self._df = _normalise_frame(updated, self.class_names)
        return self

    def _columns_frame(self, columns: Any) -> pd.DataFrame:
        """``columns`` of :meth:`add_columns` as a DataFrame: with its ``id`` column, or in the analysis's row order."""
        n = len(self._df)
        if isinstance(columns, pd.DataFrame):
            if columns.columns.duplicated().any():
                twice = list(dict.fromkeys(columns.columns[columns.columns.duplicated()]))
                raise ValueError(f"columns has duplicate column names: {twice}")
            if "id" in columns.columns:
                return columns
            if len(columns) != n:
                raise ValueError(f"columns has {len(columns)} rows, expected {n} (one per instance) or an 'id' column")
            return _aligned(columns, self._df.index, "columns")
        if not isinstance(columns, Mapping):
            raise ValueError(
                "columns must be a DataFrame or a mapping of column names to values (one per instance), "
                f"got {type(columns).__name__} {_short(columns)}"
            )
        by_id = "id" in columns
        values = {name: self._column_values(name, value, by_id) for name, value in columns.items()}
        lengths = {name: len(v) for name, v in values.items()}
        expected = lengths["id"] if by_id else n
        wrong = {name: k for name, k in lengths.items() if k != expected}
        if wrong:
            what = f"{expected} (one per id)" if by_id else f"{n} (one per instance) or an 'id'"
            raise ValueError(f"columns has values of the wrong length {wrong}, expected {what}")
        return pd.DataFrame(values, index=pd.RangeIndex(expected))

    def _column_values(self, name: Any, value: Any, by_id: bool) -> pd.Series:
        """One value of the mapping given to :meth:`add_columns`, as a Series in row order (or in id order)."""
        where = f"columns[{name!r}]"
        if isinstance(value, pd.DataFrame):
            raise ValueError(f"{where} is a DataFrame; give one column per name, or pass the DataFrame as columns")
        if isinstance(value, pd.Series):
            if isinstance(value.index, pd.RangeIndex) and value.index.equals(pd.RangeIndex(len(value))):
                return value
            if by_id:
                raise ValueError(
                    f"{where} is a Series with an index other than 0..{len(value) - 1}; with an 'id' the values are "
                    "taken in the order of the ids: pass .to_numpy() (or .reset_index(drop=True))"
                )
            if len(value) != len(self._df):
                raise ValueError(f"{where} has {len(value)} values, expected {len(self._df)} (one per instance)")
            return _aligned(value, self._df.index, where)
        if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
            value = to_numpy(value)
        if isinstance(value, (str, bytes, Mapping, set, frozenset)) or not hasattr(value, "__len__"):
            raise ValueError(
                f"{where} must hold one value per instance (an array, a list or a Series), "
                f"got {type(value).__name__} {_short(value)}"
            )
        if isinstance(value, np.ndarray) and value.ndim != 1:
            raise ValueError(f"{where} must be one-dimensional (one value per instance), got shape {value.shape}")
        return pd.Series(value.array if isinstance(value, pd.Index) else value)

    def add_table(self, name: str, table: pd.DataFrame) -> Analysis:
        """Keep a small summary table with the analysis (e.g. a models x models kappa matrix); saved with it.

        The table is kept as :meth:`load` will give it back: a copy, object columns of strings as the string
        dtype, and a datetime index without its ``freq`` (a Parquet file does not keep it)."""
        self.tables[name] = _checked_table(name, table)
        return self

    def hardest(self, measure: str, n: int = 10, split: str | None = None) -> pd.DataFrame:
        """The ``n`` hardest instances by a registered measure (using its direction), ties by id."""
        if not isinstance(measure, str):
            raise TypeError(f"measure must be the name of a registered measure (a str), got {type(measure).__name__}")
        n = check_non_negative_int(n, "n")
        try:
            direction = registry.get(measure).direction
        except KeyError:
            known = sorted(m.name for m in registry.measures())
            raise ValueError(
                f"measure {measure!r} is not a registered measure; this analysis has {self.score_columns} "
                f"(all {len(known)}: {known[:12]}{', ...' if len(known) > 12 else ''})"
            ) from None
        frame = self._rows_of(split)
        if measure not in frame.columns:
            raise ValueError(f"the analysis has no column {measure!r}; it has {self.score_columns}")
        ascending = direction == "hard = low"
        return frame.sort_values([measure, "id"], ascending=[ascending, True], kind="stable").head(n)

    def per_class_accuracy(self, split: str | None = None) -> pd.DataFrame:
        """Accuracy and count per class (needs a ``correct`` column)."""
        if "correct" not in self._df.columns:
            raise ValueError("the analysis has no 'correct' column (no predictions)")
        frame = self._rows_of(split)
        correct = _check_correct(frame["correct"], "analysis.df['correct']")  # df may have been changed in place
        grouped = correct.groupby(frame["label"].to_numpy())
        out = pd.DataFrame({"class": self.class_names})
        out["n"] = grouped.size().reindex(range(self.n_classes), fill_value=0).to_numpy()
        out["accuracy"] = grouped.mean().reindex(range(self.n_classes)).to_numpy()
        return out

    def _rows_of(self, split: str | None) -> pd.DataFrame:
        if split is None:
            return self._df
        splits = list(self._df["split"].cat.categories)
        if not isinstance(split, str) or split not in splits:
            raise ValueError(f"split must be None or one of the analysis's splits {splits}, got {split!r}")
        return self._df[self._df["split"] == split]

    def __repr__(self) -> str:
        splits = ", ".join(f"{k}={v}" for k, v in self._df["split"].value_counts(sort=False).items())
        model = self.provenance.get("model", "?")
        return (
            f"Analysis(n={len(self)}, classes={self.n_classes}, splits=[{splits}], model={model!r}, "
            f"scores={self.score_columns}" + (f", tables={list(self.tables)})" if self.tables else ")")
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write the table and its metadata to a Parquet file; returns the path written.

        The file has Parquet page checksums and a sha256 of its whole content (table, class metadata, provenance,
        summary tables) that :meth:`load` verifies. The write is atomic: a temporary file beside the target is
        renamed over it, so an interrupted save leaves the old file as it was and no temporary file. ``~`` is
        expanded; a symbolic link is followed (its target is replaced, the link kept); a new file gets the
        permissions the umask allows, a replaced one keeps its own.

        ``df`` and ``tables`` may have been changed in place since they were checked, so before anything is written
        they are checked again as construction and :meth:`add_table` check them (a ValueError names the table and
        column that a file could not keep exactly) and kept as the file holds them, so that the analysis equals
        what :meth:`load` gives back. A path that cannot name a file (a NUL character, a name too long, a symbolic
        link loop, a file where a folder should be) is a ValueError naming it.
        """
        import pyarrow.parquet as pq

        path = _as_path(path)
        frame, tables = self._checked_for_save()  # before anything touches the disk
        table, columns = _frame_to_arrow(frame, index=False)
        meta = {
            "format": FORMAT_VERSION,
            "class_names": self.class_names,
            "wnids": self.wnids,
            "provenance": _encode(self.provenance, "provenance"),
            "tables": {name: _table_to_text(table) for name, table in tables.items()},
            "columns": columns,
        }
        meta["digest"] = _content_digest(frame, tables, _meta_text(meta))
        table = table.replace_schema_metadata({**table.schema.metadata, METADATA_KEY: json.dumps(meta).encode()})
        self._df, self.tables = frame, tables
        try:
            if path.is_symlink():  # a loop is an error; a dangling link is written through (its target created)
                try:
                    os.path.realpath(path, strict=True)
                except FileNotFoundError:
                    pass
            target = Path(os.path.realpath(path))  # write through symbolic links, to the file they name
            if target.is_dir():
                raise ValueError(
                    f"path {str(path)!r} is a folder; give a file name, e.g. {str(path / 'analysis.parquet')!r}"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~_umask()
        except OSError as err:
            error = _path_error(err, path, "written", folders=True)
            if error is None:
                raise
            raise error from None
        tmp: str | None = None
        try:
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            except OSError as err:
                error = _path_error(err, path, "written")
                if error is None:
                    raise
                raise error from None
            with os.fdopen(fd, "wb") as fh:
                pq.write_table(table, fh, write_page_checksum=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
            tmp = None
        finally:  # every exit path, KeyboardInterrupt included
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Analysis:
        """Read an Analysis written by :meth:`save`, exactly as it was saved.

        Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for anything else: not
        Parquet, not written by difficulty-widget, damaged (a page checksum or the content checksum fails, or a
        metadata field is malformed: the message names the field), or written by a newer version.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = _as_path(path)
        try:
            if not path.exists():
                raise FileNotFoundError(f"no such file: {path}")
            if path.is_dir():
                raise ValueError(f"path {str(path)!r} is a folder, not a saved Analysis")
            with open(path, "rb"):  # a PermissionError says so itself, rather than "not a readable Parquet file"
                pass
        except (FileNotFoundError, PermissionError):
            raise
        except OSError as err:  # a name too long, a symbolic link loop, ...
            raise _path_error(err, path, "read", folders=True) or ValueError(
                f"path {str(path)!r} cannot be read: {err}"
            ) from None
        try:
            table = pq.read_table(path, page_checksum_verification=True)
        except (pa.ArrowException, OSError, ValueError, MemoryError) as err:
            if "checksum" in str(err).lower():
                raise ValueError(f"{path} is damaged: a Parquet page checksum does not match ({err})") from None
            raise ValueError(f"{path} is not a readable Parquet file (damaged or not Parquet: {err})") from None
        raw = (table.schema.metadata or {}).get(METADATA_KEY)
        if raw is None:
            raise ValueError(f"{path} is a Parquet file but not an Analysis saved by difficulty-widget (no metadata)")
        meta = _read_meta(raw, path)
        version = meta["format"]
        if version > FORMAT_VERSION:
            raise ValueError(f"{path} was written by a newer difficulty-widget (format {version}); upgrade to read it")
        try:
            tables = {name: _table_from_text(text) for name, text in meta["tables"].items()}
        except Exception as err:  # Arrow, base64 and JSON errors alike: the field is damaged
            raise ValueError(f"{path}: the difficulty-widget metadata is damaged: field 'tables' ({err})") from None
        try:
            if version == 1:
                frame = table.to_pandas()
            else:
                frame = _frame_from_arrow(table, _check_columns_meta(meta, "columns"))
        except Exception as err:  # a damaged schema or pandas metadata shows up as any kind of error
            raise ValueError(
                f"{path} is damaged: its table cannot be read back ({type(err).__name__}: {err})"
            ) from None
        if version >= 2:
            expected = meta.pop("digest")
            try:
                actual = _content_digest(frame, tables, _meta_text(meta))
            except Exception as err:
                raise ValueError(f"{path} is damaged: its content cannot be checked ({err})") from None
            if actual != expected:
                raise ValueError(
                    f"{path} is damaged: its content does not match the sha256 checksum saved with it "
                    "(the file was changed or corrupted after it was written)"
                )
        try:
            return cls(
                frame,
                meta["class_names"],
                wnids=meta["wnids"],
                provenance=_decode(meta["provenance"], "provenance"),
                tables=tables,
            )
        except (ValueError, TypeError, RecursionError) as err:
            raise ValueError(f"{path} is damaged: {err}") from None

    def _checked_for_save(self) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
        """``df`` and ``tables`` checked again (they are plain pandas objects a user can change in place)."""
        if not isinstance(self._df, pd.DataFrame):
            raise ValueError(f"analysis.df must be a pandas DataFrame, got {type(self._df).__name__}")
        frame = _normalise_frame(self._df, self.class_names)
        if not isinstance(self.tables, Mapping):
            raise ValueError(f"analysis.tables must be a dict of names to DataFrames, got {type(self.tables).__name__}")
        return frame, {name: _checked_table(name, table) for name, table in self.tables.items()}


def _read_meta(raw: bytes, path: Path) -> dict[str, Any]:
    """The metadata of a saved Analysis, every field checked; a ValueError naming the field otherwise."""

    def damaged(field: str, problem: str) -> ValueError:
        return ValueError(f"{path}: the difficulty-widget metadata is damaged: field {field!r} {problem}")

    try:
        meta = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: the difficulty-widget metadata is damaged: not valid JSON ({err})") from None
    except RecursionError:
        raise ValueError(f"{path}: the difficulty-widget metadata is damaged: its JSON is nested too deeply") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: the difficulty-widget metadata is damaged: expected an object, got {_short(meta)}")
    version = meta.get("format")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise damaged("format", f"must be a positive integer, got {_short(version)}")
    if version > FORMAT_VERSION:
        return meta
    names = meta.get("class_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise damaged("class_names", f"must be a list of strings, got {_short(names)}")
    wnids = meta.get("wnids")
    if wnids is not None and (not isinstance(wnids, list) or not all(isinstance(w, str) for w in wnids)):
        raise damaged("wnids", f"must be null or a list of strings, got {_short(wnids)}")
    meta.setdefault("provenance", {})
    if not isinstance(meta["provenance"], dict):
        raise damaged("provenance", f"must be an object, got {_short(meta['provenance'])}")
    tables = meta.setdefault("tables", {})
    if not isinstance(tables, dict) or not all(isinstance(t, str) for t in tables.values()):
        raise damaged("tables", f"must map names to base64 text, got {_short(tables)}")
    if version >= 2:
        if not isinstance(meta.get("digest"), str) or len(meta["digest"]) != 64:
            raise damaged("digest", f"must be a sha256 in hex, got {_short(meta.get('digest'))}")
        try:
            _check_columns_meta(meta, "columns")
        except ValueError as err:
            raise ValueError(f"{path}: the difficulty-widget metadata is damaged: {err}") from None
    elif "digest" in meta:
        raise damaged("format", "is 1 but the metadata has a checksum (format 2)")
    return meta


def _check_class_names(class_names: Sequence[str]) -> list[str]:
    if isinstance(class_names, str):
        raise ValueError("class_names must be a sequence of names, not one string")
    if not isinstance(class_names, Sequence) and not isinstance(class_names, (np.ndarray, pd.Index, pd.Series)):
        raise ValueError(f"class_names must be a sequence of names, got {type(class_names).__name__}")
    # Strings only: str() would turn b"cat" into "b'cat'" and make 1 and "1" the same class.
    names = [_check_text(str(c), f"class_names[{i}]") for i, c in enumerate(check_names(class_names, "class_names"))]
    if len(names) < 2:
        raise ValueError(f"class_names must name at least 2 classes, got {names}")
    if len(set(names)) != len(names):
        seen: set[str] = set()
        twice = sorted({n for n in names if n in seen or seen.add(n)})
        raise ValueError(f"class_names must be unique; these appear more than once: {twice}")
    return names


def _class_names_from_frame(frame: pd.DataFrame, labels: np.ndarray) -> list[str]:
    top = int(labels.max())
    if "prediction" in frame.columns:
        top = max(top, int(check_labels(frame["prediction"].to_numpy(), name="df['prediction']").max()))
    if top >= MAX_INFERRED_CLASSES:
        column = "df['label']" if int(labels.max()) == top else "df['prediction']"
        raise ValueError(
            f"{column} goes up to {top}, which would make {top + 1} classes named '0'..'{top}'; with no class_names "
            f"at most {MAX_INFERRED_CLASSES} classes are inferred: pass class_names= (one name per class)"
        )
    names = [str(i) for i in range(max(top + 1, 2))]
    if "label_name" in frame.columns:
        pairs = frame[["label", "label_name"]].drop_duplicates()
        if pairs["label"].duplicated().any():
            raise ValueError("df['label_name'] gives more than one name for the same label")
        for label, name in zip(pairs["label"], pairs["label_name"], strict=True):
            if not isinstance(name, str):
                raise TypeError(
                    f"df['label_name'] must hold strings (class names), got {type(name).__name__} {_short(name)}"
                )
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
    if "correct" in frame.columns:
        frame["correct"] = _check_correct(frame["correct"], "df['correct']")
    frame["label_name"] = pd.Categorical.from_codes(labels, categories=class_names)
    split = _split_names(frame["split"]) if "split" in frame.columns else np.full(len(frame), DEFAULT_SPLIT)
    frame["split"] = pd.Categorical(split, categories=sorted(set(split.tolist())))
    for value in frame["split"].cat.categories:
        _check_text(value, "df['split'] value")
    derived = (*BASE_COLUMNS, PREDICTION_NAME) if "prediction" in frame.columns else BASE_COLUMNS
    rest = [c for c in frame.columns if not (isinstance(c, str) and c in derived)]
    if "prediction" in frame.columns:  # the predicted class's name, derived like label_name, right after it
        frame[PREDICTION_NAME] = pd.Categorical.from_codes(frame["prediction"].to_numpy(), categories=class_names)
        rest.insert(rest.index("prediction") + 1, PREDICTION_NAME)
    return _normalise_columns(frame[[*BASE_COLUMNS, *rest]], "df")


def _normalise_table(table: pd.DataFrame, where: str) -> pd.DataFrame:
    """A copy of a summary table that :meth:`Analysis.save` keeps exactly, or a ValueError saying why not."""
    if isinstance(table.columns, pd.MultiIndex):
        raise ValueError(f"{where} has MultiIndex columns; flatten them to strings (e.g. '_'.join(...))")
    names = [_check_column_name(c, where) for c in table.columns]
    out = table.copy()
    out.columns = _column_index(names, name=table.columns.name)
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if column.dtype == object and _object_of_text(column, f"{where} column {names[i]!r}"):
            out.isetitem(i, column.astype(pd.StringDtype(na_value=np.nan)))
        elif isinstance(column.dtype, np.dtype) and column.dtype.kind == "c":
            raise ValueError(
                f"{where} column {names[i]!r} is complex ({column.dtype}): store the real and imaginary parts as two "
                "float columns"
            )
    if out.index.dtype == object and all(isinstance(v, str) for v in out.index):
        out.index = out.index.astype(pd.StringDtype(na_value=np.nan))
    if isinstance(out.index, (pd.DatetimeIndex, pd.TimedeltaIndex)) and out.index.freq is not None:
        out.index = type(out.index)(out.index, freq=None)  # a Parquet file keeps the values, not the freq
    try:
        back = _table_from_text(_table_to_text(out))
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    except Exception as err:  # Arrow raises many kinds of errors for values it cannot convert
        raise ValueError(f"{where} cannot be saved: {type(err).__name__}: {err}") from None
    if (
        not out.index.equals(back.index)
        or type(out.index) is not type(back.index)
        or (out.index.dtype != back.index.dtype or list(out.index.names) != list(back.index.names))
    ):
        raise ValueError(
            f"{where}: its index ({type(out.index).__name__}, {out.index.dtype}) would load back as "
            f"{type(back.index).__name__} ({back.index.dtype}); use a RangeIndex or an index of one scalar type"
        )
    if back.columns.name != out.columns.name:
        raise ValueError(f"{where}: the name of its columns ({out.columns.name!r}) would not be kept")
    for i, name in enumerate(out.columns):
        _require_same(out.iloc[:, i], back.iloc[:, i], f"{where} column {name!r}")
    return out


def _checked_table(name: Any, table: Any) -> pd.DataFrame:
    """A summary table as :meth:`Analysis.add_table` keeps it (and :meth:`Analysis.save` writes it)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"table name must be a non-empty string, got {_short(name)}")
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table {name!r} must be a pandas DataFrame, got {type(table).__name__}")
    return _normalise_table(table, f"table {name!r}")


def _aligned(values: pd.Series | pd.DataFrame, rows: pd.Index, where: str) -> pd.Series | pd.DataFrame:
    """``values`` in the order of ``rows`` when its index holds the same labels (in any order), else a ValueError."""
    index = values.index
    if not isinstance(index, pd.MultiIndex) and index.dtype.kind in "iu":  # row labels are integers
        if index.equals(rows):
            return values
        if len(index) == len(rows) and index.is_unique and bool(index.isin(rows).all()):
            return values.reindex(rows)
    raise ValueError(
        f"{where} has an index ({type(index).__name__}, {index.dtype}, e.g. {_short(index[:5].tolist())}) that is not "
        f"the analysis's rows 0..{len(rows) - 1} in some order; give an 'id' column to match rows on ids, or pass "
        ".to_numpy() to take the values in row order"
    )


def _check_finite_rows(arr: np.ndarray, where: str, block: int = 65536) -> None:
    """A ValueError naming ``where`` if a floating ``arr`` holds NaN or infinity (checked in blocks of rows)."""
    if arr.dtype.kind != "f":
        return
    for start in range(0, len(arr), block):
        bad = ~np.isfinite(arr[start : start + block])
        if bad.any():
            row = start + int(np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))[0])
            raise ValueError(f"{where} contains NaN or infinite values (first in row {row}); expected finite numbers")


def _check_correct(column: pd.Series, where: str) -> pd.Series:
    """A ``correct`` column as booleans: bool or nullable boolean as given, integer 0/1 converted; else refused."""
    dtype = column.dtype
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return column
    if kind in "iu" and bool(column.dropna().isin([0, 1]).all()):
        return column.astype(bool if isinstance(dtype, np.dtype) else "boolean")
    present = column.dropna()
    shown = _short(present.head(3).tolist())
    raise ValueError(
        f"{where} must be boolean (True where the prediction is right) or integer 0/1, got dtype {dtype} with "
        f"values such as {shown}; convert it (e.g. df['correct'] == 'yes') or leave it out to have it derived "
        "from prediction and label"
    )


def _split_names(column: pd.Series) -> np.ndarray:
    """The ``split`` column as text: every row needs a split name (a string or an integer)."""
    missing = column.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)[:5].tolist()
        raise ValueError(
            f"df['split'] has {int(missing.sum())} missing value(s) (rows {rows}: {[column.iloc[r] for r in rows]}); "
            "give every row a split name such as 'train' or 'test'"
        )
    values = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else column
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) or getattr(dtype, "kind", "O") in "biu":
        bad: list[Any] = []
    elif isinstance(dtype, np.dtype) and dtype.kind == "O":
        bad = [v for v in values if not isinstance(v, (str, int, np.integer, np.bool_))]
    else:
        bad = list(values[:3])
    if bad:
        raise ValueError(
            f"df['split'] must hold split names (strings such as 'train' or 'test', or integers), got "
            f"{_short(bad[:3])} ({type(bad[0]).__name__}, dtype {dtype})"
        )
    return column.astype(str).to_numpy()


def frame_of(df: Any) -> pd.DataFrame:
    """The per-instance table of ``df``: an Analysis's ``df``, or the DataFrame itself."""
    if isinstance(df, Analysis):
        return df.df
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame or an Analysis, got {type(df).__name__}")
    return df


# ---------------------------------------------------------------------------------------------------- persistence
#: Format 2 adds page checksums, a whole-content sha256 and exact column names, kinds and provenance types.
#: Format 1 files (no checksum) are still read.
_TAG = "__dw__"
#: The deepest nesting of provenance values kept (deeper is refused rather than recursing without end).
MAX_NESTING = 64
#: The most classes ``from_dataframe`` invents ("0".."C-1") when no class names are given.
MAX_INFERRED_CLASSES = 100_000


def _encode(value: Any, where: str, depth: int = 0, stack: tuple[int, ...] = ()) -> Any:
    """``value`` as JSON that :func:`_decode` turns back into an equal value of the same types: tuples, dicts with
    non-string keys (and dicts using the tag key) are tagged; NumPy scalars become Python scalars."""
    if depth > MAX_NESTING:
        shown = where if len(where) < 80 else where[:60] + "..."
        raise ValueError(f"{shown} is nested more than {MAX_NESTING} levels deep; flatten it")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # np.str_ and other subclasses become Python strings, as they load
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple, dict)):
        if id(value) in stack:
            raise ValueError(f"{where} contains itself (a circular reference)")
        stack = (*stack, id(value))
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value) and _TAG not in value:
                return {str(k): _encode(v, f"{where}[{k!r}]", depth + 1, stack) for k, v in value.items()}
            items = [
                [_encode(k, f"{where} key {k!r}", depth + 1, stack), _encode(v, f"{where}[{k!r}]", depth + 1, stack)]
                for k, v in value.items()
            ]
            return {_TAG: "dict", "items": items}
        items = [_encode(v, f"{where}[{i}]", depth + 1, stack) for i, v in enumerate(value)]
        return items if isinstance(value, list) else {_TAG: "tuple", "items": items}
    raise ValueError(
        f"{where} is a {type(value).__name__} ({_short(value)}); expected str, int, float, bool, None, "
        "or lists, tuples and dicts of these"
    )


def _decode(value: Any, where: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, where) for v in value]
    if isinstance(value, dict):
        tag = value.get(_TAG)
        if tag is None:
            return {k: _decode(v, where) for k, v in value.items()}
        items = value.get("items")
        if tag == "tuple" and isinstance(items, list):
            return tuple(_decode(v, where) for v in items)
        if tag == "dict" and isinstance(items, list) and all(isinstance(p, list) and len(p) == 2 for p in items):
            return {_hashable(_decode(k, where), where): _decode(v, where) for k, v in items}
        raise ValueError(f"{where} holds a malformed tagged value {_short(value)}")
    return value


def _hashable(key: Any, where: str) -> Any:
    try:
        hash(key)
    except TypeError:
        raise ValueError(f"{where} holds an unhashable dict key {_short(key)}") from None
    return key


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_text(text: str, where: str) -> str:
    """``text`` if it can be written as UTF-8 (no lone surrogates), else a ValueError naming ``where``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(
            f"{where} = {text!r} is not valid Unicode text (a lone surrogate at position {err.start}); "
            "it cannot be saved as UTF-8"
        ) from None
    return text


def _check_column_name(name: Any, where: str) -> str | int:
    if isinstance(name, (bool, np.bool_)) or not isinstance(name, (str, int, np.integer)):
        raise ValueError(f"{where} column names must be strings or integers, got {_short(name)}")
    return _check_text(name, f"{where} column name") if isinstance(name, str) else int(name)


def _column_index(names: list[str | int], name: Any = None) -> pd.Index:
    """The columns as pandas builds them by default (all strings: the string dtype; with integers: object), so that
    a frame and the same frame loaded back have the same kind of column index."""
    return pd.Index(names, dtype=None if names else object, name=name)


def _normalise_columns(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """Column names checked (str or int, distinct once written as text); object columns of strings become the
    string dtype (what they load as); columns that a Parquet file cannot hold exactly are refused here."""
    if isinstance(frame.columns, pd.MultiIndex):
        raise ValueError(f"{where} has MultiIndex columns; flatten them to strings (e.g. '_'.join(...))")
    names = [_check_column_name(c, where) for c in frame.columns]
    as_text = pd.Series([str(n) for n in names])
    if as_text.duplicated().any():
        clash = sorted({n for n in as_text[as_text.duplicated(keep=False)]})
        raise ValueError(f"{where} has column names that are the same once written as text: {clash}")
    frame = frame.copy() if frame.columns.tolist() == names else frame.set_axis(names, axis=1)
    frame.columns = _column_index(names)
    trial = []
    for i, name in enumerate(names):
        column = frame.iloc[:, i]
        dtype = column.dtype
        if isinstance(dtype, np.dtype) and dtype.kind == "c":
            raise ValueError(
                f"{where} column {name!r} is complex ({dtype}): a Parquet file cannot hold complex numbers; "
                "store the real and imaginary parts (np.real, np.imag) as two float columns"
            )
        if _always_kept(dtype):
            continue
        if isinstance(dtype, np.dtype) and dtype.kind == "O":
            if _object_of_text(column, f"{where} column {name!r}"):
                frame[name] = column.astype(pd.StringDtype(na_value=np.nan))
        trial.append(name)
    if trial:
        _check_round_trip(frame[trial], where)
    return frame


def _always_kept(dtype: Any) -> bool:
    """Dtypes whose every value a Parquet file keeps exactly (no per-column trial needed): NumPy numbers and
    booleans, Arrow-backed strings (which cannot hold lone surrogates), and categoricals of these."""
    if isinstance(dtype, pd.CategoricalDtype):
        return _always_kept(dtype.categories.dtype)
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow"
    return isinstance(dtype, np.dtype) and dtype.kind in "biuf"


def _object_of_text(column: pd.Series, where: str) -> bool:
    """Whether an object column holds only strings (and missing values); mixed scalar types are refused."""
    present = column[column.notna()]
    kinds = {type(v) for v in present}
    if kinds <= {str}:
        for row, value in present.items():
            _check_text(value, f"{where} row {row}")
        return True
    scalars = {k for k in kinds if k not in (list, dict, tuple, np.ndarray)}
    if len(kinds) > 1 and scalars:
        shown = sorted(k.__name__ for k in kinds)
        raise ValueError(f"{where} mixes values of types {shown}; a column must hold one type (convert it first)")
    return False


def _check_round_trip(frame: pd.DataFrame, where: str) -> None:
    """Refuse the columns of ``frame`` that would not load back exactly (through Parquet, in memory)."""
    import pyarrow.parquet as pq

    for i, name in enumerate(frame.columns):
        part = frame.iloc[:, [i]]
        try:
            table, columns = _frame_to_arrow(part, index=False)
            sink = io.BytesIO()
            pq.write_table(table, sink)
            back = _frame_from_arrow(pq.read_table(io.BytesIO(sink.getvalue())), columns)
        except Exception as err:  # Arrow raises many kinds of errors for values it cannot convert
            raise ValueError(
                f"{where} column {name!r} ({part.dtypes.iloc[0]}) cannot be saved to Parquet: {err}; convert it to "
                "numbers, strings, lists of one scalar type, or a categorical"
            ) from None
        _require_same(part.iloc[:, 0], back.iloc[:, 0], f"{where} column {name!r}")


def _require_same(before: pd.Series, after: pd.Series, where: str) -> None:
    if str(before.dtype) != str(after.dtype) or before.dtype != after.dtype:
        raise ValueError(
            f"{where} ({before.dtype}) would load back as {after.dtype}; convert it to a type Parquet keeps "
            "(numbers, strings, lists of one scalar type, a categorical, a nullable pandas dtype)"
        )
    if _series_digest(before) == _series_digest(after):
        return
    for row in range(len(before)):
        a, b = _cell_bytes(before.iloc[row]), _cell_bytes(after.iloc[row])
        if a != b:
            raise ValueError(
                f"{where} cannot be saved exactly: row {row} holds {_short(before.iloc[row])} "
                f"({type(before.iloc[row]).__name__}) but would load as {_short(after.iloc[row])} "
                f"({type(after.iloc[row]).__name__}); use one scalar type per column (lists of one scalar type)"
            )
    raise ValueError(f"{where} ({before.dtype}) would not load back exactly; convert it to numbers or strings")


def _frame_to_arrow(frame: pd.DataFrame, *, index: bool) -> tuple[Any, list[dict[str, Any]]]:
    """``frame`` as an Arrow table (text column names) and the description that :func:`_frame_from_arrow` needs
    to rebuild it exactly: the original names, and per column its kind (plain, list or categorical)."""
    import pyarrow as pa

    columns = []
    for i, name in enumerate(frame.columns):
        column = frame.iloc[:, i]
        entry: dict[str, Any] = {"name": _encode(name, "column name"), "kind": "plain"}
        if isinstance(column.dtype, pd.CategoricalDtype):
            entry.update(
                kind="category",
                categories=_encode(column.cat.categories.tolist(), f"column {name!r} categories"),
                categories_dtype=str(column.cat.categories.dtype),
                ordered=bool(column.cat.ordered),
            )
        elif isinstance(column.dtype, pd.StringDtype):  # Arrow keeps the text, not pandas' storage of it
            entry["string"] = {"storage": column.dtype.storage, "na": "NA" if column.dtype.na_value is pd.NA else "nan"}
        columns.append(entry)
    renamed = frame.set_axis([str(c) for c in frame.columns], axis=1)
    table = pa.Table.from_pandas(renamed, preserve_index=None if index else False)
    for entry, field in zip(columns, table.schema, strict=False):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            entry["kind"] = "list"
    return table, columns


def _frame_from_arrow(table: Any, columns: list[dict[str, Any]]) -> pd.DataFrame:
    frame = table.to_pandas()
    if len(frame.columns) != len(columns):
        raise ValueError(f"the file has {len(frame.columns)} columns but its metadata describes {len(columns)}")
    names = [_decode(entry["name"], "column name") for entry in columns]
    frame.columns = _column_index(names)
    for i, entry in enumerate(columns):
        column = frame.iloc[:, i]
        if entry["kind"] == "list":
            frame.isetitem(i, pd.Series([_as_lists(v) for v in column], index=frame.index, dtype=object))
        elif entry["kind"] == "category":
            categories = pd.Index(_decode(entry["categories"], "categories"), dtype=entry["categories_dtype"])
            values = column.astype(object) if isinstance(column.dtype, pd.CategoricalDtype) else column
            cat = pd.Categorical(np.asarray(values, dtype=object), categories=categories, ordered=entry["ordered"])
            frame.isetitem(i, pd.Series(cat, index=frame.index))
        elif "string" in entry:
            string = entry["string"]
            dtype = pd.StringDtype(string["storage"], na_value=pd.NA if string["na"] == "NA" else np.nan)
            if column.dtype != dtype:
                frame.isetitem(i, column.astype(dtype))
    return frame


def _as_lists(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_as_lists(v) for v in value] if value.dtype == object else value.tolist()
    return value


def _cell_bytes(value: Any) -> bytes:
    """A type-tagged, unambiguous encoding of one cell (the digest of object columns is built from these)."""
    if value is None:
        return b"N"
    if isinstance(value, (bool, np.bool_)):
        return b"B1" if value else b"B0"
    if isinstance(value, (int, np.integer)):
        return b"I" + str(int(value)).encode() + b";"
    if isinstance(value, (float, np.floating)):
        return b"F" + (b"nan" if value != value else np.float64(value).tobytes())
    if isinstance(value, str):
        raw = value.encode("utf-8", "surrogatepass")
        return b"S" + str(len(raw)).encode() + b":" + raw
    if isinstance(value, bytes):
        return b"Y" + str(len(value)).encode() + b":" + value
    if isinstance(value, (list, tuple)):
        return (
            (b"L" if isinstance(value, list) else b"T")
            + str(len(value)).encode()
            + b"["
            + b"".join(_cell_bytes(v) for v in value)
            + b"]"
        )
    if isinstance(value, dict):
        return (
            b"D"
            + str(len(value)).encode()
            + b"{"
            + b"".join(_cell_bytes(k) + _cell_bytes(v) for k, v in value.items())
            + b"}"
        )
    if isinstance(value, np.ndarray):
        return (
            b"A" + str(value.dtype).encode() + str(value.shape).encode() + b"".join(_cell_bytes(v) for v in value.flat)
        )
    return b"R" + type(value).__name__.encode() + b":" + repr(value).encode("utf-8", "surrogatepass")


def _series_digest(series: pd.Series) -> bytes:
    h = hashlib.sha256(str(series.dtype).encode())
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        h.update(b"ordered" if dtype.ordered else b"unordered")
        h.update(_series_digest(pd.Series(dtype.categories)))
        h.update(np.ascontiguousarray(series.cat.codes.to_numpy()).tobytes())
    elif isinstance(dtype, np.dtype) and dtype.kind != "O":
        values = np.ascontiguousarray(series.to_numpy())
        if dtype.kind in "fc":
            values = np.where(np.isnan(values), np.nan, values).astype(dtype)
        h.update(values.tobytes())
    elif isinstance(dtype, pd.StringDtype):
        missing = series.isna().to_numpy()
        h.update(np.packbits(missing).tobytes())
        raw = [v.encode("utf-8", "surrogatepass") for v in series[~missing].tolist()]
        h.update(np.array([len(r) for r in raw], dtype=np.int64).tobytes() + b"".join(raw))
    else:
        missing = series.isna().to_numpy() if not (isinstance(dtype, np.dtype)) else np.zeros(len(series), bool)
        h.update(np.packbits(missing).tobytes())
        for value, gone in zip(series.astype(object), missing, strict=True):
            h.update(b"-" if gone else _cell_bytes(value))
    return h.digest()


def _frame_digest(frame: pd.DataFrame, h: Any) -> None:
    h.update(repr(type(frame.index).__name__).encode())
    h.update(_series_digest(frame.index.to_series()) + repr(frame.index.names).encode())
    if isinstance(frame.index, pd.RangeIndex):
        h.update(repr((frame.index.start, frame.index.stop, frame.index.step)).encode())
    for i, name in enumerate(frame.columns):
        h.update(_cell_bytes(name) + _series_digest(frame.iloc[:, i]))


def _content_digest(frame: pd.DataFrame, tables: Mapping[str, pd.DataFrame], meta_text: str) -> str:
    h = hashlib.sha256(b"difficulty-widget analysis v2\0")
    _frame_digest(frame, h)
    for name in sorted(tables):
        h.update(_cell_bytes(name))
        _frame_digest(tables[name], h)
    h.update(meta_text.encode("utf-8"))
    return h.hexdigest()


def _meta_text(meta: Mapping[str, Any]) -> str:
    return json.dumps(meta, sort_keys=True, separators=(",", ":"))


def _table_to_text(table: pd.DataFrame) -> str:
    """A summary table as base64 Arrow IPC, with the description that rebuilds its column names and kinds."""
    import pyarrow as pa

    arrow, columns = _frame_to_arrow(table, index=True)
    names = _encode(table.columns.name, "the name of the columns")
    extra = {METADATA_KEY: json.dumps({"columns": columns, "columns_name": names}).encode()}
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), **extra})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, arrow.schema) as writer:
        writer.write_table(arrow)
    return base64.b64encode(sink.getvalue().to_pybytes()).decode("ascii")


def _table_from_text(text: str) -> pd.DataFrame:
    import pyarrow as pa

    if not isinstance(text, str):
        raise ValueError(f"expected base64 text, got {type(text).__name__}")
    arrow = pa.ipc.open_stream(base64.b64decode(text.encode("ascii"), validate=True)).read_all()
    raw = (arrow.schema.metadata or {}).get(METADATA_KEY)
    if raw is None:  # format 1: the table was written without a description
        return arrow.to_pandas()
    description = json.loads(raw)
    frame = _frame_from_arrow(arrow, _check_columns_meta(description, "tables[...].columns"))
    frame.columns.name = _decode(description.get("columns_name"), "the name of the columns")
    return frame


def _check_columns_meta(value: Any, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, dict) or not isinstance(value.get("columns"), list):
        raise ValueError(f"field {field!r} must be a list of column descriptions")
    columns = value["columns"]
    for i, entry in enumerate(columns):
        ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), (str, int))
            and not isinstance(entry.get("name"), bool)
        )
        ok = ok and entry.get("kind") in ("plain", "list", "category")
        if ok and entry["kind"] == "category":
            ok = isinstance(entry.get("categories"), list) and isinstance(entry.get("ordered"), bool)
            ok = ok and isinstance(entry.get("categories_dtype"), str)
        if ok and "string" in entry:
            string = entry["string"]
            ok = isinstance(string, dict) and string.get("storage") in ("python", "pyarrow")
            ok = ok and string.get("na") in ("NA", "nan") and entry["kind"] == "plain"
        if not ok:
            raise ValueError(f"field {field!r}: entry {i} is not a valid column description: {_short(entry)}")
    return columns


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no other way to read it; put it straight back
    os.umask(mask)
    return mask


def _as_path(path: Any, name: str = "path") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    text = os.fspath(path)
    if isinstance(text, bytes) or not text:
        raise ValueError(f"{name} must be a non-empty text path, got {path!r}")
    if "\x00" in text:
        raise ValueError(f"{name} {text!r} contains a NUL character ('\\x00'), which no file name can hold")
    return Path(text).expanduser()


def _path_error(err: OSError, path: Path, action: str, *, folders: bool = False) -> ValueError | None:
    """A ValueError naming ``path`` for an OSError saying that the path itself cannot name a file (too long, a
    symbolic link loop, a file where a folder should be: ``folders`` when creating them may say EEXIST); None for
    other errors (the disk, permissions), which stay as they are."""
    if err.errno == errno.ENOTDIR or (folders and err.errno == errno.EEXIST):
        problem = "one of the folders on it is a file"
    elif err.errno in (errno.ENAMETOOLONG, errno.ELOOP):
        problem = os.strerror(err.errno).lower()
    else:
        return None
    return ValueError(f"path {str(path)!r} cannot be {action}: {problem}")
