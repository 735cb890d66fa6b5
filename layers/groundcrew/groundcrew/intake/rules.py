"""What to do with an object that landed under `incoming/`: label it, seal a batch, or reject it (the image rules;
the point cloud rules are the point cloud workflow's, `workflows/point_cloud/intake.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from urllib.parse import unquote_plus

from groundcrew.core.media import IMAGE_SIGNATURES, MAX_IMAGE_BYTES
from groundcrew.projects import IMPORTS_PREFIX, INCOMING_PREFIX, PROJECT_NAME_PATTERN


class Disposition(StrEnum):
    LABEL = "label"
    SEAL = "seal"
    IGNORE = "ignore"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class IncomingObject:
    bucket: str
    key: str  # URL-decoded
    size: int
    etag: str

    @property
    def project_name(self) -> str | None:
        """The `<project>` of `incoming/<project>/...` or `imports/<project>/...`, when the key has one."""
        for prefix in (INCOMING_PREFIX, IMPORTS_PREFIX):
            rest = self.key.removeprefix(prefix)
            if rest != self.key:
                return (rest.split("/", 1)[0] or None) if "/" in rest else None
        return None


@dataclass(frozen=True, slots=True)
class Decision:
    disposition: Disposition
    rule: str = ""
    message: str = ""


def decode_event_key(key: str) -> str:
    """S3 notifications form-encode object keys ('a b+c.png' arrives as 'a+b%2Bc.png')."""
    return unquote_plus(key)


def decide(obj: IncomingObject, *, seal_marker: str) -> Decision:
    """Classify an object of a known project by its key and size (the content check comes after)."""
    if obj.key.endswith("/"):
        return Decision(Disposition.IGNORE, "folder-placeholder", "zero-byte folder placeholder")
    name = PurePosixPath(obj.key).name
    if name == seal_marker:
        return Decision(Disposition.SEAL)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in IMAGE_SIGNATURES:
        allowed = ", ".join(sorted(IMAGE_SIGNATURES))
        return Decision(
            Disposition.REJECT,
            "not-an-image",
            f"{name!r} is not an image Ground Truth can show ({allowed}); "
            f"drop only images under incoming/<project>/, or {seal_marker!r} to seal the batch",
        )
    if obj.size == 0:
        return Decision(Disposition.REJECT, "empty-object", f"{name!r} is empty (0 bytes); upload the image again")
    if obj.size > MAX_IMAGE_BYTES:
        return Decision(
            Disposition.REJECT,
            "image-too-large",
            f"{name!r} is {obj.size} bytes; Ground Truth image tasks accept at most {MAX_IMAGE_BYTES} bytes",
        )
    return Decision(Disposition.LABEL)


def check_signature(obj: IncomingObject, head: bytes) -> Decision:
    """Reject files whose first bytes do not match their image extension (e.g. a renamed text file)."""
    suffix = PurePosixPath(obj.key).suffix.lower()
    if any(head.startswith(signature) for signature in IMAGE_SIGNATURES[suffix]):
        return Decision(Disposition.LABEL)
    return Decision(
        Disposition.REJECT,
        "not-an-image",
        f"{PurePosixPath(obj.key).name!r} has a {suffix} name but its content is not a {suffix.lstrip('.').upper()} "
        "image; upload the real image file",
    )


class ObjectMissing(Exception):
    """The object was deleted between its event and intake's read of it."""


def key_too_long_decision(obj: IncomingObject, longest: int) -> Decision:
    return Decision(
        Disposition.REJECT,
        "key-too-long",
        f"the key is {len(obj.key.encode()):,} bytes (UTF-8); groundcrew records each object by its key and takes "
        f"keys of at most {longest:,} bytes: shorten its folders or file name and drop it again",
    )


def object_missing_decision(obj: IncomingObject) -> Decision:
    return Decision(
        Disposition.REJECT,
        "object-missing",
        "the object was deleted before intake could read it; drop it again if it should be labeled",
    )


def unknown_project_decision(obj: IncomingObject) -> Decision:
    name = obj.project_name
    if name is None:
        return Decision(
            Disposition.REJECT,
            "no-project-prefix",
            "objects must be dropped under incoming/<project>/, where projects/<project>.yaml describes the project",
        )
    if not PROJECT_NAME_PATTERN.match(name):
        return Decision(Disposition.REJECT, "unknown-project", f"{name!r} is not a valid project name")
    return Decision(
        Disposition.REJECT,
        "unknown-project",
        f"no project document projects/{name}.yaml in bucket {obj.bucket}; create it, then upload the object again",
    )
