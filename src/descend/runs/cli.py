"""The command line of the run store: ``--record`` on fit, compare and lr-find, ``fit --resume``,
``descend runs list|show|rm|export`` and ``descend report``. Parse, call the store, render."""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np

from ..errors import ParameterError, StoreError

__all__ = ["record_options", "Recording", "register", "runs_group", "report_command", "lr_find_result",
           "lr_find_config", "record_compare"]

DEFAULT_FOLDER = "descend-runs"
DISPLAY_ONLY = {"plot_path", "as_json", "quiet", "out_path"}  # options that do not change a run


def _runs_option(f):
    return click.option("--runs", "runs_dir", default=DEFAULT_FOLDER, show_default=True, envvar="DESCEND_RUNS",
                        type=click.Path(), help="The run store folder (env DESCEND_RUNS).")(f)


@dataclass
class Recording:
    """What ``--record``, ``--runs``, ``--name`` and ``--resume`` asked for, handed to the command."""

    enabled: bool = False
    folder: str = DEFAULT_FOLDER
    name: str = ""
    resume: int | None = None
    command: str = ""
    args: dict = field(default_factory=dict)
    checkpoint: dict | None = None
    ids: list = field(default_factory=list)

    @property
    def store(self):
        from .store import Store

        return Store(self.folder)

    def _config(self, **extra):
        return {"cli": {"command": self.command, "args": self.args}, **extra}

    def callbacks(self, **config) -> list:
        """[a recorder] when recording (or continuing a stored run), else []."""
        if not self.enabled:
            return []
        rec = self.store.recorder(name=self.name, config=self._config(**config), resume=self.resume,
                                  kind=self.command)
        self._recorder = rec
        return [rec]

    def save(self, result, source=None, kind=None, **config) -> int | None:
        """Record a finished result (``source``: its objective, described in the configuration)."""
        if not self.enabled:
            return None
        rid = self.store.save(result, name=self.name or result.label, objective=source,
                              config=self._config(**config), kind=kind or self.command)
        self.ids.append(rid)
        return rid

    def announce(self):
        """One line on stderr naming the recorded run(s) (stdout stays the command's own output)."""
        rec = getattr(self, "_recorder", None)
        if rec is not None and rec.run_id is not None:
            self.ids.append(rec.run_id)
        if self.ids:
            what = "continued run" if self.resume is not None else "recorded run"
            ids = ", ".join(map(str, self.ids))
            click.echo(f"{what}{'s' if len(self.ids) > 1 else ''} {ids} in {self.folder}", err=True)


def _flag(ctx, name) -> str:
    for p in ctx.command.params:
        if p.name == name:
            if isinstance(p, click.Argument):
                return p.human_readable_name  # DATA
            return max(p.opts, key=len) if p.opts else name
    return name


def _given(ctx, name) -> bool:
    src = ctx.get_parameter_source(name)
    return src is not None and src.name in ("COMMANDLINE", "ENVIRONMENT")


def _resume_args(ctx, spec: Recording, kwargs: dict) -> dict:
    """The stored command line of run ``spec.resume``, with the user's --epochs; the checkpoint in ``spec``."""
    res = spec.store.load(spec.resume)
    cli = res.config.get("cli") or {}
    if cli.get("command") != spec.command or not cli.get("args"):
        raise StoreError(f"run {res.id} was not recorded by `descend {spec.command}`; resume it from Python with "
                         f"minimize(..., resume=store.load({res.id}).checkpoint).")
    if res.status == "running":
        raise StoreError(f"run {res.id} is still being recorded by a live process; resume it once that process "
                         f"has ended.")
    if not res.checkpoint:
        raise StoreError(f"run {res.id} has no checkpoint to resume from.")
    stored = cli["args"]
    for key, value in stored.items():
        if key in DISPLAY_ONLY or key == "epochs" or key not in kwargs:
            continue
        given = kwargs[key]
        if key == "data" and given is not None:
            given = str(Path(given).resolve())  # the run keeps the absolute path
        pairs = ([(k, given.get(k), value.get(k)) for k in given] if isinstance(given, dict) and
                 isinstance(value, dict) else [(key, given, value)])  # options grouped into one dict
        for name, now, then in pairs:
            if _given(ctx, name) and now != then:
                raise ParameterError(f"--resume {res.id} continues the run with its own settings; {_flag(ctx, name)} "
                                     f"{now} differs from its {then!r} (start a new run instead).")
        kwargs[key] = value
    if "epochs" in kwargs:
        if not _given(ctx, "epochs"):
            kwargs["epochs"] = stored.get("epochs", kwargs["epochs"])
        done = int(res.checkpoint.get("epoch", 0))
        if kwargs["epochs"] <= done:
            raise ParameterError(f"run {res.id} already has {done} epochs; give --epochs more than {done} to "
                                 f"continue it.")
    spec.checkpoint = res.checkpoint
    return kwargs


def record_options(command: str, resume: bool = False):
    """Add ``--record``, ``--runs DIR``, ``--name N`` (and ``--resume ID``) to a command; the command
    receives them as one ``record`` argument, a :class:`Recording`."""
    def deco(f):
        @functools.wraps(f)
        def wrapper(*pos, record_flag, runs_dir, run_name, resume_id=None, **kwargs):
            ctx = click.get_current_context()
            spec = Recording(enabled=bool(record_flag) or resume_id is not None, folder=runs_dir,
                             name=run_name or "", resume=resume_id, command=command)
            if resume_id is not None:
                kwargs = _resume_args(ctx, spec, kwargs)
            elif resume and (kwargs.get("data") is None or kwargs.get("target") is None):
                raise ParameterError(f"{command} needs DATA and --target COLUMN (or --resume ID to continue a "
                                     f"stored run).")
            args = {k: v for k, v in kwargs.items() if k not in DISPLAY_ONLY}
            if args.get("data") is not None:
                args["data"] = str(Path(args["data"]).resolve())
            spec.args = args
            try:
                return f(*pos, record=spec, **kwargs)
            finally:  # also after Ctrl-C: the run was recorded up to where it stopped
                spec.announce()

        opts = [click.option("--record", "record_flag", is_flag=True, help="Keep this run in the run store."),
                _runs_option,
                click.option("--name", "run_name", default=None, help="A name for the recorded run.")]
        if resume:
            opts.append(click.option("--resume", "resume_id", type=int, default=None,
                                     help="Continue stored run ID (its own settings, up to --epochs)."))
        for opt in reversed(opts):
            wrapper = opt(wrapper)
        return wrapper

    return deco


# ------------------------------------------------------------------------------- lr-find, compare


def lr_find_result(res, objective, seed=0, label=""):
    """An lr-find range test as a Result: one boundary (the start), one step record per rate tried
    (the loss after that step, the rate; no gradient norm)."""
    from ..loop import History, Result

    h = History()
    w0 = np.zeros(objective.n_params)
    h.add_boundary(res.start_loss, math.nan, w0, 0.0, 0, 0)
    n = len(res.lrs)
    h.add_steps(np.asarray(res.losses, float)[:n], np.full(n, math.nan), np.asarray(res.lrs, float), 0)
    return Result(w=w0, loss=float(res.start_loss), status="stopped" if res.stopped_early else "max_epochs",
                  message=res.message, history=h, epochs=0, steps=n, optimizer=res.optimizer,
                  batch_size=res.batch_size, seed=seed, wall_time=0.0, checkpoint={}, label=label,
                  verdict="lr-find")


def lr_find_config(res) -> dict:
    return {"lr_find": {"suggestion": res.suggestion, "valley": res.suggestion_valley,
                        "steepest": res.suggestion_steepest, "stable_lr": res.stable_lr,
                        "stopped_early": res.stopped_early,
                        "step_loss": "the full batch or batch loss after each step of the ramp"}}


def record_compare(X, y, bias) -> dict:
    from .recorder import describe_data

    X = np.asarray(X)
    return {"objective": {"kind": "LinearRegression", "n_params": int(X.shape[1]) + bool(bias),
                          "n_samples": int(len(y)), "bias": bool(bias)},
            "data": describe_data(X, y)}


# ------------------------------------------------------------------------------------ commands


def _console():
    from ..cli import _console as console

    return console()


def _when(t) -> str:
    from datetime import datetime

    return "-" if t is None else datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def _num(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.6g}"


@click.group("runs")
def runs_group():
    """The run store: list, show, remove and export recorded runs."""


@runs_group.command("list")
@_runs_option
@click.option("--name", default=None, help="Only runs with this name (a glob: exp*).")
@click.option("--status", default=None, help="Only these statuses, comma-separated (max_epochs,diverged,...).")
@click.option("--since", default=None, help="Only runs created on or after this date/time (2026-11-29).")
@click.option("--until", default=None, help="Only runs created before this date/time.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable list.")
def list_command(runs_dir, name, status, since, until, as_json):
    """The recorded runs, newest first."""
    from .store import Store

    runs = Store(runs_dir).list(name=name, status=status, since=since, until=until)
    if as_json:
        click.echo(json.dumps([{"id": r.id, "name": r.name, "kind": r.kind, "status": r.status, "verdict": r.verdict,
                                "created": r.created, "finished": r.finished, "epochs": r.epochs, "steps": r.steps,
                                "loss": None if math.isnan(r.loss) else r.loss} for r in runs]))
        return
    from ..cli import _table

    rows = [(r.id, r.name or "-", r.kind, r.status, r.verdict or "-", _when(r.created), r.epochs, r.steps,
             _num(r.loss)) for r in runs]
    _console().print(_table(f"{len(runs)} run{'s' if len(runs) != 1 else ''} in {runs_dir}",
                            ["id", "name", "kind", "status", "verdict", "created", "epochs", "steps", "loss"], rows))


@runs_group.command("show")
@click.argument("run_id")
@_runs_option
@click.option("--json", "as_json", is_flag=True, help="Print the run's record as JSON.")
def show_command(run_id, runs_dir, as_json):
    """One run: configuration, verdict and message, and its epoch records."""
    from .export import hparams
    from .store import Store

    res = Store(runs_dir).load(run_id)
    h = res.history
    if as_json:
        click.echo(json.dumps({"id": res.id, "name": res.name, "kind": res.kind, "status": res.status,
                               "verdict": res.verdict, "message": res.message, "config": res.config,
                               "epochs": res.epochs, "steps": res.steps, "w": res.w.tolist(),
                               "loss": None if math.isnan(res.loss) else res.loss,
                               "epoch_loss": [None if not math.isfinite(x) else x for x in h.epoch_loss_list]}))
        return
    from ..cli import _table

    con = _console()
    con.print(f"run {res.id}" + (f" ({res.name})" if res.name else "") + f": {res.kind}, status {res.status}, "
              f"verdict {res.verdict or '-'}; created {_when(res.created)}, finished {_when(res.finished)}")
    con.print(res.message)
    con.print(_table("configuration", ["setting", "value"], sorted((k, str(v)) for k, v in hparams(res).items())))
    first = res.epochs - (len(h) - 1) if len(h) else 0
    idx = list(range(len(h)))
    if len(idx) > 12:
        idx = idx[:6] + idx[-6:]
    con.print(_table(f"{len(h)} epoch records" + (" (first and last 6)" if len(h) > 12 else ""),
                     ["epoch", "loss", "grad norm", "steps", "samples", "time (s)"],
                     [(first + i, _num(h.epoch_loss_list[i]), _num(h.epoch_grad_norm_list[i]), h.epoch_step_list[i],
                       h.epoch_samples_list[i], f"{h.epoch_time_list[i]:.4f}") for i in idx]))
    con.print(f"weights: {np.array2string(res.w, precision=6, max_line_width=160)}")


@runs_group.command("rm")
@click.argument("run_ids", nargs=-1, required=True)
@_runs_option
def rm_command(run_ids, runs_dir):
    """Remove runs and all their records."""
    from .store import Store, check_id

    store = Store(runs_dir)
    ids = [check_id(i) for i in run_ids]
    for i in ids:
        store.info(i)  # every id checked before anything is removed
    for i in ids:
        store.delete(i)
    click.echo(f"removed run{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))} from {runs_dir}")


@runs_group.command("export")
@click.argument("run_ids", nargs=-1, required=True)
@_runs_option
@click.option("--tensorboard", "tb_dir", default=None, type=click.Path(), help="Write TensorBoard event files here.")
@click.option("--csv", "csv_dir", default=None, type=click.Path(), help="Write Lightning-style metrics.csv here.")
def export_command(run_ids, runs_dir, tb_dir, csv_dir):
    """Export runs for TensorBoard (--tensorboard DIR) or as CSV (--csv DIR), one subfolder per run."""
    from .store import Store

    if tb_dir is None and csv_dir is None:
        raise ParameterError("runs export needs --tensorboard DIR or --csv DIR (or both).")
    store = Store(runs_dir)
    written = []
    if tb_dir is not None:
        written += store.export_tensorboard(list(run_ids), tb_dir)
    if csv_dir is not None:
        written += store.export_csv(list(run_ids), csv_dir)
    for p in written:
        click.echo(f"wrote {p}")
    if tb_dir is not None:
        click.echo(f"view with: tensorboard --logdir {tb_dir}")


@click.command("report")
@click.argument("run_ids", nargs=-1, required=True)
@_runs_option
@click.option("--out", "out_path", default="report.html", show_default=True, type=click.Path(),
              help="The HTML file to write.")
def report_command(run_ids, runs_dir, out_path):
    """One self-contained HTML report of runs: configuration, verdict, loss, learning rate, gradient norm."""
    from .htmlreport import write_report
    from .store import Store

    path = write_report(Store(runs_dir), list(run_ids), out_path)
    click.echo(f"wrote {path}")


def register(cli):
    """Add ``runs`` and ``report`` to the ``descend`` command group."""
    cli.add_command(runs_group)
    cli.add_command(report_command)
