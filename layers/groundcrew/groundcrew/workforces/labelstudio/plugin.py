"""A self-hosted Label Studio server as a workforce plug-in: the same rounds and consolidation, tasks we post."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from groundcrew.projects import Project


class LabelStudioPlugin:
    names_workteam = False

    def fees(self, project: Project, answers: int) -> dict[str, Any]:
        """No fees: your annotators, your server (price_per_task_usd, if set, is the whole cost of an answer)."""
        return {}


PLUGIN = LabelStudioPlugin()
