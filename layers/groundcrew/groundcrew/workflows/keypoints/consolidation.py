"""One round's skeletons to one pose per image: flips corrected and a per-keypoint median over the workers
(contracts section 9.1 fields)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundcrew.consensus.decisions import Outcome
from groundcrew.workforces.ground_truth.consolidation import failure, no_answer_reason, response_entry

if TYPE_CHECKING:
    from groundcrew.core.events import ConsolidationFailure
    from groundcrew.workforces.ground_truth.consolidation import JobContext, PayloadItem


def label_items(
    items: list[PayloadItem], context: JobContext, attribute: str, failures: list[ConsolidationFailure]
) -> tuple[list[dict[str, Any]], int]:
    from groundcrew.workflows.keypoints import consensus as keypoint_consensus  # numpy: only keypoint jobs pay for it

    assert context.rig is not None
    response: list[dict[str, Any]] = []
    labeled = 0
    for item in items:
        if not item.parsed:
            reason = no_answer_reason(item)
            value: dict[str, Any] = {"status": Outcome.NO_VALID_ANSWERS.value, "reason": reason}
            failures.append(failure(item, reason))
        else:
            consensus = keypoint_consensus.consolidate_poses(item.parsed, context.rig, image_size=None)
            value = keypoint_consensus.label_results(
                consensus,
                dataset_object_id=item.entry.datasetObjectId,
                data_object_s3_uri=item.entry.dataObject.get("s3Uri"),
            )
            value["status"] = Outcome.CONSOLIDATED.value
            labeled += 1
        value.update({"answers": item.answers, "rejected_answers": item.rejected, "round": context.round})
        response.append(response_entry(item, attribute, value))
    return response, labeled
