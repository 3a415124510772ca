"""Data sources: where the rows of an objective live.

``ds.data.dask(X, y)`` or ``ds.data.dask(frame, target="y")``: row chunks on a Dask cluster
(:mod:`descend.data.dask_source`). Each source is imported on first use, so ``import descend``
loads no Dask.
"""

from __future__ import annotations

import importlib

__all__ = ["dask"]

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
