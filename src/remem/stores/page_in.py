"""Read a mapped file's pages ahead in a background thread, so first searches need not fault.

A graph read from its file keeps its vectors and links mapped (``stores/ann.py``): a new
process faults in each page its first walks touch, one at a time, and reads the disk for
every page that has left the page cache (the first search on a 100k store took 0.9 s
after eviction against 65 ms warm, docs/benchmarks.md "Cold start"). Asking the kernel to
map the whole range at once (``madvise(MADV_POPULATE_READ)``, Linux >= 5.14) costs
16-22 ms at 100k with the file cached and made the first walks 1.0-1.5 ms instead of
8-16 ms. From a cold disk that advice alone took 2.2-2.7 s for the 144 MB of a 100k graph
(the mapping's faults read a page or a few at a time), where plain sequential reads of the
whole file take 0.2 s: so the thread reads the file first, starting before it is even
parsed, then maps the cached pages in. Where the mapping advice is missing (before Linux
5.14) the file read into the cache is what remains, and the faults left are cheap ones.

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
    """A daemon thread that reads ``path`` ahead, maps in regions of it given later, then
    reads ``then`` (files the searches read next) into the cache.

    Started before the file is parsed, so the disk reads overlap the parsing; ``populate``
    hands it the mapped regions and ``keep``, held until the thread ends: the object that
    owns the mapping, so it cannot be unmapped under a call (``Ann.add`` swaps its mapped
    graph for a copy in memory).
    """

    def __init__(self, path: Path, then: Sequence[Path] = ()) -> None:
        self._path = path
        self._then = list(then)
        self._regions: list[Region] = []
        self._keep: object | None = None
        self._given = threading.Event()
        self._stopping = threading.Event()
        self.read: list[Path] = []  # files read whole, so their pages are in the cache
        self.populated = 0  # bytes of the regions the kernel mapped in
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def populate(self, regions: Sequence[Region], keep: object) -> None:
        """Map in ``regions`` (address, bytes) of a mapping of the file owned by ``keep``."""
        self._regions = [r for r in regions if r[1] > 0]
        self._keep = keep
        self._given.set()

    def stop(self) -> None:
        """End the thread after its current chunk and wait for it."""
        self._stopping.set()
        self._given.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the read-ahead (``populate`` or ``stop`` must come); True once ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._read_ahead(self._path)
            self._given.wait()
            self._populate()
            for path in self._then:
                self._read_ahead(path)
        except OSError:
            return  # a helper only: the searches fault in what they touch, as before
        finally:
            self._keep = None

    def _read_ahead(self, path: Path) -> None:
        """Read ``path`` once, in big sequential reads, so its pages are in the cache.

        Plain reads: ``posix_fadvise(WILLNEED)`` measured 50 MB/s on this disk (17% of a
        144 MB graph after 0.5 s), where 8 MiB reads ran at 700 MB/s.
        """
        buffer = bytearray(CHUNK)
        with open(path, "rb", buffering=0) as file:
            while not self._stopping.is_set():
                if not file.readinto(buffer):
                    self.read.append(path)
                    return

    def _populate(self) -> None:
        """Map every page of the regions in, unless this kernel lacks the advice."""
        madvise = _madvise()
        if madvise is None:
            return
        page = mmap.PAGESIZE
        for address, size in self._regions:
            start = address - address % page  # inside the mapping: it starts on a page
            end = address + size
            while start < end and not self._stopping.is_set():
                length = min(CHUNK, end - start)
                if madvise(start, length, MADV_POPULATE_READ) != 0:
                    error = ctypes.get_errno()
                    if error == errno.EINVAL and not self.populated:  # before Linux 5.14
                        return
                    raise OSError(error, os.strerror(error))
                self.populated += length
                start += length
