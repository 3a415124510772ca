"""Row chunks on a Dask cluster as the data of a linear objective.

    import dask.array as da, descend as ds
    src = ds.data.dask(X, y)                     # dask arrays, chunked along rows
    src = ds.data.dask(frame, target="y")        # a dask DataFrame (e.g. dd.read_parquet(...))
    obj = ds.LinearRegression(src)               # or LogisticRegression(src, l2=1e-3), SoftmaxRegression(src)
    res = ds.minimize(obj, w0, optimizer=ds.optim.Adam(lr=0.1), epochs=50)

``minimize`` then runs on the cluster (see :mod:`descend.engines.dask`): the chunks are
persisted on the workers once, and

- **full batch** (``batch_size=None``), every optimizer: each step is one pass in which every
  chunk computes its (loss, gradient) sums with the compiled kernel, a tree sum on the workers
  and one round trip; the optimizer updates the weights on the client. The numbers are the
  in-memory fit's to rounding (1e-10 relative in the tests).
- **mini-batch and per-sample** (``batch_size=k``): *local SGD with model averaging*, a
  different algorithm from single-machine mini-batch SGD. The chunks are dealt to ``groups``
  model replicas (chunk i to replica i mod groups; default one replica per worker thread); each
  replica runs the in-memory kernel over its own chunks (chunk order from (seed, epoch), rows
  within a chunk from (seed, epoch, chunk)), and every ``sync`` local steps (default: once per
  epoch) the replicas' weights and optimizer state are averaged, weighted by the steps each
  took. With one replica it is sequential SGD over the chunks' row orders.

Which scheduler: the ``client`` given here, else the current ``distributed.Client`` (the one a
``with Client(...)`` block or ``Client(...)`` made), else dask's default scheduler in this
process (threads). Validation (non-finite values, labels) happens on the cluster, in the same
pass that persists the chunks, the first time an objective needs the data.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..errors import DataError, ParameterError

__all__ = ["dask", "DaskSource"]


def dask(X, y=None, *, target: str | None = None, features=None, client=None, groups: int | None = None,
         sync="epoch") -> "DaskSource":
    """A source of rows held on a Dask cluster.

    Parameters
    ----------
    X : a 2-D dask array (rows x features, chunked along rows; column chunks are merged), or a
        dask DataFrame (then give ``target``; ``y`` must be None).
    y : a 1-D dask array (or NumPy array) of targets, one per row of X; rechunked to X's rows.
    target, features : for a DataFrame: the column to predict and the feature columns (a list;
        default every column but the target).
    client : a ``distributed.Client`` to run on (default: the current one, else dask's default
        scheduler in this process).
    groups : mini-batch runs: the number of model replicas that run local SGD side by side
        (default: the cluster's worker threads, at most one per chunk).
    sync : mini-batch runs: average the replicas every ``sync`` local steps, or "epoch"
        (default) once per epoch.
    """
    import dask.array as da

    if groups is not None:
        from ..errors import check_positive

        groups = check_positive("groups", groups, integer=True)
    if not (sync == "epoch" or (isinstance(sync, numbers.Integral) and not isinstance(sync, bool) and sync >= 1)):
        raise ParameterError(f"sync must be a positive number of steps or 'epoch'; got {sync!r}.")
    if _is_frame(X):
        if y is not None:
            raise ParameterError("ds.data.dask(frame, ...) takes the target as a column name: "
                                 "use target='y' instead of passing y.")
        X, y, names = _from_frame(X, target, features)
    else:
        if target is not None or features is not None:
            raise ParameterError("target= and features= are for a dask DataFrame; with arrays, pass X and y.")
        X, y, names = _from_arrays(X, y, da)
    return DaskSource(X, y, names, client=client, groups=groups, sync=sync)


def _is_frame(X) -> bool:
    return hasattr(X, "columns") and hasattr(X, "npartitions") and hasattr(X, "dtypes")


def _numeric(dtype) -> bool:
    return getattr(dtype, "kind", "O") in "biuf"


def _from_frame(frame, target, features):
    columns = [str(c) for c in frame.columns]
    if not isinstance(target, str):
        raise ParameterError(f"target must be the name of a column of the DataFrame; got {target!r}.")
    if target not in columns:
        raise DataError(f"the target column {target!r} is not in the data; its columns are {', '.join(columns)}.")
    if features is None:
        features = [c for c in columns if c != target]
    elif isinstance(features, str):
        raise ParameterError(f"features must be a list of column names; got the string {features!r}.")
    features = [str(f) for f in features]
    missing = [f for f in features if f not in columns]
    if missing:
        raise DataError(f"the feature column {missing[0]!r} is not in the data; its columns are {', '.join(columns)}.")
    if target in features:
        raise ParameterError(f"the target column {target!r} is also listed among the features.")
    if not features:
        raise DataError("there are no feature columns: the data has only the target column.")
    for name in [*features, target]:
        if not _numeric(frame.dtypes[name]):
            raise DataError(f"column {name!r} is not numeric (dtype {frame.dtypes[name]}); descend fits numeric "
                            f"columns only: encode it or leave it out of features.")
    dtype = np.float32 if all(frame.dtypes[f] == np.float32 for f in features) else np.float64
    # one array of features and target (so their chunks agree), its chunk lengths counted once
    table = frame[[*features, target]].astype(dtype)
    if hasattr(table, "optimize"):  # dask-expr: fix the partitions first (reading may merge small files)
        table = table.optimize()
    both = table.to_dask_array(lengths=True)
    return both[:, :-1], both[:, -1], features


def _from_arrays(X, y, da):
    if not isinstance(X, da.Array):
        raise ParameterError(f"ds.data.dask needs a dask array or a dask DataFrame; got {type(X).__name__} "
                             f"(for data in memory use the objective directly, e.g. LinearRegression(X, y)).")
    if y is None:
        raise ParameterError("ds.data.dask(X, y): y is missing (or pass a DataFrame with target=).")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise DataError(f"X must be a 2-D array (rows, features); got shape {X.shape}.")
    if not isinstance(y, da.Array):
        y = np.asarray(y)
        if y.ndim == 1 and not any(np.isnan(X.chunks[0])):
            y = da.from_array(y, chunks=(X.chunks[0],))
        else:
            y = da.from_array(y)
    if y.ndim != 1:
        raise DataError(f"y must be a 1-D array; got shape {y.shape}.")
    if not _numeric(X.dtype) or not _numeric(y.dtype):
        raise DataError(f"X and y must be numeric; got dtypes {X.dtype} and {y.dtype}.")
    if any(np.isnan(X.chunks[0])):
        X = X.compute_chunk_sizes()
    if any(np.isnan(y.chunks[0])):
        y = y.compute_chunk_sizes()
    if X.shape[0] != y.shape[0]:
        raise DataError(f"X has {X.shape[0]} rows but y has {y.shape[0]} values.")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"X is empty (shape {X.shape}); need at least one row and one column.")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})  # a chunk holds whole rows
    if y.chunks[0] != X.chunks[0]:
        y = y.rechunk((X.chunks[0],))
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    return X.astype(dtype), y.astype(dtype), [f"x{i}" for i in range(X.shape[1])]


class DaskSource:
    """Rows in chunks on a Dask cluster: ``n_rows``, ``n_features``, ``feature_names``, ``chunks``.

    Made by :func:`dask`. An objective built on it (``ds.LinearRegression(src)``) runs every
    pass over the rows on the cluster; the chunks are persisted there once, on first use, and
    shared by every objective on this source.
    """

    def __init__(self, X, y, feature_names, client=None, groups=None, sync="epoch"):
        self.X, self.y = X, y
        self.n_rows, self.n_features = int(X.shape[0]), int(X.shape[1])
        self.feature_names = list(feature_names)
        self.chunks = tuple(int(c) for c in X.chunks[0])
        self.client = client
        self.groups = groups
        self.sync = sync
        self._store = None  # the persisted chunks (descend.engines.dask.Chunks), made on first use

    def __repr__(self):
        return (f"DaskSource({self.n_rows} rows x {self.n_features} features in {len(self.chunks)} chunks"
                f"{', sync=' + repr(self.sync) if self.sync != 'epoch' else ''})")

    def persisted(self):
        """The chunks on the cluster (persisted and checked on the first call)."""
        if self._store is None or not self._store.alive():  # first use, or its Client was closed since
            from ..engines.dask import Chunks

            self._store = Chunks(self)
        return self._store

    def objective_class(self, model_class):
        """The class of ``model_class`` (LinearRegression, LogisticRegression, SoftmaxRegression)
        that runs on this source: the objectives' constructors call this when given a source
        instead of arrays."""
        from ..engines.dask import objective_class

        return objective_class(model_class)
