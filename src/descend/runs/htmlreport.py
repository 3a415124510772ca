"""One self-contained HTML report of stored runs (``descend report ID [ID...] --out report.html``).

Everything is in the one file: styles inline, figures drawn by matplotlib and embedded as
base64 PNG, no script, no external link. Per run: the configuration, the verdict and its
message, the full-data loss per epoch raw and smoothed, the batch loss per step raw and
smoothed, and the learning rate and gradient norm per step. For several runs, first a
comparison table and their loss curves on one figure.
"""

from __future__ import annotations

import base64
import html
import io
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import StoreError
from .export import hparams
from .recorder import step_positions

__all__ = ["write_report", "render"]

MAX_POINTS = 20_000  # per-step curves longer than this are drawn from every k-th step (said on the figure)
SMOOTH = 0.6

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1100px;
       color: #1d232a; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccd; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 13px; }
th, td { border: 1px solid #d4d8de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f1f3f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { padding: .6em .9em; border-radius: 6px; background: #eef4ff; border-left: 5px solid #3b6fd8; }
.verdict.bad { background: #fff0f0; border-left-color: #c73a3a; }
.verdict.warn { background: #fff8e6; border-left-color: #d89b1d; }
figure { margin: .8em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #e3e6ea; }
figcaption { color: #5b6570; font-size: 12px; } .muted { color: #5b6570; }
"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig, alt, caption) -> str:
    return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{_png(fig)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.6g}"
    return str(v)


def _time(t) -> str:
    return "-" if t is None else datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _logy(values) -> bool:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(len(v) and v.min() > 0 and v.max() / v.min() > 100)


def _stride(n) -> int:
    return max(1, math.ceil(n / MAX_POINTS))


def _step_figures(res):
    """(batch loss raw + smoothed, learning rate and gradient norm) per step."""
    from matplotlib.figure import Figure

    from ..diagnose import smooth

    h = res.history
    loss, gnorm, lr = h.step_loss, h.grad_norm, h.lr
    k = _stride(len(loss))
    x = step_positions(h)[::k]
    note = "" if k == 1 else f" (every {k}th of {len(loss):,} records drawn)"
    if getattr(h, "aggregated", False):
        note += " (past the history's cap: bucket means)"
    fig = Figure(figsize=(7.2, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.plot(x, loss[::k], color="C0", alpha=0.3, linewidth=1, label="batch loss (raw)")
    ax.plot(x, smooth(loss[::k], SMOOTH), color="C0", linewidth=2, label=f"smoothed {SMOOTH:g}")
    if _logy(loss):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("batch loss")
    ax.set_title("Batch loss per step" + note)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    steps_fig = fig

    fig = Figure(figsize=(7.2, 4.4), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.plot(x, lr[::k], color="C2", linewidth=1.5)
    ax1.set_ylabel("learning rate")
    ax1.set_title("Learning rate and gradient norm per step" + note)
    ax1.grid(True, alpha=0.3)
    ax2.plot(x, gnorm[::k], color="C3", alpha=0.35, linewidth=1, label="raw")
    ax2.plot(x, smooth(gnorm[::k], SMOOTH), color="C3", linewidth=2, label=f"smoothed {SMOOTH:g}")
    if _logy(gnorm):
        ax2.set_yscale("log")
    ax2.set_ylabel("batch gradient norm")
    ax2.set_xlabel("step")
    ax2.grid(True, alpha=0.3)
    ax2.legend(fontsize="small")
    return steps_fig, fig


def _table(rows, head=None, num=()) -> str:
    out = ["<table>"]
    if head:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in head) + "</tr>")
    for r in rows:
        out.append("<tr>" + "".join(
            f'<td class="num">{html.escape(_fmt(c))}</td>' if i in num else f"<td>{html.escape(_fmt(c))}</td>"
            for i, c in enumerate(r)) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _verdict_class(res) -> str:
    if res.status in ("diverged", "interrupted") or res.verdict in ("diverged",):
        return "verdict bad"
    if res.verdict in ("oscillating", "too_slow", "stalled") or res.status in ("stopped", "running"):
        return "verdict warn"
    return "verdict"


def _summary_row(res):
    opt = res.config.get("optimizer", {}) or {}
    lr = (opt.get("params") or {}).get("lr")
    lr = lr if isinstance(lr, (int, float)) else res.config.get("schedule", "schedule")
    b = res.batch_size
    return [res.id, res.name or "-", res.status, res.verdict or "-", opt.get("name", "-"), lr,
            "full" if b is None else b, res.epochs, res.steps, float(res.loss), float(res.best_loss),
            res.wall_time]


SUMMARY_HEAD = ["id", "name", "status", "verdict", "optimizer", "lr", "batch", "epochs", "steps", "final loss",
                "best loss", "time (s)"]


def _run_section(res) -> str:
    from .. import plot

    h = res.history
    parts = [f'<h2 id="run-{res.id}">Run {res.id}' + (f": {html.escape(res.name)}" if res.name else "") + "</h2>",
             f'<p class="muted">{html.escape(res.kind)} · created {_time(res.created)} · finished '
             f"{_time(res.finished)} · backend {html.escape(str(res.backend or '-'))}</p>",
             f'<div class="{_verdict_class(res)}"><b>status {html.escape(res.status)}, verdict '
             f"{html.escape(res.verdict or '-')}</b><br>{html.escape(res.message or '')}</div>",
             _table([_summary_row(res)], SUMMARY_HEAD, num=(7, 8, 9, 10, 11))]
    if len(h):
        fig = plot.loss_curve(res, smooth=SMOOTH, logy=_logy(h.epoch_loss),
                              title=f"Run {res.id}: full-data loss per epoch")
        parts.append(_img(fig, f"loss per epoch of run {res.id}",
                          f"Full-data loss at each epoch boundary: raw (faint) and smoothed (solid, "
                          f"TensorBoard's EMA, weight {SMOOTH:g})."))
    if len(h.step_loss):
        steps_fig, lr_fig = _step_figures(res)
        parts.append(_img(steps_fig, f"batch loss per step of run {res.id}",
                          "The loss of each step's batch before its update, raw and smoothed."))
        parts.append(_img(lr_fig, f"learning rate and gradient norm of run {res.id}",
                          "The learning rate each step used, and the norm of its batch gradient."))
    parts.append("<h3>Configuration</h3>")
    parts.append(_table(sorted(hparams(res).items()), ["setting", "value"]))
    return "\n".join(parts)


def render(runs) -> str:
    """The HTML text of a report on ``runs`` (StoredResults)."""
    from .. import plot

    title = "descend report: " + ", ".join(f"run {r.id}" for r in runs)
    body = [f"<h1>{html.escape(title)}</h1>",
            f'<p class="muted">Written {_time(datetime.now(tz=timezone.utc).timestamp())} from the run store. '
            f"Losses are the lecture's mean squared error (not halved) or binary cross-entropy.</p>"]
    if len(runs) > 1:
        body.append("<h2>Comparison</h2>")
        body.append(_table([_summary_row(r) for r in runs], SUMMARY_HEAD, num=(7, 8, 9, 10, 11)))
        with_epochs = [r for r in runs if len(r.history)]
        if with_epochs:
            for r in with_epochs:
                r.label = f"run {r.id}" + (f": {r.name}" if r.name else "")
            fig = plot.loss_curve(with_epochs, smooth=SMOOTH,
                                  logy=_logy(np.concatenate([r.history.epoch_loss for r in with_epochs])),
                                  title="Full-data loss per epoch, every run")
            body.append(_img(fig, "loss per epoch of every run", "Every run's full-data loss per epoch, raw "
                                                                "(faint) and smoothed (solid)."))
    for r in runs:
        body.append(_run_section(r))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_report(store, ids, out) -> Path:
    """Write the report of runs ``ids`` of ``store`` to ``out`` (one HTML file); return its path."""
    ids = list(ids)
    if not ids:
        raise StoreError("give at least one run id to report on (`descend runs list` shows them).")
    runs = [store.load(i) for i in ids]  # every id checked before anything is written
    out = Path(out)
    if out.is_dir():
        raise StoreError(f"{out}: is a folder; give the report's file name, e.g. report.html.")
    text = render(runs)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
