"""The keypoint quality report: a PNG overlay per flagged skeleton and one small HTML page listing the findings.

Both functions are pure (bytes in, bytes or text out); the pipeline uploads the page and the overlays side by side,
so the page links each overlay by its relative file name. Every piece of text on the page (image names, labels,
keypoint names, messages) comes from users and is escaped; the page carries no script, and its content security
policy allows none.
"""

from __future__ import annotations

import html
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from PIL import Image, ImageColor, ImageDraw, ImageOps, UnidentifiedImageError

from groundcrew.workflows.keypoints.checks import Finding, Severity
from groundcrew.workflows.keypoints.poses import Pose, Rig

DEFAULT_EDGE_COLOR = "#6a5acd"  # edges the rig gives no colour
FLAG_COLOR = "#ff0000"


class ImageDecodeError(ValueError):
    """The bytes given as an image cannot be drawn on."""


@dataclass(frozen=True, slots=True)
class ReportEntry:
    image: str  # the image's name, as the reader knows it (e.g. its S3 key)
    overlay: str  # the overlay PNG's file name, relative to the report page
    findings: Sequence[Finding]
    label: str = ""  # whose skeleton: e.g. "worker 7, Skeleton 1"


def render_overlay(image_bytes: bytes, pose: Pose, rig: Rig, findings: Sequence[Finding]) -> bytes:
    """The image as a PNG with the pose drawn on it: edges in their colours, keypoints as dots in theirs, and a
    red ring around every keypoint a finding names."""
    image = _decode(image_bytes)
    draw = ImageDraw.Draw(image)
    # Lines and dots grow with the image, so they stay visible on large photos and do not cover small ones.
    unit = max(1, round(min(image.size) / 300))
    radius, line = 2 + 2 * unit, 1 + unit
    colors = {keypoint.name: _color(keypoint.color, f"keypoint {keypoint.name}", rig) for keypoint in rig.keypoints}
    for edge in rig.edges:
        if edge.start in pose.points and edge.end in pose.points:
            color = _color(edge.color or DEFAULT_EDGE_COLOR, f"edge {edge.start}-{edge.end}", rig)
            draw.line([pose.points[edge.start], pose.points[edge.end]], fill=color, width=line)
    flagged = {name for finding in findings for name in finding.keypoints}
    for name, (x, y) in pose.points.items():
        if name not in colors:
            raise ValueError(f"pose {pose.name!r}: keypoint {name!r} is not in rig {rig.name!r}")
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colors[name], outline=(0, 0, 0))
        if name in flagged:
            # Red on a thin white ring, so it shows on a red jacket too.
            ring = radius + 2 * unit + 2
            draw.ellipse(
                (x - ring - 1, y - ring - 1, x + ring + 1, y + ring + 1), outline=(255, 255, 255), width=line + 2
            )
            draw.ellipse((x - ring, y - ring, x + ring, y + ring), outline=FLAG_COLOR, width=line)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _decode(image_bytes: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(image_bytes)) as opened:
            opened.load()
            # As a browser shows it (the worker clicked on that), in colours a PNG takes.
            return ImageOps.exif_transpose(opened).convert("RGB")
    except UnidentifiedImageError as error:
        raise ImageDecodeError(f"not an image (Pillow knows no format for these {len(image_bytes)} bytes)") from error
    except Image.DecompressionBombError as error:
        raise ImageDecodeError(f"image too large to draw on: {error}") from error
    except OSError as error:
        # Pillow's message says what is wrong, e.g. "image file is truncated (14 bytes not processed)".
        raise ImageDecodeError(f"image cannot be decoded, it is probably truncated or damaged: {error}") from error


def _color(value: str, what: str, rig: Rig) -> tuple[int, ...]:
    try:
        return ImageColor.getrgb(value)
    except ValueError as error:
        raise ValueError(f"rig {rig.name!r}: {what} has colour {value!r}, which is not a colour") from error


STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
section { border-top: 1px solid #ccc; padding: 1em 0; }
h2 { font-size: 1.1em; margin: 0 0 .3em; overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
.error { color: #a40000; }
.warning { color: #8a5a00; }
code { background: #f3f3f3; padding: 0 .2em; }
"""


def render_report(entries: Sequence[ReportEntry], title: str) -> str:
    """A self-contained HTML page: a summary, then one section per entry with findings or a label (overlay, list)."""
    e = html.escape
    # An entry without findings is still shown when it says why it is here (e.g. flagged in an earlier round).
    flagged = [entry for entry in entries if entry.findings or entry.label]
    rules = Counter(finding.rule.value for entry in flagged for finding in entry.findings)
    summary = ", ".join(f"{e(rule)}: {count}" for rule, count in sorted(rules.items())) or "no findings"
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src 'self'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{len(flagged)} of {len(entries)} skeletons flagged ({summary}).</p>",
    ]
    for entry in flagged:
        parts.append("<section>")
        parts.append(f"<h2>{e(entry.image)}</h2>")
        if entry.label:
            parts.append(f"<p>{e(entry.label)}</p>")
        # Quoting makes any file name a relative path (no "javascript:" or other scheme can survive it).
        source = e(quote(entry.overlay, safe="/"))
        parts.append(f'<img src="{source}" alt="{e(entry.image)} with its keypoints" loading="lazy">')
        parts.append("<ul>")
        for finding in entry.findings:
            severity = "error" if finding.severity is Severity.ERROR else "warning"
            parts.append(
                f'<li class="{severity}"><code>{e(finding.rule.value)}</code> '
                f"{e(', '.join(finding.keypoints))}: {e(finding.message)}</li>"
            )
        parts.append("</ul>")
        parts.append("</section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
