"""Runs out of the store, into the tools people already use.

- :func:`export_tensorboard`: TensorBoard event files written with tensorboardX (the optional
  extra ``descend[tensorboard]``), one subfolder per run: scalars per epoch
  (``epoch/loss``, ``epoch/grad_norm``, ``epoch/time``, ``epoch/samples``, at the epoch
  number), per step (``step/loss``, ``step/grad_norm``, ``step/lr``, at the global step) and
  the hyper-parameters with the final and best loss (TensorBoard's HPARAMS tab).
- :func:`export_csv`: PyTorch Lightning's CSVLogger layout, one subfolder per run holding
  ``metrics.csv`` (one row per logged record; columns ``epoch``, ``step`` and the metrics,
  empty where a record has no value) and ``hparams.yaml``.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path


from ..errors import DescendError, StoreError
from .recorder import step_positions

__all__ = ["export_tensorboard", "export_csv", "hparams", "run_folder"]


def run_folder(res) -> str:
    """The subfolder name of a run: its id, then its name made safe for a file system."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", res.name).strip("-.")[:60]
    return f"run-{res.id}" + (f"-{name}" if name else "")


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (list, tuple)):
            if all(isinstance(x, (int, float, str, bool)) for x in v) and len(v) <= 8:
                out[key] = ", ".join(map(str, v))
            else:
                out[key] = str(v)[:200]
        elif v is None:
            out[key] = "none"
        else:
            out[key] = v
    return out


def hparams(res) -> dict:
    """The run's configuration flattened to scalars (``optimizer.params.lr``, ``data.rows``, ...)."""
    cfg = {k: v for k, v in res.config.items() if k not in ("resumed", "cli")}
    return {"run_id": res.id, "name": res.name, "kind": res.kind, **_flatten(cfg)}


def _prepare(folder, what) -> Path:
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise StoreError(f"{folder}: is a file; give a folder for the {what} export.")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


class _EventFile:
    """One TensorBoard event file, written synchronously with tensorboardX's EventsWriter (its
    SummaryWriter hands every scalar to a writer thread through a queue: ~0.2 ms a scalar here)."""

    def __init__(self, folder: Path):
        try:
            from tensorboardX.event_file_writer import EventsWriter
            from tensorboardX.proto import event_pb2, summary_pb2
        except ImportError:
            raise DescendError("the TensorBoard export needs tensorboardX: pip install 'descend[tensorboard]'.") \
                from None
        folder.mkdir(parents=True, exist_ok=True)
        self.Event, self.Summary = event_pb2.Event, summary_pb2.Summary
        self.writer = EventsWriter(str(folder / "events"))

    def scalars(self, step: int, values: dict, wall_time: float):
        """Scalars at one step in one event (non-finite values are left out, as TensorBoard cannot plot them)."""
        value = [self.Summary.Value(tag=k, simple_value=float(v)) for k, v in values.items() if _finite(v)]
        if value:
            self.writer.write_event(self.Event(wall_time=wall_time, step=int(step), summary=self.Summary(value=value)))

    def summary(self, summary, step: int, wall_time: float):
        self.writer.write_event(self.Event(wall_time=wall_time, step=int(step), summary=summary))

    def close(self):
        self.writer.close()


def export_tensorboard(store, run_ids, logdir) -> list[Path]:
    runs = [store.load(i) for i in run_ids]  # every id checked before anything is written
    logdir = _prepare(logdir, "TensorBoard")
    try:
        from tensorboardX.summary import hparams as hparams_summary
    except ImportError:
        raise DescendError("the TensorBoard export needs tensorboardX: pip install 'descend[tensorboard]'.") from None
    out = []
    for res in runs:
        path = logdir / run_folder(res)
        h = res.history
        first_epoch = res.epochs - (len(h) - 1) if len(h) else 0
        t0 = float(res.created or 0.0)
        events = _EventFile(path)
        try:
            for k in range(len(h)):  # wall time: the run's start plus the seconds spent in steps so far
                events.scalars(first_epoch + k, {"epoch/loss": h.epoch_loss_list[k],
                                                 "epoch/grad_norm": h.epoch_grad_norm_list[k],
                                                 "epoch/time": h.epoch_time_list[k],
                                                 "epoch/samples": h.epoch_samples_list[k]},
                               t0 + float(h.epoch_time_list[k]))
            loss, gnorm, lr = h.step_loss, h.grad_norm, h.lr
            first = int(h.epoch_step_list[0]) if len(h) else 0
            where = step_positions(h)  # aggregated records (past the history's cap) at their bucket's last step
            for s in range(len(loss)):
                events.scalars(first + int(where[s]), {"step/loss": loss[s], "step/grad_norm": gnorm[s],
                                                       "step/lr": lr[s]}, t0)
            metrics = {"hparam/final_loss": float(res.loss), "hparam/best_loss": float(res.best_loss)}
            exp, ssi, sei = hparams_summary({k: v for k, v in hparams(res).items()
                                             if isinstance(v, (int, float, str, bool))}, metrics)
            for summary in (exp, ssi, sei):
                events.summary(summary, 0, t0)
            events.scalars(res.epochs, metrics, t0 + float(res.wall_time or 0.0))
        finally:
            events.close()
        out.append(path)
    return out


def _yaml_scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        text = repr(v)
        if "e" in text and "." not in text.split("e")[0]:  # YAML 1.1 floats need a dot: 1.0e-05, not 1e-05
            mant, exp = text.split("e")
            text = f"{mant}.0e{exp}"
        return text
    s = str(v)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _yaml(d, indent=0) -> list[str]:
    lines = []
    pad = "  " * indent
    for k, v in d.items():
        key = str(k) if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", str(k)) else _yaml_scalar(str(k))
        if isinstance(v, dict):
            if v:
                lines.append(f"{pad}{key}:")
                lines.extend(_yaml(v, indent + 1))
            else:
                lines.append(f"{pad}{key}: {{}}")
        elif isinstance(v, (list, tuple)):
            if not v:
                lines.append(f"{pad}{key}: []")
            elif all(not isinstance(x, (dict, list, tuple)) for x in v):
                lines.append(f"{pad}{key}: [{', '.join(_yaml_scalar(x) for x in v)}]")
            else:
                lines.append(f"{pad}{key}:")
                for x in v:
                    if isinstance(x, dict):
                        sub = _yaml(x, indent + 2)
                        lines.append(f"{pad}  - " + sub[0].lstrip())
                        lines.extend(sub[1:])
                    else:
                        lines.append(f"{pad}  - {_yaml_scalar(str(x))}")
        else:
            lines.append(f"{pad}{key}: {_yaml_scalar(v)}")
    return lines


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)  # exact: read back to the same float64
    return str(v)


def export_csv(store, run_ids, folder) -> list[Path]:
    runs = [store.load(i) for i in run_ids]
    folder = _prepare(folder, "CSV")
    out = []
    for res in runs:
        path = folder / run_folder(res)
        path.mkdir(parents=True, exist_ok=True)
        h = res.history
        first_epoch = res.epochs - (len(h) - 1) if len(h) else 0
        columns = ["epoch", "step", "loss", "grad_norm", "lr", "epoch_loss", "epoch_grad_norm", "epoch_time",
                   "samples"]
        first = int(h.epoch_step_list[0]) if len(h) else 0
        loss, gnorm, lr, sepoch = h.step_loss, h.grad_norm, h.lr, h.step_epoch
        where = step_positions(h)
        with open(path / "metrics.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(columns)
            s = 0
            for k in range(len(h)):
                epoch = first_epoch + k
                while s < len(loss) and int(sepoch[s]) < epoch:  # the steps of the epoch before this boundary
                    w.writerow([int(sepoch[s]), first + int(where[s]), _cell(float(loss[s])), _cell(float(gnorm[s])),
                                _cell(float(lr[s])), "", "", "", ""])
                    s += 1
                gn = h.epoch_grad_norm_list[k]
                w.writerow([epoch, int(h.epoch_step_list[k]), "", "", "", _cell(h.epoch_loss_list[k]),
                            "" if math.isnan(gn) else _cell(gn), _cell(float(h.epoch_time_list[k])),
                            int(h.epoch_samples_list[k])])
            while s < len(loss):
                w.writerow([int(sepoch[s]), first + int(where[s]), _cell(float(loss[s])), _cell(float(gnorm[s])),
                            _cell(float(lr[s])), "", "", "", ""])
                s += 1
        meta = {"run_id": res.id, "name": res.name, "kind": res.kind, "status": res.status, "verdict": res.verdict,
                "message": res.message, **{k: v for k, v in res.config.items() if k != "cli"}}
        (path / "hparams.yaml").write_text("\n".join(_yaml(meta)) + "\n")
        out.append(path)
    return out
