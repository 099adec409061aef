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
    native: bool = False     # its frames are C frames: priced only on a --profile-native profile


_SOCKET_WRITE = r"RequestResponseCycle\.send|StreamWriter\._write|StreamWriter\._writelines|_SelectorSocketTransport"
# py-spy names the gateway's audio_gateway/api modules by their bare file name
_OURS = r"\(audio_gateway/|\((context|client_timeout|auth|speech|transcriptions|billing_headers|errors)\.py"
_HEADS = (r"Upstream\.request|Headers\.__init__ \(httpx|Response\.__init__ \(httpx|Headers\.multi_items"
          r"|update_headers|update_auto_headers|update_host|\(yarl/|aiohttp\.client\.ClientTimeout"
          r"|StreamWriter\.write_headers")  # aiohttp serialises each request head in C: its self time
_RECEIVE_TIMEOUT = r"bounded_receive"
_LOGGING = r"Handler\.handle|StreamHandler|Formatter\.|Handler\.format|callHandlers"

# With C frames: a system call writing to a socket stays whatever changes, and the collector is a
# candidate of its own (the others would allocate less and so trigger it less, which is not counted).
_SYSCALL_WRITE = re.compile(r"^(write|writev|send|sendmsg|sendto|__libc_write|uv__try_write|uv_try_write) \(")
_COLLECTOR = re.compile(r"^(gc_collect_main|collect_main|gc_collect_impl|collect_with_callback) ")


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
    # not in the list; found in the profile. The first two need C frames (--profile-native).
    Candidate("gc.freeze() after start-up with one process too (all collections; the full ones dominate)", "tts",
              _COLLECTOR.pattern, native=True),
    Candidate("gc.freeze() after start-up with one process too (all collections; the full ones dominate)", "stt",
              _COLLECTOR.pattern, native=True),
    Candidate("client timeout: one deadline per request, not an asyncio.timeout per receive()", "tts",
              _RECEIVE_TIMEOUT, unless_leaf=r"HttpToolsProtocol|RequestResponseCycle\.receive"),
    Candidate("client timeout: one deadline per request, not an asyncio.timeout per receive()", "stt",
              _RECEIVE_TIMEOUT, unless_leaf=r"HttpToolsProtocol|RequestResponseCycle\.receive"),
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
    is_collector = on is not None and on.pattern == _COLLECTOR.pattern
    samples = _samples(raw)
    total = sum(n for _, n in samples)
    hit = sum(n for frames, n in samples
              if any(on.search(f) for f in frames)  # type: ignore[union-attr]
              and not (unless and any(unless.search(f) for f in frames))
              and not (leaf and leaf.search(frames[-1]))
              and not _SYSCALL_WRITE.search(frames[-1])
              and (is_collector or not any(_COLLECTOR.search(f) for f in frames)))
    return hit / total if total else 0.0


def _is_native(frame: str) -> bool:
    where = frame.partition(" (")[2]
    return ".py" not in where and not where.startswith("<")


def render_prices(raws: dict[str, Path]) -> str:
    """`raws`: endpoint -> py-spy raw file. One line per candidate, largest share first."""
    texts = {endpoint: path.read_text() for endpoint, path in raws.items()}
    native = {endpoint: any(_is_native(f) for frames, _ in _samples(text) for f in frames)
              for endpoint, text in texts.items()}
    priced = [(price(c, texts[c.endpoint]) if native[c.endpoint] or not c.native else None, c)
              for c in CANDIDATES if c.endpoint in texts]
    lines = [f"{'  n/a ' if share is None else f'{100 * share:5.1f}%'}  {c.endpoint.upper()}  {c.name}"
             + (" (needs --profile-native)" if share is None else "")
             for share, c in sorted(priced, key=lambda p: 1.0 if p[0] is None else -p[0])]
    return "Issue 17 candidates, share of gateway samples in the frames each would remove (an upper bound):\n" + \
        "\n".join(lines) + "\n"
