"""What an `s3://` file_url may name: the caller's own job objects, or keys the operator opened explicitly.

Every object under the gateway's job prefix (`AUDIO_GATEWAY_S3_PREFIX`) belongs to one key: uploads at
`<prefix><owner>/<job>/input/…`, results at `<prefix><owner>/<job>/output.…`. A key may name those under
its own owner id (or its legacy one, see `JobOwner`); anything else there is another key's and is refused
at submission, whether or not it exists, so the answer says nothing about other keys' objects. Outside the
job prefix a key may be named only when `AUDIO_GATEWAY_S3_READ_ALLOW` lists a prefix of it (settings refuse
entries that reach into the job prefix). With an empty job prefix, job objects are recognised by their
shape, `<owner>/job_<32 hex>/…`, and stay off limits even under an allowed prefix.

Pure: the caller parses the URL (fetch.parse_s3_url, which also refuses `.`/`..` segments).
"""

from __future__ import annotations

import re

from ..errors import PermissionDenied

__all__ = ["check_s3_read"]

_JOB_OBJECT = re.compile(r"[^/]+/job_[0-9a-f]{32}(?:/|$)")


def _in_job_namespace(key: str, job_prefix: str) -> bool:
    if not key.startswith(job_prefix):
        return False
    return bool(job_prefix) or _JOB_OBJECT.match(key) is not None


def check_s3_read(key: str, *, owners: tuple[str, ...], job_prefix: str, allow: tuple[str, ...]) -> None:
    """Return when a key owned by `owners` may read object `key` of the gateway's bucket; else 403."""
    if any(key.startswith(f"{job_prefix}{owner}/") for owner in owners):
        return
    if not _in_job_namespace(key, job_prefix) and any(key.startswith(prefix) for prefix in allow):
        return
    raise PermissionDenied(
        "file_url names an S3 object this API key may not read. An s3:// URL may name your own job inputs and "
        "results, or objects under a prefix the operator allows (AUDIO_GATEWAY_S3_READ_ALLOW).",
        param="file_url")
