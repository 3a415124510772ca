"""Data: the lecture's four points, synthetic problems, and a CSV reader for the command line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError, ParameterError, check_positive

__all__ = ["lecture", "linear", "classification", "read_csv", "load_csv", "Table"]


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


@dataclass
class Table:
    """A CSV file read for fitting: ``X`` (rows, features) and ``y`` as float64, the feature names,
    and for labels (``labels=True``) the two original labels that became 0 and 1 (``classes``)."""

    X: np.ndarray
    y: np.ndarray
    features: list
    target: str
    path: Path
    classes: tuple | None = None
    delimiter: str = ","

    @property
    def n_rows(self) -> int:
        return len(self.y)

    def labels_note(self) -> str | None:
        """"labels: 'no' -> 0, 'yes' -> 1" when the labels were mapped, else None."""
        if self.classes is None:
            return None
        return f"labels of {self.target!r}: " + ", ".join(f"{c!r} -> {i}" for i, c in enumerate(self.classes))


def read_csv(path, target: str, features=None):
    """Read a CSV file with a header row into (X, y, feature_names); see :func:`load_csv`."""
    t = load_csv(path, target, features)
    return t.X, t.y, t.features


_LABELS_RULE = "two labels: 0 and 1, -1 and 1, or two names (mapped to 0 and 1 in sorted order)"


def select_columns(path, columns, target: str, features, sep=","):
    """(features, target) checked against a file's header ``columns``: every name exists, none is
    listed twice, the target is not a feature, at least one feature, no unnamed column used.
    The one place these checks and their messages live (the streamed readers call it too)."""
    _check_names(path, columns)
    if target not in columns:
        raise ParameterError(_no_column(path, target, "--target", columns, sep))
    if features is None:
        features = [c for c in columns if c != target]
    else:
        features = [features] if isinstance(features, str) else [str(f) for f in features]
        for name in features:
            if name not in columns:
                raise ParameterError(_no_column(path, name, "--features", columns, sep))
        dup = [f for f in dict.fromkeys(features) if features.count(f) > 1]
        if dup:
            raise ParameterError(f"{path}: --features names column {dup[0]!r} twice.")
        if target in features:
            raise ParameterError(f"{path}: the target column {target!r} is also listed as a feature.")
    if not features:
        raise DataError(f"{path}: there are no feature columns besides the target {target!r}.")
    empty = [i for i, c in enumerate(columns) if c == "" and (c in features or c == target)]
    if empty:
        raise DataError(f"{path}: column {empty[0] + 1} has no name in the header.")
    return features, target


def load_csv(path, target: str, features=None, *, labels: bool = False, scale_check: bool = True) -> Table:
    """Read a CSV file with a header row for fitting.

    The good path parses the selected columns with pandas' C engine straight into float64;
    only when that fails (or leaves a non-finite value) does a slow path read the cells as
    text to report the first bad cell with its file, 1-based data row (the header is row 0)
    and column. Every selected column must be numeric and complete.

    - The delimiter is ',' unless the header has none and has ';' or tabs (then that one).
    - A trailing delimiter on every line is ignored; header names must be unique and not empty.
    - ``labels=True`` reads the target as class labels for logistic regression: 0 and 1, or
      -1 and 1, or two strings, mapped to 0 and 1 (``Table.classes`` keeps the originals).
    - ``scale_check``: refuse a column whose values are so large that squaring them overflows
      float64 in a mean over the rows (see :func:`descend.objectives.overflowing_columns`).
    """
    import pandas as pd  # lazy: pandas is heavy

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file.")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a CSV file.")
    header, sep = _header(path)
    columns = [h.strip() for h in header]
    while len(columns) > 1 and columns[-1] == "":  # "a,b,y," : a trailing delimiter, not a column
        columns.pop()
    features, target = select_columns(path, columns, str(target), features, sep)
    index = {c: i for i, c in enumerate(columns)}
    selected = [*features, target]
    usecols = [index[c] for c in selected]
    read = dict(sep=sep, header=0, index_col=False, usecols=usecols, engine="c")
    X = y = classes = None
    try:  # the good path: the C engine's own number parsing (float64, int64); no per-cell Python
        labels_read = dict(dtype={index[target]: str}, keep_default_na=False) if labels else {}
        frame = pd.read_csv(path, **labels_read, **read)
        X, y_raw = _numbers(_by_name(frame, columns, usecols), features, target, labels)
    except (ValueError, TypeError, pd.errors.ParserError, UnicodeDecodeError):
        pass  # a line that does not parse: the slow path names it
    if X is None:
        read.update(skipinitialspace=True, encoding="utf-8-sig")
        X, y_raw = _slow_path(path, read, columns, usecols, features, target, labels)
    if len(y_raw) < 2:
        raise DataError(f"{path}: needs at least 2 data rows to fit; found {len(y_raw)}.")
    if labels:
        y, classes = _labels(path, target, y_raw)
    else:
        y = y_raw
    if scale_check:
        from .objectives import overflowing_columns

        names = [features[j] for j in overflowing_columns(X)]
        if not labels and len(overflowing_columns(y[:, None])):
            names.append(target)
        if names:
            raise DataError(_overflow_message(path, names, X, y, features, target))
    return Table(X, y, list(features), target, path, classes, sep)


def _by_name(frame, columns, usecols):
    """The frame's columns by header name (pandas returns ``usecols`` in file order, maybe renamed)."""
    order = sorted(usecols)
    return {columns[j]: frame.iloc[:, order.index(j)] for j in usecols}


def _header(path):
    """The header's fields (not renamed: duplicates stay duplicates) and the delimiter."""
    import csv

    import pandas as pd

    try:  # the first line as it is, whatever the compression: one field, no quoting
        first = pd.read_csv(path, header=None, nrows=1, sep="\x1f", quoting=csv.QUOTE_NONE, dtype=str,
                            keep_default_na=False, encoding="utf-8-sig", engine="c", skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as CSV ({_reason(exc)}).") from None
    line = "\x1f".join(str(v) for v in first.iloc[0].tolist()) if len(first) else ""
    sep = ","
    if "," not in line:
        if ";" in line:
            sep = ";"
        elif "\t" in line:
            sep = "\t"
    try:
        head = pd.read_csv(path, header=None, nrows=1, sep=sep, dtype=str, keep_default_na=False,
                           encoding="utf-8-sig", engine="c", index_col=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as CSV ({_reason(exc)}).") from None
    if not len(head):
        raise DataError(f"{path}: the file is empty.")
    return [str(v) for v in head.iloc[0].tolist()], sep


def _reason(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _check_names(path, columns):
    seen = {}
    for i, c in enumerate(columns):
        if c and c in seen:
            raise DataError(f"{path}: the header names column {c!r} twice (columns {seen[c] + 1} and {i + 1}); "
                            f"column names must be unique.")
        seen[c] = i


def _no_column(path, name, option, columns, sep) -> str:
    """'no column named ...', with the closest names and, for a wide file, the count instead of the list."""
    import difflib

    msg = f"{path}: no column named {name!r} ({option})"
    for other in (";", "\t"):
        if other != sep and len(columns) == 1 and other in columns[0]:
            return msg + f"; the header looks delimited by {other!r}: {columns[0][:80]!r}."
    close = difflib.get_close_matches(name, [c for c in columns if c], n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    if len(columns) <= 20:
        return msg + hint + f" The columns are {', '.join(columns)}."
    return msg + hint + f" The file has {len(columns):,} columns, from {columns[0]!r} to {columns[-1]!r}."


_BLOCK = 4096  # rows per block when X is assembled from the parsed columns


def _numbers(cols, features, target, labels):
    """(X, y) from columns the C engine parsed, or (None, None) when one is not all finite numbers
    (text, empty or NaN cells: the slow path then names the first bad cell)."""
    n = len(cols[target])
    if any(cols[name].dtype.kind not in "iuf" for name in features):
        return None, None
    X = np.empty((n, len(features)), dtype=np.float64)
    arrays = [cols[name].to_numpy() for name in features]
    for s in range(0, n, _BLOCK):  # column to row order a block at a time: cache-sized, 4-7x a plain copy
        block = X[s : s + _BLOCK]
        for j, a in enumerate(arrays):
            block[:, j] = a[s : s + _BLOCK]
        if not np.isfinite(block).all():
            return None, None
    if labels:
        return X, cols[target].to_numpy(dtype=object)
    if cols[target].dtype.kind not in "iuf":
        return None, None
    y = cols[target].to_numpy(dtype=np.float64, copy=True)
    if not np.isfinite(y).all():
        return None, None
    return X, y


def _slow_path(path, read, columns, usecols, features, target, labels):
    """Read every selected cell as text and convert column by column, to name the first bad cell."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, **read)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as CSV ({_reason(exc)}).") from None
    if len(frame) < 2:
        raise DataError(f"{path}: needs at least 2 data rows to fit; found {len(frame)}.")
    cols = _by_name(frame, columns, usecols)
    values = {}
    for name in features if labels else [*features, target]:
        text = cols[name].str.strip()
        number = pd.to_numeric(text, errors="coerce")
        bad = number.isna() | ~np.isfinite(number.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            cell = text.iloc[row]
            what = "is empty" if cell in ("", "nan", "NaN", "NA", "null") else f"is not a finite number ({cell!r})"
            if re.fullmatch(r"[+-]?\d+,\d+", cell):
                what += "; a decimal comma? descend reads '.' as the decimal mark"
            raise DataError(f"{path}: row {row + 1}, column {name!r} {what}.")
        values[name] = number.to_numpy(dtype=np.float64)
    X = np.column_stack([values[c] for c in features])
    y = cols[target].to_numpy(dtype=object) if labels else values[target]
    return X, y


def _labels(path, target, raw):
    """Class labels as 0.0/1.0 and the two original labels (None when they were 0 and 1 already)."""
    from .objectives import LabelError, encode_labels

    try:
        return encode_labels(raw)
    except LabelError as exc:
        raise DataError(f"{path}: row {exc.index + 1}, column {target!r} {exc.what}; --model logistic takes "
                        f"{_LABELS_RULE}.") from None


def _overflow_message(path, names, X, y, features, target):
    from .objectives import safe_magnitude

    cols = [X[:, features.index(n)] if n in features else y for n in names]
    biggest = max(float(np.max(np.abs(c))) for c in cols)
    which = f"column {names[0]!r}" if len(names) == 1 else "columns " + ", ".join(map(repr, names))
    return (f"{path}: {which} {'holds' if len(names) == 1 else 'hold'} values up to {biggest:.3g}, too large to fit: "
            f"squared and summed over {len(y):,} rows they overflow float64 (the limit here is about "
            f"{safe_magnitude(len(y)):.2g}); standardise the data (subtract each column's mean, divide by its "
            f"standard deviation) or rescale it.")
