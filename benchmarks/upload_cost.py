"""What an STT upload costs the gateway per megabyte, as the upload grows (1 s → 10 s → 100 s WAV).

For each size, a fixed number of transcription requests go through the gateway over a few
keep-alive connections, and the gateway's CPU time (user + system, from /proc) is read before and
after: CPU seconds per MB uploaded (MB = 10^6 bytes of request body). The fake provider, which
receives the same bytes from the gateway and only copies them out of its socket buffer, is read
the same way: its figure is what copying alone costs here. Time and throughput are left out on
purpose: on a shared machine they depend on what else runs, CPU time much less.

A cost that is a fixed part per request plus a part per byte falls with size towards the per-byte
part; `marginal` is that per-byte part between two sizes, (CPU_b - CPU_a) / (MB_b - MB_a).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import msgspec

from . import payloads
from .procs import Service, tree_cpu_seconds

__all__ = ["SIZES", "SizeCost", "UploadCost", "measure_upload_cost", "send_fixed"]

SIZES = (1, 10, 100)  # seconds of 16 kHz mono 16-bit WAV: 32 KB, 320 KB, 3.2 MB
_MB = 1e6


class SizeCost(msgspec.Struct, frozen=True):
    audio_seconds: int
    requests: int
    mb: float                 # uploaded, all requests together
    gateway_cpu_s: float
    fake_cpu_s: float
    statuses: dict[str, int]

    @property
    def gateway_ms_per_mb(self) -> float:
        return round(1000 * self.gateway_cpu_s / self.mb, 2)

    @property
    def fake_ms_per_mb(self) -> float:
        return round(1000 * self.fake_cpu_s / self.mb, 2)


class UploadCost(msgspec.Struct, frozen=True):
    sizes: list[SizeCost]


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (content-length or chunked) off a keep-alive connection; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:] if line)}
    if b"content-length" in fields:
        await reader.readexactly(int(fields[b"content-length"]))
    elif b"chunked" in fields.get(b"transfer-encoding", b"").lower():
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    return status


async def send_fixed(port: int, path: str, headers: dict[str, str], body: bytes, *, requests: int,
                     connections: int = 4) -> Counter[str]:
    """POST `body` `requests` times over `connections` keep-alive connections; answers per HTTP status."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n{head}\r\n").encode() + body
    statuses: Counter[str] = Counter()
    queue = iter(range(requests))

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        try:
            for _ in queue:  # shared: each connection takes the next request until none are left
                writer.write(request)
                await writer.drain()
                statuses[str(await _read_response(reader))] += 1
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return statuses


def measure_upload_cost(gateway: Service, fake: Service, path: str, headers: dict[str, str], *,
                        requests: int, sizes: Sequence[int] = SIZES, warmup: int = 10) -> UploadCost:
    """Gateway and fake CPU over `requests` uploads of each size (after `warmup` unmeasured ones)."""
    results = []
    for seconds in sizes:
        body, content_type = payloads.multipart({"model": "whisper-1"}, f"{seconds}s.wav", payloads.wav(seconds))
        sent = {**headers, "Content-Type": content_type}
        asyncio.run(send_fixed(gateway.port, path, sent, body, requests=warmup))
        g_pids, f_pids = gateway.pids(), fake.pids()
        g0, f0 = tree_cpu_seconds(g_pids), tree_cpu_seconds(f_pids)
        statuses = asyncio.run(send_fixed(gateway.port, path, sent, body, requests=requests))
        g1, f1 = tree_cpu_seconds(g_pids), tree_cpu_seconds(f_pids)
        results.append(SizeCost(seconds, requests, round(len(body) * requests / _MB, 3), round(g1 - g0, 3),
                                round(f1 - f0, 3), dict(statuses)))
    return UploadCost(results)
