"""Source discovery: the MiGA layout, a plain folder with annotations.csv, OpenPose JSON folders, optional files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mgfast.io.annotations import Segment, default_classes
from mgfast.io.dataset import ClassInfo
from mgfast.io.sources import VideoSource, clip_id, discover, read_hidden_labels, source_classes


def touch(path: Path, text: str = "") -> Path:
    """Discovery never decodes videos or reads pose files, so placeholders stand in for them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def miga_video(src: Path, video_id: str, labels: list[str], pose: str | None, suffix: str = ".mp4") -> Path:
    folder = src / video_id
    touch(folder / f"{video_id}{suffix}")
    touch(folder / f"{video_id}_label.csv", "\n".join(labels) + "\n")
    if pose in ("xlsx", "csv"):
        touch(folder / f"{video_id}_openpose.{pose}")
    elif pose is not None:  # a JSON folder name
        touch(folder / pose.format(id=video_id) / f"{video_id}_000000000000_keypoints.json", '{"people": []}')
    return folder


def test_miga_layout_with_tables_json_folders_and_no_pose(tmp_path):
    miga_video(tmp_path, "0102", ["3,10,20", "99,30,31"], "xlsx")
    miga_video(tmp_path, "0007", ["class,start_frame,end_frame", ",0,5", ",8,9", ",12,40"], "csv", suffix=".MOV")
    miga_video(tmp_path, "0054", ["1,0,4"], "{id}_json")
    miga_video(tmp_path, "0060", ["31,5,6"], "json")
    miga_video(tmp_path, "0099", ["2,5,6"], None, suffix=".mkv")
    touch(tmp_path / "notes" / "readme.txt")  # unrelated folders and files are ignored
    touch(tmp_path / ".cache" / "x.mp4")
    touch(tmp_path / "README.md")
    sources = discover(tmp_path)
    assert sources == [
        VideoSource("0007", tmp_path / "0007" / "0007.MOV", "0007",
                    [Segment(1, 0, 5, None), Segment(2, 8, 9, None), Segment(3, 12, 40, None)],
                    tmp_path / "0007" / "0007_openpose.csv", "table"),
        VideoSource("0054", tmp_path / "0054" / "0054.mp4", "0054", [Segment(1, 0, 4, 1)],
                    tmp_path / "0054" / "0054_json", "openpose_json"),
        VideoSource("0060", tmp_path / "0060" / "0060.mp4", "0060", [Segment(1, 5, 6, 31)],
                    tmp_path / "0060" / "json", "openpose_json"),
        VideoSource("0099", tmp_path / "0099" / "0099.mkv", "0099", [Segment(1, 5, 6, 2)], None, None),
        VideoSource("0102", tmp_path / "0102" / "0102.mp4", "0102", [Segment(1, 10, 20, 3), Segment(2, 30, 31, 99)],
                    tmp_path / "0102" / "0102_openpose.xlsx", "table"),
    ]
    assert [s.labelled for s in sources] == [False, True, True, True, True]
    assert sources[4].clip_id(sources[4].segments[1]) == "0102_2" == clip_id("0102", 2)


def test_csv_table_is_preferred_over_xlsx(tmp_path):
    miga_video(tmp_path, "0001", ["1,0,4"], "xlsx")
    touch(tmp_path / "0001" / "0001_openpose.csv")
    assert discover(tmp_path)[0].pose_path == tmp_path / "0001" / "0001_openpose.csv"


def test_subjects_csv_assigns_subjects(tmp_path):
    for video_id in ("a1", "a2", "b1"):
        miga_video(tmp_path, video_id, ["1,0,4"], None)
    touch(tmp_path / "subjects.csv", "video,subject\na1,alice\na2.mp4,alice\nb1,bob\nz9,zoe\n")
    assert [(s.video_id, s.subject) for s in discover(tmp_path)] == [("a1", "alice"), ("a2", "alice"), ("b1", "bob")]
    touch(tmp_path / "subjects.csv", "a1,alice\n")
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'subjects.csv'}: no subject for video a2, b1")):
        discover(tmp_path)
    touch(tmp_path / "subjects.csv", "a1,alice\na2,alice\nb1,bob\na1,bob\n")
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'subjects.csv'}:4: video 'a1' already has subject 'alice'")):
        discover(tmp_path)


def test_classes_csv_defines_the_codes_labels_may_use(tmp_path):
    miga_video(tmp_path, "v", ["200,0,4", "7,5,9"], None)
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'v' / 'v_label.csv'}:1: class '200' is not a known class code")):
        discover(tmp_path)
    touch(tmp_path / "classes.csv", "code,name\n200,shrug\n7,nod\n")
    assert source_classes(tmp_path) == [ClassInfo(0, 7, "nod"), ClassInfo(1, 200, "shrug")]
    assert discover(tmp_path)[0].segments == [Segment(1, 0, 4, 200), Segment(2, 5, 9, 7)]
    (tmp_path / "classes.csv").unlink()
    assert source_classes(tmp_path) == default_classes()


def test_hidden_labels(tmp_path):
    assert read_hidden_labels(tmp_path) == {}
    touch(tmp_path / "hidden_labels.csv", "clip_id,code\n0054_1,99\n0054_2,4\n")
    assert read_hidden_labels(tmp_path) == {"0054_1": 99, "0054_2": 4}
    touch(tmp_path / "hidden_labels.csv", "0054_1,99\n0054_2,40\n")
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'hidden_labels.csv'}:2: '40' is not a class code")):
        read_hidden_labels(tmp_path)
    touch(tmp_path / "hidden_labels.csv", "0054_1,99\n0054_1,3\n")
    with pytest.raises(ValueError, match=re.escape(":2: clip '0054_1' already labelled on line 1")):
        read_hidden_labels(tmp_path)


def test_missing_label_file_names_the_file_expected(tmp_path):
    miga_video(tmp_path, "0001", ["1,0,4"], None)
    touch(tmp_path / "0002" / "0002.mp4")
    with pytest.raises(FileNotFoundError, match=re.escape(f"expected {tmp_path / '0002' / '0002_label.csv'}")):
        discover(tmp_path)


def test_miga_layout_errors(tmp_path):
    folder = miga_video(tmp_path, "0003", ["1,0,4"], None)
    (folder / "0003.mp4").unlink()
    with pytest.raises(FileNotFoundError, match="0003_label.csv but no video 0003.mp4"):
        discover(tmp_path)
    touch(folder / "0003.mp4")
    touch(folder / "0003.avi")
    with pytest.raises(ValueError, match=r"several videos for 0003 \(0003.avi, 0003.mp4\)"):
        discover(tmp_path)
    (folder / "0003.avi").unlink()
    (folder / "0003_json").mkdir()
    with pytest.raises(ValueError, match="0003_json: no \\*_keypoints.json files"):
        discover(tmp_path)


def test_plain_folder_with_annotations_csv(tmp_path):
    for name in ("interview_a.mp4", "b.avi", "unlisted.mp4"):
        touch(tmp_path / name)
    touch(tmp_path / "b_openpose.xlsx")
    touch(tmp_path / "interview_a_json" / "interview_a_000000000003_keypoints.json", '{"people": []}')
    touch(tmp_path / "annotations.csv",
          "video,start,end,label\nb.avi,5,9,\ninterview_a,0,10,4\nb.avi,20,29,\ninterview_a,30,40,99\n")
    miga_video(tmp_path, "ignored", ["1,0,4"], None)  # annotations.csv takes precedence over folders
    assert discover(tmp_path) == [
        VideoSource("b", tmp_path / "b.avi", "b", [Segment(1, 5, 9, None), Segment(2, 20, 29, None)],
                    tmp_path / "b_openpose.xlsx", "table"),
        VideoSource("interview_a", tmp_path / "interview_a.mp4", "interview_a",
                    [Segment(1, 0, 10, 4), Segment(2, 30, 40, 99)], tmp_path / "interview_a_json", "openpose_json"),
    ]


@pytest.mark.parametrize(("files", "rows", "error", "message"), [
    (["a.mp4"], ["missing,0,4"], FileNotFoundError, "video 'missing' is not in"),
    (["a.mp4", "a.mkv"], ["a,0,4"], ValueError, "video 'a' matches a.mkv, a.mp4"),
    (["a.mp4"], ["a,0,4", "a.mp4,5,9"], ValueError, "'a.mp4' and 'a' name the same video id 'a'"),
])
def test_plain_folder_errors(tmp_path, files, rows, error, message):
    for name in files:
        touch(tmp_path / name)
    touch(tmp_path / "annotations.csv", "\n".join(["video,start,end"] + rows) + "\n")
    with pytest.raises(error, match=re.escape(f"{tmp_path / 'annotations.csv'}: {message}")):
        discover(tmp_path)


def test_unusable_sources_say_what_layouts_are_accepted(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover(tmp_path / "nowhere")
    with pytest.raises(NotADirectoryError, match="is a file"):
        discover(touch(tmp_path / "file.mp4"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"no videos found\. mgfast reads \(a\) the MiGA layout .*annotations\.csv"):
        discover(empty)
    touch(empty / "x.mp4")
    with pytest.raises(ValueError, match=r"holds videos \(x.mp4\) but no annotations.csv"):
        discover(empty)
