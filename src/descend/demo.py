"""The lecture in one call: what ``descend demo`` computes and draws (the CLI only renders it)."""

from __future__ import annotations

from pathlib import Path


from . import datasets, optim, search
from .loop import minimize
from .objectives import LinearRegression

W0, LR, EPOCHS, LR_HIGH = 1.0, 0.01, 100, 0.2


def lecture_runs(lr=LR, epochs=EPOCHS):
    """GD, SGD and mini-batch (2 rows) on the lecture's data in its sequential order, from w = 1."""
    X, y = datasets.lecture()
    obj = LinearRegression(X, y, bias=False)
    runs = {}
    for label, b in (("GD (full batch)", None), ("SGD (1 row)", 1), ("mini-batch (2 rows)", 2)):
        runs[label] = minimize(obj, [W0], optimizer=optim.SGD(lr=lr), batch_size=b, epochs=epochs,
                               shuffle=False, label=label)
    return obj, runs


def run(out_dir: Path) -> dict:
    """Compute the lecture's searches and runs, write its figures into ``out_dir``; return rows and paths."""
    from . import plot

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    obj, runs = lecture_runs()
    diverged = minimize(obj, [W0], optimizer=optim.SGD(lr=LR_HIGH), batch_size=None, epochs=EPOCHS,
                        shuffle=False, label=f"GD at lr = {LR_HIGH}")
    brute = search.grid(obj, bounds=[(0.0, 4.0)], num=41)
    X, y = datasets.lecture()
    obj2 = LinearRegression(X, y, bias=True)
    conquer = search.refine(obj2, bounds=[(-10.0, 10.0), (-10.0, 10.0)], num=11, rounds=6)

    files = []

    def save(fig, name):
        path = out_dir / name
        fig.savefig(path, dpi=100)
        files.append(str(path))

    save(plot.cost_curve(brute, title="Brute force: cost(w) = 7.5 (w - 2)^2 on a grid of 41 points"), "cost_curve.png")
    save(plot.cost_curve(conquer, title="Divide and conquer over (w, b): 6 rounds of 11 x 11"), "divide_and_conquer.png")
    save(plot.loss_curve(list(runs.values()), smooth=0.6, logy=True,
                         title="GD, SGD and mini-batch at lr = 0.01 (raw faint, smoothed solid)"), "loss_curves.png")
    save(plot.loss_curve(diverged, smooth=0.6, logy=True, title=f"Too high a learning rate: lr = {LR_HIGH}"),
         "diverged.png")

    rows = [("brute force (grid)", "-", f"{brute.w[0]:.6g}", f"{brute.loss:.3g}", "-",
             f"{brute.evaluations} evaluations"),
            ("divide & conquer (w, b)", "-", f"{conquer.w[0]:.6g}, b={conquer.w[1]:.2g}", f"{conquer.loss:.3g}",
             "-", f"{conquer.evaluations} evaluations")]
    for label, res in [*runs.items(), (diverged.label, diverged)]:
        rows.append((label, f"{res.optimizer.lr:g}", f"{res.w[0]:.10g}", f"{res.loss:.3g}", str(res.epochs),
                     f"{res.status} ({res.verdict})" if res.verdict != res.status else res.status))
    notes = [
        "cost(w) = 7.5 (w - 2)^2: full-batch GD multiplies (w - 2) by 1 - 15 lr = 0.85 per epoch;",
        f"above lr = 2/15 = {2 / 15:.4f} it diverges. {diverged.message}",
    ]
    pictures = landscape_pictures(out_dir)
    files.extend(pictures["files"])
    notes.extend(pictures["notes"])
    comparison = lecture_comparison()
    save(plot.compare(comparison), "compare.png")
    return {"rows": rows, "notes": notes, "files": files, "runs": runs, "diverged": diverged,
            "grid": brute, "refine": conquer, "saddle": pictures["saddle"], "basins": pictures["basins"],
            "comparison": comparison}


def lecture_comparison():
    """The lecture's trade-off on its own data: GD, SGD and mini-batch at lr = 0.01, in its order,
    measured against epochs, samples, steps and time (see :func:`descend.compare`)."""
    from .compare import compare

    X, y = datasets.lecture()
    obj = LinearRegression(X, y, bias=False)
    runs = [dict(batch_size=b, optimizer="sgd", lr=LR, label=label)
            for label, b in (("GD (full batch)", None), ("SGD (1 row)", 1), ("mini-batch (2 rows)", 2))]
    return compare(obj, [W0], runs, epochs=EPOCHS, shuffle=False)


SADDLE_LR, SADDLE_EPOCHS, SADDLE_NUDGE = 0.1, 40, 0.01


def landscape_pictures(out_dir: Path) -> dict:
    """The lecture's two warnings about greedy descent, drawn: saddle points and local minima.

    saddle_point.png: full-batch GD on x^2 - y^2 started on the stable axis (y = 0) walks into the
    saddle at (0, 0) and stalls; the same start nudged by 0.01 in y escapes. local_minima.png:
    GD from a 10 x 10 grid of starts on Himmelblau's function falls into whichever of its four
    minima is downhill of the start.
    """
    from . import diagnose, functions, plot

    out_dir = Path(out_dir)
    f = functions.saddle
    stuck = minimize(f, [1.5, 0.0], optimizer=optim.SGD(lr=SADDLE_LR), epochs=SADDLE_EPOCHS,
                     label="GD from (1.5, 0): stalls at the saddle")
    nudged = minimize(f, [1.5, SADDLE_NUDGE], optimizer=optim.SGD(lr=SADDLE_LR), epochs=SADDLE_EPOCHS,
                      label=f"GD from (1.5, {SADDLE_NUDGE}): escapes")
    census = diagnose.basins(functions.himmelblau, starts=100, optimizer=optim.SGD(lr=0.01), epochs=200)
    files = []
    for fig, name in ((plot.landscape(f, [stuck, nudged], title="A saddle point: x^2 - y^2, GD at lr = 0.1"),
                       "saddle_point.png"),
                      (plot.basins(functions.himmelblau, census,
                                   title="Local minima: GD from 100 starts on Himmelblau's function"),
                       "local_minima.png")):
        path = out_dir / name
        fig.savefig(path, dpi=100)
        files.append(str(path))
    reached = len(census.reached)
    notes = [
        f"saddle x^2 - y^2: GD started on the axis y = 0 ends at ({stuck.w[0]:.2g}, {stuck.w[1]:.2g}) - {stuck.verdict}; "
        f"nudged by {SADDLE_NUDGE} in y it ends at ({nudged.w[0]:.3g}, {nudged.w[1]:.3g}) - escaped.",
        f"Himmelblau: GD from 100 starts reached {reached} different minima "
        f"({', '.join(str(int(c)) for c in census.counts[census.counts > 0])} starts each): greedy descent keeps "
        f"to the basin it starts in.",
    ]
    return {"files": files, "notes": notes, "saddle": (stuck, nudged), "basins": census}
