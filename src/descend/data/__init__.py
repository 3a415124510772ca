"""Data sources: where the rows of a fit come from, in memory or streamed from disk.

    src = ds.data.arrays(X, y)                                  # in memory
    src = ds.data.csv("data.csv.gz", target="y")                # streamed with pyarrow's CSV reader
    src = ds.data.parquet("data/", target="y", memory="256MB")  # a file, a folder or a glob
    obj = ds.LinearRegression(src, bias=True)                   # any linear objective over a source
    ds.minimize(obj, w0, batch_size=None | 1 | k, shuffle=False | "block")

A source knows ``n_rows``, ``n_features`` and ``feature_names`` without reading the data
(Parquet metadata; a CSV file counts its rows in one pass the first time ``n_rows`` is asked)
and yields chunks of rows that fit its ``memory`` budget. :mod:`descend.data.engine` runs the
one loop's epochs over those chunks with the in-memory kernels; see there for the numbers it
promises. pyarrow is imported when a file is first opened, never by ``import descend``.
"""

from __future__ import annotations

import importlib

from .sources import Source, arrays, csv, parquet, parse_memory, convert, DEFAULT_MEMORY

__all__ = ["Source", "arrays", "csv", "parquet", "dask", "parse_memory", "convert", "DEFAULT_MEMORY"]


def __getattr__(name):
    if name == "dask":  # ds.data.dask(...): its own module, imported (with dask) on first use
        return importlib.import_module(".dask", __name__).dask
    raise AttributeError(f"module 'descend.data' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"dask"})
