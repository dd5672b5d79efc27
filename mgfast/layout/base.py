"""The :class:`Layout` type: joint names, limbs, left/right flip pairs and the joints saliency emphasises.

Every op and model takes its joint count, limbs and flip pairs from a layout; :func:`limb_flip_index` derives
how limbs map under a horizontal flip.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Pair = tuple[int, int]


@dataclass(frozen=True)
class Layout:
    """A keypoint layout.

    Attributes:
        name: short identifier, recorded in datasets and checkpoints.
        names: one name per joint; the joint count is ``len(names)``.
        limbs: joint index pairs ``(a, b)``, one heatmap channel each in limb mode.
        flip_pairs: joints that swap under a horizontal flip (the subject's left and right); joints in no
            pair map to themselves.
        salient: joints that saliency boxes emphasise (for micro-gestures: hands and face).
    """

    name: str
    names: tuple[str, ...]
    limbs: tuple[Pair, ...]
    flip_pairs: tuple[Pair, ...]
    salient: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        v = self.num_joints
        if len(set(self.names)) != v:
            raise ValueError(f"layout {self.name!r}: joint names must be unique")
        for what, pairs in (("limb", self.limbs), ("flip pair", self.flip_pairs)):
            for a, b in pairs:
                if not (0 <= a < v and 0 <= b < v) or a == b:
                    raise ValueError(f"layout {self.name!r}: {what} ({a}, {b}) needs two distinct joints in [0, {v})")
        flipped = [j for pair in self.flip_pairs for j in pair]
        if len(set(flipped)) != len(flipped):
            raise ValueError(f"layout {self.name!r}: a joint appears in more than one flip pair")
        if any(not 0 <= j < v for j in self.salient):
            raise ValueError(f"layout {self.name!r}: salient joints must lie in [0, {v})")

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of the joint called ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"layout {self.name!r} has no joint {name!r}") from None

    def joint_flip_index(self) -> tuple[int, ...]:
        """``perm[j]``: the joint that joint ``j`` becomes under a horizontal flip (an involution)."""
        perm = list(range(self.num_joints))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return tuple(perm)

    def limb_flip_index(self) -> tuple[int, ...]:
        """``perm[k]``: the limb that limb ``k`` becomes under a horizontal flip."""
        return limb_flip_index(self.limbs, self.joint_flip_index())


def limb_flip_index(limbs: tuple[Pair, ...] | list[Pair], joint_flip: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """Maps each limb to its mirror image, the limb joining the flipped joints (in either direction).

    Raises ``ValueError`` when a limb's mirror image is not among the limbs: such a limb set cannot be flipped.
    """
    position = {frozenset(limb): k for k, limb in enumerate(limbs)}
    perm = []
    for a, b in limbs:
        mirror = frozenset((joint_flip[a], joint_flip[b]))
        if mirror not in position:
            raise ValueError(f"limb ({a}, {b}) has no mirror limb ({joint_flip[a]}, {joint_flip[b]}): the limbs are not left/right symmetric")
        perm.append(position[mirror])
    return tuple(perm)

