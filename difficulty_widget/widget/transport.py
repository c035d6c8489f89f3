"""The one place where the instance table and selections become bytes for the browser.

The table travels once as an Arrow IPC stream (pyarrow), with floats as float32, integers as int32 and
strings dictionary-encoded (nullable integers and booleans with missing values as float32 with NaN); a column that
float32 would change beyond rounding (a finite value beyond float32's range, a nonzero one that would underflow to
zero or lose its digits as a subnormal, a nullable integer beyond 2**24) travels as float64, and integers beyond
int32 as float64 (exact within +-2**53, the browser's numbers); selections travel as little-endian uint32 row
positions. Column names the browser's row objects cannot hold (:data:`RESERVED_NAMES`) are refused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

#: Names no column sent to the browser may have: the front-end builds each row as ``{_i, _sel, ...columns}`` (row
#: position and selection flag), and Vega refuses (or JavaScript objects mishandle) the names of
#: ``Object.prototype``'s properties as fields.
RESERVED_NAMES = (
    "_i",
    "_sel",
    "__proto__",
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
)
_F32 = np.finfo(np.float32)
_F32_EXACT_INTS = 2**24  # every integer up to this is a float32


def check_column_names(columns: list[str]) -> None:
    """A ValueError naming the first column of ``columns`` the browser cannot hold (see :data:`RESERVED_NAMES`)."""
    for column in columns:
        if column in RESERVED_NAMES:
            raise ValueError(
                f"the column {column!r} has a name the Explorer's browser side reserves (the rows are JavaScript "
                f"objects {{_i, _sel, ...columns}}, and Vega refuses Object.prototype's names as fields: "
                f"{list(RESERVED_NAMES)}); rename it, e.g. analysis.df.rename(columns={{{column!r}: "
                f"{column.strip('_') + '_value'!r}}})"
            )


def _float_array(values: pd.Series) -> pa.Array:
    """Floats as float32 when that only rounds them, else as float64 (no value becomes inf, 0 or a subnormal);
    missing values as NaN."""
    if values.dtype in (np.float32, np.float16):
        return pa.array(values.to_numpy(dtype=np.float32))
    wide = values.to_numpy(dtype=np.float64, na_value=np.nan)
    magnitude = np.abs(wide[np.isfinite(wide)])
    narrow = magnitude.size == 0 or (
        magnitude.max() <= _F32.max and not ((magnitude > 0) & (magnitude < _F32.smallest_normal)).any()
    )
    return pa.array(wide.astype(np.float32) if narrow else wide)


def table_columns(df: pd.DataFrame) -> list[str]:
    """The columns the views use: id, label, split, and every numeric, boolean or categorical column."""
    keep = ["id", "label", "split"]
    for column in df.columns:
        if column in keep or column in ("label_name", "prediction_name"):  # the browser derives the names
            continue
        dtype = df[column].dtype
        numeric = pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)
        if numeric or isinstance(dtype, pd.CategoricalDtype):  # categories travel dictionary-encoded
            keep.append(column)
    return keep


def table_to_ipc(df: pd.DataFrame, columns: list[str] | None = None) -> bytes:
    """Arrow IPC stream bytes of ``df[columns]`` in compact types."""
    columns = table_columns(df) if columns is None else columns
    check_column_names(columns)
    arrays, names = [], []
    for column in columns:
        values = df[column]
        if values.hasnans and (pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_integer_dtype(values.dtype)):
            wide = values.to_numpy(dtype=np.float64, na_value=np.nan)  # nullable with <NA>: NaN
            exact = not (np.abs(wide[np.isfinite(wide)]) > _F32_EXACT_INTS).any()
            array = pa.array(wide.astype(np.float32) if exact else wide)
        elif pd.api.types.is_bool_dtype(values.dtype):
            array = pa.array(values.to_numpy(dtype=bool))
        elif pd.api.types.is_integer_dtype(values.dtype):
            ints = values.to_numpy()
            fits = ints.size == 0 or (ints.min() >= np.iinfo(np.int32).min and ints.max() <= np.iinfo(np.int32).max)
            array = pa.array(ints.astype(np.int32 if fits else np.float64))
        elif pd.api.types.is_numeric_dtype(values.dtype):
            array = _float_array(values)
        elif isinstance(values.dtype, pd.CategoricalDtype):
            as_text = values.cat.rename_categories([str(c) for c in values.cat.categories])
            array = pa.array(as_text)  # dictionary-encoded as it is; missing values stay null
        else:
            text = values.astype(object).where(values.notna(), None)
            array = pa.array([None if v is None else str(v) for v in text], type=pa.string()).dictionary_encode()
        arrays.append(array)
        names.append(column)
    table = pa.Table.from_arrays(arrays, names=names)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def positions_to_bytes(positions: np.ndarray) -> bytes:
    """Row positions as little-endian uint32 bytes (the selection's form on the wire)."""
    return np.ascontiguousarray(positions, dtype="<u4").tobytes()


def bytes_to_positions(buffer: bytes | bytearray | memoryview) -> np.ndarray:
    """Little-endian uint32 bytes from the browser back to int64 row positions (a ValueError or TypeError that
    says what arrived when it is not such bytes)."""
    if isinstance(buffer, memoryview):
        data = buffer.tobytes()
    elif isinstance(buffer, (bytes, bytearray)):
        data = bytes(buffer)
    else:
        raise TypeError(
            f"selection: the front-end must send bytes of uint32 row positions, got {type(buffer).__name__} "
            f"{buffer!r:.100}"
        )
    if len(data) % 4:
        raise ValueError(
            f"selection: the front-end sent {len(data)} bytes, not a whole number of uint32 row positions (4 bytes)"
        )
    return np.frombuffer(data, dtype="<u4").astype(np.int64)
