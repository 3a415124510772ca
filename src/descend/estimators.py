r"""scikit-learn estimators: :class:`GDRegressor` and :class:`GDClassifier`.

Both are thin: ``fit`` validates, builds one descend objective (:class:`~descend.LinearRegression`;
:class:`~descend.LogisticRegression` for two classes or one-vs-rest, :class:`~descend.SoftmaxRegression`
for more classes) with the L2 penalty of ``alpha`` in it, and calls :func:`descend.minimize`, the
one loop, which runs it on the compiled kernels when numba is installed (``backend``). Beyond scikit-learn's SGD estimators they offer mini-batches, any optimizer of
:mod:`descend.optim`, the loss history as data (``loss_curve_``, ``history_``), a
``partial_fit`` that keeps the optimizer state, the schedule's step count and the
early-stopping state across calls, and a divergence guard that keeps the best weights and
warns with the learning rate and the stable one.

The objective minimised (loss, not halved, as everywhere in descend; ``c`` = coefficients,
the intercepts are never penalised):

.. math::
    \text{GDRegressor:}\quad \frac1N\sum_i (x_i\cdot c + b - y_i)^2 + \alpha\,\|c\|^2 \qquad
    \text{GDClassifier, one-vs-rest:}\quad \sum_{k}\Big[\frac1N\sum_i \ell(z_{ik}, [y_i = k]) + \frac{\alpha}{2}\|c_k\|^2\Big]
    \qquad \text{softmax:}\quad \frac1N\sum_i \Big(\log\sum_k e^{z_{ik}} - z_{i y_i}\Big) + \frac{\alpha}{2}\sum_k\|c_k\|^2

with ℓ the binary cross-entropy. The regressor and the one-vs-rest classifier are exactly twice
(regression) or once (classification) scikit-learn's SGD objective with ``penalty="l2"`` and the
same ``alpha`` (scikit-learn halves the squared loss and the penalty), so the minimiser is the one
of ``SGDRegressor(alpha=alpha)`` / ``SGDClassifier(loss="log_loss", alpha=alpha)``. The softmax
objective is scikit-learn's ``LogisticRegression(C=1 / (alpha N))`` divided by C N (the same
minimiser; N the training rows).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import optim, schedules
from .errors import ParameterError
from .loop import History, minimize
from .monitors import Monitor, Progress, Stop
from .objectives import LinearRegression, LogisticRegression, SoftmaxRegression, sigmoid

__all__ = ["GDRegressor", "GDClassifier", "DivergenceWarning", "NoImprovement"]


class DivergenceWarning(ConvergenceWarning):
    """The fit diverged; the estimator kept the best weights seen. A ConvergenceWarning."""


def _limit_text(objective, optimizer, w) -> str:
    """The optimizer's own stability limit at w, in words (ASCII): what a DivergenceWarning says.
    For least squares it holds everywhere; for logistic/softmax only near w (the curvature
    falls as the fit improves)."""
    from .curvature import curvature, stability_limit

    lam = float(curvature(objective, w))
    limit = stability_limit(optimizer, lam)
    if limit is None:
        return (f"{type(optimizer).__name__} has no 2/lambda_max-type stability limit (it scales each "
                f"coordinate's step); try a learning_rate 10x smaller")
    text = (limit.formula.replace("λmax", "lambda_max").replace("μ", "mu").replace("τ", "tau")
            .replace("≥", ">="))
    if not math.isfinite(limit.lr) or limit.lr == 0:
        return f"full-batch gradient descent has no stable rate here ({text})"
    where = "" if isinstance(objective, LinearRegression) else \
        " at the kept weights (a local limit: this loss's curvature changes with w)"
    values = f", {limit.values}".replace("μ", "mu").replace("τ", "tau") if limit.values else ""
    return (f"the stability limit of full-batch gradient descent with this optimizer is {text} = "
            f"{limit.lr:.4g}{where} (lambda_max = {lam:.4g}{values}); use a learning_rate below {limit.lr:.4g}")


# ---------------------------------------------------------------------------------------------
# The stopping rule: a monitor.


class NoImprovement(Monitor):
    """Stops when a loss has not improved by more than ``tol`` for ``n_iter_no_change`` boundaries.

    The loss is the full-data training loss of the run (``validation=None``) or that of a
    held-out ``validation`` objective at the run's weights (its ``data_loss``, without
    penalty, where it has one). With ``restore_best`` the run returns the weights of the best
    loss when this monitor stops it. With ``prequential=True`` (the estimators'
    ``partial_fit``) it scores only the first boundary of each run: the new chunk's loss
    (without penalty) before training on it, a progressive-validation score; and its state
    (best loss, best weights, epochs without improvement) carries over from run to run.
    """

    def __init__(self, tol: float, n_iter_no_change: int, validation=None, restore_best: bool = False,
                 status: str = "converged", prequential: bool = False):
        self.tol, self.n_iter_no_change = tol, n_iter_no_change
        self.validation, self.restore_best, self.status, self.prequential = validation, restore_best, status, prequential
        self.losses: list[float] = []
        self.best, self.best_w, self.best_index, self.wait = math.inf, None, 0, 0
        self.stopped = False

    def on_start(self, run):
        self._scored = False
        self._fired = False

    def _score(self, run):
        held_out = run.objective if self.prequential else self.validation  # prequential: the new chunk
        if held_out is None:
            return run.history.epoch_loss_list[-1]
        return getattr(held_out, "data_loss", held_out.loss)(run.w)

    def on_epoch(self, run):
        if self.prequential and self._scored:
            return None
        self._scored = True
        loss = float(self._score(run))
        self.losses.append(loss)
        if loss < self.best - self.tol:
            self.best, self.best_w, self.best_index, self.wait = loss, run.w.copy(), len(self.losses) - 1, 0
            return None
        self.wait += 1
        if self.wait < self.n_iter_no_change:
            return None
        self.stopped = self._fired = True
        what = "held-out loss" if (self.validation is not None or self.prequential) else "loss"
        unit = "partial_fit calls" if self.prequential else "epochs"
        return Stop(self.status, f"the {what} has not improved by more than {self.tol:.4g} for "
                                 f"{self.n_iter_no_change} {unit} (best {self.best:.4g})")

    def on_end(self, run, result):
        if self._fired and self.restore_best and self.best_w is not None:
            result.w = self.best_w.copy()
            result.loss = float(run.objective.loss(result.w))
            result.message = (f"{result.reason}; restored the weights of that best loss "
                              f"(training loss {result.loss:.4g}).")


# ---------------------------------------------------------------------------------------------
# Parameter validation, with scikit-learn's message template.


class _Interval:
    def __init__(self, kind, lo, hi, closed):
        self.kind, self.lo, self.hi, self.closed = kind, lo, hi, closed

    def __call__(self, v):
        if isinstance(v, bool) or not isinstance(v, self.kind):
            return False
        if self.kind is numbers.Real and not math.isfinite(v):
            return False
        lo_ok = self.lo is None or (v >= self.lo if self.closed in ("left", "both") else v > self.lo)
        hi_ok = self.hi is None or (v <= self.hi if self.closed in ("right", "both") else v < self.hi)
        return lo_ok and hi_ok

    def __str__(self):
        kind = "an int" if self.kind is numbers.Integral else "a float"
        lb = "[" if self.closed in ("left", "both") else "("
        rb = "]" if self.closed in ("right", "both") else ")"
        lo = "-inf" if self.lo is None else self.lo
        hi = "inf" if self.hi is None else self.hi
        return f"{kind} in the range {lb}{lo}, {hi}{rb}"


class _Options:
    def __init__(self, options):
        self.options = tuple(options)

    def __call__(self, v):
        return isinstance(v, str) and v in self.options

    def __str__(self):
        return "a str among {" + ", ".join(repr(o) for o in self.options) + "}"


def _constraint(c):
    """(test, description) of one constraint: None, a type, 'boolean', 'random_state', callable, or a test object."""
    if c is None:
        return (lambda v: v is None), "None"
    if c == "boolean":
        return (lambda v: isinstance(v, (bool, np.bool_))), "an instance of 'bool'"
    if c == "random_state":
        return (lambda v: v is None or (isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                        and 0 <= v < 2**32) or isinstance(v, np.random.RandomState)), \
            "an int in the range [0, 4294967295], an instance of 'numpy.random.mtrand.RandomState' or None"
    if c is callable:
        return callable, "a callable"
    if isinstance(c, type):
        return (lambda v: isinstance(v, c)), f"an instance of '{c.__name__}'"
    return c, str(c)


_POSITIVE = _Interval(numbers.Real, 0, None, "neither")
_NONNEG = _Interval(numbers.Real, 0, None, "left")
_SCHEDULES = ("constant", "invscaling", "exponential", "step", "cosine")


class _GDBase(BaseEstimator):
    """The shared machinery: parameters, validation, the call to minimize, partial_fit state."""

    _parameter_constraints: dict = {
        "batch_size": [None, _Interval(numbers.Integral, 1, None, "left")],
        "optimizer": [_Options(list(optim.CHOICES))],
        "optimizer_params": [None, dict],
        "learning_rate": [_POSITIVE, _Options(_SCHEDULES), callable],
        "eta0": [_POSITIVE],
        "power_t": [_NONNEG],
        "schedule_params": [None, dict],
        "alpha": [_NONNEG],
        "fit_intercept": ["boolean"],
        "max_epochs": [_Interval(numbers.Integral, 1, None, "left")],
        "tol": [_NONNEG, None],
        "n_iter_no_change": [_Interval(numbers.Integral, 1, None, "left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [_Interval(numbers.Real, 0, 1, "neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": [_Interval(numbers.Integral, 0, None, "left"), "boolean"],
        "backend": [_Options(["auto", "numpy", "numba"])],
    }

    def __init__(self, *, batch_size=32, optimizer="sgd", optimizer_params=None, learning_rate=0.01, eta0=0.01,
                 power_t=0.25, schedule_params=None, alpha=0.0001, fit_intercept=True, max_epochs=200, tol=1e-4,
                 n_iter_no_change=5, early_stopping=False, validation_fraction=0.1, shuffle=True,
                 random_state=None, warm_start=False, verbose=0, backend="auto"):
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.optimizer_params = optimizer_params
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.schedule_params = schedule_params
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_epochs = max_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.backend = backend

    # -- validation ------------------------------------------------------------------------

    def _validate_params(self):
        """Check every parameter against ``_parameter_constraints`` (scikit-learn's message template)."""
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name)
            tests = [_constraint(c) for c in constraints]
            if any(test(value) for test, _ in tests):
                continue
            descs = [d for _, d in tests]
            allowed = descs[0] if len(descs) == 1 else f"{', '.join(descs[:-1])} or {descs[-1]}"
            raise ParameterError(f"The {name!r} parameter of {type(self).__name__} must be {allowed}. "
                                 f"Got {value!r} instead.")

    def _make_optimizer(self, steps_per_fit: int) -> optim.Optimizer:
        """The descend optimizer: the named rule, its hyper-parameters and the learning-rate schedule."""
        lr = self.learning_rate
        extra = dict(self.schedule_params or {})
        try:
            if isinstance(lr, str):
                if lr == "constant":
                    lr = schedules.constant(self.eta0)
                elif lr == "invscaling":
                    lr = schedules.inverse_scaling(self.eta0, self.power_t)
                elif lr == "exponential":
                    lr = schedules.exponential(self.eta0, extra.pop("gamma", 0.999))
                elif lr == "step":
                    lr = schedules.step(self.eta0, extra.pop("step_size", 1000), extra.pop("gamma", 0.1))
                elif lr == "cosine":
                    lr = schedules.cosine(self.eta0, extra.pop("T", steps_per_fit), extra.pop("floor", 0.0))
                if extra:
                    raise ParameterError(f"schedule_params has {sorted(extra)} that learning_rate={self.learning_rate!r} "
                                         f"does not take.")
        except TypeError as e:  # an unknown keyword in schedule_params
            raise ParameterError(f"{type(self).__name__}: {e}; check optimizer_params and schedule_params.") from e
        try:
            return optim.from_name(self.optimizer, lr=lr, **dict(self.optimizer_params or {}))
        except (TypeError, ParameterError) as e:  # a keyword or value in optimizer_params the optimizer refuses
            raise ParameterError(f"{type(self).__name__}: {e}; check optimizer_params and schedule_params.") from e

    # -- the fit ---------------------------------------------------------------------------

    def _objective(self, X, Y, l2=None):
        """The objective on (X, Y); ``l2`` defaults to the penalty that alpha means."""
        raise NotImplementedError

    def _store(self, w):
        raise NotImplementedError

    def _w_now(self):
        raise NotImplementedError

    def _seeds(self):
        rng = check_random_state(self.random_state)
        return int(rng.randint(np.iinfo(np.int32).max)), int(rng.randint(np.iinfo(np.int32).max))

    def _run(self, objective, optimizer, epochs, monitors, batch_size, seed):
        """``epochs`` more epochs of minimize, resuming ``self._checkpoint`` when there is one."""
        callbacks = list(monitors)
        if self.verbose:
            callbacks.append(Progress(type(self).__name__))
        ck = self._checkpoint
        if ck is None:
            w0, resume, start = np.zeros(objective.n_params), None, 0
        else:
            w0, start = self._w_now(), ck["epoch"]
            fresh = optimizer.init(w0)
            same_rule = ck["optimizer"] == type(optimizer).__name__ and ck["shape"] == list(fresh.buffers.shape)
            state = ck["state"] if same_rule else fresh.to_dict()
            resume = {"w": w0, "state": state, "epoch": start, "seed": ck["seed"]}
        res = minimize(objective, w0, optimizer=optimizer, batch_size=batch_size, epochs=start + epochs,
                       shuffle=self.shuffle, seed=seed, tol=None, callbacks=callbacks, resume=resume,
                       backend=self.backend)
        self._store(res.w)
        state = res.checkpoint["state"]
        if res.status == "diverged":  # go on from the kept weights with a fresh state
            state = optimizer.init(res.w).to_dict()
            self._warn_divergence(objective, res)
        self._checkpoint = {"state": state, "epoch": res.epochs, "seed": res.seed,
                            "optimizer": type(optimizer).__name__, "shape": state["shape"]}
        self.result_ = res
        return res, start

    def _warn_divergence(self, objective, res):
        lrs = res.history.lr
        lrs = lrs[np.isfinite(lrs)]
        lr = float(lrs[-1]) if lrs.size else float(res.optimizer.schedule(0))
        warnings.warn(
            f"{type(self).__name__} diverged with learning rate {lr:.4g} ({res.reason}); "
            f"{_limit_text(objective, res.optimizer, res.w)}. Kept the best weights seen (loss {res.loss:.4g}).",
            DivergenceWarning, stacklevel=4)

    def _batch(self, n):
        return None if self.batch_size is None else min(self.batch_size, n)

    def _fit(self, X, Y):
        """fit: split off a validation set if asked, build the objective, run minimize, store."""
        seed, split_seed = self._seeds()
        if not (self.warm_start and hasattr(self, "coef_") and np.shape(self.coef_)[-1] == X.shape[1]):
            self._checkpoint = None  # a cold start (or a warm one on data of another width)
        val = None
        if self.early_stopping:
            stratify = None if not self._is_clf else (Y.argmax(1) if Y.shape[1] > 1 else Y[:, 0])
            idx_tr, idx_val = train_test_split(np.arange(X.shape[0]), test_size=self.validation_fraction,
                                               random_state=split_seed, stratify=stratify)
            val = self._objective(X[idx_val], Y[idx_val], l2=0.0)
            X, Y = X[idx_tr], Y[idx_tr]
        objective = self._objective(X, Y)
        batch_size = self._batch(X.shape[0])
        optimizer = self._make_optimizer(self.max_epochs * _steps(X.shape[0], batch_size))
        monitors = []
        if self.early_stopping:
            monitors.append(NoImprovement(self.tol or 0.0, self.n_iter_no_change, validation=val,
                                          restore_best=True, status="stopped"))
        elif self.tol is not None:
            monitors.append(NoImprovement(self.tol, self.n_iter_no_change))
        res, start = self._run(objective, optimizer, self.max_epochs, monitors, batch_size, seed)
        self.history_ = res.history
        self.n_iter_ = res.epochs - start
        self.loss_curve_ = res.history.epoch_loss
        self._stopper = None
        self._set_validation(monitors[0] if self.early_stopping else None)
        if res.status == "max_epochs" and self.tol is not None:
            warnings.warn(f"{type(self).__name__} ran all max_epochs={self.max_epochs} epochs before the loss "
                          f"stopped improving by more than tol={self.tol}; increase max_epochs or the learning rate.",
                          ConvergenceWarning, stacklevel=3)
        return self

    def _set_validation(self, stopper):
        if stopper is not None:
            self.validation_loss_curve_ = np.array(stopper.losses)
            self.best_validation_loss_ = stopper.best
        elif hasattr(self, "validation_loss_curve_"):
            del self.validation_loss_curve_, self.best_validation_loss_

    def _partial_fit(self, X, Y, first):
        """One epoch over the chunk, resuming the optimizer state, the schedule and the stopper."""
        if first:
            self._checkpoint = None
            self.history_ = History()
            self.n_iter_ = 0
        if self.early_stopping and getattr(self, "_stopper", None) is None:
            self._stopper = NoImprovement(self.tol or 0.0, self.n_iter_no_change,
                                          restore_best=True, status="stopped", prequential=True)
        if self.early_stopping and self._stopper.stopped:
            return self  # stopped early: further chunks are not trained on (fit again to restart)
        objective = self._objective(X, Y)
        batch_size = self._batch(X.shape[0])
        optimizer = self._make_optimizer(self.max_epochs * _steps(X.shape[0], batch_size))
        monitors = [self._stopper] if self.early_stopping else []
        seed = self._seeds()[0] if first else None
        res, start = self._run(objective, optimizer, 1, monitors, batch_size, seed)
        _append_history(self.history_, res.history, first)
        self.loss_curve_ = self.history_.epoch_loss
        self.n_iter_ += res.epochs - start
        self._set_validation(self._stopper if self.early_stopping else None)
        return self


def _steps(n, batch_size):
    return 1 if batch_size is None else -(-n // batch_size)


def _append_history(dst: History, src: History, first: bool):
    """partial_fit's history: the first call's start, then each call's end-of-pass boundary and steps."""
    start = 0 if first else 1
    for i in range(start, len(src)):
        dst.add_boundary(src.epoch_loss_list[i], src.epoch_grad_norm_list[i], src.w_list[i],
                         src.epoch_time_list[i], src.epoch_step_list[i], src.epoch_samples_list[i])
    dst.extend_steps(src)
    dst.wall_time += src.wall_time


_PARAMS_DOC = """
    Parameters
    ----------
    batch_size : int or None, default=32
        Rows per step: None is full-batch gradient descent, 1 is SGD, k a mini-batch (capped at
        the number of rows). Batches are consecutive slices of each epoch's row order.
    optimizer : str, default="sgd"
        A rule of :mod:`descend.optim` by name: "sgd", "momentum", "nesterov", "adam", "adamw",
        "nadam", "rmsprop", "adagrad", "adadelta" (PyTorch's equations and defaults).
    optimizer_params : dict or None, default=None
        Its hyper-parameters, e.g. ``{"momentum": 0.8}`` or ``{"betas": (0.9, 0.99)}``.
    learning_rate : float, str or callable, default=0.01
        A constant rate; or a schedule by name, stepped once per optimizer step:
        "constant" (eta0), "invscaling" (eta0 / (t + 1)^power_t), "exponential"
        (eta0 * gamma^t), "step" (eta0 * gamma^(t // step_size)), "cosine" (eta0 down to floor
        over T steps, default the steps of max_epochs); or any callable step -> rate.
    eta0 : float, default=0.01
        The initial rate of a named schedule (ignored for a float or callable learning_rate).
    power_t : float, default=0.25
        The exponent of "invscaling".
    schedule_params : dict or None, default=None
        The other schedule arguments: gamma (default 0.999 for "exponential", 0.1 for "step"),
        step_size (default 1000), T and floor (for "cosine").
    alpha : float, default=0.0001
        L2 penalty on the coefficients (not the intercept), added to the loss as a penalty
        (not as optimizer weight decay) and scaled so that the minimiser is that of
        scikit-learn's SGD estimator with the same ``alpha`` (see the module docstring).
    fit_intercept : bool, default=True
        Fit an intercept (descend's bias parameter, last in each block).
    max_epochs : int, default=200
        Passes over the training data in ``fit``.
    tol : float or None, default=1e-4
        Stopping rule (scikit-learn's SGD rule, not a gradient-norm test): stop when the
        full-data training loss (the validation loss with early_stopping) has not improved by
        more than ``tol`` for ``n_iter_no_change`` consecutive epochs. None: run all
        max_epochs (with early_stopping, None means tol = 0). Reaching max_epochs with a tol
        set warns with a ConvergenceWarning.
    n_iter_no_change : int, default=5
        Epochs without improvement before stopping.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified for the classifier), stop on
        the held-out loss (without penalty) and restore the weights of its best epoch. In
        ``partial_fit`` the held-out loss is each new chunk's loss before training on it
        (progressive validation), and the state carries over between calls; once stopped,
        further ``partial_fit`` calls leave the model as it is.
    validation_fraction : float, default=0.1
        The held-out share of the rows for early_stopping.
    shuffle : bool, default=True
        Shuffle the rows every epoch (the order is a function of the seed and the epoch).
    random_state : int, RandomState or None, default=None
        Seeds the row order and the validation split (via check_random_state).
    warm_start : bool, default=False
        ``fit`` continues from the last fit: its weights, and its optimizer state, schedule
        step and epoch count when the optimizer is the same rule (so fit for 5 epochs, then
        warm fit for 5 more, equals fit for 10); the seed of the first fit is kept.
    verbose : int, default=0
        > 0 shows a progress bar on stderr.
    backend : {"auto", "numpy", "numba"}, default="auto"
        Which engine runs the fit (see :func:`descend.minimize`): "auto" takes the compiled
        kernels when numba is installed (the plain NumPy path for tiny data), with the same
        numbers as "numpy" to rounding.

    Attributes
    ----------
    coef_, intercept_ : the fitted coefficients and intercept(s).
    n_iter_ : epochs run by the last ``fit`` (or by all ``partial_fit`` calls since the first).
    n_features_in_, feature_names_in_ : as in scikit-learn.
    loss_curve_ : ndarray
        The full-data training loss (with penalty) at each epoch boundary: index 0 before
        training, index e after e epochs (equal to ``history_.epoch_loss``).
    validation_loss_curve_, best_validation_loss_ : with early_stopping, the held-out loss at
        each boundary and its best value.
    history_ : descend.History
        Everything the run recorded, including every step's batch loss and learning rate.
    result_ : descend.Result
        The result of the last call to :func:`descend.minimize`.
"""


class GDRegressor(RegressorMixin, _GDBase):
    __doc__ = """Linear regression fitted by gradient descent in descend's one loop.

    Minimises the mean squared error (not halved) plus ``alpha * ||coef||^2`` with
    :func:`descend.minimize` on a :class:`descend.LinearRegression` objective.
    """ + _PARAMS_DOC

    _is_clf = False

    def _objective(self, X, Y, l2=None):
        l2 = self.alpha if l2 is None else l2
        return LinearRegression(X, Y[:, 0], bias=self.fit_intercept, l2=l2)

    def _store(self, w):
        d = self.n_features_in_
        self.coef_ = w[:d].copy()
        self.intercept_ = np.array([w[d] if self.fit_intercept else 0.0])

    def _w_now(self):
        return np.append(self.coef_, self.intercept_) if self.fit_intercept else self.coef_.copy()

    def fit(self, X, y):
        """Fit on (X, y); returns self."""
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        return self._fit(X, y.reshape(-1, 1))

    def partial_fit(self, X, y):
        """One epoch over this chunk, continuing the optimizer, schedule and early-stopping state."""
        first = getattr(self, "_checkpoint", None) is None
        if first:
            self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, reset=first)
        return self._partial_fit(X, y.reshape(-1, 1), first)

    def predict(self, X):
        """X @ coef_ + intercept_."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_[0]


class GDClassifier(ClassifierMixin, _GDBase):
    __doc__ = """Logistic regression fitted by gradient descent in descend's one loop.

    Two classes: one binary :class:`descend.LogisticRegression` objective (``coef_`` of shape
    (1, n_features)). More classes: by default (``multi_class="softmax"``) the multinomial
    :class:`descend.SoftmaxRegression`, one block of weights per class (``coef_`` (K, n_features));
    ``predict_proba`` is the softmax of the decisions. ``multi_class="ovr"`` is **one-vs-rest**:
    one binary objective per class, side by side in one parameter vector that
    :func:`descend.minimize` descends at once. The blocks do not interact, so every optimizer
    here (all elementwise) takes exactly the steps it would take on each binary problem alone;
    the loss, the stopping rule and the history are those of the sum; ``predict_proba``
    normalises the K sigmoids (scikit-learn's OvR rule).
    """ + _PARAMS_DOC + """
    multi_class : {"softmax", "ovr"}, default="softmax"
        For more than two classes: the multinomial (softmax) objective, or one-vs-rest.
"""

    _is_clf = True
    _parameter_constraints = {**_GDBase._parameter_constraints, "multi_class": [_Options(["softmax", "ovr"])]}

    def __init__(self, *, batch_size=32, optimizer="sgd", optimizer_params=None, learning_rate=0.01, eta0=0.01,
                 power_t=0.25, schedule_params=None, alpha=0.0001, fit_intercept=True, max_epochs=200, tol=1e-4,
                 n_iter_no_change=5, early_stopping=False, validation_fraction=0.1, shuffle=True,
                 random_state=None, warm_start=False, verbose=0, backend="auto", multi_class="softmax"):
        super().__init__(batch_size=batch_size, optimizer=optimizer, optimizer_params=optimizer_params,
                         learning_rate=learning_rate, eta0=eta0, power_t=power_t, schedule_params=schedule_params,
                         alpha=alpha, fit_intercept=fit_intercept, max_epochs=max_epochs, tol=tol,
                         n_iter_no_change=n_iter_no_change, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, shuffle=shuffle, random_state=random_state,
                         warm_start=warm_start, verbose=verbose, backend=backend)
        self.multi_class = multi_class

    def _objective(self, X, Y, l2=None):
        l2 = self.alpha / 2.0 if l2 is None else l2
        if self._softmax():
            return SoftmaxRegression(X, Y[:, 0], bias=self.fit_intercept, l2=l2, n_classes=len(self.classes_))
        return LogisticRegression(X, Y if Y.shape[1] > 1 else Y[:, 0], bias=self.fit_intercept, l2=l2)

    def _softmax(self) -> bool:
        return len(self.classes_) > 2 and self.multi_class == "softmax"

    def _store(self, w):
        d = self.n_features_in_
        W = w.reshape(-1, d + self.fit_intercept)
        self.coef_ = W[:, :d].copy()
        self.intercept_ = W[:, d].copy() if self.fit_intercept else np.zeros(len(W))

    def _w_now(self):
        W = np.column_stack([self.coef_, self.intercept_]) if self.fit_intercept else self.coef_
        return W.ravel().copy()

    def _targets(self, y):
        """One 0/1 column per class (one column for two classes: y == classes_[1])."""
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(f"y holds the label {y[unknown][0]!r} at row {int(np.flatnonzero(unknown)[0])}, "
                             f"which is not in classes {self.classes_.tolist()}.")
        if len(self.classes_) == 2:
            return (y == self.classes_[1]).astype(np.float64).reshape(-1, 1)
        if self._softmax():  # one column of class indices
            return np.searchsorted(self.classes_, y).astype(np.float64).reshape(-1, 1)
        return (y[:, None] == self.classes_[None, :]).astype(np.float64)

    def _set_classes(self, classes):
        classes = np.unique(classes)
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in y; got one class "
                             f"({classes.tolist()}).")
        if hasattr(self, "classes_") and not np.array_equal(classes, self.classes_):
            self._checkpoint = None  # a warm start needs the same classes
            del self.coef_
        self.classes_ = classes

    def fit(self, X, y):
        """Fit on (X, y); returns self."""
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self._set_classes(y)
        return self._fit(X, self._targets(y))

    def partial_fit(self, X, y, classes=None):
        """One epoch over this chunk; ``classes`` (every label) is required on the first call."""
        first = getattr(self, "_checkpoint", None) is None
        if first:
            self._validate_params()
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
        X, y = validate_data(self, X, y, dtype=np.float64, reset=first)
        check_classification_targets(y)
        if first:
            self._set_classes(classes)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={np.unique(classes).tolist()} is not the same as on the first call to "
                             f"partial_fit ({self.classes_.tolist()}).")
        return self._partial_fit(X, self._targets(y), first)

    def decision_function(self, X):
        """X @ coef_.T + intercept_: shape (n,) for two classes, (n, K) for more."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Z = X @ self.coef_.T + self.intercept_
        return Z[:, 0] if Z.shape[1] == 1 else Z

    def predict(self, X):
        """The class of the largest decision value (z > 0 for the second of two classes)."""
        Z = self.decision_function(X)
        idx = (Z > 0).astype(int) if Z.ndim == 1 else Z.argmax(1)
        return self.classes_[idx]

    def predict_proba(self, X):
        """Class probabilities: [1 - p, p] for two classes; the softmax of the K decisions for more
        (one-vs-rest: the K sigmoids normalised)."""
        Z = self.decision_function(X)
        if Z.ndim == 1:
            p = sigmoid(Z)
            return np.column_stack([1.0 - p, p])
        if self._softmax():
            P = np.exp(Z - Z.max(1, keepdims=True))
            return P / P.sum(1, keepdims=True)
        log_p = -np.logaddexp(0.0, -Z)  # log sigmoid, normalised in log space so nothing underflows to 0/0
        P = np.exp(log_p - log_p.max(1, keepdims=True))
        return P / P.sum(1, keepdims=True)

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))
