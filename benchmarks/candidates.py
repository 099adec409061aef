"""Issue 17's optimisation candidates, priced from a py-spy profile before anyone writes them.

Each candidate names the frames whose work it would remove, as regular expressions over py-spy's
`function (path:line)` frames. Its share is the fraction of samples that have such a frame on the
stack, minus those whose innermost frame is work that stays whatever the change (writing bytes to a
socket, our own handler code, the audio probe): an upper bound of what the change saves in CPU per
request. Real savings are lower, since the replacement costs something too; PROFILE-NOTES.md says by
how much for each. Pure functions over the raw (collapsed-stack) file `--profile` writes.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

__all__ = ["CANDIDATES", "Candidate", "price", "render_prices"]


class Candidate(msgspec.Struct, frozen=True):
    name: str
    endpoint: str            # tts | stt: the profile it is priced on
    on_stack: str            # a sample counts when one of its frames matches...
    unless_stack: str = ""   # ...and none of its frames matches this
    unless_leaf: str = ""    # ...and its innermost frame does not match this


_SOCKET_WRITE = r"RequestResponseCycle\.send|StreamWriter\._write|StreamWriter\._writelines|_SelectorSocketTransport"
# py-spy names the gateway's audio_gateway/api modules by their bare file name
_OURS = r"\(audio_gateway/|\((context|client_timeout|auth|speech|transcriptions|billing_headers|errors)\.py"
_HEADS = (r"Upstream\.request|Headers\.__init__ \(httpx|Response\.__init__ \(httpx|Headers\.multi_items"
          r"|update_headers|update_auto_headers|update_host|\(yarl/|aiohttp\.client\.ClientTimeout")
_LOGGING = r"Handler\.handle|StreamHandler|Formatter\.|Handler\.format|callHandlers"

CANDIDATES = (
    Candidate("forward the file part without re-encoding the multipart body", "stt",
              r"httpx/_multipart\.py|encode_multipart_data|aiohttp/payload\.py", unless_leaf=_SOCKET_WRITE),
    Candidate("keep small uploads in memory (no spool file, probe inline)", "stt",
              r"tempfile\.py|anyio/to_thread\.py|run_sync_in_worker_thread|WorkerThread\.|_WorkItem|thread\.py",
              unless_stack=r"probe_audio"),
    Candidate("speech hot path off Litestar's per-response machinery", "tts",
              r"\(litestar/", unless_stack=r"create_speech", unless_leaf=_SOCKET_WRITE + "|" + _OURS),
    Candidate("build upstream request heads once per target", "tts", _HEADS),
    Candidate("build upstream request heads once per target", "stt", _HEADS,
              unless_stack=r"_multipart\.py|encode_multipart_data"),
    Candidate("queue-handler access logging (format and write off the loop)", "tts", _LOGGING),
    Candidate("queue-handler access logging (format and write off the loop)", "stt", _LOGGING),
)


def _samples(raw: str) -> list[tuple[list[str], int]]:
    out = []
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if " (" in f]
        if count.isdigit() and frames:
            out.append((frames, int(count)))
    return out


def price(candidate: Candidate, raw: str) -> float:
    """Share (0–1) of the profile's samples the candidate's frames account for."""
    on, unless, leaf = (re.compile(p) if p else None for p in (candidate.on_stack, candidate.unless_stack,
                                                               candidate.unless_leaf))
    samples = _samples(raw)
    total = sum(n for _, n in samples)
    hit = sum(n for frames, n in samples
              if any(on.search(f) for f in frames)  # type: ignore[union-attr]
              and not (unless and any(unless.search(f) for f in frames))
              and not (leaf and leaf.search(frames[-1])))
    return hit / total if total else 0.0


def render_prices(raws: dict[str, Path]) -> str:
    """`raws`: endpoint -> py-spy raw file. One line per candidate, largest share first."""
    priced = [(price(c, raws[c.endpoint].read_text()), c) for c in CANDIDATES if c.endpoint in raws]
    lines = [f"{100 * share:5.1f}%  {c.endpoint.upper()}  {c.name}" for share, c in sorted(priced, key=lambda p: -p[0])]
    return "Issue 17 candidates, share of gateway samples in the frames each would remove (an upper bound):\n" + \
        "\n".join(lines) + "\n"
