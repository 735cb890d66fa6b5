"""A simulated private workforce: reads the rendered task page and answers as the crowd element would submit.

Each worker has an accuracy, a mean time per task, and optional faults (spammer, malformed submissions). Answers
come from an answer key: a dict from the data object to its true label. Keys may be the full `source-ref` URI
(`s3://bucket/images/a.png`), the object key's basename (`a.png`, as in sample_data/*/answer_key.json), or, for
`source` objects, the text itself; lookup tries them in that order. Without an entry the worker guesses.

Determinism: every task draws from its own RNG seeded with (workforce seed, data object, n-th time this object is
asked), so an object's answers do not depend on which other objects were asked before it. Timings run on a
simulated clock (`now`), never wall time: a task posted at `posted_at` is accepted when the chosen worker is free
(plus a short pick-up delay), takes about `seconds_per_task`, and is lost if it runs past the task time limit or
starts after the availability lifetime, so a task can come back with fewer than n answers.

Image elements (`crowd-semantic-segmentation`, `crowd-bounding-box`) see what a browser would: the worker loads
`src` (for the image's size) and the initial mask (`initial-value.src`) through `fetch(url)`, which returns the
bytes or None when the URL does not load (no fetch: nothing loads). Answer keys for them:

* crowd-semantic-segmentation: `{"relabel": {"<from class>": "<to class>"}}`. A worker whose accuracy draw
  succeeds repaints those classes (`BACKGROUND` allowed as target); otherwise, or without truth, the worker
  submits the initial mask unchanged. An initial mask that does not load, is not an image or has the wrong size
  shows nothing, so the worker submits an all-background mask without noticing (Ground Truth's documented silent
  failure). Masks decode like the element shows them: mode P through the palette, mode L as class indices
  (0 = background, k = k-th `labelMappings` entry), colour images by colour; unknown colours show as background.
* crowd-bounding-box: a list of `{"label", "left", "top", "width", "height"}`. An accurate worker draws those
  boxes (each coordinate off by at most 1 px); otherwise the worker submits the initial boxes unchanged.

Spammers submit an empty mask / no boxes. `initialValueModified` is true when the submission differs from the
initial value.
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import hashlib
import io
import json
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from groundcrew.workflows.adjustment import masks

MALFORMED_KINDS = ("not_json", "unknown_label")
UNKNOWN_LABEL = "__not-a-category__"

# The browser's view of a URL: its bytes, or None when it does not load.
Fetch = Callable[[str], bytes | None]


class UnsupportedTaskPage(ValueError):
    """The page holds no crowd element the simulated workforce knows how to answer."""


@dataclass(frozen=True, slots=True)
class SimulatedWorker:
    """One worker. `worker_id` is derived from `name`, e.g. `private.us-east-1.0f3c5a9e2b7d4c1a`."""

    name: str
    accuracy: float = 0.9
    seconds_per_task: float = 20.0
    spammer: bool = False
    malformed_rate: float = 0.0
    malformed_kinds: tuple[str, ...] = MALFORMED_KINDS
    workforce_type: str = "private"  # "private" or "public" (Mechanical Turk: no workerMetadata)
    region: str = "us-east-1"
    # Keypoint tasks: pixel noise (standard deviation), and the chances of swapping one left/right pair or
    # missing a visible point. `accuracy` is the chance of fixing a wrong initial pose in an adjustment task.
    keypoint_noise_px: float = 2.0
    swap_rate: float = 0.0
    miss_rate: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.accuracy <= 1.0:
            raise ValueError(f"worker {self.name}: accuracy must be within 0..1, got {self.accuracy}")
        if not 0.0 <= self.malformed_rate <= 1.0:
            raise ValueError(f"worker {self.name}: malformed_rate must be within 0..1, got {self.malformed_rate}")
        if self.seconds_per_task <= 0:
            raise ValueError(f"worker {self.name}: seconds_per_task must be positive")
        unknown = set(self.malformed_kinds) - set(MALFORMED_KINDS)
        if unknown:
            raise ValueError(f"worker {self.name}: unknown malformed kinds {sorted(unknown)}; use {MALFORMED_KINDS}")
        if self.workforce_type not in {"private", "public"}:
            raise ValueError(f"worker {self.name}: workforce_type must be 'private' or 'public'")

    @classmethod
    def named(cls, name: str, **options: Any) -> SimulatedWorker:
        """`SimulatedWorker.named("ada", accuracy=0.9)`: the worker id derives from the name."""
        return cls(name, **options)

    @property
    def worker_id(self) -> str:
        digest = hashlib.sha256(self.name.encode()).digest()
        if self.workforce_type == "public":  # MTurk ids look like LZMJJLCU6JBGXAC4TLKLEVEJBQ
            return f"public.{self.region}.{base64.b32encode(digest).decode()[:26]}"
        return f"private.{self.region}.{digest.hex()[:16]}"

    def identity_data(self, user_pool_id: str) -> dict[str, str] | None:
        """The `workerMetadata.identityData` of a private worker (Cognito); None for public workers."""
        if self.workforce_type != "private":
            return None
        return {
            "identityProviderType": "Cognito",
            "issuer": f"https://cognito-idp.{self.region}.amazonaws.com/{user_pool_id}",
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"groundcrew-worker:{self.name}")),
        }


@dataclass(frozen=True, slots=True)
class WorkerAnswer:
    """One submitted task. `content` is the JSON text the crowd-form posted, verbatim (it may be malformed)."""

    worker_id: str
    content: str
    acceptance_time: datetime
    submission_time: datetime
    time_spent_seconds: float
    identity_data: dict[str, str] | None = None

    @property
    def answer_content(self) -> Any:
        """The parsed answer; the raw text when a faulty worker submitted something that is not JSON."""
        try:
            return json.loads(self.content)
        except ValueError:
            return self.content

    def worker_response_entry(self) -> dict[str, Any]:
        """One element of `answers` in a worker-response file (contracts section 7.2)."""
        entry: dict[str, Any] = {
            "acceptanceTime": _iso_millis(self.acceptance_time),
            "answerContent": self.answer_content,
            "submissionTime": _iso_millis(self.submission_time),
            "timeSpentInSeconds": self.time_spent_seconds,
            "workerId": self.worker_id,
        }
        if self.identity_data is not None:
            entry["workerMetadata"] = {"identityData": dict(self.identity_data)}
        return entry


def _iso_millis(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class CrowdElement:
    tag: str
    attributes: dict[str, str]


class _CrowdElementParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[CrowdElement] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.startswith("crowd-"):
            self.elements.append(CrowdElement(tag, {name: value or "" for name, value in attrs}))


def crowd_elements(page_html: str) -> list[CrowdElement]:
    """Every `crowd-*` start tag in the page, attributes unescaped as a browser would."""
    parser = _CrowdElementParser()
    parser.feed(page_html)
    parser.close()
    return parser.elements


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a worker knows and draws from while answering one task."""

    worker: SimulatedWorker
    rng: random.Random
    truth: Any  # a label (classification) or {keypoint: [x, y]} (keypoints); None when the key has no entry
    seconds: float = 0.0  # time the worker spends on the task
    fetch: Fetch | None = None  # loads the page's URLs (images, initial masks) as the worker's browser would

    def load(self, url: object) -> bytes | None:
        if not isinstance(url, str) or not url or self.fetch is None:
            return None
        return self.fetch(url)


def _categories(element: CrowdElement) -> list[str]:
    """The categories attribute: JSON (`| to_json | escape`) or the single-quoted arrays of AWS's own samples."""
    raw = element.attributes.get("categories")
    if raw is None:
        raise UnsupportedTaskPage(f"<{element.tag}> has no categories attribute")
    try:
        categories = json.loads(raw)
    except ValueError:
        try:
            categories = ast.literal_eval(raw.strip())  # categories="['Cat', 'Dog']" as in AWS's task-uis
        except (ValueError, SyntaxError):
            raise UnsupportedTaskPage(
                f"<{element.tag}> categories attribute is not an array: {raw[:200]!r} (use `| to_json | escape`)"
            ) from None
    if not isinstance(categories, list) or not categories or not all(isinstance(c, str) for c in categories):
        raise UnsupportedTaskPage(f"<{element.tag}> categories must be a non-empty array of strings: {raw[:200]!r}")
    return categories


def _pick_label(categories: list[str], context: TaskContext) -> str:
    truth = context.truth
    if context.worker.spammer or not isinstance(truth, str) or truth not in categories:
        return context.rng.choice(categories)
    if context.rng.random() < context.worker.accuracy:
        return truth
    others = [c for c in categories if c != truth]
    return context.rng.choice(others) if others else truth


def answer_image_classifier(element: CrowdElement, context: TaskContext) -> Any:
    """`crowd-image-classifier` submits `{"label": "<category>"}` under its name."""
    return {"label": _pick_label(_categories(element), context)}


def _json_attribute(element: CrowdElement, name: str, default: Any) -> Any:
    raw = element.attributes.get(name.lower())  # HTML attribute names are case-insensitive (the parser lowers them)
    if raw is None or not raw.strip():
        return default
    try:
        return json.loads(raw)
    except ValueError:
        raise UnsupportedTaskPage(f"<{element.tag}> attribute {name} is not JSON: {raw[:200]!r}") from None


def _mirror(label: str, labels: set[str]) -> str | None:
    """left_knee <-> right_knee, front_left_wheel <-> front_right_wheel: the rig's naming convention."""
    for this, other in (("left", "right"), ("right", "left")):
        parts = label.split("_")
        if this in parts:
            candidate = "_".join(other if part == this else part for part in parts)
            if candidate in labels:
                return candidate
    return None


def answer_2d_skeleton(element: CrowdElement, context: TaskContext) -> dict[str, str]:
    """What the open-source crowd-2d-skeleton component posts: hidden inputs of the form, every value a string."""
    classes = _json_attribute(element, "keypointClasses", None)
    if not isinstance(classes, list) or not classes:
        raise UnsupportedTaskPage(f"<{element.tag}> needs a keypointClasses JSON array")
    labels = [str(c.get("label")) for c in classes if isinstance(c, dict)]
    original = element.attributes.get("initialvalues") or "[]"
    initial = _json_attribute(element, "initialValues", [])
    start = {a["label"]: (a["x"], a["y"]) for s in initial[:1] for a in s.get("annotations", [])} if initial else {}
    truth = context.truth if isinstance(context.truth, dict) else {}
    worker, rng = context.worker, context.rng
    if start and (not truth or rng.random() >= worker.accuracy):
        points = dict(start)  # an adjustment task the worker accepts as it is
    else:
        points = {}
        for label in labels:
            if label not in truth or rng.random() < worker.miss_rate:
                continue
            x, y = truth[label]
            points[label] = (x + rng.gauss(0, worker.keypoint_noise_px), y + rng.gauss(0, worker.keypoint_noise_px))
        if rng.random() < worker.swap_rate:
            pairs = sorted({tuple(sorted((a, b))) for a in points if (b := _mirror(a, set(points)))})
            if pairs:
                a, b = rng.choice(pairs)
                points[a], points[b] = points[b], points[a]
    unchanged = bool(start) and points == start
    annotations = [{"label": label, "x": round(x), "y": round(y)} for label, (x, y) in points.items()]
    source = element.attributes.get("imgsrc", "")
    return {
        "updated_annotations": json.dumps([{"name": "", "annotations": annotations}], separators=(",", ":")),
        "original_annotations": original,
        "image_s3_uri": source,
        "image_name": source.rsplit("/", 1)[-1],
        "no_changes_needed": "true" if unchanged else "false",
        "total_time_in_seconds": str(round(context.seconds)),
    }


# --- image elements ---------------------------------------------------------------------------------------------


def _labels_attribute(element: CrowdElement) -> list[str]:
    labels = _json_attribute(element, "labels", None)
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise UnsupportedTaskPage(f"<{element.tag}> needs a labels JSON array of strings")
    return labels


def _loaded_size(data: bytes | None) -> tuple[int, int] | None:
    if data is None:
        return None
    try:
        return masks.image_size(data)
    except ValueError:
        return None


def _hex(rgb: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb[:3])


def _packed(color: str) -> int:
    return int(color.lstrip("#")[:6], 16)


def decode_shown_mask(data: bytes | None, size: tuple[int, int], colors: Sequence[str]) -> npt.NDArray[np.uint8]:
    """The mask the element shows, as indices into `colors` (0 = background): all background if nothing shows."""
    width, height = size
    shown: npt.NDArray[np.uint8] = np.zeros((height, width), dtype=np.uint8)
    if data is None:
        return shown
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError):
        return shown  # e.g. the manifest points at a JSON file: the worker sees no mask
    if image.size != size:
        return shown
    if image.mode == "L":
        values = np.asarray(image, dtype=np.uint8)
        return np.where(values < len(colors), values, 0).astype(np.uint8)
    if image.mode not in {"P", "RGB", "RGBA", "PA", "LA"}:
        return shown
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    lookup = {_packed(color): index for index, color in enumerate(colors)}
    found, inverse = np.unique(packed, return_inverse=True)
    indices = np.asarray([lookup.get(int(value), 0) for value in found], dtype=np.uint8)
    return indices[inverse.reshape(packed.shape)]


def encode_colour_mask(indices: npt.NDArray[np.uint8], colors: Sequence[str]) -> bytes:
    """An RGB PNG whose pixels are the colours of the indices, as crowd-semantic-segmentation submits."""
    table = np.asarray([[int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)] for c in colors], dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(table[indices]).save(buffer, format="PNG")
    return buffer.getvalue()


def answer_semantic_segmentation(element: CrowdElement, context: TaskContext) -> dict[str, Any]:
    """What crowd-semantic-segmentation submits under its name (contracts section 9)."""
    labels = _labels_attribute(element)
    initial = _json_attribute(element, "initial-value", {})
    if not isinstance(initial, dict):
        raise UnsupportedTaskPage(f"<{element.tag}> initial-value must be a JSON object")
    mappings = initial.get("labelMappings")
    if not isinstance(mappings, dict) or not mappings:
        generated = masks.ClassMap.from_labels(labels)  # no initial value: the element picks the colours
        mappings = {
            name: {"color": color} for name, color in zip(generated.names[1:], generated.colors[1:], strict=True)
        }
    names = [masks.BACKGROUND, *mappings]
    colors = [masks.BACKGROUND_COLOR, *(str(entry.get("color", "")).lower() for entry in mappings.values())]
    answer: dict[str, Any] = {"labelMappings": mappings, "initialValueModified": False}
    size = _loaded_size(context.load(element.attributes.get("src")))
    if size is None:
        return answer  # the image does not load: nothing to draw on
    start = decode_shown_mask(context.load(initial.get("src")), size, colors)
    submitted = start
    truth = context.truth
    if context.worker.spammer:
        submitted = np.zeros_like(start)
    elif (
        isinstance(truth, dict)
        and isinstance(truth.get("relabel"), dict)
        and context.rng.random() < context.worker.accuracy
    ):
        submitted = start.copy()
        for old, new in truth["relabel"].items():
            if old in names and new in names:
                submitted[start == names.index(old)] = names.index(new)
    width, height = size
    answer["inputImageProperties"] = {"height": height, "width": width}
    answer["labeledImage"] = {"pngImageData": base64.b64encode(encode_colour_mask(submitted, colors)).decode()}
    answer["initialValueModified"] = bool(not np.array_equal(submitted, start))
    return answer


_BOX_KEYS = ("height", "label", "left", "top", "width")


def _box(value: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value[key] if key == "label" else round(float(value[key])) for key in _BOX_KEYS}


def answer_bounding_box(element: CrowdElement, context: TaskContext) -> dict[str, Any]:
    """What crowd-bounding-box submits under its name (contracts section 9)."""
    _labels_attribute(element)
    initial = _json_attribute(element, "initial-value", [])
    if not isinstance(initial, list) or not all(isinstance(box, dict) for box in initial):
        raise UnsupportedTaskPage(f"<{element.tag}> initial-value must be a JSON array of boxes")
    try:
        start = [_box(box) for box in initial]
    except (KeyError, TypeError, ValueError):
        raise UnsupportedTaskPage(f"<{element.tag}> initial-value boxes need label, left, top, width, height") from None
    boxes = start
    truth = context.truth
    rng = context.rng
    if context.worker.spammer:
        boxes = []
    elif isinstance(truth, list) and rng.random() < context.worker.accuracy:
        boxes = []
        for box in truth:
            drawn = _box(box)
            for key in ("left", "top", "width", "height"):
                drawn[key] = max(0 if key in ("left", "top") else 1, drawn[key] + rng.randint(-1, 1))
            boxes.append(drawn)
    answer: dict[str, Any] = {"boundingBoxes": boxes, "initialValueModified": boxes != start}
    size = _loaded_size(context.load(element.attributes.get("src")))
    if size is not None:
        answer["inputImageProperties"] = {"height": size[1], "width": size[0]}
    return answer


# One function per crowd element.
ELEMENT_ANSWERERS: dict[str, Callable[[CrowdElement, TaskContext], Any]] = {
    "crowd-image-classifier": answer_image_classifier,
    "crowd-semantic-segmentation": answer_semantic_segmentation,
    "crowd-bounding-box": answer_bounding_box,
}
# Elements that post their answer as the form's own fields rather than under a `name`.
FORM_ANSWERERS: dict[str, Callable[[CrowdElement, TaskContext], dict[str, Any]]] = {
    "crowd-2d-skeleton": answer_2d_skeleton,
}


def _malformed(kind: str, content: dict[str, Any]) -> str:
    if kind == "not_json":
        text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        return text[: max(1, len(text) // 2)]  # a submission cut short
    broken = {
        name: ({**value, "label": UNKNOWN_LABEL} if isinstance(value, dict) else value)
        for name, value in content.items()
    }
    return json.dumps(broken, ensure_ascii=False, separators=(",", ":"))


@dataclass
class SimulatedWorkforce:
    workers: Sequence[SimulatedWorker]
    seed: int = 7
    answer_key: Mapping[str, Any] | None = None  # a label per object, or {keypoint: [x, y]} for keypoint tasks
    clock_start: datetime | None = None  # None: wall time when the workforce is created
    user_pool_id: str = "us-east-1_GrndCrew7"
    pickup_seconds: tuple[float, float] = (2.0, 30.0)
    fetch: Fetch | None = None  # how workers load the page's URLs; `answer(fetch=...)` overrides it per task
    now: datetime = field(init=False)
    _free_at: dict[str, datetime] = field(init=False, default_factory=dict)
    _asked: dict[str, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not self.workers:
            raise ValueError("a workforce needs at least one worker")
        ids = [w.worker_id for w in self.workers]
        if len(set(ids)) != len(ids):
            raise ValueError("worker names must be unique (worker ids derive from them)")
        start = self.clock_start or datetime.now(UTC).replace(microsecond=0)
        self.now = start if start.tzinfo else start.replace(tzinfo=UTC)

    def advance_to(self, moment: datetime) -> None:
        """Move the simulated clock forward (never back)."""
        self.now = max(self.now, moment)

    def truth_for(self, data_object: Mapping[str, Any]) -> Any:
        if not self.answer_key:
            return None
        source_ref = data_object.get("source-ref")
        if isinstance(source_ref, str):
            basename = source_ref.rsplit("/", 1)[-1]
            for key in (source_ref, basename, unquote(basename)):
                if key in self.answer_key:
                    return self.answer_key[key]
            return None
        source = data_object.get("source")
        return self.answer_key.get(source) if isinstance(source, str) else None

    def answer(
        self,
        task_page_html: str,
        data_object: Mapping[str, Any],
        n: int,
        *,
        posted_at: datetime | None = None,
        time_limit_seconds: float | None = None,
        availability_seconds: float | None = None,
        fetch: Fetch | None = None,
    ) -> list[WorkerAnswer]:
        """Up to n answers from n distinct workers, in submission order (fewer if tasks time out or expire)."""
        elements = crowd_elements(task_page_html)
        answerable = [e for e in elements if e.tag in ELEMENT_ANSWERERS]
        form_fields = [e for e in elements if e.tag in FORM_ANSWERERS]
        if not answerable and not form_fields:
            found = sorted({e.tag for e in crowd_elements(task_page_html)}) or ["no crowd-* element at all"]
            raise UnsupportedTaskPage(
                f"the simulated workforce answers {sorted(ELEMENT_ANSWERERS | FORM_ANSWERERS)}; "
                f"the task page has {', '.join(found)}"
            )
        for element in answerable:
            if not element.attributes.get("name"):
                raise UnsupportedTaskPage(f"<{element.tag}> has no name attribute: its answer would have no key")

        def page_content(context: TaskContext) -> dict[str, Any]:
            content = {e.attributes["name"]: ELEMENT_ANSWERERS[e.tag](e, context) for e in answerable}
            for element in form_fields:
                content.update(FORM_ANSWERERS[element.tag](element, context))
            return content

        return self.answer_with(
            page_content,
            data_object,
            n,
            posted_at=posted_at,
            time_limit_seconds=time_limit_seconds,
            availability_seconds=availability_seconds,
            fetch=fetch,
        )

    def answer_with(
        self,
        produce: Callable[[TaskContext], dict[str, Any]],
        data_object: Mapping[str, Any],
        n: int,
        *,
        posted_at: datetime | None = None,
        time_limit_seconds: float | None = None,
        availability_seconds: float | None = None,
        fetch: Fetch | None = None,
    ) -> list[WorkerAnswer]:
        """Like `answer`, for task types whose worker UI is Ground Truth's own (no page): `produce` answers."""
        fetch = fetch if fetch is not None else self.fetch
        identity = _object_identity(data_object)
        asked = self._asked.get(identity, 0)
        self._asked[identity] = asked + 1
        truth = self.truth_for(data_object)
        posted = posted_at or self.now
        rng = random.Random(f"{self.seed}|{identity}|{asked}")
        chosen = rng.sample(list(self.workers), min(n, len(self.workers)))
        answers: list[WorkerAnswer] = []
        for worker in chosen:
            worker_rng = random.Random(f"{self.seed}|{identity}|{asked}|{worker.name}")
            context = TaskContext(worker, worker_rng, truth, fetch=fetch)
            accepted = max(posted, self._free_at.get(worker.worker_id, posted))
            accepted += timedelta(seconds=round(context.rng.uniform(*self.pickup_seconds), 3))
            spent = round(max(1.0, context.rng.gauss(worker.seconds_per_task, worker.seconds_per_task * 0.3)), 3)
            if availability_seconds is not None and accepted > posted + timedelta(seconds=availability_seconds):
                continue  # the task expired before this worker got to it
            if time_limit_seconds is not None and spent > time_limit_seconds:
                self._free_at[worker.worker_id] = accepted + timedelta(seconds=time_limit_seconds)
                continue  # the worker ran out of time; the task is returned without an answer
            submitted = accepted + timedelta(seconds=spent)
            self._free_at[worker.worker_id] = submitted
            context = dataclasses.replace(context, seconds=spent)
            content = produce(context)
            if worker.malformed_rate and context.rng.random() < worker.malformed_rate:
                text = _malformed(context.rng.choice(worker.malformed_kinds), content)
            else:
                text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
            answers.append(
                WorkerAnswer(
                    worker_id=worker.worker_id,
                    content=text,
                    acceptance_time=accepted,
                    submission_time=submitted,
                    time_spent_seconds=spent,
                    identity_data=worker.identity_data(self.user_pool_id),
                )
            )
        return sorted(answers, key=lambda a: a.submission_time)


def _object_identity(data_object: Mapping[str, Any]) -> str:
    for key in ("source-ref", "source"):
        value = data_object.get(key)
        if isinstance(value, str):
            return f"{key}={value}"
    return json.dumps(data_object, sort_keys=True, default=str)


def default_workforce(
    seed: int = 7, answer_key: Mapping[str, str] | None = None, clock_start: datetime | None = None
) -> SimulatedWorkforce:
    """Five private workers from careful and slow to sloppy and fast."""
    workers = [
        SimulatedWorker("ada", accuracy=0.95, seconds_per_task=24.0),
        SimulatedWorker("bashir", accuracy=0.90, seconds_per_task=18.0),
        SimulatedWorker("chen", accuracy=0.85, seconds_per_task=30.0),
        SimulatedWorker("dagny", accuracy=0.80, seconds_per_task=12.0),
        SimulatedWorker("emeka", accuracy=0.60, seconds_per_task=7.0),
    ]
    return SimulatedWorkforce(workers, seed=seed, answer_key=answer_key, clock_start=clock_start)
