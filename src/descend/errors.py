"""Typed exceptions. The library raises these; only the CLI turns them into exit codes."""

from __future__ import annotations

import math
import numbers


class DescendError(Exception):
    """Base class of every error descend raises on purpose."""


class ParameterError(DescendError, ValueError):
    """An argument is out of its range or of the wrong kind (a usage error; the CLI exits 2)."""


class DataError(DescendError, ValueError):
    """The data cannot be used: unreadable, non-numeric, missing or non-finite values (the CLI exits 1)."""


def check_positive(name: str, value, *, integer: bool = False, allow_zero: bool = False):
    """Return ``value`` if it is a finite number > 0 (>= 0 with ``allow_zero``); raise ParameterError otherwise."""
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if ok:
        ok = value >= 0 if allow_zero else value > 0
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"{name} must be {kind} {bound}; got {value!r}.")
    return int(value) if integer else value


class EngineError(DescendError, RuntimeError):
    """An engine lost part of its machinery mid-run (e.g. a Dask worker died and its data could not
    be recomputed). ``minimize`` stops on it as on Ctrl-C: the best weights, a checkpoint, a message."""
