"""The Label Studio workforce's parts: the HTTP client's retries and errors, the token secret, the workflows'
labeling configs (validated by the real server), and annotations read back as the workflows' own answers."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from groundcrew.core.errors import AnswerError
from groundcrew.projects import Project
from groundcrew.workflows.adjustment import brush
from groundcrew.workflows.keypoints.poses import rig_to_dict
from groundcrew.workflows.keypoints.rigs import load_preset
from groundcrew.workflows.plugin import LabelOutput
from groundcrew.workflows.registry import for_workflow
from groundcrew.workforces.ground_truth.task_config import TaskConfig
from groundcrew.workforces.labelstudio.client import (
    LabelStudioClient,
    LabelStudioRefused,
    LabelStudioTokenRejected,
    LabelStudioUnreachable,
)
from groundcrew.workforces.labelstudio.connection import LabelStudioNotConfigured, token_from_secret
from groundcrew_local.environment import sample_project_document
from groundcrew_local.labelstudio.server import LabelStudioServer

Reply = tuple[int, dict[str, Any]]


@pytest.fixture
def fake_server() -> Iterator[Callable[[list[Reply]], tuple[str, list[tuple[str, str, str]]]]]:
    """A plain HTTP server answering the given replies in turn; it records (method, path, Authorization)."""
    servers: list[ThreadingHTTPServer] = []

    def start(replies: list[Reply]) -> tuple[str, list[tuple[str, str, str]]]:
        seen: list[tuple[str, str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                seen.append((self.command, self.path, self.headers.get("Authorization", "")))
                status, body = replies.pop(0) if replies else (200, {})
                if body.get("sleep"):
                    time.sleep(float(body["sleep"]))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _reply  # noqa: N815 (http.server's names)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", seen

    yield start
    for server in servers:
        server.shutdown()


def quick(url: str, token: str = "a" * 40, **options: Any) -> LabelStudioClient:
    return LabelStudioClient(url, token, sleep=lambda seconds: None, **options)


def test_a_5xx_blip_is_retried(fake_server: Any) -> None:
    url, seen = fake_server([(503, {"detail": "busy"}), (200, {"id": 7})])
    assert quick(url).get("/api/projects/7/") == {"id": 7}
    assert len(seen) == 2 and seen[0][2] == "Token " + "a" * 40


def test_an_outage_ends_in_unreachable_naming_the_server(fake_server: Any) -> None:
    url, seen = fake_server([(502, {"detail": "bad gateway"})] * 5)
    with pytest.raises(LabelStudioUnreachable, match=f"{url} did not answer GET /api/projects/ after 3 attempts"):
        quick(url, attempts=3).get("/api/projects/")
    assert len(seen) == 3


def test_a_timeout_is_retried_then_unreachable(fake_server: Any) -> None:
    url, seen = fake_server([(200, {"sleep": 1.0})] * 2)
    with pytest.raises(LabelStudioUnreachable, match="ReadTimeoutError"):
        quick(url, timeout_seconds=0.2).get("/api/projects/")
    assert len(seen) == 2


def test_a_refused_token_is_not_retried(fake_server: Any) -> None:
    url, seen = fake_server([(401, {"detail": "Invalid token."})])
    with pytest.raises(LabelStudioTokenRejected, match="Invalid token"):
        quick(url).get("/api/projects/")
    assert len(seen) == 1


def test_a_403_about_something_else_is_not_blamed_on_the_token(fake_server: Any) -> None:
    url, _ = fake_server([(403, {"detail": "URL resolves to a reserved network address (block: 127.0.0.0/8)"})])
    with pytest.raises(LabelStudioRefused, match="reserved network address"):
        quick(url).post("/api/storages/s3/", {"bucket": "b"})


def test_a_personal_access_token_is_exchanged_for_an_access_token(fake_server: Any) -> None:
    pat = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"
    url, seen = fake_server([(200, {"access": "short-lived"}), (200, {"count": 0, "results": []})])
    quick(url, token=pat).get("/api/projects/")
    assert [(method, path.split("?")[0], auth) for method, path, auth in seen] == [
        ("POST", "/api/token/refresh/", ""),
        ("GET", "/api/projects/", "Bearer short-lived"),
    ]


def test_a_personal_access_token_of_the_real_server_works(labelstudio_server: LabelStudioServer) -> None:
    """Label Studio's current tokens: a PAT (a JWT refresh token) made by the server, used as the secret holds it."""
    legacy = LabelStudioClient(labelstudio_server.url, labelstudio_server.token)
    pat = legacy.post("/api/token/", {})["token"]
    assert pat.startswith("eyJ")
    modern = LabelStudioClient(labelstudio_server.url, token_from_secret(json.dumps({"token": pat})))
    assert modern.get("/api/current-user/whoami")["email"] == labelstudio_server.admin_email


def test_tasks_are_read_page_by_page(fake_server: Any) -> None:
    page = [{"id": i} for i in range(500)]
    url, seen = fake_server([(200, {"tasks": page, "total": 501}), (200, {"tasks": [{"id": 500}], "total": 501})])
    assert len(list(quick(url).tasks(3))) == 501
    assert ["page=1" in seen[0][1], "page=2" in seen[1][1]] == [True, True]


@pytest.mark.parametrize(
    ("secret", "token"),
    [("abc123\n", "abc123"), ('{"token": "abc123"}', "abc123")],
)
def test_the_secret_holds_the_token_or_json_with_it(secret: str, token: str) -> None:
    assert token_from_secret(secret) == token


@pytest.mark.parametrize("secret", ["", "  ", '{"key": "abc"}', "{not json"])
def test_a_secret_without_a_token_says_so(secret: str) -> None:
    with pytest.raises(LabelStudioNotConfigured):
        token_from_secret(secret)


# --- the project document ----------------------------------------------------------------------------------------


def project(**changes: Any) -> dict[str, Any]:
    document = yaml.safe_load(sample_project_document())
    document["workforce"] = {"kind": "labelstudio"}
    document.update(changes)
    return document


def test_a_label_studio_project_names_no_workteam() -> None:
    document = project()
    document["workforce"]["workteam_arn"] = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/x"
    with pytest.raises(ValidationError, match="leave workteam_arn out"):
        Project.model_validate(document)


def test_label_studio_settings_belong_to_kind_labelstudio() -> None:
    document = project()
    document["workforce"] = {"kind": "groundtruth", "labelstudio": {"title": "shapes"}}
    with pytest.raises(ValidationError, match=r"workforce\.labelstudio applies to kind: labelstudio"):
        Project.model_validate(document)


def test_point_clouds_are_refused_for_label_studio_with_the_reason() -> None:
    document = {
        "name": "lidar",
        "workflow": "pointcloud-detection",
        "workforce": {"kind": "labelstudio"},
        "pointcloud": {"categories": {"labels": [{"label": "car"}]}},
        "task": {"title": "Box the cars", "description": "Draw a cuboid around each car."},
    }
    with pytest.raises(ValidationError, match="3D point cloud tools, which Label Studio does not have"):
        Project.model_validate(document)


# --- labeling configs, predictions and answers --------------------------------------------------------------------


@dataclasses.dataclass
class SizedImage:
    """An ObjectReader for tests: every image has this size; nothing else may be read."""

    width: int
    height: int

    def image_size(self, uri: str) -> tuple[int, int]:
        return self.width, self.height

    def read(self, uri: str, limit: int) -> bytes:
        raise AssertionError(f"{uri} should not be read")


def box_output(metadata: dict[str, Any]) -> LabelOutput:
    return LabelOutput("voc-boxes", metadata, SizedImage(0, 0), lambda name, body: pytest.fail("no file to write"))


def classification_config(labels: tuple[str, ...]) -> TaskConfig:
    return TaskConfig.for_project(Project.model_validate(project(labels=list(labels), quality={})), "b1")


def keypoints_config() -> TaskConfig:
    rig = rig_to_dict(load_preset("coco-person"))
    document = yaml.safe_load(sample_project_document())
    document.update(
        name="poses",
        workflow="keypoints",
        labels=None,
        keypoints={"rig": "coco-person", "component_url": "https://example.com/c.js"},
        workforce={"kind": "labelstudio"},
        quality={},
        consensus={},
    )
    document.pop("labels")
    return TaskConfig.for_project(Project.model_validate(document), "b1", rig=rig)


AWKWARD_LABELS = ('say "cheese"', "R&D <lab>", "naïve café", "$5 bill")


def test_the_real_server_accepts_the_generated_labeling_configs(labelstudio_server: LabelStudioServer) -> None:
    server = LabelStudioClient(labelstudio_server.url, labelstudio_server.token)
    for config in (classification_config(AWKWARD_LABELS), keypoints_config()):
        interface = for_workflow(config.workflow).labelstudio(config.workflow)
        server.post("/api/projects/validate/", {"label_config": interface.labeling_config(config)})


def test_a_choice_is_read_as_the_classifier_answer_and_escaped_labels_survive() -> None:
    config = classification_config(AWKWARD_LABELS)
    interface = for_workflow(config.workflow).labelstudio(config.workflow)
    assert 'value="R&amp;D &lt;lab&gt;"' in interface.labeling_config(config)
    result = [{"type": "choices", "from_name": "category", "to_name": "image", "value": {"choices": ["R&D <lab>"]}}]
    assert interface.answer_content(result, {}, config) == {"category": {"label": "R&D <lab>"}}
    with pytest.raises(AnswerError, match="chose 0 categories"):
        interface.answer_content([], {}, config)
    hostile = dataclasses.replace(config, short_instructions="<script>alert(1)</script>", full_instructions="")
    assert interface.instructions(hostile) == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"


def test_keypoints_become_the_components_submission_in_pixels() -> None:
    config = keypoints_config()
    interface = for_workflow(config.workflow).labelstudio(config.workflow)
    labeling = interface.labeling_config(config)
    assert 'value="left_eye"' in labeling and "KeyPointLabels" in labeling
    assert "left_eye / right_eye" in interface.instructions(config)
    line = {"source-ref": "s3://b/p.png", "annotations": [{"label": "nose", "x": 50, "y": 20}]}
    predictions = interface.predictions(line, config, SizedImage(200, 100))
    assert predictions[0]["value"]["x"] == 25.0 and predictions[0]["value"]["y"] == 20.0
    region = {**predictions[0], "value": {**predictions[0]["value"], "x": 30.0}}
    content = interface.answer_content([region], line, config)
    assert json.loads(content["updated_annotations"]) == [
        {"name": "", "annotations": [{"label": "nose", "x": 60, "y": 20}]}
    ]
    assert json.loads(content["original_annotations"])[0]["annotations"] == [{"label": "nose", "x": 50, "y": 20}]


def boxes_config() -> TaskConfig:
    document = {
        "name": "voc-boxes",
        "workflow": "bounding-box-adjustment",
        "labels": ["cat", "person"],
        "adjustment": {"format": "voc", "images_prefix": "images/voc-boxes/"},
        "task": {"title": "Correct the boxes", "description": "Fix them"},
        "workforce": {"kind": "labelstudio"},
    }
    return TaskConfig.for_project(Project.model_validate(document), "b1")


BOX_LINE = {
    "source-ref": "s3://b/images/voc-boxes/a.jpg",
    "imported": {
        "image_size": [{"width": 200, "height": 100, "depth": 3}],
        "annotations": [{"class_id": 0, "left": 20, "top": 10, "width": 50, "height": 40}],
    },
    "imported-metadata": {"class-map": {"0": "person"}, "type": "groundtruth/object-detection"},
}


def test_imported_boxes_are_predictions_and_corrections_are_ground_truths_box_output() -> None:
    config = boxes_config()
    assert config.source_attribute == "imported"
    interface = for_workflow(config.workflow).labelstudio(config.workflow)
    assert not interface.own_consolidation
    (region,) = interface.predictions(BOX_LINE, config, SizedImage(0, 0))  # the line carries its image size
    assert region["value"] == {
        "x": 10.0, "y": 10.0, "width": 25.0, "height": 40.0, "rotation": 0, "rectanglelabels": ["person"],
    }  # fmt: skip
    unchanged = interface.answer_content([region], BOX_LINE, config)
    fields = interface.output_fields(unchanged, BOX_LINE, config, box_output({"job-name": "j"}))
    assert fields["voc-boxes"]["annotations"] == [{"class_id": 1, "left": 20, "top": 10, "width": 50, "height": 40}]
    assert fields["voc-boxes-metadata"]["adjustment-status"] == "unadjusted"  # class ids follow the project's labels
    moved = {**region, "value": {**region["value"], "x": 12.5}}
    content = interface.answer_content([moved], BOX_LINE, config)
    assert (
        interface.output_fields(content, BOX_LINE, config, box_output({}))["voc-boxes-metadata"]["adjustment-status"]
        == "adjusted"
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"rectanglelabels": ["dog"]}, "each box takes one of"), ({"rotation": 30}, "is rotated")],
)
def test_boxes_ground_truth_cannot_hold_are_rejected_with_the_reason(change: dict[str, Any], reason: str) -> None:
    config = boxes_config()
    interface = for_workflow(config.workflow).labelstudio(config.workflow)
    (region,) = interface.predictions(BOX_LINE, config, SizedImage(200, 100))
    with pytest.raises(AnswerError, match=reason):
        interface.answer_content([{**region, "value": {**region["value"], **change}}], BOX_LINE, config)


def masks_config() -> TaskConfig:
    document = {
        "name": "scenes",
        "workflow": "semantic-segmentation-adjustment",
        "labels": ["road", "car"],
        "adjustment": {"format": "coco", "images_prefix": "images/scenes/"},
        "task": {"title": "Correct the masks", "description": "Fix them"},
        "workforce": {"kind": "labelstudio"},
    }
    return TaskConfig.for_project(Project.model_validate(document), "b1")


def test_the_real_server_accepts_the_adjustment_configs(labelstudio_server: LabelStudioServer) -> None:
    server = LabelStudioClient(labelstudio_server.url, labelstudio_server.token)
    for config in (boxes_config(), masks_config()):
        interface = for_workflow(config.workflow).labelstudio(config.workflow)
        server.post("/api/projects/validate/", {"label_config": interface.labeling_config(config)})


# --- Label Studio's brush masks ---------------------------------------------------------------------------------

LS_PYTHON = Path(__file__).resolve().parents[2] / ".venv-labelstudio" / "bin" / "python"
LS_BRUSH = """
import json, sys
import numpy as np
from label_studio_sdk.converter.brush import decode_rle, mask2rle
mode, payload, width, height = json.load(sys.stdin)
if mode == "decode":
    print(json.dumps((decode_rle(payload).reshape(height, width, 4)[:, :, 3] >= 128).astype(int).ravel().tolist()))
else:
    print(json.dumps(mask2rle(np.array(payload, dtype=np.uint8).reshape(height, width) * 255)))
"""


def label_studios_brush(mode: str, payload: Any, width: int, height: int) -> Any:
    """Label Studio's own brush code (its SDK's converter, in .venv-labelstudio), on the same data."""
    done = subprocess.run(
        [str(LS_PYTHON), "-c", LS_BRUSH],
        input=json.dumps([mode, payload, width, height]),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_brush_masks_read_and_written_as_label_studio_reads_and_writes_them() -> None:
    rng = np.random.default_rng(2)
    mask = np.zeros((37, 53), dtype=bool)
    mask[5:20, 3:40] = True
    mask[rng.random(mask.shape) > 0.9] = True
    ours = brush.encode(mask)
    assert np.array_equal(np.array(label_studios_brush("decode", ours, 53, 37), dtype=bool).reshape(37, 53), mask)
    theirs = label_studios_brush("encode", mask.astype(int).ravel().tolist(), 53, 37)
    assert np.array_equal(brush.decode(theirs, 53, 37), mask)  # theirs mixes literal blocks with runs


def test_a_long_run_is_split_and_a_full_hd_mask_round_trips() -> None:
    mask = np.zeros((1080, 1920), dtype=bool)
    mask[100:900, 50:1800] = True
    assert np.array_equal(brush.decode(brush.encode(mask), 1920, 1080), mask)


@pytest.mark.parametrize(
    ("rle", "reason"),
    [
        (brush.encode(np.ones((4, 4), dtype=bool)), "not the 5 x 4 image's"),
        ([255, 255, 255, 255, 0], "covers 4294967295 values"),  # refused before anything is allocated
        (brush.encode(np.ones((4, 5), dtype=bool))[:-3], "ends in the middle"),
        ([300], "not a list of bytes"),
    ],
)
def test_a_brush_that_is_not_the_images_is_refused(rle: list[int], reason: str) -> None:
    with pytest.raises(brush.BrushError, match=reason):
        brush.decode(rle, 5, 4)


def test_a_keypoint_the_rig_does_not_have_is_rejected_by_the_keypoint_reader_with_the_reason() -> None:
    from groundcrew.workflows.keypoints.poses import rig_from_dict
    from groundcrew.workforces.ground_truth.consolidation import JobContext

    config = keypoints_config()
    plugin = for_workflow(config.workflow)
    interface = plugin.labelstudio(config.workflow)
    line = {"source-ref": "s3://b/p.png"}
    region = {
        "type": "keypointlabels",
        "from_name": "keypoints",
        "to_name": "image",
        "original_width": 200,
        "original_height": 100,
        "value": {"x": 10.0, "y": 10.0, "width": 0.5, "keypointlabels": ["tail_tip"]},
    }
    content = interface.answer_content([region], line, config)
    assert config.rig is not None
    context = JobContext(
        labels=config.labels, policy=config.consensus, workflow=config.workflow, rig=rig_from_dict(config.rig)
    )
    with pytest.raises(AnswerError, match="places keypoint 'tail_tip', which rig 'coco-person' does not have"):
        plugin.read_answer("labelstudio.7", json.dumps(content), context)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("size", "reason"),
    [((20_000, 20_000), "too large to decode safely"), ((11_000, 10_000), "over 100,000,000")],
)
def test_an_imported_mask_too_large_to_decode_is_refused_before_it_is(
    size: tuple[int, int], reason: str, bomb_png: Any
) -> None:
    """A small PNG that claims a huge image (a decompression bomb) never reaches numpy."""
    from groundcrew.core.errors import DataObjectError
    from groundcrew.workflows.adjustment.labelstudio import _mask_indices

    png = bomb_png(*size)
    assert len(png) < 1_000_000
    with pytest.raises(DataObjectError, match=reason):
        _mask_indices(png)
