"""PyAV, imported on first use so that modules handling only ``.npy`` clips do not need it installed."""

from __future__ import annotations

from types import ModuleType


def import_av() -> ModuleType:
    """The ``av`` module; raises ``ImportError`` when PyAV is not installed."""
    import av

    return av
