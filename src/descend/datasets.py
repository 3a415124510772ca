"""Data: the lecture's four points, synthetic problems, and a CSV reader for the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import DataError, ParameterError, check_positive

__all__ = ["lecture", "linear", "classification", "read_csv"]


def lecture():
    """The lecture's data: x = [1, 2, 3, 4] as a (4, 1) matrix and y = 2x.

    Its mean squared error is cost(w) = 7.5 (w - 2)^2 (no bias).
    """
    X = np.array([[1.0], [2.0], [3.0], [4.0]])
    return X, 2.0 * X[:, 0]


def linear(n: int = 1000, d: int = 5, *, noise: float = 0.1, bias: float = 0.0, seed=0,
           correlation: float = 0.0, return_coef: bool = False, dtype=np.float64):
    """Synthetic regression data y = X @ coef + bias + noise * N(0, 1).

    X has standard normal columns, independent by default; with ``correlation`` = rho the
    columns are AR(1)-correlated (corr(x_i, x_j) = rho^|i - j|), which makes the problem
    ill-conditioned as real data often is (condition number about ((1 + rho) / (1 - rho))^2).
    coef is drawn from N(0, 1); everything comes from ``np.random.default_rng(seed)``. With
    ``return_coef=True`` the true parameters are returned too, in descend's layout: the
    coefficients, then the bias last.
    """
    n = check_positive("n", n, integer=True)
    d = check_positive("d", d, integer=True)
    check_positive("noise", noise, allow_zero=True)
    if not -1 < correlation < 1:
        raise ParameterError(f"correlation must be in (-1, 1); got {correlation!r}.")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if correlation:
        # x_j = rho x_{j-1} + sqrt(1 - rho^2) z_j keeps unit variance with AR(1) correlation
        for j in range(1, d):
            X[:, j] = correlation * X[:, j - 1] + np.sqrt(1 - correlation**2) * X[:, j]
    coef = rng.standard_normal(d)
    y = X @ coef + bias + noise * rng.standard_normal(n)
    X, y = X.astype(dtype, copy=False), y.astype(dtype, copy=False)
    if return_coef:
        return X, y, np.append(coef, bias)
    return X, y


def classification(n: int = 1000, d: int = 5, *, seed=0, scale: float = 2.0, return_coef: bool = False):
    """Synthetic binary labels: y ~ Bernoulli(sigmoid(X @ coef)) with coef ~ scale * N(0, 1) / sqrt(d)."""
    n = check_positive("n", n, integer=True)
    d = check_positive("d", d, integer=True)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    coef = scale * rng.standard_normal(d) / np.sqrt(d)
    p = 1.0 / (1.0 + np.exp(-(X @ coef)))
    y = (rng.random(n) < p).astype(np.float64)
    return (X, y, coef) if return_coef else (X, y)


def read_csv(path, target: str, features=None):
    """Read a CSV file with a header row into (X, y, feature_names).

    Every selected column must be numeric and complete; the first bad cell is reported
    with its file, 1-based data row (the header is row 0) and column.
    """
    import pandas as pd  # lazy: pandas is heavy

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file.")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a CSV file.")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot be read as CSV ({reason}).") from None
    columns = [str(c).strip() for c in frame.columns]
    frame.columns = columns
    if target not in columns:
        raise ParameterError(f"{path}: no column named {target!r} (--target); the columns are {', '.join(columns)}.")
    if features is None:
        features = [c for c in columns if c != target]
    else:
        features = list(features)
        for name in features:
            if name not in columns:
                raise ParameterError(f"{path}: no column named {name!r} (--features); "
                                     f"the columns are {', '.join(columns)}.")
        if target in features:
            raise ParameterError(f"{path}: the target column {target!r} is also listed as a feature.")
    if not features:
        raise DataError(f"{path}: there are no feature columns besides the target {target!r}.")
    if len(frame) < 2:
        raise DataError(f"{path}: needs at least 2 data rows to fit; found {len(frame)}.")
    values = {}
    for name in [*features, target]:
        text = frame[name].str.strip()
        number = pd.to_numeric(text, errors="coerce")
        bad = number.isna() | ~np.isfinite(number.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            cell = text.iloc[row]
            what = "is empty" if cell in ("", "nan", "NaN", "NA", "null") else f"is not a finite number ({cell!r})"
            raise DataError(f"{path}: row {row + 1}, column {name!r} {what}.")
        values[name] = number.to_numpy(dtype=np.float64)
    X = np.column_stack([values[c] for c in features])
    return X, values[target], features
