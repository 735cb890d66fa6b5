"""Amazon Mechanical Turk HITs as a workforce plug-in: the same pages and consolidation, HITs we post ourselves."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from groundcrew.projects import Project


class MechanicalTurkPlugin:
    names_workteam = False

    def fees(self, project: Project, answers: int) -> dict[str, Any]:
        """Mechanical Turk's fees on the approved answers (HITs stay under 10 assignments, so the 20 % rate)."""
        from groundcrew.workforces.mturk import hits

        price = project.workforce.price_per_task_usd
        if price is None:
            return {}
        reward = Decimal(price).quantize(Decimal("0.01"))
        paid = hits.estimate_cost(
            items=answers, assignments_per_item=1, reward=reward, masters=project.workforce.mturk_settings.masters
        )
        return {"fees_usd": float(paid.fees), "fee_rule": paid.fee_rule}


PLUGIN = MechanicalTurkPlugin()
