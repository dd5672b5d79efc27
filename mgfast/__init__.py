"""mgfast: fast micro-gesture recognition from video.

The native ops live in :mod:`mgfast.ops` (importing it loads torch and the compiled kernels); keypoint
layouts in :mod:`mgfast.layout`. Importing the package itself stays light so the CLI starts fast.
"""

__version__ = "0.1.0"
