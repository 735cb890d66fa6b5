"""Simulated annotators working in a real Label Studio server, through its REST API, as Label Studio users.

Each simulated worker is a Label Studio user (`<name>@annotators.groundcrew.local`, created on first use). When
time passes in the state machine (a Wait state, `moto_patches.wait_cap`), the team looks at every project's
tasks and answers those that ask for more annotations than they have (the task's `overlap`), as Label Studio's
labeling stream would hand them out: never to a user who already annotated the task. What each worker answers
comes from the same behaviour as on the other workforces' pages (`workforce.answer_image_classifier`,
`workforce.answer_2d_skeleton`): their accuracy, noise, swaps and misses, against the answer key. The page they
see is the project's labeling config; a keypoint task's predictions are where they start.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3

from groundcrew.workforces.labelstudio.client import LabelStudioClient
from groundcrew_local.workforce import (
    CrowdElement,
    SimulatedWorkforce,
    TaskContext,
    WorkerAnswer,
    answer_2d_skeleton,
    answer_bounding_box,
    answer_image_classifier,
)

logger = logging.getLogger(__name__)
EMAIL_DOMAIN = "annotators.groundcrew.local"


@dataclass(frozen=True, slots=True)
class Interface:
    """What the labeling config asks for: one Choices or one KeyPointLabels over the image."""

    kind: str  # "choices" or "keypointlabels"
    control: str  # the control's name
    values: tuple[str, ...]


def read_interface(label_config: str) -> Interface | None:
    root = ET.fromstring(label_config)
    controls = (
        ("Choices", "choices", "Choice"),
        ("KeyPointLabels", "keypointlabels", "Label"),
        ("RectangleLabels", "rectanglelabels", "Label"),
        ("BrushLabels", "brushlabels", "Label"),
    )
    for tag, kind, child in controls:
        control = root.find(f".//{tag}")
        if control is not None:
            values = tuple(str(c.get("value")) for c in control.iter(child))
            return Interface(kind, str(control.get("name")), values)
    return None


@dataclass
class LabelStudioTeam:
    client: LabelStudioClient
    workforce: SimulatedWorkforce
    users: dict[str, int] = field(default_factory=dict)  # worker name -> Label Studio user id
    answered: int = 0
    # Projects that were there before this team started (a test session shares one server): not theirs.
    others: set[int] = field(default_factory=set)

    def ignore_existing_projects(self) -> None:
        self.others = {int(p["id"]) for p in self._projects()}

    def _projects(self) -> list[dict[str, Any]]:
        answer = self.client.get("/api/projects/", page_size=1000)
        return list(answer.get("results", []))

    def worker_ids(self) -> dict[str, str]:
        """Our worker id (`labelstudio.<user id>`) -> the simulated worker's name, for reports."""
        return {f"labelstudio.{user}": name for name, user in self.users.items()}

    def user_id(self, name: str) -> int:
        if name not in self.users:
            email = f"{name}@{EMAIL_DOMAIN}"
            known = {str(u.get("email")): int(u["id"]) for u in self.client.get("/api/users/")}
            if email not in known:
                created = self.client.post("/api/users/", {"email": email, "username": name, "first_name": name})
                known[email] = int(created["id"])
            self.users[name] = known[email]
        return self.users[name]

    def work(self, seconds: float) -> None:
        """Time passes: every open task gets the annotations it still asks for."""
        for project in self._projects():
            if int(project["id"]) in self.others:
                continue
            interface = read_interface(str(project.get("label_config") or "<View/>"))
            if interface is None:
                continue
            for task in self.client.tasks(int(project["id"])):
                self._annotate(task, interface)

    def _annotate(self, task: dict[str, Any], interface: Interface) -> None:
        annotations = task.get("annotations") or []
        done_by = {_user(a.get("completed_by")) for a in annotations}
        # Label Studio's own rule: a task is handed out until its annotations (skips aside) reach its overlap.
        have = sum(1 for a in annotations if not a.get("was_cancelled"))
        need = int(task.get("overlap") or 0) - have
        if need <= 0:
            return
        data_object = {"source-ref": image_uri(str(task["data"].get("image", "")))}
        excluded = {name for name, user in self.users.items() if user in done_by}
        answers = self.workforce.answer_with(
            lambda context: self._answer(context, task, interface, data_object["source-ref"]),
            data_object,
            need + len(excluded),
        )
        by_name = {worker.worker_id: worker.name for worker in self.workforce.workers}
        chosen = [a for a in answers if by_name[a.worker_id] not in excluded][:need]
        for answer in chosen:
            self._post(task, answer, by_name[answer.worker_id])

    def _answer(self, context: TaskContext, task: dict[str, Any], interface: Interface, image: str) -> dict[str, Any]:
        if interface.kind == "choices":
            element = CrowdElement("crowd-image-classifier", {"categories": json.dumps(list(interface.values))})
            choice = answer_image_classifier(element, context)["label"]
            return {"result": [_choice(interface, choice)]}
        width, height = _image_size(image)
        if interface.kind == "rectanglelabels":
            return {"result": self._boxes(context, task, interface, width, height)}
        if interface.kind == "brushlabels":
            return {"result": _brushes(context, task, interface, width, height)}
        start = _predicted_points(task, width, height)
        classes = [{"label": value} for value in interface.values]
        attributes = {"keypointclasses": json.dumps(classes), "imgsrc": image}
        if start:
            attributes["initialvalues"] = json.dumps([{"name": "", "annotations": start}])
        submitted = answer_2d_skeleton(CrowdElement("crowd-2d-skeleton", attributes), context)
        points = json.loads(submitted["updated_annotations"])[0]["annotations"]
        return {"result": [_keypoint(interface, p, width, height, i) for i, p in enumerate(points)]}

    def _boxes(
        self, context: TaskContext, task: dict[str, Any], interface: Interface, width: int, height: int
    ) -> list[dict[str, Any]]:
        """crowd-bounding-box's behaviour on the predicted boxes (fixing them toward the answer key, if any)."""
        start = [
            {
                "label": r["value"]["rectanglelabels"][0],
                "left": float(r["value"]["x"]) * width / 100.0,
                "top": float(r["value"]["y"]) * height / 100.0,
                "width": float(r["value"]["width"]) * width / 100.0,
                "height": float(r["value"]["height"]) * height / 100.0,
            }
            for prediction in (task.get("predictions") or [])[:1]
            for r in prediction.get("result") or []
            if r.get("type") == "rectanglelabels"
        ]
        attributes = {"labels": json.dumps(list(interface.values)), "initial-value": json.dumps(start)}
        drawn = answer_bounding_box(CrowdElement("crowd-bounding-box", attributes), context)["boundingBoxes"]
        return [
            {
                "id": f"w{index}",
                "type": "rectanglelabels",
                "from_name": interface.control,
                "to_name": "image",
                "original_width": width,
                "original_height": height,
                "value": {
                    "x": 100.0 * box["left"] / width,
                    "y": 100.0 * box["top"] / height,
                    "width": 100.0 * box["width"] / width,
                    "height": 100.0 * box["height"] / height,
                    "rotation": 0,
                    "rectanglelabels": [box["label"]],
                },
            }
            for index, box in enumerate(drawn)
        ]

    def _post(self, task: dict[str, Any], answer: WorkerAnswer, name: str) -> None:
        try:
            result = json.loads(answer.content)["result"]
        except (ValueError, KeyError, TypeError):
            result = [{"type": "choices", "from_name": "?", "to_name": "image", "value": {"choices": ["?"]}}]
        self.client.post(
            f"/api/tasks/{int(task['id'])}/annotations/",
            {"result": result, "completed_by": self.user_id(name), "lead_time": answer.time_spent_seconds},
        )
        self.answered += 1


def image_uri(shown: str) -> str:
    """The s3:// URI of the image a task shows: Label Studio hands an S3 storage's images out as its own resolve
    links (`/tasks/<id>/resolve/?fileuri=<the URI in URL-safe base64>`), which the browser follows."""
    if "fileuri=" not in shown:
        return shown
    encoded = parse_qs(urlsplit(shown).query).get("fileuri", [""])[0]
    return base64.urlsafe_b64decode(encoded.encode() + b"=" * (-len(encoded) % 4)).decode()


def _brushes(
    context: TaskContext, task: dict[str, Any], interface: Interface, width: int, height: int
) -> list[dict[str, Any]]:
    """crowd-semantic-segmentation's behaviour on the predicted brush regions: a careful worker relabels what the
    answer key says was given the wrong class (`{"relabel": {old: new}}`), anyone else leaves them as they are."""
    import numpy as np

    from groundcrew.workflows.adjustment import brush

    names = list(interface.values)
    painted = np.zeros((height, width), dtype=np.uint8)  # 0: background, k: names[k - 1]
    for prediction in (task.get("predictions") or [])[:1]:
        for region in prediction.get("result") or []:
            if region.get("type") == "brushlabels":
                label = region["value"]["brushlabels"][0]
                painted[brush.decode(region["value"]["rle"], width, height)] = names.index(label) + 1
    truth = context.truth
    if (
        isinstance(truth, dict)
        and isinstance(truth.get("relabel"), dict)
        and context.rng.random() < context.worker.accuracy
    ):
        start = painted.copy()
        for old, new in truth["relabel"].items():
            if old in names and new in names:
                painted[start == names.index(old) + 1] = names.index(new) + 1
    return [
        {
            "id": f"w{index}",
            "type": "brushlabels",
            "from_name": interface.control,
            "to_name": "image",
            "original_width": width,
            "original_height": height,
            "value": {"format": "rle", "rle": brush.encode(painted == index + 1), "brushlabels": [label]},
        }
        for index, label in enumerate(names)
        if (painted == index + 1).any()
    ]


def _user(completed_by: Any) -> int | None:
    value = completed_by.get("id") if isinstance(completed_by, dict) else completed_by
    return int(value) if isinstance(value, int) else None


def _choice(interface: Interface, choice: str) -> dict[str, Any]:
    return {
        "type": "choices",
        "from_name": interface.control,
        "to_name": "image",
        "value": {"choices": [choice]},
    }


def _keypoint(interface: Interface, point: dict[str, Any], width: int, height: int, index: int) -> dict[str, Any]:
    return {
        "id": f"w{index}",
        "type": "keypointlabels",
        "from_name": interface.control,
        "to_name": "image",
        "original_width": width,
        "original_height": height,
        "value": {
            "x": 100.0 * float(point["x"]) / width,
            "y": 100.0 * float(point["y"]) / height,
            "width": 0.5,
            "keypointlabels": [point["label"]],
        },
    }


def _predicted_points(task: dict[str, Any], width: int, height: int) -> list[dict[str, Any]]:
    """The pose a prediction starts the worker from, in pixels (what the annotator sees on the image)."""
    for prediction in task.get("predictions") or []:
        points = [
            {
                "label": r["value"]["keypointlabels"][0],
                "x": round(float(r["value"]["x"]) * width / 100.0),
                "y": round(float(r["value"]["y"]) * height / 100.0),
            }
            for r in prediction.get("result") or []
            if r.get("type") == "keypointlabels"
        ]
        if points:
            return points
    return []


def _image_size(uri: str) -> tuple[int, int]:
    """The image as the annotator's browser would load it (here straight from the local bucket)."""
    from PIL import Image

    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"].read()
    with Image.open(io.BytesIO(body)) as image:
        width, height = image.size
    return int(width), int(height)
