"""Guards, effects and tasks any definition may name, as one registry to compose."""

from workflow.engine.builtins import effects, guards, tasks
from workflow.engine.registry import Registry

registry = Registry.compose(guards.registry, effects.registry, tasks.registry)
