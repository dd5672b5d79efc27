"""Atomic file writes: write to a temporary name in the same directory, then rename over the target.

A reader never sees a half-written file, and an interrupted job leaves either the old file or none, so a
rerun can trust every file that exists.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path next to ``path`` (same suffix); renames it to ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes the file private; give it the mode open() would
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_leftovers(path: str | Path) -> int:
    """Removes the temporary files that interrupted :func:`atomic_path` writes of ``path`` left behind (a
    process killed with SIGKILL cannot clean up); returns how many. Call it only where no other process may
    be writing ``path`` at the same time."""
    path = Path(path)
    if not path.parent.is_dir():
        return 0
    stale = list(path.parent.glob(f".{glob.escape(path.stem)}.*.tmp*"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return len(stale)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_save_npy(path: str | Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.save(f, array)
