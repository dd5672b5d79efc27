"""Names and paths read from files (run.json, a manifest) checked before they become parts of a path.

A file is data: a ``modality`` of ``"../../x"`` in a run.json, or a manifest row pointing at
``/etc/passwd``, must not make mgfast write or read outside the folders it was given.
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath


def check_name(value: object, what: str, where: str) -> str:
    """``value`` if it can be one path component (a folder or file name); else ValueError naming ``where``."""
    if (not isinstance(value, str) or not value.strip() or value in (".", "..") or any(c in value for c in "/\\\0")
            or value != value.strip()):
        raise ValueError(f"{where}: {what} {value!r} cannot name a file or folder (no slashes, not empty, not . or ..)")
    return value


def check_relative_path(value: object, what: str, where: str) -> str:
    """``value`` if it is a relative path that stays inside its base folder; else ValueError naming ``where``."""
    if not isinstance(value, str) or not value or "\0" in value:
        raise ValueError(f"{where}: {what} {value!r} is not a path")
    posix, windows = PurePosixPath(value), PureWindowsPath(value)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in posix.parts or ".." in windows.parts:
        raise ValueError(f"{where}: {what} {value!r} leaves the dataset folder; paths in it are relative, without '..'")
    return value
