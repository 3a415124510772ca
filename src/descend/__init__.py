"""descend: fit models by gradient descent and see why the fit works or fails.

    import descend as ds
    X, y = ds.datasets.lecture()
    obj = ds.LinearRegression(X, y, bias=False)
    res = ds.minimize(obj, [1.0], optimizer=ds.optim.SGD(lr=0.01), batch_size=None, epochs=100)

Heavy modules (plotting, scikit-learn estimators, compiled kernels) load on first use.
"""

from __future__ import annotations

import importlib

from . import batching, datasets, diagnose, monitors, optim, schedules, search
from .diagnose import smooth
from .errors import DataError, DescendError, ParameterError
from .loop import History, Result, minimize
from .objectives import Function, LinearModel, LinearRegression, LogisticRegression, Objective, SoftmaxRegression

__version__ = "0.1.0"

__all__ = [
    "datasets", "data", "optim", "schedules", "search", "diagnose", "monitors", "batching", "plot", "explore",
    "Objective", "LinearModel", "LinearRegression", "LogisticRegression", "SoftmaxRegression", "Function",
    "minimize", "Result", "History", "smooth",
    "DescendError", "DataError", "ParameterError",
]

from . import functions  # noqa: E402  the 2-D test landscapes
from . import compare  # noqa: E402  ds.compare(obj, w0, runs=...): the module is callable as its function

__all__ += ["functions", "compare"]

_LAZY_MODULES = {"plot", "data", "explore", "runs"}
_LAZY_NAMES: dict[str, str] = {"GDRegressor": "estimators", "GDClassifier": "estimators", "lr_find": "lrfind"}


def __getattr__(name):
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'descend' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY_MODULES | set(_LAZY_NAMES))
