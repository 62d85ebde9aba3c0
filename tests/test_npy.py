"""Row-wise .npy reading and writing (weakseg.io.npy): the same arrays as NumPy's own, no memory map."""

import numpy as np
import pytest

from weakseg.io.errors import WeaksegError
from weakseg.io.npy import NpyRows, NpyWriter


def test_rows_read_without_a_memory_map_equal_numpys(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (9, 5, 4, 3), dtype=np.uint8)
    np.save(tmp_path / "a.npy", array)
    rows = NpyRows(tmp_path / "a.npy")
    assert (len(rows), rows.shape, rows.dtype) == (9, array.shape, np.uint8)
    np.testing.assert_array_equal(rows[4], array[4])
    np.testing.assert_array_equal(rows[-1], array[-1])
    np.testing.assert_array_equal(rows[2:7], array[2:7])
    np.testing.assert_array_equal(rows[::3], array[::3])
    picked = [7, 1, 2, 3, 8, 2]  # runs, out of order, a repeat
    np.testing.assert_array_equal(rows[picked], array[picked])
    np.testing.assert_array_equal(rows[np.array([], dtype=int)], array[[]])
    with pytest.raises(IndexError):
        rows[9]


def test_rows_written_in_order_make_a_numpy_file_and_a_wrong_count_is_named(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.int64).reshape(2, 3, 4)
    with NpyWriter(tmp_path / "b.npy", array.shape, np.int64) as writer:
        writer.write(array[0])
        writer.write(array[1:])
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), array)
    with pytest.raises(WeaksegError, match=r"c.npy: 1 rows written, 2 declared"):
        with NpyWriter(tmp_path / "c.npy", array.shape, np.int64) as writer:
            writer.write(array[0])
    with pytest.raises(WeaksegError, match=r"not a readable .npy array"):
        NpyRows(tmp_path / "missing.npy")
