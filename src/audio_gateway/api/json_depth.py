"""How deeply a JSON body nests, checked before it is parsed.

msgspec parses nested arrays and objects recursively, guarded only by Python's recursion limit: where it
gives up (RecursionError) moves with the stack it is called from, and its maintainers leave bounding it
to the application (msgspec#1033). Our bodies nest two levels; MAX_JSON_DEPTH is a fixed limit far below
Python's, so a deep body always gets the same 400 whichever endpoint or thread parses it.

An ordinary body costs two `bytes.count` calls: with fewer brackets in all than the limit it cannot nest
deeper. A body with more is measured exactly, mostly in C: strings are cut out (their brackets are text)
and brackets kept as `(`/`)`. A run of more opening brackets than the limit settles it at once. Passes of
`replace("()", "")` then lower every peak by one level each (the body is padded with `)` so that every
peak is the middle of a `()`), while they still shrink it much. What is left is walked in segments: a
segment whose opening brackets cannot lift the running depth over the limit is skipped on one `count`;
others are split, down to a few bytes walked one by one. A 2 MiB body of the worst shapes found costs up
to ~0.2 s of CPU (hence api.errors runs large bodies off the event loop); an ordinary one, microseconds.
"""

from __future__ import annotations

import re

__all__ = ["MAX_JSON_DEPTH", "nests_deeper_than"]

MAX_JSON_DEPTH = 64

# A string runs to its closing quote or to the end of the body; possessive, so it is one linear scan.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.?)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_AS_PARENS = bytes.maketrans(b"[]{}", b"()()")
_OPEN = 0x28
_SEGMENT, _SPLIT, _LEAF, _PASSES = 4096, 8, 16, 12


def nests_deeper_than(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when arrays/objects in `body` nest more than `limit` levels (brackets in strings don't count).

    Exact for well-formed JSON; for brackets that do not balance it may answer True (the body is refused
    either way)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", body).translate(_AS_PARENS, _NOT_BRACKETS)
    if b"(" * (limit + 1) in brackets:
        return True
    brackets += b")" * (limit + 1)
    for _ in range(_PASSES):
        reduced = brackets.replace(b"()", b"")
        if len(reduced) == len(brackets):
            return limit < 0  # no peak left: the passes so far were the whole depth
        shrunk = len(brackets) - len(reduced)
        brackets, limit = reduced, limit - 1
        if limit < 0:
            return True
        if shrunk * 16 < len(brackets):
            break  # peaks are few now: segments are cheaper than more passes
    return _walk_exceeds(brackets, limit)


def _walk_exceeds(brackets: bytes, limit: int) -> bool:
    depth = 0
    pending = [(lo, min(lo + _SEGMENT, len(brackets))) for lo in reversed(range(0, len(brackets), _SEGMENT))]
    while pending:
        lo, hi = pending.pop()
        opens = brackets.count(b"(", lo, hi)
        if depth + opens <= limit:
            depth += 2 * opens - (hi - lo)
        elif hi - lo <= _LEAF:
            for byte in brackets[lo:hi]:
                depth += 1 if byte == _OPEN else -1
                if depth > limit:
                    return True
        else:
            step = -(-(hi - lo) // _SPLIT)
            pending.extend((start, min(start + step, hi)) for start in reversed(range(lo, hi, step)))
    return False
