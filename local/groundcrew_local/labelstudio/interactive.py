"""`groundcrew demo --workforce labelstudio --interactive`: you are the annotator.

The demo's project runs on a local Label Studio server exactly as the automated demo does, but nobody simulated
answers: you log in, label the images in your browser (Label Studio loads them from the local bucket, served on
127.0.0.1, through its S3 storage's presigned links), and the pipeline, polling every few seconds, consolidates
your answers like any others. One answer per item is asked for, so one person can finish the batch. The server
keeps running afterwards, until Ctrl-C, so you can look at what you did.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import yaml

from groundcrew_local.demo import DemoResult, DemoSample, on_label_studio, run_sample, sample_for
from groundcrew_local.environment import local_environment
from groundcrew_local.labelstudio import server
from groundcrew_local.moto_patches.wait_cap import remove_wait_listener

POLL_SECONDS = 3.0  # how often the pipeline looks for your labels
LABELING_HOURS = 4.0  # how long the demo waits for them


def until_interrupted(labelstudio: server.LabelStudioServer, stream: TextIO) -> None:
    print(f"\nLabel Studio keeps running at {labelstudio.url}; press Ctrl-C to stop it.", file=stream, flush=True)
    try:
        while labelstudio.process.poll() is None:
            time.sleep(1.0)
    except KeyboardInterrupt:
        print("stopping Label Studio", file=stream)


def one_person(sample: DemoSample) -> DemoSample:
    """One answer per item and one round: a single person can finish the batch (gold items stay: you are scored)."""
    document = yaml.safe_load(sample.document)
    document["workers_per_object"] = 1
    document["consensus"] = {"policy": "fixed", "max_rounds": 1}
    if isinstance(document.get("keypoints"), dict):
        document["keypoints"]["send_back_flagged"] = False
    return dataclasses.replace(sample, document=yaml.safe_dump(document, sort_keys=False).encode())


def run_interactive(
    out_dir: Path,
    stream: TextIO,
    *,
    workflow: str = "image-classification",
    hold: Callable[[server.LabelStudioServer, TextIO], None] = until_interrupted,
    labeling_seconds: float = LABELING_HOURS * 3600,
    running: server.LabelStudioServer | None = None,
) -> DemoResult:
    """The demo with you as the annotator; `running`: a server to use instead of starting one."""
    sample = one_person(on_label_studio(sample_for(workflow)))
    with (
        contextlib.nullcontext(running) if running else server.start() as labelstudio,
        local_environment(workforce=sample.workforce(), labelstudio=labelstudio, wait_cap_seconds=POLL_SECONDS) as env,
    ):
        assert env.labelstudio is not None
        remove_wait_listener(env.labelstudio.work)  # you are the workforce
        print(
            f"Label Studio is running at {labelstudio.url}\n"
            f"  log in as {labelstudio.admin_email} with password {labelstudio.admin_password}\n"
            f"  open the project '{sample.project} <batch id>' once it appears, then 'Label All Tasks';\n"
            f"  the pipeline checks for your labels every {POLL_SECONDS:.0f} s\n",
            file=stream,
            flush=True,
        )
        result = run_sample(env, sample, out_dir, stream, timeout=labeling_seconds)
        hold(labelstudio, stream)
        return result
