"""Fetching `file_url` inputs safely: https or the configured S3 bucket, never private networks.

A URL's host is resolved once and every address checked (loopback, private, link-local, reserved are
refused unless AUDIO_GATEWAY_FILE_URL_ALLOW lists the host or a CIDR containing them). The connection
then goes to the vetted address, with TLS still verifying the certificate against the URL's host, so a
DNS answer that changes between check and connect cannot send it elsewhere. Redirects are not followed.
Trusted CAs are certifi's plus the system store, which OpenSSL's SSL_CERT_FILE / SSL_CERT_DIR can point
at a private CA.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from typing import IO
from urllib.parse import SplitResult, urlsplit

import certifi
import httpx

from ..errors import InvalidRequest

__all__ = ["check_file_url", "fetch_https", "parse_s3_url"]


def _split(url: str) -> SplitResult:
    """`urlsplit`, with a malformed URL (bad IPv6 literal, port not a number or out of range) a 400."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError:
        raise InvalidRequest("file_url is not a valid URL.", param="file_url", code="invalid_url") from None
    return parts


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key). A key with `.`, `..` or empty segments is refused: S3 keeps them literally, but a
    client or S3-compatible server that normalises paths would read another object than the one checked."""
    parts = _split(url)
    key = parts.path.lstrip("/")
    if any(segment in ("", ".", "..") for segment in key.split("/")) and key:
        raise InvalidRequest("An s3:// file_url key may not contain empty, `.` or `..` segments.", param="file_url",
                             code="invalid_url")
    return parts.netloc, key


def check_file_url(url: str, bucket: str) -> None:
    """Static checks at submit time (400 before anything is queued)."""
    parts = _split(url)
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
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise InvalidRequest(f"file_url host {host} could not be resolved.", param="file_url",
                             code="file_url_unavailable") from None
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_default_certs()  # the system store; honours SSL_CERT_FILE / SSL_CERT_DIR
    return context


async def fetch_https(url: str, into: IO[bytes], *, max_bytes: int, allow: tuple[str, ...], timeout: float = 60) -> int:
    _split(url)
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        raise InvalidRequest("file_url is not a valid URL.", param="file_url", code="invalid_url") from None
    host = target.raw_host.decode("ascii")  # IDNA-encoded, as DNS and TLS see it
    addresses = await _resolve(host, target.port or 443)
    private = [a for a in addresses if not ipaddress.ip_address(a).is_global]
    if private and not _allowed(target.host, addresses, allow):
        raise InvalidRequest(f"file_url host {target.host} resolves to a non-public address.", param="file_url",
                             code="forbidden_url")
    total = 0
    try:
        async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, trust_env=False, verify=_tls_context()) as client:
            # Connect to the address just vetted; Host and SNI (hence certificate checks) stay the URL's.
            request = client.build_request("GET", target.copy_with(host=addresses[0]),
                                           headers={"Host": target.netloc.decode("ascii")},
                                           extensions={"sni_hostname": host})
            response = await client.send(request, stream=True)
            try:
                if response.status_code != 200:
                    raise InvalidRequest(f"file_url answered HTTP {response.status_code}.", param="file_url",
                                         code="file_url_unavailable")
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise InvalidRequest(f"file_url is larger than {max_bytes} bytes.", param="file_url",
                                             code="file_too_large")
                    into.write(chunk)
            finally:
                await response.aclose()
    except httpx.HTTPError as exc:
        raise InvalidRequest(f"file_url could not be fetched ({type(exc).__name__}).", param="file_url",
                             code="file_url_unavailable") from None
    into.seek(0)
    return total
