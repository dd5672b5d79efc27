"""The branch table and the typed option tables: every branch's presets build, old flat configs read back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pytest
from torch import nn

from mgfast import branches
from mgfast.coerce import WrongType, coerce, keyword_options
from mgfast.layout import MG68
from mgfast.train.config import FLAT_INPUT_KEYS, TrainConfig, make_config, presets
from mgfast.train.engine import build_network, make_input


@pytest.mark.parametrize(
    "value,hint,expected",
    [
        (3, float, 3.0), (True, bool, True), ("x", str, "x"), (None, int | None, None), (4, int | None, 4),
        ([1, 2], tuple[int, ...], (1, 2)), ([0.5, 1], tuple[float, float], (0.5, 1.0)),
        ([1, 2, 3], Sequence[float], (1.0, 2.0, 3.0)), ([1], list[int], [1]), ({"a": 1}, dict, {"a": 1}),
        ("b", Literal["a", "b"], "b"),
    ],
)
def test_coerce_converts_to_the_declared_type(value, hint, expected):
    out = coerce(value, hint, "option")
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize(
    "value,hint",
    [
        (True, int), (1.5, int), ("3", float), (True, float), (1, bool), (None, int), (3, str),
        ("ab", tuple[str, ...]), ([1, 2, 3], tuple[float, float]), ([1.5], tuple[int, ...]), ([1], dict),
        ("c", Literal["a", "b"]), (True, Literal[1, 2]), ("x", int | None),
    ],
)
def test_coerce_rejects_what_does_not_fit(value, hint):
    with pytest.raises(WrongType, match="option"):
        coerce(value, hint, "option")


def test_keyword_options_reads_resolved_hints_and_defaults():
    class Pipeline:
        def __init__(self, layout: object, *, size: int = 4, box: Literal["a", "b"] = "a", scale: float | None = None):
            pass

    options = keyword_options(Pipeline, exclude=("size",))
    assert list(options) == ["box", "scale"]
    assert options["box"].annotation == Literal["a", "b"] and options["box"].default == "a"
    assert options["scale"].annotation == (float | None)


def test_unknown_branch_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown modality 'depth'; choose one of joint, heatmap, rgb \(--modality\)"):
        branches.branch("depth")
    assert branches.NAMES == ("joint", "heatmap", "rgb")


@pytest.mark.parametrize("modality", branches.NAMES)
def test_every_preset_builds_its_input_pipeline_and_network(tmp_path, modality):
    """The [input] and [model] tables of every shipped preset are accepted by the branch's classes."""
    branch = branches.branch(modality)
    for name in presets(modality):
        config = make_config(tmp_path, modality, tmp_path / "run", preset=name)
        assert set(config.input) == set(branch.input_options())
        clip_input = make_input(config, MG68)
        assert isinstance(clip_input, branch.input) and clip_input.clip_len == config.clip_len
        if name == "tiny":  # the default networks are large; one preset shows the wiring
            model = build_network(config, MG68, 5, clip_input, pretrained=False)
            assert [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features == 5
            if modality == "heatmap":  # the volume's channels reach the network's first convolution
                first = next(m for m in model.modules() if isinstance(m, nn.Conv3d))
                assert first.in_channels == clip_input.channels == MG68.num_joints


def test_input_table_is_checked_against_the_pipeline(tmp_path):
    with pytest.raises(ValueError, match="unknown joint input option"):
        make_config(tmp_path, "joint", tmp_path / "r", input={"sigma": 1.0})
    with pytest.raises(ValueError, match="input.mode must be one of joints, limbs, both"):
        make_config(tmp_path, "heatmap", tmp_path / "r", input={"mode": "bones"})
    with pytest.raises(ValueError, match="input.sigma = 'wide' has the wrong type"):
        make_config(tmp_path, "heatmap", tmp_path / "r", input={"sigma": "wide"})
    with pytest.raises(ValueError, match="unknown rgb model option"):
        make_config(tmp_path, "rgb", tmp_path / "r", model={"base_channels": 8})
    cfg = make_config(tmp_path, "heatmap", tmp_path / "r", input={"sigma": 2})
    assert cfg.input["sigma"] == 2.0 and isinstance(cfg.input["sigma"], float)


@pytest.mark.parametrize("modality", branches.NAMES)
def test_flat_configs_of_older_runs_read_back_into_the_input_table(tmp_path, modality):
    """A run.json written before the input table (all branches' options at the top level) reads back as
    the same config as today's: its branch's options move into the table, the others' are dropped."""
    current = make_config(tmp_path, modality, tmp_path / "r", preset="tiny")
    flat = {k: v for k, v in current.to_dict().items() if k != "input"}
    flat.update(heatmap_mode="joints", sigma=0.6, compact_padding=0.25, joint_box="saliency", heatmap_box="compact",
                rgb_mean=[1.0, 2.0, 3.0], rgb_std=[4.0, 5.0, 6.0], rgb_residual=False, rgb_cache_mb=0.0)
    for old, targets in FLAT_INPUT_KEYS.items():
        if modality in targets:
            flat[old] = current.input[targets[modality]]
    restored = TrainConfig.from_dict(flat)
    assert restored.input == current.input
    assert restored.result_keys() == current.result_keys()


def test_run_only_input_options_do_not_change_the_result(tmp_path):
    a = make_config(tmp_path, "rgb", tmp_path / "r", input={"cache_mb": 0})
    b = make_config(tmp_path, "rgb", tmp_path / "r", input={"cache_mb": 512})
    c = make_config(tmp_path, "rgb", tmp_path / "r", input={"residual": True})
    assert a.result_keys() == b.result_keys() != c.result_keys()
