"""How a command reports a failure: one line ``error: <message>`` on stderr, then an exit status.

The library raises exceptions whose messages already say what is wrong and how to fix it; the commands
print that message alone (no traceback) and exit with a status that tells scripts what kind of failure it was.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

import typer


def fail(error: Exception | str, code: int = 2) -> typer.Exit:
    """Prints ``error: <error>`` and returns the Exit to raise: ``raise fail(...)``."""
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free space and rerun the same command (finished files are kept)",
    errno.EDQUOT: "the disk quota is used up: free space and rerun the same command (finished files are kept)",
    errno.EROFS: "the file system is read-only: choose another output folder",
    errno.EACCES: "no permission: choose another output folder or fix its permissions",
    errno.EPERM: "not permitted: choose another output folder or fix its permissions",
}


_OWN_MESSAGES = (FileNotFoundError, NotADirectoryError, FileExistsError)
"""OSErrors that mgfast raises itself with a message saying what to do; printed as they are."""


def describe_os_error(error: OSError) -> str:
    """``<path>: <cause>; <what to do>`` for a failed file operation (also when the message named no path)."""
    where = f"{error.filename}: " if error.filename else ""
    cause = error.strerror or str(error)
    hint = _OS_HINTS.get(error.errno)
    return f"{where}{cause}" + (f"; {hint}" if hint else "")


@contextmanager
def exit_on(*errors: type[Exception], code: int = 2) -> Iterator[None]:
    """Turns the listed exceptions raised inside the block into the one-line message and exit status ``code``;
    a failed file operation (``OSError``: full disk, read-only folder, no permission) always becomes one line
    naming the path and the cause.

    Nest two blocks to give one kind of failure its own status, the more specific one inside:
    ``with exit_on(ValueError), exit_on(OutOfMemory, code=1): ...``.
    """
    try:
        yield
    except typer.Exit:  # a RuntimeError too: an exit already decided passes through
        raise
    except errors as error:
        if isinstance(error, OSError) and not isinstance(error, _OWN_MESSAGES):
            raise fail(describe_os_error(error), code) from None
        raise fail(error, code) from None
    except OSError as error:
        if isinstance(error, _OWN_MESSAGES):  # mgfast's own, with its fix: for the block that lists them
            raise
        raise fail(describe_os_error(error), code) from None
