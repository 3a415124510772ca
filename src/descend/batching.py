"""Which rows each step sees.

The row order of an epoch is a pure function of (seed, epoch): ``shuffle=False`` is the
lecture's sequential order 0, 1, ..., n-1; ``shuffle=True`` is a permutation drawn from
``np.random.default_rng([seed, epoch])``, so a resumed run sees the same batches as an
uninterrupted one. Batches are consecutive slices of that order; the last batch of an
epoch is shorter when ``batch_size`` does not divide n.
"""

from __future__ import annotations

import numpy as np

from .errors import ParameterError

__all__ = ["epoch_order", "batch_slices", "check_batch_size", "check_shuffle", "steps_per_epoch", "BLOCK_ROWS"]


BLOCK_ROWS = 1024  # rows per block of shuffle="block"


def epoch_order(n: int, epoch: int, seed: int, shuffle: bool | str = True) -> np.ndarray:
    """The row indices of one epoch, in the order they are visited.

    ``shuffle="block"`` is a cheaper, cache-friendly shuffle for large data: the rows are cut
    into blocks of BLOCK_ROWS consecutive rows, the blocks are visited in a random order, and
    the rows inside each block in a random order too: one random permutation of 0..1023 per
    epoch, rotated by a random offset per block. Every row is still seen once per epoch, but
    rows close in the file stay close in time, so do not use it on data sorted by target.
    """
    check_shuffle(shuffle)
    if shuffle == "block":
        rng = np.random.default_rng([seed, epoch])
        n_blocks = -(-n // BLOCK_ROWS)
        blocks = rng.permutation(n_blocks)
        inside = rng.permutation(BLOCK_ROWS)
        shifts = rng.integers(0, BLOCK_ROWS, size=n_blocks)
        order = (blocks[:, None] * BLOCK_ROWS + (inside[None, :] + shifts[:, None]) % BLOCK_ROWS).ravel()
        return order[order < n] if n % BLOCK_ROWS else order
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)


def check_shuffle(shuffle):
    """``shuffle`` must be True, False or "block"; a ParameterError otherwise."""
    if not (isinstance(shuffle, (bool, np.bool_)) or shuffle == "block"):
        raise ParameterError(f"shuffle must be True, False or 'block'; got {shuffle!r}.")
    return shuffle


def check_batch_size(batch_size, n_samples: int | None) -> int | None:
    """``batch_size`` as an int in [1, n], or None for full batch; a ParameterError otherwise."""
    if batch_size is None or n_samples is None:
        if batch_size is not None and batch_size != 1:
            raise ParameterError(f"batch_size must be None for an objective without rows; got {batch_size!r}.")
        return None
    ok = isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool)
    if not ok or not 1 <= batch_size <= n_samples:
        raise ParameterError(f"batch_size must be an integer from 1 to the number of rows ({n_samples}), "
                             f"or None for full batch; got {batch_size!r}.")
    return int(batch_size)


def steps_per_epoch(n_samples: int | None, batch_size: int | None) -> int:
    """ceil(n / batch_size); one step for full batch or an objective without rows."""
    if n_samples is None or batch_size is None:
        return 1
    return -(-n_samples // batch_size)


def batch_slices(n: int, batch_size: int | None):
    """The slices of the epoch order that make its batches: [0:B], [B:2B], ..., the last maybe shorter."""
    b = n if batch_size is None else batch_size
    return [slice(s, min(s + b, n)) for s in range(0, n, b)]
