"""The output manifest: every input line, with the label and `<L>-metadata` added to the labeled ones.

Failed, skipped and never-labeled lines are copied unchanged. The `<L>-metadata` of custom jobs follows what real
output manifests hold (`{"type": "groundtruth/custom", "job-name": "<name lower case>", "human-annotated": "yes",
"creation-date": ...}`, style "observed"), or the developer guide's spelling (style "documented"); an emulated
built-in task type writes its own.
"""

from __future__ import annotations

from typing import Any, Literal

from groundcrew_local.ground_truth.job_files import JobFiles, compact_json
from groundcrew_local.ground_truth.jobs import DataObject, LabelingJob

MetadataStyle = Literal["observed", "documented"]


def label_metadata(job: LabelingJob, item: DataObject, style: MetadataStyle) -> dict[str, Any]:
    """`<L>-metadata` of a labeled object."""
    if item.metadata is not None:
        return item.metadata
    if style == "documented":
        return {
            "job_name": job.name,
            "type": "groundTruth/custom",
            "human-annotated": "yes",
            "creation_date": item.creation_date,
        }
    return {
        "type": "groundtruth/custom",
        "job-name": job.name.lower(),
        "human-annotated": "yes",
        "creation-date": item.creation_date,
    }


def write_output_manifest(job: LabelingJob, files: JobFiles, style: MetadataStyle) -> None:
    """`<job folder>/manifests/output/output.manifest`, one line per input line; sets the job's output URI."""
    attribute = job.label_attribute_name
    lines = []
    for item in job.objects:
        if item.outcome == "labeled":
            line = dict(item.line)
            line[attribute] = item.label
            line[f"{attribute}-metadata"] = label_metadata(job, item, style)
            lines.append(compact_json(line))
        else:
            lines.append(item.raw)
    uri = f"{job.job_folder}/manifests/output/output.manifest"
    files.write(job, uri, ("\n".join(lines) + "\n").encode())
    job.output_uri = uri
