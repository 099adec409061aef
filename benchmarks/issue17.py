"""Issue 17's figures and targets from the rounds of one run, and their tables. Pure functions.

Every figure is computed per round (a ratio from the two req/s of the same round, so both sides saw
the same machine) and then summarised over the rounds as median (min–max); verdicts use the median.

"STT CPU per uploaded MB is flat" is judged on the cost's per-byte part (see upload_cost.py): PASS
when (a) the marginal CPU per MB from 10 s to 100 s is no more than 1.25x that from 1 s to 10 s
(the cost is a fixed part plus a constant per-byte part, so CPU per MB levels off as uploads grow,
rather than rising), and (b) that per-byte part is at most 2x the fake provider's, which receives the
same bytes and only copies them: the gateway takes every byte in and sends it out again, and (b)
allows it just that much per byte.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import msgspec

from .report import Row, added_p50, find, ratio, table
from .rounds import Round
from .spread import Spread, number, spread
from .upload_cost import SizeCost

__all__ = ["Verdict", "evaluate17", "figures", "render17"]

Figures = dict[str, float | None]


class Verdict(msgspec.Struct, frozen=True):
    name: str
    value: str
    limit: str
    verdict: str  # PASS | FAIL | SKIP
    note: str = ""


def _rps(rows: Sequence[Row], target: str, endpoint: str) -> float | None:
    row = find(rows, target, endpoint, 32)
    return row.rps if row else None


def _marginal(a: SizeCost, b: SizeCost, cpu: Callable[[SizeCost], float]) -> float | None:
    """Per-byte CPU between two sizes, ms per MB: (CPU per request b - a) / (MB per request b - a)."""
    mb_a, mb_b = a.mb / a.requests, b.mb / b.requests
    return round(1000 * (cpu(b) / b.requests - cpu(a) / a.requests) / (mb_b - mb_a), 3) if mb_b > mb_a else None


def _cost_figures(r: Round) -> Figures:
    sizes = {s.audio_seconds: s for s in r.upload_cost.sizes} if r.upload_cost else {}
    out: Figures = {}
    for seconds in (1, 10, 100):
        s = sizes.get(seconds)
        ok = s is not None and s.statuses == {"200": s.requests}
        out[f"cpu_ms_per_mb_{seconds}s"] = s.gateway_ms_per_mb if ok else None
        out[f"cpu_ms_per_request_{seconds}s"] = round(1000 * s.gateway_cpu_s / s.requests, 3) if ok else None
        out[f"fake_ms_per_mb_{seconds}s"] = s.fake_ms_per_mb if ok else None
    both = lambda a, b: a in sizes and b in sizes and out[f"cpu_ms_per_mb_{a}s"] is not None \
        and out[f"cpu_ms_per_mb_{b}s"] is not None  # noqa: E731
    out["marginal_1_10"] = _marginal(sizes[1], sizes[10], lambda s: s.gateway_cpu_s) if both(1, 10) else None
    out["marginal_10_100"] = _marginal(sizes[10], sizes[100], lambda s: s.gateway_cpu_s) if both(10, 100) else None
    out["fake_marginal_10_100"] = _marginal(sizes[10], sizes[100], lambda s: s.fake_cpu_s) if both(10, 100) else None
    return out


def figures(r: Round) -> Figures:
    """The figures of one round (None where a side was not measured or failed)."""
    rows = r.rows
    out: Figures = {f"{e}_{t}_rps": _rps(rows, t, e) for e in ("tts", "stt")
                    for t in ("direct", "gateway", "litellm", "portkey")}
    out |= {"tts_vs_litellm": ratio(rows, "gateway", "litellm", "tts"),
            "stt_vs_litellm": ratio(rows, "gateway", "litellm", "stt"),
            "stt_vs_portkey": ratio(rows, "gateway", "portkey", "stt"),
            "tts_added_p50_c1_ms": added_p50(rows, "tts")}
    scaled = _rps(r.scale_rows, f"gateway-w{r.scale_workers}", "tts") if r.scale_workers else None
    one = out["tts_gateway_rps"]
    out["tts_scaled_rps"] = scaled
    out["stt_scaled_rps"] = _rps(r.scale_rows, f"gateway-w{r.scale_workers}", "stt") if r.scale_workers else None
    out["workers_scaling"] = round(scaled / one, 3) if scaled and one else None
    return out | _cost_figures(r)


def _spreads(rounds: Sequence[Round]) -> dict[str, Spread]:
    per_round = [figures(r) for r in rounds]
    return {key: spread([f[key] for f in per_round]) for key in per_round[0]} if per_round else {}


def _at_least(name: str, s: Spread, limit: float, unit: str, note: str = "", extra_ok: bool = True,
              extra_note: str = "") -> Verdict:
    if s.median is None:
        return Verdict(name, "n/a", f">= {limit:g}{unit}", "SKIP", note or "not measured")
    ok = s.median >= limit
    return Verdict(name, s.text(unit), f">= {limit:g}{unit}", "PASS" if ok and extra_ok else "FAIL",
                   extra_note if ok and not extra_ok else "")


def _flat(sp: dict[str, Spread]) -> Verdict:
    name, limit = "STT CPU per uploaded MB, 1 s → 10 s → 100 s WAV", "flat: per-byte part levels off, <= 2x the fake's"
    m1, m2, fake = sp["marginal_1_10"].median, sp["marginal_10_100"].median, sp["fake_marginal_10_100"].median
    medians = [sp[f"cpu_ms_per_mb_{s}s"].median for s in (1, 10, 100)]
    value = " → ".join("n/a" if m is None else number(m) for m in medians) + " ms/MB (medians)"
    if m1 is None or m2 is None or fake is None:
        return Verdict(name, value, limit, "SKIP", "not measured")
    levels, copy_only = m2 <= 1.25 * m1, m2 <= 2 * fake
    note = (f"per-byte part {number(m1)} → {number(m2)} ms/MB ({'levels off' if levels else 'grows'}); "
            f"{number(m2 / fake)}x the fake's {number(fake)} ms/MB ({'<=' if copy_only else '>'} 2x)")
    return Verdict(name, value, limit, "PASS" if levels and copy_only else "FAIL", note)


def evaluate17(rounds: Sequence[Round], notes: dict[str, str]) -> list[Verdict]:
    """Issue 17's targets, judged on the medians over the rounds."""
    sp = _spreads(rounds)
    ledger_on = bool(rounds) and all(r.ledger_on for r in rounds)
    added = sp["tts_added_p50_c1_ms"]
    w = rounds[0].scale_workers if rounds else None
    return [
        _at_least("TTS req/s, gateway / LiteLLM (c32)", sp["tts_vs_litellm"], 20, "x", notes.get("litellm", "")),
        _at_least("STT req/s, gateway / LiteLLM (c32)", sp["stt_vs_litellm"], 8, "x", notes.get("litellm", "")),
        _at_least("STT req/s, gateway / Portkey (c32)", sp["stt_vs_portkey"], 2, "x", notes.get("portkey", "")),
        Verdict("TTS added p50 at c1", added.text(" ms"), "<= 0.4 ms",
                "SKIP" if added.median is None else "PASS" if added.median <= 0.4 else "FAIL"),
        _at_least(f"`--workers {w or 'N'}` / one process, TTS c32", sp["workers_scaling"], 1.9, "x",
                  "not run" if not w else "", ledger_on,
                  "the ratio is met, but the ledger was off: the target needs it on"),
        _flat(sp),
    ]


def _load_table(rounds: Sequence[Round]) -> str:
    keys: dict[tuple[str, str, int], list[Row]] = {}
    for r in rounds:
        for row in [*r.rows, *r.scale_rows]:
            keys.setdefault((row.target, row.endpoint, row.concurrency), []).append(row)
    body = []
    for (target, endpoint, conc), rows in keys.items():
        good = [row for row in rows if not row.note]
        measured = [row for row in rows if not row.note.startswith("skipped")]
        rps = spread([row.rps for row in (good or measured)])
        body.append([target, endpoint, conc, rps.text() if measured else "-",
                     spread([row.p50_ms for row in good]).text(), spread([row.p99_ms for row in good]).text(),
                     next((row.note for row in rows if row.note), "")])
    return table(["target", "endpoint", "conc", "req/s", "p50 ms", "p99 ms", "note"], body)


_SHOWN = [("tts_vs_litellm", "TTS c32 gateway / LiteLLM", "x"), ("stt_vs_litellm", "STT c32 gateway / LiteLLM", "x"),
          ("stt_vs_portkey", "STT c32 gateway / Portkey", "x"), ("tts_added_p50_c1_ms", "TTS added p50 at c1", " ms"),
          ("tts_scaled_rps", "TTS c32 req/s, gateway of {n} processes", ""),
          ("workers_scaling", "TTS c32, {n} processes / one", "x"),
          ("stt_scaled_rps", "STT c32 req/s, gateway of {n} processes", "")]


def _statuses(rounds: Sequence[Round], target: str, endpoint: str) -> str:
    total: Counter[str] = Counter()
    for r in rounds:
        for row in r.rows:
            if (row.target, row.endpoint) == (target, endpoint):
                total.update(row.statuses)
    return ", ".join(f"HTTP {s} x{n:,}" for s, n in sorted(total.items()))


def render17(rounds: Sequence[Round], verdicts: Sequence[Verdict], notes: dict[str, str]) -> str:
    sp = _spreads(rounds)
    n = len(rounds)
    head = f"Issue 17: {n} round{'s' if n != 1 else ''}; each figure is the median (min–max) over the rounds."
    w = rounds[0].scale_workers if rounds else None
    figs = table(["figure", "value"], [[label.format(n=w or "N"), sp[key].text(unit)] for key, label, unit in _SHOWN])
    cost = table(["WAV", "gateway CPU ms / request", "gateway CPU ms / MB", "fake CPU ms / MB"],
                 [[f"{s} s", sp[f"cpu_ms_per_request_{s}s"].text(), sp[f"cpu_ms_per_mb_{s}s"].text(),
                   sp[f"fake_ms_per_mb_{s}s"].text()] for s in (1, 10, 100)])
    per_byte = (f"Per-byte part (marginal CPU per MB): gateway {sp['marginal_1_10'].text()} ms/MB from 1 s to 10 s, "
                f"{sp['marginal_10_100'].text()} from 10 s to 100 s; the fake provider {sp['fake_marginal_10_100'].text()}.")
    busy = ", ".join(f"{r.others_cores:g}" for r in rounds)
    lines = [f"CPUs kept busy by other processes on the machine (not the benchmark's), average per round: {busy}."
             if n else ""]
    lines += [f"Ledger in the {w}-process gateway: {'; '.join(sorted({r.ledger for r in rounds}))}."] if w else []
    lines = [line for line in lines if line]
    if pk := _statuses(rounds, "portkey", "tts"):
        lines.append(f"Portkey TTS, all rounds and concurrencies: {pk}.")
    lines += [f"{peer}: {note}" for peer, note in notes.items() if note]
    verdict_table = table(["target (issue 17)", "value", "limit", "result"],
                          [[v.name, v.value, v.limit, v.verdict + (f" ({v.note})" if v.note else "")] for v in verdicts])
    costs = [cost, per_byte] if any(r.upload_cost for r in rounds) else []
    parts = [head, _load_table(rounds), figs, *costs, "\n".join(lines), verdict_table]
    return "\n\n".join(part for part in parts if part) + "\n"
