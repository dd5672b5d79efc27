"""The dataset directory that ``mgfast extract`` writes and every later stage reads.

A dataset directory is meant to be read with numpy and a text editor::

    DATASET/
      meta.json               format, layout, classes, extraction parameters, mgfast version
      manifest.csv            one row per clip (the columns of :class:`Clip`)
      keypoints/<clip>.npy    float32 [T, V, 3]: x, y in original frame pixels, score (0 = not detected)
      crops/<clip>.mp4        the saliency crop clip (H.264), or crops/<clip>.npy (uint8 [T, h, w, 3])

Splits are ``train``, ``val`` and ``test``. A clip's ``label`` is a class index in ``[0, num_classes)`` or
absent (unlabelled, e.g. the challenge's test split). ``hidden_label`` is a label known to the corpus but
never used for training (the synthetic corpus's test split): only evaluation reads it.

A clip's ``kind`` is ``segment`` (an annotated segment) or ``background`` (a window of a labelled video away
from every segment: ``mgfast extract --background``; unlabelled, split ``train``). Manifests written before
the column existed hold segments only. :class:`Dataset` keeps background clips apart
(:attr:`Dataset.background_clips`), so a stage that does not ask for them sees the dataset as without them;
:meth:`Dataset.with_background_class` is the view with a "no gesture" class.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from mgfast.io.atomic import atomic_write_text
from mgfast.io.names import check_name, check_relative_path
from mgfast.layout import Layout

FORMAT = "mgfast-dataset"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
META_FILE = "meta.json"
MANIFEST_FILE = "manifest.csv"
SEGMENT, BACKGROUND = "segment", "background"
KINDS = (SEGMENT, BACKGROUND)
BACKGROUND_NAME = "background"
"""The name of the "no gesture" class that :meth:`Dataset.with_background_class` appends."""


@dataclass(frozen=True)
class ClassInfo:
    """One class: its index in mgfast, its code in the source data (the submission's ``Target``), its name."""

    index: int
    code: int
    name: str


@dataclass(frozen=True)
class Clip:
    """One row of the manifest. Paths are relative to the dataset directory."""

    clip_id: str
    video: str
    subject: str
    start: int  # first frame, inclusive
    end: int  # last frame, inclusive
    label: int | None
    split: str
    frames: int
    fps: float
    width: int
    height: int
    box: tuple[float, float, float, float]  # saliency box (x0, y0, x1, y1) in frame pixels
    keypoints: str
    crop: str | None
    hidden_label: int | None = None
    kind: str = SEGMENT

    @property
    def labelled(self) -> bool:
        return self.label is not None

    def to_row(self) -> dict[str, str]:
        row = {k: "" if v is None else str(v) for k, v in asdict(self).items() if k != "box"}
        row.update({f"box_{k}": f"{v:.3f}" for k, v in zip(("x0", "y0", "x1", "y1"), self.box)})
        return row

    @classmethod
    def from_row(cls, row: dict[str, str], where: str) -> Clip:
        try:
            optional_int = lambda key: int(row[key]) if row.get(key, "") != "" else None  # noqa: E731
            return cls(
                clip_id=check_name(row["clip_id"], "clip_id", where), video=row["video"], subject=row["subject"], start=int(row["start"]),
                end=int(row["end"]), label=optional_int("label"), split=row["split"], frames=int(row["frames"]),
                fps=float(row["fps"]), width=int(row["width"]), height=int(row["height"]),
                box=tuple(float(row[f"box_{k}"]) for k in ("x0", "y0", "x1", "y1")),
                keypoints=check_relative_path(row["keypoints"], "keypoints", where),
                crop=check_relative_path(row["crop"], "crop", where) if row["crop"] else None,
                hidden_label=optional_int("hidden_label"), kind=_kind(row.get("kind") or SEGMENT),
            )
        except (KeyError, ValueError) as error:
            raise ValueError(f"{where}: bad manifest row ({error}); rerun `mgfast extract` to rewrite it") from None


MANIFEST_COLUMNS = [
    "clip_id", "video", "subject", "start", "end", "label", "split", "frames", "fps", "width", "height",
    "box_x0", "box_y0", "box_x1", "box_y1", "keypoints", "crop", "hidden_label", "kind",
]


def _kind(value: str) -> str:
    if value not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {value!r}")
    return value


def background_code(classes: list[ClassInfo]) -> int:
    """The code of the "no gesture" class: 0 (outside the challenge's 1-31 and 99), or below every code in
    use when a class list already has 0."""
    codes = {c.code for c in classes}
    return 0 if 0 not in codes else min(codes) - 1


def layout_to_dict(layout: Layout) -> dict:
    return {"name": layout.name, "names": list(layout.names), "limbs": [list(p) for p in layout.limbs],
            "flip_pairs": [list(p) for p in layout.flip_pairs], "salient": list(layout.salient)}


def layout_from_dict(data: dict) -> Layout:
    return Layout(data["name"], tuple(data["names"]), tuple(tuple(p) for p in data["limbs"]),
                  tuple(tuple(p) for p in data["flip_pairs"]), tuple(data.get("salient", ())))


class Dataset:
    """Read access to a dataset directory (see the module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        meta_path = self.root / META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"{self.root} is not an mgfast dataset (no {META_FILE}); create one with `mgfast extract`")
        self.meta = json.loads(meta_path.read_text())
        if self.meta.get("format") != FORMAT:
            raise ValueError(f"{meta_path}: not an mgfast dataset (format {self.meta.get('format')!r})")
        self.layout = layout_from_dict(self.meta["layout"])
        self.classes = [ClassInfo(**c) for c in self.meta["classes"]]
        clips = read_manifest(self.root / MANIFEST_FILE)
        self.clips = [c for c in clips if c.kind != BACKGROUND]
        self.background_clips = [c for c in clips if c.kind == BACKGROUND]
        self.background_class: int | None = None  # index of the "no gesture" class in this view, if any

    def with_background_class(self) -> Dataset:
        """This dataset with one more class, :data:`BACKGROUND_NAME` (last, code :func:`background_code`), and
        its background clips among ``clips``, labelled with it. ValueError when it has no background clips."""
        if self.background_class is not None:
            return self
        if not self.background_clips:
            raise ValueError(f"{self.root / MANIFEST_FILE} has no background clips; extract them with "
                             "`mgfast extract SRC --out DATASET --background 1`, or train without --background-class")
        view = copy.copy(self)
        index = len(self.classes)
        view.classes = [*self.classes, ClassInfo(index=index, code=background_code(self.classes), name=BACKGROUND_NAME)]
        view.clips = [*self.clips, *(replace(c, label=index) for c in self.background_clips)]
        view.background_class = index
        return view

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def split(self, name: str) -> list[Clip]:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        return [c for c in self.clips if c.split == name]

    def keypoints(self, clip: Clip) -> np.ndarray:
        """float32 ``[T, V, 3]``; a truncated or unreadable file raises ValueError naming it."""
        path = self.root / clip.keypoints
        try:
            return np.load(path, allow_pickle=False)
        except (EOFError, ValueError, OSError) as error:
            # EOFError must not escape: the command line takes it for Ctrl-D and prints only "Aborted".
            if isinstance(error, FileNotFoundError):
                raise FileNotFoundError(f"{path} is missing; rerun `mgfast extract` to write it") from None
            raise ValueError(f"{path}: unreadable keypoints ({type(error).__name__}: {error}); the file is "
                             "truncated or corrupt, rerun `mgfast extract` to rewrite it") from None

    def crop_path(self, clip: Clip) -> Path:
        if clip.crop is None:
            raise FileNotFoundError(f"{self.root}: clip {clip.clip_id} has no RGB crop; rerun `mgfast extract` with crops enabled")
        return self.root / clip.crop


def read_manifest(path: Path) -> list[Clip]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; rerun `mgfast extract`")
    with path.open(newline="") as f:
        return [Clip.from_row(row, f"{path}:{line}") for line, row in enumerate(csv.DictReader(f), start=2)]


def write_manifest(path: Path, clips: Iterable[Clip]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted((c.to_row() for c in clips), key=lambda r: r["clip_id"]))
    atomic_write_text(path, text.getvalue())


def write_meta(root: Path, *, layout: Layout, classes: list[ClassInfo], params: dict) -> None:
    from mgfast import __version__

    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "mgfast_version": __version__,
            "layout": layout_to_dict(layout), "classes": [asdict(c) for c in classes], "params": params}
    atomic_write_text(root / META_FILE, json.dumps(meta, indent=2) + "\n")
