"""A keypoint batch from its answer ledger: each item's pose, its quality findings, and what goes back.

The consolidation Lambda keeps every worker's submission in the round's output; here the pose of each item is
rebuilt from its latest round (an adjustment round's answers supersede the pose they started from), checked
against the rig, and flagged items can go back for adjustment with that pose as the workers' starting point.
Pure functions over `rounds.LedgerEntry`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from groundcrew.consensus.rounds import LedgerEntry, metadata_header
from groundcrew.consensus.worker_quality import WorkerTally
from groundcrew.core.answers import WorkerAnswer
from groundcrew.core.errors import AnswerError
from groundcrew.core.image_headers import SizeReading
from groundcrew.workflows.keypoints import consensus as keypoint_consensus
from groundcrew.workflows.keypoints import task as keypoints
from groundcrew.workflows.keypoints.checks import Finding, Severity, check_pose
from groundcrew.workflows.keypoints.consensus import PoseConsensus
from groundcrew.workflows.keypoints.poses import Pose, Rig

OUTPUT_TYPE = "groundcrew/keypoints"
AGREEING = 0.75  # a worker's pose counts as agreeing with the consensus at this OKS-like score or above
DISPUTED_SHARE = 0.1  # a keypoint further than this share of the pose's size from the consensus is disputed


@dataclass(slots=True)
class PoseVerdict:
    key: str
    consensus: PoseConsensus | None  # None: no valid answer yet
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be checked, and why

    @property
    def disputed(self) -> list[str]:
        """Keypoints some worker placed far from the consensus: with several workers, a reason for another pass.

        Far is DISPUTED_SHARE of the pose's size (the square root of the agreement scale, its box's area): an
        averaged score would hide one swapped pair among 17 points, a per-keypoint distance does not.
        """
        consensus = self.consensus
        if consensus is None or len(consensus.workers) < 2:
            return []
        limit = DISPUTED_SHARE * math.sqrt(consensus.scale)
        disputed = set()
        for worker in consensus.workers:
            for name, (x, y) in worker.pose.points.items():
                if name in consensus.pose.points:
                    cx, cy = consensus.pose.points[name]
                    if math.hypot(x - cx, y - cy) > limit:
                        disputed.add(name)
        return [name for name in consensus.pose.points if name in disputed]

    @property
    def pose(self) -> Pose | None:
        return self.consensus.pose if self.consensus is not None else None

    @property
    def flagged(self) -> bool:
        return bool(self.disputed) or any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def reasons(self) -> list[str]:
        reasons = [f.message for f in self.findings if f.severity is Severity.ERROR]
        if self.disputed:
            reasons.append(f"the workers disagree on {', '.join(self.disputed)}: another pass settles where they go")
        return reasons


def latest_answers(entry: LedgerEntry) -> list[WorkerAnswer]:
    """The answers of the item's latest round with answers: adjustments supersede the pose they started from."""
    if not entry.answers:
        return []
    latest = max(int(a.get("round", 1)) for a in entry.answers)
    return [a for a in entry.answers if int(a.get("round", 1)) == latest]


def pose_verdicts(
    ledger: Mapping[str, LedgerEntry],
    rig: Rig,
    sizes: Mapping[str, SizeReading],
) -> dict[str, PoseVerdict]:
    verdicts: dict[str, PoseVerdict] = {}
    for entry in ledger.values():
        if entry.gold:
            continue
        verdict = PoseVerdict(entry.key, None)
        skeletons = []
        for answer in latest_answers(entry):
            try:
                skeletons.append(keypoints.parse_submission(str(answer["worker_id"]), answer["content"], rig))
            except AnswerError as error:  # stored by the consolidation Lambda, so only a changed rig gets here
                verdict.notes.append(str(error))
        size, problem = sizes.get(entry.key, (None, None))
        if problem:
            verdict.notes.append(problem)
        if skeletons:
            box = (size.width, size.height) if size else None
            verdict.consensus = keypoint_consensus.consolidate_poses(skeletons, rig, image_size=box)
            verdict.findings = check_pose(verdict.consensus.pose, rig, image_size=box)
        verdicts[entry.key] = verdict
    return verdicts


def wants_another_pass(verdict: PoseVerdict) -> bool:
    return verdict.consensus is None or verdict.flagged


def adjustment_line(verdict: PoseVerdict) -> dict[str, Any]:
    """The manifest attributes an adjustment round starts from: the current pose as the initial skeleton."""
    skeletons = keypoints.component_skeletons([verdict.pose]) if verdict.pose is not None else []
    return {"annotations": skeletons}


def findings_data(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    return [
        {"rule": f.rule.value, "keypoints": list(f.keypoints), "message": f.message, "severity": f.severity.value}
        for f in findings
    ]


def output_value(verdict: PoseVerdict, entry: LedgerEntry, dataset_object_id: str) -> dict[str, Any]:
    """The label attribute's value in the merged output: SkelStack's fields, then every round and finding."""
    value: dict[str, Any]
    if verdict.consensus is None:
        details = [str(r.get("reason")) for r in entry.rejected] + entry.notes
        value = {"status": "no-valid-answers", "reason": "no valid answer: " + ("; ".join(details) or "none given")}
    else:
        value = keypoint_consensus.label_results(
            verdict.consensus, dataset_object_id=dataset_object_id, data_object_s3_uri=entry.key
        )
        value["status"] = "flagged" if verdict.flagged else "consolidated"
        if verdict.flagged:
            value["reason"] = "; ".join(verdict.reasons)
    value.update(
        {
            "findings": findings_data(verdict.findings),
            "notes": verdict.notes,
            "answers": [{k: v for k, v in a.items() if k != "content"} for a in entry.answers],
            "rejected_answers": entry.rejected,
            "answers_bought": entry.bought,
            "rounds": entry.rounds,
        }
    )
    return value


def output_metadata(value: Mapping[str, Any], job_names: list[str], created: str) -> dict[str, Any]:
    metadata = metadata_header(OUTPUT_TYPE, job_names, created)
    if value["status"] != "consolidated":
        metadata["failure-reason"] = value.get("reason")
    return metadata


def worker_tallies(verdicts: Mapping[str, PoseVerdict]) -> dict[str, WorkerTally]:
    """Answers, and how many of them agree with the consensus pose (OKS-like score of AGREEING or more)."""
    tallies: dict[str, WorkerTally] = {}
    for verdict in verdicts.values():
        if verdict.consensus is None:
            continue
        for worker in verdict.consensus.workers:
            tally = tallies.setdefault(worker.worker_id, WorkerTally())
            tally.answers += 1
            tally.compared += 1
            tally.agreed += worker.agreement >= AGREEING
    return tallies
