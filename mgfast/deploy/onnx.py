"""A run's network as an ONNX file (:func:`export_onnx`) and the engine that scores windows with it
(:class:`OnnxWindowModel`, ONNX Runtime on the CPU or, with ``mgfast[gpu]``, its CUDA provider).

The graph maps the branch's network input ``[N, ...]`` (N open, the rest fixed to the run's test-time
window, :func:`mgfast.deploy.network.window_shape`) to the logits ``[N, C]``; the OSE feature head is left
out. The heatmap branch's volume is rendered before the graph by :func:`mgfast.ops.render_heatmaps`. The
file's metadata (``mgfast.*`` keys, :data:`METADATA_KEYS`) names the branch, the classes, the input shape,
the mgfast version and the run and checkpoint it came from, so a reader can check that a file fits.

Exported with torch's TorchScript-based exporter (``dynamo=False``): the dynamo-based one needs the
onnxscript package, and the TorchScript one exports all three branches (Video Swin included) with a
dynamic batch axis and logits within 1e-5 of torch's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

import mgfast
from mgfast.deploy.network import RunNetwork, load_run_network
from mgfast.io.atomic import atomic_path
from mgfast.runs import Run

INPUT_NAME = "inputs"
OUTPUT_NAME = "logits"
OPSETS = range(17, 21)
"""ONNX opsets offered: from 17 (LayerNormalization, which Video Swin needs as one op) to 20, the newest the
TorchScript-based exporter writes; all three branches export at 17 and at 20."""
METADATA_KEYS = ("mgfast.version", "mgfast.branch", "mgfast.classes", "mgfast.input_shape", "mgfast.layout",
                 "mgfast.run", "mgfast.checkpoint_sha256")
"""Every key :func:`export_onnx` writes; ``classes`` and ``input_shape`` are JSON (``[{index, code, name}]``
and the shape without the batch axis)."""


class _Logits(nn.Module):
    """The network's logits alone (its second output, the OSE features, is for training)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[0]


def _class_list(run: Run) -> list[dict]:
    return [dataclasses.asdict(c) for c in run.classes]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def metadata(network: RunNetwork) -> dict[str, str]:
    """The ``mgfast.*`` metadata of ``network``'s ONNX file."""
    return {
        "mgfast.version": mgfast.__version__,
        "mgfast.branch": network.run.modality,
        "mgfast.classes": json.dumps(_class_list(network.run)),
        "mgfast.input_shape": json.dumps(list(network.input_shape)),
        "mgfast.layout": network.layout.name,
        "mgfast.run": str(network.run.path.resolve()),
        "mgfast.checkpoint_sha256": _sha256(network.checkpoint),
    }


def _check_writable(out: Path) -> None:
    """Refuses an ``out`` that names a folder or lies inside a file, before the export's work."""
    if out.is_dir():
        raise ValueError(f"{out} is a folder; pass a file name for the model, e.g. {out / 'model.onnx'}")
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"{out}: {folder} is a file, not a folder; choose another output path")


def export_onnx(run_dir: Path, out: Path, *, opset: int = 17, checkpoint: str = "best") -> Path:
    """Writes the logits of ``run_dir``'s network (weights of ``checkpoint``) to ``out`` as ONNX, batch axis
    open; returns ``out``. The file appears only once complete."""
    import onnx

    if opset not in OPSETS:
        raise ValueError(f"opset {opset} is not offered; choose one of {OPSETS.start}..{OPSETS.stop - 1} (--opset)")
    _check_writable(Path(out))
    network = load_run_network(run_dir, checkpoint)
    example = torch.zeros((2, *network.input_shape))
    with atomic_path(out) as tmp:
        with warnings.catch_warnings():
            # Shape checks in the networks' forward become constants of the trace: right for a fixed window.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning, UserWarning))
            try:
                torch.onnx.export(_Logits(network.model), (example,), str(tmp), dynamo=False, opset_version=opset,
                                  input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                  dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
            except torch.onnx.OnnxExporterError as error:
                raise ValueError(f"{run_dir}: the {network.run.modality} network does not export to ONNX opset "
                                 f"{opset} ({error}); try another --opset") from None
        model = onnx.load(str(tmp))
        for key, value in metadata(network).items():
            model.metadata_props.add(key=key, value=value)
        shape = ", ".join(map(str, network.input_shape))
        model.doc_string = (f"mgfast {network.run.modality} branch: {INPUT_NAME} [N, {shape}] -> "
                            f"{OUTPUT_NAME} [N, {len(network.run.classes)}]")
        onnx.save(model, str(tmp))
    return Path(out)


def providers_for(device: torch.device | str) -> list:
    """ONNX Runtime providers for ``device``: the CPU's, or CUDA's (device id) with the CPU's after it.
    Raises ValueError when CUDA is asked for but this ONNX Runtime has no CUDA provider."""
    import onnxruntime as ort

    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be cpu, cuda or cuda:N, got {device!r}") from None
    if device.type == "cpu":
        return ["CPUExecutionProvider"]
    if device.type != "cuda":
        raise ValueError(f"device must be cpu, cuda or cuda:N, got {str(device)!r}")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise ValueError(f"device {device}: this ONNX Runtime ({ort.__version__}) has no CUDAExecutionProvider "
                         f"(it has {', '.join(ort.get_available_providers())}); install mgfast[gpu] "
                         "(onnxruntime-gpu in place of onnxruntime) or use the cpu device")
    return [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]


class OnnxWindowModel:
    """Scores windows with an ONNX file from :func:`export_onnx`: ``model(inputs [N, ...]) -> logits [N, C]``
    (float32, on the inputs' device), the same as the run's torch network in eval mode.

    ``branch``, ``classes`` (``[{index, code, name}]``), ``input_shape`` (without the batch axis) and
    ``metadata`` (all ``mgfast.*`` keys) come from the file.
    """

    def __init__(self, path: Path, device: torch.device | str = "cpu") -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: ONNX model not found; write one with "
                                    "`mgfast export-model RUN --format onnx --out model.onnx`")
        providers = providers_for(device)
        try:
            self.session = ort.InferenceSession(str(self.path), providers=providers)
        except Exception as error:  # onnxruntime raises its own exception types for unreadable models
            raise ValueError(f"{self.path}: ONNX Runtime cannot load this model ({error})") from None
        wanted = providers[0] if isinstance(providers[0], str) else providers[0][0]
        if wanted not in self.session.get_providers():  # ORT falls back to the CPU when CUDA fails to start
            raise ValueError(f"{self.path}: ONNX Runtime could not start {wanted} (check the CUDA and cuDNN "
                             "libraries onnxruntime-gpu needs) or use the cpu device")
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        missing = [k for k in METADATA_KEYS if k not in self.metadata]
        if missing:
            raise ValueError(f"{self.path}: not an mgfast model (no {', '.join(missing)} in its metadata); "
                             "export it with `mgfast export-model`")
        self.branch = self.metadata["mgfast.branch"]
        self.classes = json.loads(self.metadata["mgfast.classes"])
        self.input_shape = tuple(json.loads(self.metadata["mgfast.input_shape"]))

    def check_run(self, run: Run) -> None:
        """Raises ValueError when this file holds another branch or class list than ``run`` (``read_run``'s)."""
        classes = _class_list(run)
        if self.branch != run.modality or self.classes != classes:
            raise ValueError(f"{self.path} holds a {self.branch} model of {len(self.classes)} classes (exported from "
                             f"{self.metadata['mgfast.run']}) but {run.path} is a {run.modality} run of "
                             f"{len(classes)} classes{' (other classes)' if len(classes) == len(self.classes) else ''}; "
                             "export this run with `mgfast export-model`")

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        if not isinstance(inputs, torch.Tensor) or not inputs.is_floating_point():
            kind = inputs.dtype if isinstance(inputs, torch.Tensor) else type(inputs).__name__
            raise TypeError(f"{self.path}: inputs must be a floating-point torch.Tensor, got {kind}")
        if inputs.dim() != len(self.input_shape) + 1 or tuple(inputs.shape[1:]) != self.input_shape:
            expected = ", ".join(map(str, self.input_shape))
            raise ValueError(f"{self.path}: this {self.branch} model takes inputs [N, {expected}], got "
                             f"{list(inputs.shape)}; window the clip with the run's clip_len and test_size")
        x = inputs.detach().to("cpu", torch.float32).contiguous().numpy()
        logits = self.session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
        return torch.from_numpy(np.ascontiguousarray(logits)).to(inputs.device)
