"""The run store: one SQLite database, ``runs.sqlite``, in a folder.

Per run it holds the id, name, kind, created and finished times, status, verdict and message,
the configuration (JSON), every epoch-boundary record (one row each), the per-step records as
the history kept them (float64 blocks, one per epoch), the final and best weights and the
checkpoint (opaque JSON). Writers use ``BEGIN IMMEDIATE`` transactions in WAL mode with a busy
timeout and retries, so several processes can record into one store at once.

A run being recorded has status "running" and holds an advisory lock (``locks/<token>.lock``,
``fcntl.flock``) for as long as its process lives; the kernel drops the lock when the process
dies, even by SIGKILL. Whoever next reads the store finds the lock free and marks the run
"interrupted": every epoch committed before the kill is kept, with the checkpoint of the last.

The schema has a version (``PRAGMA user_version``) and a migration path (:data:`MIGRATIONS`,
applied in order in one transaction); a database from a newer descend is refused, never
rewritten.
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import ParameterError, StoreError
from ..loop import History, Result

__all__ = ["Store", "RunInfo", "StoredResult", "SCHEMA_VERSION", "MIGRATIONS", "FILE"]

FILE = "runs.sqlite"
APPLICATION_ID = 0x64736E64  # "dsnd", in the database header: this file is a descend run store
LOCK_WAIT = 120.0  # seconds a writer keeps retrying a busy database before giving up

_V1 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    created REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,
    verdict TEXT,
    message TEXT,
    reason TEXT,
    config TEXT NOT NULL,
    lock TEXT,
    host TEXT,
    pid INTEGER,
    epochs INTEGER NOT NULL DEFAULT 0,
    steps INTEGER NOT NULL DEFAULT 0,
    loss REAL,
    wall_time REAL,
    w BLOB,
    best_w BLOB,
    best_loss REAL,
    best_epoch INTEGER,
    checkpoint TEXT
);
CREATE TABLE epochs (
    run_id INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    loss REAL,
    grad_norm REAL,
    time REAL,
    step INTEGER,
    samples INTEGER,
    w BLOB,
    PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;
CREATE TABLE steps (
    run_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    n INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID
"""

# version 2: per-step records kept as aggregates past the history's cap (count, mean, min, max
# per bucket; named columns), and an index for listing by date.
_V2 = """
CREATE TABLE buckets (
    run_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    n INTEGER NOT NULL,
    columns TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE INDEX runs_created ON runs (created)
"""

MIGRATIONS = {1: _V1, 2: _V2}  # version -> the statements that bring version - 1 to it
SCHEMA_VERSION = max(MIGRATIONS)
STEP_COLUMNS = ("loss", "grad_norm", "lr")
_SQLITE_MAGIC = b"SQLite format 3\x00"


# ---------------------------------------------------------------------------------- low level


def pack(a) -> bytes:
    """float64 little-endian bytes of ``a`` (NaN and infinities kept, unlike SQLite's REAL)."""
    return np.ascontiguousarray(a, dtype="<f8").tobytes()


def unpack(b, shape=None) -> np.ndarray:
    a = np.frombuffer(b, dtype="<f8").astype(np.float64)
    return a if shape is None else a.reshape(shape)


def _real(x):
    """A float for a REAL column (SQLite stores NaN as NULL; read back by :func:`_float`)."""
    return None if x is None or math.isnan(x) else float(x)


def _float(x):
    return math.nan if x is None else float(x)


def to_json(obj) -> str:
    """JSON text of a checkpoint or configuration: NumPy scalars and arrays as numbers and lists."""
    def default(o):
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, (set, tuple)):
            return list(o)
        if isinstance(o, Path):
            return str(o)
        raise TypeError(type(o).__name__)

    try:
        return json.dumps(obj, default=default)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"the run store keeps configurations and checkpoints as JSON; a {exc} in it cannot "
                             f"be stored (give numbers, strings, lists or dicts).") from None


class _Retry:
    """Retry a database call while another process holds the write lock (after SQLite's own busy
    timeout), with jittered exponential back-off, for at most LOCK_WAIT seconds."""

    def __init__(self, path):
        self.path = path
        self.jitter = random.Random()  # jitter only; never the global random state

    def __call__(self, fn):
        delay, deadline = 0.005, time.monotonic() + LOCK_WAIT
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if "locked" not in text and "busy" not in text:
                    raise
                if time.monotonic() > deadline:
                    raise StoreError(f"{self.path}: the database stayed locked by another process for more than "
                                     f"{LOCK_WAIT:g} s; try again later.") from None
                time.sleep(delay * (0.5 + self.jitter.random()))
                delay = min(delay * 2, 0.25)


class Connection:
    """A SQLite connection to a store, with write transactions that retry while the database is busy."""

    def __init__(self, path: Path):
        self.path = path
        self.retry = _Retry(path)
        self.db = sqlite3.connect(str(path), timeout=10.0, isolation_level=None, check_same_thread=False)

    def write(self, fn):
        """Run ``fn(db)`` in one ``BEGIN IMMEDIATE`` transaction: all of it is committed or none."""
        def attempt():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                out = fn(self.db)
                self.db.execute("COMMIT")
                return out
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise

        return self.retry(attempt)

    def read(self, fn):
        """Run ``fn(db)`` in one read transaction (a consistent snapshot while writers go on)."""
        def attempt():
            self.db.execute("BEGIN")
            try:
                return fn(self.db)
            finally:
                if self.db.in_transaction:
                    self.db.execute("COMMIT")

        return self.retry(attempt)

    def close(self):
        self.db.close()


def _statements(script):
    return [s.strip() for s in script.split(";") if s.strip()]


def _snapshot(db):
    """(schema version, application id, number of schema objects), read together."""
    return (db.execute("PRAGMA user_version").fetchone()[0], db.execute("PRAGMA application_id").fetchone()[0],
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])


def _check(conn: Connection, v, app, objects):
    if v > SCHEMA_VERSION:
        raise StoreError(f"{conn.path}: the run store has schema version {v}, newer than this descend "
                         f"understands ({SCHEMA_VERSION}); upgrade descend to read it (nothing was changed).")
    if (v > 0 and app != APPLICATION_ID) or (v == 0 and objects):
        raise StoreError(f"{conn.path}: is a SQLite database but not a descend run store; use another folder "
                         f"(nothing was changed).")


def inspect(conn: Connection) -> int:
    """The schema version of the database, after checking (without writing) that descend may use it.
    One read transaction: another process may be creating the store at this very moment."""
    v, app, objects = conn.read(_snapshot)
    _check(conn, v, app, objects)
    return v


def migrate(conn: Connection, upto: int = SCHEMA_VERSION):
    """Bring the database to schema version ``upto`` (default: this descend's), in one transaction.

    An empty database gets every migration; a descend store of an older version gets the
    missing ones; a newer version or a database that is not a descend store is refused.
    """
    if inspect(conn) >= upto:
        return

    def step(db):
        v, app, objects = _snapshot(db)  # again, under the write lock: another process may have migrated meanwhile
        _check(conn, v, app, objects)
        if v == 0:
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for k in range(v + 1, upto + 1):
            for stmt in _statements(MIGRATIONS[k]):
                db.execute(stmt)
        if v < upto:
            db.execute(f"PRAGMA user_version = {upto}")

    conn.write(step)


# ------------------------------------------------------------------------------------- records


@dataclass
class RunInfo:
    """One row of :meth:`Store.list`: what a run is and how it ended, without its records."""

    id: int
    name: str
    kind: str
    status: str
    verdict: str
    message: str
    created: float
    finished: float | None
    epochs: int
    steps: int
    loss: float
    wall_time: float | None
    config: dict = field(repr=False)

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created, tz=timezone.utc)


@dataclass(eq=False)
class StoredResult(Result):
    """A :class:`~descend.loop.Result` read back from a store, with the run's record around it.

    ``status`` may also be "running" (still being recorded) or "interrupted" (its process ended
    without finishing it: ``w`` and ``checkpoint`` are then those of the last recorded epoch).
    """

    id: int = 0
    name: str = ""
    kind: str = "fit"
    created: float = 0.0
    finished: float | None = None
    config: dict = field(default_factory=dict, repr=False)
    best_w: np.ndarray | None = field(default=None, repr=False)
    best_loss: float = math.nan
    best_epoch: int = 0


_INFO_COLUMNS = "id, name, kind, status, verdict, message, created, finished, epochs, steps, loss, wall_time, config"


def _info(row) -> RunInfo:
    (rid, name, kind, status, verdict, message, created, finished, epochs, steps, loss, wall, config) = row
    return RunInfo(int(rid), name, kind, status, verdict or "", message or "", created, finished, int(epochs or 0),
                   int(steps or 0), _float(loss), wall, json.loads(config))


def _timestamp(value, what) -> float:
    """Seconds since the epoch from a datetime, a date (midnight UTC), an ISO string or a number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ParameterError(f"{what} must be a date or time like 2026-11-29 or 2026-11-29T18:00; "
                                 f"got {value!r}.") from None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    raise ParameterError(f"{what} must be a datetime, a date or an ISO string; got {type(value).__name__}.")


def check_id(run_id) -> int:
    """A run id as an int, or a ParameterError naming what was given."""
    if isinstance(run_id, (int, np.integer)) and not isinstance(run_id, bool):
        return int(run_id)
    if isinstance(run_id, str) and run_id.strip().isdigit():
        return int(run_id.strip())
    raise ParameterError(f"a run id is a whole number such as 7 (see `descend runs list`); got {run_id!r}.")


# ----------------------------------------------------------------------------------- the store


class Store:
    """A folder holding ``runs.sqlite``. Nothing is created or opened until first use.

    ``recorder(name=...)`` records a run as it goes (a monitor for ``minimize``); ``save``
    records a finished result; ``list``, ``info``, ``load`` and ``delete`` read and remove;
    ``export_tensorboard`` and ``export_csv`` write the runs for other tools.
    """

    def __init__(self, folder="descend-runs"):
        self.folder = Path(folder)
        self.path = self.folder / FILE

    def __repr__(self):
        return f"Store({str(self.folder)!r})"

    # -- connections

    def _check_folder(self):
        if self.folder.exists() and not self.folder.is_dir():
            raise StoreError(f"{self.folder}: is a file, not a run store folder; give another folder "
                             f"(--runs DIR).")
        if self.path.exists():
            if self.path.is_dir():
                raise StoreError(f"{self.path}: is a folder, not a run store database; give another folder "
                                 f"(--runs DIR).")
            with open(self.path, "rb") as f:
                head = f.read(len(_SQLITE_MAGIC))
            if head and head != _SQLITE_MAGIC:
                raise StoreError(f"{self.path}: is not a SQLite database (damaged, or another kind of file); "
                                 f"nothing was changed: move it away or give another folder (--runs DIR).")

    def connect(self, create: bool = False) -> Connection | None:
        """An open, migrated connection; None when the store does not exist and ``create`` is False."""
        self._check_folder()
        if not self.path.exists():
            if not create:
                return None
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self.folder}: cannot create the run store folder ({exc.strerror}).") from None
        try:
            conn = Connection(self.path)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot be opened ({exc}).") from None
        try:
            inspect(conn)  # before anything that writes: a foreign or newer database is left as it is
            mode = conn.retry(lambda: conn.db.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            if mode.lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch the database to WAL mode (got {mode!r}).")
            conn.db.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: a killed process loses no commit
            migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._damaged(exc) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _damaged(self, exc) -> StoreError:
        return StoreError(f"{self.path}: the run store database is damaged ({exc}); nothing was changed: move it "
                          f"away or give another folder (--runs DIR).")

    def _run(self, fn, create=False, default=None):
        """Call ``fn(conn)`` on a fresh connection, turning SQLite's errors into one StoreError sentence."""
        conn = self.connect(create=create)
        if conn is None:
            return default
        try:
            return fn(conn)
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None
        finally:
            conn.close()

    # -- locks: a live recorder holds one; a free lock on a "running" run means its process died

    @property
    def lock_dir(self) -> Path:
        return self.folder / "locks"

    def _alive(self, token) -> bool:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): never declare a run dead
            return True
        if not token:
            return False
        try:
            fd = os.open(self.lock_dir / f"{token}.lock", os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops our own lock, if we took it
        return False

    def _reap(self, conn: Connection):
        """Mark "interrupted" every "running" run whose recording process is gone."""
        rows = conn.db.execute("SELECT id, lock, epochs FROM runs WHERE status = 'running'").fetchall()
        for rid, token, epochs in rows:
            if self._alive(token):
                continue
            message = (f"interrupted: the process recording this run ended before it finished; the {epochs} "
                       f"completed epoch{'s' if epochs != 1 else ''} and the checkpoint of the last are kept "
                       f"(resume with `descend fit --resume {rid}` or minimize(..., resume=run.checkpoint)).")
            changed = conn.write(lambda db: db.execute(
                "UPDATE runs SET status = 'interrupted', verdict = 'interrupted', message = ?, lock = NULL "
                "WHERE id = ? AND status = 'running' AND lock IS ?", (message, rid, token)).rowcount)
            if changed and token:
                try:
                    os.unlink(self.lock_dir / f"{token}.lock")
                except OSError:
                    pass

    # -- recording

    def recorder(self, name: str = "", config: dict | None = None, resume=None, kind: str = "fit"):
        """A monitor that records the run it is passed to: ``minimize(..., callbacks=[store.recorder(name=...)])``.

        ``config`` adds to the configuration it describes by itself (data file, target, command
        line, ...). ``resume=ID`` continues stored run ID instead of starting a new one: pass
        ``resume=store.load(ID).checkpoint`` to ``minimize`` as well.
        """
        from .recorder import Recorder

        return Recorder(self, name=name, config=config, resume=resume, kind=kind)

    def save(self, result, name: str = "", objective=None, config: dict | None = None, kind: str = "fit") -> int:
        """Record a finished ``Result`` after the fact (its history, weights and checkpoint); return its id."""
        from .recorder import Recorder

        rec = Recorder(self, name=name or getattr(result, "label", ""), config=config, kind=kind)
        return rec.save(result, objective)

    # -- reading

    def list(self, name: str | None = None, status: str | None = None, since=None, until=None,
             kind: str | None = None) -> list[RunInfo]:
        """The runs, newest first. ``name`` is an exact name or a glob (``exp*``); ``status`` one status
        or several (comma-separated or a list); ``since``/``until`` datetimes, dates or ISO strings
        bound the creation time (``until`` is exclusive)."""
        where, args = [], []
        if name is not None:
            where.append("name GLOB ?")
            args.append(str(name))
        if status is not None:
            statuses = [s.strip() for s in (status.split(",") if isinstance(status, str) else status) if s.strip()]
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args.extend(statuses)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if since is not None:
            where.append("created >= ?")
            args.append(_timestamp(since, "since"))
        if until is not None:
            where.append("created < ?")
            args.append(_timestamp(until, "until"))
        sql = f"SELECT {_INFO_COLUMNS} FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += " ORDER BY created DESC, id DESC"

        def fn(conn):
            self._reap(conn)
            return [_info(r) for r in conn.read(lambda db: db.execute(sql, args).fetchall())]

        return self._run(fn, default=[])

    def _missing(self, rid) -> StoreError:
        return StoreError(f"{self.path}: no run with id {rid}; `descend runs list --runs {self.folder}` shows the "
                          f"ids.")

    def info(self, run_id) -> RunInfo:
        rid = check_id(run_id)

        def fn(conn):
            self._reap(conn)
            row = conn.read(lambda db: db.execute(f"SELECT {_INFO_COLUMNS} FROM runs WHERE id = ?", (rid,)).fetchone())
            return row

        row = self._run(fn)
        if row is None:
            raise self._missing(rid)
        return _info(row)

    def load(self, run_id) -> StoredResult:
        """The run as a :class:`StoredResult` (a ``Result``): history, weights, checkpoint, config, verdict."""
        rid = check_id(run_id)

        def snapshot(db):
            run = db.execute("SELECT name, kind, created, finished, status, verdict, message, reason, config, "
                             "epochs, steps, loss, wall_time, w, best_w, best_loss, best_epoch, checkpoint "
                             "FROM runs WHERE id = ?", (rid,)).fetchone()
            if run is None:
                return None
            epochs = db.execute("SELECT epoch, loss, grad_norm, time, step, samples, w FROM epochs "
                                "WHERE run_id = ? ORDER BY epoch", (rid,)).fetchall()
            steps = db.execute("SELECT seq, epoch, n, data FROM steps WHERE run_id = ? ORDER BY seq",
                               (rid,)).fetchall()
            buckets = db.execute("SELECT seq, epoch, n, columns, data FROM buckets WHERE run_id = ? ORDER BY seq",
                                 (rid,)).fetchall()
            return run, epochs, steps, buckets

        def fn(conn):
            self._reap(conn)
            return conn.read(snapshot)

        got = self._run(fn)
        if got is None:
            raise self._missing(rid)
        return _result(rid, *got)

    def delete(self, run_id) -> None:
        """Remove a run and all its records (a running run cannot be deleted)."""
        rid = check_id(run_id)

        def fn(conn):
            self._reap(conn)

            def rm(db):
                row = db.execute("SELECT status FROM runs WHERE id = ?", (rid,)).fetchone()
                if row is None:
                    raise self._missing(rid)
                if row[0] == "running":
                    raise StoreError(f"{self.path}: run {rid} is still being recorded by a live process; "
                                     f"delete it once that process has ended.")
                for table in ("epochs", "steps", "buckets"):
                    db.execute(f"DELETE FROM {table} WHERE run_id = ?", (rid,))
                db.execute("DELETE FROM runs WHERE id = ?", (rid,))

            conn.write(rm)

        if self._run(fn, default=False) is False:
            raise self._missing(rid)

    # -- exports

    def export_tensorboard(self, run_ids, logdir) -> list[Path]:
        """TensorBoard event files (tensorboardX), one subfolder per run; return the subfolders."""
        from .export import export_tensorboard

        return export_tensorboard(self, run_ids, logdir)

    def export_csv(self, run_ids, folder) -> list[Path]:
        """Lightning's CSV layout, ``metrics.csv`` and ``hparams.yaml`` per run; return the subfolders."""
        from .export import export_csv

        return export_csv(self, run_ids, folder)


def host_pid():
    return socket.gethostname(), os.getpid()


# ------------------------------------------------------------------------------ back to Result


def _result(rid, run, epochs, steps, buckets) -> StoredResult:
    (name, kind, created, finished, status, verdict, message, reason, config, n_epochs, n_steps, loss, wall,
     w, best_w, best_loss, best_epoch, checkpoint) = run
    config = json.loads(config)
    history = History()
    for epoch, e_loss, e_gnorm, e_time, e_step, e_samples, e_w in epochs:
        history.add_boundary(_float(e_loss), _float(e_gnorm), unpack(e_w), e_time or 0.0, int(e_step or 0),
                             int(e_samples or 0))
    chunks = [(seq, "steps", epoch, n, data, None) for seq, epoch, n, data in steps]
    chunks += [(seq, "buckets", epoch, n, data, cols) for seq, epoch, n, cols, data in buckets]
    for seq, what, epoch, n, data, cols in sorted(chunks, key=lambda c: c[0]):
        if what == "steps":
            a = unpack(data, (len(STEP_COLUMNS), n))
            history.add_steps(a[0], a[1], a[2], int(epoch))
        else:
            from .recorder import add_buckets

            add_buckets(history, int(epoch), cols.split(","), unpack(data, (len(cols.split(",")), n)))
    history.wall_time = wall or 0.0
    if hasattr(history, "steps_taken"):
        history.steps_taken = int(n_steps or 0)
    checkpoint = json.loads(checkpoint) if checkpoint else {}
    w_final = unpack(w) if w is not None else (history.w_list[-1] if history.w_list else np.zeros(0))
    from .recorder import rebuild_optimizer

    optimizer = rebuild_optimizer(config.get("optimizer"), history)
    res = StoredResult(w=w_final, loss=_float(loss), status=status, message=message or "", history=history,
                       epochs=int(n_epochs or 0), steps=int(n_steps or 0), optimizer=optimizer,
                       batch_size=config.get("batch_size"), seed=config.get("seed", 0), wall_time=wall or 0.0,
                       checkpoint=checkpoint, label=name, reason=reason or "", verdict=verdict or "",
                       backend=config.get("backend", ""), id=rid, name=name, kind=kind, created=created,
                       finished=finished, config=config, best_w=None if best_w is None else unpack(best_w),
                       best_loss=_float(best_loss), best_epoch=int(best_epoch or 0))
    return res
