"""OpenPose keypoint tables: ``<id>_openpose.xlsx`` or ``.csv``, one row per frame.

A row holds the 137 OpenPose points (BODY_25 0-24, face-70 25-94, left hand 95-115, right hand 116-136) as
``x, y, confidence`` triples: 411 columns. Conventions vary between exports, so the reader accepts:

- a header row or none (a header is a first row with a non-numeric cell, or one that numbers the columns
  0..410 or 1..411 as pandas writes integer column labels; its names are not checked);
- an optional leading frame-index column (412 columns). With it, each row goes to its frame, counted from
  the smallest index in the file, so 0-based and 1-based numbering both line up with the video's frame 0;
  frames with no row are all zeros. Without it, row ``i`` is frame ``i``;
- empty cells, ``nan`` cells and blank rows: a point with any missing value becomes ``(0, 0, 0)``, i.e.
  not detected, like the ``0,0,0`` OpenPose itself writes. Blank rows count as frames, at the end too, so
  a video whose last frames show nobody keeps its length.

xlsx files are read from their first sheet by the streaming reader of :mod:`mgfast.io.xlsx`; a workbook it
does not handle (dates, formulas, unusual XML) is read with openpyxl instead, with the same result but about
ten times slower.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from mgfast.io.atomic import atomic_path
from mgfast.io.csvfile import csv_rows, is_number
from mgfast.io.openpose_json import read_openpose_json_dir
from mgfast.io.xlsx import XlsxUnsupported, sheet_rows

__all__ = ["NUM_POINTS", "NUM_COLUMNS", "TABLE_SUFFIXES", "read_pose_table", "write_pose_table",
           "read_openpose_json_dir", "table_header"]

NUM_POINTS = 137
NUM_COLUMNS = 3 * NUM_POINTS
TABLE_SUFFIXES = (".csv", ".xlsx", ".xlsm")


def table_header() -> list[str]:
    """The header that :func:`write_pose_table` writes: ``x0, y0, c0, ..., x136, y136, c136``."""
    return [f"{axis}{k}" for k in range(NUM_POINTS) for axis in ("x", "y", "c")]


def _csv_table_rows(path: Path) -> Iterator[tuple[str, Sequence]]:
    for line, cells in csv_rows(path, keep_blank=True, strip=False):
        yield f"line {line}", cells


def _xlsx_table_rows(path: Path) -> Iterator[tuple[str, Sequence]]:
    for number, values in enumerate(sheet_rows(path), start=1):
        yield f"row {number}", values


def _openpyxl_table_rows(path: Path) -> Iterator[tuple[str, Sequence]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, InvalidFileException) as error:
        raise ValueError(f"{path}: cannot open as an xlsx workbook ({error}); save it again as .xlsx or .csv") from None
    try:
        for number, values in enumerate(workbook.worksheets[0].iter_rows(values_only=True), start=1):
            values = list(values)
            while values and (values[-1] is None or values[-1] == ""):
                values.pop()
            yield f"row {number}", values
    finally:
        workbook.close()


def _column_name(index: int, xlsx: bool) -> str:
    if not xlsx:
        return f"column {index + 1}"
    from openpyxl.utils import get_column_letter

    return f"column {index + 1} ({get_column_letter(index + 1)})"


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _is_header(values: Sequence) -> bool:
    """A header names the columns: a non-numeric cell, or the column numbers themselves (what pandas writes
    for a frame with integer column labels: ``0 .. 410``, after an empty corner cell when it writes the index)."""
    if any(not _is_blank(v) and not isinstance(v, (int, float)) and not is_number(str(v)) for v in values):
        return True
    cells = list(values[1:]) if values and _is_blank(values[0]) else list(values)
    if len(cells) != NUM_COLUMNS or any(_is_blank(v) for v in cells):
        return False
    numbers = [float(v) for v in cells]
    return numbers in ([float(k) for k in range(NUM_COLUMNS)], [float(k) for k in range(1, NUM_COLUMNS + 1)])


def _to_numbers(values: Sequence, width: int, where: str, path: Path, xlsx: bool) -> np.ndarray:
    """A row as float64 ``[width]``, NaN where a cell is empty or missing; errors name the bad cell."""
    row = np.full(width, np.nan)
    try:  # the common case: all numbers (xlsx empty cells are None, which numpy reads as NaN)
        row[: len(values)] = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        for k, value in enumerate(values):
            if _is_blank(value):
                continue
            try:
                row[k] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{path}: {where}, {_column_name(k, xlsx)}: {value!r} is not a number") from None
    infinite = np.flatnonzero(np.isinf(row))
    if infinite.size:
        k = int(infinite[0])
        raise ValueError(f"{path}: {where}, {_column_name(k, xlsx)}: {values[k]!r} is infinite; "
                         "write 0,0,0 for an undetected point")
    return row


def read_pose_table(path: str | Path) -> np.ndarray:
    """Reads an OpenPose table (xlsx or csv, see the module docstring) as float32 ``[F, 137, 3]``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(f"{path}: unsupported pose table type {path.suffix!r}; use .xlsx or .csv")
    if not path.is_file():
        raise FileNotFoundError(f"pose table {path} does not exist")
    if suffix == ".csv":
        return _table(path, _csv_table_rows(path), xlsx=False)
    try:
        return _table(path, _xlsx_table_rows(path), xlsx=True)
    except XlsxUnsupported:  # openpyxl gives the same rows: an error in those read so far would have come first
        return _table(path, _openpyxl_table_rows(path), xlsx=True)


def _table(path: Path, rows: Iterator[tuple[str, Sequence]], xlsx: bool) -> np.ndarray:
    """The ``[F, 137, 3]`` points of a table's rows ``(where, cell values)``, trailing empty cells dropped."""
    width = 0  # 411, or 412 with a frame-index column; set by the header or the first data row
    leading_blank = 0  # blank rows before the first non-blank one: frames, unless a header follows
    frames: list[np.ndarray] = []
    indices: list[tuple[int, str]] = []  # (frame index, where) with a frame-index column
    for where, values in rows:
        if not width:
            if not values:
                leading_blank += 1
                continue
            if _is_header(values):
                if len(values) not in (NUM_COLUMNS, NUM_COLUMNS + 1):
                    raise ValueError(f"{path}: {where}: the header has {len(values)} columns; expected {NUM_COLUMNS} "
                                     f"(x, y, confidence for 137 points) or {NUM_COLUMNS + 1} (frame index first)")
                width, leading_blank = len(values), 0
                continue
            width = NUM_COLUMNS + 1 if len(values) == NUM_COLUMNS + 1 else NUM_COLUMNS
            frames.extend(np.full(NUM_COLUMNS, np.nan, np.float32) for _ in range(leading_blank if width == NUM_COLUMNS else 0))
        if len(values) > width:
            raise ValueError(f"{path}: {where}: {len(values)} cells, but the file has {width} columns "
                             f"({NUM_COLUMNS} values{' after a frame index' if width > NUM_COLUMNS else ''})")
        if not values and width > NUM_COLUMNS:
            continue  # frames are placed by index: a blank row is no frame
        row = _to_numbers(values, width, where, path, xlsx)
        if width > NUM_COLUMNS:
            index = row[0]
            if math.isnan(index) or not index.is_integer() or index < 0:
                raise ValueError(f"{path}: {where}, {_column_name(0, xlsx)}: frame index {values[0]!r} is not a "
                                 "non-negative integer")
            indices.append((int(index), where))
            row = row[1:]
        frames.append(row.astype(np.float32))  # half the memory of float64 for long videos
    if not width:
        raise ValueError(f"{path}: no rows; expected one row of {NUM_COLUMNS} values per frame")

    if indices:
        first = min(i for i, _ in indices)
        table = np.full((max(i for i, _ in indices) - first + 1, NUM_COLUMNS), np.nan, np.float32)
        seen: dict[int, str] = {}
        for (index, where), row in zip(indices, frames):
            if index in seen:
                raise ValueError(f"{path}: {where}: frame index {index} already used at {seen[index]}")
            seen[index] = where
            table[index - first] = row
    else:
        if not frames:
            raise ValueError(f"{path}: no data rows below the header; expected one row of {NUM_COLUMNS} values per frame")
        table = np.stack(frames)
    points = table.reshape(-1, NUM_POINTS, 3)
    points[np.isnan(points).any(axis=-1)] = 0.0
    return points


def _checked_points(array: np.ndarray) -> np.ndarray:
    points = np.asarray(array)
    if points.ndim != 3 or points.shape[1:] != (NUM_POINTS, 3) or points.shape[0] == 0:
        raise ValueError(f"a pose table needs an array [F, {NUM_POINTS}, 3] with F >= 1, got shape {points.shape}")
    if not np.issubdtype(points.dtype, np.number):
        raise TypeError(f"a pose table needs a numeric array, got dtype {points.dtype}")
    points = points.astype(np.float32)
    if not np.isfinite(points).all():
        raise ValueError("the pose array has NaN or infinite values; write undetected points as 0, 0, 0")
    return points


def write_pose_table(path: str | Path, array: np.ndarray) -> Path:
    """Writes float32 ``[F, 137, 3]`` as a pose table with a header row: csv or xlsx by the file's suffix.

    Values are written in the shortest form that reads back to the same float32. The write is atomic.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(f"{path}: unsupported pose table type {path.suffix!r}; use .xlsx or .csv")
    # float32 -> str gives the shortest decimal that reads back to the same float32
    text = _checked_points(array).reshape(-1, NUM_COLUMNS).astype(str)
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            with tmp.open("w", encoding="utf-8", newline="") as f:
                f.write(",".join(table_header()) + "\n")
                f.writelines(",".join(row) + "\n" for row in text.tolist())
        else:
            from openpyxl import Workbook

            workbook = Workbook(write_only=True)
            sheet = workbook.create_sheet("openpose")
            sheet.append(table_header())
            for row in text.astype(np.float64).tolist():
                sheet.append(row)
            workbook.save(tmp)
    return path
