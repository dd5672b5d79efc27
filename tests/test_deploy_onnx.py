"""ONNX export of a run's network (`mgfast export-model`) and the ONNX Runtime engine (`OnnxWindowModel`).

The reference is the torch network the test builds itself and saves as the run's checkpoint (every weight
and batch-norm statistic randomised, so no layer is an identity); ONNX Runtime must reproduce its logits.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import onnx
import pytest
import torch
from typer.testing import CliRunner

import mgfast
from mgfast.cli.main import app
from mgfast.deploy import onnx as deploy_onnx
from mgfast.deploy.onnx import OnnxWindowModel, export_onnx, providers_for
from mgfast.io.dataset import Dataset, layout_to_dict
from mgfast.layout import MG68
from mgfast.runs import checkpoint_path, read_run, write_run_file
from mgfast.train import checkpoint as ckpt
from mgfast.train import make_config
from mgfast.train.engine import build_network, make_input
from tiny_dataset import make_dataset

runner = CliRunner()

CONFIGS = {
    "joint": ("joint", dict(clip_len=6, model={"dims": 8, "num_blocks": 1, "heads": 2})),
    "heatmap": ("heatmap", dict(clip_len=4, test_size=20, model={"base_channels": 4, "stage_blocks": [1, 1, 1]})),
    "heatmap-both": ("heatmap", dict(clip_len=4, test_size=16, input={"mode": "both"},
                                     model={"base_channels": 4, "stage_blocks": [1, 1, 1]})),
    "rgb": ("rgb", dict(clip_len=4, test_size=16, model={"arch": "r2plus1d_lite", "widths": [4, 4, 8, 8],
                                                           "blocks": [1, 1, 1, 1]})),
    "swin": ("rgb", dict(preset="default", clip_len=4, test_size=32)),  # the default recipe's Video Swin-T
}
NOISE = {"swin": 0.02}
"""Weight noise per config (default 0.2): Video Swin-T's own initialisation is already random, and stronger
noise over its twelve blocks drives the logits to +-10, where float32 rounding alone differs by 1e-4."""
SHAPES = {  # the network input of one window, from the configs above (joint: T, V, 3; else C, T, H, W)
    "joint": (6, 68, 3), "heatmap": (68, 4, 20, 20), "heatmap-both": (68 + len(MG68.limbs), 4, 16, 16),
    "rgb": (3, 4, 16, 16), "swin": (3, 4, 32, 32),
}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("deploy") / "ds", subjects=3, clips_per_subject=2, test_clips=2)


def random_run(root: Path, name: str, out: Path, seed: int = 0) -> tuple[Path, torch.nn.Module]:
    """A run directory (run.json, checkpoints/best.pt) of branch config ``name`` with random weights; returns it
    and its network in eval mode."""
    modality, values = CONFIGS[name]
    config = make_config(root, modality, out, **{"preset": "tiny", **values})
    data = Dataset(root)
    torch.manual_seed(seed)
    model = build_network(config, data.layout, data.num_classes, make_input(config, data.layout), pretrained=False)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if value.is_floating_point():
                noise = torch.randn_like(value) * NOISE.get(name, 0.2)
                value.copy_(value.abs() + 0.5 + noise.abs() if key.endswith("running_var") else value + noise)
    write_run_file(out, modality=modality, dataset=data, config=config.to_dict())
    classes = [asdict(c) for c in data.classes]
    ckpt.save_checkpoint(checkpoint_path(out, "best"), {"modality": modality, "layout": layout_to_dict(data.layout),
                                                        "classes": classes, "config": config.to_dict(),
                                                        "model": model.state_dict()})
    return out, model.eval()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_onnx_logits_match_torch_for_every_branch(root, tmp_path, name):
    run, model = random_run(root, name, tmp_path / "run")
    path = export_onnx(run, tmp_path / "model.onnx", opset=20 if name == "heatmap-both" else 17)
    engine = OnnxWindowModel(path)
    assert engine.input_shape == SHAPES[name] and engine.branch == CONFIGS[name][0]
    generator = torch.Generator().manual_seed(1)
    for batch in (1, 3):  # the batch axis is open
        x = torch.randn((batch, *SHAPES[name]), generator=generator)
        with torch.no_grad():
            expected = model(x)[0]
        got = engine(x)
        assert got.shape == (batch, 3) and got.dtype == torch.float32
        assert torch.allclose(got, expected, atol=1e-4, rtol=0), (got - expected).abs().max()
        assert expected.std() > 1e-3  # the random weights give logits that tell classes apart


def test_the_metadata_names_the_run(root, tmp_path):
    run, _ = random_run(root, "joint", tmp_path / "run")
    path = export_onnx(run, tmp_path / "model.onnx")
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert set(meta) == set(deploy_onnx.METADATA_KEYS)
    assert meta["mgfast.version"] == mgfast.__version__ and meta["mgfast.branch"] == "joint"
    assert json.loads(meta["mgfast.classes"]) == [asdict(c) for c in Dataset(root).classes]
    assert json.loads(meta["mgfast.input_shape"]) == [6, 68, 3] and meta["mgfast.layout"] == "mg68"
    assert meta["mgfast.run"] == str(run.resolve())
    assert meta["mgfast.checkpoint_sha256"] == hashlib.sha256((run / "checkpoints" / "best.pt").read_bytes()).hexdigest()
    engine = OnnxWindowModel(path)
    assert engine.metadata == meta
    engine.check_run(read_run(run))
    other, _ = random_run(root, "heatmap", tmp_path / "other")
    with pytest.raises(ValueError, match=r"holds a joint model of 3 classes .* is a heatmap run of 3 classes"):
        engine.check_run(read_run(other))
    info = json.loads((other / "run.json").read_text())
    info["modality"], info["classes"] = "joint", info["classes"][:2]
    (other / "run.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"is a joint run of 2 classes; export this run"):
        engine.check_run(read_run(other))


def test_a_window_of_the_wrong_shape_is_refused(root, tmp_path):
    run, _ = random_run(root, "heatmap", tmp_path / "run")
    engine = OnnxWindowModel(export_onnx(run, tmp_path / "model.onnx"))
    with pytest.raises(ValueError, match=r"takes inputs \[N, 68, 4, 20, 20\], got \[2, 68, 4, 20, 21\]"):
        engine(torch.zeros(2, 68, 4, 20, 21))
    with pytest.raises(ValueError, match=r"takes inputs \[N, 68, 4, 20, 20\], got \[68, 4, 20, 20\]"):
        engine(torch.zeros(68, 4, 20, 20))
    with pytest.raises(TypeError, match="floating-point"):
        engine(torch.zeros(1, 68, 4, 20, 20, dtype=torch.int64))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's note on its TorchScript-based exporter
def test_a_foreign_onnx_file_is_refused(tmp_path):
    path = tmp_path / "plain.onnx"
    torch.onnx.export(torch.nn.Linear(3, 2), (torch.zeros(1, 3),), str(path), dynamo=False)
    with pytest.raises(ValueError, match="not an mgfast model .*mgfast export-model"):
        OnnxWindowModel(path)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.onnx: ONNX Runtime cannot load"):
        OnnxWindowModel(tmp_path / "junk.onnx")
    with pytest.raises(FileNotFoundError, match="missing.onnx: ONNX model not found"):
        OnnxWindowModel(tmp_path / "missing.onnx")


def test_the_cpu_runs_on_the_cpu_provider_and_cuda_needs_its_provider(root, tmp_path, monkeypatch):
    import onnxruntime

    run, _ = random_run(root, "joint", tmp_path / "run")
    path = export_onnx(run, tmp_path / "model.onnx")
    assert OnnxWindowModel(path, torch.device("cpu")).session.get_providers() == ["CPUExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(ValueError, match=r"no CUDAExecutionProvider .*install mgfast\[gpu\]"):
        OnnxWindowModel(path, "cuda")
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert providers_for("cuda:1") == [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]
    with pytest.raises(ValueError, match="device must be cpu, cuda or cuda:N"):
        providers_for("tpu")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_cuda_provider_matches_torch(root, tmp_path):
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime has no CUDA provider (install mgfast[gpu])")
    run, model = random_run(root, "heatmap", tmp_path / "run")
    engine = OnnxWindowModel(export_onnx(run, tmp_path / "model.onnx"), "cuda")
    assert engine.session.get_providers()[0] == "CUDAExecutionProvider"
    x = torch.randn(3, *SHAPES["heatmap"])
    with torch.no_grad():
        expected = model(x)[0]
    assert torch.allclose(engine(x.cuda()).cpu(), expected, atol=1e-4, rtol=0)


def test_the_command_exports_a_trained_run(root, tmp_path):
    from mgfast.train import train

    run = train(make_config(root, "joint", tmp_path / "run", preset="tiny", epochs=1, batch_size=4, num_clips=1,
                            workers=0, progress=False, clip_len=6, model={"dims": 8, "num_blocks": 1, "heads": 1}))
    out = tmp_path / "exported" / "model.onnx"
    result = runner.invoke(app, ["export-model", str(run), "--format", "onnx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {out}"
    # The torch side as `mgfast predict` builds it.
    state = ckpt.load_checkpoint(run / "checkpoints" / "best.pt")
    config = make_config(root, "joint", tmp_path / "x", preset="tiny", clip_len=6,
                         model={"dims": 8, "num_blocks": 1, "heads": 1})
    model = build_network(config, MG68, 3, make_input(config, MG68), pretrained=False)
    model.load_state_dict(state["model"])
    x = torch.randn(3, 6, 68, 3)
    with torch.no_grad():
        expected = model.eval()(x)[0]
    assert torch.allclose(OnnxWindowModel(out)(x), expected, atol=1e-4, rtol=0)


def _error_line(result) -> str:
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_bad_arguments_are_one_line_errors(root, tmp_path, monkeypatch):
    out = tmp_path / "out" / "model.onnx"
    line = _error_line(runner.invoke(app, ["export-model", str(tmp_path / "nowhere"), "--out", str(out)]))
    assert "nowhere is not an mgfast run directory" in line
    run, _ = random_run(root, "joint", tmp_path / "run")
    line = _error_line(runner.invoke(app, ["export-model", str(run), "--format", "tflite", "--out", str(out)]))
    assert "--format 'tflite' is not supported; choose one of onnx" in line
    line = _error_line(runner.invoke(app, ["export-model", str(run), "--opset", "11", "--out", str(out)]))
    assert "opset 11 is not offered; choose one of 17..20 (--opset)" in line
    line = _error_line(runner.invoke(app, ["export-model", str(run), "--checkpoint", "last", "--out", str(out)]))
    assert "last.pt does not exist" in line
    (tmp_path / "file").write_text("")
    line = _error_line(runner.invoke(app, ["export-model", str(run), "--out", str(tmp_path / "file" / "m.onnx")]))
    assert "is a file, not a folder" in line

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(out))

    monkeypatch.setattr(onnx, "save", read_only)
    line = _error_line(runner.invoke(app, ["export-model", str(run), "--out", str(out)]))
    assert str(out) in line and "read-only" in line
    assert list(out.parent.iterdir()) == []  # the atomic write leaves no half-written file
