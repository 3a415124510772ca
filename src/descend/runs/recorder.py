"""The recorder: a monitor that writes a run into a :class:`~descend.runs.Store` as it goes.

At every epoch boundary it commits, in one transaction, the new epoch record(s), the per-step
records taken since the last boundary, the current and best weights and a checkpoint of the
loop (weights, optimizer state, epoch, seed), so a process killed at any moment keeps every
completed epoch and can be resumed from the last. At the end it writes the result: status,
verdict, message, the final weights and ``Result.checkpoint`` (stored as opaque JSON).

Also here: the run's configuration as the store keeps it (:func:`describe`), and the way back
from that configuration to an optimizer (:func:`rebuild_optimizer`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import uuid

import numpy as np

from .. import optim, schedules
from ..errors import StoreError
from ..monitors import Monitor
from .store import _real, check_id, host_pid, pack, to_json

__all__ = ["Recorder", "describe", "describe_objective", "describe_data", "fingerprint", "optimizer_config",
           "rebuild_optimizer", "step_chunks", "step_positions", "bucket_block", "add_buckets"]

FULL_HASH_BYTES = 1 << 22  # data up to 4 MB is hashed whole; larger data by evenly spaced rows
SAMPLE_ROWS = 4096


# ------------------------------------------------------------------------------ configuration


def fingerprint(X, y=None) -> dict:
    """A SHA-256 fingerprint of the data: shapes, dtypes and the bytes of every row (data up to
    4 MB) or of 4096 evenly spaced rows, the first and the last among them (larger data: cheap
    next to a fit, and any change of shape, dtype or of those rows shows)."""
    X = np.asarray(X)
    h = hashlib.sha256()
    h.update(f"X{X.shape}{X.dtype.str}".encode())
    if y is not None:
        y = np.asarray(y)
        h.update(f"y{y.shape}{y.dtype.str}".encode())
    n = len(X) if X.ndim else 1
    nbytes = X.nbytes + (0 if y is None else y.nbytes)
    if nbytes <= FULL_HASH_BYTES or n <= SAMPLE_ROWS:
        rows, of = slice(None), "all rows"
    else:
        rows, of = np.linspace(0, n - 1, SAMPLE_ROWS).astype(np.int64), f"{SAMPLE_ROWS} evenly spaced rows of {n}"
    h.update(np.ascontiguousarray(X[rows]).tobytes())
    if y is not None:
        h.update(np.ascontiguousarray(y[rows]).tobytes())
    return {"fingerprint": "sha256:" + h.hexdigest()[:32], "fingerprint_of": of}


def describe_data(X, y=None, **extra) -> dict:
    """The data part of a configuration: rows, features, dtype and the fingerprint, plus ``extra``."""
    X = np.asarray(X)
    out = {"rows": int(X.shape[0]) if X.ndim else 1, "features": int(X.shape[1]) if X.ndim == 2 else 1,
           "dtype": str(X.dtype), **fingerprint(X, y)}
    out.update(extra)
    return out


def describe_source(source) -> dict:
    """The data part of a configuration for a source of :mod:`descend.data`: its size and place,
    and a fingerprint of its arrays (in memory) or of its files' names, sizes and modification
    times (on disk: reading them again would cost a pass over the data)."""
    out = {"rows": int(source.n_rows), "features": int(source.n_features),
           "dtype": str(getattr(source, "dtype", "")), "source": str(source.describe())[:300]}
    X, y = getattr(source, "X", None), getattr(source, "y", None)
    if isinstance(X, np.ndarray):
        out.update(fingerprint(X, y if isinstance(y, np.ndarray) else None))
        return out
    files = getattr(source, "files", None) or ([source.path] if getattr(source, "path", None) else [])
    h = hashlib.sha256()
    for f in map(str, files):
        try:
            st = os.stat(f)
            h.update(f"{os.path.abspath(f)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{f}|missing\n".encode())
    out.update({"fingerprint": "sha256:" + h.hexdigest()[:32],
                "fingerprint_of": f"the names, sizes and modification times of {len(files)} file(s)"})
    return out


def describe_objective(objective) -> tuple[dict, dict]:
    """(objective, data) descriptions of an objective."""
    obj = {"kind": type(objective).__name__, "n_params": objective.n_params, "n_samples": objective.n_samples}
    if hasattr(objective, "bias"):
        obj["bias"] = bool(objective.bias)
    X, y = getattr(objective, "X", None), getattr(objective, "y", None)
    source = getattr(objective, "source", None)
    if getattr(source, "_descend_source", False):  # a streamed source of descend.data
        return obj, describe_source(source)
    if isinstance(X, np.ndarray):
        data = describe_data(X, y if isinstance(y, np.ndarray) else None)
    elif objective.n_samples is None:
        data = {"function": str(getattr(objective, "name", "") or repr(objective))[:200]}
    else:
        data = {"rows": objective.n_samples, "source": repr(objective)[:200]}
    return obj, data


def _value(v):
    """A hyper-parameter as JSON: numbers as they are, built-in schedules as their fields."""
    if dataclasses.is_dataclass(v) and isinstance(v, schedules.Schedule):
        return {"schedule": type(v).__name__,
                **{f.name: _value(getattr(v, f.name)) for f in dataclasses.fields(v)}}
    if callable(v):
        return {"schedule": "custom", "repr": repr(v)[:200]}
    if isinstance(v, (tuple, list)):
        return [_value(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def optimizer_config(opt) -> dict:
    """The optimizer's name, class and hyper-parameters (the learning rate or schedule included)."""
    return {"name": opt.name, "class": type(opt).__name__,
            "params": {k: _value(v) for k, v in opt.params().items()}}


def _schedule_text(lr) -> str:
    return "constant" if not callable(lr) or isinstance(lr, schedules.constant) else repr(lr)


def describe(objective, optimizer, batch_size, seed, epochs, shuffle=True, backend="", extra=None) -> dict:
    """The configuration the store keeps for a run: objective kind and data (with a fingerprint),
    optimizer and hyper-parameters, schedule, batch size, seed, epochs, shuffle, backend and the
    descend version, updated by ``extra``."""
    from .. import __version__

    obj, data = describe_objective(objective) if objective is not None else ({}, {})
    config = {"objective": obj, "data": data, "optimizer": optimizer_config(optimizer),
              "schedule": _schedule_text(optimizer.lr), "batch_size": batch_size, "seed": seed, "epochs": epochs,
              "shuffle": shuffle, "backend": backend, "descend_version": __version__}
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(config.get(k), dict):
            config[k] = {**config[k], **v}
        else:
            config[k] = v
    return config


class _Recorded:
    """The learning rate of each step as recorded (for a run whose schedule was a custom function)."""

    def __init__(self, lrs, text):
        self.lrs, self.text = np.asarray(lrs, dtype=np.float64), text

    def __call__(self, k):
        finite = self.lrs[np.isfinite(self.lrs)]
        if not len(finite):
            return 1.0
        return float(finite[min(int(k), len(finite) - 1)])

    def __repr__(self):
        return f"recorded({self.text})"


def _build(v):
    if isinstance(v, dict) and "schedule" in v:
        cls = getattr(schedules, v["schedule"], None)
        if not (isinstance(cls, type) and issubclass(cls, schedules.Schedule)):
            raise LookupError(v.get("repr", v["schedule"]))
        return cls(**{k: _build(x) for k, x in v.items() if k != "schedule"})
    if isinstance(v, list):
        return tuple(_build(x) for x in v)
    return v


def rebuild_optimizer(config, history=None):
    """The optimizer a stored configuration describes; a custom schedule becomes the recorded rates."""
    if not config:
        return None
    cls = getattr(optim, config.get("class", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, optim.Optimizer)):
        return None
    params = dict(config.get("params", {}))
    try:
        params = {k: _build(v) for k, v in params.items()}
    except LookupError as exc:
        lrs = history.lr if history is not None else np.ones(1)
        params = {k: _build(v) for k, v in params.items() if k != "lr"}
        params["lr"] = _Recorded(lrs, str(exc.args[0]))
    return cls(**params)


# ------------------------------------------------------------------------------------ records


def step_chunks(history, start: int):
    """The per-step records the history holds from chunk ``start`` on, as
    ``(epoch, loss, grad_norm, lr)`` chunks (one per epoch), and the next start."""
    chunks = getattr(history, "_steps", None)
    if isinstance(chunks, list):
        return [(int(c[3]), c[0], c[1], c[2]) for c in chunks[start:]], len(chunks)
    # any other History: its public per-step arrays, split by epoch (start counts steps here)
    loss, gnorm, lr, epoch = history.step_loss, history.grad_norm, history.lr, history.step_epoch
    out, i = [], start
    while i < len(loss):
        j = i + int(np.searchsorted(epoch[i:], epoch[i], side="right"))
        out.append((int(epoch[i]), loss[i:j], gnorm[i:j], lr[i:j]))
        i = j
    return out, len(loss)


def step_positions(history) -> np.ndarray:
    """The (1-based) number of the last step each per-step value covers: 1, 2, 3, ... for whole
    records; a bucket's last step for aggregated ones (``History.step_index``)."""
    index = getattr(history, "step_index", None)
    if index is not None:
        return np.asarray(index, dtype=np.int64)
    return np.arange(1, len(history.step_loss) + 1)


def bucket_block(history):
    """(columns, (k, n) float64 block) of the history's aggregated buckets, or None while every step is whole."""
    if not getattr(history, "aggregated", False):
        return None
    buckets = history.step_buckets
    columns = list(buckets)
    return columns, np.stack([np.asarray(buckets[c], dtype=np.float64) for c in columns])


def add_buckets(history, epoch, columns, data):
    """Append aggregated per-step records read from the store (count, mean, min, max of the loss
    and gradient norm, last lr and epoch per bucket) to a history, after its whole records."""
    push = getattr(history, "_push", None)
    if push is None or not hasattr(history, "_FIELDS"):
        raise StoreError("this run holds aggregated per-step records that this version of descend cannot read; "
                         "upgrade descend.")
    b = dict(zip(columns, data))
    if history._buckets is None:
        history._buckets = np.zeros((len(history._FIELDS), history.max_buckets))
    if history._open is not None:
        push(history._open)
        history._open = None
    counts = b["count"]
    if len(counts):
        history._size = max(history._size, int(counts.max()))
    for j in range(len(counts)):
        c = float(counts[j])
        push(np.array([c, b["loss_mean"][j] * c, b["loss_min"][j], b["loss_max"][j], b["grad_norm_mean"][j] * c,
                       b["grad_norm_min"][j], b["grad_norm_max"][j], b["lr_last"][j], b["epoch_last"][j]]))


def _boundary_row(rid, epoch, h, i, time_offset):
    return (rid, epoch, _real(h.epoch_loss_list[i]), _real(h.epoch_grad_norm_list[i]),
            float(h.epoch_time_list[i]) + time_offset, int(h.epoch_step_list[i]), int(h.epoch_samples_list[i]),
            pack(h.w_list[i]))


def _checkpoint(run) -> dict:
    """What ``minimize(..., resume=...)`` needs to continue from this boundary: the loop's own
    checkpoint when it can give one at a boundary (``run.checkpoint()``), else the same keys as
    ``Result.checkpoint``: weights, optimizer state, epoch, seed and the best weights seen."""
    own = getattr(run, "checkpoint", None)
    if callable(own):
        return own()
    return {"w": run.w.tolist(), "state": run.state.to_dict(), "epoch": int(run.epoch), "seed": run.seed,
            "best_w": None if run.best_w is None else run.best_w.tolist(), "best_loss": float(run.best_loss),
            "best_epoch": int(run.best_epoch)}


class Recorder(Monitor):
    """Records the run it is passed to into ``store`` (see :meth:`Store.recorder`).

    After the run, ``run_id`` is the stored run's id. Put it last among the callbacks: its
    per-epoch checkpoint (the loop's own, monitors' state included) is taken when it is called, so
    monitors after it (a ``ReduceLROnPlateau`` cut, say) would not be in it yet. The final
    checkpoint is ``Result.checkpoint`` as ``minimize`` returns it.
    """

    def __init__(self, store, name: str = "", config: dict | None = None, resume=None, kind: str = "fit"):
        self.store = store
        self.name = str(name or "")
        self.extra = dict(config or {})
        self.resume_id = None if resume is None else check_id(resume)
        self.kind = kind
        self.run_id = None
        self.conn = None
        self._lock_fd = None
        self._token = None

    # -- the lock that says "alive"

    def _take_lock(self):
        self._token = uuid.uuid4().hex
        try:
            import fcntl
        except ImportError:
            return
        self.store.lock_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.store.lock_dir / f"{self._token}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def _release(self):
        if self._lock_fd is not None:
            try:
                os.unlink(self.store.lock_dir / f"{self._token}.lock")
            except OSError:
                pass
            os.close(self._lock_fd)  # after the final status is committed: never seen as dead while finishing
            self._lock_fd = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __del__(self):  # a run that raised out of minimize: free the lock so that readers see it interrupted
        try:
            self._release()
        except Exception:
            pass

    # -- hooks

    def on_start(self, run):
        self._release()
        try:
            self._start(run)
        except BaseException:
            self._release()  # nothing recorded: free the connection and the lock now
            raise

    def _start(self, run):
        self.conn = self.store.connect(create=True)
        self._take_lock()
        host, pid = host_pid()
        config = describe(run.objective, run.optimizer, run.batch_size, run.seed, run.epochs,
                          shuffle=getattr(run, "shuffle", True), backend=getattr(run, "backend", ""), extra=self.extra)
        self._start_epoch = int(run.epoch)
        self._written, self._chunk, self._time_offset, self._wall_offset = 0, 0, 0.0, 0.0
        self._bucket_seq = None
        if self.resume_id is None:
            self.run_id = self.conn.write(lambda db: db.execute(
                "INSERT INTO runs (name, kind, created, status, config, lock, host, pid) "
                "VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
                (self.name, self.kind, time.time(), to_json(config), self._token, host, pid)).lastrowid)
            self._seq = 0
        else:
            self._continue(config, host, pid)

    def _continue(self, config, host, pid):
        rid, start = self.resume_id, self._start_epoch
        self.store._reap(self.conn)

        def tx(db):
            row = db.execute("SELECT status, config, wall_time FROM runs WHERE id = ?", (rid,)).fetchone()
            if row is None:
                raise self.store._missing(rid)
            status, stored, wall = row[0], json.loads(row[1]), row[2]
            if status == "running":
                raise StoreError(f"{self.store.path}: run {rid} is still being recorded by a live process; "
                                 f"resume it once that process has ended.")
            old, new = stored.get("data", {}), config.get("data", {})
            if old.get("fingerprint") and new.get("fingerprint") and old["fingerprint"] != new["fingerprint"]:
                raise StoreError(f"run {rid} was recorded on other data: the fingerprint of "
                                 f"{old.get('fingerprint_of', 'the data')} was {old['fingerprint']}, now "
                                 f"{new['fingerprint']}; resume it on the same data.")
            last = db.execute("SELECT max(epoch) FROM epochs WHERE run_id = ?", (rid,)).fetchone()[0]
            if last is None or start > last:
                raise StoreError(f"run {rid} has epochs up to {last}, but the checkpoint to resume from is at epoch "
                                 f"{start}; pass resume=store.load({rid}).checkpoint.")
            t = db.execute("SELECT time FROM epochs WHERE run_id = ? AND epoch = ?", (rid, start)).fetchone()
            self._time_offset = float(t[0]) if t and t[0] is not None else 0.0
            self._wall_offset = float(wall or 0.0)
            for table in ("epochs", "steps", "buckets"):
                db.execute(f"DELETE FROM {table} WHERE run_id = ? AND epoch >= ?", (rid, start))
            seq = max(db.execute(f"SELECT coalesce(max(seq), -1) FROM {t} WHERE run_id = ?", (rid,)).fetchone()[0]
                      for t in ("steps", "buckets"))
            merged = {**stored, "epochs": config["epochs"],
                      "resumed": [*stored.get("resumed", []), {"from_epoch": start, "at": time.time()}]}
            db.execute("UPDATE runs SET status = 'running', finished = NULL, lock = ?, host = ?, pid = ?, config = ? "
                       "WHERE id = ?", (self._token, host, pid, to_json(merged), rid))
            return seq + 1

        self._seq = self.conn.write(tx)
        self.run_id = rid

    def on_epoch(self, run):
        self._flush(run)
        return None

    def on_end(self, run, result):
        try:
            self._flush(run, result)
        finally:
            self._release()

    # -- writing

    def _rows(self, history):
        rid = self.run_id
        boundaries = [_boundary_row(rid, self._start_epoch + i, history, i, self._time_offset)
                      for i in range(self._written, len(history))]
        chunks, nxt = step_chunks(history, self._chunk)
        steps = []
        for j, (epoch, loss, gnorm, lr) in enumerate(chunks):
            block = np.stack([np.asarray(loss, float), np.asarray(gnorm, float), np.asarray(lr, float)])
            steps.append((rid, self._seq + j, epoch, block.shape[1], pack(block)))
        buckets = []
        agg = bucket_block(history)
        if agg is not None:  # past the history's cap: its buckets, rewritten whole (they merge as they fill)
            if self._bucket_seq is None:
                self._bucket_seq = self._seq + len(steps)
            columns, block = agg
            epoch = int(block[columns.index("epoch_last")][0]) if "epoch_last" in columns and block.shape[1] else 0
            buckets.append((rid, self._bucket_seq, epoch, block.shape[1], ",".join(columns), pack(block)))
        return boundaries, steps, buckets, nxt

    def _flush(self, run, result=None):
        h = run.history
        boundaries, steps, buckets, nxt = self._rows(h)
        rid = self.run_id
        best = (None if run.best_w is None else pack(run.best_w), _real(run.best_loss), int(run.best_epoch))
        if result is None:
            update = ("UPDATE runs SET epochs = ?, steps = ?, loss = ?, w = ?, best_w = ?, best_loss = ?, "
                      "best_epoch = ?, checkpoint = ? WHERE id = ?",
                      (int(run.epoch), int(h.epoch_step_list[-1]), _real(h.epoch_loss_list[-1]), pack(run.w), *best,
                       to_json(_checkpoint(run)), rid))
        else:
            update = ("UPDATE runs SET status = ?, verdict = ?, message = ?, reason = ?, finished = ?, epochs = ?, "
                      "steps = ?, loss = ?, wall_time = ?, w = ?, best_w = ?, best_loss = ?, best_epoch = ?, "
                      "checkpoint = ?, lock = NULL WHERE id = ?",
                      (result.status, result.verdict, result.message, result.reason, time.time(), int(result.epochs),
                       int(result.steps), _real(result.loss), float(result.wall_time) + self._wall_offset,
                       pack(result.w), *best, to_json(result.checkpoint), rid))

        def tx(db):
            db.executemany("INSERT OR REPLACE INTO epochs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", boundaries)
            db.executemany("INSERT INTO steps VALUES (?, ?, ?, ?, ?)", steps)
            db.executemany("INSERT OR REPLACE INTO buckets VALUES (?, ?, ?, ?, ?, ?)", buckets)
            db.execute(*update)

        self.conn.write(tx)
        self._written = len(h)
        self._chunk = nxt
        self._seq += len(steps)
        if self._bucket_seq is not None:  # the buckets' row comes after every whole record of this history
            self._seq = max(self._seq, self._bucket_seq + 1)

    # -- a finished result, after the fact

    def save(self, result, objective=None) -> int:
        """Write a finished Result in one transaction (see :meth:`Store.save`); return its id."""
        h = result.history
        ckpt = result.checkpoint or {}
        self._start_epoch = int(ckpt.get("epoch", result.epochs)) - (len(h) - 1) if len(h) else 0
        config = describe(objective, result.optimizer, result.batch_size, result.seed, result.epochs,
                          backend=result.backend, extra=self.extra)
        host, pid = host_pid()
        conn = self.store.connect(create=True)
        self._written, self._chunk, self._seq, self._time_offset, self._bucket_seq = 0, 0, 0, 0.0, None
        try:
            def tx(db):
                now = time.time()
                self.run_id = db.execute(
                    "INSERT INTO runs (name, kind, created, finished, status, verdict, message, reason, config, host, "
                    "pid, epochs, steps, loss, wall_time, w, best_w, best_loss, best_epoch, checkpoint) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.name, self.kind, now - float(result.wall_time), now, result.status, result.verdict,
                     result.message, result.reason, to_json(config), host, pid, int(result.epochs), int(result.steps),
                     _real(result.loss), float(result.wall_time), pack(result.w), None, None, None,
                     to_json(ckpt))).lastrowid
                boundaries, steps, buckets, _ = self._rows(h)
                db.executemany("INSERT INTO epochs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", boundaries)
                db.executemany("INSERT INTO steps VALUES (?, ?, ?, ?, ?)", steps)
                db.executemany("INSERT INTO buckets VALUES (?, ?, ?, ?, ?, ?)", buckets)
                if len(h):
                    i = int(np.nanargmin(np.where(np.isfinite(h.epoch_loss), h.epoch_loss, np.inf)))
                    db.execute("UPDATE runs SET best_w = ?, best_loss = ?, best_epoch = ? WHERE id = ?",
                               (pack(h.w_list[i]), _real(h.epoch_loss_list[i]), self._start_epoch + i, self.run_id))
                return self.run_id

            return conn.write(tx)
        finally:
            conn.close()
