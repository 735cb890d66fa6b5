"""What the workflows' Label Studio interfaces share: escaped XML attributes and HTML, and percent coordinates.

Label Studio places regions in percent of the image (`x`, `y` from 0 to 100) and reports the image's pixel size
with each region (`original_width`, `original_height`).
"""

from __future__ import annotations

from html import escape
from xml.sax.saxutils import quoteattr

IMAGE_NAME = "image"  # the <Image name> every config uses; the task data's `image` is the image URL


def attribute(value: str) -> str:
    """A quoted XML attribute value (quotes, ampersands, angle brackets and newlines escaped)."""
    return quoteattr(value, {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def labeling_view(header: str, control: str, *, control_first: bool = False, zoom: bool = True) -> str:
    """A labeling config: the task's header, the image, and one control (`control`: its whole XML element)
    over it, before the image (names to pick first, as keypoints want) or after it."""
    image = (
        f'  <Image name="{IMAGE_NAME}" value="$image"' + (' zoom="true" zoomControl="true"' if zoom else "") + "/>\n"
    )
    body = f"  {control}\n" + image if control_first else image + f"  {control}\n"
    return f"<View>\n  <Header value={attribute(header)}/>\n{body}</View>"


def labels_control(tag: str, name: str, values: list[str], *, item: str = "Label", extra: str = "") -> str:
    """`<tag name=... toName="image" extra>` with one `<item value=.../>` per value (each escaped); `values` may
    carry more attributes after the value (already escaped)."""
    children = "".join(f"\n    <{item} value={value}/>" for value in values)
    return f'<{tag} name="{name}" toName="{IMAGE_NAME}"{extra}>{children}\n  </{tag}>'


def paragraphs(*texts: str) -> str:
    """Instructions as HTML paragraphs, every text escaped (Label Studio shows them as HTML), each text once
    (full instructions default to the short ones)."""
    return "".join(f"<p>{escape(text)}</p>" for text in dict.fromkeys(texts) if text)


def to_percent(value: float, size: int) -> float:
    return round(100.0 * value / size, 4)


def to_pixels(percent: float, size: int) -> float:
    return percent * size / 100.0
