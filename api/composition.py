"""The composition root's parts: which registries riskloop joins, and how one engine
object (``workflow.engine.runtime.Runtime``) is built on a database engine.

``create_app`` (and through it the CLI, the workers and the scheduler), the tests and
the benchmarks build their engine objects here, the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from workflow.accounts import upkeep
from workflow.audit import checkpoint_job
from workflow.background import jobs
from workflow.engine import builtins
from workflow.engine.catalog import Catalog
from workflow.engine.registry import Registry
from workflow.engine.runtime import Runtime
from workflow.errors import ConfigurationError
from workflow.platform.crypto import FieldCipher, attach_cipher
from workflow.platform.lean import LeanSession
from workflow.risk import plugin


def named_registries(spec: str) -> list[Registry]:
    """The registries ``RISKLOOP_REGISTRIES`` names: ``module:attribute`` entries separated
    by commas (a deployment's own guards, effects and tasks, registered explicitly).

    Raises:
        ConfigurationError: an entry does not name a ``Registry``.
    """
    found = []
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        module, _, attribute = entry.partition(":")
        try:
            value = getattr(importlib.import_module(module), attribute or "registry")
        except (ImportError, AttributeError) as exc:
            raise ConfigurationError(
                f"RISKLOOP_REGISTRIES: {entry!r} names no registry ({exc}); "
                "write module:attribute, e.g. mycompany.guards:registry"
            ) from exc
        if not isinstance(value, Registry):
            raise ConfigurationError(f"RISKLOOP_REGISTRIES: {entry!r} is not a Registry")
        found.append(value)
    return found


def registry(*extra: Registry) -> Registry:
    """Every named guard, effect, task, job, data view and channel riskloop offers: the
    engine's builtins, the job runner, the audit and accounts jobs, the customer-risk
    plug-in, and ``extra`` (tests add their own)."""
    return Registry.compose(
        builtins.registry,
        jobs.registry,
        checkpoint_job.registry,
        upkeep.registry,
        plugin.registry(),
        *extra,
    )


def catalog(*extra: Registry) -> Catalog:
    """An empty catalog over :func:`registry` and the plug-in's role policy."""
    return Catalog(registry(*extra), plugin.policy())


def build_runtime(
    engine: Engine,
    settings: Mapping[str, Any],
    *,
    folders: Iterable[Path] = (),
    keys: list[str] | None = None,
    extra: Iterable[Registry] = (),
) -> Runtime:
    """The engine object over ``engine``: definitions of ``folders`` loaded, the field
    cipher of ``keys`` attached to ``engine``, sessions made by its bound factory.

    Raises:
        DefinitionError: a definition in ``folders`` (or a push channel) is invalid.
        ConfigurationError: a setting of the plug-in is malformed.
        EncryptionKeyError: a malformed key.
    """
    found = catalog(*extra)
    if settings.get("RISKLOOP_BACKUP_DIR"):
        jobs.enable_backups(found.registry)
    for folder in folders:
        found.load_folder(Path(folder))
    plugin.check(found, settings)
    cipher = attach_cipher(engine, FieldCipher(keys)) if keys is not None else None
    runtime = Runtime(catalog=found, settings=dict(settings), cipher=cipher)
    runtime.bind(sessionmaker(engine, class_=LeanSession, expire_on_commit=False))
    return runtime
