"""Typed exceptions, and number validation. The library raises these; only the CLI turns them
into exit codes.

Number validation is defined here once: :func:`check_number` (a finite real in a range) and
:func:`check_positive` (its common case); the optimizers, schedules, the loop and the command
line all call them, so a bad number gets the same sentence wherever it is given.
"""

from __future__ import annotations

import math
import numbers


class DescendError(Exception):
    """Base class of every error descend raises on purpose."""


class ParameterError(DescendError, ValueError):
    """An argument is out of its range or of the wrong kind (a usage error; the CLI exits 2)."""


class DataError(DescendError, ValueError):
    """The data cannot be used: unreadable, non-numeric, missing or non-finite values (the CLI exits 1)."""


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_number(name: str, value, lo: float = -math.inf, hi: float = math.inf, *, lo_open: bool = False,
                 hi_open: bool = False, integer: bool = False):
    """Return ``value`` (an int when ``integer``) if it is a finite real number in the range
    [lo, hi] (``lo_open``/``hi_open`` exclude an end); raise ParameterError naming ``name`` otherwise.

    >>> check_number("--lr", float("inf"), 0, lo_open=True)
    Traceback (most recent call last):
    descend.errors.ParameterError: --lr must be a finite number > 0; got inf.
    """
    kind = "an integer" if integer else "a finite number"
    ok = _is_real(value) and math.isfinite(value) and (not integer or float(value).is_integer())
    if ok:
        ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        bound = _range(lo, hi, lo_open, hi_open, integer)
        raise ParameterError(f"{name} must be {kind}{' ' + bound if bound else ''}; got {value!r}.")
    return int(value) if integer else value


def _range(lo, hi, lo_open, hi_open, integer) -> str:
    fmt = (lambda v: f"{int(v):,}".replace(",", "")) if integer else (lambda v: f"{v:g}")
    if hi == math.inf:
        if lo == -math.inf:
            return ""
        return f"{'>' if lo_open else '>='} {fmt(lo)}"
    if lo == -math.inf:
        return f"{'<' if hi_open else '<='} {fmt(hi)}"
    return f"in {'(' if lo_open else '['}{fmt(lo)}, {fmt(hi)}{')' if hi_open else ']'}"


def check_positive(name: str, value, *, integer: bool = False, allow_zero: bool = False):
    """Return ``value`` if it is a finite number > 0 (>= 0 with ``allow_zero``); raise ParameterError otherwise."""
    return check_number(name, value, 0, lo_open=not allow_zero, integer=integer)


MAX_SEED = 2**63 - 1


def check_seed(seed, name: str = "seed"):
    """A seed of the row order: an integer in [0, 2**63 - 1] (NumPy's SeedSequence takes no negatives)."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if 0 <= seed <= MAX_SEED:
            return int(seed)
    raise ParameterError(f"{name} must be an integer in [0, {MAX_SEED}] (or None for a fresh one); got {seed!r}.")


class StoreError(DataError):
    """The run store cannot be used as asked: not a store, a damaged or newer database, an unknown run (exit 1)."""


class EngineError(DescendError, RuntimeError):
    """An engine lost part of its machinery mid-run (e.g. a Dask worker died and its data could not
    be recomputed). ``minimize`` stops on it as on Ctrl-C: the best weights, a checkpoint, a message."""
