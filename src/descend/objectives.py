r"""Objectives: what ``minimize`` descends.

An objective has ``n_params`` and ``n_samples`` (``None`` for a plain function of w) and

- ``loss(w, rows=None)``: the mean loss over the rows of a batch (``None``: every row);
- ``grad(w, rows=None)``: its gradient, the same shape as ``w``;
- ``loss_and_grad(w, rows=None)``: both at once (one pass over the rows where it can).

Parameters are laid out as the coefficients, then the bias last (when ``bias=True``).

Linear regression uses the lecture's mean squared error, **not halved**:

.. math:: L(w) = \frac{1}{N}\sum_i (x_i \cdot w + b - y_i)^2, \qquad
          \nabla_w L = \frac{2}{N} X^\top r,\ \ \partial_b L = \frac{2}{N}\sum_i r_i

(scikit-learn's squared loss is half of this, so its gradients are half of ours.)
"""

from __future__ import annotations

import numpy as np

from .errors import DataError, ParameterError

__all__ = ["Objective", "LinearRegression", "LogisticRegression", "Function", "encode_labels", "LabelError",
           "overflowing_columns", "safe_magnitude"]


class Objective:
    """Base class with the defaults every objective shares."""

    n_params: int | None = None
    n_samples: int | None = None

    def loss(self, w, rows=None) -> float:
        raise NotImplementedError

    def grad(self, w, rows=None) -> np.ndarray:
        raise NotImplementedError

    def loss_and_grad(self, w, rows=None):
        return self.loss(w, rows), self.grad(w, rows)

    def loss_many(self, W) -> np.ndarray:
        """The full-data loss at each row of ``W`` (shape (k, n_params)); vectorised where the objective can."""
        return np.array([self.loss(w) for w in np.asarray(W, dtype=np.float64)])

    def hessian(self, w) -> np.ndarray:
        """The Hessian at ``w``, by central differences of the gradient (exact in subclasses where known)."""
        w = np.asarray(w, dtype=np.float64)
        n = w.size
        H = np.empty((n, n))
        for i in range(n):
            h = _fd_step(w[i], 2)
            e = np.zeros(n)
            e[i] = h
            H[:, i] = (self.grad(w + e) - self.grad(w - e)) / (2 * h)
        return 0.5 * (H + H.T)

    def _no_rows(self, rows):
        """For objectives without rows (n_samples is None): reject a batch with a clear error."""
        if rows is not None:
            raise ParameterError(f"{self!r} has no rows (it is a function of w alone); call loss/grad with "
                                 f"rows=None.")

    def check_w(self, w, name: str = "w") -> np.ndarray:
        """``w`` as a float64 vector of the right length, or a ParameterError naming the mismatch."""
        try:
            w = np.asarray(w, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"{name} must be a vector of numbers; got {type(w).__name__} {w!r:.60}.") from None
        if w.ndim == 0:
            w = w.reshape(1)
        if w.ndim != 1:
            raise ParameterError(f"{name} must be a vector; got an array of shape {w.shape}.")
        if self.n_params is not None and w.size != self.n_params:
            raise ParameterError(f"{name} has {w.size} values but the objective has {self.n_params} parameters"
                                 f"{self._layout()}.")
        if not np.all(np.isfinite(w)):
            raise ParameterError(f"{name} contains NaN or infinite values.")
        return w

    def _layout(self) -> str:
        return ""


def _fd_step(x: float, order: int) -> float:
    """Central-difference step: eps^(1/3) for gradients, eps^(1/4) for second derivatives, scaled by |x|."""
    eps = np.finfo(np.float64).eps
    return eps ** (1.0 / (order + 1)) * max(1.0, abs(float(x)))


def safe_magnitude(n_rows: int) -> float:
    """The largest |value| whose square, summed over ``n_rows`` rows, stays below float64's maximum:
    sqrt(max / n). Beyond it the mean squared error, the Gram matrix and the curvature overflow."""
    return float(np.sqrt(np.finfo(np.float64).max / max(int(n_rows), 1)))


def overflowing_columns(A) -> np.ndarray:
    """The indices of the columns of ``A`` (rows, columns) holding a value beyond :func:`safe_magnitude`."""
    A = np.asarray(A)
    if A.size == 0:
        return np.zeros(0, dtype=np.intp)
    with np.errstate(all="ignore"):
        big = np.maximum(A.max(axis=0), -A.min(axis=0)).astype(np.float64)
    return np.flatnonzero(~(big <= safe_magnitude(A.shape[0])))


class LabelError(DataError):
    """A class label that cannot be used; ``index`` (0-based) and ``what`` say where and why."""

    def __init__(self, index: int, what: str):
        self.index, self.what = int(index), what
        super().__init__(f"y[{index}] {what}")


LABELS_RULE = "two labels: 0 and 1, -1 and 1, or two names (mapped to 0 and 1 in sorted order)"


def encode_labels(y):
    """Binary class labels as float64 0/1, and the original pair when they were mapped (else None).

    0 and 1 are kept; -1 and 1 become 0 and 1; two strings become 0 and 1 in sorted order
    (scikit-learn's rule: ``classes_[1]`` is the positive class). Raises :class:`LabelError`
    at the first value that fits none of these.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"y must be a 1-D array of labels; got shape {y.shape}.")
    if y.dtype.kind in "biuf":
        num = y.astype(np.float64)
        texts = None
    else:
        texts = np.array(["" if v is None or (isinstance(v, float) and v != v) else str(v).strip() for v in y],
                         dtype=object)
        try:
            num = texts.astype(np.float64)
        except ValueError:
            num = None
    if num is not None:
        bad = ~np.isfinite(num)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            return _raise_label(i, "is empty" if texts is not None and texts[i] in ("", "nan", "NaN", "NA")
                                else f"is not a finite number ({y[i]!r})")
        u = set(np.unique(num).tolist())
        if u <= {0.0, 1.0}:
            return np.ascontiguousarray(num), None
        if u <= {-1.0, 1.0}:
            return (num > 0).astype(np.float64), (-1, 1)
        # the first value after which the labels seen fit neither {0, 1} nor {-1, 1}
        i = max(_first_not_in(num, (0.0, 1.0)), _first_not_in(num, (-1.0, 1.0)))
        seen = list(dict.fromkeys(num[:i].tolist()))
        after = f", a third label after {' and '.join(f'{v:g}' for v in seen)}" if len(seen) == 2 else ""
        return _raise_label(i, f"is {num[i]:g}{after}")
    empty = np.flatnonzero(texts == "")
    if len(empty):
        return _raise_label(int(empty[0]), "is empty")
    distinct = list(dict.fromkeys(texts.tolist()))
    if len(distinct) > 2:
        i = int(np.flatnonzero(texts == distinct[2])[0])
        return _raise_label(i, f"is {distinct[2]!r}, a third label after {distinct[0]!r} and {distinct[1]!r}")
    if len(distinct) < 2:
        return _raise_label(0, f"is {distinct[0]!r}, the only label (two are needed)")
    classes = tuple(sorted(distinct))
    return (texts == classes[1]).astype(np.float64), classes


def _first_not_in(values, allowed) -> int:
    bad = np.flatnonzero(~np.isin(values, allowed))
    return int(bad[0]) if len(bad) else len(values)


def _raise_label(index, what):
    raise LabelError(index, what)


def _check_data(X, y, name: str):
    if _is_sparse(X):
        raise DataError(f"{name}: X is a scipy sparse matrix ({type(X).__name__}); descend's models need a dense "
                        f"array: pass X.toarray() ({np.prod(X.shape) * 8 / 1e6:.3g} MB as float64).")
    X = np.asarray(X)
    y = np.asarray(y)
    if X.dtype.kind not in "biuf" or y.dtype.kind not in "biuf":
        raise DataError(f"{name}: X and y must be numeric; got dtypes {X.dtype} and {y.dtype}.")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise DataError(f"{name}: X must be a 2-D array (rows, features); got shape {X.shape}.")
    if y.ndim != 1:
        raise DataError(f"{name}: y must be a 1-D array; got shape {y.shape}.")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{name}: X is empty (shape {X.shape}); need at least one row and one column.")
    if X.shape[0] != y.shape[0]:
        raise DataError(f"{name}: X has {X.shape[0]} rows but y has {y.shape[0]} values.")
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    X = np.ascontiguousarray(X, dtype=dtype)
    y = np.ascontiguousarray(y, dtype=dtype)
    for label, arr in (("X", X), ("y", y)):
        bad = ~np.isfinite(arr)
        if bad.any():
            where = np.argwhere(bad)[0]
            place = f"row {where[0]}, column {where[1]}" if arr.ndim == 2 else f"row {where[0]}"
            raise DataError(f"{name}: {label} has a non-finite value ({arr[tuple(where)]}) at {place}.")
    for label, arr in (("X", X), ("y", y[:, None])):
        big = overflowing_columns(arr)
        if len(big):
            col = f"column {big[0]} of X (0-based)" if label == "X" else "y"
            more = f" and {len(big) - 1} other column(s)" if len(big) > 1 else ""
            raise DataError(f"{name}: {col}{more} holds values up to {float(np.max(np.abs(arr[:, big[0]]))):.3g}, "
                            f"too large: squared and summed over {len(arr):,} rows they overflow float64 (limit "
                            f"about {safe_magnitude(len(arr)):.2g}); standardise the data (subtract each column's "
                            f"mean, divide by its standard deviation) or rescale it.")
    return X, y


def _is_sparse(X) -> bool:
    return type(X).__module__.startswith("scipy.sparse")


class _LinearModel(Objective):
    """Shared data handling of the linear models: X (n, d), y (n,), optional bias last."""

    def __new__(cls, X=None, *args, **kwargs):
        # a data source (e.g. ds.data.dask(...)) in place of X brings the class that runs the model on it
        runner = getattr(X, "objective_class", None)
        return super().__new__(runner(cls) if runner is not None and not isinstance(X, type) else cls)

    def __init__(self, X, y, bias: bool = True):
        self.X, self.y = _check_data(X, y, type(self).__name__)
        self.bias = bool(bias)
        self.n_samples, self.n_features = self.X.shape
        self.n_params = self.n_features + self.bias

    def _layout(self) -> str:
        return f" ({self.n_features} coefficients" + (" and a bias last)" if self.bias else ", no bias)")

    def _rows(self, rows):
        if rows is None:
            return self.X, self.y
        return self.X[rows], self.y[rows]

    def decision(self, w, X=None):
        """X @ coef + bias for the given X (default: the training data)."""
        X = self.X if X is None else np.asarray(X)
        z = X @ w[: self.n_features]
        return z + w[-1] if self.bias else z

    def _with_bias(self, X):
        return np.column_stack([X, np.ones(len(X), dtype=X.dtype)]) if self.bias else X

    def smoothness(self):
        """(L, L_max): a Lipschitz constant of the full-data gradient and the largest one of a
        single row's gradient, ``c * lambda_max([X 1]^T [X 1]) / N`` and ``c * max_i ||[x_i 1]||^2``
        with c = 2 for squared error (exact: the Hessian's top eigenvalue) and c = 1/4 for
        logistic loss (an upper bound). Used to choose step sizes for mini-batches."""
        Xb = self._with_bias(self.X.astype(np.float64))
        c = self._curvature_bound
        L = c * float(np.linalg.eigvalsh(Xb.T @ Xb / self.n_samples)[-1])
        L_max = c * float(np.max(np.einsum("ij,ij->i", Xb, Xb)))
        return L, L_max

    def _backprop(self, X, dz):
        """Gradient with respect to (coef, bias) of mean(z * dz) where z = X @ coef + bias."""
        m = len(dz)
        g = X.T @ dz / m
        if self.bias:
            g = np.append(g, dz.sum() / m)
        return np.asarray(g, dtype=np.float64)


class LinearRegression(_LinearModel):
    """Mean squared error of a linear model, the lecture's cost (not halved)."""

    _curvature_bound = 2.0

    def loss(self, w, rows=None):
        X, y = self._rows(rows)
        r = self.decision(w, X) - y
        return float(r @ r / len(r))

    def grad(self, w, rows=None):
        return self.loss_and_grad(w, rows)[1]

    def loss_and_grad(self, w, rows=None):
        X, y = self._rows(rows)
        loss, dz = self.pointwise(self.decision(w, X), y)
        return float(np.mean(loss)), self._backprop(X, dz)

    @staticmethod
    def pointwise(z, y):
        """Per-row loss (z - y)^2 and its derivative 2 (z - y) in z; scalars or arrays (the kernels use it too)."""
        r = z - y
        return r * r, 2.0 * r

    def loss_many(self, W, chunk: int = 256):
        W = np.atleast_2d(np.asarray(W, dtype=np.float64))
        out = np.empty(len(W))
        for s in range(0, len(W), chunk):
            Wc = W[s : s + chunk]
            R = self.X @ Wc[:, : self.n_features].T - self.y[:, None]
            if self.bias:
                R += Wc[:, -1]
            out[s : s + chunk] = np.einsum("ij,ij->j", R, R) / self.n_samples
        return out

    def hessian(self, w=None):
        """Exact: 2/N [X 1]^T [X 1] (constant in w)."""
        Xb = self._with_bias(self.X.astype(np.float64))
        return 2.0 * (Xb.T @ Xb) / self.n_samples

    def predict(self, w, X=None):
        return self.decision(np.asarray(w, dtype=np.float64), X)

    def solution(self):
        """The exact least-squares minimiser (``np.linalg.lstsq``) in descend's layout."""
        Xb = self._with_bias(self.X.astype(np.float64))
        return np.linalg.lstsq(Xb, self.y.astype(np.float64), rcond=None)[0]


def sigmoid(z):
    """1 / (1 + exp(-z)) without overflow for any z."""
    return np.exp(-np.logaddexp(0.0, -z))


class LogisticRegression(_LinearModel):
    r"""Mean binary cross-entropy of a linear model, y in {0, 1}.

    .. math:: L(w) = \frac{1}{N}\sum_i \log(1 + e^{z_i}) - y_i z_i,\quad z = Xw + b,\qquad
              \nabla L = \frac{1}{N} X^\top(\sigma(z) - y)

    ``log(1 + e^z)`` is computed as ``logaddexp(0, z)``, so no |z| overflows.
    """

    _curvature_bound = 0.25

    def __init__(self, X, y, bias: bool = True):
        """``y``: 0 and 1; -1 and 1, or two strings, are mapped to 0 and 1 (in sorted order) and the
        original pair is kept in ``classes`` (None when y was 0/1 already)."""
        try:
            y, self.classes = encode_labels(y)
        except LabelError as exc:
            raise DataError(f"LogisticRegression: y[{exc.index}] {exc.what}; y must hold {LABELS_RULE}.") from None
        super().__init__(X, y, bias)

    def loss(self, w, rows=None):
        X, y = self._rows(rows)
        z = self.decision(w, X)
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    def grad(self, w, rows=None):
        return self.loss_and_grad(w, rows)[1]

    def loss_and_grad(self, w, rows=None):
        X, y = self._rows(rows)
        loss, dz = self.pointwise(self.decision(w, X), y)
        return float(np.mean(loss)), self._backprop(X, dz)

    @staticmethod
    def pointwise(z, y):
        """Per-row loss log(1 + e^z) - y z and its derivative sigmoid(z) - y in z; scalars or arrays."""
        return np.logaddexp(0.0, z) - y * z, sigmoid(z) - y

    def loss_many(self, W, chunk: int = 256):
        W = np.atleast_2d(np.asarray(W, dtype=np.float64))
        out = np.empty(len(W))
        for s in range(0, len(W), chunk):
            Wc = W[s : s + chunk]
            Z = self.X @ Wc[:, : self.n_features].T
            if self.bias:
                Z += Wc[:, -1]
            out[s : s + chunk] = np.mean(np.logaddexp(0.0, Z) - self.y[:, None] * Z, axis=0)
        return out

    def hessian(self, w):
        """Exact: [X 1]^T diag(p (1 - p)) [X 1] / N with p = sigmoid(z)."""
        w = np.asarray(w, dtype=np.float64)
        p = sigmoid(self.decision(w))
        Xb = self._with_bias(self.X.astype(np.float64))
        return (Xb * (p * (1 - p))[:, None]).T @ Xb / self.n_samples

    def predict_proba(self, w, X=None):
        """P(y = 1 | x) for the rows of X (default: the training data)."""
        return sigmoid(self.decision(np.asarray(w, dtype=np.float64), X))


class Function(Objective):
    """Any smooth function f(w) of a parameter vector.

    Without ``grad``, the gradient is taken by central differences with step
    eps^(1/3) * max(1, |w_i|) (error O(h^2)). A function has no rows: ``minimize``
    takes one step per epoch on it.
    """

    def __init__(self, f, grad=None, hessian=None, n_params: int | None = None, name: str | None = None):
        if not callable(f):
            raise ParameterError(f"Function needs a callable f(w); got {type(f).__name__}.")
        if grad is not None and not callable(grad):
            raise ParameterError(f"grad must be a callable grad(w) or None; got {type(grad).__name__}.")
        self.f = f
        self._grad = grad
        self._hessian = hessian
        self.n_params = n_params
        self.name = name or getattr(f, "__name__", "f")

    def __repr__(self):
        return f"Function({self.name})"

    def loss(self, w, rows=None):
        self._no_rows(rows)
        value = self.f(np.asarray(w, dtype=np.float64))
        if np.ndim(value) != 0 and np.size(value) != 1:
            raise ParameterError(f"Function {self.name}: f(w) must return a number; it returned an array of shape "
                                 f"{np.shape(value)}.")
        try:
            return float(np.asarray(value, dtype=np.float64).reshape(()))
        except (TypeError, ValueError):
            raise ParameterError(f"Function {self.name}: f(w) must return a number; it returned "
                                 f"{type(value).__name__} {value!r:.60}.") from None

    def grad(self, w, rows=None):
        self._no_rows(rows)
        w = np.asarray(w, dtype=np.float64)
        if self._grad is not None:
            out = self._grad(w)
            try:
                g = None if out is None else np.asarray(out, dtype=np.float64)
            except (TypeError, ValueError):
                g = None
            if g is None or g.size != w.size:
                got = (f"an array of shape {g.shape}" if g is not None else
                       "None" if out is None else f"{type(out).__name__} {out!r:.60}")
                raise ParameterError(f"Function {self.name}: grad(w) must return the gradient, an array shaped like "
                                     f"w {w.shape}; it returned {got}.")
            return g.reshape(w.shape)
        g = np.empty_like(w)
        for i in range(w.size):
            h = _fd_step(w[i], 2)
            e = np.zeros_like(w)
            e[i] = h
            g[i] = (self.f(w + e) - self.f(w - e)) / (2 * h)
        return g

    def hessian(self, w):
        if self._hessian is not None:
            return np.asarray(self._hessian(np.asarray(w, dtype=np.float64)), dtype=np.float64)
        return super().hessian(w)
