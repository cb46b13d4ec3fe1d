"""Read a mapped file's pages ahead in a background thread, so first searches need not fault.

A graph read from its file keeps its vectors and links mapped (``stores/ann.py``): a new
process faults in each page its first walks touch, one at a time, and reads the disk for
every page that has left the page cache (the first search on a 100k store took 0.9 s
after eviction against 65 ms warm, docs/benchmarks.md "Cold start"). Asking the kernel to
map the whole range at once (``madvise(MADV_POPULATE_READ)``, Linux >= 5.14) costs
16-22 ms at 100k with the file cached and made the first walks 1.0-1.5 ms instead of
8-16 ms. From a cold disk that advice alone took 2.2-2.7 s for the 144 MB of a 100k graph
(the mapping's faults read a page or a few at a time): so the thread first brings the file
into the page cache through a mapping of its own advised sequential (135-145 ms), starting
before the file is even parsed, then maps the cached pages into faiss's mapping (8 ms).
Where the mapping advice is missing (before Linux 5.14) ``posix_fadvise(WILLNEED)`` is
what remains, and the faults left are cheaper ones.

The thread is a helper, never a dependency: a search that arrives first faults as it
would have without it, a failure ends it quietly, and ``stop`` ends it between two chunks.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import mmap
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

#: ``MADV_POPULATE_READ`` from Linux's ``include/uapi/asm-generic/mman-common.h``
#: (Python's ``mmap`` module only advises mappings it made itself).
MADV_POPULATE_READ = 22
MADV_SEQUENTIAL = 2
#: Bytes populated per call: ``stop`` waits for at most one chunk (a few ms from disk).
CHUNK = 8 << 20
THREAD_NAME = "remem-page-in"

Region = tuple[int, int]  # (address, bytes) inside a mapping of ``path``


@functools.cache  # one libc handle per process, not one per file read ahead
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
        self.read: list[Path] = []  # files brought whole into the page cache
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
            self._cache(self._path)
            self._given.wait()
            madvise = _madvise()
            for address, size in self._regions:
                if madvise is None or not self._advise(madvise, address, size, self._count):
                    break
            for path in self._then:
                self._cache(path)
        except OSError:
            return  # a helper only: the searches fault in what they touch, as before
        finally:
            self._keep = None

    def _count(self, populated: int) -> None:
        self.populated += populated

    def _cache(self, path: Path) -> None:
        """Bring ``path`` whole into the page cache, through a mapping of its own.

        The mapping is advised sequential first, so its faults read ahead in big requests:
        from a cold disk, 135-145 ms for a 144 MB graph where the same advice on faiss's
        mapping alone took 2.2-2.7 s, ``posix_fadvise(WILLNEED)`` read 50 MB/s, and plain
        reads copied every byte (2.4x the warm first search, with the file already cached).
        With the file cached it costs 7 ms of CPU.
        """
        madvise, size = _madvise(), path.stat().st_size
        if madvise is not None and size:
            with open(path, "rb") as file, mmap.mmap(file.fileno(), size, prot=mmap.PROT_READ) as m:
                address = int(np.frombuffer(m, np.uint8).ctypes.data)  # the view ends here
                madvise(address, size, MADV_SEQUENTIAL)
                if self._advise(madvise, address, size):
                    if not self._stopping.is_set():
                        self.read.append(path)
                    return
        if hasattr(os, "posix_fadvise") and not self._stopping.is_set():  # before Linux 5.14
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_WILLNEED)
                self.read.append(path)
            finally:
                os.close(descriptor)

    def _advise(
        self,
        madvise: Callable[[int, int, int], int],
        address: int,
        size: int,
        done: Callable[[int], None] = lambda _: None,
    ) -> bool:
        """Map ``[address, address + size)`` in, a chunk per call, until done or stopped.

        False when this kernel lacks the advice (EINVAL on the first chunk).
        """
        start, end = address - address % mmap.PAGESIZE, address + size  # mappings start on a page
        first = True
        while start < end and not self._stopping.is_set():
            length = min(CHUNK, end - start)
            if madvise(start, length, MADV_POPULATE_READ) != 0:
                error = ctypes.get_errno()
                if error == errno.EINVAL and first:
                    return False
                raise OSError(error, os.strerror(error))
            done(length)
            first = False
            start += length
        return True
