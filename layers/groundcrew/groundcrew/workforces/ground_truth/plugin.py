"""Ground Truth labeling jobs as a workforce plug-in: a private, vendor or public workteam labels each round."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from groundcrew.projects import Project


class GroundTruthPlugin:
    names_workteam = True

    def fees(self, project: Project, answers: int) -> dict[str, Any]:
        return {}  # the price per task is all a Ground Truth workteam costs here


PLUGIN = GroundTruthPlugin()
