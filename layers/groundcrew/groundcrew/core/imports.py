"""What every import of labels made elsewhere reports the same way (adjustment imports, point cloud audits): a
refusal for each thing left out, with its rule; the import's summary; the job name and creation date that imported
labels carry in Ground Truth's metadata."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

_JOB_SOURCE = re.compile(r"^[a-z0-9]+$")


@dataclass(frozen=True, slots=True)
class Refusal:
    image: str | None
    item: str
    rule: str
    message: str


class RefusalLike(Protocol):
    """What every refusal has: the image (when known), the item of the file, the rule and the message."""

    @property
    def image(self) -> str | None: ...
    @property
    def item(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def message(self) -> str: ...


EXAMPLES_PER_RULE = 3


@dataclass(slots=True)
class ImportSummary:
    converted_images: int = 0
    shapes: int = 0
    refusals: list[RefusalLike] = field(default_factory=list)

    def add(self, shapes: int, refusals: Iterable[RefusalLike]) -> None:
        """Count one converted image with its shapes, and keep its refusals."""
        self.converted_images += 1
        self.shapes += shapes
        self.refusals.extend(refusals)

    def by_rule(self) -> dict[str, tuple[int, list[RefusalLike]]]:
        """Refusal count and first examples per rule, most frequent rule first."""
        counts = Counter(refusal.rule for refusal in self.refusals)
        return {
            rule: (count, [refusal for refusal in self.refusals if refusal.rule == rule][:EXAMPLES_PER_RULE])
            for rule, count in counts.most_common()
        }

    def to_json(self) -> str:
        grouped = self.by_rule()
        return orjson.dumps(
            {
                "converted_images": self.converted_images,
                "shapes": self.shapes,
                "refused": len(self.refusals),
                "refusals": {
                    rule: {
                        "count": count,
                        "examples": [
                            {"image": r.image, "item": r.item, "rule": r.rule, "message": r.message} for r in examples
                        ],
                    }
                    for rule, (count, examples) in grouped.items()
                },
            }
        ).decode()

    def to_text(self) -> str:
        lines = [f"{self.converted_images} images converted, {self.shapes} shapes, {len(self.refusals)} refused"]
        for rule, (count, examples) in self.by_rule().items():
            lines.append(f"  {rule}: {count}")
            lines += [f"    {r.image or '(unknown image)'} {r.item}: {r.message}" for r in examples]
        return "\n".join(lines)


def refusal_data(refusal: RefusalLike) -> dict[str, Any]:
    """A refusal as plain data: import work items, part files and the Annotations Imported event carry it so."""
    return {"image": refusal.image, "item": refusal.item, "rule": refusal.rule, "message": refusal.message}


def creation_date(moment: datetime) -> str:
    """Ground Truth's creation-date format: UTC, no offset, microseconds."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def import_job_name(source_format: str, moment: datetime) -> str:
    """A job-name that says the labels were imported, from which format and when, e.g. imported-voc-20261121."""
    if not _JOB_SOURCE.match(source_format):
        raise ValueError(f"format {source_format!r}: use lowercase letters and digits, e.g. 'voc' or 'yolo'")
    return f"imported-{source_format}-{moment:%Y%m%d}"
