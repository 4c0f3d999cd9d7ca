"""Reader and writer for the IDX format of MNIST and Fashion-MNIST (gzip-compressed or not).

An IDX file is big-endian: two zero bytes, a type byte (0x08 = uint8), the number of dimensions
``ndim``, then ``ndim`` uint32 sizes, then the row-major payload. Images have magic 2051
(0x00000803: uint8, 3 dims ``count, rows, cols``), labels magic 2049 (0x00000801: uint8, 1 dim).
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from schedlab.errors import CorruptDatasetError, DataError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_GZIP_MAGIC = b"\x1f\x8b"
_UINT8 = 0x08


def read_bytes(path: str | os.PathLike) -> bytes:
    """The content of ``path``, gunzipped when it starts with the gzip magic bytes."""
    data = Path(path).read_bytes()
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptDatasetError(
            f"{path}: damaged gzip file ({len(data):,} bytes): {exc}; delete it and download again"
        ) from exc


def parse_idx(data: bytes, magic: int, source: str = "<bytes>") -> np.ndarray:
    """Decode uint8 IDX ``data`` whose magic number must be ``magic`` (2051 or 2049).

    Returns a read-only uint8 array of the shape in the header (no copy of the payload).
    """
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    kind = "images" if magic == IMAGES_MAGIC else "labels" if magic == LABELS_MAGIC else "data"
    got = struct.unpack(">i", data[:4])[0] if len(data) >= 4 else None
    if got != magic:
        found = "too short" if got is None else f"magic number {got} (0x{got & 0xFFFFFFFF:08x})"
        raise CorruptDatasetError(
            f"{source}: not an IDX {kind} file: {found}, expected magic {magic} (0x{magic:08x})"
        )
    if len(data) < header:
        raise CorruptDatasetError(
            f"{source}: too short for an IDX {kind} file: {len(data)} bytes, "
            f"expected a {header}-byte header (magic {magic})"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        dims = "x".join(str(s) for s in shape)
        raise CorruptDatasetError(
            f"{source}: wrong size: {len(data):,} bytes, expected {expected:,} "
            f"({header}-byte header + {dims} uint8 as the header says)"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(path: str | os.PathLike, magic: int) -> np.ndarray:
    """Read the (optionally gzip-compressed) IDX file at ``path``; see :func:`parse_idx`."""
    return parse_idx(read_bytes(path), magic, str(path))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 ``array`` (1-D labels or 3-D images) as IDX; gzip when ``path`` ends in .gz."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8 or array.ndim not in (1, 3):
        raise DataError(
            f"write_idx: array must be uint8 with 1 or 3 dimensions, "
            f"got {array.dtype} with shape {array.shape}"
        )
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, _UINT8, array.ndim, *array.shape)
    payload = header + array.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload, 6) if path.suffix == ".gz" else payload)
    return path
