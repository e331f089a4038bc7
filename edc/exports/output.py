"""The byte stream an export is written to, counted and hashed on the way (one pass)."""

from __future__ import annotations

import hashlib
import io
from typing import IO, Any


class Hashed(io.RawIOBase):
    """Writes through to `out`, keeping the size and SHA-256 of everything written. Not
    seekable: a ZIP written here uses data descriptors, so nothing is read back or rewritten."""

    def __init__(self, out: IO[bytes]) -> None:
        super().__init__()
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._out.write(view)
        self._hash.update(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._out.flush()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()
