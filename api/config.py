"""Configuration from the environment.

Embedded mode (SQLite, no ``REDIS_URL``) generates missing keys once and keeps
them in the instance folder with owner-only permissions; with PostgreSQL a
missing key stops start-up with a message naming it.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from workflow.errors import ConfigurationError
from workflow.platform import archives, liveness
from workflow.platform.crypto import generate_key
from workflow.risk.screening.names import Thresholds

REQUIRED_KEYS = ("SECRET_KEY", "RISKLOOP_ENCRYPTION_KEYS", "RISKLOOP_AUDIT_KEY")


def default_definitions_dir() -> str:
    import definitions

    return str(Path(definitions.__file__).parent)


def load(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    env = os.environ
    overrides = dict(overrides or {})
    db_url = (
        overrides.get("DATABASE_URL")
        or env.get("DATABASE_URL")
        or (f"sqlite:///{Path(instance_path) / 'riskloop.sqlite'}")
    )
    if db_url.startswith("postgres://"):
        db_url = "postgresql://" + db_url[len("postgres://") :]
    if db_url.startswith("postgresql://"):
        db_url = "postgresql+psycopg://" + db_url[len("postgresql://") :]
    config: dict[str, Any] = {
        "DATABASE_URL": db_url,
        "REDIS_URL": env.get("REDIS_URL") or None,
        "RISKLOOP_TIMEZONE": env.get("RISKLOOP_TIMEZONE", "Asia/Shanghai"),
        # The nightly alert digest's time of day (HH:MM in RISKLOOP_TIMEZONE).
        "RISKLOOP_DIGEST_AT": env.get("RISKLOOP_DIGEST_AT", "21:00"),
        "RISKLOOP_RETENTION_YEARS": env.get("RISKLOOP_RETENTION_YEARS", "5"),
        # The language of mail to a user who never chose one in the console (zh-CN or en).
        "RISKLOOP_LANGUAGE": env.get("RISKLOOP_LANGUAGE", "zh-CN"),
        "RISKLOOP_DEFINITIONS": env.get("RISKLOOP_DEFINITIONS", default_definitions_dir()),
        "RISKLOOP_TOKEN_TTL_HOURS": float(env.get("RISKLOOP_TOKEN_TTL_HOURS", "8")),
        "RISKLOOP_EMBEDDED_WORKER": env.get("RISKLOOP_EMBEDDED_WORKER", "1") == "1",
        "RISKLOOP_WORKER_THREADS": int(env.get("RISKLOOP_WORKER_THREADS", "4")),
        "RISKLOOP_TASK_MAX_ATTEMPTS": int(env.get("RISKLOOP_TASK_MAX_ATTEMPTS", "5")),
        "MAX_CONTENT_LENGTH": int(env.get("RISKLOOP_MAX_BODY_BYTES", str(16 * 1024 * 1024))),
        "RISKLOOP_PROXY_HOPS": int(env.get("RISKLOOP_PROXY_HOPS", "0")),
        "RISKLOOP_SECURE_COOKIES": env.get("RISKLOOP_SECURE_COOKIES", "0") == "1",
        "RISKLOOP_LOGIN_RATE_LIMIT": env.get(
            "RISKLOOP_LOGIN_RATE_LIMIT", "30 per minute;300 per hour"
        ),
        "RISKLOOP_METRICS_TOKEN": env.get("RISKLOOP_METRICS_TOKEN", "").strip(),
        "RISKLOOP_EXTRA_DEFINITIONS": env.get("RISKLOOP_EXTRA_DEFINITIONS", ""),
        "RISKLOOP_REGISTRIES": env.get("RISKLOOP_REGISTRIES", ""),
        "RISKLOOP_BACKUP_DIR": env.get("RISKLOOP_BACKUP_DIR", ""),
        "RISKLOOP_BACKUP_CRON": env.get("RISKLOOP_BACKUP_CRON", "30 2 * * *"),
        "RISKLOOP_BACKUP_KEEP": int(env.get("RISKLOOP_BACKUP_KEEP", "14")),
        "RISKLOOP_BROKER_HEARTBEAT_MS": int(env.get("RISKLOOP_BROKER_HEARTBEAT_MS", "15000")),
        "RISKLOOP_BROKER_MAINTENANCE_CHANCE": int(
            env.get("RISKLOOP_BROKER_MAINTENANCE_CHANCE", "5000")
        ),
        # Every audit checkpoint is appended here too (workflow/audit/anchors.py).
        "RISKLOOP_AUDIT_ANCHOR_FILE": env.get("RISKLOOP_AUDIT_ANCHOR_FILE")
        or str(Path(instance_path) / "audit-anchors.log"),
        # How far an uploaded zip container (.xlsx import, Office evidence) may unpack.
        "RISKLOOP_ZIP_MAX_MEMBER_BYTES": int(
            env.get("RISKLOOP_ZIP_MAX_MEMBER_BYTES", str(archives.DEFAULT_MAX_MEMBER_BYTES))
        ),
        "RISKLOOP_ZIP_MAX_TOTAL_BYTES": int(
            env.get("RISKLOOP_ZIP_MAX_TOTAL_BYTES", str(archives.DEFAULT_MAX_TOTAL_BYTES))
        ),
        "RISKLOOP_ZIP_MAX_RATIO": int(
            env.get("RISKLOOP_ZIP_MAX_RATIO", str(archives.DEFAULT_MAX_RATIO))
        ),
        "RISKLOOP_ZIP_MAX_MEMBERS": int(
            env.get("RISKLOOP_ZIP_MAX_MEMBERS", str(archives.DEFAULT_MAX_MEMBERS))
        ),
        # Name screening: a score from "possible" goes to a person; from "certain" it is
        # labelled near certain (workflow/risk/screening/names.py).
        "RISKLOOP_NAME_MATCH_POSSIBLE": env.get("RISKLOOP_NAME_MATCH_POSSIBLE", "85"),
        "RISKLOOP_NAME_MATCH_CERTAIN": env.get("RISKLOOP_NAME_MATCH_CERTAIN", "95"),
    }
    for key in REQUIRED_KEYS:
        if env.get(key):
            config[key] = env[key]
    config.update(overrides)
    config["DATABASE_URL"] = overrides.get("DATABASE_URL", db_url)
    config["SQLALCHEMY_DATABASE_URI"] = config["DATABASE_URL"]
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _engine_options(config["DATABASE_URL"]))
    Thresholds.from_settings(config)  # a bad threshold stops start-up, naming the variable
    _fill_keys(config, instance_path)
    return config


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {
        # Not pool_pre_ping (a round trip per request): a connection idle for a while is
        # pinged, a dead busy one invalidates the pool (workflow.platform.liveness).
        "pool_events": liveness.pool_events(),
        "pool_size": int(os.environ.get("RISKLOOP_DB_POOL", "10")),
        "max_overflow": 10,
        "pool_timeout": 5,
        "connect_args": {"connect_timeout": 3},
    }


def is_embedded(config: dict[str, Any]) -> bool:
    return str(config["DATABASE_URL"]).startswith("sqlite")


def _fill_keys(config: dict[str, Any], instance_path: str) -> None:
    for key in REQUIRED_KEYS:
        _refuse_malformed(key, config.get(key))
    missing = [k for k in REQUIRED_KEYS if not config.get(k)]
    if not missing:
        return
    if not is_embedded(config):
        raise ConfigurationError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set; production mode "
            f"(PostgreSQL) needs {', '.join(REQUIRED_KEYS)} in the environment and generates none. "
            "Generate an encryption key with `riskloop keys generate`."
        )
    path = Path(instance_path) / "keys.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    generated = {
        "SECRET_KEY": lambda: secrets.token_urlsafe(48),
        "RISKLOOP_ENCRYPTION_KEYS": generate_key,
        "RISKLOOP_AUDIT_KEY": lambda: secrets.token_urlsafe(48),
    }
    changed = False
    for key in missing:
        if key not in stored:
            stored[key] = generated[key]()
            changed = True
        config[key] = stored[key]
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh, indent=2)
        os.chmod(path, 0o600)


def _refuse_malformed(key: str, value: object) -> None:
    """A key that is set must be usable as it stands (never echoed: it may be a real secret).

    Whitespace or control characters in a key are a copy-paste accident (a quoted
    ``.env`` line, a trailing newline), not key material. The Fernet format of
    ``RISKLOOP_ENCRYPTION_KEYS`` is checked when the cipher is built.
    """
    if value is None or value == "":
        return
    if not isinstance(value, str):
        raise ConfigurationError(f"{key} must be a string")
    if not value.strip():
        raise ConfigurationError(f"{key} is set but blank; give it a secret value or unset it")
    if key == "RISKLOOP_ENCRYPTION_KEYS":
        return  # comma-separated keys; surrounding blanks are dropped by parse_keys
    if value != value.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ConfigurationError(
            f"{key} has leading or trailing whitespace or a control "
            "character; set it to the bare secret"
        )
