"""Running the ``riskloop`` command line as a user would (Click's runner, in this process)."""

from __future__ import annotations

from click.testing import CliRunner

from api.cli import main


def run(*args: str, stdin: str | None = None):  # noqa: ANN201
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
