"""Runs that last: a SQLite run store, resume from it, TensorBoard and CSV export, an HTML report.

    store = ds.runs.Store("descend-runs")                  # a folder holding runs.sqlite
    res = ds.minimize(obj, w0, callbacks=[store.recorder(name="exp1")])
    store.list(name="exp1")                                # RunInfo rows, newest first
    res = store.load(run_id)                               # a Result: history, checkpoint, config, verdict
    ds.minimize(obj, w0, epochs=200, resume=res.checkpoint,
                callbacks=[store.recorder(resume=run_id)])  # continue the stored run, bit for bit
    store.export_tensorboard([run_id], "tb-logs"); store.export_csv([run_id], "csv-logs")
    ds.runs.report(store, [run_id], "report.html")

A recorder is a monitor: it writes every epoch boundary (the epoch record, the steps since the
last boundary, the weights and a checkpoint) in one transaction, so a process killed at any
moment keeps every completed epoch; the run reads back as "interrupted".
"""

from __future__ import annotations

from .store import SCHEMA_VERSION, RunInfo, Store, StoredResult
from .recorder import Recorder, describe

__all__ = ["Store", "Recorder", "RunInfo", "StoredResult", "SCHEMA_VERSION", "describe", "report",
           "export_tensorboard", "export_csv"]


def report(store, ids, out):
    """Write one self-contained HTML report of the runs ``ids`` of ``store`` to ``out``; return the path."""
    from .htmlreport import write_report

    return write_report(store, ids, out)


def export_tensorboard(store, ids, logdir):
    return store.export_tensorboard(ids, logdir)


def export_csv(store, ids, folder):
    return store.export_csv(ids, folder)
