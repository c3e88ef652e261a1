"""Column operations on pandas frames of Arrow strings that pandas does slowly."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _array(values) -> pa.Array:
    if isinstance(values, set | frozenset | dict):
        values = list(values)
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def isin(column, values) -> np.ndarray:
    """column.isin(values) as a boolean array, through Arrow: pandas' Arrow strings turn `values` into a
    Python list one value at a time (0.8 s for 55,000 report ids, against milliseconds). Missing values are
    never in."""
    col, wanted = _array(column), _array(values)
    if len(col) == 0:
        return np.zeros(0, dtype=bool)
    if wanted.type != col.type:
        wanted = wanted.cast(col.type) if len(wanted) else pa.array([], col.type)
    return pc.fill_null(pc.is_in(col, value_set=wanted), False).to_numpy(zero_copy_only=False)
