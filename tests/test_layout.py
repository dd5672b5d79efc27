"""The mg68 layout and layout validation."""

from __future__ import annotations

import pytest

from mgfast.layout import MG68, Layout, limb_flip_index


def test_mg68_matches_the_design_table():
    assert MG68.num_joints == 68 and len(MG68.limbs) == 67
    assert MG68.names[:3] == ("Nose", "Neck", "RShoulder") and MG68.names[24] == "RHeel"
    assert MG68.index("LHandWrist") == 25 and MG68.index("RHandWrist") == 46 and MG68.index("Chin") == 67
    assert MG68.index("LPinky4") == 45 and MG68.index("RThumb1") == 47
    assert {(7, 25), (4, 46), (0, 67), (1, 8), (11, 24)} <= set(MG68.limbs)
    assert len(set(map(frozenset, MG68.limbs))) == 67


def test_flip_index_is_an_involution_swapping_sides():
    perm = MG68.joint_flip_index()
    assert all(perm[perm[j]] == j for j in range(68))
    for j in (0, 1, 8, 67):
        assert perm[j] == j
    for name in ("RWrist", "RHandWrist", "RIndex3", "REar", "RBigToe"):
        assert MG68.names[perm[MG68.index(name)]] == "L" + name[1:]


def test_limb_flip_index_maps_each_limb_to_its_mirror():
    joint = MG68.joint_flip_index()
    limb = MG68.limb_flip_index()
    assert sorted(limb) == list(range(67))
    for k, (a, b) in enumerate(MG68.limbs):
        assert frozenset(MG68.limbs[limb[k]]) == {joint[a], joint[b]}


def test_asymmetric_limbs_cannot_be_flipped():
    with pytest.raises(ValueError, match="no mirror limb"):
        limb_flip_index([(0, 1)], [0, 2, 1])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(limbs=((0, 3),)), "limb"),
        (dict(flip_pairs=((0, 1), (1, 2))), "more than one flip pair"),
        (dict(salient=(5,)), "salient"),
    ],
)
def test_invalid_layouts_are_rejected(kwargs, match):
    base = dict(name="tiny", names=("a", "b", "c"), limbs=((0, 1),), flip_pairs=())
    with pytest.raises(ValueError, match=match):
        Layout(**{**base, **kwargs})
