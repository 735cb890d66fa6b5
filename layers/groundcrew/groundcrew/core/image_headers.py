"""Image sizes from the first bytes of S3 objects: a ranged read instead of whole images."""

from __future__ import annotations

import io
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from groundcrew.core.s3_locations import S3Location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HEADER_BYTES = 256 * 1024  # enough for the size in the header of any PNG or JPEG (JPEG's SOF follows its EXIF)
READ_WORKERS = 16


@dataclass(frozen=True, slots=True)
class ImageSize:
    width: int
    height: int


SizeReading = tuple[ImageSize | None, str | None]  # the size, or None and why it could not be read


def image_size(s3: S3Client, uri: str) -> SizeReading:
    """The image's size from its header (a ranged read), or None and why it could not be read."""
    from PIL import Image, UnidentifiedImageError  # only the keypoint steps need Pillow

    location = S3Location.parse(uri)
    try:
        head = s3.get_object(Bucket=location.bucket, Key=location.key, Range=f"bytes=0-{HEADER_BYTES - 1}")
        with Image.open(io.BytesIO(head["Body"].read())) as image:
            return ImageSize(*image.size), None
    except s3.exceptions.NoSuchKey:
        return None, f"image {uri} does not exist"
    except Image.DecompressionBombError as error:
        return None, f"image {uri} is too large to decode safely ({error})"
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        return None, f"the size of image {uri} cannot be read from its header ({error})"


def image_sizes(s3: S3Client, uris: Iterable[str]) -> dict[str, SizeReading]:
    keys = sorted(set(uris))
    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        return dict(zip(keys, pool.map(lambda uri: image_size(s3, uri), keys), strict=True))


__all__ = ["ImageSize", "SizeReading", "image_size", "image_sizes"]
