"""The Dask engine: the one loop's steps, with the rows in chunks on a cluster.

An objective built on :func:`descend.data.dask` (``ds.LinearRegression(src)``) carries an
:class:`Engine`; :func:`descend.minimize` asks it for the epoch runner. Nothing here restates
the mathematics: the workers run the compiled kernels of the in-memory path on their chunks,
the client runs the optimizers of :mod:`descend.optim`.

**Full batch** (every optimizer). Each step is one pass: every chunk computes the sums of its
losses and gradients (:func:`descend.kernels.loss_grad_sums`, the kernels' entry point for a
chunk of rows, run on the worker's thread), the partial sums are added in a fixed tree on the
workers (a replica's chunks in order, then ``FAN_IN`` at a time, so the numbers do not depend
on timing), and the client receives one vector of ``n_params + 1`` floats (one round trip),
turns it into the loss and gradient (:func:`descend.kernels.finish`: the means and the L2
penalty) and takes the optimizer step with the NumPy rules, exactly as the plain path does.
The loop's epoch-boundary pass is that same pass: one pass per step.

**Mini-batch and per-sample**: local SGD with model averaging (Zinkevich et al. 2010; Vowpal
Wabbit's allreduce averaging). The chunks are dealt to ``G`` replicas (chunk i to replica
i mod G). Each epoch, the chunk order is a permutation drawn from (seed, epoch) and the rows
within chunk c one drawn from (seed, epoch, c); a replica's steps are batches of its chunks'
rows in that order (a batch never spans two chunks). In a round, every replica starts from the
same weights and optimizer state and runs up to ``sync`` steps with the kernels' per-step
entry point (:func:`descend.kernels.run_steps`) on its worker; the client then sets the
weights and every optimizer buffer to their average over the replicas, weighted by the steps
each took, and advances the optimizer's step count by the steps of all replicas (it counts
every step taken, as the history does; within a round each replica counts on from the round's
start, which is what its schedule and bias corrections see). This is not single-machine
mini-batch SGD: G replicas each take steps on their own batches, and only their average
survives the round.

**Faults**: a lost worker's chunks are recomputed by Dask from the source (the task graph is
kept), and the step waits for them: the same numbers. If Dask gives up (a task kept killing
workers, or the data cannot be recomputed), the engine raises :class:`descend.errors.EngineError`
naming the lost worker, and the loop stops with the best weights and a checkpoint.

Without a ``distributed.Client`` the same graph runs on dask's default scheduler in this
process (threads): the chunks are computed once into memory and every step maps over them.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from ..errors import DataError, EngineError, ParameterError

__all__ = ["Engine", "Chunks", "objective_class", "FAN_IN", "connect"]

FAN_IN = 8  # partial sums added per task of the reduction tree
WAIT_FOR_WORKERS = 60  # seconds to wait for a first worker when the cluster has none


# --- on the workers ---------------------------------------------------------------------------

class Chunk:
    """One persisted row chunk: contiguous X (rows x features), Y (rows x 1, the target column), its index."""

    __slots__ = ("index", "X", "Y")

    def __init__(self, index, X, Y):
        self.index, self.X, self.Y = index, X, Y

    def __sizeof__(self):  # dask's memory accounting
        return self.X.nbytes + self.Y.nbytes + 64


def _prepare(index, x_block, y_block):
    X = np.asarray(x_block)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    Y = np.ascontiguousarray(np.asarray(y_block), dtype=dtype).reshape(len(X), -1)
    return Chunk(index, np.ascontiguousarray(X, dtype=dtype), Y)


def _first(mask):
    """The first True of a boolean array (row-major) as an index tuple, or None."""
    flat = np.flatnonzero(mask)
    return None if flat.size == 0 else np.unravel_index(int(flat[0]), mask.shape)


def _inspect(chunk):
    """A chunk's facts, rows counted within it: (rows, first non-finite X (row, col, value), first
    non-finite y (row, value), first y not in {0, 1} (row, value), first y not a class index
    0, 1, ... (row, value), the largest y). Loads the compiled pass on this worker."""
    from .. import kernels
    from ..objectives import LinearRegression

    X, y = chunk.X, chunk.Y[:, 0]
    finite = np.isfinite(y)
    bad_x, bad_y = _first(~np.isfinite(X)), _first(~finite)
    label = _first((y != 0) & (y != 1))
    klass = _first(~finite | (y < 0) | (y != np.round(y)))
    if len(y):  # compile (or load from numba's cache) the pass on this worker now, not in step 1
        shell = model_shell(LinearRegression, X.shape[1], True, 0.0, 1)
        kernels.loss_grad_sums(shell, X[:1], chunk.Y[:1], np.zeros(shell.n_params), np.zeros(shell.n_params))
    pick = lambda i, a: None if i is None else (int(i[0]), float(a[i]))  # noqa: E731
    return (len(y), None if bad_x is None else (int(bad_x[0]), int(bad_x[1]), float(X[bad_x])),
            pick(bad_y, y), pick(label, y), pick(klass, y), float(np.max(y[finite], initial=0.0)))


def model_shell(model_class, n_features, bias, l2, n_outputs):
    """The model contract without the data: what the compiled kernels read off an objective
    (its class's pointwise loss, K outputs, bias, l2, the parameter layout). Sent to the workers,
    which run the kernels on their own chunks with it."""
    shell = object.__new__(model_class)
    shell.n_features, shell.bias, shell.l2, shell.n_outputs = int(n_features), bool(bias), float(l2), int(n_outputs)
    shell.block = shell.n_features + shell.bias
    shell.n_params = shell.block * shell.n_outputs
    return shell


def _loss_grad_part(chunk, shell, w):
    """[sum of gradients..., sum of losses] over the chunk's rows: the kernels' ``loss_grad_sums``
    on slices small enough to run on this one thread (a Dask worker thread is one core)."""
    from .. import kernels

    g = np.zeros(w.size)
    total = 0.0
    step = max(1, kernels.SERIAL_MAX_VALUES // max(1, chunk.X.shape[1]))
    for a in range(0, len(chunk.X), step):
        total += kernels.loss_grad_sums(shell, chunk.X[a : a + step], chunk.Y[a : a + step], w, g)
    return np.append(g, total)


def _group_sum(fn, chunks, **kwargs):
    """fn's partial sums over a replica's chunks, added in chunk order (one task per replica)."""
    total = fn(chunks[0], **kwargs)
    for chunk in chunks[1:]:
        total += fn(chunk, **kwargs)
    return total


def _add(*parts):
    """The sum of partial-sum vectors, in the order given."""
    total = parts[0].copy()
    for p in parts[1:]:
        total += p
    return total


def _in_memory(chunk, model_class, bias, n_classes):
    """The in-memory model on one chunk (no penalty): its Gram matrix and Hessian are the chunk's share."""
    kwargs = {"n_classes": n_classes} if n_classes is not None else {}
    y = chunk.Y[:, 0]
    return model_class(chunk.X, y, bias=bias, **kwargs)


def _curvature_part(chunk, model_class, bias, n_classes, w):
    """[n_rows * Hessian of the chunk's mean loss at w (flattened) or, w None, its Gram matrix
    [X 1]^T [X 1], then the largest row ||[x, 1]||^2 times the loss's curvature bound]."""
    m = _in_memory(chunk, model_class, bias, n_classes)
    part = m.gram() if w is None else m.hessian(w) * len(chunk.X)
    return np.append(part.ravel(), m.smoothness()[1])


def _normal_part(chunk, bias):
    """[X 1]^T Y of a chunk (the right-hand side of the normal equations)."""
    X = chunk.X.astype(np.float64)
    B = X.T @ chunk.Y.astype(np.float64)
    return np.vstack([B, chunk.Y.sum(axis=0, dtype=np.float64)]) if bias else B


@functools.lru_cache(maxsize=32)
def _chunk_order(n, seed, epoch, chunk, shuffle):
    """The row order of chunk ``chunk`` in ``epoch``: 0..n-1, or a permutation drawn from (seed, epoch, chunk)."""
    if not shuffle:
        return np.arange(n, dtype=np.int64)
    return np.random.default_rng([seed, epoch, chunk]).permutation(n).astype(np.int64)


def _local_round(chunks, plan, shell, optimizer, w, state, lrs, batch_size, seed, epoch, shuffle):
    """One replica's round of local SGD: its steps ``plan`` = [(first, last, j0), ...] (batches
    first..last-1 of each chunk, the round's steps j0...) with the kernels' ``run_steps``.

    Returns (w, optimizer buffers, step losses, gradient norms, learning rates, ok, bad step's (loss, norm))."""
    from .. import kernels

    w, state = w.copy(), state.copy()  # the arguments may be shared with other replicas
    t_start = state.step
    m = sum(last - first for first, last, _ in plan)
    loss, gnorm, lr_used = np.empty(m), np.empty(m), np.empty(m)
    progress = np.zeros(1, dtype=np.int64)
    pos = 0
    for chunk, (first, last, j0) in zip(chunks, plan):
        order = _chunk_order(len(chunk.X), seed, epoch, chunk.index, shuffle)
        lrs_c = np.zeros(last)
        lrs_c[first:] = lrs[j0 : j0 + last - first]
        out_l, out_g, out_r = np.empty(last), np.empty(last), np.empty(last)
        progress[0] = first
        state.step = t_start + j0  # the count before the segment's first step
        ok = kernels.run_steps(shell, optimizer, state, w, chunk.X, chunk.Y, order, batch_size, first, last, lrs_c,
                               out_l, out_g, out_r, progress)
        done = int(progress[0]) - first
        loss[pos : pos + done], gnorm[pos : pos + done], lr_used[pos : pos + done] = (
            out_l[first : first + done], out_g[first : first + done], out_r[first : first + done])
        pos += done
        if not ok:
            s = int(progress[0])
            return w, state.buffers, loss[:pos], gnorm[:pos], lr_used[:pos], False, (out_l[s], out_g[s])
    return w, state.buffers, loss, gnorm, lr_used, True, None


# --- where the chunks live: a distributed Client, or dask's default scheduler ------------------

def _distributed_errors():
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError

    return (KilledWorker, FutureCancelledError, CommClosedError, TimeoutError)


def current_client(client=None):
    """``client``, else the current distributed Client, else None (dask's default scheduler)."""
    if client is not None:
        return client
    import sys

    if "distributed" not in sys.modules:  # no Client can exist without distributed imported
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


class _OnCluster:
    """Tasks on a distributed Client: chunks persisted once as futures, placed replica by replica."""

    def __init__(self, client):
        self.client = client
        self.errors = _distributed_errors()

    def slots(self):
        """Worker addresses, one entry per worker thread (sorted: a deterministic layout)."""
        threads = self.client.nthreads()
        if not threads:  # e.g. the only worker is restarting: wait for one
            try:
                self.client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS)
            except TimeoutError as exc:
                raise EngineError(f"no Dask worker joined the scheduler {self.client.scheduler.address} within "
                                  f"{WAIT_FOR_WORKERS} s.") from exc
            threads = self.client.nthreads()
        return [addr for addr in sorted(threads) for _ in range(threads[addr])]

    def persist(self, parts, homes):
        futures = [self.client.compute(p, workers=[h], allow_other_workers=True) for p, h in zip(parts, homes)]
        self.homes = dict(zip([f.key for f in futures], homes))
        return futures

    def _wait(self, futures):
        try:
            return self.client.gather(futures)
        except KeyboardInterrupt:
            self.client.cancel(futures)
            raise
        except self.errors as exc:
            self.client.cancel(futures)
            raise EngineError(self._lost_message(exc)) from exc

    def _lost_message(self, exc):
        from distributed import KilledWorker

        if isinstance(exc, KilledWorker):
            lost = [exc.last_worker.address]
        else:
            try:
                alive = set(self.client.scheduler_info()["workers"])
            except Exception:  # noqa: BLE001  the scheduler itself is gone
                alive = set()
            lost = sorted(set(self.homes.values()) - alive)
        who = (f"the Dask worker {', '.join(lost)} was lost" if len(lost) == 1 else
               f"the Dask workers {', '.join(lost)} were lost" if lost else "a Dask worker was lost")
        return (f"{who} and its chunks could not be recomputed ({type(exc).__name__}: {exc}); "
                f"resume with minimize(..., resume=result.checkpoint) once the data is back")

    def map_gather(self, fn, handles, **kwargs):
        return self._wait(self.client.map(fn, handles, pure=False, **kwargs))

    def map_reduce(self, fn, groups, homes, **kwargs):
        parts = [self.client.submit(_group_sum, fn, g, workers=[h], allow_other_workers=True, pure=False, **kwargs)
                 for g, h in zip(groups, homes)]
        while len(parts) > 1:
            parts = [self.client.submit(_add, *parts[i : i + FAN_IN], pure=False)
                     for i in range(0, len(parts), FAN_IN)]
        return self._wait(parts)[0]

    def run(self, fn, calls, homes):
        return self._wait([self.client.submit(fn, *args, workers=[h], allow_other_workers=True, pure=False)
                           for args, h in zip(calls, homes)])


class _InProcess:
    """The same tasks on dask's default scheduler (threads, unless configured otherwise)."""

    errors = ()

    def slots(self):
        import dask

        n = dask.config.get("num_workers", None) or os.cpu_count() or 1
        return [None] * int(n)

    def persist(self, parts, homes):
        import dask

        return list(dask.compute(*parts))

    def _compute(self, tasks):
        import dask

        return list(dask.compute(*tasks))

    def map_gather(self, fn, handles, **kwargs):
        from dask import delayed

        return self._compute([delayed(fn, pure=False)(h, **kwargs) for h in handles])

    def map_reduce(self, fn, groups, homes, **kwargs):
        from dask import delayed

        parts = [delayed(_group_sum, pure=False)(fn, g, **kwargs) for g in groups]
        while len(parts) > 1:
            parts = [delayed(_add, pure=False)(*parts[i : i + FAN_IN]) for i in range(0, len(parts), FAN_IN)]
        return self._compute(parts)[0]

    def run(self, fn, calls, homes):
        from dask import delayed

        return self._compute([delayed(fn, pure=False)(*args) for args in calls])


class Chunks:
    """A source's chunks persisted on the cluster (once), with their row counts, checked for
    non-finite values; ``replicas`` and ``homes`` lay the chunks out for local SGD."""

    def __init__(self, source):
        from dask import delayed

        client = current_client(source.client)
        self.where = _OnCluster(client) if client is not None else _InProcess()
        X, y = source.X, source.y
        xs, ys = X.to_delayed().ravel(), y.to_delayed().ravel()
        n_chunks = len(xs)
        slots = self.where.slots()
        self.replicas = int(source.groups or max(1, min(n_chunks, len(slots))))
        self.replica_homes = [slots[r % len(slots)] for r in range(self.replicas)]
        homes = [self.replica_homes[i % self.replicas] for i in range(n_chunks)]
        parts = [delayed(_prepare, pure=True)(i, xb, yb) for i, (xb, yb) in enumerate(zip(xs, ys))]
        self.handles = self.where.persist(parts, homes)
        self.replica_handles = [self.handles[r::self.replicas] for r in range(self.replicas)]
        stats = self.where.map_gather(_inspect, self.handles)
        self.sizes = np.array([s[0] for s in stats], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        self.n_rows = int(self.sizes.sum())
        self._labels = [(s[3], s[4]) for s in stats]
        self.max_y = max(s[5] for s in stats)
        names = source.feature_names
        for off, (_, bad_x, bad_y, *_) in zip(self.offsets, stats):
            if bad_x is not None:
                raise DataError(f"X has a non-finite value ({bad_x[2]}) at row {off + bad_x[0] + 1} (counting from 1), "
                                f"column {names[bad_x[1]]!r}.")
            if bad_y is not None:
                raise DataError(f"y has a non-finite value ({bad_y[1]}) at row {off + bad_y[0] + 1} (counting from 1).")

    def alive(self) -> bool:
        """False once the Client holding the chunks is closed (the source then persists them again)."""
        client = getattr(self.where, "client", None)
        return client is None or client.status in ("running", "connecting")

    def check_labels(self, model_class, n_classes=None):
        """The targets' check of a classifier: y in {0, 1} (LogisticRegression), or class indices
        0..n_classes-1 (SoftmaxRegression); a DataError naming the first row that is not."""
        from ..objectives import LogisticRegression, SoftmaxRegression

        name = model_class.__name__
        for off, (not01, notclass) in zip(self.offsets, self._labels):
            if issubclass(model_class, LogisticRegression) and not01 is not None:
                raise DataError(f"{name}: y must hold only 0 and 1; row {off + not01[0] + 1} (counting from 1) "
                                f"holds {not01[1]:g}.")
            if issubclass(model_class, SoftmaxRegression) and notclass is not None:
                raise DataError(f"{name}: y must hold class indices 0, 1, ..., K-1; row {off + notclass[0] + 1} "
                                f"(counting from 1) holds {notclass[1]:g}.")
        if n_classes is not None and self.max_y >= n_classes:
            raise DataError(f"{name}: y holds class {int(self.max_y)} but n_classes is {n_classes}.")

    def map_reduce(self, fn, **kwargs):
        """The sum over every row of fn's per-chunk sums: one task per replica (its chunks in order),
        then a tree of FAN_IN-way sums; one round trip."""
        return self.where.map_reduce(fn, self.replica_handles, self.replica_homes, **kwargs)

    def map_gather(self, fn, **kwargs):
        return self.where.map_gather(fn, self.handles, **kwargs)


# --- the engine: what minimize runs ------------------------------------------------------------

class Engine:
    """Runs one linear model of the contract (:class:`descend.objectives.LinearModel`) on a
    source's chunks: the workers get the model's shell (class, outputs, bias, l2), never the data."""

    def __init__(self, objective, source):
        self.source = source
        self.objective = objective
        self.model_class = objective._model
        self.shell = model_shell(self.model_class, objective.n_features, objective.bias, objective.l2,
                                 objective.n_outputs)
        self._key = None  # the weights of the cached pass
        self._value = None

    @property
    def chunks(self) -> Chunks:
        chunks = self.source.persisted()
        chunks.check_labels(self.model_class, getattr(self.objective, "n_classes", None))
        return chunks

    def loss_and_grad(self, w):
        """The full-data (loss, gradient) at w: one pass on the cluster (cached for the last w)."""
        from .. import kernels

        w = np.ascontiguousarray(w, dtype=np.float64)
        chunks = self.chunks
        key = (id(chunks), w.tobytes())
        if key != self._key:
            sums = chunks.map_reduce(_loss_grad_part, shell=self.shell, w=w)
            self._key, self._value = key, kernels.finish(self.shell, float(sums[-1]), sums[:-1], chunks.n_rows, w)
        loss, g = self._value
        return loss, g.copy()

    def loss(self, w) -> float:
        return self.loss_and_grad(w)[0]

    def curvature(self, w=None):
        """(sum over chunks of n_c * Hessian of the chunk's mean loss at w, or with w None of the
        Gram matrix [X 1]^T [X 1]; the largest row curvature bound): the penalty not included."""
        chunks = self.chunks
        w = None if w is None else np.ascontiguousarray(w, dtype=np.float64)
        parts = chunks.map_gather(_curvature_part, model_class=self.model_class, bias=self.shell.bias,
                                  n_classes=getattr(self.objective, "n_classes", None), w=w)
        size = len(parts[0]) - 1
        k = int(round(size**0.5))
        return _add(*[q[:-1] for q in parts]).reshape(k, k), max(float(q[-1]) for q in parts)

    def normal_rhs(self):
        return _add(*self.chunks.map_gather(_normal_part, bias=self.shell.bias))

    def backend(self, backend, optimizer):
        """minimize's (name, epoch runner, full loss, full loss and gradient) for this engine."""
        if backend not in ("auto", "dask"):
            raise ParameterError(f"an objective on a Dask source runs with backend='auto' or 'dask'; got {backend!r}.")
        return "dask", _Runner(self), self.loss, self.loss_and_grad


def _check_optimizer(shell, optimizer):
    """Local SGD runs the compiled kernels on the workers: a ParameterError for an optimizer they lack."""
    from .. import kernels

    reason = kernels.unsupported(shell, optimizer)
    if reason is not None:
        raise ParameterError(f"mini-batch runs on Dask use the compiled kernels, and {reason}; use a built-in "
                             f"optimizer, or batch_size=None (full batch runs any).")


class _EpochPlan:
    """The loop's ``order`` on this engine: which epoch (the row orders are drawn per chunk)."""

    __slots__ = ("epoch", "seed", "shuffle")

    def __init__(self, epoch, seed, shuffle):
        self.epoch, self.seed, self.shuffle = epoch, seed, shuffle


class _Runner:
    """The epoch runner (with :func:`descend.loop.numpy_epoch`'s signature and contract)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def steps_per_epoch(self, n, batch_size):
        if batch_size is None:
            return 1
        return int(np.sum(-(-self.engine.chunks.sizes // batch_size)))

    def epoch_order(self, n, epoch, seed, shuffle=True):
        return _EpochPlan(int(epoch), int(seed), bool(shuffle))  # "block" shuffles like True here

    def __call__(self, objective, w, optimizer, state, order, batch_size, out_loss, out_gnorm, out_lr, progress):
        from ..loop import numpy_epoch

        if order is None:  # full batch: the client's optimizer step on the cluster's one-pass gradient
            return numpy_epoch(objective, w, optimizer, state, None, None, out_loss, out_gnorm, out_lr, progress)
        return self._local_sgd(w, optimizer, state, order, batch_size, out_loss, out_gnorm, out_lr, progress)

    def _local_sgd(self, w, optimizer, state, plan, batch_size, out_loss, out_gnorm, out_lr, progress):
        from .. import schedules

        engine = self.engine
        _check_optimizer(engine.shell, optimizer)
        chunks = engine.chunks
        G = chunks.replicas
        n_chunks = len(chunks.sizes)
        visit = (np.random.default_rng([plan.seed, plan.epoch]).permutation(n_chunks) if plan.shuffle
                 else np.arange(n_chunks))
        mine = [[int(c) for c in visit if c % G == r] for r in range(G)]  # each replica's chunks, in visiting order
        steps = -(-chunks.sizes // batch_size)
        totals = [int(sum(steps[c] for c in cs)) for cs in mine]
        longest = max(totals)
        sync = longest if engine.source.sync == "epoch" else int(engine.source.sync)
        cursor = 0
        while cursor < longest:
            m = min(sync, longest - cursor)
            t_start = state.step
            lrs = schedules.evaluate(optimizer.schedule, t_start, m) * state.lr_scale
            calls, homes = [], []
            for r, cs in enumerate(mine):
                segs, handles, start = [], [], 0  # start: the replica's step count before chunk c
                for c in cs:
                    lo, hi = max(cursor, start), min(cursor + m, start + int(steps[c]))
                    if lo < hi:
                        segs.append((lo - start, hi - start, lo - cursor))
                        handles.append(chunks.handles[c])
                    start += int(steps[c])
                if segs:
                    calls.append((handles, segs, engine.shell, optimizer, w.copy(), state.copy(), lrs, batch_size,
                                  plan.seed, plan.epoch, plan.shuffle))
                    homes.append(chunks.replica_homes[r])
            results = chunks.where.run(_local_round, calls, homes)
            done = int(progress[0])
            for res in results:  # the step records, replica after replica
                k = len(res[2])
                out_loss[done : done + k], out_gnorm[done : done + k], out_lr[done : done + k] = res[2], res[3], res[4]
                done += k
            bad = [res for res in results if not res[5]]
            if bad:
                out_loss[done], out_gnorm[done] = bad[0][6]
                progress[0] = done
                return False
            taken = np.array([len(res[2]) for res in results], dtype=np.float64)
            weights = taken / taken.sum()
            w[:] = sum(wt * res[0] for wt, res in zip(weights, results))
            state.buffers[...] = sum(wt * res[1] for wt, res in zip(weights, results))
            state.step = t_start + int(taken.sum())
            progress[0] = done
            cursor += m
        return True


# --- the objectives on a source ------------------------------------------------------------------

class _OnDask:
    """What a linear model of the contract does when its rows are a Dask source: every pass over
    the rows runs on the cluster; the rest (penalty, layout, decisions) is the model's own."""

    streamed = True  # the rows are not in memory: diagnostics call this objective's own hessian()

    def __init__(self, X, y=None, bias: bool = True, l2: float = 0.0, n_classes: int | None = None):
        from ..objectives import SoftmaxRegression, _check_l2

        name = self._model.__name__
        if y is not None:
            raise ParameterError(f"{name}(source): the source holds the targets; do not pass y.")
        self.source = X
        self.bias = bool(bias)
        self.l2 = _check_l2(l2, name)
        self.n_samples, self.n_features = X.n_rows, X.n_features
        self.X, self.y = X.X, X.y  # dask arrays (lazy)
        self.Y = X.y.reshape(-1, 1)
        if issubclass(self._model, SoftmaxRegression):
            if n_classes is None:  # K from the data: the chunks are persisted (and checked) now
                n_classes = max(int(X.persisted().max_y) + 1, 2)
            if not isinstance(n_classes, (int, np.integer)) or isinstance(n_classes, bool) or n_classes < 2:
                raise ParameterError(f"{name}: n_classes must be an integer >= 2; got {n_classes!r}.")
            self.n_classes = self.n_outputs = int(n_classes)
        elif n_classes is not None:
            raise ParameterError(f"{name} takes no n_classes (that is SoftmaxRegression's).")
        else:
            self.n_outputs = 1
        self.block = self.n_features + self.bias
        self.n_params = self.block * self.n_outputs
        self.engine = Engine(self, X)

    def __repr__(self):
        return f"{self._model.__name__}({self.source!r}, bias={self.bias}{f', l2={self.l2:g}' if self.l2 else ''})"

    def loss_and_grad(self, w, rows=None):
        w = self.check_w(w)
        if rows is None:
            return self.engine.loss_and_grad(w)
        return self._in_memory(rows).loss_and_grad(w)

    def loss(self, w, rows=None):
        return self.loss_and_grad(w, rows)[0]

    def grad(self, w, rows=None):
        return self.loss_and_grad(w, rows)[1]

    def data_loss(self, w, rows=None):
        return self.loss(w, rows) - self._penalty(w)

    def loss_many(self, W):
        return np.array([self.loss(w) for w in np.atleast_2d(np.asarray(W, dtype=np.float64))])

    def _in_memory(self, rows):
        """The in-memory model on the given rows (fetched from the cluster; for diagnostics)."""
        import dask

        rows = np.asarray(rows, dtype=np.int64)
        Xr, yr = dask.compute(self.X[rows], self.y[rows], scheduler=current_client(self.source.client))
        extra = {"n_classes": self.n_classes} if hasattr(self, "n_classes") else {}
        return self._model(Xr, yr, bias=self.bias, l2=self.l2, **extra)

    def hessian(self, w=None):
        """Exact, in one pass: the chunks' Hessians of their summed losses, over N, plus the penalty."""
        w = np.zeros(self.n_params) if w is None else self.check_w(w)
        H = self.engine.curvature(w)[0] / self.n_samples
        return H + np.diag(2.0 * self.l2 * self.coef_mask)

    def gram(self, s=None):
        if s is not None:
            raise ParameterError("a weighted Gram matrix of a Dask source is not available; use hessian(w).")
        return self.engine.curvature()[0]

    def smoothness(self):
        gram, row_bound = self.engine.curvature()
        c = self._curvature_bound
        return c * float(np.linalg.eigvalsh(gram / self.n_samples)[-1]) + 2.0 * self.l2, row_bound + 2.0 * self.l2

    def solution(self):
        """LinearRegression's exact minimiser from the normal equations (two passes on the cluster)."""
        from ..objectives import LinearRegression

        if not issubclass(self._model, LinearRegression):
            raise ParameterError("solution() is the least-squares minimiser: LinearRegression only.")
        G = self.gram() / self.n_samples + np.diag(self.l2 * (np.arange(self.block) < self.n_features))
        W = np.linalg.lstsq(G, self.engine.normal_rhs() / self.n_samples, rcond=None)[0]
        return W.T.ravel()


@functools.cache
def objective_class(model_class):
    """``model_class`` (a linear model of the contract with a compiled loss: LinearRegression,
    LogisticRegression, SoftmaxRegression) running on a Dask source."""
    from .. import kernels
    from ..objectives import LinearModel

    if not (issubclass(model_class, LinearModel) and any(getattr(model_class, "pointwise", None) is f
                                                         for f in kernels.LOSSES)):
        raise ParameterError(f"a Dask source is the data of LinearRegression, LogisticRegression or "
                             f"SoftmaxRegression; got {model_class.__name__}.")
    return type(model_class.__name__, (_OnDask, model_class),
                {"__module__": __name__, "__qualname__": f"OnDask{model_class.__name__}", "_model": model_class})


# --- connecting from the command line ------------------------------------------------------------

class connect:
    """``with connect(scheduler="tcp://host:8786")`` or ``connect(local=4)``: a distributed Client to
    a running scheduler, or to a LocalCluster of ``local`` worker processes (1 thread each) that
    is closed on exit. The CLI's ``--scheduler`` / ``--dask local:N``."""

    def __init__(self, scheduler: str | None = None, local: int | None = None):
        if (scheduler is None) == (local is None):
            raise ParameterError("connect needs exactly one of scheduler= and local=.")
        self.scheduler, self.local = scheduler, local
        self.client = self.cluster = None

    def __enter__(self):
        from distributed import Client, LocalCluster

        if self.local is not None:
            self.cluster = LocalCluster(n_workers=self.local, threads_per_worker=1, processes=True,
                                        dashboard_address=":0")
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise EngineError(f"cannot reach the Dask scheduler at {self.scheduler}: {exc}") from exc
        return self.client

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False


def read_parquet(path, target, features=None, client=None):
    """A Dask source over Parquet (a file, folder or glob), read by dask.dataframe on the cluster."""
    import dask.dataframe as dd

    from ..data.dask_source import dask as dask_source

    try:
        frame = dd.read_parquet(path)
    except (FileNotFoundError, OSError) as exc:
        raise DataError(f"{path}: cannot read Parquet ({exc}).") from exc
    except ValueError as exc:
        raise DataError(f"{path}: not Parquet data that Dask can read ({exc}).") from exc
    return dask_source(frame, target=target, features=features, client=client)
