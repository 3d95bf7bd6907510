"""The named callables the test definitions (``tests/fixtures/definitions``) use besides
riskloop's own: composed into every test engine object and test app."""

from __future__ import annotations

from workflow.engine.context import TaskContext
from workflow.engine.registry import Registry

registry = Registry()


@registry.task("record_note")
def _record_note(ctx: TaskContext) -> None:
    """A test task with a visible effect: it appends to the instance's data."""
    assert ctx.instance is not None
    notes = list(ctx.instance.data.get("notes", []))
    notes.append(f"noted v{ctx.args['version']}")
    ctx.instance.data = {**ctx.instance.data, "notes": notes}
    if ctx.instance.data.get("fail_task"):
        raise OSError("the data provider is down")
