"""Bytes in and out: PNG/base64 for responses, data URIs and uploads for requests.

Every uploaded image is decoded by `load_image` with the server's pixel cap; nothing here ever treats a
client string as a path or a URL to fetch.
"""

from __future__ import annotations

import base64
import binascii
import io
import re

from PIL import Image

from ..utils.images import load_image
from .limits import LimitError, Limits, check_upload_bytes

# data:[<mediatype>][;base64],<data>  -- we accept only base64 image payloads.
_DATA_URI = re.compile(r"^data:(?P<mime>image/[a-zA-Z0-9.+-]+)?(?P<params>(;[a-zA-Z0-9=._+-]+)*);base64,(?P<data>.*)$", re.S)


def png_b64(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def decode_upload(data: bytes, limits: Limits, what: str = "uploaded image") -> Image.Image:
    check_upload_bytes(len(data), limits, what)
    return load_image(data, max_pixels=limits.max_pixels)


def decode_data_uri(uri: str, limits: Limits) -> Image.Image:
    """'data:image/png;base64,...' -> RGB image. http(s) and file URLs are refused, never fetched."""
    if not isinstance(uri, str):
        raise LimitError("'image_url.url' must be a string data URI", param="image_url")
    head = uri[:16].lower()
    if not head.startswith("data:"):
        raise LimitError(
            "'image_url.url' must be a base64 data URI (data:image/png;base64,...); URLs are not fetched",
            param="image_url",
        )
    # base64 is 4/3 of the bytes: refuse before decoding anything oversized.
    check_upload_bytes(len(uri) * 3 // 4, limits, "image_url data URI")
    m = _DATA_URI.match(uri)
    if m is None:
        raise LimitError("malformed data URI: expected data:image/<type>;base64,<data>", param="image_url")
    try:
        data = base64.b64decode(m.group("data"), validate=True)
    except (binascii.Error, ValueError) as e:
        raise LimitError(f"malformed data URI: the base64 payload does not decode ({e})", param="image_url") from e
    return decode_upload(data, limits, "image_url data URI")
