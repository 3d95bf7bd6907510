"""Instructions per approve, counted by valgrind's callgrind: a meter that does not
depend on the machine's load.

CPU time per approve moves by ±15 % with whatever else the machine runs, more than one
cut of the hot path saves. The instructions the request's thread executes do not: two
runs of the same code agree to 0.01 %. ``python -m bench.approve_instructions [n]``
(Debian's ``valgrind`` must be installed) prepares a bench database as
``bench.hot_profile approve`` does, warms the app up with 50 approves outside the count,
and counts the next ``n`` (default 100) through the Flask test client of the production
app; it prints the request thread's instructions per approve and the outbox sender
thread's apart. Run it from two checkouts to compare them (``PYTHONHASHSEED`` is fixed).
About a minute for 100 approves.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time


def _child(n: int) -> None:
    from . import app_env, database
    from .config import load
    from .hot_profile import approving_app

    settings = load()
    dbname = os.environ.get("HOT_PROFILE_DB", "riskloop_approve_instructions")
    try:
        _app, step = approving_app(settings, dbname, max(600, n + 100))
        for _ in range(50):
            step()
        time.sleep(0.3)  # the sender's linger: the warm-up's messages leave before the count
        toggle = ["callgrind_control", "-i"]
        subprocess.run([*toggle, "on", str(os.getpid())], check=True, capture_output=True)
        for _ in range(n):
            step()
        subprocess.run([*toggle, "off", str(os.getpid())], check=True, capture_output=True)
    finally:
        database.drop(settings, dbname)
        app_env.flush_redis(settings)


def _totals(path: str) -> int:
    with open(path) as handle:
        for line in handle:
            if line.startswith("totals:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        _child(int(sys.argv[2]))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    folder = tempfile.mkdtemp(prefix="approve-instructions-")
    out = os.path.join(folder, "callgrind.out")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    command = [
        "valgrind",
        "--tool=callgrind",
        "--separate-threads=yes",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "bench.approve_instructions",
        "--child",
        str(n),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    counts = sorted((_totals(path) for path in glob.glob(out + "-*")), reverse=True)
    shutil.rmtree(folder, ignore_errors=True)
    request, others = counts[0], sum(counts[1:])
    print(
        f"approve: {request / n / 1e6:.3f} M instructions per approve in the request's thread, "
        f"{others / n / 1e6:.3f} M in the other threads (the outbox sender), {n} approves"
    )


if __name__ == "__main__":
    main()
