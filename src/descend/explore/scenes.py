"""What the explorer shows, computed by the library: scenes, their surfaces, and validated runs.

Nothing here knows about HTTP. ``catalogue()`` lists the scenes and the optimizers (read from
:mod:`descend.optim`), ``scene(name)`` gives a scene's picture (the lecture's cost curve, or a
contour grid), and ``run(request)`` checks a client's request — known names, finite numbers,
bounded work — and answers it with :func:`descend.minimize`: every trajectory, loss and verdict
the page draws comes from here. Bad requests raise :class:`~descend.errors.ParameterError` with
one sentence naming the field.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers

import numpy as np

from .. import datasets, diagnose, functions, optim, search
from ..errors import ParameterError
from ..loop import minimize
from ..objectives import LinearRegression

__all__ = ["MAX_STEPS", "MAX_RUNS", "SCENES", "catalogue", "scene", "run", "optimizer_names"]

MAX_STEPS = 10_000  # optimizer steps per run
MAX_RUNS = 6  # optimizers racing in one request
MAX_COORD = 1e6  # |start| bound
GRID = 101  # contour grid points per axis

LECTURE_BIAS_BOUNDS = ((-1.0, 5.0), (-4.0, 6.0))


def _lecture():
    X, y = datasets.lecture()
    return LinearRegression(X, y, bias=False)


def _lecture_bias():
    X, y = datasets.lecture()
    return LinearRegression(X, y, bias=True)


def _titles():
    out = {"lecture": "The lecture: cost(w) = 7.5 (w - 2)^2",
           "lecture-bias": "The lecture with a bias: cost(w, b) = mean((x w + b - y)^2)"}
    for name, f in functions.NAMES.items():
        out[name] = f"{name.replace('_', ' ').capitalize()}: f(x, y) = {f.formula}"
    return out


SCENES = ("lecture", "lecture-bias", *functions.NAMES)


# ------------------------------------------------------------------------------------- optimizers


def optimizer_names() -> list[str]:
    """The optimizer names :func:`descend.optim.from_name` accepts, in the registry's order."""
    registry = getattr(optim, "CHOICES", None)  # the single name registry, once it exists
    if registry is not None:
        return list(registry)
    return [*optim.NAMES, "momentum", "nesterov"]


def _hyper_parameters(name) -> dict:
    """The hyper-parameters of optimizer ``name`` (lr excluded) and their defaults, as the page shows
    them: ``betas`` split into ``beta1`` and ``beta2``; the SGD aliases with their momentum."""
    default = optim.from_name(name, lr=0.01)
    params = dict(default.params())
    params.pop("lr")
    out = {}
    for k, v in params.items():
        if k == "betas":
            out["beta1"], out["beta2"] = float(v[0]), float(v[1])
        elif name in ("momentum", "nesterov") and k == "nesterov":
            continue  # fixed by the name
        else:
            out[k] = v if isinstance(v, bool) else float(v)
    return out


def _class_lr(name) -> float:
    lr = inspect.signature(type(optim.from_name(name, lr=0.01)).__init__).parameters["lr"].default
    return float(lr)


def _default_lr(scene_name, name) -> float:
    if scene_name in functions.NAMES:
        lrs = functions.NAMES[scene_name].lrs
        if name in lrs:
            return float(lrs[name])
    if name in ("sgd", "momentum", "nesterov"):
        return 0.01 if scene_name == "lecture" else 0.05 if scene_name == "lecture-bias" else 0.01
    return _class_lr(name)


# ------------------------------------------------------------------------------------------ scenes


def _objective(name):
    if name == "lecture":
        return _lecture()
    if name == "lecture-bias":
        return _lecture_bias()
    return functions.NAMES[name]


def _defaults(name) -> dict:
    if name == "lecture":
        return {"start": [1.0], "steps": 100, "runs": [{"optimizer": "sgd", "lr": 0.01, "batch": "full"}]}
    if name == "lecture-bias":
        return {"start": [0.0, 4.0], "steps": 200,
                "runs": [{"optimizer": "sgd", "lr": 0.05, "batch": b} for b in ("full", 1, 2)]}
    f = functions.NAMES[name]
    return {"start": [float(v) for v in f.start], "steps": int(f.steps),
            "runs": [{"optimizer": o, "lr": _default_lr(name, o)} for o in ("sgd", "momentum", "adam")]}


def catalogue() -> dict:
    """Every scene (id, title, kind, defaults), every optimizer (hyper-parameters and default lr per
    scene) and the limits on a request."""
    titles = _titles()
    scenes = []
    for name in SCENES:
        kind = "curve" if name == "lecture" else "contour"
        scenes.append({"id": name, "title": titles[name], "kind": kind, "batches": name.startswith("lecture"),
                       "defaults": _defaults(name),
                       "lrs": {o: _default_lr(name, o) for o in optimizer_names()}})
    optimizers = {o: {"params": _hyper_parameters(o)} for o in optimizer_names()}
    return {"scenes": scenes, "optimizers": optimizers,
            "limits": {"max_steps": MAX_STEPS, "max_runs": MAX_RUNS, "max_coord": MAX_COORD}}


def _floats(a) -> list:
    """A JSON-safe list: non-finite values become None."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(a, dtype=np.float64).ravel()]


def _rounded(a, digits=6) -> list:
    """Display values (contour grids): ``digits`` significant digits, non-finite as None."""
    return [float(f"{v:.{digits}g}") if math.isfinite(v) else None for v in np.asarray(a, dtype=np.float64).ravel()]


def _points(a) -> list:
    return [[float(v) for v in p] for p in np.asarray(a, dtype=np.float64).reshape(-1, 2)]


def scene(name: str) -> dict:
    """The picture of scene ``name``: for the lecture its minimum and stable rate; for 2-D scenes a
    contour grid ``z[j][i] = f(x[i], y[j])`` over ``bounds`` and the known special points."""
    return _scene(_scene_name(name))  # cached per canonical name: one entry per scene at most


@functools.lru_cache(maxsize=None)
def _scene(name: str) -> dict:
    obj = _objective(name)
    out = {"id": name, "title": _titles()[name], "kind": "curve" if name == "lecture" else "contour",
           "defaults": _defaults(name)}
    if name == "lecture":
        out.update(minima=[[2.0]], min_value=0.0, xlabel="w", ylabel="cost(w)",
                   stable_lr=_finite_or_none(diagnose.stable_lr(obj, [1.0])))
        return out
    if name == "lecture-bias":
        res = search.grid(obj, bounds=LECTURE_BIAS_BOUNDS, num=GRID)  # brute force: every grid point's cost
        xs, ys = res.axes[0]
        z = res.losses.reshape(GRID, GRID).T  # points run over (w_i, b_j) with j fastest: z[j, i]
        out.update(bounds=[list(b) for b in LECTURE_BIAS_BOUNDS], minima=[[2.0, 0.0]], min_value=0.0,
                   saddles=[], maxima=[], xlabel="w", ylabel="b")
    else:
        xs, ys, z = obj.surface(num=GRID)
        out.update(bounds=[list(b) for b in obj.bounds], minima=_points(obj.known_minima),
                   min_value=None if obj.min_value is None else float(obj.min_value),
                   saddles=_points(obj.saddles), maxima=_points(obj.maxima), xlabel="x", ylabel="y")
    out.update(x=_floats(xs), y=_floats(ys), z=[_rounded(row) for row in z])
    return out


def _scene_name(name) -> str:
    if not isinstance(name, str):
        raise ParameterError(f"scene must be a string, one of {', '.join(SCENES)}; got {name!r}.")
    key = name.strip().lower()
    if key not in SCENES:
        key = key.replace("-", "_")
    if key not in SCENES:
        raise ParameterError(f"unknown scene {name!r}; choose one of {', '.join(SCENES)}.")
    return key


def _finite_or_none(x):
    return float(x) if x is not None and math.isfinite(x) else None


# ---------------------------------------------------------------------------------------- requests


def _number(value, where) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ParameterError(f"{where} must be a finite number; got {value!r}.")
    return float(value)


def _integer(value, where, lo, hi) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value).is_integer() \
            or not lo <= value <= hi:
        raise ParameterError(f"{where} must be an integer in [{lo}, {hi}]; got {value!r}.")
    return int(value)


def _check_keys(d, allowed, where):
    if not isinstance(d, dict):
        raise ParameterError(f"{where} must be a JSON object; got {type(d).__name__}.")
    unknown = [k for k in d if k not in allowed]
    if unknown:
        raise ParameterError(f"{where} has unknown field {unknown[0]!r}; known fields: {', '.join(allowed)}.")


def _optimizer(spec, i, scene_name, n_rows):
    where = f"runs[{i}]"
    _check_keys(spec, ("optimizer", "lr", "params", "batch"), where)
    name = spec.get("optimizer", "sgd")
    names = optimizer_names()
    if not isinstance(name, str) or name.lower() not in names:
        raise ParameterError(f"{where}.optimizer: unknown optimizer {name!r}; choose one of {', '.join(names)}.")
    name = name.lower()
    lr = _number(spec.get("lr", _default_lr(scene_name, name)), f"{where}.lr")
    if lr <= 0:
        raise ParameterError(f"{where}.lr must be > 0; got {lr!r}.")
    params = spec.get("params", {}) or {}
    known = _hyper_parameters(name)
    _check_keys(params, tuple(known), f"{where}.params ({name})")
    hp = {}
    for k, v in params.items():
        if isinstance(known[k], bool):
            if not isinstance(v, bool):
                raise ParameterError(f"{where}.params.{k} must be true or false; got {v!r}.")
            hp[k] = v
        else:
            hp[k] = _number(v, f"{where}.params.{k}")
    beta1, beta2 = hp.pop("beta1", None), hp.pop("beta2", None)
    try:
        opt = optim.from_options(name, lr, beta1=beta1, beta2=beta2, **hp)
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    batch = spec.get("batch", "full")
    if batch in ("full", None):
        batch = None
    elif n_rows is None:
        raise ParameterError(f"{where}.batch: the {scene_name} landscape has no rows to batch; "
                             f"use \"full\" (one step per epoch).")
    else:
        batch = _integer(batch, f"{where}.batch", 1, n_rows)
    return name, lr, opt, batch, {**known, **params}


def _label(name, lr, batch):
    what = "" if batch is None else " SGD (1 row)" if batch == 1 else f" mini-batch {batch}"
    return f"{name} lr={lr:g}{what}"


def run(request) -> dict:
    """Answer a client's request: race its optimizers on its scene from one start with ``minimize``.

    ``request`` (decoded JSON): ``scene`` (one of :data:`SCENES`), ``start`` (a list of 1 or 2
    finite numbers; the scene's classic start when absent), ``steps`` (epochs; for functions one
    step each), ``runs``: up to :data:`MAX_RUNS` of ``{"optimizer": name, "lr": number,
    "params": {hyper-parameter: value}, "batch": "full" | k}``. Each run takes at most
    :data:`MAX_STEPS` optimizer steps. Returns per run the weights and full-data loss at every
    epoch boundary (``history.w``, ``history.epoch_loss``), the status, and the library's verdict
    and message.
    """
    _check_keys(request, ("scene", "start", "steps", "runs"), "the request")
    name = _scene_name(request.get("scene", "lecture"))
    obj = _objective(name)
    defaults = _defaults(name)
    start = request.get("start")
    if start is None:
        start = defaults["start"]
    if not isinstance(start, list) or len(start) != obj.n_params:
        raise ParameterError(f"start must be a list of {obj.n_params} number(s) for the {name} scene; got {start!r}.")
    start = [_number(v, f"start[{i}]") for i, v in enumerate(start)]
    if any(abs(v) > MAX_COORD for v in start):
        raise ParameterError(f"start must lie within ±{MAX_COORD:g}; got {start!r}.")
    steps = request.get("steps")
    steps = defaults["steps"] if steps is None else _integer(steps, "steps", 1, MAX_STEPS)
    specs = request.get("runs")
    if specs is None:
        specs = defaults["runs"]
    if not isinstance(specs, list) or not 1 <= len(specs) <= MAX_RUNS:
        raise ParameterError(f"runs must be a list of 1 to {MAX_RUNS} optimizers; got "
                             f"{len(specs) if isinstance(specs, list) else repr(specs)}.")
    n_rows = obj.n_samples
    parsed = [_optimizer(s, i, name, n_rows) for i, s in enumerate(specs)]
    for i, (_, _, _, batch, _) in enumerate(parsed):
        per_epoch = 1 if batch is None else math.ceil(n_rows / batch)
        if steps * per_epoch > MAX_STEPS:
            raise ParameterError(f"runs[{i}]: {steps} epochs of {per_epoch} steps is {steps * per_epoch} steps; "
                                 f"at most {MAX_STEPS} per run (lower steps).")
    runs = []
    for name_i, lr, opt, batch, params in parsed:
        res = minimize(obj, start, optimizer=opt, batch_size=batch, epochs=steps, seed=0,
                       label=_label(name_i, lr, batch))
        h = res.history
        runs.append({"label": res.label, "optimizer": name_i, "lr": lr, "params": params,
                     "batch": "full" if batch is None else batch,
                     "w": [_floats(w) for w in h.w], "loss": _floats(h.epoch_loss),
                     "status": res.status, "verdict": res.verdict, "message": res.message,
                     "epochs": int(res.epochs), "steps": int(res.steps),
                     "final_w": _floats(res.w), "final_loss": _finite_or_none(res.loss)})
    out = {"scene": name, "start": start, "steps": steps, "runs": runs,
           "stable_lr": _finite_or_none(_stable_lr(obj, start))}
    if name == "lecture":
        out["curve"] = _lecture_curve(obj, start, runs)
    return out


def _stable_lr(obj, start):
    with np.errstate(all="ignore"):
        try:
            return diagnose.stable_lr(obj, start)
        except (ArithmeticError, ValueError):
            return None


def _lecture_curve(obj, start, runs) -> dict:
    """cost(w) on a grid (brute force, the library's search) covering w = 0..4 and every iterate."""
    ws = [start[0], 0.0, 4.0] + [w[0] for r in runs for w in r["w"] if w[0] is not None]
    lo, hi = min(ws), max(ws)
    pad = 0.05 * (hi - lo)
    res = search.grid(obj, bounds=[(lo - pad, hi + pad)], num=201)
    return {"w": _floats(res.points[:, 0]), "cost": _floats(res.losses)}
