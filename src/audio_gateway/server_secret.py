"""The gateway's own secret: what owner ids are made from, and what console sessions are signed with.

`AUDIO_GATEWAY_SECRET_KEY` gives it. Without it the gateway makes one on first start and keeps it in
`<data_dir>/secret_key` (mode 0600), so a single machine needs no set-up; replicas and workers on other
machines would each make their own, hence the warning `serve` logs when the secret came from the file.

Values are derived with HMAC-SHA256 under the secret and a purpose label (`derive("owner", name)`), so
one secret serves several uses without one use's output ever being valid for another.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

__all__ = ["ServerSecret", "SecretKeyError", "load_or_create", "resolve", "MIN_LENGTH", "FILE_NAME"]

MIN_LENGTH = 32
FILE_NAME = "secret_key"
ENV_VAR = "AUDIO_GATEWAY_SECRET_KEY"


class SecretKeyError(ValueError):
    """The configured secret (or the file holding it) cannot be used."""


class ServerSecret:
    """The secret and where it came from (`origin`: the variable's name, or the file's path). Never printed."""

    __slots__ = ("_value", "origin", "created")

    def __init__(self, value: str, *, origin: str = ENV_VAR, created: bool = False):
        if len(value) < MIN_LENGTH:
            raise SecretKeyError(f"{origin} must be at least {MIN_LENGTH} characters (make one with "
                                 "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
        self._value = value.encode()
        self.origin = origin
        self.created = created

    @property
    def from_file(self) -> bool:
        return self.origin != ENV_VAR

    def derive(self, purpose: str, message: str) -> str:
        """Hex HMAC-SHA256 of `message` for `purpose`: stable for one secret, unguessable without it."""
        return hmac.new(self._value, f"{purpose}\x00{message}".encode(), hashlib.sha256).hexdigest()

    def warn_if_local(self, log: logging.Logger) -> None:
        """A secret from the data directory is this machine's alone: say so where operators look."""
        if self.from_file:
            log.warning("%s is not set: using the secret in %s%s. Every replica and worker must share one secret "
                        "(owner ids and storage paths are made from it, console sessions signed with it): set %s on "
                        "multi-replica deployments.",
                        ENV_VAR, self.origin, " (created now)" if self.created else "", ENV_VAR)

    def __repr__(self) -> str:
        return f"ServerSecret(origin={self.origin!r}, value=<redacted>)"


def load_or_create(data_dir: Path) -> ServerSecret:
    """The secret kept in `<data_dir>/secret_key`, made (and the directory created) if there is none yet.

    A new secret is written to a private temporary file and linked into place, so processes starting
    together never read a half-written file, and exactly one of them wins; the others read its secret."""
    path = data_dir / FILE_NAME
    created = False
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        temporary = data_dir / f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
                created = True
        finally:
            temporary.unlink(missing_ok=True)
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise SecretKeyError(f"{path} cannot be read ({exc.strerror}); fix it or set {ENV_VAR}") from None
    if path.stat().st_mode & 0o077:
        logging.getLogger("audio_gateway").warning("%s is readable by other users; `chmod 600` it", path)
    return ServerSecret(value, origin=str(path), created=created)


def resolve(env_value: str | None, data_dir: Path) -> ServerSecret:
    """`AUDIO_GATEWAY_SECRET_KEY` when set (surrounding whitespace dropped), else the data directory's."""
    value = (env_value or "").strip()
    return ServerSecret(value) if value else load_or_create(data_dir)
