"""One ``transitions`` machine per definition version, and its Mermaid diagram.

The machine is built once with ``model=None`` and shared by every instance: firing
moves a light proxy whose state was read from the row,
instead of building a machine per instance (~200 µs and 26 KiB each).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from transitions import Machine
from transitions.core import EventData

if TYPE_CHECKING:
    from workflow.engine.definitions import Definition, TransitionDef


class _Proxy:
    """Stand-in model for one firing; never shared between threads."""

    __slots__ = ("state", "chosen", "dest")

    def __init__(self, state: str, chosen: int, dest: str) -> None:
        self.state = state
        self.chosen = chosen
        self.dest = dest


class _Chosen:
    """Condition that selects the YAML transition (and outcome) the engine already picked."""

    __slots__ = ("index", "dest", "__name__")

    def __init__(self, index: int, dest: str) -> None:
        self.index = index
        self.dest = dest
        self.__name__ = f"transition_{index}_{dest}"

    def __call__(self, event: EventData) -> bool:
        model = cast(_Proxy, event.model)
        return model.chosen == self.index and model.dest == self.dest


def compile_machine(definition: Definition) -> Machine:
    machine = Machine(
        model=None,
        states=list(definition.states),
        initial=definition.initial,
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
    )
    for t in definition.transitions:
        for dest in (t.dest, *t.outcomes):
            machine.add_transition(
                t.trigger, list(t.sources), dest, conditions=[_Chosen(t.index, dest)]
            )
    return machine


def run_transition(
    definition: Definition, state: str, transition: TransitionDef, dest: str | None = None
) -> str:
    """Move from ``state`` along ``transition`` (to ``dest``, one of its outcomes, if given)
    on the shared machine; returns the new state."""
    proxy = _Proxy(state, transition.index, dest or transition.dest)
    if not definition.machine.events[transition.trigger].trigger(proxy):
        raise RuntimeError(f"machine refused {transition.trigger} from {state}")
    return proxy.state


def mermaid(definition: Definition, current: str | None = None, lang: str = "zh-CN") -> str:
    """The definition as Mermaid ``stateDiagram-v2`` text; ``current`` is highlighted."""
    lines = ["stateDiagram-v2", f"    [*] --> {definition.initial}"]
    for name, state in definition.states.items():
        label = state.label.get(lang) or state.label.get("en") or name
        lines.append(f'    state "{_escape(label)}" as {name}')
    for t in definition.transitions:
        label = t.label.get(lang) or t.label.get("en") or t.trigger
        for source in t.sources:
            for dest in (t.dest, *t.outcomes):
                lines.append(f"    {source} --> {dest} : {_escape(label)}")
    for name, state in definition.states.items():
        if state.final:
            lines.append(f"    {name} --> [*]")
    if current and current in definition.states:
        lines.append("    classDef current fill:#fde68a,stroke:#b45309,stroke-width:2px")
        lines.append(f"    class {current} current")
    return "\n".join(lines) + "\n"


def _escape(text: Any) -> str:
    return str(text).replace('"', "'").replace(":", "：").replace("\n", " ")
