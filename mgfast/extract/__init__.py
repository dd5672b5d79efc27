"""Extraction: annotated untrimmed videos -> an mgfast dataset directory (keypoints, saliency boxes, crops).

:func:`extract` is the whole run (``mgfast extract`` on the command line); :mod:`mgfast.extract.pipeline`
describes sharding and merging, :mod:`mgfast.extract.records` how reruns resume, and
:mod:`mgfast.extract.worker` what happens to one video.
"""

from mgfast.extract.options import CROP_FORMATS, POSE_CHOICES, ExtractOptions
from mgfast.extract.pipeline import ExtractSummary, extract

__all__ = ["extract", "ExtractSummary", "ExtractOptions", "POSE_CHOICES", "CROP_FORMATS"]
