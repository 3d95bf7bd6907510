"""The customer-risk plug-in, registered explicitly: its role policy and one registry
joined from the modules that name guards, effects, tasks, jobs, data views and
notification channels. Nothing is found by scanning packages; a new module with
named callables is added to :data:`MODULES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from workflow.engine.catalog import Catalog
from workflow.engine.policy import RolePolicy
from workflow.engine.registry import Registry
from workflow.risk import erasure, onboarding, sensitive_edit
from workflow.risk.alerts import client_suspension, intake, loop, sla
from workflow.risk.clients import contracts
from workflow.risk.clients import model as clients
from workflow.risk.due_diligence import evidence, periodic_review, review
from workflow.risk.events import model as events
from workflow.risk.events import processor as monitoring
from workflow.risk.events import provider_poll
from workflow.risk.governance import changes as config_changes
from workflow.risk.notify import digest, mail, robots, webhook
from workflow.risk.policy import POLICY
from workflow.risk.privacy import reads
from workflow.risk.screening import rescreen, watchlist

MODULES: tuple[ModuleType, ...] = (
    clients,
    onboarding,
    sensitive_edit,
    review,
    periodic_review,
    sla,
    loop,
    client_suspension,
    digest,
    mail,
    webhook,
    rescreen,
    monitoring,
    provider_poll,
    robots,
    config_changes,
    erasure,
)
# Modules with tables of their own and no named callables: imported so that every table
# of the plug-in is on the shared metadata (migrations, create_all in tests).
TABLES: tuple[ModuleType, ...] = (watchlist, evidence, intake, events, reads, contracts)


def registry() -> Registry:
    """A new registry with every named callable of the plug-in."""
    return Registry.compose(*(module.registry for module in MODULES))


def policy() -> RolePolicy:
    return POLICY


def check(catalog: Catalog, settings: Mapping[str, Any]) -> None:
    """Check, at start-up, the plug-in's configuration that definitions and settings hold
    (push channels, the digest's hour, the retention period).

    Raises:
        DefinitionError: a push channel is invalid (file, key, fix).
        ConfigurationError: a setting is malformed.
    """
    robots.check_channels(catalog, settings)
    digest.digest_cron(settings)
    erasure.retention_years(settings)
