"""gunicorn settings for production: ``gunicorn 'api:create_app()'`` reads this file.

Every value can be overridden from the environment (``GUNICORN_*`` below, or
``GUNICORN_CMD_ARGS``). Threads suit riskloop: requests wait on PostgreSQL, and
the pool of each process is shared by its threads.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket


def _cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return multiprocessing.cpu_count()


bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
worker_class = "gthread"
# One worker process per core (at most 4: each worker's pool may open 20
# PostgreSQL connections). A request is mostly Python (an approve: ~4 ms of CPU against ~1 ms of
# waiting on PostgreSQL), and a process's threads share one GIL, so a worker
# keeps about one core busy; the "2 x cores + 1" rule is for sync workers that
# mostly wait. More processes than cores only queue for the cores: on 2 cores,
# 4 workers x 8 threads gave about 40 % less approve throughput than 2 x 8 and a
# p99 at the same load 4-8 times as long (bench/README.md, HTTP).
workers = int(os.environ.get("GUNICORN_WORKERS", str(min(4, _cores()))))
# Threads overlap the waits on PostgreSQL and Redis, and let a slow request not
# hold up the others of its worker.
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# With keep-alive load one gthread worker tended to take every connection while
# the others idled; SO_REUSEPORT lets the kernel spread them.
reuse_port = True
# A request that runs longer than this is killed and its worker replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# SIGTERM: refuse new connections, let in-flight requests finish for up to this
# long. Below the usual 30 s a platform waits between SIGTERM and SIGKILL
# (Kubernetes' terminationGracePeriodSeconds, Heroku, systemd's TimeoutStopSec is
# 90 s), so gunicorn ends its own drain first.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))
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


def post_fork(server, worker) -> None:  # noqa: ANN001
    # A request holds one database connection: a pool smaller than the worker's
    # threads (however they were set) would make requests queue for a connection.
    os.environ.setdefault("RISKLOOP_DB_POOL", str(max(worker.cfg.threads, 10)))


def post_worker_init(worker) -> None:  # noqa: ANN001
    from api.logging_setup import configure

    configure()
    _refuse_new_connections_on_sigterm(worker)


def _refuse_new_connections_on_sigterm(worker) -> None:  # noqa: ANN001
    """On SIGTERM, stop listening at once so new connections are refused.

    gunicorn's gthread worker only stops *accepting* while it drains: its listening
    socket (one per worker with ``reuse_port``) stays open, so the kernel keeps
    completing new connections into a backlog nobody serves, and resets them when the
    drain ends, up to ``graceful_timeout`` later. Shutting the socket down for reading
    takes it out of the kernel's listening set: a new connection is refused at once
    (a client or load balancer retries elsewhere) while in-flight requests finish.
    tests/e2e/test_prod_shutdown.py proves both.
    """
    method_queue = getattr(worker, "method_queue", None)
    if method_queue is None or not hasattr(worker, "set_accept_enabled"):
        return  # not a gthread worker
    accept = worker.accept

    def guarded_accept(listener) -> None:  # noqa: ANN001
        try:
            accept(listener)
        except OSError:
            if worker.alive:
                raise
            # a readiness event from before the listener was shut down: nothing to accept

    worker.accept = guarded_accept  # registered with the poller when run() starts

    def stop_listening() -> None:
        worker.set_accept_enabled(False)
        for listener in worker.sockets:
            with contextlib.suppress(OSError):
                listener.sock.shutdown(socket.SHUT_RD)

    handle_exit = worker.handle_exit

    def on_sigterm(signum: int, frame) -> None:  # noqa: ANN001
        handle_exit(signum, frame)
        # Runs on the worker's own loop (the poller is not thread- or signal-safe).
        method_queue.defer(stop_listening)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn sets it: no EINTR in requests
