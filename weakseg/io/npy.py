"""``.npy`` arrays read and written row by row with plain file I/O, so memory stays flat.

A memory map keeps every page it touched resident (and counted in the process's RSS) until it
is closed, so a stage that streams a 5 GB tile array through ``np.load(mmap_mode="r")`` shows
a 5 GB peak RSS: what a cluster's memory limit counts. :class:`NpyRows` reads the rows asked
for with ``readinto`` and keeps nothing; :class:`NpyWriter` appends rows in order. Both use
NumPy's own header format (``numpy.lib.format``), so the files stay ordinary ``.npy`` files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from weakseg.io.errors import WeaksegError


class NpyRows:
    """A C-ordered ``.npy`` file of shape (N, ...) read by rows without a memory map.

    ``rows[i]`` (an int) is one row; ``rows[a:b]`` (a step-1 slice) and ``rows[list or
    array of ints]`` are stacked rows, read as contiguous runs. ``len``, ``shape`` and
    ``dtype`` are those of the array. Each read returns a new array; nothing is cached.

    Raises:
        WeaksegError: the file is missing or not a C-ordered ``.npy`` array of at least 1 dimension.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            with open(self.path, "rb") as handle:
                version = np.lib.format.read_magic(handle)
                read_header = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(handle)
                self._offset = handle.tell()
        except (OSError, ValueError) as error:
            raise WeaksegError(f"{self.path}: not a readable .npy array ({error})") from None
        if fortran or not shape or dtype.hasobject:
            raise WeaksegError(f"{self.path}: expected a C-ordered array with rows, got shape {shape}")
        self.shape, self.dtype = tuple(shape), dtype
        self._row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, start: int, count: int) -> np.ndarray:
        out = np.empty((count, *self.shape[1:]), dtype=self.dtype)
        with open(self.path, "rb") as handle:
            handle.seek(self._offset + start * self._row_bytes)
            if handle.readinto(memoryview(out).cast("B")) != count * self._row_bytes:
                raise WeaksegError(f"{self.path}: rows {start}-{start + count} lie past the end of the file")
        return out

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            row = int(index) + (len(self) if index < 0 else 0)
            if not 0 <= row < len(self):
                raise IndexError(f"row {index} of {len(self)}")
            return self._read(row, 1)[0]
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return self[list(range(start, stop, step))]
            return self._read(start, max(stop - start, 0))
        rows = np.asarray(index, dtype=np.int64).ravel()
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        order = np.argsort(rows, kind="stable")
        i = 0
        while i < len(order):  # contiguous runs of the sorted rows are read at once
            j = i + 1
            while j < len(order) and rows[order[j]] == rows[order[j - 1]] + 1:
                j += 1
            out[order[i:j]] = self[int(rows[order[i]]) : int(rows[order[i]]) + (j - i)]
            i = j
        return out


class NpyWriter:
    """Write a ``.npy`` file of ``shape`` row by row, in order (use as a context manager).

    Raises:
        WeaksegError: (on exit) fewer or more rows were written than ``shape[0]``, or a row of
            another shape.
    """

    def __init__(self, path: str | Path, shape: tuple[int, ...], dtype):
        self.path, self.shape, self.dtype = Path(path), tuple(shape), np.dtype(dtype)
        self._handle = open(self.path, "wb")
        np.lib.format.write_array_header_1_0(
            self._handle, {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": shape}
        )
        self.rows = 0

    def write(self, rows: np.ndarray) -> None:
        """Append (n, *shape[1:]) rows (or a single row of shape[1:])."""
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape == self.shape[1:]:
            rows = rows[None]
        if rows.shape[1:] != self.shape[1:]:
            raise WeaksegError(f"{self.path}: rows of shape {rows.shape[1:]}, expected {self.shape[1:]}")
        self._handle.write(memoryview(rows).cast("B"))
        self.rows += len(rows)

    def __enter__(self) -> NpyWriter:
        return self

    def __exit__(self, kind, *rest) -> None:
        self._handle.close()
        if kind is None and self.rows != self.shape[0]:
            raise WeaksegError(f"{self.path}: {self.rows} rows written, {self.shape[0]} declared")
