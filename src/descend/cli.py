"""The command line: parse, call the library, render. No math here.

Errors from the library become one ``error:`` line on stderr: exit 2 for usage errors
(bad arguments), 1 for data errors (unreadable or invalid data), never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np

from .errors import DataError, DescendError, ParameterError


def _console(stderr=False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 200  # pipes and logs: do not wrap tables at 80 columns
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="descend")
def cli():
    """descend: fit models by gradient descent and see why the fit works or fails."""


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


OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "adamw", "nadam", "rmsprop", "adagrad", "adadelta"]


def _optimizer_options(f):
    """--model, --optimizer and its hyper-parameters (shared by fit and lr-find)."""
    opts = [
        click.option("--model", type=click.Choice(["linear", "logistic"]), default="linear", show_default=True,
                     help="linear: mean squared error; logistic: binary cross-entropy, target 0/1."),
        click.option("--optimizer", "optimizer_name", type=click.Choice(OPTIMIZERS, case_sensitive=False),
                     default="sgd", show_default=True, help="Update rule (PyTorch's equations and defaults)."),
        click.option("--momentum", type=float, default=None, help="Momentum (sgd, momentum, nesterov, rmsprop)."),
        click.option("--beta1", type=float, default=None, help="Adam-family beta1."),
        click.option("--beta2", type=float, default=None, help="Adam-family beta2."),
        click.option("--eps", type=float, default=None, help="The optimizer's eps."),
        click.option("--weight-decay", type=float, default=None, help="L2 weight decay (decoupled for adamw)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _objective(model, X, y, bias):
    from .objectives import LinearRegression, LogisticRegression

    return (LogisticRegression if model == "logistic" else LinearRegression)(X, y, bias=bias)


@cli.command()
@click.argument("data", type=click.Path(dir_okay=True))
@click.option("--target", required=True, help="The column to predict.")
@click.option("--features", default=None, help="Comma-separated feature columns (default: all but the target).")
@_optimizer_options
@click.option("--schedule", type=click.Choice(["constant", "step", "exponential", "invscaling", "cosine", "warmup"]),
              default="constant", show_default=True, help="Learning-rate schedule over steps.")
@click.option("--step-size", type=int, default=None, help="step: steps between cuts.")
@click.option("--gamma", type=float, default=None, help="step, exponential: the factor per cut / per step.")
@click.option("--power-t", type=float, default=None, help="invscaling: lr / (t+1)^power_t.")
@click.option("--t-max", type=int, default=None, help="cosine: steps to reach the floor.")
@click.option("--lr-min", type=float, default=None, help="cosine: the floor.")
@click.option("--warmup-steps", type=int, default=None, help="Linear warm-up steps (warmup, or wraps any schedule).")
@click.option("--batch-size", default=None, type=int, help="Rows per step: 1 = SGD, k = mini-batch; default full batch.")
@click.option("--lr", default=0.01, show_default=True, type=float, help="Learning rate.")
@click.option("--epochs", default=100, show_default=True, type=int, help="Passes over the data.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the row order.")
@click.option("--no-shuffle", is_flag=True, help="Visit rows in file order every epoch.")
@click.option("--no-bias", is_flag=True, help="Fit without an intercept.")
@click.option("--tol", default=None, type=float, help="Stop when the full-data gradient norm is below this.")
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False), help="Write the loss curve here.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Fit on this Dask cluster: DATA is Parquet (file, folder or glob) read there by dask.dataframe.")
@click.option("--dask", "dask_local", default=None, metavar="local:N",
              help="Fit on a Dask LocalCluster of N worker processes started here (DATA is Parquet).")
def fit(data, target, features, model, optimizer_name, momentum, beta1, beta2, eps, weight_decay, schedule,
        step_size, gamma, power_t, t_max, lr_min, warmup_steps, batch_size, lr, epochs, seed, no_shuffle, no_bias,
        tol, plot_path, as_json, quiet, scheduler, dask_local):
    """Fit a linear (or logistic) regression to a CSV file (or Parquet on a Dask cluster) by gradient descent."""
    import contextlib

    from . import datasets, optim, schedules
    from .loop import minimize

    _check_cli_numbers(lr=lr, epochs=epochs, batch_size=batch_size)
    sched = schedules.from_name(schedule, lr, step_size=step_size, gamma=gamma, power_t=power_t, T=t_max,
                                floor=lr_min, warmup_steps=warmup_steps)
    opt = optim.from_options(optimizer_name, sched, momentum=momentum, beta1=beta1, beta2=beta2, eps=eps,
                             weight_decay=weight_decay)
    cluster = _dask_cluster(scheduler, dask_local)
    with cluster if cluster is not None else contextlib.nullcontext() as client:
        if cluster is not None:  # Parquet read by dask.dataframe on the cluster; every pass runs there
            from .engines.dask import read_parquet

            src = read_parquet(data, target, _parse_features(features), client=client)
            names, n_rows, obj = src.feature_names, src.n_rows, _objective(model, src, None, not no_bias)
        else:
            X, y, names = datasets.read_csv(data, target, _parse_features(features))
            n_rows, obj = len(y), _objective(model, X, y, not no_bias)
        if batch_size is not None and batch_size > n_rows:
            raise ParameterError(f"--batch-size {batch_size} is larger than the number of rows ({n_rows}).")
        res = minimize(obj, np.zeros(obj.n_params), optimizer=opt, batch_size=batch_size,
                       epochs=epochs, shuffle=not no_shuffle, seed=seed, tol=tol,
                       callbacks=_progress(quiet or as_json, f"fit {Path(data).name}"))
    params = dict(zip([*names, *(["bias"] if not no_bias else [])], map(float, res.w)))
    if plot_path:
        from . import plot

        plot.loss_curve(res, logy=True).savefig(plot_path, dpi=110)
    if as_json:
        click.echo(json.dumps({"weights": params, "loss": res.loss, "status": res.status, "message": res.message,
                               "epochs": res.epochs, "steps": res.steps,
                               "epoch_loss": res.history.epoch_loss.tolist()}))
        return
    con = _console()
    con.print(_table(f"{Path(data).name}: {target} ~ {model} model", ["column", "weight"],
                     [(k, f"{v:.6g}") for k, v in params.items()]))
    con.print(f"final loss ({'binary cross-entropy' if model == 'logistic' else 'mean squared error'}): "
              f"{res.loss:.6g}")
    con.print(f"optimizer: {opt!r}")
    con.print(f"status: {res.status}")
    con.print(res.message)
    if plot_path:
        con.print(f"wrote {plot_path}")


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


def _check_cli_numbers(lr=None, epochs=None, batch_size=None):
    if lr is not None and not lr > 0:
        raise ParameterError(f"--lr must be > 0; got {lr}.")
    if epochs is not None and epochs < 1:
        raise ParameterError(f"--epochs must be at least 1; got {epochs}.")
    if batch_size is not None and batch_size < 1:
        raise ParameterError(f"--batch-size must be at least 1; got {batch_size}.")


# ------------------------------------------------------------------------------------------ main


def main(argv=None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 data error, 2 usage error, 130 interrupted)."""
    try:
        cli.main(args=argv, prog_name="descend", standalone_mode=False)
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:  # bare `descend`: help
            click.echo(exc.ctx.get_help())
            return 0
        click.echo(f"error: {exc.format_message()}", err=True)
        return 2
    except click.Abort:
        click.echo("error: interrupted.", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code or 1
    except DataError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    except (ParameterError, DescendError) as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except OSError as exc:
        click.echo(f"error: {exc.filename or ''}: {exc.strerror or exc}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("error: interrupted.", err=True)
        return 130
    return 0


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


def _print_comparison(con, title, comp):
    con.print(_table(title, comp.format_table()[0], comp.format_table()[1:]))
    con.print(f"target loss {comp.target:.6g}: {comp.target_rule}. Learning rates: "
              + "; ".join(f"{lab}: {lr:.4g} ({rule})" for lab, lr, rule in zip(comp.labels, comp.lrs, comp.lr_rules)))
    con.print(comp.timing + ".")


@cli.command("compare")
@click.argument("data", required=False, type=click.Path(dir_okay=True))
@click.option("--target", "target_col", default=None, help="The column to predict (with DATA).")
@click.option("--features", default=None, help="Comma-separated feature columns (default: all but the target).")
@click.option("--batch-sizes", default="1,8,64,full", show_default=True, help="Comma-separated; 'full' = GD.")
@click.option("--optimizers", default="sgd", show_default=True, help="Comma-separated optimizer names.")
@click.option("--lr", default=None, type=float, help="One learning rate for every run (default: a rule per run).")
@click.option("--epochs", default=10, show_default=True, type=int, help="Epochs per run.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", "out_path", default=None, type=click.Path(dir_okay=False), help="Write the figure here.")
def compare_cmd(data, target_col, features, batch_sizes, optimizers, lr, epochs, seed, out_path):
    """GD vs SGD vs mini-batch on one problem: loss against epochs, samples, steps and time."""
    from . import compare as compare_mod, datasets

    _check_cli_numbers(lr=lr, epochs=epochs)
    sizes = _parse_batch_sizes(batch_sizes)
    names = [o.strip() for o in optimizers.split(",") if o.strip()]
    if data is None and target_col is not None:
        raise ParameterError("--target needs a DATA file.")
    if data is not None and target_col is None:
        raise ParameterError("DATA needs --target COLUMN.")
    problems = compare_mod.builtin_problems() if data is None else [
        (f"{Path(data).name}: {target_col}", *datasets.read_csv(data, target_col, _parse_features(features))[:2],
         True)]
    con = _console()
    written = []
    for i, (title, X, y, bias) in enumerate(problems):
        fitted = list(dict.fromkeys(None if b is None or b >= len(y) else b for b in sizes))  # B >= n: full batch
        comp = compare_mod.compare_data(X, y, fitted, names, lr=lr, epochs=epochs, seed=seed, bias=bias)
        _print_comparison(con, title, comp)
        if out_path:
            from . import plot

            path = Path(out_path)
            if len(problems) > 1:
                path = path.with_name(f"{path.stem}-{i + 1}{path.suffix}")
            plot.compare(comp).savefig(path, dpi=100)
            written.append(str(path))
    for p in written:
        con.print(f"wrote {p}")
# -------------------------------------------------------------------------------------- lr-find


@cli.command("lr-find")
@click.argument("data", type=click.Path(dir_okay=True))
@click.option("--target", required=True, help="The column to predict.")
@click.option("--features", default=None, help="Comma-separated feature columns (default: all but the target).")
@_optimizer_options
@click.option("--batch-size", default=None, type=int, help="Rows per step: 1 = SGD, k = mini-batch; default full batch.")
@click.option("--start", default=1e-7, show_default=True, type=float, help="First learning rate.")
@click.option("--end", default=10.0, show_default=True, type=float, help="Last learning rate.")
@click.option("--steps", default=100, show_default=True, type=int, help="Steps of the exponential ramp.")
@click.option("--diverge", default=4.0, show_default=True, type=float,
              help="Stop once the smoothed loss exceeds this multiple of its best.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the row order.")
@click.option("--no-bias", is_flag=True, help="Fit without an intercept.")
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False), help="Write the curve here.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result.")
def lr_find_command(data, target, features, model, optimizer_name, momentum, beta1, beta2, eps, weight_decay,
                    batch_size, start, end, steps, diverge, seed, no_bias, plot_path, as_json):
    """The learning-rate range test: suggested rates and the stable rate 2/lambda_max."""
    from . import datasets, optim
    from .lrfind import lr_find

    _check_cli_numbers(batch_size=batch_size)
    # the rate is a placeholder: lr_find replaces it by its ramp from --start to --end
    opt = optim.from_options(optimizer_name, 1.0, momentum=momentum, beta1=beta1, beta2=beta2, eps=eps,
                             weight_decay=weight_decay)
    X, y, names = datasets.read_csv(data, target, _parse_features(features))
    if batch_size is not None and batch_size > len(y):
        raise ParameterError(f"--batch-size {batch_size} is larger than the number of rows ({len(y)}).")
    obj = _objective(model, X, y, not no_bias)
    res = lr_find(obj, np.zeros(obj.n_params), optimizer=opt, batch_size=batch_size, start=start, end=end,
                  steps=steps, seed=seed, diverge=diverge)
    if plot_path:
        from . import plot

        plot.lr_find(res).savefig(plot_path, dpi=110)
    if as_json:
        click.echo(json.dumps({"suggestion": res.suggestion, "valley": res.suggestion_valley,
                               "steepest": res.suggestion_steepest, "stable_lr": res.stable_lr,
                               "stopped_early": res.stopped_early, "steps": res.steps, "message": res.message,
                               "lrs": res.lrs.tolist(),
                               "losses": [x if np.isfinite(x) else None for x in res.losses.tolist()]}))
        return
    con = _console()
    fmt = lambda v: "-" if v is None else f"{v:.4g}"  # noqa: E731
    con.print(_table(f"{Path(data).name}: learning-rate range test ({model} model, {opt.name})", ["rate", "value"],
                     [("suggestion", fmt(res.suggestion)), ("valley", fmt(res.suggestion_valley)),
                      ("steepest", fmt(res.suggestion_steepest)), ("stable 2/lambda_max", fmt(res.stable_lr))]))
    con.print(res.message)
    if plot_path:
        con.print(f"wrote {plot_path}")




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
              help="Comma-separated optimizer names (sgd, momentum, nesterov, adam, rmsprop, adagrad, ...).")
@click.option("--lr", default=None, type=float, help="One learning rate for all (default: per optimizer and function).")
@click.option("--start", default=None, help="Starting point x,y (default: the function's classic start).")
@click.option("--steps", default=None, type=int, help="Gradient steps per run (default: per function).")
@click.option("--out", "out_path", default=None, type=click.Path(dir_okay=False), help="Write the picture (PNG) here.")
@click.option("--gif", "gif_path", default=None, type=click.Path(dir_okay=False), help="Write an animation (GIF) here.")
@click.option("--fps", default=10, show_default=True, type=int, help="Frames per second of the GIF.")
def landscape_cmd(name, optimizers, lr, start, steps, out_path, gif_path, fps):
    """Race optimizers across a 2-D test function and say where each one ended.

    NAME: rosenbrock, rastrigin, himmelblau, beale, booth, ackley, six_hump_camel, saddle, monkey_saddle.
    """
    from . import diagnose, functions

    obj = functions.get(name)
    _check_cli_numbers(lr=lr, epochs=steps)
    names = [o.strip() for o in optimizers.split(",") if o.strip()]
    if not names:
        raise ParameterError("--optimizers is empty; name at least one, e.g. sgd,momentum,adam.")
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


# -------------------------------------------------------------------------------------- diagnose


@cli.command("diagnose")
@click.argument("data", required=False, type=click.Path(dir_okay=True))
@click.option("--target", default=None, help="The column to predict (needed with DATA).")
@click.option("--features", default=None, help="Comma-separated feature columns (default: all but the target).")
@click.option("--lr", default="0.01", show_default=True, help="Learning rate, or several comma-separated.")
@click.option("--batch-size", default=None, type=int, help="Rows per step: 1 = SGD, k = mini-batch; default full batch.")
@click.option("--epochs", default=100, show_default=True, type=int, help="Passes over the data.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the row order.")
@click.option("--no-bias", is_flag=True, help="Fit without an intercept.")
def diagnose_cmd(data, target, features, lr, batch_size, epochs, seed, no_bias):
    """Curvature, the stable learning rate and the verdict of a run: on DATA, or on the lecture's problem.

    Without DATA: y_hat = x*w on x = [1, 2, 3, 4], y = 2x, from w = 1 (cost 7.5 (w - 2)^2).
    """
    from . import datasets, diagnose, optim
    from .loop import minimize
    from .objectives import LinearRegression

    rates = _parse_floats(lr, "--lr")
    for r in rates:
        _check_cli_numbers(lr=r)
    _check_cli_numbers(epochs=epochs, batch_size=batch_size)
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
        X, y, names = datasets.read_csv(data, target, _parse_features(features))
        obj = LinearRegression(X, y, bias=not no_bias)
        w0 = np.zeros(obj.n_params)
        what = f"{Path(data).name}: {target} ~ linear model ({obj.n_samples} rows, {obj.n_params} parameters), w0 = 0"
    if batch_size is not None and batch_size > obj.n_samples:
        raise ParameterError(f"--batch-size {batch_size} is larger than the number of rows ({obj.n_samples}).")
    lam = diagnose.curvature(obj, w0)
    con = _console()
    con.print(what)
    con.print(f"curvature (largest Hessian eigenvalue) λmax = {lam:.6g}")
    if lam > 0:
        con.print(f"stable learning rate 2/λmax = {2 / lam:.6g}: plain gradient descent diverges above it; "
                  f"1/λmax = {1 / lam:.6g} is the fastest rate without zig-zag")
    method = "full batch" if batch_size is None else "SGD (1 row)" if batch_size == 1 else f"mini-batch {batch_size}"
    rows, messages = [], []
    for r in rates:
        res = minimize(obj, w0, optimizer=optim.SGD(lr=r), batch_size=batch_size, epochs=epochs, seed=seed)
        rows.append((f"{r:g}", method, str(res.epochs), f"{res.loss:.4g}", res.status, res.verdict))
        messages.append(f"lr {r:g}: {res.message}")
    con.print(_table(f"verdicts ({epochs} epochs)", ["lr", "method", "epochs", "final loss", "status", "verdict"],
                     rows))
    for m in messages:
        con.print(m)
