"""The streaming engine: the one loop's epochs over a source's chunks, through the in-memory kernels.

``ds.LinearRegression(source)`` (any :class:`descend.objectives.LinearModel`: logistic, softmax,
with an L2 penalty) builds a *streamed* objective: the model of the in-memory class, its data
read chunk by chunk. ``minimize`` runs it with the same call; this module is what the loop plugs
in at its backend choice (``stream_backend``) and its row order (``stream_order``). It holds no
mathematics of its own: every chunk goes through the model contract's kernels
(:func:`descend.kernels.loss_grad_sums`, :func:`descend.kernels.numba_epoch`; or
:func:`descend.loop.numpy_epoch` without numba) as if it were a small in-memory data set.

- **Full batch**: one pass over the chunks per step: each chunk's loss and gradient sums (for one
  output, ``_kernels.columns_loss_grad``, the same arithmetic over pyarrow's columns without a
  copy), then the mean and the penalty. The loop steps on its boundary's own pass (cached here by
  weights), so E epochs read the data E + 1 times. Equal to the in-memory fit to 1e-10 (relative).
- **Mini-batch and per-sample**: batches are consecutive slices of the epoch's row order, as in
  memory, and a batch that straddles two chunks is carried over (its few rows copied), so with
  ``shuffle=False`` the steps are the in-memory steps, bit for bit on the same runner.
  ``shuffle="block"`` (CorgiPile, Xu et al., SIGMOD 2022) draws from ``(seed, epoch)`` a
  permutation of the source's units (Parquet row groups, or parts of them), fills a buffer of
  ``source.buffer_rows`` rows (a quarter of the memory budget) with consecutive units of that
  permutation, and visits each buffer's rows in a random permutation (drawn before the buffer is
  filled, so each row is written where it is visited and the steps read the buffer front to
  back). Two buffers alternate: a background thread reads and fills the next while the steps
  run through this one. :func:`block_order` is the resulting order of every row, so a run is
  reproducible from the seed and resumes from a checkpoint bit-identically. ``shuffle=True`` (one random read per
  row) is refused; an in-memory ``ds.data.arrays`` source takes it (the in-memory permutation).
- The epoch-boundary loss of a mini-batch run is one more pass over the chunks (never a load of
  the data); the weights change with every step, so it cannot share the steps' pass.
- A non-finite value in the data is found when its chunk is read (by the copy into the row
  buffer, or by a non-finite loss of the full-data pass) and raised as the source's DataError
  (file, 1-based row, column); the loop then stops the run with the best weights seen.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..errors import DataError, ParameterError

__all__ = ["streamed_class", "block_order", "block_plan", "StreamOrder", "StreamProgress"]

_CLASSES: dict = {}


def streamed_class(cls):
    """The streamed twin of an in-memory linear model class (LinearRegression -> StreamedLinearRegression)."""
    if issubclass(cls, _Streamed):
        return cls
    if cls not in _CLASSES:
        _CLASSES[cls] = type(f"Streamed{cls.__name__}", (_Streamed, cls), {"_base": cls, "__module__": __name__})
    return _CLASSES[cls]


class StreamOrder(NamedTuple):
    """What the loop hands the streamed epoch runner in place of an order array (never O(n) memory)."""

    epoch: int
    seed: int
    shuffle: object


_CONTRACT = ("bias", "l2", "n_features", "n_outputs", "block", "n_params", "n_classes")


def _view(obj, X, y, l2=None):
    """An in-memory objective of the streamed objective's class over (X, y), without validation or
    copies (the source checked the chunk): what the in-memory runners and kernels take. It shares
    the model contract's attributes (bias, l2, outputs, ...); ``l2`` overrides the penalty."""
    view = object.__new__(obj._base)
    view.__dict__.update({k: v for k, v in obj.__dict__.items() if k in _CONTRACT})
    if l2 is not None:
        view.l2 = l2
    view.X, view.y, view.Y = X, y, y.reshape(len(y), -1)
    view.n_samples = len(y)
    return view


def _model_index(base):
    """The index of the model's loss in the kernels' table (LOSSES), or -1 when they do not know it."""
    from ..kernels import LOSSES

    f = getattr(base, "pointwise", None)
    return next((i for i, known in enumerate(LOSSES) if f is known), -1)


def _n_classes(source, n_classes, name):
    """K for softmax over a source: given, or max(target) + 1 from the Parquet statistics (no data
    read) or from one pass over the target column."""
    if n_classes is not None:
        if not isinstance(n_classes, (int, np.integer)) or isinstance(n_classes, bool) or n_classes < 2:
            raise ParameterError(f"{name}: n_classes must be an integer >= 2; got {n_classes!r}.")
        return int(n_classes)
    top = source.target_max()
    if not (math.isfinite(top) and top >= 0 and top == round(top)):
        raise DataError(f"{source.describe()}: column {source.target!r} must hold class indices 0, 1, ..., K-1; "
                        f"its largest value is {top:g}.")
    return max(int(top) + 1, 2)


# ---------------------------------------------------------------------------------- block order


def block_plan(source, seed: int, epoch: int):
    """(rng, buffers): the units of ``source`` in the random order of (seed, epoch), packed into
    buffers of at most ``source.buffer_rows`` rows; ``rng`` then draws each buffer's row
    permutation, in buffer order."""
    units = source.units()
    rng = np.random.default_rng([seed, epoch])
    cap = source.buffer_rows
    buffers, current, rows = [], [], 0
    for i in rng.permutation(len(units)):
        u = units[i]
        if current and rows + u.rows > cap:
            buffers.append(current)
            current, rows = [], 0
        current.append(int(i))
        rows += u.rows
    if current:
        buffers.append(current)
    return rng, buffers


def block_order(source, seed: int, epoch: int) -> np.ndarray:
    """The order in which ``shuffle="block"`` visits the rows of epoch ``epoch`` (global 0-based
    indices): units permuted, and rows permuted within each buffer. For tests and inspection (it is
    an array of n_rows; the engine itself never builds it)."""
    units = source.units()
    starts = np.cumsum([0] + [u.rows for u in units])
    rng, buffers = block_plan(source, seed, epoch)
    parts = []
    for buf in buffers:
        rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in buf])
        parts.append(rows[rng.permutation(len(rows))])
    return np.concatenate(parts)


# ---------------------------------------------------------------------------- streamed objective


class _Streamed:
    """Mixin: a linear model whose rows come from a source (see the module docstring)."""

    _base = None
    streamed = True  # diagnose: an exact Hessian costs one pass over the data (Lanczos: two per step)

    def __init__(self, source, y=None, bias: bool = True, l2: float = 0.0, n_classes: int | None = None):
        from ..objectives import _check_l2

        name = self._base.__name__
        if y is not None:
            raise ParameterError(f"{name}(source): the source holds the target ({source.target!r}); omit y.")
        self.source = source
        self.bias = bool(bias)
        self.l2 = _check_l2(l2, name)
        self.X = self.y = self.Y = None
        self.n_features = source.n_features
        if not self._base.elementwise:  # softmax: one output per class
            self.n_classes = _n_classes(source, n_classes, name)
        elif n_classes is not None:
            raise ParameterError(f"{name} takes no n_classes.")
        self.n_outputs = getattr(self, "n_classes", 1)
        self.block = self.n_features + self.bias
        self.n_params = self.block * self.n_outputs
        self._model = _model_index(self._base)
        self._cache = None  # (w bytes, loss, grad) of the last full pass
        self._listeners = []  # callables(rows) told after every chunk (progress bars)
        self._numba = None

    @property
    def n_samples(self):
        return self.source.n_rows

    def __repr__(self):
        return f"{self._base.__name__}({self.source!r}, bias={self.bias})"

    # --- checks of a chunk ---------------------------------------------------------------------
    def _check_labels(self, chunk):
        """Logistic: labels 0 and 1; softmax: class indices 0..K-1 (read per chunk, named by row)."""
        from ..objectives import LogisticRegression

        if issubclass(self._base, LogisticRegression):
            ok, rule = (chunk.y == 0) | (chunk.y == 1), "LogisticRegression needs labels 0 and 1"
        elif not self._base.elementwise:
            y = chunk.y
            ok = (y >= 0) & (y < self.n_classes) & (y == np.round(y))
            rule = f"{self._base.__name__} needs class indices 0 to {self.n_classes - 1}"
        else:
            return
        if not ok.all():
            r = int(np.flatnonzero(~ok)[0])
            if not math.isfinite(chunk.y[r]):
                self.source.explain(chunk)
            raise DataError(f"{self.source._where(chunk)}row {chunk.row + r + 1}, column "
                            f"{self.source.target!r}: {rule}; got {chunk.y[r]:g}.")

    def _chunks(self, units=None, prefetch=True):
        for chunk in self.source.chunks(units, prefetch=prefetch):
            self._check_labels(chunk)
            yield chunk

    def _tell(self, rows):
        for f in self._listeners:
            f(rows)

    # --- full-data passes -----------------------------------------------------------------------
    def _use_numba(self) -> bool:
        if self._numba is None:
            try:
                import numba  # noqa: F401

                self._numba = True
            except ImportError:
                self._numba = False
        return self._numba

    def _chunk_sums(self, chunk, w, want_grad):
        """(sum of the chunk's row losses, sum of their gradients), no mean, no penalty: the kernels'
        ``loss_grad_sums`` (over the chunk's columns when the model has one output), or NumPy."""
        m = chunk.n
        g = np.zeros(self.n_params)
        if self._use_numba() and self._model >= 0:
            if chunk.cols is not None and self.n_outputs == 1 and self._model in (0, 1):
                from . import _kernels

                out = np.zeros(self.n_params + 1)
                _kernels.columns_loss_grad(self._model, chunk.cols, chunk.y, self.bias, w, out, want_grad)
                return out[-1], out[:-1]
            from .. import kernels

            X = chunk.rows()
            return kernels.loss_grad_sums(_view(self, X, chunk.y), X, chunk.y, w, g, want_grad), g
        loss, g = _view(self, chunk.rows(), chunk.y, l2=0.0).loss_and_grad(w)
        return loss * m, g * m

    def _pass(self, w, want_grad=True):
        """The full-data loss and gradient at w in one pass over the chunks (cached by w)."""
        w = np.ascontiguousarray(w, dtype=np.float64)
        key = w.tobytes()
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1], self._cache[2].copy()
        total, g = 0.0, np.zeros(self.n_params)
        for chunk in self._chunks():
            loss, gc = self._chunk_sums(chunk, w, True)
            if not math.isfinite(loss):
                self.source.explain(chunk)  # bad data raises here; a finite chunk means a true blow-up
            total += loss
            g += gc
            self._tell(chunk.n)
        n = self.n_samples
        loss, g = total / n, g / n
        if self.l2:  # the penalty on the coefficients, never the bias (the kernels' finish)
            mask = self.coef_mask
            loss += self.l2 * float(np.sum(w[mask] ** 2))
            g[mask] += 2.0 * self.l2 * w[mask]
        self._cache = (key, loss, g.copy())
        return loss, g

    def loss(self, w, rows=None):
        if rows is None:
            return self._pass(w)[0]
        return self._batch(rows).loss(w)

    def grad(self, w, rows=None):
        return self.loss_and_grad(w, rows)[1]

    def loss_and_grad(self, w, rows=None):
        if rows is None:
            return self._pass(w)
        return self._batch(rows).loss_and_grad(w)

    def _batch(self, rows):
        """An in-memory objective over the given rows (global indices, in that order): reads only the
        units holding them (a CSV file: one pass). Memory: the batch itself."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        n = self.n_samples
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise ParameterError(f"rows must be row indices in [0, {n}); got values from {rows.min()} to {rows.max()}.")
        X = np.empty((rows.size, self.n_features), dtype=self.source.dtype)
        y = np.empty(rows.size, dtype=self.source.dtype)
        if self.source.seekable:
            units = self.source.units()
            starts = np.cumsum([0] + [u.rows for u in units])
            which = np.searchsorted(starts, rows, side="right") - 1
            needed = np.unique(which)
            chunks = zip(needed, self._chunks([units[i] for i in needed]))
            starts_of = {int(i): int(starts[i]) for i in needed}
        else:
            chunks = ((None, c) for c in self._chunks())
            starts_of = None
        at = 0
        for i, chunk in chunks:
            lo = starts_of[int(i)] if starts_of is not None else at
            sel = np.flatnonzero((rows >= lo) & (rows < lo + chunk.n))
            at += chunk.n
            if sel.size:
                Xc = chunk.rows()
                X[sel] = Xc[rows[sel] - lo]
                y[sel] = chunk.y[rows[sel] - lo]
                if not (np.isfinite(X[sel]).all() and np.isfinite(y[sel]).all()):
                    self.source.explain(chunk)
        return _view(self, X, y)

    def _each_chunk(self, fn):
        """sum over chunks of fn(in-memory objective of the chunk) * rows / n_rows."""
        total = None
        for chunk in self._chunks():
            view = _view(self, chunk.rows(), chunk.y)
            if not (np.isfinite(view.X).all() and np.isfinite(view.y).all()):
                self.source.explain(chunk)
            part = np.asarray(fn(view), dtype=np.float64) * chunk.n
            total = part if total is None else total + part
        return total / self.n_samples

    def loss_many(self, W, chunk: int = 256):
        return self._each_chunk(lambda v: self._base.loss_many(v, W, chunk))

    def hessian(self, w=None):
        """Exact, in one pass: the chunks' Hessians weighted by their rows."""
        return self._each_chunk(lambda v: self._base.hessian(v, w))

    def gram(self, s=None):
        """[X 1]^T diag(s) [X 1] in one pass (s: per-row weights, an array of n_rows; None: 1)."""
        if s is not None:
            raise ParameterError("a streamed objective's gram() takes no row weights (they would be n_rows values).")
        G = self.__dict__.get("_gram")
        if G is None:
            G = self.__dict__["_gram"] = self._each_chunk(lambda v: v.gram() / v.n_samples) * self.n_samples
        return G.copy()

    def smoothness(self):
        c = self._curvature_bound
        L = c * float(np.linalg.eigvalsh(self.gram() / self.n_samples)[-1]) + 2.0 * self.l2
        L_max = 0.0
        for chunk in self._chunks():
            X = chunk.rows().astype(np.float64)
            L_max = max(L_max, float(np.max(np.einsum("ij,ij->i", X, X))) + (1.0 if self.bias else 0.0))
        return L, c * L_max + 2.0 * self.l2

    def decision(self, w, X=None):
        if X is None:
            raise ParameterError("a streamed objective does not hold its rows in memory; pass X.")
        return self._base.decision(_view(self, np.asarray(X), np.zeros(len(X))), w, X)

    def solution(self):
        """Least squares (ridge when l2 > 0) from the normal equations, accumulated in one pass."""
        G = self.gram() / self.n_samples + np.diag(self.l2 * (np.arange(self.block) < self.n_features))
        B = np.zeros((self.block, 1))
        for chunk in self._chunks():
            X, y = chunk.rows().astype(np.float64), chunk.y.astype(np.float64)
            B[: self.n_features, 0] += X.T @ y
            if self.bias:
                B[self.n_features, 0] += y.sum()
        return np.linalg.solve(G, B[:, 0] / self.n_samples)

    # --- what the loop plugs in --------------------------------------------------------------------
    def stream_order(self, shuffle, batch_size):
        """The loop's epoch-order function for this objective; refuses what a stream cannot do."""
        if batch_size is not None:
            from_memory = getattr(self.source, "X", None) is not None
            if shuffle == "block":
                if not self.source.seekable:
                    raise ParameterError(
                        f"shuffle='block' reads chunks in a random order, which {self.source.describe()} cannot "
                        f"do (a CSV file is read from start to end); convert it once to Parquet (`descend convert "
                        f"data.csv data.parquet`, or ds.data.convert) and stream that, or use shuffle=False.")
            elif shuffle and not from_memory:
                raise ParameterError(
                    "shuffle=True visits the rows in a uniformly random order, which on a streamed source means "
                    "one random read per row; use shuffle='block' (chunks in a random order, rows shuffled "
                    "within a buffer that fits the memory budget) or shuffle=False (file order).")

        def order(n, epoch, seed, shuffle_):
            return StreamOrder(int(epoch), int(seed), shuffle_)

        return order

    def stream_backend(self, backend, optimizer):
        """(name, epoch runner, full loss, full loss and gradient) for the loop: the in-memory runner
        of ``backend`` ("auto" and "numba": the compiled one when it can run this model and optimizer)."""
        from ..loop import BACKENDS, numpy_epoch

        if backend not in BACKENDS:
            raise ParameterError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}.")
        inner, name = numpy_epoch, "numpy"
        if backend != "numpy":
            from .. import kernels

            probe = _view(self, np.zeros((1, self.n_features)), np.zeros(1))
            reason = kernels.unsupported(probe, optimizer)
            if reason is None and not self._use_numba():
                reason = "numba is not installed"
            if reason is None:
                inner, name = kernels.numba_epoch, "numba"
            elif backend == "numba":
                raise ParameterError(f"backend='numba' cannot run this: {reason}; use backend='numpy' or 'auto'.")
        if name == "numpy":
            self._numba = False
        runner = _Runner(self, inner)
        return (f"stream-{name}", runner, lambda w: self._pass(w)[0], self._pass)


# ----------------------------------------------------------------------------------- the runner


class _Runner:
    """The streamed epoch runner, with :func:`descend.loop.numpy_epoch`'s signature and contract."""

    def __init__(self, objective, inner):
        self.obj = objective
        self.inner = inner
        self.buffers = []

    def __call__(self, objective, w, optimizer, state, order, batch_size, out_loss, out_gnorm, out_lr, progress):
        if order is None:  # full batch (the loop itself steps on its boundary's pass; lr_find comes here)
            return self._full_batch(w, optimizer, state, out_loss, out_gnorm, out_lr, progress)
        if not isinstance(order, StreamOrder):  # an explicit order of rows (lr_find's few steps): gather them
            batch = self.obj._batch(order)
            blocks = [(batch.X, batch.y, None, len(batch.y))]
        else:
            blocks = self._blocks(order)
        return self._steps(blocks, w, optimizer, state, batch_size, out_loss, out_gnorm, out_lr, progress)

    def _full_batch(self, w, optimizer, state, out_loss, out_gnorm, out_lr, progress):
        from ..loop import gradient_step

        loss, g = self.obj._pass(w)
        return gradient_step(w, loss, g, optimizer, state, 0, out_loss, out_gnorm, out_lr, progress)

    # --- blocks of rows, in the epoch's order ----------------------------------------------------
    def _rows_of(self, chunk, X, Y, pos):
        """Copy ``chunk``'s rows to rows ``pos`` of (X, Y), checking every value on the way."""
        obj = self.obj
        if chunk.cols is not None and obj._numba:
            from . import _kernels

            bad = not _kernels.columns_to_rows(chunk.cols, chunk.y, X, Y, pos)
        else:
            X[pos] = chunk.rows()
            Y[pos] = chunk.y
            bad = chunk.X is None and not (np.isfinite(X[pos]).all() and np.isfinite(Y[pos]).all())
        if bad:
            obj.source.explain(chunk)

    def _buffer(self, i, rows):
        """Row buffer ``i``, allocated once per run (first-touch page faults are paid once)."""
        if len(self.buffers) <= i or len(self.buffers[i][1]) < rows:
            src = self.obj.source
            buf = (np.empty((rows, src.n_features), dtype=src.dtype), np.empty(rows, dtype=src.dtype))
            self.buffers[i:i + 1] = [buf]
        return self.buffers[i]

    def _blocks(self, order: StreamOrder):
        """(X, y, local order or None, rows) blocks whose concatenated visits are the epoch's row order."""
        obj = self.obj
        src = obj.source
        if order.shuffle == "block":
            rng, buffers = block_plan(src, order.seed, order.epoch)
            units = src.units()
            slots = [self._buffer(i, src.buffer_rows) for i in range(2)]

            def fill(slot, buf):  # in the background thread, while the steps run through the other slot
                X, Y = slots[slot]
                r = sum(units[i].rows for i in buf)
                perm = rng.permutation(r)  # drawn first: each row is written where the epoch visits it
                where = np.empty(r, dtype=np.int64)
                where[perm] = np.arange(r)
                at = 0
                for chunk in obj._chunks([units[i] for i in buf], prefetch=False):
                    self._rows_of(chunk, X, Y, where[at : at + chunk.n])
                    at += chunk.n
                return r

            for slot, r in _pipeline(buffers, fill, len(slots)):
                X, Y = slots[slot]
                yield X[:r], Y[:r], None, r
            return
        if order.shuffle:  # an in-memory source (ds.data.arrays): the in-memory permutation itself
            from ..loop import _epoch_order

            perm = _epoch_order("numba" if obj._numba else "numpy")(src.n_rows, order.epoch, order.seed, True)
            yield src.X, src.y, perm, src.n_rows
            return
        for chunk in obj._chunks():
            if chunk.X is not None:
                yield chunk.X, chunk.y, None, chunk.n
                continue
            X, Y = self._buffer(0, max(chunk.n, src.unit_rows if src.seekable else chunk.n))
            self._rows_of(chunk, X, Y, np.arange(chunk.n))
            yield X[: chunk.n], Y[: chunk.n], None, chunk.n

    # --- steps over the blocks, batches carried across block edges --------------------------------
    def _steps(self, blocks, w, optimizer, state, B, out_loss, out_gnorm, out_lr, progress):
        obj = self.obj
        done = 0
        carry = None  # (X, y) of a batch begun in the previous block: fewer than B rows

        def run(X, y, idx, k):
            nonlocal done
            local = np.zeros(1, dtype=np.int64)
            try:
                ok = self.inner(_view(obj, X, y), w, optimizer, state,
                                np.ascontiguousarray(idx, dtype=np.int64), B, out_loss[done : done + k],
                                out_gnorm[done : done + k], out_lr[done : done + k], local)
            finally:
                done += int(local[0])
                progress[0] = done
            return ok

        for X, y, idx, m in blocks:
            if idx is None:
                idx = np.arange(m)
            at = 0
            if carry is not None:
                take = min(B - len(carry[1]), m)
                sel = idx[:take]
                carry = (np.concatenate([carry[0], X[sel]]), np.concatenate([carry[1], y[sel]]))
                at = take
                if len(carry[1]) < B:
                    obj._tell(m)
                    continue
                cx, cy = carry
                carry = None
                if not run(cx, cy, np.arange(B), 1):
                    return False
            full = (m - at) // B
            if full and not run(X, y, idx[at : at + full * B], full):
                return False
            rest = idx[at + full * B :]
            if rest.size:
                carry = (X[rest].copy(), y[rest].copy())
            obj._tell(m)
        if carry is not None and not run(carry[0], carry[1], np.arange(len(carry[1])), 1):
            return False
        return True


def _pipeline(tasks, work, n_slots):
    """(slot, work(slot, task)) for each task in order, the work done in a background thread up to
    ``n_slots`` tasks ahead: a slot is handed back (free to be filled again) when the consumer asks
    for the next one. Errors are raised in order, where their result would have come."""
    import queue
    import threading

    free, ready = queue.Queue(), queue.Queue()
    for i in range(n_slots):
        free.put(i)
    stop = threading.Event()

    def produce():
        try:
            for task in tasks:
                while True:
                    if stop.is_set():
                        return
                    try:
                        slot = free.get(timeout=0.05)
                        break
                    except queue.Empty:
                        continue
                ready.put((0, slot, work(slot, task)))
            ready.put((1, None, None))
        except BaseException as exc:  # handed to the consumer, raised there
            ready.put((2, None, exc))

    thread = threading.Thread(target=produce, name="descend-fill", daemon=True)
    thread.start()
    try:
        while True:
            kind, slot, result = ready.get()
            if kind == 1:
                return
            if kind == 2:
                raise result
            yield slot, result
            free.put(slot)
    finally:
        stop.set()
        thread.join()


# ---------------------------------------------------------------------------------- progress bar


def _monitor_base():
    from ..monitors import Monitor

    return Monitor


class StreamProgress(_monitor_base()):
    """A progress bar of rows read, with rows/s, for streamed fits (a monitor; stderr by default).

    Counts every row a pass reads (the steps' and the epoch-boundary losses'), so the rate is the
    rate at which the data is streamed."""

    def __init__(self, description: str = "streaming", console=None, transient: bool = True):
        self.description = description
        self.console = console
        self.transient = transient
        self.bar = None

    def on_start(self, run):
        from rich.console import Console
        from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn

        listeners = getattr(run.objective, "_listeners", None)
        if listeners is None:
            return
        self.bar = Bar(TextColumn("{task.description}"), BarColumn(), TextColumn("epoch {task.fields[epoch]}"),
                       TextColumn("{task.fields[rate]} rows/s"), TextColumn("loss {task.fields[loss]}"),
                       TimeElapsedColumn(), console=self.console or Console(stderr=True), transient=self.transient)
        n, left = run.objective.n_samples, run.epochs - run.epoch
        passes = left + 1 if run.batch_size is None else 2 * left + 1  # full batch: the boundary shares the pass
        self.task = self.bar.add_task(self.description, total=n * passes, epoch=run.epoch,
                                      rate="-", loss="-")
        import time

        self._clock = time.perf_counter
        self._t0, self._rows = self._clock(), 0
        listeners.append(self._advance)
        self.bar.start()

    def _advance(self, rows):
        self._rows += rows
        elapsed = self._clock() - self._t0
        rate = f"{self._rows / elapsed:,.0f}" if elapsed > 0 else "-"
        self.bar.update(self.task, advance=rows, rate=rate)

    def on_epoch(self, run):
        if self.bar is not None:
            self.bar.update(self.task, epoch=run.epoch, loss=f"{run.history.epoch_loss_list[-1]:.4g}")
        return None

    def on_end(self, run, result):
        if self.bar is not None:
            run.objective._listeners.remove(self._advance)
            self.bar.stop()
