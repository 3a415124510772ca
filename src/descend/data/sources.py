"""Sources: the rows of a fit, in memory or on disk, handed out in chunks that fit a memory budget.

A source knows ``n_rows``, ``n_features``, ``feature_names`` and ``target`` without reading the
data, and reads *units*: a slice of an in-memory array, a Parquet row group (or a part of one
when a row group alone exceeds the budget's share), a block of a CSV file. Units are the
granularity of ``shuffle="block"`` (a Parquet or array source can read them in any order; a
CSV file only from start to end). A unit comes back as a :class:`Chunk`: the feature columns
(Parquet, CSV: zero-copy views of pyarrow's buffers) or a row-major block (arrays), the target,
and where it came from (file, first row), so that every error names its file, 1-based row and
column.

The budget (``memory="256MB"``) is split so that the process never holds more than it: a unit
is at most 1/6 of it, and at most three are held at once (the one in use, the next one read ahead
by a background thread while the kernels work, and one being read). ``shuffle="block"`` holds two
shuffle buffers of a third of it each (one filled while the steps run through the other) and
one unit being read into them.

What a reader checks, and when: the header, the columns and their types when the source is
made (metadata only); missing values and labels when a chunk is read; non-finite values when
a kernel first sees a non-finite loss on the chunk (then :meth:`Source.explain` names the cell;
the good path pays nothing for it). The messages are those of the in-memory CSV reader,
:func:`descend.datasets.read_csv`.
"""

from __future__ import annotations

import glob as _glob
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, ParameterError

__all__ = ["Source", "Chunk", "Unit", "arrays", "csv", "parquet", "parse_memory", "convert", "DEFAULT_MEMORY",
           "ROW_GROUP_ROWS"]

DEFAULT_MEMORY = "256MB"
UNIT_SHARE = 6       # one unit: at most budget / UNIT_SHARE (three are held at once: in use, queued, being read)
BUFFER_SHARE = 1 / 4  # a shuffle buffer of shuffle="block" (two: one filled while the other is stepped through);
#                       with three units of a sixth, the budget covers all the rows held at once
MIN_MEMORY = 64_000
ROW_GROUP_ROWS = 65536   # `convert` writes row groups of this many rows ...
ROW_GROUP_BYTES = 16e6   # ... or fewer, so that one row group holds at most 16 MB of numbers

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_memory(memory) -> int:
    """A memory budget in bytes: an int, or a size such as "256MB", "1.5GB", "512MiB" (kB/MB/GB are
    powers of 10, KiB/MiB/GiB powers of 2)."""
    if isinstance(memory, (int, np.integer)) and not isinstance(memory, bool):
        value = int(memory)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*)\s*", str(memory).lower())
        if m is None or m.group(2) not in _UNITS:
            raise ParameterError(f"memory must be a size such as '256MB' or '1.5GB' (B, kB, MB, GB, or KiB, MiB, "
                                 f"GiB); got {memory!r}.")
        value = int(float(m.group(1)) * _UNITS[m.group(2)])
    if value < MIN_MEMORY:
        raise ParameterError(f"memory must be at least 64kB; got {memory!r} ({value} bytes).")
    return value


def _fmt_bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


@dataclass(frozen=True)
class Unit:
    """Rows [start, stop) of row group ``group`` of file number ``file`` (arrays: file 0, group 0).
    ``row`` is the 0-based position of its first row in its file."""

    file: int
    group: int
    start: int
    stop: int
    row: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


class Chunk:
    """A block of consecutive rows: ``cols`` (a tuple of 1-D feature columns) or ``X`` (2-D, row-major),
    and ``y``; ``file`` and ``row`` (0-based, in that file) say where the first row came from."""

    __slots__ = ("X", "cols", "y", "file", "row", "keep")

    def __init__(self, y, file, row, X=None, cols=None, keep=None):
        self.X, self.cols, self.y, self.file, self.row, self.keep = X, cols, y, file, row, keep

    @property
    def n(self) -> int:
        return len(self.y)

    def rows(self) -> np.ndarray:
        """The features as a row-major 2-D array (a copy for column chunks)."""
        if self.X is not None:
            return self.X
        return np.ascontiguousarray(np.column_stack(self.cols))


class Source:
    """Base of every source. Subclasses set the attributes below and implement ``_read``/``_units``."""

    _descend_source = True  # how objectives recognise a source without importing this module
    seekable = True         # units can be read in any order (False: CSV, start to end only)
    n_features: int
    feature_names: list
    target: str | None
    dtype: np.dtype
    memory: int

    @property
    def n_rows(self) -> int:
        return self._n_rows

    def __repr__(self):
        return (f"{type(self).__name__}({self.describe()}: {self.n_rows} rows x {self.n_features} features, "
                f"memory {_fmt_bytes(self.memory)})")

    def describe(self) -> str:
        return "arrays"

    # --- sizes from the budget ----------------------------------------------------------------
    @property
    def row_bytes(self) -> int:
        """Bytes of one row (features and target) in the chunks' dtype."""
        return (self.n_features + 1) * self.dtype.itemsize

    @property
    def unit_rows(self) -> int:
        """The most rows one unit holds: budget / 6 of numbers (read as float64 by pyarrow)."""
        return max(1, self.memory // UNIT_SHARE // ((self.n_features + 1) * 8))

    @property
    def buffer_rows(self) -> int:
        """Rows of a shuffle buffer of ``shuffle="block"``: a quarter of the budget (at least one unit); two
        buffers alternate, one filled by a background thread while the steps run through the other."""
        return max(self.unit_rows, int(self.memory * BUFFER_SHARE) // self.row_bytes)

    # --- reading ------------------------------------------------------------------------------
    def units(self) -> list[Unit]:
        """Every unit in file order (from metadata; no data read)."""
        if not self.seekable:
            raise ParameterError(f"{self.describe()} can only be read from start to end.")
        if getattr(self, "_units_cache", None) is None:
            self._units_cache = self._units()
        return self._units_cache

    def read(self, unit: Unit) -> Chunk:
        """The rows of one unit, checked for missing values (and labels, see ``labels``)."""
        return self._read(unit)

    def chunks(self, units=None, prefetch: bool = True):
        """The chunks of ``units`` (default: the whole source in file order), one at a time; with
        ``prefetch`` the next one is read by a background thread while this one is used."""
        gen = self._pass(units)
        return _prefetched(gen) if prefetch else gen

    def _pass(self, units):
        if units is None and not self.seekable:
            yield from self._scan()
            return
        self._begin_pass()
        if units is None:
            yield from self._sequential()
            return
        for u in units:
            yield self.read(u)

    def _sequential(self):
        for u in self.units():
            yield self.read(u)

    def _begin_pass(self):
        """Called before each pass over the units (a Parquet source reopens its files: they may have changed)."""

    def explain(self, chunk: Chunk):
        """Raise the DataError naming the first non-finite cell of ``chunk`` (column by column, as the
        in-memory CSV reader checks); return None when every cell is finite."""
        names = [*self.feature_names, self.target or "y"]
        columns = list(chunk.cols) if chunk.cols is not None else list(np.asarray(chunk.X).T)
        for name, col in zip(names, [*columns, chunk.y]):
            bad = np.flatnonzero(~np.isfinite(col))
            if bad.size:
                r = int(bad[0])
                raise DataError(f"{self._where(chunk)}row {chunk.row + r + 1}, column {name!r} is not a finite "
                                f"number ({float(col[r])!r}).")
        return None

    def _where(self, chunk) -> str:
        return f"{chunk.file}: " if chunk.file else ""

    def target_max(self) -> float:
        """The largest value of the target column (one pass over the chunks; Parquet: its statistics)."""
        return max(float(np.max(c.y)) for c in self.chunks())

    def to_arrays(self):
        """(X, y): every row in memory (for small data; the streamed fit never calls this)."""
        X = np.empty((self.n_rows, self.n_features), dtype=self.dtype)
        y = np.empty(self.n_rows, dtype=self.dtype)
        r = 0
        for c in self.chunks():
            X[r : r + c.n] = c.rows()
            y[r : r + c.n] = c.y
            r += c.n
        return X, y


def _prefetched(gen):
    """Iterate ``gen`` in a background thread, one item ahead (pyarrow and the compiled kernels
    release the GIL, so reading the next chunk overlaps the work on this one). Errors are raised
    in order, where the item would have been; closing the iterator stops the thread."""
    import queue
    import threading

    q = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in gen:
                if not put((0, item)):
                    return
            put((1, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((2, exc))
        finally:
            gen.close()

    thread = threading.Thread(target=work, name="descend-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == 0:
                yield item
            elif kind == 1:
                return
            else:
                raise item
    finally:
        stop.set()
        thread.join()


# ------------------------------------------------------------------------------------- arrays


class ArraySource(Source):
    """X and y in memory, handed out in units of ``unit_rows`` rows (views, no copies)."""

    def __init__(self, X, y, memory=DEFAULT_MEMORY, feature_names=None, target="y"):
        from ..objectives import _check_data

        self.X, self.y = _check_data(X, y, "data.arrays")
        self._n_rows, self.n_features = self.X.shape
        self.dtype = self.X.dtype
        self.memory = parse_memory(memory)
        self.feature_names = list(feature_names) if feature_names is not None else [
            f"x{j}" for j in range(self.n_features)]
        if len(self.feature_names) != self.n_features:
            raise ParameterError(f"feature_names has {len(self.feature_names)} names for {self.n_features} columns.")
        self.target = target

    def _units(self):
        step = self.unit_rows
        return [Unit(0, 0, s, min(s + step, self._n_rows), s) for s in range(0, self._n_rows, step)]

    def _read(self, unit):
        return Chunk(self.y[unit.start : unit.stop], "", unit.start, X=self.X[unit.start : unit.stop])

    def _where(self, chunk):
        return "data.arrays: "


def arrays(X, y, memory=DEFAULT_MEMORY, feature_names=None) -> ArraySource:
    """A source over X (n, d) and y (n,) in memory: the reference the streamed sources are tested against."""
    return ArraySource(X, y, memory=memory, feature_names=feature_names)


# -------------------------------------------------------------------------------- shared checks


def _check_dtype(dtype):
    dt = np.dtype(dtype) if dtype is not None else np.dtype(np.float64)
    if dt not in (np.float64, np.float32):
        raise ParameterError(f"dtype must be float64 or float32; got {dtype!r}.")
    return dt


def _select(path, columns, target, features, sep=","):
    """(features, target) checked against the file's columns, with the in-memory CSV reader's
    messages (:func:`descend.datasets.select_columns`)."""
    from ..datasets import select_columns

    if target is None or not isinstance(target, str):
        raise ParameterError(f"target must be a column name; got {target!r}.")
    return select_columns(path, columns, target, features, sep)


def _too_few(path, n):
    if n < 2:
        raise DataError(f"{path}: needs at least 2 data rows to fit; found {n}.")


def _column_values(col, dtype):
    """A pyarrow (chunked) numeric column as a NumPy array of ``dtype``: a zero-copy view when it can be."""
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        col = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    if col.type != (pa.float64() if dtype == np.float64 else pa.float32()):
        values = np.asarray(col.to_numpy(zero_copy_only=False), dtype=dtype)
        values.flags.writeable = False  # like the zero-copy views: one array type for the compiled kernels
        return values
    return col.to_numpy(zero_copy_only=True)


def _first_null(col) -> int:
    import pyarrow as pa

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return int(np.flatnonzero(np.asarray(arr.is_null()))[0])


# ------------------------------------------------------------------------------------- parquet


def _resolve(path) -> list[Path]:
    """The files of a Parquet source: a file, the Parquet files of a folder (sorted), or a glob's matches."""
    text = str(path)
    p = Path(text)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(f) for f in _glob.glob(text, recursive=True) if Path(f).is_file())
        if not files:
            raise DataError(f"{text}: the pattern matches no files.")
        return files
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith((".", "_"))
                       and f.suffix.lower() in (".parquet", ".parq", ".pq"))
        if not files:
            raise DataError(f"{p}: is a directory without Parquet files (*.parquet); give a CSV file, a Parquet "
                            f"file, or a folder of Parquet files.")
        return files
    if not p.exists():
        raise DataError(f"{p}: no such file.")
    return [p]


def _schema_difference(a, b) -> str:
    """How schema ``b`` differs from ``a``, in words."""
    ta, tb = {f.name: f.type for f in a}, {f.name: f.type for f in b}
    for name in ta:
        if name not in tb:
            return f"it has no column {name!r}"
    for name in tb:
        if name not in ta:
            return f"it has a column {name!r} the other has not"
    for name in ta:
        if ta[name] != tb[name]:
            return f"its column {name!r} holds {tb[name]} where the other holds {ta[name]}"
    return "its columns are in another order"


class ParquetSource(Source):
    """One Parquet file, a folder of them or a glob, read with pyarrow a row group at a time."""

    def __init__(self, path, target, features=None, memory=DEFAULT_MEMORY, dtype="float64"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = str(path)
        self.memory = parse_memory(memory)
        self.dtype = _check_dtype(dtype)
        self.files = _resolve(path)
        self._meta = []
        first = None
        for f in self.files:
            try:
                pf = pq.ParquetFile(f)
            except (pa.ArrowException, OSError) as exc:
                raise DataError(f"{f}: cannot be read as Parquet ({_reason(exc)}).") from None
            schema = pf.schema_arrow
            if first is None:
                first = (f, schema)
            elif not schema.equals(first[1], check_metadata=False):
                raise DataError(f"{f} and {first[0]} have different columns ({_schema_difference(first[1], schema)}); "
                                f"every file of a folder or glob must have the same columns and types.")
            md = pf.metadata
            self._meta.append([md.row_group(g).num_rows for g in range(md.num_row_groups)])
        columns = list(first[1].names)
        self.feature_names, self.target = _select(self.path if len(self.files) > 1 else self.files[0], columns,
                                                  target, features)
        types = {f.name: f.type for f in first[1]}
        for name in [*self.feature_names, self.target]:
            t = types[name]
            if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
                    or pa.types.is_decimal(t)):
                raise DataError(f"{first[0]}: column {name!r} holds {t}, not numbers.")
        self.n_features = len(self.feature_names)
        self._n_rows = sum(sum(groups) for groups in self._meta)
        _too_few(self.path, self._n_rows)
        self._columns = [*self.feature_names, self.target]
        self._open_file = (None, None)

    def describe(self):
        return self.path if len(self.files) == 1 else f"{self.path} ({len(self.files)} files)"

    def target_max(self) -> float:
        """From the row groups' statistics when every one has them (nothing read), else a pass."""
        import pyarrow.parquet as pq

        top = -math.inf
        for f in self.files:
            md = pq.ParquetFile(f).metadata
            j = md.schema.to_arrow_schema().get_field_index(self.target)
            for g in range(md.num_row_groups):
                st = md.row_group(g).column(j).statistics
                if st is None or not st.has_min_max or st.null_count:
                    return super().target_max()
                top = max(top, float(st.max))
        return top

    def _units(self):
        cap = self.unit_rows
        out = []
        for i, groups in enumerate(self._meta):
            row = 0
            for g, rows in enumerate(groups):
                for s in range(0, rows, cap):
                    out.append(Unit(i, g, s, min(s + cap, rows), row + s))
                row += rows
        return out

    def _begin_pass(self):
        self._open_file = (None, None)

    def _sequential(self):
        """File order: a row group larger than a unit is streamed once, in unit-sized parts."""
        units = self.units()
        i = 0
        while i < len(units):
            j = i
            while j + 1 < len(units) and (units[j + 1].file, units[j + 1].group) == (units[i].file, units[i].group):
                j += 1
            if j == i:
                yield self.read(units[i])
            else:
                yield from self._read_parts(units[i : j + 1])
            i = j + 1

    def _file(self, i):
        import pyarrow.parquet as pq

        if self._open_file[0] != i:
            # buffered reads: never pre-buffer a whole (maybe huge) row group
            self._open_file = (i, pq.ParquetFile(self.files[i], buffer_size=1 << 20, pre_buffer=False))
        return self._open_file[1]

    def _batches(self, unit):
        """pyarrow record batches of unit-size parts of ``unit``'s row group, from its start."""
        return self._file(unit.file).iter_batches(batch_size=self.unit_rows, row_groups=[unit.group],
                                                  columns=self._columns, use_threads=True)

    def _failed(self, unit, exc):
        self._open_file = (None, None)
        return DataError(f"{self.files[unit.file]}: cannot read row group {unit.group} (rows {unit.row + 1} to "
                         f"{unit.row + unit.rows}): {_reason(exc)}.")

    def _read(self, unit):
        import pyarrow as pa

        try:
            if unit.start == 0 and unit.stop == self._meta[unit.file][unit.group]:
                table = self._file(unit.file).read_row_group(unit.group, columns=self._columns, use_threads=True)
            else:  # a part of a row group larger than the unit size: stream the group up to it
                parts, at = [], 0
                for batch in self._batches(unit):
                    lo, hi = max(unit.start, at), min(unit.stop, at + batch.num_rows)
                    if lo < hi:
                        parts.append(batch.slice(lo - at, hi - lo))
                    at += batch.num_rows
                    if at >= unit.stop:
                        break
                table = pa.Table.from_batches(parts, schema=parts[0].schema) if parts else None
        except (pa.ArrowException, OSError) as exc:
            raise self._failed(unit, exc) from None
        return self._chunk(unit, table)

    def _read_parts(self, units):
        """The units of one row group (consecutive parts), streamed in one pass over the group."""
        import pyarrow as pa

        it = iter(units)
        unit, at, parts = next(it), 0, []
        try:
            for batch in self._batches(unit):
                while batch.num_rows:
                    take = min(unit.stop - at, batch.num_rows)
                    parts.append(batch.slice(0, take))
                    batch, at = batch.slice(take), at + take
                    if at == unit.stop:
                        yield self._chunk(unit, pa.Table.from_batches(parts))
                        parts, unit = [], next(it, None)
                        if unit is None:
                            return
        except (pa.ArrowException, OSError) as exc:
            raise self._failed(unit, exc) from None
        raise self._chunk(unit, None)  # the group ended early: the error of a short read

    def _chunk(self, unit, table):
        path = self.files[unit.file]
        if table is None or table.num_rows != unit.rows:
            raise DataError(f"{path}: row group {unit.group} has fewer rows than the {unit.stop} its metadata "
                            f"promised; was the file changed while it was read?")
        values = []
        for name in self._columns:
            col = table.column(name)
            if col.null_count:
                r = _first_null(col)
                raise DataError(f"{path}: row {unit.row + r + 1}, column {name!r} is empty.")
            values.append(_column_values(col, self.dtype))
        return Chunk(values[-1], str(path), unit.row, cols=tuple(values[:-1]), keep=table)


def parquet(path, target, features=None, memory=DEFAULT_MEMORY, dtype="float64") -> ParquetSource:
    """A Parquet source: ``path`` is a file, a folder of ``*.parquet`` files (sorted by name) or a glob.

    Only the ``features`` (default: every column but the target) and ``target`` columns are read,
    as ``dtype`` (float64 or float32). Every file must have the same columns and types. The row
    count and the columns come from the files' metadata; no data is read here.
    """
    return ParquetSource(path, target, features=features, memory=memory, dtype=dtype)


# ----------------------------------------------------------------------------------------- csv


def _reason(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_EMPTY = ("", "nan", "NaN", "NA", "null")


def _convert_text(path, row0, name, texts, dtype):
    """The in-memory reader's rule for one column of text cells: strip, parse, every value finite;
    else the DataError naming the file, 1-based row and column of the first bad cell."""
    import pandas as pd

    text = pd.Series(texts, dtype=object).astype(str).str.strip()
    number = pd.to_numeric(text, errors="coerce")
    values = number.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        cell = text.iloc[r]
        what = "is empty" if cell in _EMPTY else f"is not a finite number ({cell!r})"
        if re.fullmatch(r"[+-]?\d+,\d+", cell):
            what += "; a decimal comma? descend reads '.' as the decimal mark"
        raise DataError(f"{path}: row {row0 + r + 1}, column {name!r} {what}.")
    return values.astype(dtype)


class CsvSource(Source):
    """A CSV file (plain, or compressed: .gz, .bz2, ... by its extension) streamed with pyarrow's reader.

    Read from start to end only (``seekable`` is False): a full-batch fit, or mini-batches in file
    order (``shuffle=False``). ``n_rows`` costs one pass over the file the first time it is asked.
    """

    seekable = False

    def __init__(self, path, target, features=None, memory=DEFAULT_MEMORY, dtype="float64"):
        self.path = Path(path)
        self.memory = parse_memory(memory)
        self.dtype = _check_dtype(dtype)
        if not self.path.exists():
            raise DataError(f"{self.path}: no such file.")
        if self.path.is_dir():
            raise DataError(f"{self.path}: is a directory, not a CSV file.")
        from ..datasets import _header

        raw, self.sep = _header(self.path)
        names = [c.strip() for c in raw]
        while len(names) > 1 and names[-1] == "":  # "a,b,y," : a trailing delimiter, not a column
            names.pop()
        self._raw = dict(zip(names, raw))
        self.feature_names, self.target = _select(self.path, names, target, features, self.sep)
        self.n_features = len(self.feature_names)
        self._n_rows = None

    def describe(self):
        return str(self.path)

    @property
    def block_bytes(self) -> int:
        return int(min(max(self.memory // (2 * UNIT_SHARE), 1 << 14), 1 << 30))

    @property
    def n_rows(self) -> int:
        if self._n_rows is None:  # one pass, one column as text: the rows are counted, not checked
            import pyarrow as pa

            first = self._raw[self.target]
            n = 0
            for batch in self._reader({first: pa.string()}):
                n += batch.num_rows
            _too_few(self.path, n)
            self._n_rows = n
        return self._n_rows

    def _reader(self, types):
        import pyarrow as pa
        import pyarrow.csv as pc

        try:
            return pc.open_csv(str(self.path), read_options=pc.ReadOptions(block_size=self.block_bytes),
                               parse_options=pc.ParseOptions(delimiter=self.sep),
                               convert_options=pc.ConvertOptions(column_types=types, include_columns=list(types),
                                                                 strings_can_be_null=False, null_values=[]
                                                                 if all(t == pa.string() for t in types.values())
                                                                 else None))
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{self.path}: cannot be read as CSV ({_reason(exc)}).") from None

    def _scan(self):
        """Every chunk in file order. Good path: pyarrow parses the numbers; a block it cannot parse
        (or with missing cells) switches the rest of the pass to the text path, which reads cells as
        text and applies the in-memory reader's rule, naming the first bad cell exactly."""
        import pyarrow as pa

        names = [*self.feature_names, self.target]
        kind = pa.float64() if self.dtype == np.float64 else pa.float32()
        reader = self._reader({self._raw[c]: kind for c in names})
        row = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, ValueError):
                yield from self._scan_text(row)
                return
            except (pa.ArrowException, OSError) as exc:
                raise DataError(f"{self.path}: cannot be read as CSV after row {row} ({_reason(exc)}).") from None
            cols = [batch.column(self._raw[c]) for c in names]
            if any(c.null_count for c in cols):
                yield from self._scan_text(row)
                return
            values = [c.to_numpy(zero_copy_only=True) for c in cols]
            yield Chunk(values[-1], str(self.path), row, cols=tuple(values[:-1]), keep=batch)
            row += batch.num_rows
        if self._n_rows is None:
            _too_few(self.path, row)
            self._n_rows = row

    def _text_batches(self, start):
        """Text batches of the selected columns, from 0-based data row ``start`` on: (first row, batch)."""
        import pyarrow as pa

        reader = self._reader({self._raw[c]: pa.string() for c in [*self.feature_names, self.target]})
        row = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as exc:
                raise DataError(f"{self.path}: cannot be read as CSV after row {row} ({_reason(exc)}).") from None
            if row + batch.num_rows > start:
                skip = max(0, start - row)
                yield row + skip, batch.slice(skip)
            row += batch.num_rows

    def _scan_text(self, start):
        names = [*self.feature_names, self.target]
        for row, batch in self._text_batches(start):
            values = [_convert_text(self.path, row, c, batch.column(self._raw[c]).to_pylist(), self.dtype)
                      for c in names]
            yield Chunk(values[-1], str(self.path), row, cols=tuple(values[:-1]))

    def explain(self, chunk):
        """The first non-finite cell of ``chunk``, named as the in-memory reader names it (from the text)."""
        names = [*self.feature_names, self.target]
        end = chunk.row + chunk.n
        for row, batch in self._text_batches(chunk.row):
            batch = batch.slice(0, max(0, end - row))
            for c in names:
                _convert_text(self.path, row, c, batch.column(self._raw[c]).to_pylist(), self.dtype)
            if row + batch.num_rows >= end:
                break
        return None


def csv(path, target, features=None, memory=DEFAULT_MEMORY, dtype="float64") -> CsvSource:
    """A CSV source streamed with pyarrow's reader (compressed files by extension: .gz, .bz2, ...).

    The header is read here; the rows when the fit reads them. A bad cell stops the read with the
    in-memory reader's message (file, 1-based row, column). CSV is read from start to end, so
    ``shuffle="block"`` needs a Parquet copy: :func:`convert` once, then stream the Parquet file.
    """
    return CsvSource(path, target, features=features, memory=memory, dtype=dtype)


# ------------------------------------------------------------------------------------- convert


def convert(src, dest, row_group_rows: int | None = None, memory=DEFAULT_MEMORY) -> dict:
    """Write CSV ``src`` (plain or compressed) as the Parquet file ``dest``, streaming in bounded memory.

    Every column is converted (numbers as float64 after the in-memory reader's checks: a bad cell
    stops with its file, row and column). Row groups hold ``row_group_rows`` rows (default:
    65,536, or fewer so that a row group is at most 16 MB of numbers), the unit that
    ``shuffle="block"`` permutes. Returns {"rows", "columns", "row_group_rows", "row_groups", "bytes"}.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..datasets import _header

    if not Path(src).exists():
        raise DataError(f"{src}: no such file.")
    if Path(src).is_dir():
        raise DataError(f"{src}: is a directory, not a CSV file.")
    names = [c.strip() for c in _header(Path(src))[0]]
    while len(names) > 1 and names[-1] == "":
        names.pop()
    if row_group_rows is None:
        row_group_rows = int(max(1024, min(ROW_GROUP_ROWS, ROW_GROUP_BYTES // (8 * len(names)))))
    elif not isinstance(row_group_rows, (int, np.integer)) or row_group_rows < 1:
        raise ParameterError(f"row_group_rows must be a positive integer; got {row_group_rows!r}.")
    source = CsvSource(src, target=names[-1], features=names[:-1], memory=memory)
    dest = Path(dest)
    schema = pa.schema([(n, pa.float64()) for n in names])
    rows, groups = 0, 0
    pending, pending_rows = [], 0
    tmp = dest.with_name(dest.name + ".partial")
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            def flush(final=False):
                nonlocal pending, pending_rows, groups
                table = pa.Table.from_batches(pending, schema=schema) if pending else None
                while table is not None and (table.num_rows >= row_group_rows or (final and table.num_rows)):
                    writer.write_table(table.slice(0, row_group_rows), row_group_size=row_group_rows)
                    groups += 1
                    table = table.slice(row_group_rows)
                pending = table.to_batches() if table is not None and table.num_rows else []
                pending_rows = table.num_rows if table is not None else 0

            for chunk in source.chunks():
                arrays = [pa.array(c, type=pa.float64()) for c in (*chunk.cols, chunk.y)]
                pending.append(pa.record_batch(arrays, schema=schema))
                pending_rows += chunk.n
                rows += chunk.n
                if pending_rows >= row_group_rows:
                    flush()
            flush(final=True)
        tmp.replace(dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return {"rows": rows, "columns": names, "row_group_rows": row_group_rows, "row_groups": groups,
            "bytes": dest.stat().st_size}
