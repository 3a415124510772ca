"""The command line's side of the sources: which DATA is streamed, and ``descend convert``.

DATA is streamed (read a chunk at a time within ``--memory``) when it is a Parquet file
(*.parquet, *.parq, *.pq), a folder of them, a glob, or any file given with ``--memory``
(a CSV file, plain or compressed); otherwise the CSV file is read into memory as before.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..cli import cli
from ..errors import ParameterError

PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")


def is_streamed(data, memory) -> bool:
    text = str(data)
    return (memory is not None or Path(text).suffix.lower() in PARQUET_SUFFIXES or Path(text).is_dir()
            or any(ch in text for ch in "*?["))


def open_source(data, target, features=None, memory=None):
    """The source for DATA when it is streamed (see the module docstring), else None."""
    if not is_streamed(data, memory):
        return None
    from . import sources

    memory = sources.DEFAULT_MEMORY if memory is None else memory
    text = str(data)
    p = Path(text)
    if p.suffix.lower() in PARQUET_SUFFIXES or p.is_dir() or any(ch in text for ch in "*?["):
        return sources.parquet(data, target=target, features=features, memory=memory)
    return sources.csv(data, target=target, features=features, memory=memory)


class StreamedTable:
    """What :func:`descend.cli.read_data` returns for streamed DATA: ``X`` is the source (so
    ``LinearRegression(table.X, table.y)`` builds the streamed objective) and ``y`` is None.
    Labels are not mapped: a logistic target must hold 0 and 1."""

    classes = None
    delimiter = ","

    def __init__(self, source, path):
        self.source, self.X, self.y = source, source, None
        self.features, self.target, self.path = source.feature_names, source.target, Path(str(path))

    @property
    def n_rows(self) -> int:
        return self.source.n_rows

    def labels_note(self):
        return None


def open_table(data, target, features=None, memory=None, in_memory: bool = False):
    """DATA as a :class:`StreamedTable` when it is streamed (see the module docstring), else None.
    ``in_memory``: read it whole into a plain table (X, y arrays), refused when it exceeds the budget."""
    source = open_source(data, target, features, memory)
    if source is None:
        return None
    if not in_memory:
        return StreamedTable(source, data)
    need = source.n_rows * source.row_bytes
    if need > source.memory:
        raise ParameterError(f"this command holds its data in memory: {data} needs {need / 1e6:.0f} MB, more than "
                             f"the --memory budget of {source.memory / 1e6:.0f} MB; give a larger --memory, or a "
                             f"sample of the rows.")
    from ..datasets import Table

    X, y = source.to_arrays()
    return Table(X=X, y=y, features=source.feature_names, target=source.target, path=Path(str(data)))


def shuffle_for(source, no_shuffle: bool):
    """The command line's shuffle: file order with --no-shuffle; else the full shuffle in memory,
    ``"block"`` on a streamed Parquet source, file order on a streamed CSV file (read start to end)."""
    if no_shuffle:
        return False
    if source is None:
        return True
    return "block" if source.seekable else False


def progress_for(source, quiet: bool, description: str):
    """A rows/s progress bar on stderr for a streamed fit when stderr is a terminal."""
    if source is None or quiet or not sys.stderr.isatty():
        return []
    from .engine import StreamProgress

    return [StreamProgress(description)]


memory_option = click.option("--memory", default=None,
                             help="Stream DATA in chunks within this budget, e.g. 256MB (default for Parquet, "
                                  "a folder or a glob: 256MB; a CSV file is read into memory unless given).")


@cli.command("convert")
@click.argument("src", type=click.Path(dir_okay=False))
@click.argument("dest", type=click.Path(dir_okay=False))
@click.option("--row-group-rows", default=None, type=int,
              help="Rows per row group (default 65,536, fewer when a row group would exceed 16 MB).")
@click.option("--memory", default="256MB", show_default=True, help="Memory budget of the conversion.")
def convert_cmd(src, dest, row_group_rows, memory):
    """Write the CSV file SRC (plain or compressed) as the Parquet file DEST, once, to stream it fast after.

    Every cell is checked as `descend fit` checks it; a bad cell stops with its file, row and column.
    """
    from .sources import convert

    if row_group_rows is not None and row_group_rows < 1:
        raise ParameterError(f"--row-group-rows must be at least 1; got {row_group_rows}.")
    if Path(dest).suffix.lower() not in PARQUET_SUFFIXES:
        raise ParameterError(f"DEST must end in .parquet (or .parq, .pq); got {dest!r}.")
    info = convert(src, dest, row_group_rows=row_group_rows, memory=memory)
    click.echo(f"wrote {dest}: {info['rows']:,} rows x {len(info['columns'])} columns (float64) in "
               f"{info['row_groups']} row groups of up to {info['row_group_rows']:,} rows, "
               f"{info['bytes'] / 1e6:.1f} MB")
