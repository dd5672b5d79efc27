"""Video files: frame-exact reading with seeking and whole-clip reading (:mod:`.reader`), atomic writing
with encoder fallbacks (:mod:`.writer`); both import PyAV lazily through :mod:`.pyav`.
"""

from mgfast.io.video.reader import VideoError, VideoReader, read_clip
from mgfast.io.video.writer import CODECS, X264_PRESETS, EncoderUnavailable, VideoWriter, write_video

__all__ = [
    "CODECS",
    "X264_PRESETS",
    "EncoderUnavailable",
    "VideoError",
    "VideoReader",
    "VideoWriter",
    "read_clip",
    "write_video",
]
