"""The one loop: ``minimize`` runs full-batch GD, SGD and mini-batch alike.

They differ only in ``batch_size`` (None: full batch; 1: one row per step; k: mini-batch);
the optimizer is orthogonal to the batching. At every epoch boundary the loop makes one fused
pass over the data for the full-data loss and gradient, records them and the weights, then
asks its monitors whether to stop; between boundaries an *epoch runner* takes the steps and
records the loss, gradient norm and learning rate of each. A full-batch epoch's one step is
taken on its boundary's loss and gradient, so full batch costs one pass per epoch (plus one
for the final boundary). The plain NumPy runner below is the reference; compiled runners
plug in at the same place and must give the same numbers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import batching
from .errors import DataError, EngineError, ParameterError, check_positive, check_seed
from .monitors import Convergence, Divergence, Monitor, Stop
from .optim import Optimizer, OptState, SGD
from .verdicts import VerdictMonitor

__all__ = ["minimize", "Result", "History", "Run", "numpy_epoch", "gradient_step"]


class History:
    """Everything a run recorded.

    Per epoch boundary (the start of each epoch, then the end of the run), always whole:
    ``epoch_loss`` (full-data loss), ``w`` (weights), ``epoch_grad_norm`` (full-data gradient
    norm, from the same fused pass as the loss), ``epoch_time`` (seconds spent in steps so
    far), ``epoch_step`` and ``epoch_samples`` (steps and rows seen so far).

    Per step: ``step_loss`` (the batch loss before the update), ``grad_norm`` (of the batch
    gradient), ``lr`` (the learning rate used), ``step_epoch`` (its epoch). The first
    ``step_cap`` steps (default 1,000,000) are kept whole; after that, steps are kept as
    aggregates of buckets of consecutive steps, so a run's memory does not grow with its
    length (at most ``max_buckets`` buckets: when they fill up, neighbours merge and buckets
    double in size). Once aggregated, each of these arrays holds one value per bucket after
    the whole records: ``step_loss`` and ``grad_norm`` the bucket's mean, ``lr`` and
    ``step_epoch`` those of its last step. ``step_count`` says how many steps each value
    stands for (1 for a whole record) and ``step_index`` the number of the last step it covers
    (1-based), so plots put every value at its place; ``step_buckets`` has the count, mean, min
    and max of the loss and gradient norm, and the last lr and epoch, of every bucket.
    """

    step_cap = 1_000_000   # per-step records kept whole
    max_buckets = 4096     # aggregated buckets kept after that (they merge pairwise when full)
    bucket_steps = 1024    # steps per bucket to begin with

    _FIELDS = ("count", "loss_mean", "loss_min", "loss_max", "grad_norm_mean", "grad_norm_min", "grad_norm_max",
               "lr_last", "epoch_last")

    def __init__(self):
        self.epoch_loss_list: list[float] = []
        self.epoch_grad_norm_list: list[float] = []
        self.w_list: list[np.ndarray] = []
        self.epoch_time_list: list[float] = []
        self.epoch_step_list: list[int] = []
        self.epoch_samples_list: list[int] = []
        self._steps: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []  # whole records, per call
        self._n_whole = 0
        self._n_buckets = 0          # closed buckets
        self._buckets = None         # (len(_FIELDS), max_buckets) once aggregation started
        self._size = self.bucket_steps
        self._open = None            # the bucket being filled: [count, sums/mins/maxes..., lr, epoch]
        self.steps_taken = 0         # steps whose update was applied (a non-finite step is recorded, not taken)
        self.wall_time = 0.0

    def add_boundary(self, loss, grad_norm, w, train_time, steps, samples):
        self.epoch_loss_list.append(float(loss))
        self.epoch_grad_norm_list.append(float(grad_norm))
        self.w_list.append(np.array(w, dtype=np.float64))
        self.epoch_time_list.append(train_time)
        self.epoch_step_list.append(steps)
        self.epoch_samples_list.append(samples)

    def add_steps(self, loss, grad_norm, lr, epoch, taken: bool = True):
        """Record consecutive steps of one epoch (the arrays are copied or aggregated, never kept).
        ``taken=False`` records a step whose update was not applied (a non-finite batch)."""
        loss, grad_norm, lr = (np.asarray(a, dtype=np.float64) for a in (loss, grad_norm, lr))
        m = len(loss)
        if taken:
            self.steps_taken += m
        whole = min(m, max(self.step_cap - self._n_whole, 0)) if self._buckets is None else 0
        if whole:
            self._steps.append((loss[:whole].copy(), grad_norm[:whole].copy(), lr[:whole].copy(), epoch))
            self._n_whole += whole
        if whole < m:
            self._aggregate(loss[whole:], grad_norm[whole:], lr[whole:], epoch)

    # -- aggregation ---------------------------------------------------------------------------

    def _aggregate(self, loss, gnorm, lr, epoch):
        if self._buckets is None:
            self._buckets = np.zeros((len(self._FIELDS), self.max_buckets))
        i = 0
        m = len(loss)
        while i < m:
            if self._open is None:
                full = (m - i) // self._size
                if full:  # whole buckets at once
                    k = full * self._size
                    self._close_many(loss[i : i + k], gnorm[i : i + k], lr[i : i + k], epoch)
                    i += k
                    continue
            take = m - i if self._open is None else min(m - i, self._size - int(self._open[0]))
            self._fill_open(loss[i : i + take], gnorm[i : i + take], lr[i : i + take], epoch)
            i += take
            if int(self._open[0]) == self._size:
                self._push(self._open)
                self._open = None

    def _fill_open(self, loss, gnorm, lr, epoch):
        c = len(loss)
        rec = np.array([c, loss.sum(), loss.min(), loss.max(), gnorm.sum(), gnorm.min(), gnorm.max(), lr[-1], epoch],
                       dtype=np.float64)
        if self._open is None:
            self._open = rec
        else:
            o = self._open
            o[0] += c
            o[1] += rec[1]
            o[2], o[3] = min(o[2], rec[2]), max(o[3], rec[3])
            o[4] += rec[4]
            o[5], o[6] = min(o[5], rec[5]), max(o[6], rec[6])
            o[7], o[8] = rec[7], epoch

    def _close_many(self, loss, gnorm, lr, epoch):
        L = loss.reshape(-1, self._size)
        G = gnorm.reshape(-1, self._size)
        recs = np.stack([np.full(len(L), float(self._size)), L.sum(1), L.min(1), L.max(1), G.sum(1), G.min(1),
                         G.max(1), lr.reshape(-1, self._size)[:, -1], np.full(len(L), float(epoch))], axis=1)
        for rec in recs:
            self._push(rec)

    def _push(self, rec):
        """Append a closed bucket (sums, not yet means); merge neighbours when the table is full."""
        if self._n_buckets == self.max_buckets:
            B = self._buckets
            a, b = B[:, 0::2], B[:, 1::2]
            half = self.max_buckets // 2
            merged = np.stack([a[0] + b[0], a[1] + b[1], np.minimum(a[2], b[2]), np.maximum(a[3], b[3]),
                               a[4] + b[4], np.minimum(a[5], b[5]), np.maximum(a[6], b[6]), b[7], b[8]])
            B[:, :half] = merged
            self._n_buckets = half
            self._size *= 2
            if self._open is not None and self._size > 0:
                pass  # the open bucket keeps filling up to the new size
        self._buckets[:, self._n_buckets] = rec
        self._n_buckets += 1

    @property
    def aggregated(self) -> bool:
        """Whether some steps are kept as bucket aggregates (the run went past ``step_cap`` steps)."""
        return self._buckets is not None

    @property
    def step_buckets(self) -> dict:
        """The aggregated buckets, in order (empty arrays while every step is kept whole): ``count``,
        ``loss_mean``, ``loss_min``, ``loss_max``, ``grad_norm_mean``, ``grad_norm_min``,
        ``grad_norm_max``, ``lr_last``, ``epoch_last``."""
        if self._buckets is None:
            return {f: np.zeros(0) for f in self._FIELDS}
        B = self._buckets[:, : self._n_buckets]
        if self._open is not None:
            B = np.column_stack([B, self._open])
        out = dict(zip(self._FIELDS, B.copy()))
        with np.errstate(all="ignore"):
            out["loss_mean"] = out["loss_mean"] / out["count"]
            out["grad_norm_mean"] = out["grad_norm_mean"] / out["count"]
        out["count"] = out["count"].astype(np.int64)
        out["epoch_last"] = out["epoch_last"].astype(np.int64)
        return out

    # -- the per-step arrays ---------------------------------------------------------------------

    def _cat(self, i, bucket_field):
        parts = [s[i] for s in self._steps]
        if self._buckets is not None:
            parts.append(np.asarray(self.step_buckets[bucket_field], dtype=np.float64))
        return np.concatenate(parts) if parts else np.zeros(0)

    epoch_loss = property(lambda self: np.array(self.epoch_loss_list))
    epoch_grad_norm = property(lambda self: np.array(self.epoch_grad_norm_list))
    w = property(lambda self: np.array(self.w_list))
    epoch_time = property(lambda self: np.array(self.epoch_time_list))
    epoch_step = property(lambda self: np.array(self.epoch_step_list))
    epoch_samples = property(lambda self: np.array(self.epoch_samples_list))
    step_loss = property(lambda self: self._cat(0, "loss_mean"))
    grad_norm = property(lambda self: self._cat(1, "grad_norm_mean"))
    lr = property(lambda self: self._cat(2, "lr_last"))

    @property
    def step_epoch(self) -> np.ndarray:
        parts = [np.full(len(s[0]), s[3]) for s in self._steps]
        if self._buckets is not None:
            parts.append(self.step_buckets["epoch_last"])
        return np.concatenate(parts).astype(int) if parts else np.zeros(0, int)

    @property
    def step_count(self) -> np.ndarray:
        """How many steps each value of the per-step arrays stands for (1 for a whole record)."""
        ones = np.ones(self._n_whole, dtype=np.int64)
        return np.concatenate([ones, self.step_buckets["count"]]) if self._buckets is not None else ones

    @property
    def step_index(self) -> np.ndarray:
        """The number (1-based) of the last step each value of the per-step arrays covers."""
        return np.cumsum(self.step_count)

    @property
    def n_steps(self) -> int:
        """Steps recorded (whole or aggregated)."""
        return self._n_whole + int(self.step_buckets["count"].sum()) if self._buckets is not None else self._n_whole

    def extend_steps(self, other: "History"):
        """Append another history's step records (whole, then its buckets as they are)."""
        for loss, gnorm, lr, epoch in other._steps:
            self.add_steps(loss, gnorm, lr, epoch, taken=False)
        if other._buckets is not None:
            b = other.step_buckets
            if self._buckets is None:
                self._buckets = np.zeros((len(self._FIELDS), self.max_buckets))
                self._size = max(self._size, int(b["count"].max()) if len(b["count"]) else self._size)
            if self._open is not None:
                self._push(self._open)
                self._open = None
            for j in range(len(b["count"])):
                c = float(b["count"][j])
                self._push(np.array([c, b["loss_mean"][j] * c, b["loss_min"][j], b["loss_max"][j],
                                     b["grad_norm_mean"][j] * c, b["grad_norm_min"][j], b["grad_norm_max"][j],
                                     b["lr_last"][j], b["epoch_last"][j]]))
        self.steps_taken += other.steps_taken

    def __len__(self):
        return len(self.epoch_loss_list)

    def __repr__(self):
        agg = f", {len(self.step_buckets['count'])} buckets" if self.aggregated else ""
        return f"History({len(self)} boundaries, {self.n_steps} steps{agg})"


@dataclass(eq=False)
class Result:
    """What ``minimize`` returns.

    ``w`` is the final weights, or the best weights seen when the run diverged, was
    interrupted or stopped early; ``loss`` is the full-data loss at ``w``. ``status`` is
    "converged", "max_epochs", "diverged" or "stopped"; ``message`` says why in a sentence.
    ``verdict`` is the diagnosis of :func:`descend.verdicts.judge` (a code of
    ``descend.verdicts.VERDICTS``), which ``message`` explains; ``rule`` names the row of
    ``descend.verdicts.RULES`` that decided it.
    ``checkpoint`` resumes the run exactly (weights, optimizer state, the monitors' state and
    the best weights seen): ``minimize(..., resume=result.checkpoint)``.
    """

    w: np.ndarray
    loss: float
    status: str
    message: str
    history: History
    epochs: int
    steps: int
    optimizer: Optimizer
    batch_size: int | None
    seed: int
    wall_time: float
    checkpoint: dict = field(repr=False)
    label: str = ""
    reason: str = ""  # the stopping monitor's own words (no advice), e.g. "the loss grew from 7.5 to 7680 ..."
    verdict: str = ""
    backend: str = "numpy"  # which epoch runner ran: "numpy" or "numba"
    rule: str = ""  # the verdict rule that decided ``verdict`` (a name in descend.verdicts.RULES)

    @property
    def success(self) -> bool:
        return self.status in ("converged", "max_epochs")


@dataclass
class Run:
    """The loop's live state, as monitors see it."""

    objective: object
    optimizer: Optimizer
    state: OptState
    w: np.ndarray
    epoch: int
    epochs: int
    batch_size: int | None
    seed: int
    history: History
    best_w: np.ndarray | None = None
    best_loss: float = math.inf
    best_epoch: int = 0
    restore_best: bool = False
    shuffle: object = True  # as given to minimize (a recorder describes the run with these two)
    backend: str = "numpy"


def numpy_epoch(objective, w, optimizer, state, order, batch_size, out_loss, out_gnorm, out_lr, progress):
    """The reference epoch runner: one ``loss_and_grad`` and one optimizer step per batch.

    Writes each step's batch loss, gradient norm and learning rate into the ``out_*`` arrays
    and the count of finished steps into ``progress[0]``. Stops before updating at the first
    batch whose loss or gradient is not finite and returns False then, True otherwise.
    """
    if order is None:  # full batch, or an objective without rows: one step on every row
        slices = [None]
    else:
        slices = batching.batch_slices(len(order), batch_size)
    for s, sl in enumerate(slices):
        rows = None if sl is None else order[sl]
        loss, g = objective.loss_and_grad(w, rows)
        if not gradient_step(w, loss, g, optimizer, state, s, out_loss, out_gnorm, out_lr, progress):
            return False
    return True


def gradient_step(w, loss, g, optimizer, state, s, out_loss, out_gnorm, out_lr, progress) -> bool:
    """Step ``s`` of an epoch on a batch's loss and gradient: record the loss and the gradient norm,
    then update ``w`` in place, or return False before any update when either is not finite.
    The one step every runner that steps from Python takes (compiled kernels step inside numba)."""
    gnorm = math.sqrt(float(g @ g))
    out_loss[s], out_gnorm[s] = loss, gnorm
    if not (math.isfinite(loss) and math.isfinite(gnorm)):
        return False
    out_lr[s] = optimizer.step(w, g, state)
    progress[0] = s + 1
    return True


def _check_epochs(epochs):
    return check_positive("epochs", epochs, integer=True)


# --- validation at the entry of minimize: one sentence naming the argument, before any work --------


def _check_objective(objective):
    needed = ("check_w", "loss", "loss_and_grad", "n_samples", "n_params")
    missing = [a for a in needed if not hasattr(objective, a)]
    if missing:
        hint = (" wrap a plain function as descend.Function(f) (its gradient by central differences, or "
                "Function(f, grad=g))" if callable(objective) else "")
        raise ParameterError(f"objective must be a descend Objective (LinearRegression, LogisticRegression, "
                             f"Function, ...); got {type(objective).__name__}, which has no "
                             f"{', '.join(missing)};{hint or ' see descend.objectives.'}".rstrip(";") + ".")


_HOOKS = ("on_start", "on_epoch", "on_end")


def _check_callbacks(callbacks):
    if callbacks is None:
        return []
    if isinstance(callbacks, Monitor):
        return [callbacks]
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise ParameterError(f"callbacks must be a list of monitors; got {type(callbacks).__name__}.") from None
    for i, m in enumerate(callbacks):
        if not isinstance(m, Monitor) and not all(callable(getattr(m, h, None)) for h in _HOOKS):
            raise ParameterError(
                f"callbacks[{i}] must be a monitor with on_start(run), on_epoch(run) and on_end(run, result) "
                f"(subclass descend.monitors.Monitor); got {getattr(m, '__name__', type(m).__name__)}.")
    return callbacks


def _check_resume(resume, objective, optimizer) -> dict:
    """A checkpoint as plain, checked values: w, OptState, epoch, seed; refuses another optimizer's."""
    if isinstance(resume, Result):
        raise ParameterError("resume takes a checkpoint, not a Result: pass resume=result.checkpoint.")
    if not isinstance(resume, dict):
        raise ParameterError(f"resume must be a checkpoint dict (result.checkpoint); got {type(resume).__name__}.")
    for key in ("w", "state", "epoch"):
        if key not in resume:
            raise ParameterError(f"resume has no {key!r}: a checkpoint holds 'w', 'state', 'epoch' and 'seed' "
                                 f"(pass result.checkpoint as it is).")
    saved = resume.get("optimizer")
    if saved is not None and saved != type(optimizer).__name__:
        raise ParameterError(f"resume is a checkpoint of {saved} but the optimizer is {type(optimizer).__name__}; "
                             f"resume with {saved}, or start afresh without resume.")
    w = objective.check_w(resume["w"], "resume['w']").copy()
    st = resume["state"]
    if not isinstance(st, dict) or not all(k in st for k in ("step", "buffers", "shape")):
        raise ParameterError("resume['state'] must be a dict with 'step', 'buffers' and 'shape' "
                             "(OptState.to_dict()).")
    step = _whole(st["step"], "resume['state']['step']")
    fresh = optimizer.init(w)
    try:
        buffers = np.array(st["buffers"], dtype=np.float64)
        shape = tuple(int(k) for k in st["shape"])
        buffers = buffers.reshape(shape)
    except (TypeError, ValueError):
        raise ParameterError(f"resume['state']['buffers'] must be numbers of shape resume['state']['shape'] "
                             f"({st.get('shape')!r}).") from None
    if buffers.shape != fresh.buffers.shape:
        raise ParameterError(f"resume['state'] holds buffers of shape {buffers.shape} but {optimizer!r} keeps "
                             f"{fresh.buffers.shape}: the checkpoint is of another optimizer or model.")
    if not np.all(np.isfinite(buffers)):
        raise ParameterError("resume['state']['buffers'] contains NaN or infinite values.")
    scale = st.get("lr_scale", 1.0)
    if not (isinstance(scale, (int, float)) and not isinstance(scale, bool) and math.isfinite(scale) and scale > 0):
        raise ParameterError(f"resume['state']['lr_scale'] must be a finite number > 0; got {scale!r}.")
    out = dict(resume)  # other fields (the monitors' state, ...) pass through to their readers
    out.update(w=w, state=OptState(step, buffers, float(scale)), epoch=_whole(resume["epoch"], "resume['epoch']"))
    if resume.get("seed") is not None:
        out["seed"] = check_seed(resume["seed"], "resume['seed']")
    if resume.get("best_w") is not None:
        out["best_w"] = objective.check_w(resume["best_w"], "resume['best_w']")
        best = resume.get("best_loss")
        if not (isinstance(best, (int, float, np.floating)) and not isinstance(best, bool) and math.isfinite(best)):
            raise ParameterError(f"resume['best_loss'] must be a finite number; got {best!r}.")
        out["best_epoch"] = _whole(resume.get("best_epoch"), "resume['best_epoch']")
    monitors = resume.get("monitors")
    if monitors is not None and not isinstance(monitors, dict):
        raise ParameterError(f"resume['monitors'] must be a dict of monitor states; got {type(monitors).__name__}.")
    return out


def _whole(value, name) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0:
        return int(value)
    raise ParameterError(f"{name} must be an integer >= 0; got {value!r}.")


def minimize(objective, w0, optimizer: Optimizer | None = None, batch_size=None, epochs: int = 100,
             shuffle: bool = True, seed=0, tol: float | None = None, callbacks=(), resume: dict | None = None,
             divergence: Divergence | None = None, label: str = "", backend: str = "auto") -> Result:
    """Minimise ``objective`` from ``w0`` by gradient steps; the one loop behind every method.

    Parameters
    ----------
    objective : an Objective (LinearRegression, LogisticRegression, Function, a landscape, ...).
    w0 : starting weights, length ``objective.n_params`` (coefficients, then the bias).
    optimizer : an optimizer from :mod:`descend.optim`; default ``SGD(lr=0.01)``, the lecture's.
    batch_size : None for full-batch gradient descent, 1 for SGD, k for mini-batches of k rows
        (consecutive slices of the epoch's row order; the last batch is shorter when k does
        not divide n). Objectives without rows take one step per epoch.
    epochs : the number of passes over the data (the epoch count to reach, when resuming).
    shuffle, seed : the row order of epoch e is a permutation drawn from (seed, e); with
        ``shuffle=False`` it is 0..n-1; ``shuffle="block"`` shuffles blocks of rows, then rows
        within a block (faster on large data; see :func:`descend.batching.epoch_order`).
        ``seed=None`` draws a fresh seed, kept in the result.
    tol : None (default) runs every epoch unless diverged or stopped; a number stops with
        status "converged" once the full-data gradient norm at an epoch boundary is <= tol.
    callbacks : monitors (see :mod:`descend.monitors`) called at every epoch boundary.
    resume : a ``Result.checkpoint``; the run continues from it exactly as if never stopped.
    divergence : the divergence guard (default ``Divergence()``: a non-finite loss, or one that
        is running away: 1000-fold the starting loss, a new high, rising for 3 epochs in a row).
    backend : "auto" (default) runs the compiled kernels of :mod:`descend.kernels` for
        LinearRegression / LogisticRegression with a built-in optimizer when numba imports; the
        plain NumPy path otherwise, and for tiny data (at most 1,000 values, rows x parameters,
        like the lecture's 4 rows) where loading numba costs more than it saves. "numpy" forces
        the plain path; "numba" demands the kernels (a ParameterError if they cannot run this
        objective). Both give the same numbers to rounding. An objective on a Dask source
        (``ds.data.dask``) runs on its cluster ("auto" or "dask"; see :mod:`descend.engines.dask`).

    The loop never loses its work: on divergence, a non-finite batch, Ctrl-C or a lost cluster
    worker it returns the best weights seen and the whole history, with a status and a message
    that say why.
    """
    optimizer = SGD(lr=0.01) if optimizer is None else optimizer
    _check_objective(objective)
    if not isinstance(optimizer, Optimizer):
        raise ParameterError(f"optimizer must be a descend.optim optimizer such as SGD(lr=0.01); "
                             f"got {type(optimizer).__name__}.")
    w = objective.check_w(w0, "w0").copy()  # never update the caller's array
    n = objective.n_samples
    batch_size = batching.check_batch_size(batch_size, n)
    batching.check_shuffle(shuffle)
    epochs = _check_epochs(epochs)
    seed = int(np.random.SeedSequence().entropy % (2**63)) if seed is None else check_seed(seed)
    monitors = [divergence or Divergence(), VerdictMonitor()]
    if tol is not None:
        monitors.append(Convergence(tol))
    monitors.extend(_check_callbacks(callbacks))
    if divergence is not None and not isinstance(divergence, Monitor):
        raise ParameterError(f"divergence must be a monitor such as Divergence(growth=1e3); "
                             f"got {type(divergence).__name__}.")
    if resume is not None:
        resume = _check_resume(resume, objective, optimizer)
    backend, run_epoch, _, full_loss_and_grad = _select_backend(backend, objective, optimizer)
    if hasattr(objective, "stream_order"):  # a streamed source: its own order (never an array of n rows)
        epoch_order = objective.stream_order(shuffle, batch_size)
    else:  # an engine's runner may bring its own row orders (the Dask engine draws orders per chunk)
        epoch_order = (getattr(run_epoch, "epoch_order", None)
                       or _epoch_order(backend, n if batch_size is not None else None, epochs))

    history = History()
    state = optimizer.init(w)
    start_epoch = 0
    if resume is not None:
        w, state, start_epoch, seed = resume["w"], resume["state"], resume["epoch"], resume.get("seed", seed)
    run = Run(objective, optimizer, state, w, start_epoch, epochs, batch_size, seed, history)
    run.shuffle, run.backend = shuffle, backend
    keys = _monitor_keys(monitors)

    def checkpoint():
        """The loop's checkpoint as of now (a run recorder takes one at every boundary)."""
        return {"w": run.w.tolist(), "state": run.state.to_dict(), "epoch": run.epoch, "seed": seed,
                "optimizer": type(optimizer).__name__,
                "monitors": {key: m.state() for m, key in zip(monitors, keys) if m.state() is not None},
                "best_w": None if run.best_w is None else run.best_w.tolist(),
                "best_loss": run.best_loss, "best_epoch": run.best_epoch}

    run.checkpoint = checkpoint
    restored = set()  # monitors whose state came from the checkpoint: they have seen its boundary
    if resume is not None and resume.get("best_w") is not None:
        run.best_w = np.array(resume["best_w"], dtype=np.float64)
        run.best_loss, run.best_epoch = float(resume["best_loss"]), int(resume["best_epoch"])

    full_batch = n is None or batch_size is None  # one step per epoch, on every row
    steps_per_epoch = getattr(run_epoch, "steps_per_epoch", batching.steps_per_epoch)(n, batch_size)
    rows_per_epoch = n if n is not None else 1
    out_loss, out_gnorm, out_lr = np.empty(steps_per_epoch), np.empty(steps_per_epoch), np.empty(steps_per_epoch)
    progress = np.zeros(1, dtype=np.int64)
    step0 = state.step
    train_time, samples = 0.0, start_epoch * rows_per_epoch
    stop: Stop | None = None
    at_boundary = [math.nan, None, 0.0]  # the boundary's loss, gradient and the seconds its pass took
    t_start = time.perf_counter()

    def boundary():
        """One fused loss-and-gradient pass at run.w: the record, the best weights, the monitors.
        For full batch the same pass is the next step's (it is not repeated)."""
        nonlocal stop
        t = time.perf_counter()
        loss, g = full_loss_and_grad(run.w)
        at_boundary[:] = loss, g, time.perf_counter() - t
        gnorm = math.sqrt(float(g @ g))
        history.add_boundary(loss, gnorm, run.w, train_time, step0 + history.steps_taken, samples)
        if loss < run.best_loss:
            run.best_loss, run.best_w, run.best_epoch = loss, run.w.copy(), run.epoch
        for i, m in enumerate(monitors):
            if i in restored:
                restored.discard(i)
                continue
            stop = m.on_epoch(run)
            if stop is not None:
                return

    def full_batch_step(out_loss, out_gnorm, out_lr, progress):
        """The step of a full-batch epoch on the boundary's own loss and gradient (no second pass)."""
        loss, g, _ = at_boundary
        return gradient_step(run.w, loss, g, optimizer, state, 0, out_loss, out_gnorm, out_lr, progress)

    for m in monitors:
        m.on_start(run)
    saved = (resume or {}).get("monitors") or {}
    for i, (m, key) in enumerate(zip(monitors, keys)):
        if key in saved and saved[key] is not None:
            m.load_state(saved[key])
            restored.add(i)
    try:
        with np.errstate(all="ignore"):
            boundary()
            while stop is None and run.epoch < epochs:
                progress[0] = 0
                ok = True
                t0 = time.perf_counter()
                try:
                    if full_batch:
                        t0 -= at_boundary[2]  # the boundary's pass was this step's
                        ok = full_batch_step(out_loss, out_gnorm, out_lr, progress)
                    else:
                        order = epoch_order(n, run.epoch, seed, shuffle)
                        ok = run_epoch(objective, run.w, optimizer, state, order, batch_size,
                                       out_loss, out_gnorm, out_lr, progress)
                finally:  # also on Ctrl-C: record exactly the steps the runner reports as done
                    done = int(progress[0])
                    history.add_steps(out_loss[:done], out_gnorm[:done], out_lr[:done], run.epoch)
                    train_time += time.perf_counter() - t0
                    samples += min(done * (batch_size or rows_per_epoch), rows_per_epoch)
                if not ok:
                    bad = done
                    history.add_steps(out_loss[bad : bad + 1], out_gnorm[bad : bad + 1], [math.nan], run.epoch,
                                      taken=False)
                    stop = Stop("diverged", f"the batch loss or gradient became non-finite at step {bad + 1} "
                                            f"of epoch {run.epoch}")
                    break
                run.epoch += 1
                boundary()
    except KeyboardInterrupt:
        if not history.epoch_loss_list:  # before the first loss was measured: no work to keep
            raise
        stop = Stop("stopped", f"interrupted at epoch {run.epoch}")
        run.restore_best = True
    except DataError as exc:  # a streamed source met a bad chunk: keep the work done, say where
        if not history.epoch_loss_list:
            raise
        stop = Stop("stopped", f"stopped in epoch {run.epoch} by bad data: {str(exc).rstrip('.')}")
        run.restore_best = True
    except EngineError as exc:  # e.g. a Dask worker lost with data that could not be recomputed
        if not history.epoch_loss_list:  # before the first loss was measured: no work to keep
            raise
        stop = Stop("stopped", f"at epoch {run.epoch}, {exc}")
        run.restore_best = True
    finally:
        getattr(epoch_order, "close", lambda: None)()

    steps_done = step0 + history.steps_taken  # by construction: the steps the history holds
    state.step = steps_done
    status = stop.status if stop is not None else "max_epochs"
    checkpoint = run.checkpoint()
    keep_best = status == "diverged" or run.restore_best
    w_out = run.best_w if (keep_best and run.best_w is not None) else run.w.copy()
    loss_out = run.best_loss if (keep_best and run.best_w is not None) else history.epoch_loss_list[-1]
    history.wall_time = time.perf_counter() - t_start
    result = Result(w=w_out, loss=float(loss_out), status=status, message="", history=history,
                    epochs=run.epoch, steps=steps_done, optimizer=optimizer, batch_size=batch_size, seed=seed,
                    wall_time=history.wall_time, checkpoint=checkpoint, label=label,
                    reason=stop.message if stop is not None else "", backend=backend)
    for m in monitors:  # the VerdictMonitor (second) writes result.verdict and result.message
        try:
            m.on_end(run, result)
        except DataError:  # a look at a streamed source met the bad chunk again: the stop's words stand
            if not result.message:
                result.verdict, result.message = "ok", (stop.message if stop is not None else result.status) + "."
    return result


def _monitor_keys(monitors) -> list[str]:
    """A key per monitor for its state in the checkpoint: its class name and its rank among
    monitors of that class (so the same callbacks find their own state on resume)."""
    seen: dict[str, int] = {}
    keys = []
    for m in monitors:
        name = type(m).__name__
        keys.append(f"{name}:{seen.get(name, 0)}")
        seen[name] = seen.get(name, 0) + 1
    return keys


BACKENDS = ("auto", "numpy", "numba", "dask")
AUTO_NUMPY_SIZE = 1000  # backend="auto" keeps data of at most this many values (rows x params) on NumPy


def _select_backend(backend, objective, optimizer):
    """(name, epoch runner, full-data loss, full-data loss and gradient) for ``backend``."""
    if hasattr(objective, "stream_backend"):  # rows from a source (descend.data): chunks through these kernels
        return objective.stream_backend(backend, optimizer)
    if backend not in BACKENDS:
        raise ParameterError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}.")
    engine = getattr(objective, "engine", None)
    if engine is not None:  # the objective's rows live elsewhere (descend.engines): its engine runs the steps
        return engine.backend(backend, optimizer)
    if backend == "dask":
        raise ParameterError("backend='dask' needs an objective on a Dask source (ds.data.dask(...)).")
    plain = ("numpy", numpy_epoch, objective.loss, objective.loss_and_grad)
    if backend == "numpy":
        return plain
    if backend == "auto" and (objective.n_samples or 0) * (objective.n_params or 0) <= AUTO_NUMPY_SIZE:
        return plain  # tiny data (the lecture's 4 rows): loading numba costs more than it saves
    from . import kernels  # light: numba itself is imported when a kernel first runs

    reason = kernels.unsupported(objective, optimizer)
    if reason is None:
        try:
            import numba  # noqa: F401
        except ImportError:
            reason = "numba is not installed"
    if reason is not None:
        if backend == "numba":
            raise ParameterError(f"backend='numba' cannot run this: {reason}; use backend='numpy' or 'auto'.")
        return plain
    return ("numba", kernels.numba_epoch, lambda w: kernels.full_loss(objective, w),
            lambda w: kernels.full_loss_and_grad(objective, w))


def _epoch_order(backend, n=None, epochs=1):
    """The function computing each epoch's row order: batching.epoch_order, or on the numba backend
    its compiled twin (the same array, faster), drawn one epoch ahead on a second thread for
    large data (``n`` rows, several epochs)."""
    if backend == "numba":
        from . import kernels

        if n is not None and n >= kernels.PREFETCH_ORDER_ROWS and epochs > 1:
            return kernels.OrderPrefetcher(epochs)
        return kernels.epoch_order
    return batching.epoch_order
