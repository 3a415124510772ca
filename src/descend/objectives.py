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

import math

import numpy as np

from .errors import DataError, ParameterError

__all__ = ["Objective", "LinearModel", "LinearRegression", "LogisticRegression", "SoftmaxRegression", "Function",
           "encode_labels", "LabelError", "overflowing_columns", "safe_magnitude"]


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
    return _beyond_safe(_column_extremes(A), A.shape[0])


def _column_extremes(A) -> np.ndarray:
    """max(|A[:, k]|) of every column as float64 (NaN where the column holds a NaN): one max and one
    min reduction, no temporary array the size of A."""
    with np.errstate(all="ignore"):
        return np.maximum(A.max(axis=0), -A.min(axis=0)).astype(np.float64)


def _beyond_safe(big, n_rows) -> np.ndarray:
    return np.flatnonzero(~(big <= safe_magnitude(n_rows)))


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


def _check_data(X, y, name: str, multi: bool = False):
    """(X, y) as contiguous float arrays (float32 X keeps y float32 too); ``multi`` allows y of
    shape (n, K). A DataError naming the first problem otherwise."""
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
    if y.ndim != 1 and not (multi and y.ndim == 2 and y.shape[1] >= 1):
        want = "a 1-D array (or 2-D, one column per output)" if multi else "a 1-D array"
        raise DataError(f"{name}: y must be {want}; got shape {y.shape}.")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{name}: X is empty (shape {X.shape}); need at least one row and one column.")
    if X.shape[0] != y.shape[0]:
        raise DataError(f"{name}: X has {X.shape[0]} rows but y has {y.shape[0]} values.")
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    X = np.ascontiguousarray(X, dtype=dtype)
    y = np.ascontiguousarray(y, dtype=dtype)
    extremes = {}
    for label, arr in (("X", X), ("y", y)):
        extremes[label] = _column_extremes(arr.reshape(len(arr), -1))  # NaN and inf reach the extremes
        if np.isfinite(extremes[label]).all():
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            where = np.argwhere(bad)[0]
            place = f"row {where[0]}, column {where[1]}" if arr.ndim == 2 else f"row {where[0]}"
            raise DataError(f"{name}: {label} has a non-finite value ({arr[tuple(where)]}) at {place}.")
    for label, arr in (("X", X), ("y", y.reshape(len(y), -1))):
        big = _beyond_safe(extremes[label], len(arr))
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


class LinearModel(Objective):
    r"""The model contract: what every engine (NumPy, the numba kernels, streaming, Dask) needs
    from a linear model, and all it needs.

    - ``X`` (n, d): the rows (float64, or float32 kept as is), read a chunk of rows at a time;
    - ``Y`` (n, m): the targets as a 2-D view (``y`` as given is kept too);
    - ``bias``: whether each output has an intercept (the last entry of its block);
    - ``n_outputs`` K: outputs sharing X. The parameters are K blocks ``[c_k, b_k]`` of
      ``block = d + bias`` values each, ``z_ik = x_i . c_k + b_k``;
    - ``pointwise(Z, Y)``: the per-row loss of the decisions ``Z`` (n, K) and its derivative in
      ``Z`` (vectorised NumPy; the kernels compile the same function, see :mod:`descend.kernels`);
    - ``l2``: a penalty ``l2 * sum_k ||c_k||^2`` on the coefficients, never on a bias.

    .. math:: L(w) = \frac1N \sum_i \ell(z_i, y_i) + \lambda \sum_k \|c_k\|^2,\qquad
              \nabla_{c_k} L = \frac1N \sum_i \frac{\partial\ell}{\partial z_{ik}} x_i + 2\lambda c_k,\quad
              \partial_{b_k} L = \frac1N \sum_i \frac{\partial\ell}{\partial z_{ik}}

    Everything else (the loss and gradient of a batch, the curvature bounds, the Hessian) is
    derived here from these; no method copies X (the bias column is never materialised).
    Subclasses: :class:`LinearRegression`, :class:`LogisticRegression` (one output per target
    column: one-vs-rest with a 0/1 column per class), :class:`SoftmaxRegression`.

    ``X`` may also be a source of :mod:`descend.data` (and y omitted): the model is then its
    streamed twin (:mod:`descend.data.engine`), reading its rows a chunk at a time.
    """

    def __new__(cls, X=None, *args, **kwargs):
        if getattr(X, "_descend_source", False):
            from .data.engine import streamed_class

            return super().__new__(streamed_class(cls))
        # a Dask source (ds.data.dask(...)) in place of X brings the class that runs the model on its cluster
        runner = getattr(X, "objective_class", None)
        if runner is not None and not isinstance(X, type):
            return super().__new__(runner(cls))
        return super().__new__(cls)

    elementwise = True  # the row loss is a sum over outputs of pointwise(z_k, y_k) (False: softmax)
    _curvature_bound = 1.0  # sup of d2 ell / dz2 (squared error 2, cross-entropy 1/4, softmax 1/2)

    def __init__(self, X, y, bias: bool = True, l2: float = 0.0):
        name = type(self).__name__
        self.X, self.y = _check_data(X, y, name, multi=self.elementwise)
        self.Y = self.y.reshape(len(self.y), -1)  # a view: (n, m)
        self.bias = bool(bias)
        self.l2 = _check_l2(l2, name)
        self.n_samples, self.n_features = self.X.shape
        self.n_outputs = self._outputs()
        self.block = self.n_features + self.bias
        self.n_params = self.block * self.n_outputs

    def _outputs(self) -> int:
        return self.Y.shape[1]

    def _layout(self) -> str:
        per = f"{self.n_features} coefficients" + (" and a bias last" if self.bias else ", no bias")
        if self.n_outputs == 1:
            return f" ({per})"
        return f" ({self.n_outputs} blocks of {self.block}: {per})"

    @property
    def coef_mask(self) -> np.ndarray:
        """True at the coefficients, False at the biases (the entries the penalty touches)."""
        mask = self.__dict__.get("_coef_mask")
        if mask is None:
            mask = self.__dict__["_coef_mask"] = np.tile(np.arange(self.block) < self.n_features, self.n_outputs)
        return mask

    def _W(self, w) -> np.ndarray:
        return np.asarray(w, dtype=np.float64).reshape(self.n_outputs, self.block)

    def _rows(self, rows):
        if rows is None:
            return self.X, self.Y
        return self.X[rows], self.Y[rows]

    def _Z(self, w, X):
        """The decisions (n, K) = X C^T + b, for the rows of X."""
        if self.n_outputs == 1:  # one output: a matrix-vector product (the lecture's numbers)
            z = X @ w[: self.n_features]
            return (z + w[-1] if self.bias else z).reshape(-1, 1)
        W = self._W(w)
        Z = X @ W[:, : self.n_features].T
        return Z + W[:, self.n_features] if self.bias else Z

    def decision(self, w, X=None):
        """X @ coef + bias for the given X (default: the training data): shape (n,) when the
        targets are one column given as a vector, else (n, K)."""
        X = self.X if X is None else np.asarray(X)
        Z = self._Z(np.asarray(w, dtype=np.float64), X)
        return Z[:, 0] if (self.y.ndim == 1 and self.elementwise) else Z

    def _penalty(self, w) -> float:
        if not self.l2:
            return 0.0
        C = self._W(w)[:, : self.n_features]
        return self.l2 * float(np.sum(C * C))

    def data_loss(self, w, rows=None) -> float:
        """The mean loss without the penalty (what a held-out score measures)."""
        X, Y = self._rows(rows)
        return float(np.mean(self._row_loss(self._Z(np.asarray(w, dtype=np.float64), X), Y)))

    def _row_loss(self, Z, Y):
        loss, _ = self.rowwise(Z, Y)
        return loss

    @classmethod
    def rowwise(cls, Z, Y):
        """(loss of each row (n,), d loss / d Z (n, K)) from the decisions and the targets."""
        loss, dZ = cls.pointwise(Z, Y)
        return loss.sum(axis=1), dZ

    def loss(self, w, rows=None):
        return self.data_loss(w, rows) + self._penalty(w)

    def grad(self, w, rows=None):
        return self.loss_and_grad(w, rows)[1]

    def loss_and_grad(self, w, rows=None):
        w = np.asarray(w, dtype=np.float64)
        X, Y = self._rows(rows)
        loss_rows, dZ = self.rowwise(self._Z(w, X), Y)
        g = self._backprop(X, dZ)
        loss = float(np.mean(loss_rows))
        if self.l2:
            loss += self._penalty(w)
            g[self.coef_mask] += 2.0 * self.l2 * w[self.coef_mask]
        return loss, g

    def _backprop(self, X, dZ):
        """The gradient of mean_i sum_k z_ik dZ_ik in (c_k, b_k), block after block."""
        m = len(dZ)
        if self.n_outputs == 1:
            dz = dZ[:, 0]
            g = X.T @ dz / m
            if self.bias:
                g = np.append(g, dz.sum() / m)
            return np.asarray(g, dtype=np.float64)
        G = (dZ.T @ X) / m
        if self.bias:
            G = np.column_stack([G, dZ.sum(axis=0) / m])
        return np.asarray(G, dtype=np.float64).ravel()

    def gram(self, s=None) -> np.ndarray:
        """[X 1]^T diag(s) [X 1] (s = 1 when None) without forming [X 1] or a scaled copy of X:
        X^T X by BLAS, or in chunks of rows for a weighted sum. The unweighted one is computed
        once and cached (X is not modified after construction); a copy is returned."""
        if s is not None:
            return _gram(self.X, s, self.bias)
        G = self.__dict__.get("_gram")
        if G is None:
            G = self.__dict__["_gram"] = _gram(self.X, None, self.bias)
        return G.copy()

    def smoothness(self):
        """(L, L_max): a Lipschitz constant of the full-data gradient and the largest one of a
        single row's gradient, ``c * lambda_max([X 1]^T [X 1]) / N + 2 l2`` and
        ``c * max_i ||[x_i 1]||^2 + 2 l2``, with c the loss's largest second derivative (2 for
        squared error, exact: the Hessian's top eigenvalue; 1/4 for logistic loss, 1/2 for
        softmax: upper bounds). Used to choose step sizes for mini-batches."""
        c = self._curvature_bound
        L = c * float(np.linalg.eigvalsh(self.gram() / self.n_samples)[-1]) + 2.0 * self.l2
        sq = _row_sqnorms(self.X) + (1.0 if self.bias else 0.0)
        return L, c * float(np.max(sq)) + 2.0 * self.l2

    def _curvature_weights(self, w):
        """d2 ell / dz_k2 per row and output, (n, K), for the elementwise losses."""
        raise NotImplementedError

    def hessian(self, w=None):
        """Exact: block-diagonal for elementwise losses, block k = [X 1]^T diag(s_k) [X 1] / N
        plus 2 l2 on the coefficients (s_k the loss's second derivative in z_k)."""
        S = self._curvature_weights(w)
        H = np.zeros((self.n_params, self.n_params))
        for k in range(self.n_outputs):
            sl = slice(k * self.block, (k + 1) * self.block)
            H[sl, sl] = self.gram(None if S is None else S[:, k]) * ((2.0 if S is None else 1.0) / self.n_samples)
        return H + np.diag(2.0 * self.l2 * self.coef_mask)

    def loss_many(self, W, chunk: int = 256):
        if self.n_outputs != 1 or self.l2:
            return super().loss_many(W)
        W = np.atleast_2d(np.asarray(W, dtype=np.float64))
        out = np.empty(len(W))
        y = self.Y[:, 0]
        for s in range(0, len(W), chunk):
            Wc = W[s : s + chunk]
            Z = self.X @ Wc[:, : self.n_features].T
            if self.bias:
                Z += Wc[:, -1]
            out[s : s + chunk] = self._loss_columns(Z, y)
        return out


def _check_l2(l2, name):
    try:
        l2 = float(l2)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: l2 must be a number >= 0; got {l2!r}.") from None
    if not (math.isfinite(l2) and l2 >= 0):
        raise ParameterError(f"{name}: l2 must be a finite number >= 0; got {l2!r}.")
    return l2


GRAM_CHUNK = 8192  # rows per chunk of a weighted Gram matrix (bounded temporaries)


def _gram(X, s, bias):
    """[X 1]^T diag(s) [X 1] in float64, without a copy of X (s None: unweighted)."""
    n, d = X.shape
    p = d + bias
    G = np.zeros((p, p))
    if s is None and X.dtype == np.float64:  # one BLAS product on a transposed view (no copy) and the column sums
        G[:d, :d] = X.T @ X
        if bias:
            v = X.sum(axis=0)
            G[:d, d] = v
            G[d, :d] = v
            G[d, d] = n
        return G
    for a in range(0, n, GRAM_CHUNK):
        Xc = X[a : a + GRAM_CHUNK].astype(np.float64, copy=False)
        if s is None:
            Xs, col = Xc, np.ones(len(Xc))
        else:
            col = np.asarray(s[a : a + GRAM_CHUNK], dtype=np.float64)
            Xs = Xc * col[:, None]  # a chunk-sized temporary
        G[:d, :d] += Xs.T @ Xc
        if bias:
            v = Xs.sum(axis=0) if s is not None else Xc.sum(axis=0)
            G[:d, d] += v
            G[d, :d] += v
            G[d, d] += col.sum()
    return G


def _row_sqnorms(X):
    out = np.empty(len(X))
    for a in range(0, len(X), GRAM_CHUNK):
        Xc = X[a : a + GRAM_CHUNK].astype(np.float64, copy=False)
        out[a : a + GRAM_CHUNK] = np.einsum("ij,ij->i", Xc, Xc)
    return out


class LinearRegression(LinearModel):
    """Mean squared error of a linear model, the lecture's cost (not halved); ``y`` of shape
    (n, K) fits K outputs on the same X (the loss is their sum)."""

    _curvature_bound = 2.0

    @staticmethod
    def pointwise(z, y):
        """Per-entry loss (z - y)^2 and its derivative 2 (z - y) in z; scalars or arrays (the kernels use it too)."""
        r = z - y
        return r * r, 2.0 * r

    @staticmethod
    def _loss_columns(Z, y):
        R = Z - y[:, None]
        return np.einsum("ij,ij->j", R, R) / len(y)

    def _curvature_weights(self, w):
        return None  # constant: 2 [X 1]^T [X 1] / N

    def predict(self, w, X=None):
        return self.decision(np.asarray(w, dtype=np.float64), X)

    def solution(self):
        """The exact minimiser (least squares, ridge when l2 > 0) in descend's layout, from the
        normal equations on the Gram matrix (no copy of X): (G/N + l2 I_c) W = [X 1]^T Y / N."""
        G = self.gram() / self.n_samples + np.diag(self.l2 * (np.arange(self.block) < self.n_features))
        B = np.zeros((self.block, self.n_outputs))
        for a in range(0, self.n_samples, GRAM_CHUNK):
            Xc = self.X[a : a + GRAM_CHUNK].astype(np.float64, copy=False)
            Yc = self.Y[a : a + GRAM_CHUNK].astype(np.float64, copy=False)
            B[: self.n_features] += Xc.T @ Yc
            if self.bias:
                B[self.n_features] += Yc.sum(axis=0)
        W = np.linalg.lstsq(G, B / self.n_samples, rcond=None)[0]
        return W.T.ravel()


def sigmoid(z):
    """1 / (1 + exp(-z)) without overflow for any z."""
    return np.exp(-np.logaddexp(0.0, -z))


class LogisticRegression(LinearModel):
    r"""Mean binary cross-entropy of a linear model, y in {0, 1}.

    .. math:: L(w) = \frac{1}{N}\sum_i \log(1 + e^{z_i}) - y_i z_i,\quad z = Xw + b,\qquad
              \nabla L = \frac{1}{N} X^\top(\sigma(z) - y)

    ``log(1 + e^z)`` is computed as ``logaddexp(0, z)``, so no |z| overflows. ``y`` of shape
    (n, K) (a 0/1 column per class) is one-vs-rest: K binary problems side by side, the loss
    their sum; the blocks do not interact, so an elementwise optimizer takes exactly the
    steps it would take on each alone.
    """

    _curvature_bound = 0.25

    def __init__(self, X, y, bias: bool = True, l2: float = 0.0):
        """``y``: 0 and 1; -1 and 1, or two strings, are mapped to 0 and 1 (in sorted order) and the
        original pair is kept in ``classes`` (None when y was 0/1 already). A 2-D ``y`` (one 0/1
        column per class: one-vs-rest) must hold 0 and 1."""
        self.classes = None
        if np.ndim(y) == 1:
            try:
                y, self.classes = encode_labels(y)
            except LabelError as exc:
                raise DataError(f"LogisticRegression: y[{exc.index}] {exc.what}; y must hold {LABELS_RULE}.") from None
        super().__init__(X, y, bias, l2)
        bad = ~np.isin(self.Y, (0.0, 1.0))
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise DataError(f"LogisticRegression: y must hold only 0 and 1; y[{row}, {col}] (row {row}, counting "
                            f"from 0) is {float(self.Y[row, col]):g}.")

    @staticmethod
    def pointwise(z, y):
        """Per-entry loss log(1 + e^z) - y z and its derivative sigmoid(z) - y in z; scalars or arrays."""
        return np.logaddexp(0.0, z) - y * z, sigmoid(z) - y

    @staticmethod
    def _loss_columns(Z, y):
        return np.mean(np.logaddexp(0.0, Z) - y[:, None] * Z, axis=0)

    def _curvature_weights(self, w):
        P = sigmoid(self._Z(np.asarray(w, dtype=np.float64), self.X))
        return P * (1.0 - P)

    def predict_proba(self, w, X=None):
        """P(y = 1 | x) for the rows of X (default: the training data)."""
        return sigmoid(self.decision(np.asarray(w, dtype=np.float64), X))


class SoftmaxRegression(LinearModel):
    r"""Multinomial logistic regression: mean cross-entropy of a softmax over K linear outputs.

    ``y`` holds class indices 0..K-1 (K = ``n_classes``, default max(y) + 1). With
    ``z_i = C x_i + b`` (one block per class) and ``lse = log sum_k e^{z_ik}``:

    .. math:: \ell(z_i, y_i) = \mathrm{lse}(z_i) - z_{i y_i},\qquad
              \frac{\partial \ell}{\partial z_{ik}} = p_{ik} - [y_i = k],\quad
              p_{ik} = \frac{e^{z_{ik} - m_i}}{\sum_j e^{z_{ij} - m_i}},\ \mathrm{lse}(z_i) = m_i + \log\sum_j e^{z_{ij} - m_i}

    with m_i = max_k z_ik subtracted before exponentiating, so no z overflows (one exp per
    output, shared by the loss and the probabilities). With ``l2 = 1 / (2 C N)``
    the minimiser is scikit-learn's ``LogisticRegression(C=C)`` (multinomial, intercepts not
    penalised). Without a penalty the softmax is unchanged by adding one vector to every
    block; gradient descent from zeros keeps the blocks summing to zero.
    """

    elementwise = False
    _curvature_bound = 0.5

    def __init__(self, X, y, bias: bool = True, l2: float = 0.0, n_classes: int | None = None):
        y_arr = np.asarray(y)
        if y_arr.ndim == 1 and y_arr.dtype.kind in "biuf" and len(y_arr):
            bad = ~np.isfinite(y_arr.astype(np.float64)) | (y_arr < 0) | (y_arr != np.round(y_arr))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(f"SoftmaxRegression: y must hold class indices 0, 1, ..., K-1; "
                                f"y[{i}] (row {i}, counting from 0) is {float(y_arr[i]):g}.")
        k_seen = int(np.max(y_arr)) + 1 if y_arr.size and y_arr.dtype.kind in "biuf" else 0
        if n_classes is None:
            n_classes = max(k_seen, 2)
        if not isinstance(n_classes, (int, np.integer)) or isinstance(n_classes, bool) or n_classes < 2:
            raise ParameterError(f"SoftmaxRegression: n_classes must be an integer >= 2; got {n_classes!r}.")
        if k_seen > n_classes:
            i = int(np.argmax(y_arr))
            raise DataError(f"SoftmaxRegression: y[{i}] is class {int(y_arr[i])} but n_classes is {n_classes}.")
        self.n_classes = int(n_classes)
        super().__init__(X, y, bias, l2)

    def _outputs(self) -> int:
        return self.n_classes

    @staticmethod
    def pointwise(Z, y):
        """(loss of each row, d loss / d Z) for decisions Z (n, K) and class indices y (n,) or (n, 1)."""
        Z = np.asarray(Z, dtype=np.float64)
        c = np.asarray(y).reshape(len(Z)).astype(np.intp)
        m = Z.max(axis=1, keepdims=True)
        E = np.exp(Z - m)
        total = np.sum(E, axis=1, keepdims=True)
        P = E / total
        rows = np.arange(len(Z))
        loss = m[:, 0] + np.log(total[:, 0]) - Z[rows, c]
        P[rows, c] -= 1.0
        return loss, P

    @classmethod
    def rowwise(cls, Z, Y):
        return cls.pointwise(Z, Y)

    def decision(self, w, X=None):
        X = self.X if X is None else np.asarray(X)
        return self._Z(np.asarray(w, dtype=np.float64), X)

    def predict_proba(self, w, X=None):
        """P(class k | x) for the rows of X (default: the training data), shape (n, K)."""
        Z = self.decision(w, X)
        m = Z.max(axis=1, keepdims=True)
        P = np.exp(Z - m)
        return P / P.sum(axis=1, keepdims=True)

    def predict(self, w, X=None):
        return self.decision(w, X).argmax(axis=1)

    def hessian(self, w):
        """Exact: block (a, b) = [X 1]^T diag(p_a ([a = b] - p_b)) [X 1] / N, plus 2 l2 on the coefficients."""
        P = self.predict_proba(w)
        K, p = self.n_outputs, self.block
        H = np.zeros((self.n_params, self.n_params))
        for a in range(K):
            for b in range(a, K):
                s = P[:, a] * ((a == b) - P[:, b])
                Hab = self.gram(s) / self.n_samples
                H[a * p : (a + 1) * p, b * p : (b + 1) * p] = Hab
                H[b * p : (b + 1) * p, a * p : (a + 1) * p] = Hab.T
        return H + np.diag(2.0 * self.l2 * self.coef_mask)


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
