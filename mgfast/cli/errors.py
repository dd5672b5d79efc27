"""How a command reports a failure: one line ``error: <message>`` on stderr, then an exit status.

The library raises exceptions whose messages already say what is wrong and how to fix it; the commands
print that message alone (no traceback) and exit with a status that tells scripts what kind of failure it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer


def fail(error: Exception | str, code: int = 2) -> typer.Exit:
    """Prints ``error: <error>`` and returns the Exit to raise: ``raise fail(...)``."""
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@contextmanager
def exit_on(*errors: type[Exception], code: int = 2) -> Iterator[None]:
    """Turns the listed exceptions raised inside the block into the one-line message and exit status ``code``.

    Nest two blocks to give one kind of failure its own status, the more specific one inside:
    ``with exit_on(ValueError), exit_on(OutOfMemory, code=1): ...``.
    """
    try:
        yield
    except typer.Exit:  # a RuntimeError too: an exit already decided passes through
        raise
    except errors as error:
        raise fail(error, code) from None
