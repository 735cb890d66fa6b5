"""What groundcrew accepts as media: file signatures, suffixes and size limits (one place; intake, preflight and the
point cloud readers all read them here)."""

from __future__ import annotations

# Ground Truth image tasks accept JPEG and PNG up to 40 MB (docs/ground-truth-contracts.md section 1.1).
IMAGE_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
}
SIGNATURE_BYTES = 8
MAX_IMAGE_BYTES = 40 * 1024 * 1024

# A point cloud project's scene folder holds frames (the items) beside what describes them (contracts 2.1, 2.2).
POINT_CLOUD_SUFFIXES = frozenset({".pcd", ".bin", ".ply", ".las", ".laz", ".txt", ".xyz", ".asc"})
CAMERA_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
CALIBRATION_FOLDER = "calib"
# The conversion Lambda holds one frame and its converted copy in memory.
MAX_POINT_CLOUD_BYTES = 512 * 1024 * 1024
