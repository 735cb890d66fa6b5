"""Quality checks on placed skeletons: swapped left/right, points off the image, missing keypoints, two keypoints
on one spot, and edges out of proportion. Each problem is a `Finding` with a stable rule id.

Left/right swaps (rule "left-right-swap")
-----------------------------------------
For each mirrored pair of the rig the check decides: labels as placed, or exchanged? Every pair gets a sign
(+1 as placed, -1 exchanged) and the signs that explain the pose best win. The evidence, in pixels:

- Pairs against pairs (any rig). Two pairs joined by rig edges (hips and knees, or a truck's front and rear
  wheels) agree on which side is left when the straight assignment (left to left, right to right) is more
  plausible than the crossed one (left to right). With the rig's proportions (its box) and the pose's scale
  against them, plausible means edge lengths the proportions allow: too long is implausible, too short much less
  so, as a limb pointing at the camera looks short. Without proportions it means shorter, trusted only as far
  as the narrower pair is wide beside the distance between the pairs (a profile says little). A pair no edge joins
  to another pair is compared with every other pair instead. This is "most pairs agree on which side is left",
  with no need for up or down: lying people, cartwheels and trucks work the same.
- Facing (rigs with a `Facing` cue; the COCO person). Pairs against pairs cannot see a swap of every pair at
  once: a fully swapped skeleton is, point for point, the correct skeleton of someone turned the other way round,
  as a 2D image has no depth. What breaks the tie is what a worker can see: the nose and eyes only when the person
  faces the camera, the ears from behind too. With the nose or an eye placed, the person's left eye and left ear
  lie to the image's right of the right ones, right and left taken across the torso's up axis (hips to
  shoulders; the image's up without a torso), so tilted and lying people work too. With ears but no nose or
  eyes, the person faces away and it is the other way round. In profile only the eye and ear on the camera's side
  show, and the nose points away from that side: with the nose to the right of a lone ear, it is a right ear.
  The torso's own left-right direction is no facing evidence: the head turns up to 80 degrees from it.
- A reference (optional: the other workers' consensus, or a model's prediction). Per pair, how much closer its
  points are to the reference's opposite points than to their own, trusted as far as the answer lies near the
  reference (a median of workers who disagree is near neither side). A pair whose points are each much closer to
  the reference's opposite point is flagged whatever the rest says.

Each mistake costs `max(swap_cost_noise * click noise, swap_cost_share * pose size)`, and the signs must pay for
their mistakes, so the smaller side of a disagreement is the one called swapped and click noise does not flip
pairs of small poses. A mistake is a chain of exchanged pairs that rig edges join (a worker who mixes up the knees
mixes up the ankles below them too), plus `swap_cost_per_pair` of a mistake for each pair in it; or one exchange
of every pair (a worker labelling from their own side) and then each chain kept as placed. The click noise is
`click_px`, or measured against the reference when there is one; pairs narrower than a few click noises (a small
person's eyes) weigh less. The signs are found exactly, by trying all of them (4,096 for 12 pairs, vectorised over
the poses), or for rigs with more pairs greedily, counting every exchanged pair as a mistake.

What it cannot see: every pair exchanged on a person in profile or facing away with at most one ear placed is a
correct skeleton of someone facing the other way, and pairs that barely move when exchanged (legs together, a
profile's overlapping hips) give too little evidence; a reference catches both. `groundcrew simulate keypoint-qa`
measures recall and false positives on simulated workers, with and without a reference.

The other rules
---------------
- "outside-image": x in [0, width) and y in [0, height), widened by `border_px` on every side.
- "missing-required": a keypoint of the rig's `required` not placed.
- "same-spot": two keypoints closer than `same_spot_px`, unless the rig's box puts them that close at the pose's
  scale (a small face's nose and eyes).
- "limb-ratio" (rigs with a box): an edge `limb_factor` times longer than the box's proportions give at the pose's
  scale (the median of its edges' ratios to the box's). Shorter edges only when `limb_short_factor` is set, as
  any edge seen end-on is short.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from groundcrew.workflows.keypoints.poses import Pose, Rig

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_EXACT_PAIRS = 12  # 2**12 sign patterns per pose; beyond, greedy exchanges


class Rule(StrEnum):
    LEFT_RIGHT_SWAP = "left-right-swap"
    OUTSIDE_IMAGE = "outside-image"
    MISSING_REQUIRED = "missing-required"
    SAME_SPOT = "same-spot"
    LIMB_RATIO = "limb-ratio"


class Severity(StrEnum):
    ERROR = "error"  # the label is wrong as it stands
    WARNING = "warning"  # unusual and worth a look, but it can be right


@dataclass(frozen=True, slots=True)
class Finding:
    rule: Rule
    keypoints: tuple[str, ...]
    message: str
    severity: Severity


@dataclass(frozen=True, slots=True)
class Facing:
    """The keypoints that tell which way a rig's object faces the camera (see the module docstring)."""

    front: tuple[str, ...]  # placed only when it faces the camera: a person's nose and eyes
    back: tuple[str, ...]  # placed from behind as well: a person's ears
    lower: tuple[str, ...]  # the up axis runs from the middle of `lower` to the middle of `upper`
    upper: tuple[str, ...]


PERSON_FACING = Facing(
    front=("nose", "left_eye", "right_eye"),
    back=("left_ear", "right_ear"),
    lower=("left_hip", "right_hip"),
    upper=("left_shoulder", "right_shoulder"),
)
FACING_CUES = (PERSON_FACING,)  # the first whose keypoints a rig has applies to it


@dataclass(frozen=True, slots=True)
class CheckSettings:
    """Thresholds of the checks; the swap ones were tuned with `groundcrew simulate keypoint-qa`."""

    border_px: float = 0.5  # a click on the image's edge may round half a pixel out
    same_spot_px: float = 2.0
    same_spot_expected: float = 4.0  # ... unless the rig's proportions put them under this many times that apart
    limb_factor: float = 2.5  # an edge this many times longer than the rig's proportions give ...
    limb_short_factor: float | None = None  # ... or this many times shorter (off: any edge seen end-on is short)
    limb_min_px: float = 10.0  # ... and off by at least this many pixels (click noise) ...
    limb_min_share: float = 0.05  # ... and this share of the pose's size
    # Edges shorter than this share of the rig's box are not judged: the box is a flat view, and small parts
    # seen another way (a face in profile) measure mostly depth and click noise.
    limb_min_edge_share: float = 0.05
    click_px: float = 3.0  # click noise assumed without a reference (with one, it is measured)
    pair_noise: float = 3.0  # a pair narrower than this many click noises weighs less
    swap_cost_noise: float = 3.0  # the cost of a mistake: this many click noises ...
    swap_cost_share: float = 0.1  # ... or this share of the pose's size (its box's diagonal), the larger
    swap_cost_per_pair: float = 0.25  # and this share of it again for each pair of a chain exchanged
    unlinked_weight: float = 0.5  # pairs no edge joins to another pair, against every other pair
    short_edge_weight: float = 0.1  # an edge shorter than the proportions give, against one as much longer
    scale_quantile: float = 0.5  # the pose's scale: this quantile of its edges' ratios to the rig's
    facing_weight: float = 1.0
    reference_weight: float = 1.0
    reference_share: float = 0.5  # "much closer": by this share of the pair's width in the reference ...
    reference_min_px: float = 4.0  # ... and at least this many pixels, for each of the two points


@dataclass(frozen=True, slots=True)
class _RigIndex:
    """A rig as index arrays, built once per batch."""

    names: tuple[str, ...]
    position: dict[str, int]
    pairs: IntArray  # (P, 2): left, right
    links: IntArray  # (Q, 2): pair i, pair j
    link_weight: FloatArray  # (Q,)
    link_lengths: FloatArray  # (Q, 2) the rig's length of the edge a link has on the left and on the right
    edges: IntArray  # (E, 2)
    edge_lengths: FloatArray | None  # (E,) in the rig's box; None without a box
    box_xy: FloatArray | None  # (K, 2) keypoints' places in the rig's box
    box_diagonal: float
    required: IntArray
    facing: Facing | None

    @classmethod
    def of(cls, rig: Rig, settings: CheckSettings) -> _RigIndex:
        names = rig.names
        position = {name: i for i, name in enumerate(names)}
        for name in (*itertools.chain.from_iterable(rig.mirrored), *rig.required):
            if name not in position:
                raise ValueError(f"rig {rig.name!r}: {name!r} is mirrored or required but is not one of its keypoints")
        edge_list = []
        for edge in rig.edges:
            if edge.start not in position or edge.end not in position:
                raise ValueError(f"rig {rig.name!r}: edge {edge.start}-{edge.end} names a keypoint it does not have")
            edge_list.append((position[edge.start], position[edge.end]))
        edges = np.array(edge_list, dtype=np.int64).reshape(-1, 2)
        pairs = np.array([(position[a], position[b]) for a, b in rig.mirrored], dtype=np.int64).reshape(-1, 2)
        pair_of = {int(k): p for p, pair in enumerate(pairs) for k in pair}
        joined = {frozenset((pair_of[a], pair_of[b])) for a, b in edge_list if a in pair_of and b in pair_of}
        joined = {link for link in joined if len(link) == 2}  # an edge within a pair links nothing
        alone = set(range(len(pairs))) - set(itertools.chain.from_iterable(joined))
        links, weights = [], []
        for i, j in itertools.combinations(range(len(pairs)), 2):
            if frozenset((i, j)) in joined:
                links.append((i, j))
                weights.append(1.0)
            elif (i in alone or j in alone) and settings.unlinked_weight > 0:
                links.append((i, j))
                weights.append(settings.unlinked_weight)
        link_array = np.array(links, dtype=np.int64).reshape(-1, 2)
        edge_lengths = box_xy = None
        link_lengths = np.full((len(link_array), 2), np.nan)
        diagonal = 0.0
        if rig.box is not None:
            box_xy = np.array([(k.x, k.y) for k in rig.keypoints], dtype=np.float64)
            edge_lengths = np.hypot(*(box_xy[edges[:, 0]] - box_xy[edges[:, 1]]).T)
            diagonal = float(np.hypot(rig.box.right - rig.box.left, rig.box.bottom - rig.box.top))
            length_of = {frozenset(map(int, e)): float(t) for e, t in zip(edges, edge_lengths, strict=True) if t > 0}
            for q, (i, j) in enumerate(link_array.tolist()):
                for side in (0, 1):
                    link_lengths[q, side] = length_of.get(frozenset((int(pairs[i, side]), int(pairs[j, side]))), np.nan)
        facing = next((cue for cue in FACING_CUES if set(_cue_names(cue)) <= set(names)), None)
        return cls(
            names=names,
            position=position,
            pairs=pairs,
            links=link_array,
            link_weight=np.array(weights, dtype=np.float64),
            link_lengths=link_lengths,
            edges=edges,
            edge_lengths=edge_lengths,
            box_xy=box_xy,
            box_diagonal=diagonal,
            required=np.array([position[name] for name in rig.required], dtype=np.int64),
            facing=facing,
        )


def _cue_names(facing: Facing) -> tuple[str, ...]:
    return (*facing.front, *facing.back, *facing.lower, *facing.upper)


def check_pose(
    pose: Pose,
    rig: Rig,
    *,
    image_size: tuple[int, int] | None,
    reference: Pose | None = None,
    settings: CheckSettings | None = None,
) -> list[Finding]:
    """Every finding on one pose. `image_size` is (width, height); None skips the outside-image check."""
    return check_poses([pose], rig, image_sizes=[image_size], references=[reference], settings=settings)[0]


def check_poses(
    poses: Sequence[Pose],
    rig: Rig,
    *,
    image_sizes: Sequence[tuple[int, int] | None] | None = None,
    references: Sequence[Pose | None] | None = None,
    settings: CheckSettings | None = None,
) -> list[list[Finding]]:
    """`check_pose` on many poses of one rig at once: the geometry runs as numpy over the whole batch."""
    settings = settings or CheckSettings()
    index = _RigIndex.of(rig, settings)
    if image_sizes is not None and len(image_sizes) != len(poses):
        raise ValueError(f"{len(image_sizes)} image sizes for {len(poses)} poses")
    if references is not None and len(references) != len(poses):
        raise ValueError(f"{len(references)} references for {len(poses)} poses")
    xy = points_array(poses, index.names, rig.name)
    ref = None
    if references is not None and any(r is not None for r in references):
        ref = points_array([r or Pose() for r in references], index.names, rig.name)
    findings: list[list[Finding]] = [[] for _ in poses]
    found = [
        *_swaps(xy, ref, index, settings),
        *(_outside(xy, image_sizes, index, settings) if image_sizes is not None else []),
        *_missing(xy, index),
        *_same_spot(xy, index, settings),
        *_limb_ratio(xy, index, settings),
    ]
    for number, finding in found:
        findings[number].append(finding)
    return findings


def points_array(poses: Sequence[Pose], names: Sequence[str], rig_name: str = "") -> FloatArray:
    """(poses, keypoints, 2) coordinates in the rig's keypoint order, NaN where a keypoint is not placed."""
    position = {name: i for i, name in enumerate(names)}
    xy = np.full((len(poses), len(names), 2), np.nan)
    for number, pose in enumerate(poses):
        for name, point in pose.points.items():
            if name not in position:
                # A pose of another rig would give meaningless findings: refuse it by name.
                raise ValueError(f"pose {pose.name or number!r}: keypoint {name!r} is not in rig {rig_name!r}")
            xy[number, position[name]] = point
    return xy


# --- left/right swaps -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SwapEvidence:
    signs: FloatArray  # (N, P) +1 as placed, -1 exchanged
    links: FloatArray  # (N, Q)
    facing: FloatArray  # (N, P)
    facing_sign: IntArray  # (N,) +1 faces the camera, -1 away, 0 unknown
    toward_opposite: FloatArray | None  # (N, P, 2)


def _distance(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.asarray(np.hypot(*np.moveaxis(a - b, -1, 0)), dtype=np.float64)


def _swaps(
    xy: FloatArray, ref: FloatArray | None, index: _RigIndex, settings: CheckSettings
) -> list[tuple[int, Finding]]:
    n, p = len(xy), len(index.pairs)
    if p == 0 or n == 0:
        return []
    left, right = xy[:, index.pairs[:, 0]], xy[:, index.pairs[:, 1]]
    present = (~np.isnan(left[..., 0]) | ~np.isnan(right[..., 0])).astype(np.float64)
    size = _size(xy)
    noise = np.full(n, settings.click_px)
    reference: FloatArray = np.zeros((n, p))
    toward_opposite = None
    decisive: npt.NDArray[np.bool_] = np.zeros((n, p), dtype=np.bool_)
    if ref is not None:
        toward_opposite, nearest, ref_width = _reference_evidence(xy, ref, index)
        # Each point's distance to the nearer reference point, swapped or not, measures the answer's click noise.
        noise = np.fmax(noise, _nanmedian_rows(nearest.reshape(n, -1)))
        with np.errstate(invalid="ignore", divide="ignore"):
            trust = np.clip(np.nan_to_num(1.0 - 2.0 * _nanmean_last(nearest) / ref_width), 0.0, 1.0)
            margin = np.maximum(settings.reference_min_px, settings.reference_share * ref_width)
            decisive = (toward_opposite > margin[..., None]).all(axis=-1) & (trust > 0)
        reference = -np.nansum(toward_opposite, axis=-1) * trust
    width = _distance(left, right)
    pair_trust = np.where(np.isnan(width), 1.0, np.clip(width / (settings.pair_noise * noise[:, None]), 0.0, 1.0))
    links: FloatArray = np.zeros((n, 0))
    if len(index.links):
        links = _link_evidence(left, right, index, _scale(xy, index, settings), settings)
        links *= np.fmin(pair_trust[:, index.links[:, 0]], pair_trust[:, index.links[:, 1]])
    facing, facing_sign = _facing_evidence(xy, index)
    unary = settings.facing_weight * facing * pair_trust + settings.reference_weight * reference
    cost = np.maximum(settings.swap_cost_noise * noise, settings.swap_cost_share * size)
    chained = index.links[index.link_weight >= 1.0]
    signs = _best_signs(
        links * index.link_weight, index.links, unary, cost, present, chained, settings.swap_cost_per_pair
    )
    evidence = _SwapEvidence(signs, links, facing, facing_sign, toward_opposite)
    flagged = (signs < 0) | decisive
    found = []
    for number in np.flatnonzero(flagged.any(axis=1)).tolist():
        for finding in _swap_findings(number, flagged[number], present[number] > 0, evidence, index, xy, ref):
            found.append((number, finding))
    return found


def _link_evidence(
    left: FloatArray, right: FloatArray, index: _RigIndex, scale: FloatArray, settings: CheckSettings
) -> FloatArray:
    """(N, Q) evidence per link between two pairs; positive: they agree on which side is left."""
    links = index.links
    li, ri = left[:, links[:, 0]], right[:, links[:, 0]]
    lj, rj = left[:, links[:, 1]], right[:, links[:, 1]]
    straight = np.stack([_distance(li, lj), _distance(ri, rj)], axis=-1)  # (N, Q, side)
    crossed = np.stack([_distance(li, rj), _distance(ri, lj)], axis=-1)
    expected = scale[:, None, None] * index.link_lengths[None, :, :]
    judged = ~np.isnan(expected)

    def implausible(length: FloatArray) -> FloatArray:
        over = np.maximum(length - expected, 0.0)
        under = np.maximum(expected - length, 0.0)
        return np.asarray(np.where(judged, over + settings.short_edge_weight * under, length), dtype=np.float64)

    # From i's placed points against a complete j, or from j's against a complete i (equal when both are).
    from_i = np.nansum(implausible(crossed) - implausible(straight), axis=-1)
    from_j = np.nansum(implausible(crossed[..., ::-1]) - implausible(straight), axis=-1)
    width_i, width_j = _distance(li, ri), _distance(lj, rj)
    evidence = np.where(~np.isnan(width_j), from_i, np.where(~np.isnan(width_i), from_j, 0.0))
    # Without proportions the evidence is at most twice the narrower pair's width, and a limb swings as far as it
    # is long: a pair narrow beside the distance to its neighbour says little about it.
    reach = np.fmax.reduce(np.concatenate([straight, crossed], axis=-1), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        trust = np.clip(np.nan_to_num(np.fmin(width_i, width_j) / reach), 0.0, 1.0)
    return np.asarray(evidence * np.where(judged.all(axis=-1), 1.0, trust), dtype=np.float64)


def _facing_evidence(xy: FloatArray, index: _RigIndex) -> tuple[FloatArray, IntArray]:
    """(N, P) evidence per pair from the rig's facing cue, and (N,) +1 facing the camera, -1 away, 0 unknown."""
    n, p = xy.shape[0], len(index.pairs)
    evidence = np.zeros((n, p))
    cue = index.facing
    if cue is None:
        return evidence, np.zeros(n, dtype=np.int64)
    placed = ~np.isnan(xy[..., 0])
    front = [index.position[name] for name in cue.front]
    back = [index.position[name] for name in cue.back]
    facing = np.where(placed[:, front].any(axis=1), 1, np.where(placed[:, back].any(axis=1), -1, 0))
    up = _midpoint(xy, [index.position[k] for k in cue.upper]) - _midpoint(xy, [index.position[k] for k in cue.lower])
    length = np.hypot(up[:, 0], up[:, 1])
    usable = np.nan_to_num(length) > 1.0
    up = np.where(usable[:, None], up / np.where(usable, length, 1.0)[:, None], np.array([0.0, -1.0]))
    head = set(front) | set(back)
    paired = set(index.pairs.ravel().tolist())
    noses = [k for k in front if k not in paired]
    for number, (left, right) in enumerate(index.pairs.tolist()):
        if left not in head or right not in head:
            continue
        lateral = _lateral(up, xy[:, left] - xy[:, right])
        evidence[:, number] = np.where(np.isnan(lateral), 0.0, lateral * facing)
        for nose in noses:
            # A lone eye or ear is on the camera's side: the side the nose points away from.
            lone_left = placed[:, left] & ~placed[:, right] & placed[:, nose]
            lone_right = placed[:, right] & ~placed[:, left] & placed[:, nose]
            evidence[:, number] += np.where(lone_left, _lateral(up, xy[:, left] - xy[:, nose]), 0.0)
            evidence[:, number] += np.where(lone_right, _lateral(up, xy[:, nose] - xy[:, right]), 0.0)
    return evidence, facing.astype(np.int64)


def _lateral(up: FloatArray, vector: FloatArray) -> FloatArray:
    """How far `vector` points to the image's right of `up` (unit vectors, y down), in pixels."""
    return np.asarray(up[..., 0] * vector[..., 1] - up[..., 1] * vector[..., 0], dtype=np.float64)


def _midpoint(xy: FloatArray, keys: Sequence[int]) -> FloatArray:
    """(N, 2) mean of the placed ones among `keys`; NaN when none is placed."""
    chosen = xy[:, list(keys)]
    count = (~np.isnan(chosen[..., 0])).sum(axis=1)[:, None]
    return np.where(count > 0, np.nansum(chosen, axis=1) / np.maximum(count, 1), np.nan)


def _reference_evidence(xy: FloatArray, ref: FloatArray, index: _RigIndex) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per point of each pair (N, P, 2): how much closer it is to the reference's opposite point than to its own,
    and its distance to the nearer of the two; and (N, P) the pair's width in the reference. NaN: no comparison."""
    left, right = xy[:, index.pairs[:, 0]], xy[:, index.pairs[:, 1]]
    ref_left, ref_right = ref[:, index.pairs[:, 0]], ref[:, index.pairs[:, 1]]
    own = np.stack([_distance(left, ref_left), _distance(right, ref_right)], axis=-1)
    opposite = np.stack([_distance(left, ref_right), _distance(right, ref_left)], axis=-1)
    return own - opposite, np.fmin(own, opposite), _distance(ref_left, ref_right)


def _scale(xy: FloatArray, index: _RigIndex, settings: CheckSettings) -> FloatArray:
    """(N,) the pose's size against the rig's box: a quantile of its edges' length ratios; NaN without a box."""
    out = np.full(len(xy), np.nan)
    if index.edge_lengths is None:
        return out
    usable = index.edge_lengths > 0
    edges = index.edges[usable]
    ratio = _distance(xy[:, edges[:, 0]], xy[:, edges[:, 1]]) / index.edge_lengths[usable]
    judged = (~np.isnan(ratio)).sum(axis=1) >= 3  # fewer edges give no scale to judge by
    if judged.any():
        out[judged] = np.nanquantile(ratio[judged], settings.scale_quantile, axis=1)
    return out


def _size(xy: FloatArray) -> FloatArray:
    """(N,) the diagonal of each pose's box around its placed points (0 when none is)."""
    lows, highs = np.fmin.reduce(xy, axis=1), np.fmax.reduce(xy, axis=1)  # NaN-skipping, silent on empty poses
    return np.asarray(np.nan_to_num(np.hypot(*(highs - lows).T)), dtype=np.float64)


def _nanmedian_rows(values: FloatArray) -> FloatArray:
    """Median of each row's non-NaN values; NaN for a row with none (without numpy's warning)."""
    out = np.full(len(values), np.nan)
    filled = ~np.isnan(values).all(axis=1)
    if filled.any():
        out[filled] = np.nanmedian(values[filled], axis=1)
    return out


def _nanmean_last(values: FloatArray) -> FloatArray:
    """Mean over the last axis of the non-NaN values; NaN where there are none (without numpy's warning)."""
    count = (~np.isnan(values)).sum(axis=-1)
    return np.where(count > 0, np.nansum(values, axis=-1) / np.maximum(count, 1), np.nan)


def _best_signs(
    links: FloatArray,
    pairs: IntArray,
    unary: FloatArray,
    cost: FloatArray,
    present: FloatArray,
    chained: IntArray,
    per_pair: float,
) -> FloatArray:
    """(N, P) the signs maximising links + unary - cost * mistakes (see the module docstring).

    `links` (N, Q) is the weighted evidence of each link between `pairs` (Q, 2). A mistake is a chain of exchanged
    pairs (pairs `chained` by rig edges: a worker who mixes up the knees mixes up the ankles below them too), or
    one exchange of everything and then each chain kept. Only pairs with a point placed (`present`) count.
    """
    p = unary.shape[1]
    if p > MAX_EXACT_PAIRS:
        return _greedy_signs(links, pairs, unary, cost, present)
    patterns = np.arange(2**p)
    signs = 1.0 - 2.0 * ((patterns[:, None] >> np.arange(p)[None, :]) & 1)  # (C, P); bit k: pair k exchanged
    score = links @ (signs[:, pairs[:, 0]] * signs[:, pairs[:, 1]]).T + unary @ signs.T
    chains = _chain_counts(p, tuple(map(tuple, chained.tolist())))
    bits = _chain_counts(p, ())  # with no links, every pair is its own chain: the number of pairs
    placed = (present > 0).astype(np.int64) @ (1 << np.arange(p))  # (N,) bit mask of present pairs
    exchanged = patterns[None, :] & placed[:, None]
    kept = ~patterns[None, :] & placed[:, None] & (2**p - 1)
    # Each pair in a chain adds a little, so pairs no evidence asks for do not ride along with their neighbours.
    mistakes = np.minimum(chains[exchanged] + per_pair * bits[exchanged], 1 + chains[kept] + per_pair * bits[kept])
    score -= cost[:, None] * mistakes
    return np.asarray(signs[np.argmax(score, axis=1)], dtype=np.float64)  # ties: the first, fewest exchanges


@functools.lru_cache(maxsize=32)
def _chain_counts(p: int, chained: tuple[tuple[int, ...], ...]) -> IntArray:
    """For every bit mask of pairs, how many chains (connected groups, by `chained` links) its pairs form."""
    counts = np.zeros(2**p, dtype=np.int64)
    for mask in range(1, 2**p):
        group = list(range(p))  # union-find: each pair's group
        joins = 0
        for i, j in chained:
            if mask >> i & 1 and mask >> j & 1:
                a, b = _group_of(group, i), _group_of(group, j)
                if a != b:
                    group[a] = b
                    joins += 1
        counts[mask] = mask.bit_count() - joins
    return counts


def _group_of(group: list[int], k: int) -> int:
    while group[k] != k:
        k = group[k]
    return k


def _greedy_signs(
    links: FloatArray, pairs: IntArray, unary: FloatArray, cost: FloatArray, present: FloatArray
) -> FloatArray:
    """Single exchanges while they help, from the labels as placed and from every pair exchanged."""
    n, p = unary.shape
    best_signs, best_score = np.ones((n, p)), np.full(n, -np.inf)
    for start in (1.0, -1.0):
        signs = np.full((n, p), start)
        score = _objective(signs, links, pairs, unary, cost, present)
        for _ in range(p):
            tried = np.stack(
                [
                    _objective(signs * np.where(np.arange(p) == k, -1.0, 1.0), links, pairs, unary, cost, present)
                    for k in range(p)
                ],
                axis=1,
            )
            k_best = np.argmax(tried, axis=1)
            better = tried[np.arange(n), k_best] > score
            if not better.any():
                break
            signs[np.flatnonzero(better), k_best[better]] *= -1
            score = np.where(better, tried[np.arange(n), k_best], score)
        improved = score > best_score
        best_signs[improved], best_score[improved] = signs[improved], score[improved]
    return best_signs


def _objective(
    signs: FloatArray, links: FloatArray, pairs: IntArray, unary: FloatArray, cost: FloatArray, present: FloatArray
) -> FloatArray:
    exchanged = ((signs < 0) * present).sum(axis=1)
    kept = present.sum(axis=1) - exchanged
    agreement = (links * signs[:, pairs[:, 0]] * signs[:, pairs[:, 1]]).sum(axis=1)
    return np.asarray(
        agreement + (unary * signs).sum(axis=1) - cost * np.minimum(exchanged, 1.0 + kept), dtype=np.float64
    )


def _swap_findings(
    number: int,
    flagged: npt.NDArray[np.bool_],
    present: npt.NDArray[np.bool_],
    evidence: _SwapEvidence,
    index: _RigIndex,
    xy: FloatArray,
    ref: FloatArray | None,
) -> list[Finding]:
    """One finding per exchanged pair, or one for the whole skeleton when every placed pair is exchanged."""
    facing = int(evidence.facing_sign[number])
    side = "faces the camera (nose or eyes placed)" if facing > 0 else "faces away (ears, but no nose or eyes)"
    pairs = np.flatnonzero(flagged).tolist()
    if len(pairs) >= 2 and bool(flagged[present].all()):
        return [_whole_skeleton_swap(number, pairs, side, evidence, index)]
    return [_pair_swap(number, pair, side, evidence, index, xy, ref) for pair in pairs]


def _pair_label(index: _RigIndex, pair: int) -> str:
    return "/".join(index.names[k] for k in index.pairs[pair])


def _whole_skeleton_swap(
    number: int, pairs: list[int], side: str, evidence: _SwapEvidence, index: _RigIndex
) -> Finding:
    names = tuple(index.names[k] for pair in pairs for k in index.pairs[pair])
    reasons = []
    if (evidence.facing[number, pairs] < 0).any():
        reasons.append(f"the subject {side}, so its left side shows on the other side of the image")
    if evidence.toward_opposite is not None:
        closer = int((np.nan_to_num(evidence.toward_opposite[number, pairs]) > 0).all(axis=-1).sum())
        reasons.append(f"{closer} of {len(pairs)} pairs are nearer the reference's opposite points")
    because = f" ({'; '.join(reasons)})" if reasons else ""
    message = (
        f"every left/right label looks exchanged, as if labelled from the viewer's side{because}: "
        f"{', '.join(_pair_label(index, pair) for pair in pairs)}. Exchange each left label with its right one."
    )
    return Finding(Rule.LEFT_RIGHT_SWAP, names, message, Severity.ERROR)


def _pair_swap(
    number: int,
    pair: int,
    side: str,
    evidence: _SwapEvidence,
    index: _RigIndex,
    xy: FloatArray,
    ref: FloatArray | None,
) -> Finding:
    left_name, right_name = (index.names[k] for k in index.pairs[pair])
    reasons = []
    crossing = [
        _pair_label(index, int(j if i == pair else i))
        for q, (i, j) in enumerate(index.links.tolist())
        if pair in (i, j) and evidence.links[number, q] * evidence.signs[number, j if i == pair else i] < 0
    ]
    if crossing:
        reasons.append(f"as placed they cross over the neighbouring {', '.join(crossing)}")
    if evidence.facing[number, pair] < 0:
        reasons.append(f"the subject {side}, which puts {left_name} on the other side")
    if evidence.toward_opposite is not None and ref is not None:
        distances = _reference_distances(number, pair, evidence.toward_opposite, index, xy, ref)
        if distances and np.nansum(evidence.toward_opposite[number, pair]) > 0:
            reasons.append("; ".join(distances))
    if not reasons:
        reasons.append("the rest of the skeleton puts them the other way round")
    message = f"{left_name} and {right_name} look swapped: {'; '.join(reasons)}. Exchange the two labels."
    return Finding(Rule.LEFT_RIGHT_SWAP, (left_name, right_name), message, Severity.ERROR)


def _reference_distances(
    number: int, pair: int, toward_opposite: FloatArray, index: _RigIndex, xy: FloatArray, ref: FloatArray
) -> list[str]:
    """For each point of the pair: how far it is from the reference's same point and from its opposite one."""
    left, right = index.pairs[pair, 0], index.pairs[pair, 1]
    return [
        f"{index.names[k]} is {float(_distance(xy[number, k], ref[number, k])):.0f} px from the reference's "
        f"{index.names[k]} and {float(_distance(xy[number, k], ref[number, m])):.0f} px from its {index.names[m]}"
        for k, m in ((left, right), (right, left))
        if not np.isnan(toward_opposite[number, pair]).all()
        and not np.isnan(xy[number, k, 0])
        and not np.isnan(ref[number, [k, m], 0]).any()
    ]


# --- the other rules --------------------------------------------------------------------------------------------


def _outside(
    xy: FloatArray, image_sizes: Sequence[tuple[int, int] | None], index: _RigIndex, settings: CheckSettings
) -> list[tuple[int, Finding]]:
    size = np.array([s if s is not None else (np.nan, np.nan) for s in image_sizes], dtype=np.float64)
    tolerance = settings.border_px
    with np.errstate(invalid="ignore"):
        # Valid: x in [0, width) and y in [0, height), widened by the tolerance on every side. NaN compares False.
        outside = ((xy < -tolerance) | (xy >= size[:, None, :] + tolerance)).any(axis=-1)
    outside &= ~np.isnan(size[:, :1])  # no size, no check
    found = []
    for number, k in zip(*np.nonzero(outside), strict=True):
        x, y = xy[number, k]
        width, height = size[number]
        message = (
            f"{index.names[k]} is at ({x:.1f}, {y:.1f}), outside the {width:.0f}x{height:.0f} image: place it on the "
            "image, or leave it out if it cannot be seen."
        )
        found.append((int(number), Finding(Rule.OUTSIDE_IMAGE, (index.names[k],), message, Severity.ERROR)))
    return found


def _missing(xy: FloatArray, index: _RigIndex) -> list[tuple[int, Finding]]:
    if not len(index.required):
        return []
    missing = np.isnan(xy[:, index.required, 0])
    found = []
    for number in np.flatnonzero(missing.any(axis=1)).tolist():
        names = tuple(index.names[k] for k in index.required[missing[number]])
        plural = "s" if len(names) > 1 else ""
        message = f"required keypoint{plural} not placed: {', '.join(names)}. Place {'them' if plural else 'it'}."
        found.append((number, Finding(Rule.MISSING_REQUIRED, names, message, Severity.ERROR)))
    return found


def _same_spot(xy: FloatArray, index: _RigIndex, settings: CheckSettings) -> list[tuple[int, Finding]]:
    first, second = np.triu_indices(xy.shape[1], 1)
    gaps = _distance(xy[:, first], xy[:, second])
    with np.errstate(invalid="ignore"):
        close = gaps < settings.same_spot_px  # NaN compares False
    if index.box_xy is not None:
        # Unless the rig's proportions put the two that close at this pose's scale (a small face's nose and eyes).
        expected = _scale(xy, index, settings)[:, None] * _distance(index.box_xy[first], index.box_xy[second])
        close &= ~(expected < settings.same_spot_expected * settings.same_spot_px)
    found = []
    for number, q in zip(*np.nonzero(close), strict=True):
        a, b = index.names[first[q]], index.names[second[q]]
        message = (
            f"{a} and {b} are {gaps[number, q]:.1f} px apart (under {settings.same_spot_px:g} px): one was probably "
            "dropped on the other; move it to its own place, or leave it out if it cannot be seen."
        )
        found.append((int(number), Finding(Rule.SAME_SPOT, (a, b), message, Severity.WARNING)))
    return found


def _limb_ratio(xy: FloatArray, index: _RigIndex, settings: CheckSettings) -> list[tuple[int, Finding]]:
    if index.edge_lengths is None:
        return []
    usable = (index.edge_lengths > 0) & (index.edge_lengths >= settings.limb_min_edge_share * index.box_diagonal)
    edges, template = index.edges[usable], index.edge_lengths[usable]
    lengths = _distance(xy[:, edges[:, 0]], xy[:, edges[:, 1]])  # (N, E)
    ratio = lengths / template
    # The pose's scale against the rig's: the median edge ratio, so one wrong edge cannot set it.
    scale = np.full(len(xy), np.nan)
    judged = (~np.isnan(ratio)).sum(axis=1) >= 3  # fewer edges give no scale to judge them by
    if judged.any():
        scale[judged] = np.nanmedian(ratio[judged], axis=1)
    expected = scale[:, None] * template[None, :]
    floor = np.maximum(settings.limb_min_px, settings.limb_min_share * _size(xy))[:, None]
    short = settings.limb_short_factor or np.inf
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = lengths / expected
        off = ((relative > settings.limb_factor) | (relative * short < 1)) & (np.abs(lengths - expected) >= floor)
    found = []
    for number, e in zip(*np.nonzero(off), strict=True):
        a, b = index.names[edges[e, 0]], index.names[edges[e, 1]]
        factor = float(relative[number, e])
        how = (
            f"{factor:.1f}x longer than" if factor >= 1 else f"{1 / factor:.1f}x shorter than" if factor else "against"
        )
        message = (
            f"{a}-{b} is {lengths[number, e]:.0f} px, {how} the {expected[number, e]:.0f} px the rig's proportions "
            f"give at this skeleton's scale: check where {a} and {b} are placed."
        )
        found.append((int(number), Finding(Rule.LIMB_RATIO, (a, b), message, Severity.WARNING)))
    return found
