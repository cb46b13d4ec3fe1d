"""Files replaced only when whole: written beside their destination, synced, then renamed.

A failure (an error, a full disk, a killed process) leaves whatever file was at the
destination as it was: an export or a backup never truncates the one it would replace.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """A fresh path beside ``target`` to write; renamed onto ``target`` when the block ends.

    On success the new file is synced, takes the mode of the file it replaces, and the
    rename is synced too. On any error the partial file is removed and the error goes on.
    """
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    try:
        yield partial
        _sync(partial, os.O_RDONLY)
        if target.exists():
            shutil.copymode(target, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _sync(target.parent, os.O_RDONLY)


def _sync(path: Path, flags: int) -> None:
    """fsync ``path`` (a file, or a directory to make a rename durable), where possible."""
    try:
        handle = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
