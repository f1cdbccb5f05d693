"""Arrays on disk that are read in place: memory-mapped ``.npz`` files and string tables.

What grows with the number of documents (ids, snippets, forward vectors) is kept in stored
(uncompressed) ``.npz`` files whose members are viewed through one read-only memory map,
so opening a file costs its header, not its size, and the pages a lookup touches are all
that is read. Nothing is pickled: object arrays are refused.

A :class:`StringTable` is strings packed as one UTF-8 blob, each followed by a newline, with
the byte offset where each starts (``count + 1`` offsets); with an ``order`` (the rows sorted
by their UTF-8 bytes) it finds a string by binary search, without a dictionary in memory.
"""

from __future__ import annotations

import io
import mmap
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from splade_lite.errors import BadValueError

SEP = b"\n"
_DECODE_BLOCK = 1 << 16  # strings decoded per step when a whole table is iterated


def pack_strings(strings: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings as one UTF-8 blob, each followed by a newline, and where each starts.

    ``offsets[i]`` is the first byte of string ``i``; it ends one byte (its separator) before
    ``offsets[i + 1]``. A string may hold a newline itself: the offsets, not the separators,
    delimit the strings.
    """
    encoded = [s.encode("utf-8") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(b) + 1 for b in encoded), np.int64, len(encoded)), out=offsets[1:])
    blob = b"".join(b + SEP for b in encoded)
    return np.frombuffer(blob, dtype=np.uint8).copy(), offsets


def sort_order(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Row numbers ordered by the strings' UTF-8 bytes (code point order), for `StringTable`."""
    raw = blob.tobytes()
    bounds = offsets.tolist()
    rows = sorted(range(len(bounds) - 1), key=lambda i: raw[bounds[i] : bounds[i + 1] - 1])
    return np.array(rows, dtype=np.int64)


class StringTable:
    """Read side of a packed string table: ``table[i]``, iteration, and :meth:`find`."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray, order: np.ndarray | None = None):
        if offsets.ndim != 1 or len(offsets) < 1 or (order is not None and order.ndim != 1):
            raise BadValueError("a string table needs one-dimensional offsets")
        if order is not None and len(order) != len(offsets) - 1:
            raise BadValueError(f"{len(offsets) - 1} strings but {len(order)} sorted rows")
        if int(offsets[0]) != 0 or int(offsets[-1]) != len(blob):
            raise BadValueError("a string table's offsets do not cover its bytes")
        self.blob, self.offsets, self.order = blob, offsets, order

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, i: int) -> bytes:
        start, end = int(self.offsets[i]), int(self.offsets[i + 1]) - 1
        if not 0 <= start <= end:
            raise BadValueError(f"string {i} of a table has negative length: the file is damaged")
        return self.blob[start:end].tobytes()

    def __getitem__(self, i: int) -> str:
        if not -len(self) <= i < len(self):
            raise IndexError(f"string {i} of a table of {len(self)}")
        return self.raw(i % len(self)).decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        for first in range(0, len(self), _DECODE_BLOCK):
            last = min(first + _DECODE_BLOCK, len(self))
            lo, hi = int(self.offsets[first]), int(self.offsets[last])
            chunk = self.blob[lo:hi].tobytes()
            parts = chunk.decode("utf-8").split("\n")
            if len(parts) == last - first + 1:  # no string holds a newline itself
                yield from parts[:-1]
            else:
                for i in range(first, last):
                    yield self[i]

    def find(self, text: str) -> int | None:
        """The row of `text`, by binary search over ``order``; None when it is absent."""
        if self.order is None:
            raise BadValueError("this string table has no sort order to search")
        key = text.encode("utf-8", "surrogatepass")
        lo, hi = 0, len(self)
        order = self.order
        while lo < hi:
            mid = (lo + hi) // 2
            if self.raw(int(order[mid])) < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self):
            row = int(order[lo])
            if self.raw(row) == key:
                return row
        return None

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and self.find(text) is not None


def mmap_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Arrays of a stored (uncompressed) ``.npz`` as read-only views into a memory map.

    ``np.load`` cannot map an ``.npz``, but a stored zip member is the ``.npy`` file verbatim,
    so its header can be read and the data viewed in place. None when a member is compressed
    or the file is empty.
    """
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if any(m.compress_type != zipfile.ZIP_STORED for m in members):
            return None
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            if size == 0:
                return None
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    arrays: dict[str, np.ndarray] = {}
    for member in members:
        # local header: 30 fixed bytes, then name and extra field of their own lengths
        local = mapped[member.header_offset : member.header_offset + 30]
        name_len = int.from_bytes(local[26:28], "little")
        extra_len = int.from_bytes(local[28:30], "little")
        start = member.header_offset + 30 + name_len + extra_len
        arrays[member.filename.removesuffix(".npy")] = _npy_view(mapped, start)
    return arrays


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``: memory-mapped where it is stored, else read (no pickles)."""
    arrays = mmap_npz(path)
    if arrays is None:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    return arrays


def _npy_view(mapped: mmap.mmap, start: int) -> np.ndarray:
    """A read-only array over the ``.npy`` image that begins at `start` in `mapped`."""
    header = io.BytesIO(mapped[start : start + 65536 + 16])
    version = np.lib.format.read_magic(header)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(header)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(header)
    if dtype.hasobject:
        raise BadValueError("object arrays are not allowed in splade-lite's files")
    count = int(np.prod(shape, dtype=np.int64))
    flat = np.frombuffer(mapped, dtype=dtype, count=count, offset=start + header.tell())
    return flat.reshape(shape, order="F" if fortran else "C")
