"""Small CSV reading helpers shared by the annotation, pose-table and source readers.

Files written by spreadsheets and scripts differ in small ways that carry no meaning: a UTF-8 byte-order
mark, spaces around cells, blank lines, trailing empty cells, integers written as ``12.0``. These helpers
absorb those differences so the readers can be strict about everything else, and report positions as
``file:line`` so a user can go straight to the offending row.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path


def csv_rows(path: Path, *, keep_blank: bool = False, strip: bool = True) -> Iterator[tuple[int, list[str]]]:
    """Yields ``(line, cells)`` for each row of a UTF-8 CSV file, trailing empty cells dropped.

    Cells are stripped of surrounding spaces unless ``strip`` is False (for bulk numeric tables, whose
    parser ignores the spaces anyway). Blank rows (no non-empty cell) are skipped unless ``keep_blank``, in
    which case they come as ``[]``. ``line`` is the 1-based line on which the row ends, as an editor shows it.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        try:
            for row in reader:
                cells = [cell.strip() for cell in row] if strip else row
                while cells and not cells[-1].strip():
                    cells.pop()
                if cells or keep_blank:
                    yield reader.line_num, cells
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not UTF-8 text; save it as 'CSV UTF-8 (comma delimited)'") from None
        except csv.Error as error:
            raise ValueError(f"{path}:{reader.line_num}: malformed CSV ({error})") from None


def parse_int(text: str) -> int | None:
    """The integer a cell holds (``"12"``, ``" 12 "``, ``"12.0"``), or None when it holds no integer."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if math.isfinite(value) and value.is_integer() else None


def is_number(text: str) -> bool:
    """Whether a cell holds a number (finite or not)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def header_key(text: str) -> str:
    """A header cell normalised for matching: lower case, spaces and hyphens as underscores."""
    return text.strip().lower().replace(" ", "_").replace("-", "_")
