"""Image classification over the batch's answer ledger: the consensus policy decides which items get another
round, and the batch-wide decision (majority or Dawid-Skene) gives each item its label."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from groundcrew.consensus import batch_results, rounds, worker_quality
from groundcrew.consensus.decisions import BatchDecision, ItemDecision, Outcome, WorkerPrior, next_round_workers
from groundcrew.consensus.ledger_steps import MergedBatch, RoundJudgement, batch_lines, creation_date
from groundcrew.core import manifests
from groundcrew.core.events import ExportedFiles, TrainingDataExported
from groundcrew.core.s3_locations import S3Location
from groundcrew.core.vocabulary import ConsensusMethod
from groundcrew.workflows.classification import training_export
from groundcrew.workflows.plugin import BatchSteps

MAX_WORKERS_PER_ROUND = 9


class ClassificationLedger:
    consensus_method: str | None = None  # the project's: majority or Dawid-Skene

    def judge_round(
        self, steps: BatchSteps, ledger: dict[str, rounds.LedgerEntry], round_items: set[str], number: int, more: bool
    ) -> RoundJudgement:
        decision = _decision(steps, ledger)
        wanting = {key for key, verdict in decision.items.items() if batch_results.wants_more(verdict)}
        resolved = sum(1 for verdict in decision.items.values() if verdict.outcome is Outcome.CONSOLIDATED)
        plan = None
        if wanting and more:
            workers_next = min(MAX_WORKERS_PER_ROUND, max(1, next_round_workers(decision)))
            batch = steps.batch
            folder = rounds.round_folder(batch.bucket, batch.project, batch.batch_id, number + 1)
            plan = rounds.plan_next_round(
                steps.s3, batch.manifest_uri, folder, number + 1, wanting, ledger, workers_next
            )
        return RoundJudgement(plan, resolved, len(decision.items) - resolved)

    def merge_batch(
        self, steps: BatchSteps, ledger: dict[str, rounds.LedgerEntry], job_names: list[str], output: S3Location
    ) -> MergedBatch:
        project = steps.project
        policy, labels, attribute = project.consensus_policy, tuple(project.labels), project.attribute_name
        decision = _decision(steps, ledger)
        created = creation_date(steps)
        values: dict[str, dict[str, Any]] = {}  # per item, only what the statistics and the event need

        def merged_lines() -> Iterator[dict[str, Any]]:
            for line in batch_lines(steps):
                key = rounds.item_key(line.data)
                entry = ledger.get(key) if key is not None else None
                verdict = decision.items.get(key) if key is not None else None
                if entry is None or verdict is None:
                    entry = rounds.LedgerEntry(key or f"line {line.number}", notes=["the item was never labeled"])
                    verdict = _no_answers()
                value = batch_results.output_value(verdict, entry, labels, project.consensus.max_rounds)
                values[entry.key] = {name: value.get(name) for name in ("status", "confidence", "votes", "reason")}
                yield {
                    **line.data,
                    attribute: value,
                    f"{attribute}-metadata": batch_results.output_metadata(value, job_names, created, policy),
                }

        manifests.write_manifest(steps.s3, output, merged_lines())
        gold_labels = {project.gold_uri(g, steps.batch.bucket): g.label for g in project.quality.gold.items}
        return MergedBatch(values, batch_results.worker_tallies(ledger, decision, gold_labels), decision)

    def export(self, steps: BatchSteps, output: S3Location) -> ExportedFiles | None:
        """Stratified train/test splits of the labeled images, when the project asks for them."""
        project, batch = steps.project, steps.batch
        options = project.export
        if options is None:
            return None
        result = training_export.export_training_data(
            steps.s3,
            lambda: manifests.read_manifest(steps.s3, output),
            project.attribute_name,
            tuple(project.labels),
            S3Location(batch.bucket, f"exports/{batch.project}/{batch.batch_id}"),
            training_export.ExportOptions(
                test_ratio=options.test_ratio, seed=options.seed, formats=tuple(options.formats)
            ),
        )
        steps.publisher.publish(
            TrainingDataExported(
                project=batch.project,
                batch_id=batch.batch_id,
                files=result.files,
                train=result.train,
                test=result.test,
                excluded=result.excluded,
                excluded_reasons=result.excluded_reasons,
                classes=result.classes,
            )
        )
        return ExportedFiles(files=result.files, train=result.train, test=result.test, excluded=result.excluded)


def _decision(steps: BatchSteps, ledger: dict[str, rounds.LedgerEntry]) -> BatchDecision:
    policy = steps.project.consensus_policy
    priors: dict[str, WorkerPrior] | None = None
    if policy.method is ConsensusMethod.DAWID_SKENE:
        priors = worker_quality.priors(steps.workers.history(steps.project.name).values())
    return batch_results.batch_decision(ledger, tuple(steps.project.labels), policy, priors)


def _no_answers() -> ItemDecision:
    return ItemDecision(
        outcome=Outcome.NO_VALID_ANSWERS,
        label=None,
        confidence=0.0,
        agreement=0.0,
        votes={},
        more_answers=0,
        reason="no valid answer",
    )


LEDGER = ClassificationLedger()
