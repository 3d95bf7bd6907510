"""The riskloop Flask application: ``gunicorn 'api:create_app()'``."""

from __future__ import annotations

import inspect as inspect_module
import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Flask
from flask_smorest import Api
from sqlalchemy import inspect

import web
from web import texts as web_texts
from workflow.background.broker import build_broker, declare_actor
from workflow.engine.registry import Registry
from workflow.platform import correlation
from workflow.platform.crypto import parse_keys
from workflow.records import trail as audit
from workflow.records.identity import Actor

from . import authorization, composition, instance_folder, problems, request_shape
from . import config as app_config
from .contexts import this_g, this_request
from .extensions import db, migrate, runtime_of
from .json_answers import AnswerJSONProvider
from .worker import AppContextMiddleware

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Static assets and the API's documentation may be cached; everything else (API answers,
# console pages, errors) may carry personal data or a token and is never stored.
_CACHEABLE_ENDPOINTS = frozenset(
    {
        "static",
        "console.static",
        "docs_assets.swagger_asset",
        "api-docs.openapi_json",
        "api-docs.openapi_swagger_ui",
    }
)

# Sent with every response that does not set them itself.
_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
)


def create_app(
    config: dict[str, Any] | None = None, *, registries: Iterable[Registry] = ()
) -> Flask:
    """Build the app; nothing connects to the database until it is used.

    ``registries`` add named guards, effects, tasks and jobs to riskloop's own (a
    deployment's or a test's definitions may name them)."""
    instance_path = os.environ.get("RISKLOOP_INSTANCE_PATH") or str(Path.cwd() / "instance")
    app = Flask(__name__, instance_path=instance_path)
    app.json = AnswerJSONProvider(app)
    from .url_converters import BoundedIntConverter

    app.url_map.converters["int"] = BoundedIntConverter
    instance_folder.prepare(app.instance_path)
    app.config.update(app_config.load(app.instance_path, config))
    instance_folder.secure_database(app.config["DATABASE_URL"])
    app.config.update(
        API_TITLE="riskloop API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="v1/openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/docs/static/",
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "info": {"description": "Workflow and approval engine for customer-risk management."},
        },
        JSON_SORT_KEYS=False,
    )
    keys = parse_keys(app.config["RISKLOOP_ENCRYPTION_KEYS"])
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True, compare_type=True)

    # The one engine object of this app: db.session and the workers' sessions carry it.
    folders = [Path(app.config["RISKLOOP_DEFINITIONS"])]
    folders += [
        Path(extra)
        for extra in filter(
            None, str(app.config.get("RISKLOOP_EXTRA_DEFINITIONS", "")).split(os.pathsep)
        )
    ]
    with app.app_context():
        rt = composition.build_runtime(
            db.engine,
            app.config,
            folders=folders,
            keys=keys,
            extra=[
                *composition.named_registries(str(app.config.get("RISKLOOP_REGISTRIES", ""))),
                *registries,
            ],
        )
    broker = build_broker(
        app.config.get("REDIS_URL"),
        middleware=[AppContextMiddleware(app)],
        heartbeat_timeout_ms=app.config.get("RISKLOOP_BROKER_HEARTBEAT_MS", 15000),
        maintenance_chance=app.config.get("RISKLOOP_BROKER_MAINTENANCE_CHANCE", 5000),
    )
    declare_actor(broker, rt, max_attempts=app.config["RISKLOOP_TASK_MAX_ATTEMPTS"])
    app.extensions["riskloop"] = {"runtime": rt, "broker": broker}

    from .openapi_inputs import OpenApiInputsPlugin
    from .openapi_problems import ProblemJsonPlugin, ProblemSchema

    api = Api(spec_kwargs={"extra_plugins": [ProblemJsonPlugin(), OpenApiInputsPlugin(rt.catalog)]})
    api.ERROR_SCHEMA = ProblemSchema  # errors are problem documents (api.problems)
    api.init_app(app)
    from .blueprints import auth, definitions, health, tasks, workflows

    for blueprint in (auth.blp, definitions.blp, workflows.blp, tasks.blp):
        api.register_blueprint(blueprint)
    app.register_blueprint(health.blp)
    from .docs import blp as docs_blp

    app.register_blueprint(docs_blp)
    for hook in _extra_blueprints():
        hook(app, api)
    authorization.install(app)  # who may call an operation, before what it carries
    web.register(app, api_error=problems.handle_http)  # the console, mounted at /
    rt.wording = web_texts.wording(app)  # mail and group robots in the reader's language
    request_shape.install(app)
    problems.install(app)
    _install_request_hooks(app)
    from . import preflight

    preflight.install(app)
    from . import ratelimit

    ratelimit.install(app)
    _install_proxy_and_cookies(app)
    app.register_error_handler(RecursionError, _too_deep)
    _remember_sync_callables(app)
    with app.app_context():
        try_sync_definitions(app)
    return app


def _remember_sync_callables(app: Flask) -> None:
    """Flask asks ``inspect.iscoroutinefunction`` of every hook, view and error handler
    on every request (``ensure_sync``: ~20 times an approve, ~2.5 % of its CPU); the
    answer for a function never changes, so it is remembered per function (a bound
    method by its function: views are bound to a new object per request)."""
    original = app.ensure_sync
    answers: dict[Any, bool] = {}

    def ensure_sync(func: Any) -> Any:
        key = getattr(func, "__func__", func)
        try:
            is_async = answers.get(key)
        except TypeError:  # an unhashable callable: asked every time, as Flask does
            return original(func)
        if is_async is None:
            is_async = inspect_module.iscoroutinefunction(func)
            if len(answers) < 10_000:  # a bound on what per-request callables could add
                answers[key] = is_async
        return original(func) if is_async else func

    app.ensure_sync = ensure_sync  # type: ignore[method-assign]


def _extra_blueprints() -> list[Any]:
    """Feature packages register their blueprints through ``api.features``."""
    from .features import FEATURES

    return FEATURES


def sync_definitions(app: Flask) -> None:
    """Record new definition versions (audited) once the schema exists; a newer file of a
    definition already stored, and a newer shipped configuration file, are proposed for a
    manager's approval instead (``workflow/risk/governance/seeding.py``)."""
    if not inspect(db.engine).has_table("definitions"):
        return
    catalog = runtime_of(app).catalog
    from workflow.risk.governance.definition_kind import held_back

    # a newer definition file waits for a manager (proposed by seed_all below)
    added = catalog.sync(db.session, hold_back=held_back)
    for definition in added:
        audit.record_event(
            db.session,
            "system:definitions",
            "definition.loaded",
            Actor.system("definitions"),
            payload={
                "name": definition.name,
                "version": definition.version,
                "content_hash": definition.content_hash,
            },
        )
    from workflow.risk.governance.seeding import seed_all

    seed_all(db.session, catalog, runtime_of(app).settings)
    from workflow.risk.screening.rule_set_loads import record_rule_set_load

    record_rule_set_load(db.session, app.config)  # the active version, once seeded
    db.session.commit()


def try_sync_definitions(app: Flask) -> bool:
    """Sync now if the database answers; otherwise the first request retries.

    A process that starts while the database is restarting must still start
    (readiness reports the outage) and catch up on its own.
    """
    from sqlalchemy.exc import OperationalError

    try:
        sync_definitions(app)
    except OperationalError as exc:
        db.session.rollback()
        log.warning(
            "database unavailable at start-up (%s); definitions will sync later",
            type(exc.orig).__name__,
        )
        app.extensions["riskloop"]["synced"] = False
        return False
    app.extensions["riskloop"]["synced"] = True
    return True


def _too_deep(exc: RecursionError):  # noqa: ANN202
    """Deeply nested JSON exhausts the parser's recursion: a client error, not a 500."""
    return problems.problem(
        400, "Malformed JSON", "The JSON is nested too deeply.", slug="malformed-json"
    )


def _install_proxy_and_cookies(app: Flask) -> None:
    """Behind a TLS proxy (``RISKLOOP_PROXY_HOPS`` > 0) trust its X-Forwarded-* headers, so
    ``request.is_secure`` holds (HSTS is sent) and the session cookie is Secure."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    hops = int(app.config.get("RISKLOOP_PROXY_HOPS", 0))
    if hops > 0:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=hops,
            x_proto=hops,
            x_host=hops,  # type: ignore[method-assign]
            x_port=hops,
        )
    if hops > 0 or app.config.get("RISKLOOP_SECURE_COOKIES"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"


def _install_request_hooks(app: Flask) -> None:
    from .blueprints.health import observe
    from .logging_setup import log_access

    @app.before_request
    def start_request() -> None:
        req, state = this_request(), this_g()
        supplied = req.headers.get("X-Request-ID", "")
        # 128 random bits as 32 hex digits (a uuid4's hex without building the UUID)
        request_id = supplied if _REQUEST_ID.match(supplied) else os.urandom(16).hex()
        state.request_id = request_id
        # audit records and recorded client reads made now carry them
        state.request_id_binding = correlation.bind(
            request_id,
            address=req.remote_addr,
            channel="api" if req.path.startswith("/api/") else "console",
        )
        state.started = time.perf_counter()
        if not app.extensions["riskloop"].get("synced", True):
            try_sync_definitions(app)

    @app.teardown_request
    def forget_request_id(exc: BaseException | None) -> None:
        binding = this_g().pop("request_id_binding", None)
        if binding is not None:
            correlation.unbind(binding)

    @app.after_request
    def finish_request(response):  # noqa: ANN001, ANN202
        req, state = this_request(), this_g()
        headers = response.headers
        headers["X-Request-ID"] = state.get("request_id", "")
        # The headers a response does not set itself: one pass over what it has, instead
        # of a scan of the list per header (setdefault's: ~2.5 % of an approve).
        present: dict[str, str] = {}
        for key, value in headers.items():
            present.setdefault(key.lower(), value)  # the first, as headers.get gives
        for key, value in _SECURITY_HEADERS:
            if key.lower() not in present:
                headers.add(key, value)
        if req.is_secure and "strict-transport-security" not in present:
            headers.add("Strict-Transport-Security", "max-age=31536000")
        if req.endpoint not in _CACHEABLE_ENDPOINTS and "no-store" not in present.get(
            "cache-control", ""
        ):
            headers["Cache-Control"] = "no-store"  # replaces e.g. send_file's no-cache
        started = state.get("started")
        if started is not None:
            rule = req.url_rule.rule if req.url_rule else "unmatched"
            log_access(req.method, rule, response.status_code, started)
            observe(req.method, rule, response.status_code, started)
        return response
