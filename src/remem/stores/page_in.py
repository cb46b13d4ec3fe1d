"""Read a mapped file's pages ahead in a background thread, so first searches need not fault.

A graph read from its file keeps its vectors and links mapped (``stores/ann.py``): a new
process faults in each page its first walks touch, one at a time, and reads the disk for
every page that has left the page cache (the first search on a 100k store took 0.9 s
after eviction against 65 ms warm, docs/benchmarks.md "Cold start"). Asking the kernel to
map the whole range at once (``madvise(MADV_POPULATE_READ)``, Linux >= 5.14) costs
16-22 ms at 100k with the file cached and made the first walks 1.0-1.5 ms instead of
8-16 ms. Where that advice is missing, ``posix_fadvise(WILLNEED)`` still has the kernel
read the file into its cache, so the faults that remain are cheap ones.

The thread is a helper, never a dependency: a search that arrives first faults as it
would have without it, a failure ends it quietly, and ``stop`` ends it between two chunks.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

#: ``MADV_POPULATE_READ`` from Linux's ``include/uapi/asm-generic/mman-common.h``
#: (Python's ``mmap`` module only advises mappings it made itself).
MADV_POPULATE_READ = 22
#: Bytes populated per call: ``stop`` waits for at most one chunk (a few ms from disk).
CHUNK = 8 << 20
THREAD_NAME = "remem-page-in"

Region = tuple[int, int]  # (address, bytes) inside a mapping of ``path``


def _madvise() -> Callable[[int, int, int], int] | None:
    if sys.platform != "linux":
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    call = libc.madvise
    call.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    call.restype = ctypes.c_int
    return call


class PageIn:
    """A daemon thread populating ``regions`` (mapped from ``path``) chunk by chunk.

    ``keep`` is held until the thread ends: the object that owns the mapping, so it cannot
    be unmapped under a call (``Ann.add`` swaps its mapped graph for a copy in memory).
    """

    def __init__(self, regions: Sequence[Region], path: Path, keep: object) -> None:
        self._regions = [r for r in regions if r[1] > 0]
        self._path = path
        self._keep: object | None = keep
        self._stopping = threading.Event()
        self.populated = 0  # bytes the kernel mapped in
        self.read_ahead = False  # no such advice here: the file was read into the cache instead
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread after its current chunk and wait for it."""
        self._stopping.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the whole range to be read ahead; True when the thread has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            if not self._populate():
                self._read_ahead()
        except OSError:
            return  # a helper only: the searches fault in what they touch, as before
        finally:
            self._keep = None

    def _populate(self) -> bool:
        """Map every page of the regions; False when this kernel has no such advice."""
        madvise = _madvise()
        if madvise is None:
            return False
        page = mmap.PAGESIZE
        for address, size in self._regions:
            start = address - address % page  # inside the mapping: it starts on a page
            end = address + size
            while start < end and not self._stopping.is_set():
                length = min(CHUNK, end - start)
                if madvise(start, length, MADV_POPULATE_READ) != 0:
                    error = ctypes.get_errno()
                    if error == errno.EINVAL and not self.populated:  # EINVAL: a kernel before 5.14
                        return False
                    raise OSError(error, os.strerror(error))
                self.populated += length
                start += length
        return True

    def _read_ahead(self) -> None:
        """Have the kernel read the file into its cache (no advice for the mapping itself)."""
        advise = getattr(os, "posix_fadvise", None)
        if advise is None or self._stopping.is_set():
            return
        descriptor = os.open(self._path, os.O_RDONLY)
        try:
            advise(descriptor, 0, 0, os.POSIX_FADV_WILLNEED)
            self.read_ahead = True
        finally:
            os.close(descriptor)
