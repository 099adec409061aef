"""Gateway settings, read from the environment once and passed explicitly.

Nothing reads `os.environ` after start-up: `Settings.from_env(os.environ)` is called
by the CLI and the result is handed to `create_app`, which keeps tests and
multiple app instances independent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import overload

import msgspec

from .catalog.model import ProviderOverrides
from .keys.model import KeyLimits
from .server_secret import SecretKeyError, ServerSecret, resolve

__all__ = ["Settings", "ClientKey", "SettingsError", "TracingSettings", "parse_api_keys", "owner_id"]


class SettingsError(ValueError):
    """An environment variable has a value the gateway cannot use."""


class ClientKey(msgspec.Struct, frozen=True):
    """An accepted client key. `name` is what logs show; `owner` scopes jobs; the secret never leaves.

    `owner` is made from the name under the server secret (`owner_id`), never from the key's secret: it
    appears in every storage path and presigned URL. `admin` keys (AUDIO_GATEWAY_ADMIN_KEYS) may read
    everyone's usage and manage the gateway."""

    name: str
    secret: str
    owner: str
    admin: bool = False
    # Database keys (keys/): what the key may use and spend. None for environment keys, which are unlimited.
    limits: KeyLimits | None = None

    @property
    def legacy_owner(self) -> str:
        """The owner id jobs and objects got before owner ids were made from names (the first 32 hex of the
        secret's SHA-256). Still accepted for this key, so that what it made then stays its own."""
        return _fingerprint(self.secret)[:32]

    def __repr__(self) -> str:
        return f"ClientKey(name={self.name!r}, secret=<redacted>)"


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def owner_id(secret: ServerSecret, key_name: str) -> str:
    """A key's owner id: 128 bits of HMAC-SHA256 of its name. Stable while the name and secret are; keys
    that share a name share jobs (so a key can be rotated by listing the new secret under the old name)."""
    return secret.derive("owner", key_name)[:32]


def parse_api_keys(raw: str, server_secret: ServerSecret, *, admin: bool = False,
                   variable: str = "AUDIO_GATEWAY_API_KEYS") -> tuple[ClientKey, ...]:
    """`AUDIO_GATEWAY_API_KEYS` / `_ADMIN_KEYS`: comma-separated `secret` or `name:secret` entries.

    Whitespace around names and secrets is dropped (`carol: sk-…` is carol's `sk-…`): no secret
    contains it, and a key that silently never matches is worse than a forgiving parser. Owner ids are
    made from the names under `server_secret`."""
    keys = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        name, sep, secret = entry.partition(":")
        if not sep:
            name, secret = "", entry
        name, secret = name.strip(), secret.strip()
        if not secret:
            raise SettingsError(f"{variable} has an entry with an empty key ({entry!r})")
        if any(ch.isspace() for ch in secret):
            raise SettingsError(f"{variable} has a key containing whitespace (entry for {name or 'an unnamed key'!r})")
        name = name or f"key-{_fingerprint(secret)[:8]}"
        keys.append(ClientKey(name=name, secret=secret, owner=owner_id(server_secret, name), admin=admin))
    return tuple(keys)


def _all_keys(env: Mapping[str, str], secret: ServerSecret) -> tuple[ClientKey, ...]:
    """Client keys, then admin keys; a secret listed in both is an admin key."""
    admins = parse_api_keys(env.get("AUDIO_GATEWAY_ADMIN_KEYS", ""), secret, admin=True,
                            variable="AUDIO_GATEWAY_ADMIN_KEYS")
    admin_secrets = {key.secret for key in admins}
    clients = tuple(k for k in parse_api_keys(env.get("AUDIO_GATEWAY_API_KEYS", ""), secret)
                    if k.secret not in admin_secrets)
    return clients + admins


def _server_secret(env: Mapping[str, str], data_dir: Path) -> ServerSecret:
    try:
        return resolve(env.get("AUDIO_GATEWAY_SECRET_KEY"), data_dir)
    except SecretKeyError as exc:
        raise SettingsError(str(exc)) from None


@overload
def _float(env: Mapping[str, str], name: str, default: float) -> float: ...
@overload
def _float(env: Mapping[str, str], name: str, default: None) -> float | None: ...
def _float(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _at_least_one(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise SettingsError(f"{name} must be at least 1, got {value}")
    return value


def _switch(env: Mapping[str, str], name: str) -> bool | None:
    """on/off (true/false, 1/0); unset means "as the catalog says"."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise SettingsError(f"{name} must be on or off, got {raw!r}")


def _s3_read_allow(raw: str, s3_prefix: str) -> tuple[str, ...]:
    """Key prefixes an s3:// file_url may name besides the caller's own job objects. None may reach into the
    gateway's job prefix: there every object belongs to some key, and only that key may read it."""
    prefixes = tuple(p.strip() for p in raw.split(",") if p.strip())
    for prefix in prefixes:
        if s3_prefix and (prefix.startswith(s3_prefix) or s3_prefix.startswith(prefix)):
            raise SettingsError(f"AUDIO_GATEWAY_S3_READ_ALLOW entry {prefix!r} overlaps the job prefix "
                                f"AUDIO_GATEWAY_S3_PREFIX={s3_prefix!r}, whose objects only their own key may read")
    return prefixes
class TracingSettings(msgspec.Struct, frozen=True, kw_only=True):
    """OpenTelemetry's own variables decide: spans are made and exported over OTLP/HTTP when an endpoint is
    set (`OTEL_EXPORTER_OTLP_ENDPOINT` or `..._TRACES_ENDPOINT`), unless `OTEL_SDK_DISABLED=true` or
    `OTEL_TRACES_EXPORTER=none`. The exporter reads the rest (headers, timeout, compression) itself."""

    enabled: bool = False
    service_name: str = "audio-gateway"
    endpoint: str = ""        # where spans are POSTed: the traces endpoint, or the base endpoint + /v1/traces

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TracingSettings:
        traces, base = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""), env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
        endpoint = traces or (base.rstrip("/") + "/v1/traces" if base else "")
        disabled = env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
        exporters = {e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",")}
        enabled = bool(endpoint) and not disabled and "none" not in exporters
        protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                    or "http/protobuf").strip().lower()
        if enabled and protocol != "http/protobuf":
            raise SettingsError(f"OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r} is not supported; the gateway exports "
                                "traces over OTLP/HTTP (http/protobuf, port 4318 on a collector)")
        return cls(enabled=enabled, service_name=env.get("OTEL_SERVICE_NAME") or "audio-gateway", endpoint=endpoint)


def _port(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    value = _int(env, name, 0)
    if not 1 <= value <= 65535:
        raise SettingsError(f"{name} must be a TCP port (1-65535), got {raw!r}")
    return value


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    catalog_dir: Path = Path("catalog")
    # Where the gateway keeps its own files (the embedded SQLite ledger, spill files); created on demand.
    data_dir: Path = Path("data")
    # The billing ledger: unset means an SQLite file in data_dir; postgresql://… to share one between replicas.
    database_url: str | None = None
    db_auto_upgrade: bool = True
    ledger_flush_seconds: float = 1.0
    # AUDIO_GATEWAY_SECRET_KEY, else <data_dir>/secret_key (made on first start): owner ids, signed sessions.
    secret_key: ServerSecret | None = None
    api_keys: tuple[ClientKey, ...] = ()
    provider_overrides: ProviderOverrides = ProviderOverrides()
    log_level: str = "INFO"
    # Resilience bounds: a whole fallback chain, a silent client, and in-flight work at shutdown.
    request_deadline_seconds: float = 60.0
    client_timeout_seconds: float = 30.0
    shutdown_grace_seconds: float = 30.0
    max_header_bytes: int = 64 * 1024
    # Connections one serve process holds at once; past it requests get 503 and new connections a short leash.
    max_connections: int = 1000
    # `serve` processes: above 1, forked from one parent that started up once (prefork.py).
    workers: int = 1
    # Budgets and rate limits (issue 12): shared by every replica in this Redis; unset, each process keeps its own.
    redis_url: str | None = None
    keys_poll_seconds: float = 1.0
    # Async jobs (optional: without a queue URL /v1/jobs answers 503).
    queue_url: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str = ""
    presign_expiry_seconds: int = 900
    job_retention_seconds: int = 7 * 24 * 3600
    worker_concurrency: int = 4
    job_attempts: int = 3
    job_retry_delay_seconds: float = 1.0
    job_retry_backoff_cap_seconds: float = 20.0
    job_timeout_seconds: int = 1800
    job_heartbeat_seconds: int = 10
    worker_sweep_seconds: int = 10
    job_piece_concurrency: int = 4
    # S3 (standard AWS variables; an S3-compatible endpoint via AWS_ENDPOINT_URL[_S3]).
    s3_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = msgspec.field(default=None)
    # file_url jobs may only fetch public hosts unless these hosts/CIDRs are allowed (comma-separated).
    file_url_allow: tuple[str, ...] = ()
    # s3:// file_urls may name the caller's own job objects, and keys under these prefixes (outside s3_prefix).
    s3_read_allow: tuple[str, ...] = ()
    # Prometheus metrics (GET /metrics; an admin key when client keys are set), and a second listener on
    # 127.0.0.1 that serves them without a key. Traces: OpenTelemetry's standard variables.
    metrics_enabled: bool = True
    metrics_port: int | None = None
    tracing: TracingSettings = TracingSettings()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        data_dir = Path(env.get("AUDIO_GATEWAY_DATA_DIR") or "data")
        secret_key = _server_secret(env, data_dir)
        s3_prefix = env.get("AUDIO_GATEWAY_S3_PREFIX", "")
        return cls(
            catalog_dir=Path(env.get("AUDIO_GATEWAY_CATALOG") or "catalog"),
            data_dir=data_dir,
            database_url=env.get("AUDIO_GATEWAY_DATABASE_URL", "").strip() or None,
            db_auto_upgrade=_switch(env, "AUDIO_GATEWAY_DB_AUTO_UPGRADE") is not False,
            ledger_flush_seconds=_float(env, "AUDIO_GATEWAY_LEDGER_FLUSH_INTERVAL", 1.0) or 1.0,
            secret_key=secret_key,
            api_keys=_all_keys(env, secret_key),
            provider_overrides=ProviderOverrides(
                upstream_timeout=_float(env, "AUDIO_GATEWAY_UPSTREAM_TIMEOUT", None),
                breaker_enabled=_switch(env, "AUDIO_GATEWAY_CIRCUIT_BREAKER"),
                breaker_threshold=_int(env, "AUDIO_GATEWAY_BREAKER_THRESHOLD", 0) or None,
                breaker_cooldown=_float(env, "AUDIO_GATEWAY_BREAKER_COOLDOWN", None),
            ),
            log_level=(env.get("AUDIO_GATEWAY_LOG_LEVEL") or "INFO").upper(),
            request_deadline_seconds=_float(env, "AUDIO_GATEWAY_REQUEST_DEADLINE", 60.0),
            client_timeout_seconds=_float(env, "AUDIO_GATEWAY_CLIENT_TIMEOUT", 30.0),
            shutdown_grace_seconds=_float(env, "AUDIO_GATEWAY_SHUTDOWN_GRACE", 30.0),
            max_header_bytes=_int(env, "AUDIO_GATEWAY_MAX_HEADER_BYTES", 64 * 1024),
            max_connections=_at_least_one(env, "AUDIO_GATEWAY_MAX_CONNECTIONS", 1000),
            workers=_at_least_one(env, "AUDIO_GATEWAY_WORKERS", 1),
            redis_url=env.get("AUDIO_GATEWAY_REDIS_URL", "").strip() or None,
            keys_poll_seconds=_float(env, "AUDIO_GATEWAY_KEYS_POLL_INTERVAL", 1.0) or 1.0,
            queue_url=env.get("AUDIO_GATEWAY_QUEUE_URL") or None,
            s3_bucket=env.get("AUDIO_GATEWAY_S3_BUCKET") or None,
            s3_prefix=s3_prefix,
            presign_expiry_seconds=_int(env, "AUDIO_GATEWAY_PRESIGN_EXPIRY", 900),
            job_retention_seconds=_int(env, "AUDIO_GATEWAY_JOB_RETENTION", 7 * 24 * 3600),
            worker_concurrency=_int(env, "AUDIO_GATEWAY_WORKER_CONCURRENCY", 4),
            job_attempts=_int(env, "AUDIO_GATEWAY_JOB_ATTEMPTS", 3),
            job_retry_delay_seconds=_float(env, "AUDIO_GATEWAY_JOB_RETRY_DELAY", 1.0),
            job_retry_backoff_cap_seconds=_float(env, "AUDIO_GATEWAY_JOB_RETRY_BACKOFF_CAP", 20.0),
            job_timeout_seconds=_int(env, "AUDIO_GATEWAY_JOB_TIMEOUT", 1800),
            job_heartbeat_seconds=_int(env, "AUDIO_GATEWAY_JOB_HEARTBEAT", 10),
            worker_sweep_seconds=_int(env, "AUDIO_GATEWAY_WORKER_SWEEP", 10),
            job_piece_concurrency=_int(env, "AUDIO_GATEWAY_JOB_PIECE_CONCURRENCY", 4),
            s3_endpoint_url=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None,
            aws_region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1",
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            file_url_allow=tuple(p.strip() for p in env.get("AUDIO_GATEWAY_FILE_URL_ALLOW", "").split(",") if p.strip()),
            s3_read_allow=_s3_read_allow(env.get("AUDIO_GATEWAY_S3_READ_ALLOW", ""), s3_prefix),
            metrics_enabled=_switch(env, "AUDIO_GATEWAY_METRICS") is not False,
            metrics_port=_port(env, "AUDIO_GATEWAY_METRICS_PORT"),
            tracing=TracingSettings.from_env(env),
        )

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys)

    @property
    def limits_url(self) -> str | None:
        """Where keys' budgets and rate limits live: AUDIO_GATEWAY_REDIS_URL, else the jobs' Redis when jobs
        are on (their workers settle job reservations there), else None: each process on its own."""
        return self.redis_url or (self.queue_url if self.jobs_enabled else None)

    @property
    def jobs_enabled(self) -> bool:
        return bool(self.queue_url and self.s3_bucket)

    def __repr__(self) -> str:  # secrets stay out of logs and tracebacks
        return f"Settings(catalog_dir={str(self.catalog_dir)!r}, api_keys=<{len(self.api_keys)} redacted>, queue_url=..., s3_bucket={self.s3_bucket!r})"
