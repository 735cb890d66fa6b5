"""Label Studio's brush masks (`BrushLabels` regions with `"format": "rle"`), to and from boolean masks.

The format, as Label Studio's converter (`label_studio_converter/brush.py`) reads it: a bit stream, most
significant bit first, over the image's RGBA bytes row by row (width x height x 4 values; the brush paints all four
channels, and the alpha channel is what shows). A header of 32 bits (the number of values), 5 bits (word size
- 1) and four times 4 bits (the four run-length field sizes - 1), then blocks until every value is written: 1 bit
(1: one value repeated, 0: a literal sequence), 2 bits (which length field), that many bits (length - 1), then the
one value, or `length` values, `word size` bits each.

Encoding writes runs only, with Label Studio's own field sizes (3, 4, 8 and 16 bits) and 8-bit words; decoding
reads any stream that follows the format, and refuses one whose value count is not the image's (a brush drawn on
another image, or a decompression bomb: nothing is allocated before the count is checked).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

WORD_BITS = 8
RUN_FIELD_BITS = (3, 4, 8, 16)  # Label Studio's defaults
_LONGEST_RUN = 1 << RUN_FIELD_BITS[-1]
_BLOCK_BITS = 1 + 2 + RUN_FIELD_BITS[-1] + WORD_BITS  # run flag, field index, length - 1, value
OPAQUE = 128  # alpha from which a brushed pixel counts (the brush's soft edges fade out below it)


class BrushError(ValueError):
    """A brush region that is not a readable mask of the image."""


def _bits(value: int, width: int) -> npt.NDArray[np.uint8]:
    return ((value >> np.arange(width - 1, -1, -1)) & 1).astype(np.uint8)


def encode(mask: npt.NDArray[np.bool_]) -> list[int]:
    """The `rle` of a (height, width) boolean mask, as Label Studio stores a brush region."""
    flat = np.repeat(mask.ravel().astype(np.uint8) * np.uint8(255), 4)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(flat)) + 1))
    lengths = np.diff(np.concatenate((starts, [flat.size])))
    pieces = (lengths + _LONGEST_RUN - 1) // _LONGEST_RUN  # a run longer than the widest field is split
    piece_lengths = np.full(int(pieces.sum()), _LONGEST_RUN, dtype=np.uint64)
    piece_lengths[np.cumsum(pieces) - 1] = lengths - (pieces - 1) * _LONGEST_RUN
    values = np.repeat(flat[starts], pieces).astype(np.uint64)
    words = (
        (np.uint64(1) << np.uint64(_BLOCK_BITS - 1))
        | (np.uint64(len(RUN_FIELD_BITS) - 1) << np.uint64(_BLOCK_BITS - 3))
        | ((piece_lengths - np.uint64(1)) << np.uint64(WORD_BITS))
        | values
    )
    shifts = np.arange(_BLOCK_BITS - 1, -1, -1, dtype=np.uint64)
    blocks = ((words[:, None] >> shifts) & np.uint64(1)).astype(np.uint8).ravel()
    header = np.concatenate(
        [_bits(flat.size, 32), _bits(WORD_BITS - 1, 5), *(_bits(size - 1, 4) for size in RUN_FIELD_BITS)]
    )
    return [int(byte) for byte in np.packbits(np.concatenate([header, blocks]))]


class _Reader:
    def __init__(self, data: list[int]) -> None:
        if not all(isinstance(b, int) and 0 <= b <= 255 for b in data):
            raise BrushError("the rle is not a list of bytes (0 to 255)")
        self.bits = np.unpackbits(np.asarray(data, dtype=np.uint8))
        self.position = 0

    def read(self, width: int) -> int:
        end = self.position + width
        if end > self.bits.size:
            raise BrushError("the rle ends in the middle of a block")
        value = 0
        for bit in self.bits[self.position : end]:
            value = (value << 1) | int(bit)
        self.position = end
        return value


def decode(rle: list[int], width: int, height: int) -> npt.NDArray[np.bool_]:
    """The (height, width) mask of a brush region drawn on an image of that size (BrushError if it cannot be)."""
    reader = _Reader(rle)
    count = reader.read(32)
    if count != width * height * 4:
        raise BrushError(f"the brush covers {count} values, not the {width} x {height} image's {width * height * 4}")
    word = reader.read(5) + 1
    fields = [reader.read(4) + 1 for _ in range(4)]
    out = np.zeros(count, dtype=np.uint8)
    at = 0
    while at < count:
        repeated = reader.read(1)
        end = at + 1 + reader.read(fields[reader.read(2)])
        if end > count:
            raise BrushError("a block of the rle runs past the end of the image")
        if repeated:
            out[at:end] = reader.read(word) & 0xFF
        else:
            out[at:end] = [reader.read(word) & 0xFF for _ in range(end - at)]
        at = end
    return (out[3::4] >= OPAQUE).reshape(height, width)
