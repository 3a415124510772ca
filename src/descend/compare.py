"""The lecture's trade-off, measured: GD vs SGD vs mini-batch (and optimizers) on one problem.

Full-batch GD is parallel and cheap per epoch but makes one step per epoch; SGD makes n
steps per epoch but each is sequential; mini-batch sits between. :func:`compare` runs each
configuration through the same ``minimize`` loop on the same data and reports the loss
against four x-axes — epochs, samples seen, steps (gradient evaluations) and wall time —
and the cost of reaching a target loss.

Learning rates: when a run gives none, SGD-family runs (sgd, momentum, nesterov) get
``(1 - momentum) / L(B)`` where L(B) is the *expected smoothness* of a B-row mini-batch
(Gower et al., 2019, "SGD: general analysis and improved rates", b-nice sampling):

    L(B) = n (B - 1) / (B (n - 1)) * L + (n - B) / (B (n - 1)) * L_max

with L the full-data gradient's Lipschitz constant (the Hessian's top eigenvalue for least
squares) and L_max the largest single-row one. Full batch gives 1 / L, half the stable rate
2 / L; one row gives 1 / L_max. Other optimizers, or objectives without those constants, get
the learning-rate finder's suggestion. The rates used are in the table, so no comparison is
rigged by one bad rate.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from . import optim
from .errors import ParameterError, check_positive
from .loop import Result, _select_backend, minimize

__all__ = ["compare", "Comparison", "default_lr"]

AXES = ("epochs", "samples", "steps", "time")
TIMING = ("time = wall time inside the optimisation steps only (perf_counter around each epoch's steps); "
          "the full-data loss at each epoch boundary is evaluated outside the timed region; every run on the "
          "same backend ({backend}){warm}")


def _batch_label(b):
    return "full batch" if b is None else "SGD (B=1)" if b == 1 else f"mini-batch B={b}"


def default_lr(objective, optimizer_name: str, batch_size, w0=None, seed=0, momentum: float = 0.0):
    """The documented default rate for a configuration (see the module docstring); returns (lr, rule)."""
    n = objective.n_samples
    if optim.resolve(optimizer_name)[0] is optim.SGD and hasattr(objective, "smoothness") and n:
        L, L_max = objective.smoothness()
        B = n if batch_size is None else batch_size
        LB = L if n == 1 else n * (B - 1) / (B * (n - 1)) * L + (n - B) / (B * (n - 1)) * L_max
        return (1.0 - momentum) / LB, "(1 - momentum) / L(B)"
    from .lrfind import lr_find

    finder = lr_find(objective, w0 if w0 is not None else np.zeros(objective.n_params),
                     optimizer=optim.from_name(optimizer_name), batch_size=batch_size, seed=seed)
    return float(finder.suggestion), "lr finder"


@dataclass
class Comparison:
    """Results of every run, the target loss, and the loss against each x-axis."""

    results: list
    labels: list
    target: float
    best: float
    optimum: float | None
    lrs: list
    lr_rules: list
    timing: str
    target_rule: str = ""
    table: list = field(default_factory=list)

    def curve(self, i: int, x: str = "epochs"):
        """(x values, full-data loss) of run i against ``x`` in epochs|samples|steps|time."""
        if x not in AXES:
            raise ParameterError(f"x must be one of {', '.join(AXES)}; got {x!r}.")
        h = self.results[i].history
        xs = {"epochs": np.arange(len(h.epoch_loss)), "samples": h.epoch_samples, "steps": h.epoch_step,
              "time": h.epoch_time}[x]
        return np.asarray(xs, dtype=np.float64), h.epoch_loss

    def format_table(self) -> list[list[str]]:
        """The time-to-target table as rows of strings (header first)."""
        head = ["run", "lr", "steps/epoch", "loss @ epoch 1", "epochs", "samples", "steps", "time (s)",
                "final loss", "status"]
        rows = [head]
        for r in self.table:
            reached = r["reached"]
            cell = (lambda v, fmt: fmt.format(v)) if reached else (lambda v, fmt: "not reached")
            rows.append([r["label"], f"{r['lr']:.4g}", str(r["steps_per_epoch"]), f"{r['loss_1']:.6g}",
                         cell(r["epochs"], "{}"),
                         cell(r["samples"], "{:,}"), cell(r["steps"], "{:,}"), cell(r["time"], "{:.4f}"),
                         f"{r['final_loss']:.6g}", r["status"]])
        return rows


def _normalise_run(spec, objective, w0, seed):
    spec = dict(spec)
    b = spec.pop("batch_size", None)
    if b in ("full", "None", "none"):
        b = None
    opt = spec.pop("optimizer", "sgd")
    lr = spec.pop("lr", None)
    label = spec.pop("label", None)
    if isinstance(opt, optim.Optimizer):
        if lr is not None or spec:
            raise ParameterError("give a run either an optimizer object or an optimizer name with lr and "
                                 "hyper-parameters, not both.")
        return b, opt, opt.lr, "given", label or f"{_batch_label(b)}, {opt.name}"
    name = str(opt).lower()
    rule = "given"
    if lr is None:
        momentum = spec.get("momentum", 0.9 if name in ("momentum", "nesterov") else 0.0)
        lr, rule = default_lr(objective, name, b, w0=w0, seed=seed, momentum=momentum)
    optimizer = optim.from_name(name, lr=lr, **spec)
    return b, optimizer, lr, rule, label or f"{_batch_label(b)}, {name}"


def compare(objective, w0, runs, epochs: int = 10, target: float | None = None, rel: float = 0.01,
            seed: int = 0, shuffle: bool = True, backend: str = "auto", warm: bool = True,
            **minimize_kwargs) -> Comparison:
    """Run each configuration on the same objective and data; measure the loss against epochs,
    samples seen, steps and wall time, and the cost of reaching ``target``.

    ``runs`` is a list of dicts with ``batch_size`` (None or "full", 1, k), ``optimizer`` (a
    name from :func:`descend.optim.from_name` or an optimizer object), ``lr`` (None: the
    documented default rule) and optimizer hyper-parameters, and an optional ``label``.
    ``target`` defaults to (1 + rel) times the exact optimum when the objective knows it
    (least squares: ``solution()``), else (1 + rel) times the best loss any run reached
    (plus 1e-12 of the starting loss, so a noise-free optimum of 0 stays reachable).

    Timing is fair: every run uses the same ``backend``, and with the compiled kernels each
    configuration first runs one untimed epoch (``warm``) so that no run pays for loading or
    compiling its kernel.
    """
    epochs = check_positive("epochs", epochs, integer=True)
    if not runs:
        raise ParameterError("runs is empty; give at least one configuration.")
    specs = [_normalise_run(s, objective, w0, seed) for s in runs]
    results: list[Result] = []
    warmed = False
    for b, optimizer, lr, rule, label in specs:
        kwargs = dict(batch_size=b, shuffle=shuffle, seed=seed, backend=backend, **minimize_kwargs)
        if warm and _select_backend(backend, objective, optimizer)[0] == "numba":
            minimize(objective, w0, optimizer=copy.deepcopy(optimizer), epochs=1, **kwargs)
            warmed = True
        results.append(minimize(objective, w0, optimizer=optimizer, epochs=epochs, label=label, **kwargs))
        if results[-1].status == "stopped" and results[-1].reason.startswith("interrupted"):
            break  # Ctrl-C: keep the runs so far (the last one up to where it stopped), start no more
    specs = specs[: len(results)]
    optimum = None
    if hasattr(objective, "solution"):
        optimum = float(objective.loss(objective.solution()))
    best = min(min(r.history.epoch_loss_list) for r in results)
    start = results[0].history.epoch_loss_list[0]
    if target is None:
        base = optimum if optimum is not None else best
        target = base * (1 + rel) + 1e-12 * start
        of = "the exact optimum" if optimum is not None else "the best loss any run reached"
        rule = (f"within {100 * rel:g}% of {of} ({base:.6g})" if base > 1e-12 * start
                else f"1e-12 of the starting loss ({of} is {base:.3g})")
    else:
        rule = "given"
    comp = Comparison(results, [s[4] for s in specs], float(target), best, optimum, [s[2] for s in specs],
                      [s[3] for s in specs],
                      TIMING.format(backend=", ".join(sorted({r.backend for r in results})),
                                    warm="; kernels warmed by one untimed epoch per run" if warmed else ""),
                      rule)
    for (b, optimizer, lr, rule, label), res in zip(specs, results):
        h = res.history
        hit = np.flatnonzero(h.epoch_loss <= target)
        row = {"label": label, "batch_size": b, "optimizer": optimizer.name, "lr": float(lr), "lr_rule": rule,
               "steps_per_epoch": int(h.epoch_step[1] - h.epoch_step[0]) if len(h) > 1 else 0,
               "reached": bool(len(hit)), "final_loss": float(h.epoch_loss[-1]), "status": res.status,
               "loss_1": float(h.epoch_loss[1]) if len(h) > 1 else math.nan}
        if len(hit):
            k = int(hit[0])
            row.update(epochs=k, samples=int(h.epoch_samples[k]), steps=int(h.epoch_step[k]),
                       time=float(h.epoch_time[k]))
        else:
            row.update(epochs=None, samples=None, steps=None, time=None)
        comp.table.append(row)
    return comp


def compare_data(X, y, batch_sizes, optimizers=("sgd",), lr=None, epochs=10, seed=0, bias=True,
                 **kwargs) -> Comparison:
    """:func:`compare` on a linear regression of y on X, every optimizer with every batch size, from zero."""
    from .objectives import LinearRegression

    obj = LinearRegression(X, y, bias=bias)
    for b in batch_sizes:
        if b is not None and b > obj.n_samples:
            raise ParameterError(f"batch size {b} is larger than the number of rows ({obj.n_samples}).")
    runs = [dict(batch_size=b, optimizer=name, lr=lr) for name in optimizers for b in batch_sizes]
    return compare(obj, np.zeros(obj.n_params), runs, epochs=epochs, seed=seed, **kwargs)


def builtin_problems():
    """The problems ``descend compare`` runs without data: the lecture's four points, and a noisy,
    ill-conditioned least-squares problem of 200,000 x 20 (AR(1) correlation 0.9) where the
    trade-off between full batch and SGD is visible. Each item: (title, X, y, bias)."""
    from . import datasets

    X, y = datasets.lecture()
    Xs, ys = datasets.linear(200_000, 20, noise=0.5, bias=1.0, correlation=0.9, seed=0)
    return [("the lecture (4 rows, y_hat = x w, no bias)", X, y, False),
            ("synthetic least squares (200,000 x 20 + bias, noise 0.5, correlation 0.9)", Xs, ys, True)]


class _CallableModule(type(__import__("sys"))):
    """``descend.compare`` is this module and, called, the function :func:`compare`: the package
    exports the function under the module's name (``ds.compare(obj, w0, runs=...)``), and Python
    rebinds ``descend.compare`` to the module whenever it is imported, so the module itself is callable."""

    def __call__(self, *args, **kwargs) -> Comparison:
        return compare(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
