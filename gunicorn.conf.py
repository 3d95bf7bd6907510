"""gunicorn settings for production: ``gunicorn 'api:create_app()'`` reads this file.

Every value can be overridden from the environment (``GUNICORN_*`` below, or
``GUNICORN_CMD_ARGS``). Threads suit riskloop: requests wait on PostgreSQL, and
the pool of each process is shared by its threads.
"""

from __future__ import annotations

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", str(min(4, multiprocessing.cpu_count() * 2))))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# With keep-alive load one gthread worker tended to take every connection while
# the others idled; SO_REUSEPORT lets the kernel spread them (STACK.md).
reuse_port = True
# A request that runs longer than this is killed and its worker replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# SIGTERM: stop accepting, let in-flight requests finish for up to this long.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then (jittered so they do not restart together).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "1000"))
# Bounded request lines and headers; bodies are bounded by RISKLOOP_MAX_BODY_BYTES.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Behind a TLS-terminating proxy: trust its X-Forwarded-* only from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Logs: JSON lines on stderr from the app (api.logging_setup); gunicorn's own
# access log stays off (the app logs each request with its request id).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("RISKLOOP_LOG_LEVEL", "info").lower()
preload_app = False


def post_worker_init(worker) -> None:  # noqa: ANN001
    from api.logging_setup import configure

    configure()
