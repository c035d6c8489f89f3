"""The one place where the instance table and selections become bytes for the browser.

The table travels once as an Arrow IPC stream (pyarrow), with floats as float32, integers as int32 and
strings dictionary-encoded (nullable integers and booleans with missing values as float32 with NaN);
selections travel as little-endian uint32 row positions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


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
    arrays, names = [], []
    for column in columns:
        values = df[column]
        if values.hasnans and (pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_integer_dtype(values.dtype)):
            array = pa.array(values.to_numpy(dtype=np.float32, na_value=np.nan))  # nullable with <NA>: NaN
        elif pd.api.types.is_bool_dtype(values.dtype):
            array = pa.array(values.to_numpy(dtype=bool))
        elif pd.api.types.is_integer_dtype(values.dtype):
            ints = values.to_numpy()
            fits = ints.size == 0 or (ints.min() >= np.iinfo(np.int32).min and ints.max() <= np.iinfo(np.int32).max)
            array = pa.array(ints.astype(np.int32 if fits else np.float64))
        elif pd.api.types.is_numeric_dtype(values.dtype):
            array = pa.array(values.to_numpy(dtype=np.float32, na_value=np.nan))
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
