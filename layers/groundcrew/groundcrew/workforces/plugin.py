"""What every workforce package provides: the hooks the generic steps call instead of branching on who labels.

A workforce is one package under `groundcrew.workforces` with a `plugin` module whose `PLUGIN` satisfies
`WorkforcePlugin`, and one entry in `registry.PLUGIN_MODULES`. The state machine still chooses the Launch, Track
and clean-up Lambdas of a round by `PreparedJob.workforce` (statemachine/labeling_pipeline.asl.json).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from groundcrew.projects import Project


class WorkforcePlugin(Protocol):
    # Whether the Ground Truth job request names a workteam (a private or vendor workforce of Ground Truth), or
    # only carries the round's settings to a workforce of our own driving.
    names_workteam: bool

    def fees(self, project: Project, answers: int) -> dict[str, Any]:
        """The workforce's fees on `answers` paid answers, as extra fields of the completed event's cost."""
        ...
