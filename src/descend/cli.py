"""The command line: parse, call the library, render. No math here.

Errors from the library become one ``error:`` line on stderr: exit 2 for usage errors
(bad arguments), 1 for data errors (unreadable or invalid data), 130 when interrupted
(Ctrl-C: what was computed is printed first), never a traceback. Every option is checked
before any work starts (numbers by :func:`descend.errors.check_number`, output files by
:func:`_check_out`), so a long run is never lost to a typo.

Commands are registered on the ``cli`` group; another module adds its own with
``cli.add_command(command)``. DATA is read in one place, :func:`read_data`.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from pathlib import Path

import click
import numpy as np

from . import optim, schedules
from .errors import MAX_SEED, DataError, DescendError, ParameterError, check_number
from .runs.cli import lr_find_config, lr_find_result, record_compare, record_options


class Interrupted(DescendError):
    """Ctrl-C stopped the work; what was computed has been printed (the CLI exits 130)."""


class Number(click.ParamType):
    """A command-line number checked by :func:`descend.errors.check_number`, naming the option."""

    def __init__(self, lo=-math.inf, hi=math.inf, lo_open=False, hi_open=False, integer=False):
        self.lo, self.hi, self.lo_open, self.hi_open, self.integer = lo, hi, lo_open, hi_open, integer
        self.name = "integer" if integer else "number"

    def convert(self, value, param, ctx):
        name = max(param.opts, key=len) if param is not None and param.opts else "value"
        v = value
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            text = str(value).strip()
            try:
                v = int(text) if self.integer and text.lstrip("+-").isdigit() else float(text)
            except ValueError:
                v = text
        return check_number(name, v, self.lo, self.hi, lo_open=self.lo_open, hi_open=self.hi_open,
                            integer=self.integer)


POSITIVE = Number(0, lo_open=True)
NONNEGATIVE = Number(0)
COUNT = Number(1, integer=True)
SEED = Number(0, MAX_SEED, integer=True)


def _console(stderr=False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 200  # pipes and logs: do not wrap tables at 80 columns
    return Console(file=stream, highlight=False, soft_wrap=True, width=width)


def _progress(quiet: bool, description: str):
    """A progress monitor (on stderr, after half a second) when stdout is a terminal and --quiet is off."""
    if quiet or not sys.stdout.isatty():
        return []
    from .monitors import Progress

    return [Progress(description)]


def _table(title, columns, rows):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c, justify="right" if c not in ("method", "status", "file", "column") else "left")
    for r in rows:
        table.add_row(*[str(x) for x in r])
    return table


def _strict(value):
    """``value`` with every non-finite float as None and NumPy scalars as Python ones: strict JSON."""
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return _strict(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _echo_json(obj):
    """Print strict JSON (RFC 8259): NaN and infinities become null."""
    click.echo(json.dumps(_strict(obj), allow_nan=False))


def _figure_formats():
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(FigureCanvasBase.get_supported_filetypes())


def _check_out(path, option, formats=None):
    """Check a file to write before any work starts: not a folder, its folder exists and is
    writable, and its extension is a format we can write (matplotlib's, or ``formats``)."""
    if path is None:
        return None
    p = Path(path)
    if p.is_dir():
        raise ParameterError(f"{option} {path}: is a folder; give a file name such as {p / 'figure.png'}.")
    parent = p.parent
    if not parent.exists():
        raise ParameterError(f"{option} {path}: the folder {parent} does not exist.")
    if not parent.is_dir():
        raise ParameterError(f"{option} {path}: {parent} is not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ParameterError(f"{option} {path}: cannot write there (permission denied).")
    known = _figure_formats() if formats is None else list(formats)
    suffix = p.suffix.lower().lstrip(".")
    if suffix not in known:
        what = f"unknown format {p.suffix!r}" if suffix else "no extension to say the format"
        raise ParameterError(f"{option} {path}: {what}; use one of {', '.join('.' + k for k in known)}.")
    return p


def _interrupted(res) -> bool:
    return res.status == "stopped" and res.reason.startswith("interrupted")


def _stop_if_interrupted(res):
    if _interrupted(res):
        raise Interrupted(f"{res.reason}; the result above is the best weights seen (loss {res.loss:.6g}).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="descend")
def cli():
    """descend: fit models by gradient descent and see why the fit works or fails."""


# ------------------------------------------------------------------------------------------ data


def read_data(data, target, features=None, *, labels: bool = False, memory=None, in_memory: bool = False):
    """The one reader of DATA for every command: a :class:`descend.datasets.Table` (X, y, feature
    names, target, and the mapping of the labels when ``labels``). A Parquet file, a folder, a
    glob, or any file given ``--memory`` is streamed instead: a table whose ``X`` is a source of
    :mod:`descend.data` (``y`` None), read whole only with ``in_memory`` (and within ``memory``)."""
    from . import datasets

    table = data_cli.open_table(data, target, _parse_features(features), memory, in_memory=in_memory)
    if table is not None:
        return table
    return datasets.load_csv(data, target, _parse_features(features), labels=labels)


def _memory_option(f):
    from .data.cli import memory_option

    return memory_option(f)


# ------------------------------------------------------------------------------------------ demo


@cli.command()
@click.option("--out", "out_dir", default="descend-out", show_default=True, type=click.Path(file_okay=False),
              help="Directory for the figures.")
@click.option("--quiet", is_flag=True, help="Print the table and the files, not the notes.")
def demo(out_dir, quiet):
    """The whole lecture on its own data: search, GD, SGD, mini-batch, divergence."""
    from . import demo as demo_mod

    report = demo_mod.run(Path(out_dir))
    con = _console()
    con.print(_table("The lecture: y = 2x fitted by y_hat = x*w, cost = mean squared error (w0 = 1, 100 epochs)",
                     ["method", "lr", "final w", "final cost", "epochs", "status"], report["rows"]))
    if not quiet:
        for line in report["notes"]:
            con.print(line)
    _print_comparison(con, "GD vs SGD vs mini-batch at lr = 0.01: the cost of reaching the target",
                      report["comparison"])
    con.print("wrote:")
    for path in report["files"]:
        con.print(f"  {path}")


# ------------------------------------------------------------------------------------------- fit


def _parse_features(features):
    if features is None:
        return None
    names = [f.strip() for f in features.split(",") if f.strip()]
    if not names:
        raise ParameterError("--features is empty; give comma-separated column names.")
    return names


def _optimizer_options(f):
    """--model, --optimizer and one option per optimizer hyper-parameter, all read from
    :mod:`descend.optim` (its ``CHOICES`` and constructor arguments); the command gets them as
    ``optimizer_params`` (None = not given)."""
    params = optim.hyper_parameters()
    opts = [
        click.option("--model", type=click.Choice(["linear", "logistic"]), default="linear", show_default=True,
                     help="linear: mean squared error; logistic: binary cross-entropy, labels 0/1, -1/1 or two "
                          "names."),
        click.option("--optimizer", "optimizer_name", type=click.Choice(optim.CHOICES, case_sensitive=False),
                     default="sgd", show_default=True, help="Update rule (PyTorch's equations and defaults)."),
    ]
    dests = []
    for name, (default, takers) in params.items():
        who = ", ".join(takers)
        if name == "betas":
            for k in (1, 2):
                opts.append(click.option(f"--beta{k}", f"beta{k}", type=Number(0, 1, hi_open=True), default=None,
                                         help=f"betas[{k - 1}] ({who})."))
                dests.append(f"beta{k}")
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            opts.append(click.option(flag, name, is_flag=True, default=None, help=f"Turn on {name} ({who})."))
        else:
            opts.append(click.option(flag, name, type=Number(), default=None,
                                     help=f"{name} ({who}; default: the optimizer's)."))
        dests.append(name)

    @functools.wraps(f)
    def wrapper(**kwargs):
        kwargs["optimizer_params"] = {d: kwargs.pop(d) for d in dests}
        return f(**kwargs)

    for opt in reversed(opts):
        wrapper = opt(wrapper)
    return wrapper


def _schedule_options(f):
    """--schedule and one option per schedule argument, from :data:`descend.schedules.OPTIONS`;
    the command gets them as ``schedule_params``."""
    opts = [click.option("--schedule", type=click.Choice(schedules.NAMES, case_sensitive=False), default="constant",
                         show_default=True, help="Learning-rate schedule over steps.")]
    for name, (flag, lo, lo_open, integer, help_) in schedules.OPTIONS.items():
        opts.append(click.option(flag, name, type=Number(lo, lo_open=lo_open, integer=integer), default=None,
                                 help=help_))

    @functools.wraps(f)
    def wrapper(**kwargs):
        kwargs["schedule_params"] = {k: kwargs.pop(k) for k in schedules.OPTIONS}
        return f(**kwargs)

    for opt in reversed(opts):
        wrapper = opt(wrapper)
    return wrapper


def _objective(model, X, y, bias):
    from .objectives import LinearRegression, LogisticRegression

    return (LogisticRegression if model == "logistic" else LinearRegression)(X, y, bias=bias)


def _check_batch(batch_size, n_rows):
    if batch_size is not None and batch_size > n_rows:
        raise ParameterError(f"--batch-size {batch_size} is larger than the number of rows ({n_rows}).")


@cli.command()
@click.argument("data", required=False, type=click.Path(dir_okay=True))
@click.option("--target", default=None, help="The column to predict (required).")
@click.option("--features", default=None, help="Comma-separated feature columns (default: all but the target).")
@_optimizer_options
@_schedule_options
@click.option("--batch-size", default=None, type=COUNT, help="Rows per step: 1 = SGD, k = mini-batch; default full batch.")
@click.option("--lr", default=0.01, show_default=True, type=POSITIVE, help="Learning rate.")
@click.option("--epochs", default=100, show_default=True, type=COUNT, help="Passes over the data.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the row order.")
@click.option("--no-shuffle", is_flag=True, help="Visit rows in file order every epoch.")
@click.option("--no-bias", is_flag=True, help="Fit without an intercept.")
@click.option("--tol", default=None, type=POSITIVE, help="Stop when the full-data gradient norm is below this.")
@click.option("--plot", "plot_path", default=None, help="Write the loss curve here (.png, .svg, .pdf, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result (strict JSON).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_memory_option
@record_options("fit", resume=True)
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Fit on this Dask cluster: DATA is Parquet (file, folder or glob) read there by dask.dataframe.")
@click.option("--dask", "dask_local", default=None, metavar="local:N",
              help="Fit on a Dask LocalCluster of N worker processes started here (DATA is Parquet).")
def fit(data, target, features, model, optimizer_name, optimizer_params, schedule, schedule_params, batch_size, lr,
        epochs, seed, no_shuffle, no_bias, tol, plot_path, as_json, quiet, memory, record, scheduler, dask_local):
    """Fit a linear (or logistic) regression to DATA by gradient descent.

    DATA: a CSV file (plain or gzip), or streamed in chunks: a Parquet file, a folder of them or a
    glob (shuffled by blocks), or any file with --memory; with --scheduler or --dask, Parquet
    read by dask.dataframe on a Dask cluster, where every pass runs.
    """
    import contextlib

    from .loop import minimize

    _check_out(plot_path, "--plot")
    sched = schedules.from_name(schedule, lr, **schedule_params)
    opt = optim.from_options(optimizer_name, sched, **optimizer_params)
    cluster = _dask_cluster(scheduler, dask_local)
    with cluster if cluster is not None else contextlib.nullcontext() as client:
        if cluster is not None:  # Parquet read by dask.dataframe on the cluster; every pass runs there
            from .engines.dask import read_parquet

            src = read_parquet(data, target, _parse_features(features), client=client)
            table = None
            names, n_rows, source = src.feature_names, src.n_rows, None
            obj = _objective(model, src, None, not no_bias)
        else:
            table = read_data(data, target, features, labels=model == "logistic", memory=memory)
            names, n_rows, source = table.features, table.n_rows, getattr(table, "source", None)
            obj = _objective(model, table.X, table.y, not no_bias)
        _check_batch(batch_size, n_rows)
        res = minimize(obj, np.zeros(obj.n_params), optimizer=opt, batch_size=batch_size,
                       epochs=epochs, shuffle=data_cli.shuffle_for(source, no_shuffle), seed=seed, tol=tol,
                       callbacks=_progress(quiet or as_json or source is not None, f"fit {Path(data).name}")
                       + data_cli.progress_for(source, quiet or as_json, f"fit {Path(data).name}")
                       + record.callbacks(),
                       resume=record.checkpoint)
    params = dict(zip([*names, *(["bias"] if not no_bias else [])], map(float, res.w)))
    classes = None if table is None else table.classes
    if as_json:
        out = {"weights": params, "loss": res.loss, "status": res.status, "message": res.message,
               "epochs": res.epochs, "steps": res.steps, "epoch_loss": res.history.epoch_loss.tolist()}
        if classes is not None:
            out["labels"] = {str(c): i for i, c in enumerate(classes)}
        _echo_json(out)
    else:
        con = _console()
        if classes is not None:
            con.print(table.labels_note())
        con.print(_table(f"{Path(data).name}: {target} ~ {model} model", ["column", "weight"],
                         [(k, f"{v:.6g}") for k, v in params.items()]))
        con.print(f"final loss ({'binary cross-entropy' if model == 'logistic' else 'mean squared error'}): "
                  f"{res.loss:.6g}")
        con.print(f"optimizer: {opt!r}")
        con.print(f"status: {res.status}")
        con.print(res.message)
    if plot_path:  # after the result is printed: a failing write cannot lose it
        from . import plot

        plot.loss_curve(res, logy=True).savefig(plot_path, dpi=110)
        if not as_json:
            _console().print(f"wrote {plot_path}")
    _stop_if_interrupted(res)


def _dask_cluster(scheduler, dask_local):
    """The Dask connection of --scheduler / --dask local:N (a context manager), or None."""
    if scheduler is None and dask_local is None:
        return None
    if scheduler is not None and dask_local is not None:
        raise click.UsageError("give either --scheduler or --dask, not both.")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise click.UsageError("fitting on Dask needs dask and distributed: pip install 'descend[dask]'.") from None
    from .engines.dask import connect

    if scheduler is not None:
        return connect(scheduler=scheduler)
    kind, _, count = dask_local.partition(":")
    if kind != "local" or not count.isdigit() or int(count) < 1:
        raise click.UsageError(f"--dask takes local:N with N >= 1 worker processes; got {dask_local!r}.")
    return connect(local=int(count))

from .runs.cli import register as _register_runs  # noqa: E402  `descend runs ...` and `descend report`

_register_runs(cli)

# ------------------------------------------------------------------------------------------ main


def main(argv=None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 data error, 2 usage error, 130 interrupted)."""
    try:
        cli.main(args=argv, prog_name="descend", standalone_mode=False)
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:  # bare `descend`: help
            click.echo(exc.ctx.get_help())
            return 0
        click.echo(f"error: {_one_line(exc.format_message())}", err=True)
        return 2
    except (click.Abort, KeyboardInterrupt):
        click.echo("error: interrupted.", err=True)
        return 130
    except Interrupted as exc:
        click.echo(f"error: {exc}", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"error: {_one_line(exc.format_message())}", err=True)
        return exc.exit_code or 1
    except DataError as exc:
        click.echo(f"error: {_one_line(str(exc))}", err=True)
        return 1
    except (ParameterError, DescendError) as exc:
        click.echo(f"error: {_one_line(str(exc))}", err=True)
        return 2
    except MemoryError:
        click.echo("error: out of memory; try a smaller file, fewer columns or a smaller grid.", err=True)
        return 1
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"error: {where}{exc.strerror or exc}", err=True)
        return 1
    except Exception as exc:  # a bug: still one line, but say that it is ours
        if os.environ.get("DESCEND_DEBUG"):
            raise
        click.echo(f"error: internal error ({type(exc).__name__}: {_one_line(str(exc))}); this is a bug in "
                   f"descend, please report it (DESCEND_DEBUG=1 shows the traceback).", err=True)
        return 1
    return 0


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# --------------------------------------------------------------------------------------- compare


def _parse_batch_sizes(text):
    out = []
    for item in text.split(","):
        item = item.strip().lower()
        if item in ("full", "none", "gd"):
            out.append(None)
            continue
        try:
            b = int(item)
        except ValueError:
            raise ParameterError(f"--batch-sizes: {item!r} is neither an integer nor 'full'.") from None
        if b < 1:
            raise ParameterError(f"--batch-sizes: {b} must be at least 1.")
        out.append(b)
    return out


def _parse_optimizers(text, option="--optimizers"):
    names = [o.strip().lower() for o in str(text).split(",") if o.strip()]
    if not names:
        raise ParameterError(f"{option} is empty; name at least one, e.g. sgd,momentum,adam.")
    for n in names:
        if n not in optim.CHOICES:
            raise ParameterError(f"{option}: unknown optimizer {n!r}; choose from {', '.join(optim.CHOICES)}.")
    return names


def _print_comparison(con, title, comp):
    con.print(_table(title, comp.format_table()[0], comp.format_table()[1:]))
    con.print(f"target loss {comp.target:.6g}: {comp.target_rule}. Learning rates: "
              + "; ".join(f"{lab}: {lr:.4g} ({rule})" for lab, lr, rule in zip(comp.labels, comp.lrs, comp.lr_rules)))
    con.print(comp.timing + ".")


def _numbered(path: Path, i: int) -> Path:
    """The figure of problem i: the name given for the first, NAME-2.EXT, NAME-3.EXT, ... after."""
    return path if i == 0 else path.with_name(f"{path.stem}-{i + 1}{path.suffix}")


@cli.command("compare")
@click.argument("data", required=False, type=click.Path(dir_okay=True))
@click.option("--target", "target_col", default=None, help="The column to predict (with DATA).")
@click.option("--features", default=None, help="Comma-separated feature columns (default: all but the target).")
@click.option("--batch-sizes", default="1,8,64,full", show_default=True, help="Comma-separated; 'full' = GD.")
@click.option("--optimizers", default="sgd", show_default=True, help="Comma-separated optimizer names.")
@click.option("--lr", default=None, type=POSITIVE, help="One learning rate for every run (default: a rule per run).")
@click.option("--epochs", default=10, show_default=True, type=COUNT, help="Epochs per run.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the row order.")
@click.option("--out", "out_path", default=None,
              help="Write the figure here; with several problems (no DATA) the first is written to this name, "
                   "the next ones to NAME-2.EXT, ...")
@_memory_option
@record_options("compare")
def compare_cmd(data, target_col, features, batch_sizes, optimizers, lr, epochs, seed, out_path, memory, record):
    """GD vs SGD vs mini-batch on one problem: loss against epochs, samples, steps and time."""
    from . import compare as compare_mod

    _check_out(out_path, "--out")
    sizes = _parse_batch_sizes(batch_sizes)
    names = _parse_optimizers(optimizers)
    if data is None and target_col is not None:
        raise ParameterError("--target needs a DATA file.")
    if data is not None and target_col is None:
        raise ParameterError("DATA needs --target COLUMN.")
    if data is None:
        problems = compare_mod.builtin_problems()
    else:
        table = read_data(data, target_col, features, memory=memory, in_memory=True)  # many fits side by side
        problems = [(f"{Path(data).name}: {target_col}", table.X, table.y, True)]
    con = _console()
    for i, (title, X, y, bias) in enumerate(problems):
        fitted = list(dict.fromkeys(None if b is None or b >= len(y) else b for b in sizes))  # B >= n: full batch
        comp = compare_mod.compare_data(X, y, fitted, names, lr=lr, epochs=epochs, seed=seed, bias=bias)
        for res in comp.results if record.enabled else ():
            record.save(res, **record_compare(X, y, bias), problem=title)
        _print_comparison(con, title, comp)
        if out_path:
            from . import plot

            path = _numbered(Path(out_path), i)
            plot.compare(comp).savefig(path, dpi=100)
            con.print(f"wrote {path}")
        for res in comp.results:
            _stop_if_interrupted(res)


# -------------------------------------------------------------------------------------- lr-find


@cli.command("lr-find")
@click.argument("data", type=click.Path(dir_okay=True))
@click.option("--target", required=True, help="The column to predict.")
@click.option("--features", default=None, help="Comma-separated feature columns (default: all but the target).")
@_optimizer_options
@click.option("--batch-size", default=None, type=COUNT, help="Rows per step: 1 = SGD, k = mini-batch; default full batch.")
@click.option("--start", default=1e-7, show_default=True, type=POSITIVE, help="First learning rate.")
@click.option("--end", default=10.0, show_default=True, type=POSITIVE, help="Last learning rate.")
@click.option("--steps", default=100, show_default=True, type=Number(3, integer=True),
              help="Steps of the exponential ramp.")
@click.option("--diverge", default=4.0, show_default=True, type=Number(1, lo_open=True),
              help="Stop once the smoothed loss exceeds this multiple of its best.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the row order.")
@click.option("--no-bias", is_flag=True, help="Fit without an intercept.")
@click.option("--plot", "plot_path", default=None, help="Write the curve here (.png, .svg, .pdf, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result (strict JSON).")
@_memory_option
@record_options("lr-find")
def lr_find_command(data, target, features, model, optimizer_name, optimizer_params, batch_size, start, end, steps,
                    diverge, seed, no_bias, plot_path, as_json, memory, record):
    """The learning-rate range test: suggested rates and the stable rate 2/lambda_max."""
    from .lrfind import lr_find

    _check_out(plot_path, "--plot")
    if not end > start:
        raise ParameterError(f"--end ({end:g}) must be larger than --start ({start:g}).")
    # the rate is a placeholder: lr_find replaces it by its ramp from --start to --end
    opt = optim.from_options(optimizer_name, 1.0, **optimizer_params)
    table = read_data(data, target, features, labels=model == "logistic", memory=memory)
    _check_batch(batch_size, table.n_rows)
    obj = _objective(model, table.X, table.y, not no_bias)
    res = lr_find(obj, np.zeros(obj.n_params), optimizer=opt, batch_size=batch_size, start=start, end=end,
                  steps=steps, seed=seed, diverge=diverge,
                  shuffle=data_cli.shuffle_for(getattr(table, "source", None), False))
    record.save(lr_find_result(res, obj, seed), source=obj, **lr_find_config(res))
    if as_json:
        _echo_json({"suggestion": res.suggestion, "valley": res.suggestion_valley,
                    "steepest": res.suggestion_steepest, "stable_lr": res.stable_lr,
                    "stopped_early": res.stopped_early, "steps": res.steps, "message": res.message,
                    "lrs": res.lrs.tolist(), "losses": res.losses.tolist()})
    else:
        con = _console()
        if table.classes is not None:
            con.print(table.labels_note())
        fmt = lambda v: "-" if v is None else f"{v:.4g}"  # noqa: E731
        con.print(_table(f"{Path(data).name}: learning-rate range test ({model} model, {opt.name})",
                         ["rate", "value"],
                         [("suggestion", fmt(res.suggestion)), ("valley", fmt(res.suggestion_valley)),
                          ("steepest", fmt(res.suggestion_steepest)), ("stable 2/lambda_max", fmt(res.stable_lr))]))
        con.print(res.message)
    if plot_path:
        from . import plot

        plot.lr_find(res).savefig(plot_path, dpi=110)
        if not as_json:
            _console().print(f"wrote {plot_path}")


# ------------------------------------------------------------------------------------- landscape


def _parse_floats(text, name, count=None):
    try:
        values = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ParameterError(f"{name} must be comma-separated numbers; got {text!r}.") from None
    if count is not None and len(values) != count:
        raise ParameterError(f"{name} needs {count} comma-separated numbers; got {text!r}.")
    if not values or not all(np.isfinite(values)):
        raise ParameterError(f"{name} must be finite numbers; got {text!r}.")
    return values


@cli.command("landscape")
@click.argument("name")
@click.option("--optimizers", default="sgd,momentum,adam", show_default=True,
              help=f"Comma-separated optimizer names ({', '.join(optim.CHOICES)}).")
@click.option("--lr", default=None, type=POSITIVE, help="One learning rate for all (default: per optimizer and function).")
@click.option("--start", default=None, help="Starting point x,y (default: the function's classic start).")
@click.option("--steps", default=None, type=COUNT, help="Gradient steps per run (default: per function).")
@click.option("--out", "out_path", default=None, help="Write the picture here (.png, .svg, .pdf, ...).")
@click.option("--gif", "gif_path", default=None, help="Write an animation (GIF) here.")
@click.option("--fps", default=10, show_default=True, type=Number(0, 100, lo_open=True),
              help="Frames per second of the GIF.")
def landscape_cmd(name, optimizers, lr, start, steps, out_path, gif_path, fps):
    """Race optimizers across a 2-D test function and say where each one ended.

    NAME: rosenbrock, rastrigin, himmelblau, beale, booth, ackley, six_hump_camel, saddle, monkey_saddle.
    """
    from . import diagnose, functions

    obj = functions.get(name)
    _check_out(out_path, "--out")
    _check_out(gif_path, "--gif", formats=["gif"])
    names = _parse_optimizers(optimizers)
    start = obj.start if start is None else _parse_floats(start, "--start", 2)
    steps = obj.steps if steps is None else steps
    rates = {n: (lr if lr is not None else obj.lrs.get(n.lower(), 0.01)) for n in names}
    results = functions.trajectories(obj, names, lr=lr, start=start, steps=steps)
    con = _console()
    con.print(f"{obj.name}: f(x, y) = {obj.formula}")
    where = ", ".join(f"({m[0]:.4g}, {m[1]:.4g})" for m in obj.minima)
    con.print(f"global minimum: {where}, f = {obj.min_value:.6g}" if len(obj.minima) else
              "no minimum (unbounded below)")
    con.print(f"start ({start[0]:g}, {start[1]:g}), {steps} steps; learning rates: "
              + ", ".join(f"{n} {r:g}" for n, r in rates.items())
              + ("" if lr is not None else f" (defaults for {obj.name}; --lr overrides)"))
    rows = []
    for n, res in zip(names, results):
        kind = diagnose.classify(obj, res.w) if np.all(np.isfinite(res.w)) else "-"
        rows.append((n, f"{rates[n]:g}", f"{res.w[0]:.5g}", f"{res.w[1]:.5g}", f"{res.loss:.4g}", res.status,
                     res.verdict, kind))
    con.print(_table(f"{obj.name}: where each optimizer ended",
                     ["method", "lr", "end x", "end y", "loss", "status", "verdict", "Hessian there"], rows))
    for n, res in zip(names, results):
        con.print(f"{n}: {res.message}")
    if out_path:
        from . import plot

        plot.landscape(obj, results).savefig(out_path, dpi=110)
        con.print(f"wrote {out_path}")
    if gif_path:
        from . import plot

        plot.animate(obj, results, gif_path, fps=fps)
        con.print(f"wrote {gif_path}")
    for res in results:
        _stop_if_interrupted(res)


# -------------------------------------------------------------------------------------- diagnose


@cli.command("diagnose")
@click.argument("data", required=False, type=click.Path(dir_okay=True))
@click.option("--target", default=None, help="The column to predict (needed with DATA).")
@click.option("--features", default=None, help="Comma-separated feature columns (default: all but the target).")
@click.option("--lr", default="0.01", show_default=True, help="Learning rate, or several comma-separated.")
@click.option("--batch-size", default=None, type=COUNT, help="Rows per step: 1 = SGD, k = mini-batch; default full batch.")
@click.option("--epochs", default=100, show_default=True, type=COUNT, help="Passes over the data.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the row order.")
@click.option("--no-bias", is_flag=True, help="Fit without an intercept.")
@_memory_option
def diagnose_cmd(data, target, features, lr, batch_size, epochs, seed, no_bias, memory):
    """Curvature, the stable learning rate and the verdict of a run: on DATA, or on the lecture's problem.

    Without DATA: y_hat = x*w on x = [1, 2, 3, 4], y = 2x, from w = 1 (cost 7.5 (w - 2)^2).
    """
    from . import datasets, diagnose
    from .loop import minimize
    from .objectives import LinearRegression

    rates = [check_number("--lr", r, 0, lo_open=True) for r in _parse_floats(lr, "--lr")]
    if data is None:
        if target is not None:
            raise ParameterError("--target needs a DATA file; without one, diagnose runs the lecture's problem.")
        X, y = datasets.lecture()
        obj = LinearRegression(X, y, bias=False)
        w0 = np.ones(1)
        what = "the lecture: y_hat = x*w on x = [1, 2, 3, 4], y = 2x, cost = mean squared error, w0 = 1"
    else:
        if target is None:
            raise ParameterError("--target is required with DATA: the column to predict.")
        table = read_data(data, target, features, memory=memory)
        obj = LinearRegression(table.X, table.y, bias=not no_bias)
        w0 = np.zeros(obj.n_params)
        what = f"{Path(data).name}: {target} ~ linear model ({obj.n_samples} rows, {obj.n_params} parameters), w0 = 0"
    _check_batch(batch_size, obj.n_samples)
    lam = diagnose.curvature(obj, w0)
    con = _console()
    con.print(what)
    con.print(f"curvature (largest Hessian eigenvalue) λmax = {lam:.6g}")
    if lam > 0:
        con.print(f"stable learning rate 2/λmax = {2 / lam:.6g}: plain gradient descent diverges above it; "
                  f"1/λmax = {1 / lam:.6g} is the fastest rate without zig-zag")
    method = "full batch" if batch_size is None else "SGD (1 row)" if batch_size == 1 else f"mini-batch {batch_size}"
    rows, messages, interrupted = [], [], None
    for r in rates:
        res = minimize(obj, w0, optimizer=optim.SGD(lr=r), batch_size=batch_size, epochs=epochs, seed=seed,
                       shuffle=data_cli.shuffle_for(getattr(obj, "source", None), False))
        rows.append((f"{r:g}", method, str(res.epochs), f"{res.loss:.4g}", res.status, res.verdict))
        messages.append(f"lr {r:g}: {res.message}")
        if _interrupted(res):
            interrupted = res
            break
    con.print(_table(f"verdicts ({epochs} epochs)", ["lr", "method", "epochs", "final loss", "status", "verdict"],
                     rows))
    for m in messages:
        con.print(m)
    if interrupted is not None:
        _stop_if_interrupted(interrupted)


# ---------------------------------------------------------------------------------------- search


def _parse_bounds(text, n_params):
    """LO:HI for every weight, or one LO:HI per weight, comma-separated."""
    pairs = []
    for item in str(text).split(","):
        lo_hi = item.strip().split(":")
        try:
            lo, hi = (float(v) for v in lo_hi) if len(lo_hi) == 2 else (None, None)
        except ValueError:
            lo = hi = None
        if lo is None or not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ParameterError(f"--bounds: {item.strip()!r} is not LO:HI with finite LO < HI (e.g. -10:10).")
        pairs.append((lo, hi))
    if len(pairs) == 1:
        pairs = pairs * n_params
    if len(pairs) != n_params:
        raise ParameterError(f"--bounds gives {len(pairs)} ranges but there are {n_params} weights; give one "
                             f"LO:HI for all, or one per weight.")
    return pairs


@cli.command("search")
@click.argument("data", required=False, type=click.Path(dir_okay=True))
@click.option("--target", default=None, help="The column to predict (needed with DATA).")
@click.option("--features", default=None, help="Comma-separated feature columns (default: all but the target).")
@click.option("--method", type=click.Choice(["grid", "refine"]), default="grid", show_default=True,
              help="grid: brute force, every point of one grid; refine: divide and conquer, coarse to fine.")
@click.option("--bounds", default=None,
              help="LO:HI for every weight, or one per weight comma-separated (default: 0:4 for the lecture, "
                   "-10:10 otherwise).")
@click.option("--num", default=None, type=Number(2, integer=True),
              help="Points per weight (default: 41 for grid, 11 for refine).")
@click.option("--rounds", default=6, show_default=True, type=COUNT, help="refine: rounds of zooming in.")
@click.option("--no-bias", is_flag=True, help="Fit without an intercept (with DATA).")
@click.option("--plot", "plot_path", default=None, help="Write the cost plot here (one or two weights).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result (strict JSON).")
@_memory_option
def search_cmd(data, target, features, method, bounds, num, rounds, no_bias, plot_path, as_json, memory):
    """Search without gradients: brute force over a grid, or divide and conquer; on DATA or the lecture.

    Without DATA: y_hat = x*w on x = [1, 2, 3, 4], y = 2x (cost 7.5 (w - 2)^2).
    """
    from . import datasets, search
    from .objectives import LinearRegression

    _check_out(plot_path, "--plot")
    if data is None:
        if target is not None:
            raise ParameterError("--target needs a DATA file; without one, search runs the lecture's problem.")
        X, y = datasets.lecture()
        obj, names, title = LinearRegression(X, y, bias=False), ["w"], "the lecture: y_hat = x*w"
        default_bounds = "0:4" if method == "grid" else "-10:10"
    else:
        if target is None:
            raise ParameterError("--target is required with DATA: the column to predict.")
        table = read_data(data, target, features, memory=memory)
        obj = LinearRegression(table.X, table.y, bias=not no_bias)
        names = [*table.features, *(["bias"] if not no_bias else [])]
        title, default_bounds = f"{Path(data).name}: {target} ~ linear model", "-10:10"
    if plot_path and obj.n_params > 2:
        raise ParameterError(f"--plot draws one or two weights; this problem has {obj.n_params} "
                             f"({', '.join(names[:5])}{', ...' if len(names) > 5 else ''}).")
    pairs = _parse_bounds(default_bounds if bounds is None else bounds, obj.n_params)
    if method == "grid":
        res = search.grid(obj, bounds=pairs, num=41 if num is None else num)
    else:
        if num is not None and num < 3:
            raise ParameterError(f"--num must be at least 3 for refine (to shrink the box); got {num}.")
        res = search.refine(obj, bounds=pairs, num=11 if num is None else num, rounds=rounds)
    weights = dict(zip(names, map(float, res.w)))
    if as_json:
        _echo_json({"method": method, "weights": weights, "loss": res.loss, "evaluations": res.evaluations,
                    "rounds": res.rounds, "bounds": pairs})
    else:
        con = _console()
        what = "brute force (grid)" if method == "grid" else f"divide and conquer ({res.rounds} rounds)"
        con.print(_table(f"{title}: {what}, {res.evaluations:,} evaluations of the mean squared error",
                         ["column", "weight"], [(k, f"{v:.6g}") for k, v in weights.items()]))
        con.print(f"best cost: {res.loss:.6g}")
    if plot_path:
        from . import plot

        plot.cost_curve(res).savefig(plot_path, dpi=110)
        if not as_json:
            _console().print(f"wrote {plot_path}")


from .explore.command import explore as _explore  # noqa: E402  `descend explore`, defined with the explorer

cli.add_command(_explore)

from .data import cli as data_cli  # noqa: E402  streamed DATA (Parquet, folders, globs, --memory) and `descend convert`
