"""Figures (matplotlib, imported only when a function here is called).

Every function returns a ``matplotlib.figure.Figure`` built without pyplot, so nothing needs a
display; save it with ``fig.savefig(path)`` (Agg draws it).
"""

from __future__ import annotations

import numpy as np

from .diagnose import smooth as _smooth
from .errors import ParameterError

__all__ = ["loss_curve", "cost_curve", "method_label", "landscape", "animate", "convergence", "basins"]


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
    loss of every step (past the history's cap of whole records, the mean of each bucket of
    steps, drawn at the bucket's last step). A diverged or stopped run is marked with an x where it stopped.
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
        if per == "epoch":
            y = res.history.epoch_loss
            x = np.arange(len(y))
        else:  # whole per-step records, then bucket means (a long run's aggregated tail), each at its step
            y = res.history.step_loss
            x = res.history.step_index - 1
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


def compare(comparison, x: str = "all", smooth: float = 0.0, logy: bool = True):
    """The loss of each configuration of a :func:`descend.compare` against ``x``: one of
    "epochs", "samples", "steps", "time", or "all" for one panel per axis; a legend by
    configuration and the target as a dashed horizontal line.

    The curves are full-data losses at epoch boundaries: exact, not noisy, and often only a
    few points, where an exponential moving average would lag far behind. So they are drawn
    as they are by default; ``smooth > 0`` draws them raw (faint) and smoothed (solid)."""
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
            ax.set_xlim(left=0)
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


# ---------------------------------------------------------------------------------------------
# Landscapes: contours, trajectories, special points; animation; convergence rate.

_SPECIAL = (("minima", "*", "white", 15, "minimum"), ("local_minima", "*", "lightgrey", 10, "local minimum"),
            ("saddles", "X", "orange", 10, "saddle"), ("maxima", "^", "red", 10, "maximum"))


def _landscape_levels(Z, levels, log):
    """Contour levels: ``levels`` as given (an array), or that many, log-spaced above min(Z) when
    ``log`` is True, or when None and the range is wide: (max - min) > 5 (median - min)."""
    if not np.isscalar(levels):
        return np.asarray(levels, dtype=np.float64), bool(log)
    finite = Z[np.isfinite(Z)]
    lo, hi, med = float(finite.min()), float(finite.max()), float(np.median(finite))
    if log is None:
        log = (hi - lo) > 5 * (med - lo) and hi > lo
    if not log or hi <= lo:
        return np.linspace(lo, hi, int(levels)), False
    span, delta = hi - lo, (hi - lo) * 1e-4
    lev = lo + (np.geomspace(delta, span + delta, int(levels)) - delta)
    lev[0], lev[-1] = lo, hi
    return lev, True


def _special_points(ax, objective, bounds, kinds=("minima", "local_minima", "saddles", "maxima")):
    """Mark the known special points inside ``bounds``; a kind with more than 30 points (Rastrigin's
    grids) is drawn small, or left out for saddles and maxima."""
    (x0, x1), (y0, y1) = bounds
    for attr, marker, color, size, label in _SPECIAL:
        if attr not in kinds:
            continue
        pts = np.asarray(getattr(objective, attr, np.zeros((0, 2))), dtype=np.float64).reshape(-1, 2)
        if len(pts) == 0:
            continue
        inside = (pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)
        pts = pts[inside]
        if len(pts) > 30:
            if attr in ("saddles", "maxima"):
                continue
            size = 5
        if len(pts):
            ax.plot(pts[:, 0], pts[:, 1], linestyle="none", marker=marker, markersize=size, color=color,
                    markeredgecolor="black", zorder=5, label=label, gid=attr)


def _trajectory_label(res) -> str:
    if getattr(res, "label", ""):
        return res.label
    opt = res.optimizer
    lr = opt.lr if isinstance(opt.lr, (int, float)) else "schedule"
    return f"{opt.name} lr={lr}"


def _landscape_axes(objective, bounds, levels, log, ax, num, title, kinds=("minima", "local_minima", "saddles",
                                                                           "maxima")):
    if getattr(objective, "n_params", None) != 2:
        raise ParameterError(f"landscape draws objectives of two parameters; this one has "
                             f"{getattr(objective, 'n_params', None)}.")
    if bounds is None:
        bounds = getattr(objective, "bounds", None)
        if bounds is None:
            raise ParameterError("landscape needs bounds=((x_lo, x_hi), (y_lo, y_hi)) for this objective.")
    (x0, x1), (y0, y1) = bounds
    if ax is None:
        fig, axes = _figure(figsize=(6.4, 5.2))
        ax = axes[0, 0]
    else:
        fig = ax.figure
    xs, ys = np.linspace(x0, x1, num), np.linspace(y0, y1, num)
    X, Y = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        Z = np.asarray(objective.loss_many(np.column_stack([X.ravel(), Y.ravel()])), dtype=np.float64).reshape(X.shape)
    lev, is_log = _landscape_levels(Z, levels, log)
    cs = ax.contourf(X, Y, Z, levels=lev, cmap="viridis", extend="both")
    ax.contour(X, Y, Z, levels=lev[:: max(1, len(lev) // 12)], colors="k", linewidths=0.3, alpha=0.5)
    fig.colorbar(cs, ax=ax, label="loss" + (" (log-spaced levels)" if is_log else ""))
    _special_points(ax, objective, bounds, kinds)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x = w[0]")
    ax.set_ylabel("y = w[1]")
    ax.set_title(title or f"{getattr(objective, 'name', 'objective')}: {getattr(objective, 'formula', '')}".rstrip(": "))
    return fig, ax, (x0, x1, y0, y1)


def landscape(objective, results=(), bounds=None, levels=30, log=None, ax=None, num: int = 201,
              title: str | None = None):
    """A two-parameter objective as filled contours, with each run's path across it.

    ``levels``: a number of contour levels or the levels themselves; they are log-spaced above
    the minimum when ``log=True``, or when ``log=None`` and the range is wide (max - min more
    than 5 times median - min: Rosenbrock, Beale). Each result in ``results`` (a Result, a
    list, or a dict label -> Result) draws its ``history.w`` as a line (legend: its label, or
    optimizer and lr) with a circle at the start and a cross at the end. The landscape's known
    minima (stars), saddles (X) and maxima (triangles) are marked. Returns the Figure (or
    draws into ``ax``).
    """
    fig, ax, _ = _landscape_axes(objective, bounds, levels, log, ax, num, title)
    for i, res in enumerate(_as_list(results) if results is not None else []):
        W = np.asarray(res.history.w, dtype=np.float64).reshape(-1, 2)
        color = f"C{(i + 1) % 10}"
        label = _trajectory_label(res)
        ax.plot(W[:, 0], W[:, 1], color=color, linewidth=1.8, marker=".", markersize=3, label=label,
                gid="trajectory", zorder=4)
        ax.plot(W[:1, 0], W[:1, 1], color=color, marker="o", markersize=8, markeredgecolor="black",
                linestyle="none", gid="start", zorder=6)
        ax.plot(W[-1:, 0], W[-1:, 1], color=color, marker="X", markersize=11, markeredgecolor="black",
                linestyle="none", gid="end", zorder=6)
    ax.legend(fontsize="small", loc="best", framealpha=0.8)
    return fig


def animate(objective, results, path, fps: int = 10, max_frames: int = 60, bounds=None, levels=30, log=None,
            dpi: int = 80, title: str | None = None):
    """Write a GIF of the runs' trajectories drawn step by step over the landscape; return ``path``.

    Frame k shows every run's path up to epoch ~k (at most ``max_frames`` frames: the epochs
    are subsampled evenly, and the last frame is always the end). The landscape is rendered
    once (Agg) and only the paths are redrawn per frame (blitting); pillow writes the GIF,
    looping, at ``fps`` frames per second.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    runs = _as_list(results)
    if not runs:
        raise ParameterError("animate needs at least one result to draw.")
    fps = check_fps(fps)
    fig, ax, _ = _landscape_axes(objective, bounds, levels, log, None, 121, title)
    fig.set_dpi(dpi)
    paths = [np.asarray(r.history.w, dtype=np.float64).reshape(-1, 2) for r in runs]
    longest = max(len(P) for P in paths)
    frames = np.unique(np.linspace(0, longest - 1, min(max(2, int(max_frames)), longest)).round().astype(int))
    moving = []
    for i, (res, P) in enumerate(zip(runs, paths)):
        color = f"C{(i + 1) % 10}"
        ax.plot(P[:1, 0], P[:1, 1], color=color, marker="o", markersize=8, markeredgecolor="black",
                linestyle="none", zorder=6)
        ax.plot([], [], color=color, linewidth=1.8, label=_trajectory_label(res))  # legend entry only
        (line,) = ax.plot([], [], color=color, linewidth=1.8, zorder=4, animated=True)
        (head,) = ax.plot([], [], color=color, marker="o", markersize=6, linestyle="none", zorder=6, animated=True)
        moving.append((P, line, head))
    ax.legend(fontsize="small", loc="best", framealpha=0.8)
    text = ax.text(0.02, 0.02, "", transform=ax.transAxes, color="white", fontsize="small", animated=True)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    fig.set_layout_engine("none")  # freeze the layout: every frame shares the background
    background = canvas.copy_from_bbox(fig.bbox)
    images = []
    for k in frames:
        canvas.restore_region(background)
        for P, line, head in moving:
            j = min(int(k), len(P) - 1)
            line.set_data(P[: j + 1, 0], P[: j + 1, 1])
            head.set_data(P[j : j + 1, 0], P[j : j + 1, 1])
            ax.draw_artist(line)
            ax.draw_artist(head)
        text.set_text(f"epoch {k}")
        ax.draw_artist(text)
        images.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy()))
    images[0].save(str(path), save_all=True, append_images=images[1:], duration=max(1, round(1000 / fps)), loop=0)
    return path


def check_fps(fps):
    if not (isinstance(fps, (int, float)) and not isinstance(fps, bool) and 0 < fps <= 100):
        raise ParameterError(f"fps must be a number in (0, 100]; got {fps!r}.")
    return fps


def _rate_fit(gap):
    """Least-squares slope of log(gap) against epoch over the positive finite part: per-epoch factor."""
    t = np.arange(len(gap))
    ok = np.isfinite(gap) & (gap > 0)
    if ok.sum() < 2:
        return None
    slope = np.polyfit(t[ok], np.log(gap[ok]), 1)[0]
    return float(np.exp(slope))


def convergence(results, best=None, ax=None, title: str | None = None):
    """The convergence-rate view: loss minus the best loss, on a log scale, against epoch.

    ``best`` is the floor to subtract (say 0 for the lecture, or a landscape's ``min_value``);
    by default the lowest loss any of the runs reached. A straight line is linear convergence:
    each legend entry prints the fitted factor ρ per epoch (a least-squares line through
    log(loss - best); when ``best`` is estimated, the last points close to it are left out of
    the fit, since there the gap measures the estimate's error rather than the rate).
    """
    runs = _as_list(results)
    if ax is None:
        fig, axes = _figure()
        ax = axes[0, 0]
    else:
        fig = ax.figure
    estimated = best is None
    if estimated:
        finite = [np.nanmin(np.where(np.isfinite(r.history.epoch_loss), r.history.epoch_loss, np.nan))
                  for r in runs if np.any(np.isfinite(r.history.epoch_loss))]
        best = float(min(finite)) if finite else 0.0
    gaps = [np.asarray(r.history.epoch_loss, dtype=np.float64) - best for r in runs]
    positive = np.concatenate([g[np.isfinite(g) & (g > 0)] for g in gaps]) if gaps else np.zeros(0)
    floor = 10 * positive.min() if (estimated and len(positive)) else 0.0
    for i, (res, gap) in enumerate(zip(runs, gaps)):
        L = gap + best
        fit = np.where(gap < floor, np.nan, gap)
        rate = _rate_fit(fit)
        x = np.arange(len(L))
        shown = np.where(gap > 0, gap, np.nan)
        label = method_label(res)
        label += f": ρ = {rate:.4g} per epoch" if rate is not None else ": no rate (too few points)"
        ax.plot(x, shown, color=f"C{i % 10}", linewidth=2, label=label, gid="gap")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"loss - best ({best:.4g})")
    ax.set_title(title or "Convergence rate: a straight line is linear convergence")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def basins(objective, census, bounds=None, levels=30, log=None, title: str | None = None):
    """The basins of attraction from :func:`descend.diagnose.basins`: every start coloured by the point
    its run reached (diverged starts in grey), the reached points and known special points marked."""
    fig, ax, _ = _landscape_axes(objective, bounds if bounds is not None else None, levels, log, None, 201,
                                 title or f"{getattr(objective, 'name', 'objective')}: where gradient descent "
                                          f"ends from {len(census.starts)} starts", kinds=("minima", "local_minima"))
    reached = np.flatnonzero(census.counts)
    for n, j in enumerate(reached):
        sel = census.labels == j
        p = census.points[j]
        label = f"→ ({p[0]:.3g}, {p[1]:.3g}): {census.counts[j]}" if len(reached) <= 8 else (
            f"{len(reached)} different end points" if n == 0 else "_nolegend_")
        ax.plot(census.starts[sel, 0], census.starts[sel, 1], linestyle="none", marker="o", markersize=5,
                color=f"C{(j + 1) % 10}", markeredgecolor="black", markeredgewidth=0.4, gid="basin", label=label)
    if census.diverged:
        sel = census.labels < 0
        ax.plot(census.starts[sel, 0], census.starts[sel, 1], linestyle="none", marker="o", markersize=5,
                color="grey", gid="basin", label=f"diverged: {census.diverged}")
    ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    return fig
