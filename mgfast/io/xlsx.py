"""Fast reading of the first worksheet of an .xlsx workbook, row by row.

openpyxl's read-only mode turns every cell into a dict and costs about 3 ms for a row of 411 numbers, so the
pose table of a long video (30k-50k frames) takes minutes. :func:`sheet_rows` scans the worksheet XML with
regular expressions instead, a few MiB at a time so memory stays bounded, and gives the same values as
``load_workbook(path, read_only=True, data_only=True).worksheets[0].iter_rows(values_only=True)`` with the
trailing empty cells of each row dropped.

It reads the forms spreadsheet programs and libraries write: numbers, booleans, shared and inline strings,
formula-string and error cells, skipped (empty) cells and rows. Anything else raises :class:`XlsxUnsupported`
(also midway through the rows) so the caller can read the file with openpyxl instead: an unknown cell type,
dates, formulas, XML laid out differently (prefixed tags, comments, attributes in another order), rows out
of order or outside the sheet's declared dimension, a workbook that is not a zip file.
"""

from __future__ import annotations

import codecs
import functools
import itertools
import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

__all__ = ["XlsxUnsupported", "sheet_rows"]

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_SHARED_STRINGS = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"

_CHUNK = 1 << 22  # characters of sheet XML scanned at a time
_MAX_PENDING = 1 << 26  # an unfinished row longer than this is not a pose table's

_SHEET_DATA = re.compile(r"<sheetData\b[^>]*?(/?)>")
_ROOT = re.compile(r'<worksheet\b[^>]*\sxmlns="' + re.escape(_MAIN) + '"')
_DECLARATION = re.compile(r"""\ufeff?(?:<\?xml\b(?:[^>]*?\sencoding=["']([^"']*)["'])?[^>]*\?>)?""")
_DIMENSION = re.compile(r'<dimension\s+ref="([^"]*)"')
_ROW_TAG = re.compile(r"\s*<row\b([^>]*?)(/?)>")
_ROW_NUMBER = re.compile(r'(?:^|\s)r="([^"]*)"')
# one <c> element with its reference first, as all writers put it: the reference's column letters, the
# other attributes, the <v> text, the <is> element of an inline string
_CELL = re.compile(r'<c r="([A-Z]{1,3})[0-9]+"([^>/]*)(?:/>|>(?:<v>([^<]*)</v>|(<is>.*?</is>))?</c>)', re.S)
_CELL_FIELDS = 4  # groups of _CELL: re.split puts them between the text around the matches
_TYPE = re.compile(r'(?:^|\s)t="([^"]*)"')
_STYLE = re.compile(r'(?:^|\s)s="([^"]*)"')
_TYPES = ("n", "s", "b", "str", "e", "inlineStr")


class XlsxUnsupported(Exception):
    """The workbook has something the fast reader does not handle; read it with openpyxl instead."""


def _column(letters: str) -> int:
    """The 1-based index of a column: A is 1, Z 26, AA 27."""
    index = 0
    for letter in letters:
        index = 26 * index + ord(letter) - 64
    return index


@functools.lru_cache(maxsize=64)  # rows of a table have one or a few lengths
def _first_columns(count: int) -> list[str]:
    """The letters of columns 1 to ``count``."""
    letters = []
    for index in range(1, count + 1):
        name = ""
        while index:
            index, rest = divmod(index - 1, 26)
            name = chr(65 + rest) + name
        letters.append(name)
    return letters


def _cast_number(text: str) -> int | float:
    """A numeric cell's value, typed as openpyxl types it."""
    return float(text) if "." in text or "e" in text or "E" in text else int(text)


def _part(target: str) -> str:
    """A relationship target of ``xl/workbook.xml`` as a member name of the archive."""
    return target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))


def _first_worksheet(archive: zipfile.ZipFile) -> str:
    sheet = ET.fromstring(archive.read("xl/workbook.xml")).find(f"{{{_MAIN}}}sheets/{{{_MAIN}}}sheet")
    if sheet is None:
        raise XlsxUnsupported("the workbook lists no sheets")
    rel_id = sheet.get(f"{{{_RELS}}}id")
    rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for rel in rels.iter(f"{{{_PACKAGE_RELS}}}Relationship"):
        if rel.get("Id") == rel_id and rel.get("Type") == f"{_RELS}/worksheet" and rel.get("TargetMode") != "External":
            return _part(rel.get("Target", ""))
    raise XlsxUnsupported("the first sheet is not a worksheet in the file")


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    """The shared string table, found through the content types as openpyxl finds it."""
    for override in ET.fromstring(archive.read("[Content_Types].xml")).iter(f"{{{_CONTENT_TYPES}}}Override"):
        if override.get("ContentType") == _SHARED_STRINGS:
            from openpyxl.reader.strings import read_string_table

            with archive.open(override.get("PartName", "")[1:]) as source:
                return read_string_table(source)
    return []


def _date_styles(archive: zipfile.ZipFile) -> set[int]:
    """Indices of the cell styles with a date or time number format (openpyxl reads their numbers as dates)."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

    try:
        styles = ET.fromstring(archive.read("xl/styles.xml"))
    except KeyError:
        return set()
    numbers = styles.iterfind(f"{{{_MAIN}}}numFmts/{{{_MAIN}}}numFmt")
    custom = {int(f.get("numFmtId", "")): f.get("formatCode") for f in numbers}
    formats = [int(xf.get("numFmtId", 0)) for xf in styles.iterfind(f"{{{_MAIN}}}cellXfs/{{{_MAIN}}}xf")]
    return {k for k, f in enumerate(formats) if is_date_format(custom[f] if f in custom else BUILTIN_FORMATS.get(f))}


def _text(stream) -> Iterator[str]:
    """The worksheet XML as text, a chunk at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(_CHUNK):
            yield decoder.decode(chunk)
        yield decoder.decode(b"", final=True)
    except (UnicodeDecodeError, zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise XlsxUnsupported(f"the worksheet cannot be read as UTF-8 text ({error})") from None


def _row_elements(text: str, closed: bool) -> Iterator[tuple[str, str | None]]:
    """``(attributes, contents)`` of each row in ``text``, a piece of ``<sheetData>`` that ends at a ``</row>``
    tag if ``closed``: empty ``<row/>`` elements (contents None), then the ``<row>`` that tag closes."""
    position = 0
    while match := _ROW_TAG.match(text, position):
        if not match.group(2):
            if closed:
                yield match.group(1), text[match.end():]
                return
            break
        yield match.group(1), None
        position = match.end()
    if closed or text[position:].strip():
        raise XlsxUnsupported("the worksheet has something other than <row> elements in <sheetData>")


def _rows(chunks: Iterator[str]) -> tuple[str, Iterator[tuple[str, str | None]]]:
    """The worksheet's text before ``<sheetData>``, and ``(attributes, contents)`` of each of its rows."""
    head = ""
    for chunk in chunks:
        head += chunk
        if (start := _SHEET_DATA.search(head)) or len(head) > _MAX_PENDING:
            break
    if not start or not _ROOT.search(head, 0, start.start()):
        raise XlsxUnsupported("no <sheetData> in a <worksheet> of the spreadsheetml namespace")
    prolog = head[: start.start()]
    declaration = _DECLARATION.match(prolog)
    if (declaration.group(1) or "utf-8").lower() not in ("utf-8", "utf8"):
        raise XlsxUnsupported(f"the worksheet is encoded as {declaration.group(1)}")
    if "<!" in prolog or "<?" in prolog[declaration.end():]:  # a document type could define entities
        raise XlsxUnsupported("the worksheet has a document type, comment or processing instruction")

    def rows() -> Iterator[tuple[str, str | None]]:
        if start.group(1):  # <sheetData/>: no rows
            return
        pending = ""
        for chunk in itertools.chain([head[start.end():]], chunks):
            pending += chunk
            end = pending.find("</sheetData>")
            text = pending if end < 0 else pending[:end]
            # str.split is 10x faster than a regular expression. A comment, CDATA section or processing
            # instruction that hides or fakes tags ends up outside the matched tags and is refused there.
            *complete, pending = text.split("</row>")
            for piece in complete:
                yield from _row_elements(piece, closed=True)
            if end >= 0:
                yield from _row_elements(pending, closed=False)
                return
            if len(pending) > _MAX_PENDING:
                break
        raise XlsxUnsupported("no end of <sheetData> found")

    return prolog, rows()


class _Cells:
    """Turns the contents of ``<row>`` elements into cell values, as openpyxl does."""

    def __init__(self, shared_strings: list[str], date_styles: set[int], max_column: int | None):
        self.shared_strings = shared_strings
        self.date_styles = date_styles
        self.max_column = max_column
        self.types: dict[str, str] = {}  # cell type of each distinct attribute text: there are few

    def cell_type(self, attributes: str) -> str:
        if (known := self.types.get(attributes)) is not None:
            return known
        match = _TYPE.search(attributes)
        kind = match.group(1) if match else "n"
        style = _STYLE.search(attributes)
        if kind not in _TYPES or (kind == "n" and style and style.group(1) and int(style.group(1)) in self.date_styles):
            raise XlsxUnsupported(f"cells of type {kind!r}{' with a date format' if kind == 'n' else ''}")
        self.types[attributes] = kind
        return kind

    def value(self, kind: str, text: str | None, inline: str | None) -> object:
        if kind == "inlineStr":
            from openpyxl.cell.text import Text

            return None if inline is None else Text.from_tree(ET.fromstring(inline)).content
        if not text:  # no <v>, or an empty one
            return None
        if kind == "n":
            return _cast_number(text)
        if kind == "s":
            return self.shared_strings[int(text)]
        if kind == "b":
            return bool(int(text))
        return ET.fromstring(f"<v>{text}</v>").text  # "str" and "e": the text, entities replaced

    def row(self, contents: str | None) -> list:
        """A row's values up to its last non-empty one, None for empty cells."""
        if not contents:
            return []
        parts = _CELL.split(contents)
        step = _CELL_FIELDS + 1
        if "".join(parts[::step]).strip():
            raise XlsxUnsupported("a row has cells written in an unexpected form (e.g. formulas)")
        letters, attributes, texts, inlines = (parts[k::step] for k in range(1, step))
        count = len(letters)
        if letters and self.max_column is not None and _column(letters[-1]) > self.max_column:
            raise XlsxUnsupported("a cell lies outside the sheet's declared dimension")
        try:
            if (letters == _first_columns(count) and all(self.cell_type(a) == "n" for a in set(attributes))
                    and None not in texts and "" not in texts):
                # the usual row: numbers in all columns; _cast_number inlined, a third faster
                values = [float(t) if "." in t or "e" in t or "E" in t else int(t) for t in texts]
            else:
                values = []
                for column, attrs, text, inline in zip(letters, attributes, texts, inlines):
                    index = _column(column)
                    if index <= len(values):
                        raise XlsxUnsupported("a row has its cells out of order")
                    values.extend([None] * (index - 1 - len(values)))
                    values.append(self.value(self.cell_type(attrs), text, inline))
        except (ValueError, IndexError, TypeError, ET.ParseError) as error:
            raise XlsxUnsupported(f"a cell value openpyxl reads differently ({error})") from None
        while values and (values[-1] is None or values[-1] == ""):
            values.pop()
        return values


def sheet_rows(path: str | Path) -> Iterator[list]:
    """Yields each row of the first worksheet, from row 1 to the last one written, as a list of cell values.

    Values are int, float, str or bool, None for an empty cell; a row's trailing empty cells are dropped and
    rows missing from the file come as ``[]``. Raises :class:`XlsxUnsupported` where openpyxl is needed.
    """
    from openpyxl.utils.cell import range_boundaries

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise XlsxUnsupported(f"not a zip archive ({error})") from None
    with archive:
        try:
            sheet = _first_worksheet(archive)
            shared_strings = _shared_strings(archive)
            date_styles = _date_styles(archive)
            source = archive.open(sheet)
        except (KeyError, ValueError, TypeError, ET.ParseError) as error:
            raise XlsxUnsupported(f"workbook structure not understood ({error})") from None
        with source:
            try:
                head, rows = _rows(_text(source))
                dimension = _DIMENSION.search(head)
                max_row = max_column = None
                if dimension:
                    _, _, max_column, max_row = range_boundaries(dimension.group(1))
            except ValueError as error:
                raise XlsxUnsupported(f"the sheet's dimension is not understood ({error})") from None
            cells = _Cells(shared_strings, date_styles, max_column)
            last = 0  # the last row number given
            for attributes, contents in rows:
                match = _ROW_NUMBER.search(attributes)
                number = last + 1 if match is None else _row_number(match.group(1))
                if number <= last or (max_row is not None and number > max_row):
                    raise XlsxUnsupported("rows out of order or outside the sheet's declared dimension")
                for _ in range(last + 1, number):
                    yield []
                last = number
                yield cells.row(contents)


def _row_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise XlsxUnsupported(f"row number {text!r}") from None
