"""A synthetic micro-gesture corpus in the MiGA / iMiGUE layout, for demos, tests and CI.

Several subjects, each with their own body proportions, colours, camera placement and habits (preferred
hand, speed, a personal idle fidget), sit at an interview table and now and then make one of a few small
gestures towards a body part. Each video comes with an OpenPose-style keypoint table drawn from the same
skeleton as the pixels (with detector-like noise and dropped hands) and a label file of its gesture
segments; the held-out subjects' label files are blank, their classes kept in ``hidden_labels.csv``.

    from mgfast.synth import synthesize
    summary = synthesize("corpus", videos=12, subjects=6, seed=0)

The benchmark corpus (:mod:`mgfast.synth.benchmark`, docs/benchmark.md) uses the same subjects, motion and
detector to write a pose-only dataset directory directly, with micro-movements, confusable classes, a
long tail and a systematic subject shift, large enough to measure the method's claims::

    from mgfast.synth import write_benchmark_dataset
    write_benchmark_dataset(Path("bench"), seed=0)  # or quick=True: the tiny CI corpus
"""

from mgfast.synth.benchmark import write_benchmark_dataset
from mgfast.synth.corpus import POSE_FORMATS, SynthConfig, SynthSummary, class_counts, synthesize
from mgfast.synth.motion import CATALOGUE, GestureClass

__all__ = ["CATALOGUE", "GestureClass", "POSE_FORMATS", "SynthConfig", "SynthSummary", "class_counts", "synthesize",
           "write_benchmark_dataset"]
