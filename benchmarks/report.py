"""Results → targets (issue 6) → tables. Pure functions over the collected figures.

Tables are Markdown pipe tables: readable in a terminal and pasted as they are into RESULTS.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

__all__ = ["Row", "Target", "added_p50", "evaluate", "find", "ratio", "render", "table"]


class Row(msgspec.Struct, frozen=True):
    target: str     # direct | gateway | litellm | portkey (| gateway-wN: the scaling run)
    endpoint: str   # tts | stt
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    note: str = ""  # set when the row is not a throughput figure (skipped, or answered errors)
    statuses: dict[str, int] = {}  # HTTP status -> answers, counted for targets that failed the sanity request


class Target(msgspec.Struct, frozen=True):
    name: str
    value: float | None
    limit: str
    verdict: str    # PASS | FAIL | SKIP
    detail: str = ""


def find(rows: Sequence[Row], target: str, endpoint: str, concurrency: int) -> Row | None:
    for row in rows:
        if (row.target, row.endpoint, row.concurrency) == (target, endpoint, concurrency) and not row.note:
            return row
    return None


def ratio(rows: Sequence[Row], a: str, b: str, endpoint: str, concurrency: int = 32) -> float | None:
    ra, rb = find(rows, a, endpoint, concurrency), find(rows, b, endpoint, concurrency)
    return round(ra.rps / rb.rps, 3) if ra and rb and rb.rps else None


def added_p50(rows: Sequence[Row], endpoint: str) -> float | None:
    g, d = find(rows, "gateway", endpoint, 1), find(rows, "direct", endpoint, 1)
    return round(g.p50_ms - d.p50_ms, 3) if g and d else None


def _check(name: str, value: float | None, limit: str, ok: bool, skip_reason: str = "") -> Target:
    if value is None:
        return Target(name, None, limit, "SKIP", skip_reason or "not measured")
    return Target(name, value, limit, "PASS" if ok else "FAIL")


def evaluate(rows: Sequence[Row], streaming: dict, upload: dict, litellm_note: str) -> list[Target]:
    """Issue 6's targets, each PASS / FAIL (or SKIP when its inputs could not be measured)."""
    tts, stt = ratio(rows, "gateway", "direct", "tts"), ratio(rows, "gateway", "direct", "stt")
    ll_tts, ll_stt = ratio(rows, "gateway", "litellm", "tts"), ratio(rows, "gateway", "litellm", "stt")
    p50 = added_p50(rows, "tts")
    ttfb = streaming.get("ttfb_added_ms")
    rss = streaming.get("rss_peak_mb")
    up = upload.get("rss_added_mb")
    return [
        _check("TTS gateway/direct req/s at c32", tts, ">= 0.5x", tts is not None and tts >= 0.5),
        _check("STT gateway/direct req/s at c32", stt, ">= 0.7x", stt is not None and stt >= 0.7),
        _check("TTS gateway/LiteLLM req/s at c32", ll_tts, ">= 15x", ll_tts is not None and ll_tts >= 15, litellm_note),
        _check("STT gateway/LiteLLM req/s at c32", ll_stt, ">= 15x", ll_stt is not None and ll_stt >= 15, litellm_note),
        _check("TTS added p50 at c1 (ms)", p50, "<= 2 ms", p50 is not None and p50 <= 2),
        _check("Streaming TTFB added (ms)", ttfb, "<= 5 ms", ttfb is not None and ttfb <= 5),
        _check(f"Gateway {streaming.get('memory', 'RSS')}, {streaming.get('streams', 64)} concurrent 2 MB streams (MB)",
               rss, "< 200 MB", rss is not None and rss < 200),
        _check(f"25 MB upload: gateway peak {upload.get('memory', 'RSS')} increase (MB)", up, "< 60 MB",
               up is not None and up < 60),
    ]


def table(header: Sequence[str], body: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in header], *[[("" if c is None else str(c)) for c in row] for row in body]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    line = lambda row: "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells[1:])])


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}x"


def render(rows: Sequence[Row], streaming: dict, upload: dict, targets: Sequence[Target]) -> str:
    load = table(["target", "endpoint", "conc", "req/s", "p50 ms", "p99 ms", "errors"],
                  [[r.target, r.endpoint, r.concurrency, r.note or r.rps, r.p50_ms, r.p99_ms, r.errors] for r in rows])
    ratios = table(
        ["endpoint", "gateway/direct c32", "gateway/litellm c32", "gateway/direct c1", "added p50 c1 (ms)"],
        [[e.upper(), _x(ratio(rows, "gateway", "direct", e)), _x(ratio(rows, "gateway", "litellm", e)),
          _x(ratio(rows, "gateway", "direct", e, 1)), added_p50(rows, e)] for e in ("tts", "stt")])
    stream = table(["measurement", "value"], [[k, v] for k, v in {**streaming, **{f"upload {k}": v for k, v in upload.items()}}.items()])
    verdicts = table(["target", "value", "limit", "result"],
                      [[t.name, t.value, t.limit, t.verdict + (f" ({t.detail[:80]})" if t.detail else "")] for t in targets])
    return "\n\n".join([load, ratios, stream, verdicts]) + "\n"
