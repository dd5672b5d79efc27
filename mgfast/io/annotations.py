"""Segment annotations and class lists: MiGA label files, annotation CSVs and ``classes.csv``.

Class codes and indices. The source data name classes by *code* (the MiGA/iMiGUE label files and the
challenge's submission ``Target`` use 1-31 and 99, 32 classes); models use an *index* in ``[0, C)``. For the
MiGA codes the index is the code's position in :data:`CLASS_CODES`, i.e. codes 1..31 -> indices 0..30 and
code 99 -> index 31 (:func:`class_index`, :func:`class_code`). A ``classes.csv`` of another corpus defines
its own codes; its classes are indexed in increasing code order, which gives the same mapping for the
MiGA codes. The extractor records the list of :class:`~mgfast.io.dataset.ClassInfo` in the dataset meta.

Frame numbers are copied as written: 0-based video frame indices, both ends inclusive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mgfast.io.csvfile import csv_rows, header_key, is_number, parse_int
from mgfast.io.dataset import ClassInfo

CLASS_CODES: tuple[int, ...] = tuple(range(1, 32)) + (99,)
"""The 32 class codes of the MiGA challenge / iMiGUE, in index order."""

_INDEX_OF_CODE = {code: index for index, code in enumerate(CLASS_CODES)}
_CODES_TEXT = "1-31 or 99"


@dataclass(frozen=True)
class Segment:
    """One annotated segment of an untrimmed video.

    ``number`` is the segment's 1-based position among the rows of its file (for the clip id
    ``<video>_<number>``); ``start`` and ``end`` are inclusive 0-based frame indices; ``code`` is the class
    code, or None for an unlabelled segment.
    """

    number: int
    start: int
    end: int
    code: int | None

    @property
    def frames(self) -> int:
        return self.end - self.start + 1


def class_index(code: int) -> int:
    """The index (0..31) of a MiGA class code (1..31, 99)."""
    try:
        return _INDEX_OF_CODE[code]
    except (KeyError, TypeError):
        raise ValueError(f"{code!r} is not a MiGA class code; expected {_CODES_TEXT}") from None


def class_code(index: int) -> int:
    """The MiGA class code of an index (0..31)."""
    if not isinstance(index, int) or not 0 <= index < len(CLASS_CODES):
        raise ValueError(f"{index!r} is not a MiGA class index; expected an integer in [0, {len(CLASS_CODES)})")
    return CLASS_CODES[index]


def default_classes() -> list[ClassInfo]:
    """The 32 MiGA classes, named neutrally after their codes (``"class 1"`` ... ``"class 99"``)."""
    return [ClassInfo(index=i, code=code, name=f"class {code}") for i, code in enumerate(CLASS_CODES)]


def _frame(text: str, where: str, column: str) -> int:
    value = parse_int(text)
    if value is None:
        raise ValueError(f"{where}: {column} {text!r} is not a frame number; write a non-negative integer")
    if value < 0:
        raise ValueError(f"{where}: {column} {value} is negative; frame numbers start at 0")
    return value


def _segment_bounds(start: str, end: str, where: str) -> tuple[int, int]:
    first, last = _frame(start, where, "start frame"), _frame(end, where, "end frame")
    if first > last:
        raise ValueError(f"{where}: start frame {first} is after end frame {last}; swap them or fix the row")
    return first, last


PLACEHOLDER_WORDS = {"", "?", "-", "--", "nan", "none", "null", "unknown", "na", "n/a", "test", "unlabelled",
                     "unlabeled", "tbd"}
"""Class cells that mark an unlabelled segment (besides numbers <= 0)."""


def _name_key(text: str) -> str:
    return " ".join(text.replace("_", " ").casefold().split())


def _is_placeholder_class(text: str) -> bool:
    """A class cell that marks an unlabelled segment: blank, a placeholder word ('?', 'nan', 'unknown'), or a
    number <= 0."""
    if not is_number(text):
        return _name_key(text) in PLACEHOLDER_WORDS
    value = float(text)
    return math.isnan(value) or value <= 0


_MIGA_COLUMNS = {
    "class": {"class", "label", "code", "class_id", "label_id", "category"},
    "start": {"start", "start_frame", "begin", "begin_frame", "first_frame"},
    "end": {"end", "end_frame", "stop", "stop_frame", "last_frame"},
}


def _is_header(cells: list[str]) -> bool:
    return not any(is_number(c) for c in cells) and any(ch.isalpha() for c in cells for ch in c)


def _miga_header(cells: list[str], where: str) -> tuple[int | None, int, int]:
    """Column positions (class or None, start, end) named by a header row."""
    keys = [header_key(c) for c in cells]
    found = {column: [i for i, key in enumerate(keys) if key in names] for column, names in _MIGA_COLUMNS.items()}
    if len(found["start"]) == 1 and len(found["end"]) == 1 and len(found["class"]) <= 1:
        return (found["class"] or [None])[0], found["start"][0], found["end"][0]
    if len(cells) in (2, 3):  # an unfamiliar header of the usual width: take it positionally
        return (0, 1, 2) if len(cells) == 3 else (None, 0, 1)
    raise ValueError(f"{where}: cannot tell the columns from the header {','.join(cells)!r}; "
                     "use the header class,start_frame,end_frame or none")


def read_miga_labels(path: str | Path, classes: Sequence[ClassInfo] | None = None) -> list[Segment]:
    """Reads a MiGA label file ``<id>_label.csv``: rows ``class,start_frame,end_frame``.

    A header row is optional (when present it may name the columns in another order). A file whose class
    column is a placeholder on every row (blank, ``?``, ``-1``, ``0``, ``nan``, ``unknown``: see
    :data:`PLACEHOLDER_WORDS`), or that has only the two columns ``start_frame,end_frame``, is an
    unlabelled test file: its segments have ``code`` None. Otherwise every row needs a code from ``classes``
    (default: the 32 MiGA codes) or a class's name; any other word is an error, so labels never vanish
    silently. Errors name the file and line.
    """
    path = Path(path)
    codes = {c.code for c in classes} if classes is not None else set(CLASS_CODES)
    columns: tuple[int | None, int, int] | None = None
    width = 0
    rows: list[tuple[int, str, int, int]] = []  # line, class text, start, end
    for line, cells in csv_rows(path):
        where = f"{path}:{line}"
        if columns is None:
            if _is_header(cells):
                columns, width = _miga_header(cells, where), len(cells)
                continue
            if len(cells) not in (2, 3):
                raise ValueError(f"{where}: {len(cells)} cells; expected class,start_frame,end_frame "
                                 "(or start_frame,end_frame for an unlabelled file)")
            columns, width = ((0, 1, 2) if len(cells) == 3 else (None, 0, 1)), len(cells)
        if len(cells) > width:
            raise ValueError(f"{where}: {len(cells)} cells where the file has {width} columns")
        cells = cells + [""] * (width - len(cells))
        class_column, start_column, end_column = columns
        if not cells[start_column] or not cells[end_column]:
            raise ValueError(f"{where}: the start or end frame is missing in {','.join(cells)!r}")
        text = cells[class_column] if class_column is not None else ""
        rows.append((line, text, *_segment_bounds(cells[start_column], cells[end_column], where)))
    if not rows:
        raise ValueError(f"{path}: no segments; a label file has one row class,start_frame,end_frame per segment")

    # A class may be given by its name (classes.csv's, case and underscores aside) instead of its code.
    by_name = {_name_key(c.name): c.code for c in (classes if classes is not None else default_classes())}
    rows = [(line, str(by_name[_name_key(text)]) if not is_number(text) and _name_key(text) in by_name else text,
             start, end) for line, text, start, end in rows]
    labelled = [(line, text) for line, text, _, _ in rows if not _is_placeholder_class(text)]
    for line, text in labelled:  # an unknown code is an error even where the other rows are blank
        if not is_number(text):
            raise ValueError(f"{path}:{line}: class {text!r} is neither a class code nor a class name (names come "
                             f"from classes.csv); expected a code ({_codes_text(codes)}), a name, or a blank "
                             "class column for an unlabelled file")
        if parse_int(text) not in codes:
            raise ValueError(f"{path}:{line}: class {text!r} is not a known class code; expected one of "
                             f"{_codes_text(codes)}")
    if not labelled:
        return [Segment(n, start, end, None) for n, (_, _, start, end) in enumerate(rows, start=1)]
    if len(labelled) < len(rows):
        line, text = next((line, text) for line, text, _, _ in rows if _is_placeholder_class(text))
        raise ValueError(f"{path}:{line}: class {text!r} is not a class code, but other rows are labelled "
                         f"(e.g. line {labelled[0][0]}); give every row a code, or blank the whole class column "
                         "for an unlabelled file")
    return [Segment(n, start, end, parse_int(text)) for n, (_, text, start, end) in enumerate(rows, start=1)]


def _codes_text(codes: set[int]) -> str:
    return _CODES_TEXT if codes == set(CLASS_CODES) else ", ".join(map(str, sorted(codes)))


_ANNOTATION_COLUMNS = {"video": {"video", "video_id"}, "start": {"start", "start_frame"},
                       "end": {"end", "end_frame"}, "label": {"label", "class", "code"}}


def _annotation_header(cells: list[str], where: str) -> dict[str, int]:
    positions: dict[str, int] = {}
    for i, cell in enumerate(cells):
        column = next((c for c, names in _ANNOTATION_COLUMNS.items() if header_key(cell) in names), None)
        if column is None:
            raise ValueError(f"{where}: unknown column {cell!r}; the header must be video,start,end[,label]")
        if column in positions:
            raise ValueError(f"{where}: column {column!r} appears twice in the header")
        positions[column] = i
    missing = [c for c in ("video", "start", "end") if c not in positions]
    if missing:
        raise ValueError(f"{where}: the first row must be the header video,start,end[,label] "
                         f"(missing {', '.join(missing)})")
    return positions


def _label_code(text: str, where: str, classes: Sequence[ClassInfo]) -> int:
    value = parse_int(text)
    by_code = {c.code for c in classes}
    if value is not None and value in by_code:
        return value
    if value is None:
        by_name = {c.name.strip().lower(): c.code for c in classes}
        if text.lower() in by_name:
            return by_name[text.lower()]
    raise ValueError(f"{where}: label {text!r} is neither a class code nor a class name "
                     f"(codes: {_codes_text(by_code)}); fix the label or list the class in classes.csv")


def read_annotation_csv(path: str | Path, classes: Sequence[ClassInfo] | None = None) -> dict[str, list[Segment]]:
    """Reads an annotation CSV for a plain folder of videos: header ``video,start,end[,label]``.

    ``video`` is a file name in the folder, with or without its extension, exactly as written (the source
    discovery resolves it). ``label`` is a class code or a class name from ``classes`` (default: the 32
    MiGA classes), or blank for an unlabelled segment; a video's segments are all labelled or all blank.
    Segments are numbered per video in row order from 1. Returns ``{video: segments}`` in order of first
    appearance.
    """
    path = Path(path)
    classes = default_classes() if classes is None else classes
    positions: dict[str, int] | None = None
    result: dict[str, list[Segment]] = {}
    first_line: dict[str, tuple[int, bool]] = {}  # video -> (first line, labelled)
    for line, cells in csv_rows(path):
        where = f"{path}:{line}"
        if positions is None:
            positions = _annotation_header(cells, where)
            continue
        if len(cells) > len(positions):
            raise ValueError(f"{where}: {len(cells)} cells but the header has {len(positions)} columns")
        cells += [""] * (len(positions) - len(cells))
        video = cells[positions["video"]]
        if not video:
            raise ValueError(f"{where}: the video cell is empty; name the video file")
        start, end = _segment_bounds(cells[positions["start"]], cells[positions["end"]], where)
        label = cells[positions["label"]] if "label" in positions else ""
        code = _label_code(label, where, classes) if label else None
        seen = first_line.setdefault(video, (line, code is not None))
        if seen[1] != (code is not None):
            state = "labelled" if seen[1] else "unlabelled"
            raise ValueError(f"{where}: video {video!r} was {state} on line {seen[0]}, but this row is not; "
                             "label all segments of a video or none")
        segments = result.setdefault(video, [])
        segments.append(Segment(len(segments) + 1, start, end, code))
    if positions is None:
        raise ValueError(f"{path}: empty; write the header video,start,end[,label] and one row per segment")
    if not result:
        raise ValueError(f"{path}: no segments below the header")
    return result


def read_classes_csv(path: str | Path) -> list[ClassInfo]:
    """Reads ``classes.csv``: rows ``code,name`` with an optional header. Classes are indexed in code order."""
    path = Path(path)
    found: dict[int, tuple[str, int]] = {}  # code -> (name, line)
    names: dict[str, int] = {}
    for line, cells in csv_rows(path):
        where = f"{path}:{line}"
        if not found and not names and [header_key(c) for c in cells] == ["code", "name"]:
            continue
        if len(cells) != 2 or not cells[1]:
            raise ValueError(f"{where}: expected code,name (quote names that contain commas), got {','.join(cells)!r}")
        code = parse_int(cells[0])
        if code is None:
            raise ValueError(f"{where}: class code {cells[0]!r} is not an integer")
        if code in found:
            raise ValueError(f"{where}: class code {code} already defined on line {found[code][1]}")
        key = cells[1].lower()
        if key in names:
            raise ValueError(f"{where}: class name {cells[1]!r} already used on line {names[key]}")
        found[code] = (cells[1], line)
        names[key] = line
    if not found:
        raise ValueError(f"{path}: no classes; write one row code,name per class")
    return [ClassInfo(index=i, code=code, name=found[code][0]) for i, code in enumerate(sorted(found))]
