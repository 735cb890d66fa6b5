"""Which package serves which workforce (`workforce.kind` of a project): the one place that maps a kind to its
plug-in. Plug-ins are imported on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from groundcrew.workforces.plugin import WorkforcePlugin

PLUGIN_MODULES: dict[str, str] = {
    "groundtruth": "groundcrew.workforces.ground_truth.plugin",
    "mturk": "groundcrew.workforces.mturk.plugin",
    "labelstudio": "groundcrew.workforces.labelstudio.plugin",
}


def for_workforce(kind: str) -> WorkforcePlugin:
    """The plug-in of a workforce kind (`groundtruth`, `mturk`, `labelstudio`)."""
    try:
        module = PLUGIN_MODULES[kind]
    except KeyError:
        raise ValueError(f"no workforce {kind!r}; the workforces are {', '.join(PLUGIN_MODULES)}") from None
    plugin: WorkforcePlugin = importlib.import_module(module).PLUGIN
    return plugin
