"""API-key checks: bearer tokens for the API, the same key as the password of the Gradio UI."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Optional

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a hostname we cannot vouch for: treat as public


def check_bind(host: str, api_key: Optional[str]) -> None:
    """Anything reachable from outside this machine must sit behind a key."""
    if not is_loopback(host) and not api_key:
        raise ValueError(f"binding {host} exposes the server beyond this machine: pass --api-key KEY")


def key_matches(given: Optional[str], expected: str) -> bool:
    # Constant time, so response timing does not leak how much of the key was right.
    return hmac.compare_digest((given or "").encode(), expected.encode())


def bearer_token(authorization: Optional[str]) -> Optional[str]:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def gradio_auth(api_key: str):
    """Gradio login: any user name, the API key as password."""

    def check(username: str, password: str) -> bool:
        return key_matches(password, api_key)

    return check
