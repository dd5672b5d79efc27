"""Readers for label files, annotation CSVs, class lists, OpenPose tables and OpenPose JSON folders.

Fixtures are written here with the csv module, openpyxl and json directly (not with mgfast's writers), from
random values, and the parsed result is compared with the values that went in.
"""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from mgfast.io import pose_tables, xlsx

from mgfast.io.annotations import (
    CLASS_CODES, Segment, class_code, class_index, default_classes, read_annotation_csv, read_classes_csv,
    read_miga_labels,
)
from mgfast.io.dataset import ClassInfo
from mgfast.io.openpose_json import read_openpose_frame
from mgfast.io.pose_tables import read_openpose_json_dir, read_pose_table, table_header, write_pose_table
from mgfast.io.xlsx import XlsxUnsupported, sheet_rows


def write_text(path, lines, *, bom=False, newline="\n"):
    path.write_bytes(((b"\xef\xbb\xbf" if bom else b"") + newline.join(lines).encode()) + newline.encode())
    return path


def random_segments(rng, n, labelled=True):
    starts = np.sort(rng.choice(5000, size=n, replace=False))
    ends = starts + rng.integers(0, 60, size=n)
    codes = rng.choice(CLASS_CODES, size=n) if labelled else [None] * n
    return [Segment(k + 1, int(s), int(e), None if c is None else int(c)) for k, (s, e, c) in enumerate(zip(starts, ends, codes))]


# ---------------------------------------------------------------- class codes


def test_class_codes_map_to_indices_and_back():
    assert len(CLASS_CODES) == 32 and CLASS_CODES[:31] == tuple(range(1, 32)) and CLASS_CODES[31] == 99
    assert [class_index(c) for c in range(1, 32)] == list(range(31)) and class_index(99) == 31
    assert [class_code(i) for i in range(32)] == list(CLASS_CODES)
    for bad in (0, 32, 98, 100, -1, "5"):
        with pytest.raises(ValueError, match="not a MiGA class code"):
            class_index(bad)
    for bad in (-1, 32, 1.0):
        with pytest.raises(ValueError, match="not a MiGA class index"):
            class_code(bad)


def test_default_classes_are_the_32_codes_in_index_order():
    classes = default_classes()
    assert [c.index for c in classes] == list(range(32))
    assert [c.code for c in classes] == list(CLASS_CODES)
    assert classes[0].name == "class 1" and classes[31].name == "class 99"
    assert len({c.name for c in classes}) == 32


# ---------------------------------------------------------------- MiGA label files


@pytest.mark.parametrize("header", [None, "class,start_frame,end_frame", " Class , Start_Frame , End_Frame "])
@pytest.mark.parametrize("style", ["plain", "messy"])
def test_miga_labels_match_the_rows_written(tmp_path, header, style):
    rng = np.random.default_rng(len(style) + (len(header) if header else 0))
    segments = random_segments(rng, 25)
    if style == "plain":
        lines = [f"{s.code},{s.start},{s.end}" for s in segments]
    else:  # spaces around cells, integral floats, blank lines, CRLF and a BOM: all without meaning
        lines = [f" {s.code} ,{s.start}.0,  {s.end}" for s in segments]
        lines.insert(3, "")
        lines.insert(10, " , , ")
    path = write_text(tmp_path / "0001_label.csv", ([header] if header else []) + lines,
                      bom=style == "messy", newline="\r\n" if style == "messy" else "\n")
    assert read_miga_labels(path) == segments


def test_miga_label_header_may_order_columns_and_carry_an_index(tmp_path):
    segments = random_segments(np.random.default_rng(1), 12)
    path = write_text(tmp_path / "x_label.csv", [",start_frame,end_frame,label"]
                      + [f"{k},{s.start},{s.end},{s.code}" for k, s in enumerate(segments)])
    assert read_miga_labels(path) == segments


@pytest.mark.parametrize("placeholder", ["", "?", "-1", "0", "nan", "unknown"])
def test_a_label_file_without_usable_classes_is_unlabelled(tmp_path, placeholder):
    segments = random_segments(np.random.default_rng(2), 9, labelled=False)
    path = write_text(tmp_path / "t_label.csv", [f"{placeholder},{s.start},{s.end}" for s in segments])
    assert read_miga_labels(path) == segments


def test_a_two_column_label_file_is_unlabelled(tmp_path):
    segments = random_segments(np.random.default_rng(3), 7, labelled=False)
    path = write_text(tmp_path / "t_label.csv", ["start_frame,end_frame"] + [f"{s.start},{s.end}" for s in segments])
    assert read_miga_labels(path) == segments
    path = write_text(tmp_path / "u_label.csv", [f"{s.start},{s.end}" for s in segments])
    assert read_miga_labels(path) == segments


def test_custom_class_codes_are_checked_against_the_given_classes(tmp_path):
    path = write_text(tmp_path / "c_label.csv", ["7,0,10", "120,20,30"])
    classes = [ClassInfo(0, 7, "a"), ClassInfo(1, 120, "b")]
    assert read_miga_labels(path, classes) == [Segment(1, 0, 10, 7), Segment(2, 20, 30, 120)]
    with pytest.raises(ValueError, match=re.escape(f"{path}:2: class '120' is not a known class code")):
        read_miga_labels(path)


@pytest.mark.parametrize(("lines", "line", "message"), [
    (["1,0,10", "2,x,20", "3,30,40"], 2, "start frame 'x' is not a frame number"),
    (["1,0,10", "2,10,20", "3,30,4.5"], 3, "end frame '4.5' is not a frame number"),
    (["1,0,10", "2,25,20"], 2, "start frame 25 is after end frame 20"),
    (["1,0,10", "2,-5,20"], 2, "negative"),
    (["class,start_frame,end_frame", "1,0,10", "45,10,20"], 3, "class '45' is not a known class code"),
    (["1,0,10", "2,10,20", "?,30,40"], 3, "class '?' is not a class code, but other rows are labelled"),
    (["1,0,10", ",10,20"], 2, "other rows are labelled"),
    ([",0,10", ",10,20", "32,30,40"], 3, "class '32' is not a known class code"),
    (["1,0,10", "2,10,20,7"], 2, "4 cells where the file has 3 columns"),
    (["1,0,10", "2,10"], 2, "the start or end frame is missing"),
    (["1,0,10,4,5"], 1, "5 cells"),
])
def test_bad_label_lines_are_reported_with_file_and_line(tmp_path, lines, line, message):
    path = write_text(tmp_path / "0007_label.csv", lines)
    with pytest.raises(ValueError, match=re.escape(f"{path}:{line}: ") + ".*" + re.escape(message)):
        read_miga_labels(path)


def test_empty_or_missing_label_files_are_errors(tmp_path):
    path = write_text(tmp_path / "e_label.csv", ["class,start_frame,end_frame"])
    with pytest.raises(ValueError, match="no segments"):
        read_miga_labels(path)
    with pytest.raises(FileNotFoundError, match="nothing_label.csv"):
        read_miga_labels(tmp_path / "nothing_label.csv")
    (tmp_path / "l_label.csv").write_bytes("1,0,10\n\xe9,1,2\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        read_miga_labels(tmp_path / "l_label.csv")


# ---------------------------------------------------------------- annotation CSV


def test_annotation_csv_numbers_segments_per_video_in_row_order(tmp_path):
    rng = np.random.default_rng(4)
    expected = {"a.mp4": random_segments(rng, 6), "b": random_segments(rng, 5), "c": random_segments(rng, 4, labelled=False)}
    order = [v for v, segments in expected.items() for _ in segments]
    queues = {v: list(segments) for v, segments in expected.items()}
    rows = [(v, queues[v].pop(0)) for v in rng.permutation(order)]  # videos interleaved, each in its own order
    lines = ["video,start,end,label"] + [f"{v},{s.start},{s.end},{'' if s.code is None else s.code}" for v, s in rows]
    parsed = read_annotation_csv(write_text(tmp_path / "annotations.csv", lines, bom=True))
    assert parsed == expected
    assert list(parsed) == list(dict.fromkeys(v for v, _ in rows))


def test_annotation_csv_labels_may_be_names_and_the_label_column_optional(tmp_path):
    classes = [ClassInfo(0, 3, "touch nose"), ClassInfo(1, 8, "fold arms")]
    lines = ["Video,Start_Frame,End_Frame,Label", "v1,0,9,Touch Nose", "v1,10,19,8", "v2,5,6,fold arms"]
    assert read_annotation_csv(write_text(tmp_path / "a.csv", lines), classes) == {
        "v1": [Segment(1, 0, 9, 3), Segment(2, 10, 19, 8)], "v2": [Segment(1, 5, 6, 8)]}
    lines = ["end,video,start", "9,v1,0", "30,v1,20"]
    assert read_annotation_csv(write_text(tmp_path / "b.csv", lines)) == {"v1": [Segment(1, 0, 9, None), Segment(2, 20, 30, None)]}


@pytest.mark.parametrize(("lines", "line", "message"), [
    (["v1,0,9,3"], 1, "unknown column 'v1'"),
    (["video,start,label", "v1,0,3"], 1, "missing end"),
    (["video,start,end,lable", "v1,0,9,3"], 1, "unknown column 'lable'"),
    (["video,start,end,label", "v1,0,9,3", "v1,10,19,"], 3, "video 'v1' was labelled on line 2"),
    (["video,start,end,label", "v1,0,9,3", "v2,10,19,100"], 3, "label '100' is neither a class code nor a class name"),
    (["video,start,end,label", "v1,0,9,3", "v1,10,z,4"], 3, "end frame 'z' is not a frame number"),
    (["video,start,end,label", "v1,0,9,3", ",10,19,4"], 3, "the video cell is empty"),
    (["video,start,end", "v1,0,9,3"], 2, "4 cells but the header has 3 columns"),
])
def test_bad_annotation_lines_are_reported(tmp_path, lines, line, message):
    path = write_text(tmp_path / "annotations.csv", lines)
    with pytest.raises(ValueError, match=re.escape(f"{path}:{line}: ") + ".*" + re.escape(message)):
        read_annotation_csv(path)


# ---------------------------------------------------------------- classes.csv


@pytest.mark.parametrize("header", [True, False])
def test_classes_csv_is_indexed_in_code_order(tmp_path, header):
    rng = np.random.default_rng(5)
    codes = rng.choice(200, size=12, replace=False)
    lines = (["code,name"] if header else []) + [f'{c},"name, {c}"' for c in codes]
    classes = read_classes_csv(write_text(tmp_path / "classes.csv", lines))
    assert classes == [ClassInfo(i, int(c), f"name, {c}") for i, c in enumerate(sorted(codes))]


@pytest.mark.parametrize(("lines", "line", "message"), [
    (["code,name", "1,a", "1,b"], 3, "class code 1 already defined on line 2"),
    (["1,a", "2,A"], 2, "class name 'A' already used on line 1"),
    (["1,a", "x,b"], 2, "class code 'x' is not an integer"),
    (["1,a", "2,b,c"], 2, "expected code,name"),
    (["1,a", "2"], 2, "expected code,name"),
])
def test_bad_classes_lines_are_reported(tmp_path, lines, line, message):
    path = write_text(tmp_path / "classes.csv", lines)
    with pytest.raises(ValueError, match=re.escape(f"{path}:{line}: {message}")):
        read_classes_csv(path)


# ---------------------------------------------------------------- pose tables


def random_pose(rng, frames):
    """float32 [F, 137, 3]; some points undetected (0, 0, 0) as OpenPose writes them."""
    points = np.empty((frames, 137, 3), np.float32)
    points[..., 0] = rng.uniform(0, 1280, (frames, 137))
    points[..., 1] = rng.uniform(0, 720, (frames, 137))
    points[..., 2] = rng.uniform(0, 1, (frames, 137))
    points[rng.random((frames, 137)) < 0.1] = 0
    return points


def cell_text(value):
    return repr(float(value))  # the exact float32 value


def header_cells():
    return [f"{a}{k}" for k in range(137) for a in ("x", "y", "c")]


def test_table_header_names_each_value():
    assert table_header() == header_cells() and len(table_header()) == 411


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("index", [False, True])
def test_csv_tables_read_back_the_values_written(tmp_path, header, index):
    rng = np.random.default_rng(10 + 2 * header + index)
    points = random_pose(rng, 40)
    rows = [[cell_text(v) for v in frame.reshape(-1)] for frame in points]
    if index:
        rows = [[str(f)] + row for f, row in enumerate(rows)]
    head = ([["frame"] + header_cells()] if index else [header_cells()]) if header else []
    path = write_text(tmp_path / "p.csv", [",".join(r) for r in head + rows])
    result = read_pose_table(path)
    assert result.dtype == np.float32 and np.array_equal(result, points)


@pytest.mark.parametrize("header", [True, False])
def test_blank_cells_and_rows_make_points_undetected(tmp_path, header):
    rng = np.random.default_rng(20 + header)
    points = random_pose(rng, 30)
    cells = [[cell_text(v) for v in frame.reshape(-1)] for frame in points]
    expected = points.copy()
    for frame, column in zip(rng.integers(0, 30, 60), rng.integers(0, 411, 60)):
        cells[frame][column] = rng.choice(["", " ", "nan"])
        expected[frame, column // 3] = 0  # the whole point becomes undetected
    for frame in (0, 7, 8):  # blank rows are frames with nothing detected
        cells[frame] = [""] * (411 if frame == 0 else 0)
        expected[frame] = 0
    cells[12] = cells[12][:200]  # a short row: the missing cells are empty; point 66 loses its confidence
    expected[12, 66:] = 0
    lines = ([",".join(header_cells())] if header else []) + [",".join(r) for r in cells] + ["", ",,,"]
    expected = np.concatenate([expected, np.zeros((2, 137, 3), np.float32)])  # trailing blank rows are frames too
    assert np.array_equal(read_pose_table(write_text(tmp_path / "b.csv", lines)), expected)


@pytest.mark.parametrize("index_base", [0, 1])
def test_xlsx_tables_with_a_frame_index_place_rows_by_frame(tmp_path, index_base):
    rng = np.random.default_rng(30 + index_base)
    points = random_pose(rng, 25)
    kept = [f for f in rng.permutation(25) if f not in (4, 5, 17)]  # shuffled rows, three frames missing
    expected = points.copy()
    expected[[4, 5, 17]] = 0
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["frame"] + header_cells())
    for f in kept:
        row = [float(v) for v in points[f].reshape(-1)]
        blank = int(rng.integers(0, 411))
        row[blank] = None
        expected[f, blank // 3] = 0
        sheet.append([f + index_base] + row)
    workbook.save(tmp_path / "p.xlsx")
    assert np.array_equal(read_pose_table(tmp_path / "p.xlsx"), expected)


def test_xlsx_tables_without_header_or_index(tmp_path):
    points = random_pose(np.random.default_rng(40), 15)
    workbook = openpyxl.Workbook()
    for frame in points:
        workbook.active.append([float(v) for v in frame.reshape(-1)])
    workbook.active.cell(row=6, column=10, value="12.5")  # a number stored as text
    expected = points.copy()
    expected[5, 3, 0] = 12.5
    workbook.save(tmp_path / "n.xlsx")
    assert np.array_equal(read_pose_table(tmp_path / "n.xlsx"), expected)


def test_bad_csv_cells_are_reported_with_line_and_column(tmp_path):
    rows = [["1"] * 411 for _ in range(4)]
    rows[2][4] = "x"
    path = write_text(tmp_path / "bad.csv", [",".join(header_cells())] + [",".join(r) for r in rows])
    with pytest.raises(ValueError, match=re.escape(f"{path}: line 4, column 5: 'x' is not a number")):
        read_pose_table(path)


def test_bad_xlsx_cells_are_reported_with_row_and_column_letter(tmp_path):
    workbook = openpyxl.Workbook()
    for _ in range(3):
        workbook.active.append([1.0] * 411)
    workbook.active.cell(row=3, column=28, value="oops")
    workbook.save(tmp_path / "bad.xlsx")
    with pytest.raises(ValueError, match=re.escape("row 3, column 28 (AB): 'oops' is not a number")):
        read_pose_table(tmp_path / "bad.xlsx")


@pytest.mark.parametrize(("lines", "message"), [
    ([",".join(["x"] * 410), ",".join(["1"] * 410)], "line 1: the header has 410 columns"),
    ([",".join(["1"] * 411), ",".join(["1"] * 412)], "line 2: 412 cells, but the file has 411 columns"),
    ([",".join(["1"] * 413)], "line 1: 413 cells, but the file has 411 columns"),
    ([",".join(["0"] + ["1"] * 411), ",".join(["0"] + ["1"] * 411)], "line 2: frame index 0 already used at line 1"),
    ([",".join(["-1"] + ["1"] * 411)], "line 1, column 1: frame index '-1' is not a non-negative integer"),
    ([",".join(["1"] * 410 + ["inf"])], "line 1, column 411: 'inf' is infinite"),
    ([",".join(header_cells())], "no data rows"),
    (["", ""], "no rows"),
])
def test_malformed_tables_are_errors_naming_the_file(tmp_path, lines, message):
    path = write_text(tmp_path / "m.csv", lines)
    with pytest.raises(ValueError, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
        read_pose_table(path)


def test_pose_table_file_type_and_existence(tmp_path):
    with pytest.raises(ValueError, match="use .xlsx or .csv"):
        read_pose_table(tmp_path / "p.xls")
    with pytest.raises(FileNotFoundError, match="none.csv"):
        read_pose_table(tmp_path / "none.csv")
    (tmp_path / "fake.xlsx").write_text("not a zip")
    with pytest.raises(ValueError, match="fake.xlsx: cannot open as an xlsx workbook"):
        read_pose_table(tmp_path / "fake.xlsx")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_write_pose_table_round_trips_exactly_with_a_header(tmp_path, suffix):
    points = random_pose(np.random.default_rng(50), 12)
    path = write_pose_table(tmp_path / "sub" / f"w{suffix}", points.astype(np.float64))
    assert path == tmp_path / "sub" / f"w{suffix}" and sorted(p.name for p in path.parent.iterdir()) == [path.name]
    assert np.array_equal(read_pose_table(path), points)
    if suffix == ".csv":
        lines = path.read_text().splitlines()
        assert lines[0].split(",") == header_cells() and len(lines) == 13
        assert np.array_equal(np.array(lines[5].split(","), dtype=np.float32), points[4].reshape(-1))
    else:
        rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
        assert list(rows[0]) == header_cells() and len(rows) == 13
        assert np.array_equal(np.array(rows[5], dtype=np.float32), points[4].reshape(-1))


def test_write_pose_table_rejects_bad_arrays(tmp_path):
    for bad in (np.zeros((3, 137)), np.zeros((3, 68, 3)), np.zeros((0, 137, 3))):
        with pytest.raises(ValueError, match=r"\[F, 137, 3\]"):
            write_pose_table(tmp_path / "x.csv", bad)
    nan = np.zeros((2, 137, 3))
    nan[1, 5, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        write_pose_table(tmp_path / "x.csv", nan)
    with pytest.raises(TypeError, match="numeric"):
        write_pose_table(tmp_path / "x.csv", np.full((1, 137, 3), "a"))
    with pytest.raises(ValueError, match="use .xlsx or .csv"):
        write_pose_table(tmp_path / "x.txt", np.zeros((1, 137, 3)))
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- OpenPose JSON


def person_json(points):
    """An OpenPose person object from [137, 3] points."""
    flat = lambda a: [float(v) for v in a.reshape(-1)]  # noqa: E731
    return {"person_id": [-1], "pose_keypoints_2d": flat(points[:25]), "face_keypoints_2d": flat(points[25:95]),
            "hand_left_keypoints_2d": flat(points[95:116]), "hand_right_keypoints_2d": flat(points[116:]),
            "pose_keypoints_3d": [], "face_keypoints_3d": []}


def write_frame(folder, number, people):
    path = folder / f"0054_{number:012d}_keypoints.json"
    path.write_text(json.dumps({"version": 1.3, "people": people}))


@pytest.mark.parametrize("first", [0, 1])
def test_openpose_json_folder_takes_the_most_confident_person_per_frame(tmp_path, first):
    rng = np.random.default_rng(60 + first)
    frames = 20
    expected = np.zeros((frames, 137, 3), np.float32)
    for f in rng.permutation(frames):
        if f in (6, 11):  # 6: nobody detected; 11: no file at all
            if f == 6:
                write_frame(tmp_path, f + first, [])
            continue
        people = random_pose(rng, int(rng.integers(1, 4)))
        body_means = people[:, :25, 2].mean(axis=1)
        expected[f] = people[int(np.argmax(body_means))]
        write_frame(tmp_path, f + first, [person_json(p) for p in people])
    result = read_openpose_json_dir(tmp_path)
    assert result.dtype == np.float32 and np.array_equal(result, expected)


def test_openpose_json_parts_that_were_not_run_are_zeros_and_legacy_keys_read(tmp_path):
    points = random_pose(np.random.default_rng(70), 1)[0]
    person = person_json(points)
    person["face_keypoints_2d"] = []
    del person["hand_left_keypoints_2d"]
    person["hand_right_keypoints"] = person.pop("hand_right_keypoints_2d")  # OpenPose 1.0 naming
    (tmp_path / "f_0_keypoints.json").write_text(json.dumps({"people": [person]}))
    expected = points.copy()
    expected[25:116] = 0
    assert np.array_equal(read_openpose_frame(tmp_path / "f_0_keypoints.json"), expected)


def test_openpose_json_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        read_openpose_json_dir(tmp_path / "missing")
    with pytest.raises(ValueError, match="no \\*_keypoints.json files"):
        read_openpose_json_dir(tmp_path)
    person = person_json(np.zeros((137, 3)))
    person["pose_keypoints_2d"] = person["pose_keypoints_2d"][:-3]
    write_frame(tmp_path, 0, [person])
    with pytest.raises(ValueError, match=r"0054_000000000000_keypoints.json: person 0: pose_keypoints_2d has 72 values"):
        read_openpose_json_dir(tmp_path)
    write_frame(tmp_path, 0, [])
    (tmp_path / "x_00000_keypoints.json").write_text("{}")
    with pytest.raises(ValueError, match="both claim frame 0"):
        read_openpose_json_dir(tmp_path)
    (tmp_path / "x_00000_keypoints.json").unlink()
    (tmp_path / "y_3_keypoints.json").write_text("{people: ")
    with pytest.raises(ValueError, match="y_3_keypoints.json: not an OpenPose JSON file"):
        read_openpose_json_dir(tmp_path)
    (tmp_path / "y_3_keypoints.json").write_text('{"people": {}}')
    with pytest.raises(ValueError, match="y_3_keypoints.json: no 'people' list"):
        read_openpose_json_dir(tmp_path)
    (tmp_path / "y_3_keypoints.json").unlink()
    (tmp_path / "nonumber_keypoints.json").write_text('{"people": []}')
    with pytest.raises(ValueError, match="nonumber_keypoints.json: no frame number"):
        read_openpose_json_dir(tmp_path)


# ---------------------------------------------------------------- xlsx streaming reader
#
# Workbooks are assembled part by part with zipfile, so each test controls the worksheet XML exactly; the
# reference for every value is openpyxl in read-only mode, which read_pose_table used before.

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
SPREADSHEETML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
# cell styles 0: general, 1: the number format "0.00", 2: a date format
DATE_STYLES = (f'<styleSheet xmlns="{MAIN_NS}"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
               '</numFmts><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts><fills count="1">'
               '<fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders>'
               '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
               '<cellXfs count="3"><xf numFmtId="0" xfId="0"/><xf numFmtId="2" xfId="0"/><xf numFmtId="164" xfId="0"/>'
               '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


def write_workbook(path, rows, *, strings=(), styles=None, dimension=None, sheet=None):
    """An .xlsx whose first sheet has the given ``<row>`` elements (XML text) and ``<si>`` shared strings.

    The first sheet lives in xl/worksheets/data.xml behind a relative target; a second sheet, listed after
    it but stored as sheet1.xml, holds a decoy row. ``sheet`` replaces the whole worksheet XML.
    """
    if sheet is None:
        sheet = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN_NS}" '
                 f'xmlns:r="{DOC_RELS}">' + (f'<dimension ref="{dimension}"/>' if dimension else "")
                 + '<sheetViews><sheetView workbookViewId="0"/></sheetViews><sheetData>' + "".join(rows)
                 + '</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
                 'footer="0.3"/></worksheet>')
    overrides = [("/xl/workbook.xml", "sheet.main"), ("/xl/worksheets/data.xml", "worksheet"),
                 ("/xl/worksheets/sheet1.xml", "worksheet")]
    relations = [("rId1", "worksheet", "worksheets/sheet1.xml"), ("rId7", "worksheet", "worksheets/data.xml")]
    parts = {"xl/worksheets/data.xml": sheet,
             "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN_NS}"><sheetData><row r="1"><c r="A1"><v>99'
                                         '</v></c></row></sheetData></worksheet>'}
    if strings:
        overrides.append(("/xl/sharedStrings.xml", "sharedStrings"))
        relations.append(("rId3", "sharedStrings", "sharedStrings.xml"))
        parts["xl/sharedStrings.xml"] = (f'<sst xmlns="{MAIN_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">'
                                         + "".join(f"<si>{s}</si>" for s in strings) + "</sst>")
    if styles:
        overrides.append(("/xl/styles.xml", "styles"))
        relations.append(("rId4", "styles", "styles.xml"))
        parts["xl/styles.xml"] = styles
    parts["[Content_Types].xml"] = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        + "".join(f'<Override PartName="{name}" ContentType="{SPREADSHEETML}.{kind}+xml"/>' for name, kind in overrides)
        + "</Types>")
    parts["_rels/.rels"] = (f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" '
                            f'Type="{DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    parts["xl/workbook.xml"] = (f'<workbook xmlns="{MAIN_NS}" xmlns:r="{DOC_RELS}"><sheets>'
                                '<sheet name="poses" sheetId="2" r:id="rId7"/><sheet name="other" sheetId="1" r:id="rId1"/>'
                                "</sheets></workbook>")
    parts["xl/_rels/workbook.xml.rels"] = (
        f'<Relationships xmlns="{PACKAGE_RELS}">'
        + "".join(f'<Relationship Id="{i}" Type="{DOC_RELS}/{kind}" Target="{target}"/>' for i, kind, target in relations)
        + "</Relationships>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return path


def openpyxl_rows(path):
    """The first sheet's rows as openpyxl reads them, trailing empty cells dropped, with each value's type."""
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = []
    for values in workbook.worksheets[0].iter_rows(values_only=True):
        values = list(values)
        while values and (values[-1] is None or values[-1] == ""):
            values.pop()
        rows.append([(type(v), v) for v in values])
    workbook.close()
    return rows


def typed(rows):
    return [[(type(v), v) for v in row] for row in rows]


def read_outcome(path, *, streaming=True):
    """read_pose_table's array or error message; ``streaming=False`` switches the streaming reader off, so
    openpyxl reads the file."""
    def switched_off(path):
        raise XlsxUnsupported("switched off by the test")

    with pytest.MonkeyPatch.context() as patch:
        if not streaming:
            patch.setattr(pose_tables, "sheet_rows", switched_off)
        try:
            return read_pose_table(path)
        except ValueError as error:
            return str(error)


def assert_same_outcome(path):
    fast, slow = read_outcome(path), read_outcome(path, streaming=False)
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert isinstance(fast, np.ndarray) and fast.dtype == np.float32 and np.array_equal(fast, slow)
    return fast


def number_text(rng, value):
    """A number in one of the forms writers use: shortest repr, %g, exponent, or an integer."""
    value = float(value)
    if value.is_integer() and rng.random() < 0.7:
        return str(int(value))
    return str(rng.choice([repr(value), f"{value:.7g}", f"{value:.8E}", f"{value:.9e}"]))


def random_table_rows(rng, strings, *, header, index, frames):
    """``<row>`` elements of a random pose table: numbers as various writers store them, skipped and empty
    cells and rows, texts and booleans among the numbers; the header (None, "inline" or "shared") and
    texts use inline or shared strings, some of them rich text or with entities."""
    def text_cell(ref, text, how):
        if how == "shared":
            rich = f"<r><t>{text[:1]}</t></r><r><rPr><b/></rPr><t>{text[1:]}</t></r>"
            strings.append(f"<t>{text}</t>" if rng.random() < 0.8 else rich)
            return f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>'
        if how == "str":
            return f'<c r="{ref}" t="str"><v>{text}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'

    width = 411 + index
    rows = []
    number = 0
    if header:
        number = 1
        names = (["frame"] if index else []) + header_cells()
        names[-1] = "c&amp;136"
        rows.append(f'<row r="1" spans="1:{width}">'
                    + "".join(text_cell(f"{get_column_letter(k + 1)}1", name, header) for k, name in enumerate(names))
                    + "</row>")
    for frame in (rng.permutation(frames) if index else range(frames)):
        number += 1 + int(rng.random() < 0.1)  # now and then a row number is skipped
        if rng.random() < 0.05:
            rows.append(f'<row r="{number}" spans="1:{width}"/>')  # an empty row
            number += 1
        values = [float(frame)] * index + [float(v) for v in random_pose(rng, 1).reshape(-1)]
        messy = rng.random() < 0.6  # other rows hold numbers only
        cells = []
        for k, value in enumerate(values):
            ref = f"{get_column_letter(k + 1)}{number}"
            kind = rng.random() if messy and k >= index else 1.0  # the frame index is always a number
            if kind < 0.02:
                blanks = ["", f'<c r="{ref}"/>', f'<c r="{ref}" s="0"></c>', f'<c r="{ref}"><v></v></c>']
                cells.append(str(rng.choice(blanks)))
            elif kind < 0.025:
                text = str(rng.choice([" ", number_text(rng, value)]))
                cells.append(text_cell(ref, text, str(rng.choice(["shared", "str", "inline"]))))
            elif kind < 0.027:
                cells.append(f'<c r="{ref}" t="b"><v>{int(value > 100)}</v></c>')
            else:
                attributes = str(rng.choice(["", ' t="n"', ' s="0"', ' s="1" t="n"']))  # style 1: "0.00", no date
                cells.append(f'<c r="{ref}"{attributes}><v>{number_text(rng, value)}</v></c>')
        start = f'<row r="{number}" spans="1:{width}">' if rng.random() < 0.8 or not rows else "<row>"
        rows.append(start + str(rng.choice(["", "\n  "])).join(cells) + "</row>\n")  # some laid out on lines
    return rows, number


@pytest.mark.parametrize(("header", "index", "dimension"), [
    (None, 0, False), ("inline", 0, True), ("shared", 0, False), ("shared", 1, True), (None, 1, False), ("inline", 1, False),
])
@pytest.mark.parametrize("chunk", [None, 997])
def test_streaming_xlsx_reader_matches_openpyxl_on_random_tables(tmp_path, monkeypatch, header, index, dimension, chunk):
    rng = np.random.default_rng(80 + 7 * index + len(header or "") + dimension)
    strings = []
    rows, last = random_table_rows(rng, strings, header=header, index=index, frames=30)
    path = write_workbook(tmp_path / "t.xlsx", rows, strings=strings, styles=DATE_STYLES,
                          dimension=f"A1:{get_column_letter(411 + index)}{last}" if dimension else None)
    if chunk:  # rows, tags and the end of <sheetData> cut across chunks
        monkeypatch.setattr(xlsx, "_CHUNK", chunk)
    assert typed(sheet_rows(path)) == openpyxl_rows(path)
    assert isinstance(assert_same_outcome(path), np.ndarray)


@pytest.mark.parametrize("write_only", [False, True])
def test_streaming_xlsx_reader_reads_openpyxl_workbooks(tmp_path, write_only):
    rng = np.random.default_rng(90 + write_only)
    points = random_pose(rng, 20)
    if write_only:
        path = write_pose_table(tmp_path / "w.xlsx", points)
    else:
        workbook = openpyxl.Workbook()
        workbook.active.append(["frame"] + header_cells())
        for f, frame in enumerate(points):
            row = [f] + [float(v) for v in frame.reshape(-1)]
            row[int(rng.integers(1, 412))] = None
            workbook.active.append(row if f != 7 else [])
        workbook.active.cell(row=5, column=30, value="0.25")
        workbook.active.cell(row=6, column=31, value=True)
        path = tmp_path / "n.xlsx"
        workbook.save(path)
    assert typed(sheet_rows(path)) == openpyxl_rows(path)
    assert isinstance(assert_same_outcome(path), np.ndarray)


def test_streaming_xlsx_reader_gives_openpyxls_error_messages(tmp_path):
    rows = [f'<row r="{r}">' + "".join(f'<c r="{get_column_letter(k + 1)}{r}"><v>{r}</v></c>' for k in range(412))
            + "</row>" for r in range(1, 5)]
    cases = {
        "frame index -1 is not a non-negative integer": rows[2].replace('<c r="A3"><v>3</v>', '<c r="A3"><v>-1</v>'),
        "frame index 2.5 is not a non-negative integer": rows[2].replace('<c r="A3"><v>3</v>', '<c r="A3"><v>2.5</v>'),
        "frame index 1 already used at row 1": rows[2].replace('<c r="A3"><v>3</v>', '<c r="A3"><v>1</v>'),
        "column 5 (E): 'o&ps' is not a number": rows[2].replace('<c r="E3"><v>3</v>', '<c r="E3" t="str"><v>o&amp;ps</v>'),
        "column 6 (F): '#N/A' is not a number": rows[2].replace('<c r="F3"><v>3</v>', '<c r="F3" t="e"><v>#N/A</v>'),
        "column 7 (G): inf is infinite": rows[2].replace('<c r="G3"><v>3</v>', '<c r="G3"><v>1E400</v>'),
        "413 cells, but the file has 412 columns": rows[2].replace("</row>", '<c r="OW3"><v>1</v></c></row>'),
    }
    for message, bad in cases.items():
        path = write_workbook(tmp_path / "e.xlsx", rows[:2] + [bad] + rows[3:])
        assert len(list(sheet_rows(path))) == 4  # read without falling back
        outcome = assert_same_outcome(path)
        assert isinstance(outcome, str) and outcome.startswith(f"{path}: row 3") and message in outcome


def sheet_with_3_rows(rng, *, header=True):
    points = random_pose(rng, 3)
    rows = [f'<row r="1">' + "".join(f'<c r="{get_column_letter(k + 1)}1" t="inlineStr"><is><t>{name}</t></is></c>'
                                     for k, name in enumerate(header_cells())) + "</row>"] if header else []
    for f, frame in enumerate(points):
        r = f + 1 + header
        rows.append(f'<row r="{r}">' + "".join(f'<c r="{get_column_letter(k + 1)}{r}"><v>{float(v)!r}</v></c>'
                                               for k, v in enumerate(frame.reshape(-1))) + "</row>")
    return points, rows


def with_cell(row, column, cell):
    """``row`` with the cell in ``column`` (letters) replaced by ``cell``, written with {ref} for its reference."""
    number = re.match(r'<row r="(\d+)"', row).group(1)
    return re.sub(f'<c r="{column}{number}"><v>[^<]*</v></c>', cell.format(ref=f"{column}{number}"), row)


@pytest.mark.parametrize("case", ["formula", "no reference", "prefixed tags", "comment", "CDATA", "out of order",
                                  "date", "cell type d", "beyond dimension", "latin-1", "not a zip"])
def test_what_the_streaming_reader_does_not_handle_is_read_with_openpyxl(tmp_path, case):
    points, rows = sheet_with_3_rows(np.random.default_rng(100))
    expected = points.copy()
    styles, dimension, sheet = None, None, None
    if case == "formula":  # in the last row: the rows before were already read when the fast reader gives up
        rows[3] = with_cell(rows[3], "B", '<c r="{ref}"><f>1+1</f><v>2</v></c>')
        expected[2, 0, 1] = 2
    elif case == "no reference":
        rows[2] = with_cell(rows[2], "C", '<c t="n"><v>7.5</v></c>')
        expected[1, 0, 2] = 7.5
    elif case == "prefixed tags":
        sheet = (f'<x:worksheet xmlns:x="{MAIN_NS}"><x:sheetData>' + "".join(rows) + "</x:sheetData></x:worksheet>")
        sheet = re.sub(r"<(/?)(row|c|v|is|t)\b", r"<\1x:\2", sheet)
    elif case == "comment":
        rows[2] = rows[2].replace("</row>", "<!-- checked --></row>")
    elif case == "CDATA":
        rows[2] = with_cell(rows[2], "D", '<c r="{ref}"><v><![CDATA[4.25]]></v></c>')
        expected[1, 1, 0] = 4.25
    elif case == "out of order":  # openpyxl drops a row numbered below the row before it: row 3 is blank
        rows[2], rows[3] = rows[3], rows[2]
        expected[1] = 0
    elif case == "date":
        rows[2] = with_cell(rows[2], "E", '<c r="{ref}" s="2"><v>45000</v></c>')
        styles = DATE_STYLES
    elif case == "cell type d":
        rows[2] = with_cell(rows[2], "F", '<c r="{ref}" t="d"><v>2024-01-02T00:00:00</v></c>')
    elif case == "beyond dimension":  # openpyxl trusts the declared dimension and reads only that far
        dimension = "A1:OU3"
        expected = points[:2]
    elif case == "latin-1":
        sheet = (f'<?xml version="1.0" encoding="ISO-8859-1"?><worksheet xmlns="{MAIN_NS}"><sheetData>'
                 + "".join(rows).replace("<t>x0</t>", "<t>x\u00e90</t>") + "</sheetData></worksheet>").encode("latin-1")
    path = write_workbook(tmp_path / "u.xlsx", rows, styles=styles, dimension=dimension, sheet=sheet)
    if case == "not a zip":
        path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(XlsxUnsupported):
        list(sheet_rows(path))
    outcome = read_outcome(path)
    if case in ("date", "cell type d"):
        assert isinstance(outcome, str)
        assert re.search(r": row 3, column [56] \([EF]\): datetime.datetime\(.*\) is not a number", outcome)
    elif case == "not a zip":
        assert "cannot open as an xlsx workbook" in outcome
    else:
        assert isinstance(outcome, np.ndarray) and np.array_equal(outcome, expected)


def test_an_empty_xlsx_sheet_is_an_error_from_both_readers(tmp_path):
    path = write_workbook(tmp_path / "e.xlsx", [], sheet=f'<worksheet xmlns="{MAIN_NS}"><sheetData/></worksheet>')
    assert list(sheet_rows(path)) == []
    outcome = assert_same_outcome(path)
    assert isinstance(outcome, str) and outcome.endswith("no rows; expected one row of 411 values per frame")
