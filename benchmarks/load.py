"""Drive load with `wrk` (a C load generator: the client must not be the bottleneck).

Each run gets a generated Lua script that POSTs a body read from a file and, in `done()`, writes
requests, errors and latency percentiles as JSON to a file we read back (wrk's text output is for
people). A run with any error or non-2xx answer is reported as failed, not as a throughput figure.
With `count_statuses`, a `response()` hook also counts answers per HTTP status (a peer that answers
errors is reported as measured); it costs wrk a Lua call per response, so only failing targets use it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import msgspec

__all__ = ["LoadResult", "run_wrk"]

_LUA = """
local f = assert(io.open({body!r}, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
{headers}
{statuses}
done = function(summary, latency, requests)
  local e = summary.errors
  local out = assert(io.open({result!r}, "w"))
  out:write(string.format(
    '{{"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"statuses":{{%s}}}}',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, status_json()))
  out:close()
end
"""

_NO_STATUSES = """
status_json = function() return "" end
"""

# Each wrk thread has its own Lua state: `setup` keeps the threads, `done` sums their tables.
_STATUSES = """
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args) statuses = {} end
response = function(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
status_json = function()
  local sum = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses") or {}) do sum[status] = (sum[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(sum) do table.insert(parts, string.format('"%d":%d', status, n)) end
  return table.concat(parts, ",")
end
"""


class LoadResult(msgspec.Struct, frozen=True):
    connections: int
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    statuses: dict[str, int] = {}  # HTTP status -> answers, only with count_statuses


def _script(work: Path, name: str, body: Path, headers: dict[str, str], statuses: bool) -> tuple[Path, Path]:
    result = work / f"{name}.result.json"
    lines = "\n".join(f"wrk.headers[{k!r}] = {v!r}" for k, v in headers.items())
    script = work / f"{name}.lua"
    script.write_text(_LUA.format(body=str(body), headers=lines, result=str(result),
                                  statuses=_STATUSES if statuses else _NO_STATUSES))
    return script, result


def run_wrk(url: str, body: Path, headers: dict[str, str], *, connections: int, seconds: float,
            work: Path, name: str, warmup: float = 1.0, count_statuses: bool = False) -> LoadResult:
    """Warm up, then measure for `seconds` with `connections` keep-alive connections (1 or 2 threads)."""
    script, result = _script(work, name, body, headers, count_statuses)
    threads = 1 if connections < 4 else 2
    for duration in ([warmup] if warmup else []) + [seconds]:
        result.unlink(missing_ok=True)
        done = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
             "-s", str(script), url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=duration + 30, text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed on {url}: {done.stderr.strip()}")
    raw = json.loads(result.read_text())
    ms = lambda us: round(us / 1000, 3)  # noqa: E731
    return LoadResult(
        connections=connections, requests=raw["requests"], rps=round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        p50_ms=ms(raw["p50_us"]), p90_ms=ms(raw["p90_us"]), p99_ms=ms(raw["p99_us"]), max_ms=ms(raw["max_us"]),
        errors=raw["errors"], statuses=raw["statuses"],
    )
