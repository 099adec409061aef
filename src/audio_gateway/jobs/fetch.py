"""Fetching `file_url` inputs safely: https or the configured S3 bucket, never private networks.

A URL's host is resolved and every address checked (loopback, private,
link-local, reserved are refused unless AUDIO_GATEWAY_FILE_URL_ALLOW lists the
host or a CIDR containing it); redirects are not followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import IO
from urllib.parse import urlsplit

import httpx

from ..errors import InvalidRequest

__all__ = ["check_file_url", "fetch_https", "parse_s3_url"]


def parse_s3_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.netloc, parts.path.lstrip("/")


def check_file_url(url: str, bucket: str) -> None:
    """Static checks at submit time (400 before anything is queued)."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        found_bucket, key = parse_s3_url(url)
        if found_bucket != bucket or not key:
            raise InvalidRequest(f"s3 file_url must point into the gateway's bucket ({bucket}).", param="file_url")
        return
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidRequest("file_url must be an https:// or s3:// URL.", param="file_url", code="invalid_url")


def _allowed(host: str, addresses: list[str], allow: tuple[str, ...]) -> bool:
    if host in allow:
        return True
    for entry in allow:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if all(ipaddress.ip_address(a) in network for a in addresses):
            return True
    return False


async def _resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


async def fetch_https(url: str, into: IO[bytes], *, max_bytes: int, allow: tuple[str, ...], timeout: float = 60) -> int:
    parts = urlsplit(url)
    host = parts.hostname or ""
    addresses = await _resolve(host, parts.port or 443)
    private = [a for a in addresses if not ipaddress.ip_address(a).is_global]
    if private and not _allowed(host, addresses, allow):
        raise InvalidRequest(f"file_url host {host} resolves to a non-public address.", param="file_url",
                             code="forbidden_url")
    total = 0
    async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, trust_env=False) as client:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise InvalidRequest(f"file_url answered HTTP {response.status_code}.", param="file_url",
                                     code="file_url_unavailable")
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > max_bytes:
                    raise InvalidRequest(f"file_url is larger than {max_bytes} bytes.", param="file_url",
                                         code="file_too_large")
                into.write(chunk)
    into.seek(0)
    return total
