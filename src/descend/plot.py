"""Figures (matplotlib, imported only when a function here is called).

Every function returns a ``matplotlib.figure.Figure`` built without pyplot, so nothing needs a
display; save it with ``fig.savefig(path)`` (Agg draws it).
"""

from __future__ import annotations

import numpy as np

from .diagnose import smooth as _smooth
from .errors import ParameterError

__all__ = ["loss_curve", "cost_curve", "method_label"]


def _figure(nrows=1, ncols=1, figsize=(6.4, 4.2)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def method_label(result) -> str:
    """"GD", "SGD" or "mini-batch k", with the optimizer and learning rate, or the result's own label."""
    if getattr(result, "label", ""):
        return result.label
    b = result.batch_size
    method = "GD" if b is None else "SGD" if b == 1 else f"mini-batch {b}"
    opt = result.optimizer
    lr = opt.lr if isinstance(opt.lr, (int, float)) else "schedule"
    return f"{method}, {opt.name} lr={lr}"


def _as_list(results):
    if isinstance(results, (list, tuple)):
        return list(results)
    if isinstance(results, dict):
        out = []
        for label, r in results.items():
            r.label = r.label or str(label)
            out.append(r)
        return out
    return [results]


def _smooth_for_axis(y, weight, logy):
    """TensorBoard's smoothing; on a log axis it is applied to log(loss), so that a geometric
    decay stays a straight line instead of being dragged up by the early, larger values."""
    y = np.asarray(y, dtype=np.float64)
    if not logy:
        return _smooth(y, weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(_smooth(np.log(np.where(y > 0, y, np.nan)), weight))


def loss_curve(results, smooth: float = 0.6, logy: bool = False, per: str = "epoch", title: str | None = None):
    """The loss of one or several runs: raw (faint) and smoothed (solid) in the same colour.

    ``per="epoch"`` plots the full-data loss at each epoch boundary; ``per="step"`` the batch
    loss of every step. A diverged or stopped run is marked with an x where it stopped.
    ``smooth`` is TensorBoard's smoothing weight (0 turns smoothing off); with ``logy`` the
    smoothing is applied to log(loss).
    """
    if per not in ("epoch", "step"):
        raise ParameterError(f"per must be 'epoch' or 'step'; got {per!r}.")
    runs = _as_list(results)
    fig, axes = _figure()
    ax = axes[0, 0]
    for i, res in enumerate(runs):
        color = f"C{i % 10}"
        y = res.history.epoch_loss if per == "epoch" else res.history.step_loss
        x = np.arange(len(y))
        label = method_label(res)
        if smooth > 0:
            ax.plot(x, y, color=color, alpha=0.3, linewidth=1)
            ax.plot(x, _smooth_for_axis(y, smooth, logy), color=color, linewidth=2,
                    label=f"{label} (smoothed {smooth:g})")
        else:
            ax.plot(x, y, color=color, linewidth=2, label=label)
        if res.status in ("diverged", "stopped") and len(y):
            finite = np.flatnonzero(np.isfinite(y))
            j = finite[-1] if len(finite) else 0
            ax.plot([x[j]], [y[j]], marker="x", markersize=12, markeredgewidth=3, color=color, linestyle="none",
                    label=f"{res.status} here")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch" if per == "epoch" else "step")
    ax.set_ylabel("loss (full data)" if per == "epoch" else "batch loss")
    ax.set_title(title or "Loss curve")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def objective_of(search_result):
    return getattr(search_result, "objective", None)


def cost_curve(search_result, title: str | None = None):
    """The cost evaluated by a search: against w for one weight, a contour for two.

    One weight: the cost curve through every evaluated point, the points themselves and
    the best marked. Two weights: filled contours of the first (coarsest) grid, every
    evaluated point on top coloured by round, and the best marked.
    """
    sr = search_result
    d = sr.points.shape[1]
    fig, axes = _figure()
    ax = axes[0, 0]
    counts = [int(np.prod([len(a) for a in axes_r])) for axes_r in sr.axes]
    rounds = np.repeat(np.arange(len(counts)), counts)
    if d == 1:
        w = sr.points[:, 0]
        order = np.argsort(w, kind="stable")
        ax.plot(w[order], sr.losses[order], color="C0", linewidth=1.5, label="cost(w)")
        sc = ax.scatter(w, sr.losses, c=rounds, cmap="viridis", s=14, zorder=3, label="evaluated")
        ax.plot([sr.w[0]], [sr.loss], marker="*", markersize=16, color="C3", linestyle="none",
                label=f"best w = {sr.w[0]:.4g}", zorder=4)
        ax.set_xlabel("w")
        ax.set_ylabel("cost (mean squared error)")
    elif d == 2:
        from matplotlib.colors import LogNorm
        from matplotlib.patches import Rectangle

        ax0, ax1 = sr.axes[0]
        fine = [np.linspace(a[0], a[-1], 201) for a in (ax0, ax1)]
        if hasattr(objective_of(sr), "loss_many"):
            G = np.stack([m.ravel() for m in np.meshgrid(*fine, indexing="ij")], axis=1)
            Z = objective_of(sr).loss_many(G).reshape(201, 201)
        else:
            fine, Z = [ax0, ax1], sr.losses[: counts[0]].reshape(len(ax0), len(ax1))
        lo, hi = np.nanmin(Z), np.nanmax(Z)
        if lo > 0 and hi / lo > 1e3:
            levels = np.geomspace(lo, hi, 25)
            cs = ax.contourf(fine[0], fine[1], Z.T, levels=levels, norm=LogNorm(lo, hi), cmap="viridis")
        else:
            cs = ax.contourf(fine[0], fine[1], Z.T, levels=25, cmap="viridis")
        fig.colorbar(cs, ax=ax, label="cost")
        start = 0
        for r, axes_r in enumerate(sr.axes):
            pts = sr.points[start : start + counts[r]]
            start += counts[r]
            color = f"C{(r + 1) % 10}"
            (x0, x1), (y0, y1) = (axes_r[0][0], axes_r[0][-1]), (axes_r[1][0], axes_r[1][-1])
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=color, linewidth=1.2))
            ax.scatter(pts[:, 0], pts[:, 1], s=6 if r else 10, color=color, zorder=3,
                       label=f"round {r + 1}: box {x1 - x0:.3g} wide")
        ax.plot([sr.w[0]], [sr.w[1]], marker="*", markersize=14, color="white", markeredgecolor="black",
                linestyle="none", label=f"best ({sr.w[0]:.4g}, {sr.w[1]:.4g})", zorder=4)
        ax.set_xlabel("w[0]")
        ax.set_ylabel("w[1]")
    else:
        raise ParameterError(f"cost_curve draws one or two weights; this search has {d}.")
    if len(counts) > 1 and d == 1:
        fig.colorbar(sc, ax=ax, label="round")
    ax.set_title(title or (f"Brute force: {len(sr.losses)} evaluations" if len(counts) == 1
                           else f"Divide and conquer: {len(counts)} rounds, {len(sr.losses)} evaluations"))
    ax.legend(fontsize="small")
    return fig


def compare(comparison, x: str = "all", smooth: float = 0.6, logy: bool = True):
    """The loss of each configuration of a :func:`descend.compare` against ``x``: one of
    "epochs", "samples", "steps", "time", or "all" for one panel per axis. Raw (faint) and
    smoothed (solid) per configuration, a legend by configuration and the target as a dashed
    horizontal line."""
    from .compare import AXES

    if x != "all" and x not in AXES:
        raise ParameterError(f"x must be 'all' or one of {', '.join(AXES)}; got {x!r}.")
    names = AXES if x == "all" else (x,)
    fig, axes = _figure(2, 2, figsize=(11, 7.5)) if x == "all" else _figure()
    xlabel = {"epochs": "epoch", "samples": "samples seen", "steps": "steps (gradient evaluations)",
              "time": "wall time in steps (s)"}
    for ax, name in zip(axes.ravel(), names):
        for i, label in enumerate(comparison.labels):
            xs, ys = comparison.curve(i, name)
            color = f"C{i % 10}"
            if smooth > 0:
                ax.plot(xs, ys, color=color, alpha=0.3, linewidth=1)
            ax.plot(xs, _smooth_for_axis(ys, smooth, logy) if smooth > 0 else ys, color=color, linewidth=2,
                    label=f"{label} (lr {comparison.lrs[i]:.3g})")
        ax.axhline(comparison.target, color="black", linestyle="--", linewidth=1,
                   label=f"target {comparison.target:.4g}")
        if logy:
            ax.set_yscale("log")
        if name in ("samples", "steps", "time") and logy:
            ax.set_xscale("symlog", linthresh=max(1e-6, float(np.nanmin(
                [comparison.curve(i, name)[0][1] for i in range(len(comparison.labels))
                 if len(comparison.curve(i, name)[0]) > 1] or [1.0]))))
        ax.set_xlabel(xlabel[name])
        ax.set_ylabel("full-data loss")
        ax.set_title(f"loss against {xlabel[name]}")
        ax.grid(True, alpha=0.3)
    axes.ravel()[0].legend(fontsize="small")
    fig.suptitle("GD vs SGD vs mini-batch: the same runs on four x-axes")
    return fig


def lr_find(result, logy: bool | None = None, title: str | None = None):
    """The learning-rate range test: loss against lr on a log axis, raw (faint) and smoothed,
    with the valley shaded and the suggestions (valley, steepest) and the stable rate 2/lambda_max
    (when known) as labelled vertical lines. ``logy=None`` uses a log loss axis when the losses
    are positive and span more than two decades."""
    r = result
    fig, axes = _figure()
    ax = axes[0, 0]
    finite = np.isfinite(r.losses)
    lrs, losses = r.lrs[finite], r.losses[finite]
    if logy is None:
        logy = bool(len(losses)) and losses.min() > 0 and losses.max() > 100 * losses.min()
    if r.smooth > 0:
        ax.plot(lrs, losses, color="C0", alpha=0.3, linewidth=1, label="loss")
        ax.plot(lrs, r.smoothed[finite], color="C0", linewidth=2, label=f"smoothed ({r.smooth:g})")
    else:
        ax.plot(lrs, losses, color="C0", linewidth=2, label="loss")
    if r.valley is not None:
        a, b = r.valley
        ax.axvspan(r.lrs[a], r.lrs[b], color="C2", alpha=0.12, label="valley")
    marks = [("valley", r.suggestion_valley, "C2", "-"), ("steepest", r.suggestion_steepest, "C1", "--"),
             ("stable 2/λmax", r.stable_lr, "C3", ":")]
    for name, lr, color, style in marks:
        if lr is not None:
            ax.axvline(lr, color=color, linestyle=style, linewidth=1.5, label=f"{name} {lr:.3g}")
    if r.suggestion is not None:
        j = int(np.argmin(np.abs(np.log(r.lrs) - np.log(r.suggestion))))
        ax.plot([r.lrs[j]], [r.smoothed[j]], marker="o", markersize=8, color="C2", linestyle="none")
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("loss after the step" + (" (batch)" if r.batch_size is not None else ""))
    stop = "stopped early" if r.stopped_early else "all steps"
    ax.set_title(title or f"Learning-rate range test: {r.steps} steps, {stop}")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig
