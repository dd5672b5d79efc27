"""Video reading and writing: exact seeking on H.264 and MPEG-4 files, errors on damaged files, fallbacks.

Frames carry their own index as a 10-bit pattern of wide black/white bars, which survives lossy
compression, so any decoded frame can be identified independently of the reader under test.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from mgfast.io.video import EncoderUnavailable, VideoError, VideoReader, VideoWriter, read_clip, write_video

BITS = 10
BAR = 16  # pixels per bar
HEIGHT, WIDTH = 48, BITS * BAR


def indexed_frames(count: int) -> np.ndarray:
    """Frames whose bars spell their index in binary (bar b white when bit b is set), plus a colour tint."""
    frames = np.zeros((count, HEIGHT, WIDTH, 3), np.uint8)
    for i in range(count):
        for b in range(BITS):
            if (i >> b) & 1:
                frames[i, :, b * BAR : (b + 1) * BAR] = 255
        frames[i, :8] = (i * 7 % 256, 90, 160)  # a strip that varies, so frames differ beyond the bars
    return frames


def frame_index(frame: np.ndarray) -> int:
    """Reads the index back from a decoded frame (bar interiors only: edges blur under compression)."""
    core = frame[12:, :, :].astype(np.float64).mean(axis=(0, 2))
    return sum(1 << b for b in range(BITS) if core[b * BAR + 4 : (b + 1) * BAR - 4].mean() > 128)


def sequential_indices_opencv(path: Path) -> list[int]:
    """Indices of all frames as OpenCV decodes them in order: a reference independent of PyAV seeking."""
    capture = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        out.append(frame_index(frame[..., ::-1]))
    capture.release()
    return out


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    """One H.264 (short GOP, B-frames) and one MPEG-4 Part 2 file of 150 indexed frames."""
    root = tmp_path_factory.mktemp("videos")
    frames = indexed_frames(150)
    h264 = write_video(root / "h264.mp4", frames, 25, keyframe_interval=12)
    mp4v = write_video(root / "mp4v.mp4", frames, 30, codec="mp4v")
    return {"h264": h264, "mp4v": mp4v}


@pytest.mark.parametrize("kind", ["h264", "mp4v"])
def test_metadata_and_sequential_decode(videos, kind):
    path = videos[kind]
    assert path.suffix == ".mp4" and path.is_file()
    with av.open(str(path)) as container:  # the file really holds the requested codec
        assert container.streams.video[0].codec_context.name == {"h264": "h264", "mp4v": "mpeg4"}[kind]
    with VideoReader(path) as video:
        assert (video.frame_count, video.width, video.height) == (150, WIDTH, HEIGHT)
        assert video.fps == pytest.approx({"h264": 25.0, "mp4v": 30.0}[kind])
        everything = video.read(0, 149)
    assert everything.dtype == np.uint8 and everything.shape == (150, HEIGHT, WIDTH, 3)
    assert [frame_index(f) for f in everything] == list(range(150))
    assert sequential_indices_opencv(path) == list(range(150))
    np.testing.assert_array_equal(read_clip(path), everything)


@pytest.mark.parametrize("kind", ["h264", "mp4v"])
def test_seeking_is_frame_exact(videos, kind):
    """Random ranges, in random order (forward and backward jumps), equal the sequential decode bit for bit."""
    path = videos[kind]
    with VideoReader(path) as video:
        reference = np.stack(list(video))
        rng = np.random.default_rng(7)
        ranges = [(0, 0), (149, 149), (11, 12), (12, 13), (23, 24), (0, 149)]
        ranges += [(30, 34), (35, 40), (44, 50), (51, 51), (70, 80), (79, 85)]  # continuing the decode, and not
        for _ in range(25):
            start = int(rng.integers(0, 150))
            ranges.append((start, int(rng.integers(start, min(start + 30, 150)))))
        for start, end in ranges:
            clip = video.read(start, end)
            assert [frame_index(f) for f in clip] == list(range(start, end + 1)), (start, end)
            np.testing.assert_array_equal(clip, reference[start : end + 1])
        assert not video._sequential  # a constant-rate file is read by seeking, not from the start


def test_colours_survive_h264(tmp_path):
    """Flat colour blocks aligned to the 2x2 chroma grid come back within yuv420p rounding at crf 0."""
    rng = np.random.default_rng(3)
    colours = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    frame = np.repeat(np.repeat(colours, 16, axis=0), 16, axis=1)
    frames = np.stack([frame, frame[::-1], frame[:, ::-1]])
    path = write_video(tmp_path / "flat.mp4", frames, 25, crf=0)
    decoded = read_clip(path).astype(int)
    assert np.abs(decoded - frames.astype(int)).max() <= 3


def test_variable_frame_rate_falls_back_to_decode_order(tmp_path):
    """Timestamps with gaps break the constant-rate mapping; frames are still counted in decode order."""
    frames = indexed_frames(60)
    path = tmp_path / "vfr.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        stream.options = {"g": "10", "bf": "0"}
        pts = 0
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 25)
            pts += 3 if i == 12 else 1  # one two-frame gap: seeking by timestamp would land 2 frames late
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with VideoReader(path) as video:
        assert video.frame_count == 60
        for start, end in [(30, 35), (40, 45), (0, 3), (55, 59), (10, 15)]:
            assert [frame_index(f) for f in video.read(start, end)] == list(range(start, end + 1))


def test_frame_count_without_metadata(tmp_path):
    """Matroska stores no frame count: the reader counts packets, and seeking stays exact."""
    frames = indexed_frames(40)
    path = tmp_path / "clip.mkv"
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"g": "8"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0  # the case under test
    with VideoReader(path) as video:
        assert video.frame_count == 40
        assert [frame_index(f) for f in video.read(21, 27)] == list(range(21, 28))
        assert [frame_index(f) for f in video.read(3, 5)] == [3, 4, 5]


def _stream_copied_cut(source: Path, path: Path, first: int, fps: int) -> None:
    """Copies ``source``'s packets from the keyframe before frame ``first`` on, shifted so that ``first`` is
    at time 0 (what ``ffmpeg -ss ... -c copy`` does): the MP4 muxer writes an edit list hiding the frames
    before ``first``, which the file still stores so that they can be decoded."""
    with av.open(str(source)) as src, av.open(str(path), "w", format="mp4") as out:
        stream = src.streams.video[0]
        copy = out.add_stream_from_template(stream)
        step = round(1 / (fps * stream.time_base))  # timestamp units per frame
        packets = [p for p in src.demux(stream) if p.dts is not None]
        begin = max(i for i, p in enumerate(packets) if p.is_keyframe and p.pts <= first * step)
        assert packets[begin].pts < first * step  # the cut starts between keyframes: an edit list is needed
        for packet in packets[begin:]:  # in decode order, from the keyframe on
            packet.pts -= first * step
            packet.dts -= first * step
            packet.stream = copy
            out.mux(packet)


def test_edit_list_cut_counts_presented_frames_and_seeks(tmp_path):
    """A stream-copied cut stores frames before its edit list's start; frame_count is what a decode presents."""
    source = write_video(tmp_path / "source.mp4", indexed_frames(120), 25, keyframe_interval=12)
    path = tmp_path / "cut.mp4"
    _stream_copied_cut(source, path, first=30, fps=25)
    with av.open(str(path)) as container:  # the case under test: the header counts the hidden frames too
        assert container.streams.video[0].frames == 96
    presented = sequential_indices_opencv(path)
    assert presented == list(range(30, 120))
    with VideoReader(path) as video:
        assert video.frame_count == len(presented) == 90
        reference = np.stack(list(video))
        assert [frame_index(f) for f in reference] == presented
        rng = np.random.default_rng(11)
        ranges = [(0, 0), (89, 89), (0, 89), (5, 6)] + [tuple(sorted(rng.integers(0, 90, 2).tolist())) for _ in range(15)]
        for start, end in ranges:
            np.testing.assert_array_equal(video.read(start, end), reference[start : end + 1])
        assert not video._sequential  # seeking, not decoding from the start for every read
        with pytest.raises(VideoError, match=r"cut\.mp4 has 90 frames"):
            video.read(85, 90)


@pytest.mark.parametrize("tagged", [False, True])
def test_region_reads_convert_only_the_rectangle(tmp_path, tagged):
    """read(..., region) equals a full read inside the rectangle widened to even coordinates, 0 outside;
    also for a stream tagged BT.709 full range, whose tags change the colour conversion."""
    rng = np.random.default_rng(5)
    height, width = 60, 100
    base = rng.integers(0, 256, size=(12, height // 4, width // 4, 3), dtype=np.uint8)
    frames = np.repeat(np.repeat(base, 4, axis=1), 4, axis=2) // 2 + rng.integers(0, 128, size=(12, height, width, 3), dtype=np.uint8)
    path = tmp_path / "colours.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": "5"}
        if tagged:
            stream.codec_context.colorspace, stream.codec_context.color_range = 1, 2  # BT.709, full range
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    with av.open(str(path)) as container:
        first = next(container.decode(video=0))
        assert (first.colorspace, first.color_range) == ((1, 2) if tagged else (2, 0))
    with VideoReader(path) as video:
        full = video.read(0, 11)
        regions = [(0, 0, width, height), (0, 0, 1, 1), (width - 1, height - 1, width, height), (3, 5, 50, 41)]
        regions += [(x0, y0, int(rng.integers(x0 + 1, width + 1)), int(rng.integers(y0 + 1, height + 1)))
                    for x0, y0 in zip(rng.integers(0, width, 20).tolist(), rng.integers(0, height, 20).tolist())]
        for x0, y0, x1, y1 in regions:
            start = int(rng.integers(0, 8))
            part = video.read(start, start + 3, region=(x0, y0, x1, y1))
            inside = np.zeros((height, width), bool)
            inside[y0 - y0 % 2 : y1 + y1 % 2, x0 - x0 % 2 : x1 + x1 % 2] = True
            np.testing.assert_array_equal(part[:, inside], full[start : start + 4][:, inside])
            assert not part[:, ~inside].any()
        with pytest.raises(ValueError, match="outside"):
            video.read(0, 1, region=(width, 0, width + 10, 10))


def test_past_the_end_and_bad_ranges(videos):
    with VideoReader(videos["h264"]) as video:
        with pytest.raises(VideoError, match=r"h264\.mp4 has 150 frames"):
            video.read(140, 150)
        with pytest.raises(VideoError, match="150 frames"):
            video.read(150, 150)
        with pytest.raises(ValueError, match="start <= end"):
            video.read(10, 9)
        with pytest.raises(ValueError):
            video.read(-1, 3)
        with pytest.raises(TypeError):
            video.read(1.5, 3)
        assert issubclass(VideoError, RuntimeError)


def _faststart_copy(frames: np.ndarray, path: Path) -> bytes:
    """An MP4 with its index first (as streamed files have), so a cut keeps the header but loses frames."""
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"g": "10"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path.read_bytes()


def test_damaged_files_raise_video_error_naming_the_file(tmp_path, videos):
    data = videos["h264"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # index at the end: the cut file has none
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for path in (cut, junk, empty):
        with pytest.raises(VideoError, match=path.name):
            VideoReader(path)
        with pytest.raises(VideoError, match=path.name):
            read_clip(path)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        VideoReader(tmp_path / "missing.mp4")

    streamed = _faststart_copy(indexed_frames(80), tmp_path / "whole.mp4")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(streamed[: int(len(streamed) * 0.6)])
    with VideoReader(truncated) as video:
        assert video.frame_count == 80  # the header still promises every frame
        assert [frame_index(f) for f in video.read(0, 5)] == list(range(6))
        with pytest.raises(VideoError, match="truncated.mp4.*(truncated|corrupt)"):
            video.read(70, 79)
    with pytest.raises(VideoError, match="truncated.mp4"):
        read_clip(truncated)


def test_write_video_validation_and_odd_sizes(tmp_path):
    frames = indexed_frames(4)
    odd = frames[:, :47, :159]
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "odd.mp4", odd, 25)
    padded = write_video(tmp_path / "odd.mp4", odd, 25, pad_odd=True)
    with VideoReader(padded) as video:
        assert (video.width, video.height) == (160, 48)
    with pytest.raises(TypeError, match="uint8"):
        write_video(tmp_path / "f.mp4", frames.astype(np.float32), 25)
    with pytest.raises(ValueError, match="shape"):
        write_video(tmp_path / "f.mp4", frames[0], 25)
    with pytest.raises(ValueError, match="codec"):
        write_video(tmp_path / "f.mp4", frames, 25, codec="vp9")
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "f.mp4", frames, 0)
    with pytest.raises(ValueError, match="crf"):
        write_video(tmp_path / "f.mp4", frames, 25, crf=60)
    with pytest.raises(ValueError, match="preset"):
        VideoWriter(tmp_path / "f.mp4", width=160, height=48, fps=25, preset="warp")
    assert not (tmp_path / "f.mp4").exists()


def test_npy_round_trip_is_exact(tmp_path):
    frames = np.random.default_rng(1).integers(0, 256, (5, 7, 9, 3), dtype=np.uint8)
    path = write_video(tmp_path / "clip.mp4", frames, 25, codec="npy")
    assert path == tmp_path / "clip.npy"
    np.testing.assert_array_equal(read_clip(path), frames)
    np.save(tmp_path / "bad.npy", frames.astype(np.int16))
    with pytest.raises(ValueError, match="bad.npy"):
        read_clip(tmp_path / "bad.npy")


def test_writes_are_atomic(tmp_path):
    frames = indexed_frames(6)
    target = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="stop"):
        with VideoWriter(target, width=WIDTH, height=HEIGHT, fps=25) as writer:
            writer.write(frames[0])
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temporary file
    with VideoWriter(target, width=WIDTH, height=HEIGHT, fps=25) as writer:
        with pytest.raises(ValueError, match="uint8"):
            writer.write(frames[0, :10])
        for image in frames:
            writer.write(image)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    assert [frame_index(f) for f in read_clip(target)] == list(range(6))


def test_fallbacks_without_libx264_and_without_opencv(tmp_path, monkeypatch):
    frames = indexed_frames(20)
    monkeypatch.setattr(av, "codecs_available", set(av.codecs_available) - {"libx264"})
    with pytest.raises(EncoderUnavailable):
        VideoWriter(tmp_path / "x.mp4", width=WIDTH, height=HEIGHT, fps=25)
    path = write_video(tmp_path / "a.mp4", frames, 25)
    assert path == tmp_path / "a.mp4"
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"
    assert [frame_index(f) for f in read_clip(path)] == list(range(20))

    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now fails
    path = write_video(tmp_path / "b.mp4", frames, 25)
    assert path == tmp_path / "b.npy" and not (tmp_path / "b.mp4").exists()
    np.testing.assert_array_equal(read_clip(path), frames)
