"""`groundcrew simulate keypoint-qa`: how well the keypoint checks catch left/right swaps, on seeded poses.

People are built in 3D (body proportions; arms down, raised, reaching, on the hips, waving or folded; legs
standing, striding, wide, a knee up or crossed; a head turned against the torso; leaning, and 5% lying or bent
over) and turned to any direction, so half of them face away from the camera and some stand in profile, under a
camera from a little below to 20 degrees above. They are projected straight onto the image (no perspective) at
between a fifth and most of its height. What a worker places follows what the camera sees: the nose while the
face turns less than about 100 degrees from the camera, an eye a little less (it hides behind the brow before
the nose tip does), an ear unless the head hides it, and body joints almost always (2% are hidden by something).
Each image gets several workers, each placing the visible keypoints with Gaussian pixel noise. A share of the
answers then gets a swap: half of those exchange every left/right label (`Pose.flipped`: the worker labelled from
their own side), the other half a random subset of the pairs with both points placed (one pair up to all but one).

`check_poses` runs on every answer twice: alone, and with the per-keypoint median of the image's other answers
as the reference (the consensus the pipeline has when several workers label an image). Recall is the share of
swapped answers with a "left-right-swap" finding; the false positive rate the share of unswapped answers with
one. Nothing here touches AWS.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from groundcrew.workflows.keypoints.checks import Finding, Rule, check_poses
from groundcrew.workflows.keypoints.poses import Pose, Rig
from groundcrew.workflows.keypoints.rigs import load_preset

FloatArray = npt.NDArray[np.float64]

# The shipped rig's keypoints, in the order the simulated people are built in (the 3D model writes its
# joints nose, eyes, ears, then left/right pairs from the shoulders down: COCO's order).
COCO_PERSON_NAMES = load_preset("coco-person").names
SIDE = np.array([1.0, -1.0])  # body x is the person's left: index 0 the left side, 1 the right
BODY_JOINT_SHARE_PLACED = 0.98
HEIGHT_M = 1.75  # about: the model's head top above its ankles


@dataclass(frozen=True, slots=True)
class KeypointQaSetup:
    answers: int = 2000
    swap_rate: float = 0.1
    noise: float = 3.0  # px, standard deviation of each coordinate a worker places
    seed: int = 7
    workers: int = 5  # answers per image
    width: int = 640
    height: int = 480

    def __post_init__(self) -> None:
        if self.answers < 1 or self.workers < 2:
            raise ValueError("the simulation needs at least 1 answer and 2 workers per image (for a reference)")
        if not 0.0 <= self.swap_rate <= 1.0 or self.noise < 0.0:
            raise ValueError("swap-rate must be a share in [0, 1] and noise >= 0")
        if self.width < 64 or self.height < 64:
            raise ValueError("the image must be at least 64x64 pixels")


@dataclass(frozen=True, slots=True)
class Detection:
    recall: float  # swapped answers flagged "left-right-swap"
    false_positive_rate: float  # unswapped answers flagged "left-right-swap"
    recall_by_kind: dict[str, float]  # "all-pairs", "some-pairs"
    recall_by_view: dict[str, float]  # "facing", "profile", "away"
    false_positive_rate_by_view: dict[str, float]
    answers_flagged_by_rule: dict[str, int]


@dataclass(frozen=True, slots=True)
class KeypointQaResult:
    setup: KeypointQaSetup
    swapped: int
    unswapped: int
    with_reference: Detection
    pose_only: Detection
    views: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The with-reference figures on top: a multi-worker job always has the other workers' answers."""
        return {
            "recall": round(self.with_reference.recall, 4),
            "false_positive_rate": round(self.with_reference.false_positive_rate, 4),
            "with_reference": _rounded(asdict(self.with_reference)),
            "pose_only": _rounded(asdict(self.pose_only)),
            "swapped_answers": self.swapped,
            "unswapped_answers": self.unswapped,
            "images_by_view": self.views,
            "setup": asdict(self.setup),
        }


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return value


def _unit(vectors: FloatArray) -> FloatArray:
    return np.asarray(vectors / np.linalg.norm(vectors, axis=-1, keepdims=True), dtype=np.float64)


def _rotation(axis: int, angles: FloatArray) -> FloatArray:
    """(n, 3, 3) right-handed rotations about the x (0), y (1) or z (2) axis."""
    c, s = np.cos(angles), np.sin(angles)
    a, b = [k for k in range(3) if k != axis]
    out = np.zeros((len(angles), 3, 3))
    out[:, axis, axis] = 1.0
    out[:, a, a], out[:, a, b], out[:, b, a], out[:, b, b] = c, -s, s, c
    return out


@dataclass(frozen=True, slots=True)
class Bodies:
    """n people in the body frame: x their left, y up, z forward (metres)."""

    points: FloatArray  # (n, 17, 3) in COCO order
    head_forward: FloatArray  # (n, 3)
    head_left: FloatArray  # (n, 3)


def draw_bodies(rng: np.random.Generator, n: int) -> Bodies:
    def uniform(low: float, high: float, *shape: int) -> FloatArray:
        return rng.uniform(low, high, (n, *shape))

    sx = np.broadcast_to(SIDE, (n, 2))
    hip_half, shoulder_half, torso = uniform(0.09, 0.12), uniform(0.16, 0.21), uniform(0.45, 0.55)
    upper_arm, forearm = uniform(0.27, 0.32, 1), uniform(0.23, 0.28, 1)
    thigh, shin = uniform(0.40, 0.47, 1), uniform(0.38, 0.45, 1)
    zeros = np.zeros((n, 2))
    hips = np.stack([sx * hip_half[:, None], zeros, zeros], axis=-1)
    shoulders = np.stack([sx * shoulder_half[:, None], zeros + torso[:, None], zeros], axis=-1)

    # Arms, per side: down, raised, reaching forward, hand on hip, waving; some people fold both arms.
    arm_kind = rng.choice(5, size=(n, 2), p=[0.5, 0.12, 0.14, 0.1, 0.14])
    upper_dir = np.zeros((n, 2, 3))
    fore_dir = np.zeros((n, 2, 3))

    def vec(x: FloatArray, y: FloatArray, z: FloatArray) -> FloatArray:
        return np.stack([x, y, z], axis=-1)

    def u(low: float, high: float) -> FloatArray:
        return uniform(low, high, 2)

    candidates = [
        (vec(sx * u(0.05, 0.35), -np.ones((n, 2)), u(-0.4, 0.4)), vec(sx * u(-0.1, 0.2), -np.ones((n, 2)), u(0, 1.2))),
        (vec(sx * u(0.3, 1.2), u(0.2, 1.5), u(-0.3, 0.3)), vec(sx * u(0.0, 0.8), u(0.3, 1.5), u(-0.3, 0.4))),
        (vec(sx * u(-0.1, 0.3), u(-0.6, 0.4), np.ones((n, 2))), vec(sx * u(-0.3, 0.3), u(-0.3, 0.5), u(0.4, 1.0))),
        (vec(sx * u(0.5, 1.0), -np.ones((n, 2)), u(-0.4, 0.0)), vec(-sx * u(0.6, 1.0), u(-0.6, -0.1), u(0, 0.4))),
        (vec(sx * u(0.6, 1.2), u(-0.2, 0.4), u(-0.2, 0.3)), vec(sx * u(-0.2, 0.3), np.ones((n, 2)), u(-0.2, 0.2))),
    ]
    for kind, (upper, fore) in enumerate(candidates):
        chosen = arm_kind == kind
        upper_dir[chosen], fore_dir[chosen] = upper[chosen], fore[chosen]
    folded = rng.random(n) < 0.08
    upper_dir[folded] = vec(sx * u(0.1, 0.3), -np.ones((n, 2)), u(0.1, 0.4))[folded]
    fore_dir[folded] = vec(-sx, u(0.0, 0.3), u(0.3, 0.6))[folded]
    elbows = shoulders + upper_arm[..., None] * _unit(upper_dir)
    wrists = elbows + forearm[..., None] * _unit(fore_dir)

    # Legs, per person: standing, striding, wide, one knee up, ankles crossed.
    leg_kind = rng.choice(5, size=n, p=[0.45, 0.3, 0.1, 0.08, 0.07])
    thigh_dir = vec(sx * u(0.0, 0.12), -np.ones((n, 2)), u(-0.1, 0.1))
    shin_dir = thigh_dir + vec(zeros, zeros, -u(0.0, 0.15))
    forward_leg = rng.integers(2, size=n)
    lead = np.where(np.arange(2)[None, :] == forward_leg[:, None], 1.0, -1.0)
    stride = leg_kind == 1
    thigh_dir[stride] = vec(sx * u(0.0, 0.08), -np.ones((n, 2)), lead * uniform(0.2, 0.55, 1))[stride]
    shin_dir[stride] = (thigh_dir + vec(zeros, zeros, -u(0.0, 0.6)))[stride]
    wide = leg_kind == 2
    thigh_dir[wide] = vec(sx * u(0.25, 0.5), -np.ones((n, 2)), u(-0.1, 0.1))[wide]
    shin_dir[wide] = thigh_dir[wide]
    knee_up = (leg_kind == 3)[:, None] & (lead > 0)
    thigh_dir[knee_up] = vec(zeros, u(-0.4, 0.1), np.ones((n, 2)))[knee_up]
    shin_dir[knee_up] = vec(zeros, -np.ones((n, 2)), u(-0.2, 0.2))[knee_up]
    crossed = leg_kind == 4
    thigh_dir[crossed] = vec(-sx * u(0.05, 0.15), -np.ones((n, 2)), u(-0.05, 0.1))[crossed]
    shin_dir[crossed] = vec(-sx * u(0.1, 0.25), -np.ones((n, 2)), zeros)[crossed]
    knees = hips + thigh[..., None] * _unit(thigh_dir)
    ankles = knees + shin[..., None] * _unit(shin_dir)

    # Head: turned and nodded a little against the torso.
    yaw = np.clip(rng.normal(0.0, np.radians(25), n), -np.radians(75), np.radians(75))
    turn = _rotation(1, yaw) @ _rotation(0, rng.normal(0.0, np.radians(10), n))
    center = np.stack([np.zeros(n), torso + uniform(0.18, 0.24), np.zeros(n)], axis=-1)
    face = np.array(
        [[0, -0.03, 0.10], [0.032, 0.01, 0.08], [-0.032, 0.01, 0.08], [0.075, 0, -0.01], [-0.075, 0, -0.01]]
    )
    head = center[:, None, :] + np.einsum("nij,kj->nki", turn, face)
    # Each joint array is (n, 2, 3), left then right: COCO's order.
    points = np.concatenate([head, shoulders, elbows, wrists, hips, knees, ankles], axis=1)
    return Bodies(points, turn[:, :, 2], turn[:, :, 0])


@dataclass(frozen=True, slots=True)
class Scene:
    """The projected people of every image and which keypoints a worker would place."""

    xy: FloatArray  # (images, 17, 2) true positions in pixels
    placed: npt.NDArray[np.bool_]  # (images, 17)
    view: list[str]  # "facing", "profile" or "away", from the torso's direction


def draw_scene(rng: np.random.Generator, images: int, width: int, height: int) -> Scene:
    bodies = draw_bodies(rng, images)
    lean = _rotation(0, rng.normal(0, np.radians(8), images)) @ _rotation(2, rng.normal(0, np.radians(6), images))
    tilted = rng.random(images) < 0.05  # lying down or bending over
    lean[tilted] = (_rotation(2, rng.choice(SIDE, images) * rng.uniform(np.radians(40), np.radians(90), images)))[
        tilted
    ]
    heading = rng.uniform(0, 2 * np.pi, images)
    elevation = rng.uniform(np.radians(-5), np.radians(20), images)
    # Body to camera: at heading 0 the person faces the camera, their left on the image's right (z: away).
    mirror = np.diag([1.0, 1.0, -1.0])
    to_camera = _rotation(0, elevation) @ _rotation(1, heading) @ mirror @ lean
    world = np.einsum("nij,nkj->nki", to_camera, bodies.points)
    toward = np.array([0.0, 0.0, -1.0])
    forward = np.einsum("nij,nj->ni", to_camera, bodies.head_forward) @ toward
    left = np.einsum("nij,nj->ni", to_camera, bodies.head_left) @ toward
    placed = rng.random((images, 17)) < BODY_JOINT_SHARE_PLACED
    placed[:, 0] = forward > -0.2
    for k, side in ((1, 1.0), (2, -1.0)):
        placed[:, k] = (forward > -0.1) & (0.8 * forward + 0.6 * side * left > -0.1)
    for k, side in ((3, 1.0), (4, -1.0)):
        placed[:, k] = side * left > -0.4
    torso_forward = np.einsum("nij,j->ni", to_camera, np.array([0.0, 0.0, 1.0])) @ toward
    view = np.where(torso_forward > 0.34, "facing", np.where(torso_forward < -0.34, "away", "profile")).tolist()

    # Size and place: a person between a fifth and most of the image's height, wholly inside it.
    xy = world[..., :2] * np.array([1.0, -1.0])
    scale = rng.uniform(0.2, 0.85, images) * height / HEIGHT_M
    span = xy.max(axis=1) - xy.min(axis=1)
    fit = np.min(np.array([0.95 * width, 0.95 * height]) / (span * scale[:, None]), axis=1)
    scale *= np.minimum(1.0, fit)
    xy = xy * scale[:, None, None]
    low, high = xy.min(axis=1), xy.max(axis=1)
    margin = 4.0
    offset = rng.uniform(margin - low, np.array([width, height]) - margin - high)
    return Scene(xy + offset[:, None, :], placed, view)


@dataclass(frozen=True, slots=True)
class Answers:
    poses: list[Pose]
    references: list[Pose]  # per answer: the median of the image's other answers
    image: npt.NDArray[np.int64]  # (answers,) which image
    swapped: npt.NDArray[np.bool_]
    kind: list[str]  # "all-pairs", "some-pairs" or "" (no swap)


def draw_answers(rng: np.random.Generator, scene: Scene, setup: KeypointQaSetup, rig: Rig) -> Answers:
    images = len(scene.xy)
    image = np.repeat(np.arange(images), setup.workers)[: setup.answers]
    clicks = scene.xy[image] + rng.normal(0.0, setup.noise, (len(image), 17, 2))
    clicks = np.clip(clicks, 0.0, np.array([setup.width - 1.0, setup.height - 1.0]))
    placed = scene.placed[image]
    clicks[~placed] = np.nan
    pairs = [(COCO_PERSON_NAMES.index(a), COCO_PERSON_NAMES.index(b)) for a, b in rig.mirrored]
    swapped = rng.random(len(image)) < setup.swap_rate
    whole = rng.random(len(image)) < 0.5
    kinds: list[str] = []
    poses: list[Pose] = []
    for number in range(len(image)):
        pose = _pose(clicks[number], f"answer-{number:05d}")
        kind = ""
        if swapped[number]:
            complete = [pair for pair in pairs if placed[number, list(pair)].all()]
            if whole[number] or len(complete) < 2:
                pose, kind = pose.flipped(rig), "all-pairs"
            else:
                size = int(rng.integers(1, len(complete)))
                chosen = rng.choice(len(complete), size=size, replace=False)
                exchanged = clicks[number].copy()
                for c in chosen.tolist():
                    a, b = complete[c]
                    exchanged[[a, b]] = exchanged[[b, a]]
                pose, kind = _pose(exchanged, pose.name), "some-pairs"
        poses.append(pose)
        kinds.append(kind)
    references = []
    answered = np.array([[pose.points.get(name, (np.nan, np.nan)) for name in COCO_PERSON_NAMES] for pose in poses])
    for number in range(len(image)):
        others = np.flatnonzero((image == image[number]) & (np.arange(len(image)) != number))
        if len(others) == 0:
            references.append(Pose())
            continue
        with np.errstate(invalid="ignore"):
            median = np.median(answered[others], axis=0)  # NaN where anyone left it out
        references.append(_pose(median, f"reference-{number:05d}"))
    return Answers(poses, references, image, swapped, kinds)


def _pose(xy: FloatArray, name: str) -> Pose:
    return Pose(
        {label: (float(x), float(y)) for label, (x, y) in zip(COCO_PERSON_NAMES, xy, strict=True) if not np.isnan(x)},
        name,
    )


def _detection(findings: list[list[Finding]], answers: Answers, views: list[str]) -> Detection:
    flagged = np.array([any(f.rule is Rule.LEFT_RIGHT_SWAP for f in found) for found in findings])
    swapped = answers.swapped
    kinds = np.array(answers.kind)
    view = np.array(views)[answers.image]

    def share(mask: npt.NDArray[np.bool_]) -> float:
        return float(flagged[mask].mean()) if mask.any() else 0.0

    by_rule = Counter(rule.value for found in findings for rule in {f.rule for f in found})
    return Detection(
        recall=share(swapped),
        false_positive_rate=share(~swapped),
        recall_by_kind={kind: share(kinds == kind) for kind in ("all-pairs", "some-pairs")},
        recall_by_view={name: share(swapped & (view == name)) for name in ("facing", "profile", "away")},
        false_positive_rate_by_view={name: share(~swapped & (view == name)) for name in ("facing", "profile", "away")},
        answers_flagged_by_rule={rule.value: by_rule[rule.value] for rule in Rule},
    )


def simulate_keypoint_qa(setup: KeypointQaSetup) -> KeypointQaResult:
    scene_seed, answers_seed = np.random.SeedSequence(setup.seed).spawn(2)
    images = -(-setup.answers // setup.workers)
    scene = draw_scene(np.random.default_rng(scene_seed), images, setup.width, setup.height)
    rig = load_preset("coco-person")  # the rig projects use, so the figures are the shipped check's
    answers = draw_answers(np.random.default_rng(answers_seed), scene, setup, rig)
    sizes: list[tuple[int, int] | None] = [(setup.width, setup.height)] * len(answers.poses)
    alone = check_poses(answers.poses, rig, image_sizes=sizes)
    referenced = check_poses(answers.poses, rig, image_sizes=sizes, references=answers.references)
    return KeypointQaResult(
        setup=setup,
        swapped=int(answers.swapped.sum()),
        unswapped=int((~answers.swapped).sum()),
        with_reference=_detection(referenced, answers, scene.view),
        pose_only=_detection(alone, answers, scene.view),
        views=dict(Counter(scene.view)),
    )


def format_report(result: KeypointQaResult) -> str:
    s = result.setup
    lines = [
        f"{s.answers} answers on {-(-s.answers // s.workers)} images ({s.workers} workers each, {s.width}x{s.height}), "
        f"noise {s.noise:g} px, swap rate {s.swap_rate:g}, seed {s.seed}: {result.swapped} swapped answers",
        f"{'':<16}{'recall':>8}{'false pos':>11}{'all pairs':>11}{'some pairs':>12}{'facing':>8}{'profile':>9}"
        f"{'away':>7}",
    ]
    for name, d in (("with reference", result.with_reference), ("pose only", result.pose_only)):
        lines.append(
            f"{name:<16}{d.recall:>8.1%}{d.false_positive_rate:>11.2%}{d.recall_by_kind['all-pairs']:>11.1%}"
            f"{d.recall_by_kind['some-pairs']:>12.1%}{d.recall_by_view['facing']:>8.1%}"
            f"{d.recall_by_view['profile']:>9.1%}{d.recall_by_view['away']:>7.1%}"
        )
    for name, d in (("with reference", result.with_reference), ("pose only", result.pose_only)):
        counts = ", ".join(f"{rule} {count}" for rule, count in d.answers_flagged_by_rule.items())
        lines.append(f"answers flagged per rule, {name}: {counts}")
    return "\n".join(lines)
