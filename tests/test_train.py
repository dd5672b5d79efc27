"""Training loop, checkpoints, resume, prediction, configs and bad input, on a tiny dataset directory."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mgfast import data
from mgfast.cli.main import app
from mgfast.io.dataset import Dataset, layout_to_dict, read_manifest, write_manifest
from mgfast.layout import MG68, Layout
from mgfast.runs import load_logits, read_run
from mgfast.data.splits import SPLIT_NAMES
from mgfast.train import OutOfMemory, TrainConfig, make_config, predict, presets, train
from mgfast.train import checkpoint as ckpt
from mgfast.train.engine import Objective, build_network, make_input
from mgfast.train.config import config_splits
from mgfast.train.finetune import fine_tune_config
from mgfast.train.loop import training_samples
from mgfast.train.optim import lr_factor, scaled_lr
from tiny_dataset import make_dataset

SMALL = {
    "joint": dict(clip_len=6, model={"dims": 8, "num_blocks": 1, "heads": 1}),
    "heatmap": dict(clip_len=4, train_size=16, test_size=20, model={"base_channels": 4, "stage_blocks": [1, 1, 1]}),
    "rgb": dict(clip_len=4, train_size=16, test_size=16, model={"arch": "r2plus1d_lite", "widths": [4, 4, 8, 8],
                                                              "blocks": [1, 1, 1, 1]}),
}
TIMING = ("clips_per_s", "epoch_s")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("train") / "ds")


def small_config(root: Path, modality: str, out: Path, **overrides) -> TrainConfig:
    values = dict(epochs=2, batch_size=4, num_clips=2, workers=0, progress=False, lr=0.05, lr_batch=4,
                  warmup_epochs=0.5)
    values.update(SMALL[modality])
    values.update(overrides)
    model = {**SMALL[modality]["model"], **overrides.get("model", {})}
    values["model"] = model
    return make_config(root, modality, out, preset="tiny", **values)


def without_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def read_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


# ---- configuration


def test_presets_overrides_and_config_files(tmp_path, root):
    assert set(presets("heatmap")) >= {"default", "tiny"}
    default = make_config(root, "heatmap", tmp_path / "r")
    assert (default.clip_len, default.train_size, default.test_size, default.epochs) == (48, 56, 64, 24)
    assert (default.optimizer, default.lr, default.lr_batch, default.weight_decay, default.clip_grad) == ("sgd", 0.2, 256, 3e-4, 40)
    assert default.model["stage_blocks"] == [4, 6, 3]
    toml = tmp_path / "c.toml"
    toml.write_text('epochs = 3\nlr = 0.01\n[model]\ndropout = 0.1\n')
    cfg = make_config(root, "heatmap", tmp_path / "r", preset="tiny", config_file=toml, epochs=5)
    assert (cfg.epochs, cfg.lr, cfg.clip_len) == (5, 0.01, presets("heatmap")["tiny"]["clip_len"])
    assert cfg.model == {"base_channels": 8, "stage_blocks": [1, 1, 1], "dropout": 0.1}
    js = tmp_path / "c.json"
    js.write_text('{"class_weights": "inverse", "area_range": [0.5, 0.9]}')
    assert make_config(root, "rgb", tmp_path / "r", config_file=js).area_range == (0.5, 0.9)
    js.write_text('{"epoch": 3}')
    with pytest.raises(ValueError, match=r"c\.json: unknown option 'epoch'"):
        make_config(root, "rgb", tmp_path / "r", config_file=js)
    js.write_text('{"epochs": "many"}')
    with pytest.raises(ValueError, match="epochs.*wrong type"):
        make_config(root, "rgb", tmp_path / "r", config_file=js)
    with pytest.raises(ValueError, match="unknown modality 'depth'.*--modality"):
        make_config(root, "depth", tmp_path / "r")
    with pytest.raises(ValueError, match="unknown preset"):
        make_config(root, "joint", tmp_path / "r", preset="huge")
    with pytest.raises(ValueError, match="class_weights must be one of"):
        make_config(root, "joint", tmp_path / "r", class_weights="log")


def test_learning_rate_schedule():
    cfg = TrainConfig(dataset="d", modality="joint", out="o", epochs=10, warmup_epochs=2, lr=0.2, lr_batch=256,
                      batch_size=32, min_lr=0.1)
    assert scaled_lr(cfg, 8) == pytest.approx(0.2) and scaled_lr(cfg, 2) == pytest.approx(0.05)
    factors = [lr_factor(s, steps_per_epoch=5, config=cfg) for s in range(50)]
    assert factors[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    for s in range(10, 50):
        progress = (s - 10) / 40
        assert factors[s] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
    step = TrainConfig(dataset="d", modality="joint", out="o", epochs=10, schedule="step", milestones=(4, 8), gamma=0.5)
    assert [lr_factor(s, steps_per_epoch=3, config=step) for s in (0, 11, 12, 23, 24, 29)] == [1, 1, 0.5, 0.5, 0.25, 0.25]


# ---- the loop


@pytest.mark.parametrize("modality", ["joint", "heatmap", "rgb"])
def test_a_few_steps_lower_the_loss(root, tmp_path, modality):
    ds = Dataset(root)
    cfg = small_config(root, modality, tmp_path / "r", model={"dropout": 0.0})
    clip_input = make_input(cfg, ds.layout)
    torch.manual_seed(0)
    model = build_network(cfg, ds.layout, ds.num_classes, clip_input)
    objective = Objective(model, None, 0.0, None, 0.0)
    samples = [data.Sample(c, c.label) for c in ds.split("train")[:8]]
    loader = data.make_loader(data.ClipDataset(ds, samples, clip_input, train=True), batch_size=8)
    batch = next(iter(loader))
    x = clip_input.train_batch(batch, torch.device("cpu"), torch.float32)
    optimizer = torch.optim.Adam(objective.parameters(), lr=1e-2)
    losses = []
    # 24 steps: the joint network's residual branches start at zero (each block the identity), so the first
    # few steps of Adam mostly grow them.
    for _ in range(24):
        loss, _ = objective(x, batch["label"], batch["weight"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.parametrize("modality", ["joint", "heatmap", "rgb"])
def test_each_branch_trains_and_writes_its_run(root, tmp_path, modality):
    run = train(small_config(root, modality, tmp_path / modality, epochs=1))
    info = read_run(run)
    ds = Dataset(root)
    assert info.modality == modality and info.dataset == root.resolve() and info.layout == layout_to_dict(MG68)
    assert [c.code for c in info.classes] == [c.code for c in ds.classes]
    assert TrainConfig.from_dict(info.config).validate().modality == modality
    assert (run / "checkpoints" / "best.pt").is_file() and (run / "checkpoints" / "last.pt").is_file()
    assert (run / "curves.png").stat().st_size > 0
    rows = read_metrics(run)
    assert [r["epoch"] for r in rows] == [1] and {"train_loss", "val_accuracy", "val_macro_f1"} <= rows[0].keys()
    splits = config_splits(ds, TrainConfig.from_dict(info.config))
    assert splits.calib and not {c.subject for c in splits.calib} & {c.subject for c in splits.train + splits.val}
    for split in SPLIT_NAMES:
        logits = load_logits(run, split)
        clips = splits.get(split)
        assert sorted(logits.clip_ids.tolist()) == sorted(c.clip_id for c in clips)
        by_id = {c.clip_id: c for c in clips}
        expected = [-1 if by_id[i].label is None else by_id[i].label for i in logits.clip_ids]
        assert logits.labels.tolist() == expected
        assert logits.hidden_labels.tolist() == [-1 if by_id[i].hidden_label is None else by_id[i].hidden_label
                                                 for i in logits.clip_ids]
        assert logits.logits.shape == (len(clips), ds.num_classes)


def test_logits_average_every_clip_and_flip(root, tmp_path):
    """The test logits equal scoring each view of each clip alone and averaging."""
    run = train(small_config(root, "heatmap", tmp_path / "h", epochs=1, num_clips=3))
    ds = Dataset(root)
    cfg = TrainConfig.from_dict(read_run(run).config)
    clip_input = make_input(cfg, ds.layout)
    model = build_network(cfg, ds.layout, ds.num_classes, clip_input)
    model.load_state_dict(ckpt.load_checkpoint(run / "checkpoints" / "best.pt")["model"])
    model.eval()
    written = load_logits(run, "test")
    for clip_id, row in zip(written.clip_ids, written.logits):
        clip = next(c for c in ds.clips if c.clip_id == clip_id)
        kp = torch.from_numpy(clip_input.load(ds, clip, train=False, num_clips=3, rng=None)["keypoints"])
        views = [clip_input.render(kp[j : j + 1], 20, flip=flip, dtype=torch.float32)[-1:]
                 for j in range(3) for flip in (False, True)]
        with torch.no_grad():
            expected = torch.stack([model(v)[0][0] for v in views]).mean(0)
        np.testing.assert_allclose(row, expected.numpy(), rtol=1e-4, atol=1e-5)


def test_resume_equals_an_uninterrupted_run(root, tmp_path, monkeypatch):
    config = dict(epochs=3, ose_weight=0.5, label_smoothing=0.1, model={"dropout": 0.3})
    full = train(small_config(root, "joint", tmp_path / "full", **config))

    real_save = ckpt.save_checkpoint

    def interrupt_after_first_epoch(path, state):
        real_save(path, state)
        if path.name == "last.pt" and state["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(ckpt, "save_checkpoint", interrupt_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(small_config(root, "joint", tmp_path / "cut", **config))
    monkeypatch.setattr(ckpt, "save_checkpoint", real_save)
    assert len(read_metrics(tmp_path / "cut")) == 1
    with pytest.raises(ValueError, match="already holds a run; pass --resume"):
        train(small_config(root, "joint", tmp_path / "cut", **config))
    with pytest.raises(ValueError, match="started with epochs=3"):
        train(small_config(root, "joint", tmp_path / "cut", **{**config, "epochs": 4}, resume=True))
    resumed = train(small_config(root, "joint", tmp_path / "cut", **config, resume=True))

    a = ckpt.load_checkpoint(full / "checkpoints" / "last.pt")
    b = ckpt.load_checkpoint(resumed / "checkpoints" / "last.pt")
    for part in ("model", "ose"):
        assert a[part].keys() == b[part].keys()
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), f"{part}.{key}"
    assert without_timing(read_metrics(full)) == without_timing(read_metrics(resumed))
    for split in SPLIT_NAMES:
        np.testing.assert_array_equal(load_logits(full, split).logits, load_logits(resumed, split).logits)


def test_predict_rewrites_the_training_logits(root, tmp_path):
    run = train(small_config(root, "joint", tmp_path / "j", epochs=1))
    before = load_logits(run, "test")
    (run / "logits" / "test.npz").unlink()
    assert predict(run, "test", "best") == run / "logits" / "test.npz"
    after = load_logits(run, "test")
    assert after.clip_ids.tolist() == before.clip_ids.tolist()
    np.testing.assert_allclose(after.logits, before.logits, rtol=1e-5, atol=1e-6)
    predict(run, "val", str(run / "checkpoints" / "last.pt"))
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        predict(run, "val", str(tmp_path / "nope.pt"))
    with pytest.raises(ValueError, match="unknown split"):
        predict(run, "dev")


def test_init_from_and_pseudo_labels(root, tmp_path, capsys):
    ds = Dataset(root)
    source = train(small_config(root, "joint", tmp_path / "src", epochs=1))
    pseudo = tmp_path / "pseudo.csv"
    pseudo.write_text("clip_id,label,weight,confidence\nt00_1,1,0.5,0.9\nt00_2,2,0.5,0.8\n")
    cfg = small_config(root, "joint", tmp_path / "ft", epochs=1, lr=0.0,
                       init_from=str(source / "checkpoints" / "best.pt"), pseudo_labels=str(pseudo), pseudo_weight=2.0)
    samples = training_samples(cfg, ds, config_splits(ds, cfg))
    assert [(s.clip.clip_id, s.label, s.weight) for s in samples[-2:]] == [("t00_1", 1, 1.0), ("t00_2", 2, 1.0)]
    assert len(samples) == 18  # 16 labelled training clips (a subject each carved for validation, calibration) + 2
    capsys.readouterr()
    tuned = train(cfg)
    assert "OSE projection loaded from the source" in capsys.readouterr().out
    # At learning rate 0 the fine-tune keeps every weight of the model and of the OSE head bit for bit (the
    # batch-norm statistics are re-estimated on the new training set by design).
    start = ckpt.load_checkpoint(source / "checkpoints" / "best.pt")
    end = ckpt.load_checkpoint(tuned / "checkpoints" / "last.pt")
    for key, value in start["model"].items():
        if "running" not in key and "num_batches_tracked" not in key:
            torch.testing.assert_close(end["model"][key], value, rtol=0, atol=0)
    assert start["ose"] is not None and start["ose"].keys() == end["ose"].keys()
    for key, value in start["ose"].items():
        torch.testing.assert_close(end["ose"][key], value, rtol=0, atol=0)

    run = read_run(source)
    ft = fine_tune_config(run, pseudo, tmp_path / "round", epochs=None, lr_scale=0.2)
    assert ft.epochs == 1 and ft.lr == pytest.approx(0.2 * 0.05) and ft.pseudo_labels == str(pseudo)
    assert ft.init_from == str(source / "checkpoints" / "best.pt") and not ft.resume


# ---- bad input


def _other_layout_dataset(root: Path, tmp_path: Path) -> Path:
    other = tmp_path / "other"
    make_dataset(other)
    meta = json.loads((other / "meta.json").read_text())
    layout = Layout("mg68-noflip", MG68.names, MG68.limbs, ())
    meta["layout"] = layout_to_dict(layout)
    (other / "meta.json").write_text(json.dumps(meta))
    return other


def test_checkpoint_of_another_layout_modality_or_file(root, tmp_path):
    source = train(small_config(root, "joint", tmp_path / "src", epochs=1))
    best = str(source / "checkpoints" / "best.pt")
    other = _other_layout_dataset(root, tmp_path)
    with pytest.raises(ValueError, match="layout 'mg68'.*uses 'mg68-noflip'"):
        train(small_config(other, "joint", tmp_path / "x", init_from=best))
    assert not (tmp_path / "x").exists()  # checked before anything is written
    with pytest.raises(ValueError, match="joint checkpoint.*--modality joint"):
        train(small_config(root, "heatmap", tmp_path / "y", init_from=best))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt: not a readable mgfast checkpoint"):
        train(small_config(root, "joint", tmp_path / "z", init_from=str(junk)))
    with pytest.raises(ValueError, match="layout 'mg68'"):
        predict(source, "test", dataset=other)


def test_missing_or_empty_splits(root, tmp_path):
    empty = make_dataset(tmp_path / "empty")
    clips = [c for c in read_manifest(empty / "manifest.csv") if c.split == "test"]
    write_manifest(empty / "manifest.csv", clips)
    with pytest.raises(ValueError, match="manifest.csv has no labelled training clips"):
        train(small_config(empty, "joint", tmp_path / "e"))
    with pytest.raises(FileNotFoundError, match="not an mgfast dataset"):
        train(small_config(tmp_path / "nowhere", "joint", tmp_path / "n"))
    run = train(small_config(root, "joint", tmp_path / "noval", epochs=1, val_fraction=0.0))
    assert not (run / "logits" / "val.npz").exists() and read_metrics(run)[0]["best"]
    with pytest.raises(ValueError, match="split 'val' of .* has no clips"):
        predict(run, "val")


def test_cuda_out_of_memory_says_what_to_change(root, tmp_path, monkeypatch):
    def no_memory(self, batch, device, dtype):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(data.JointInput, "train_batch", no_memory)
    with pytest.raises(OutOfMemory, match="lower --batch-size"):
        train(small_config(root, "joint", tmp_path / "oom", batch_size=8))
    result = CliRunner().invoke(app, ["train", str(root), "--modality", "joint", "--out", str(tmp_path / "oom2"),
                                      "--preset", "tiny", "--workers", "0", "--no-progress", "--batch-size", "8"])
    assert result.exit_code == 1 and "lower --batch-size (e.g. 4)" in result.output


def test_cli_train_and_predict(root, tmp_path):
    runner = CliRunner()
    bad = runner.invoke(app, ["train", str(root), "--modality", "depth", "--out", str(tmp_path / "d")])
    assert bad.exit_code == 2 and "unknown modality 'depth'" in bad.output
    cfg = tmp_path / "small.json"
    cfg.write_text(json.dumps({k: v for k, v in SMALL["joint"].items()}))
    out = tmp_path / "cli"
    result = runner.invoke(app, ["train", str(root), "--modality", "joint", "--out", str(out), "--preset", "tiny",
                                 "--config", str(cfg), "--epochs", "1", "--batch-size", "4", "--workers", "0",
                                 "--no-progress", "--class-weights", "none", "--seed", "3"])
    assert result.exit_code == 0, result.output
    stored = read_run(out).config
    assert (stored["epochs"], stored["batch_size"], stored["class_weights"], stored["seed"]) == (1, 4, "none", 3)
    (out / "logits" / "val.npz").unlink()
    result = runner.invoke(app, ["predict", str(out), "--split", "val", "--checkpoint", "last"])
    assert result.exit_code == 0, result.output
    assert len(load_logits(out, "val").clip_ids) == 4
    missing = runner.invoke(app, ["predict", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "not an mgfast run directory" in missing.output
