"""Bytes in and out: PNG/base64 for responses, data URIs and uploads for requests.

Every uploaded image is decoded by `load_image` with the server's pixel cap; a client string is never
treated as a path, and an http(s) URL is fetched only from hosts the operator allowed (`--image-url-host`).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from PIL import Image

from ..utils.images import load_image
from .limits import LimitError, Limits, check_upload_bytes

# data:[<mediatype>][;base64],<data>  -- we accept only base64 image payloads.
_DATA_URI = re.compile(r"^data:(?P<mime>image/[a-zA-Z0-9.+-]+)?(?P<params>(;[a-zA-Z0-9=._+-]+)*);base64,(?P<data>.*)$", re.S)


MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def encode_image(img: Image.Image, fmt: str = "png", compression: int | None = None) -> bytes:
    """PNG, JPEG or WebP bytes; `compression` is OpenAI's output_compression (0-100, 100 = best quality)."""
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, format="PNG")
    else:
        quality = 100 if compression is None else compression
        img.convert("RGB").save(buf, format=fmt.upper(), quality=quality)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def png_b64(img: Image.Image) -> str:
    return b64(encode_image(img))


def decode_upload(data: bytes, limits: Limits, what: str = "uploaded image") -> Image.Image:
    check_upload_bytes(len(data), limits, what)
    return load_image(data, max_pixels=limits.max_pixels)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect could lead anywhere: the allow-list names hosts, not where they point


def fetch_image_url(url: str, limits: Limits, hosts: tuple[str, ...], timeout_s: float = 10.0) -> Image.Image:
    """An http(s) image from an allowed host (no redirects, bytes capped). Without an allow-list: a 400."""
    host = (urlsplit(url).hostname or "").lower()
    if host not in hosts:
        allowed = f"allowed hosts: {', '.join(hosts)}" if hosts else "this server fetches no URLs (no --image-url-host)"
        raise LimitError(f"image URL host {host!r} is not allowed ({allowed}); send the image as a base64 data URI "
                         "(data:image/png;base64,...)", param="image_url")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=timeout_s) as reply:
            data = reply.read(limits.max_upload_bytes + 1)
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise LimitError(f"could not fetch the image URL: {e}", param="image_url") from e
    return decode_upload(data, limits, "image_url download")


def decode_data_uri(uri: str, limits: Limits) -> Image.Image:
    """'data:image/png;base64,...' -> RGB image. file: and other URLs are refused, never read."""
    if not isinstance(uri, str):
        raise LimitError("'image_url.url' must be a string data URI", param="image_url")
    head = uri[:16].lower()
    if not head.startswith("data:"):
        raise LimitError(
            "'image_url.url' must be a base64 data URI (data:image/png;base64,...); this URL is not fetched",
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
