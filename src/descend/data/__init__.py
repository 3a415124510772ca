"""Data sources: where the rows of an objective live, in memory, on disk or on a cluster.

    src = ds.data.arrays(X, y)                                  # in memory
    src = ds.data.csv("data.csv.gz", target="y")                # streamed with pyarrow's CSV reader
    src = ds.data.parquet("data/", target="y", memory="256MB")  # a file, a folder or a glob
    src = ds.data.dask(X_da, y_da)                              # row chunks on a Dask cluster
    obj = ds.LinearRegression(src, bias=True)                   # any linear objective over a source
    ds.minimize(obj, w0, batch_size=None | 1 | k, shuffle=False | "block")

A file source knows ``n_rows``, ``n_features`` and ``feature_names`` without reading the data
(Parquet metadata; a CSV file counts its rows in one pass the first time ``n_rows`` is asked)
and yields chunks of rows that fit its ``memory`` budget; :mod:`descend.data.engine` runs the
one loop's epochs over those chunks with the in-memory kernels (see there for the numbers it
promises). The Dask source lives in :mod:`descend.data.dask_source`. Nothing heavy is imported
here: pyarrow when a file is first opened, Dask when ``ds.data.dask`` is first used.
"""

from __future__ import annotations

import importlib

from .sources import DEFAULT_MEMORY, Source, arrays, convert, csv, parquet, parse_memory

__all__ = ["Source", "arrays", "csv", "parquet", "dask", "parse_memory", "convert", "DEFAULT_MEMORY"]

# name -> (module, attribute). The module is not called ``dask.py``: importing a submodule binds
# its name on this package, which would shadow the function ``dask`` with the module.
_LAZY = {"dask": ("dask_source", "dask"), "DaskSource": ("dask_source", "DaskSource")}


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'descend.data' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
