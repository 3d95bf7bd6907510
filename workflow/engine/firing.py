"""Starting instances and firing transitions (SPEC 3.2).

``fire`` does every step inside the caller's transaction: lock the instance row,
compare versions, check roles, guards, conditions and payload, run effects,
move the state, append the audit record, write outbox rows, re-arm timers. The
caller commits (see ``workflow.platform.transaction``); if any step raises, nothing of
the firing remains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from workflow.engine import runtime, visibility
from workflow.engine.catalog import Catalog
from workflow.engine.context import FireContext
from workflow.engine.definitions import Definition, TransitionDef
from workflow.engine.machine import run_transition
from workflow.engine.registry import Registry
from workflow.errors import (
    ConditionNotMet,
    Forbidden,
    IdempotencyMismatch,
    IllegalState,
    Message,
    NotFound,
    RiskloopError,
    UnknownAction,
    ValidationFailed,
)
from workflow.platform import clock
from workflow.platform.hygiene import text_problem
from workflow.records import timers
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import IdempotencyRecord, WorkflowInstance
from workflow.records.outbox import enqueue


@dataclass(frozen=True)
class FireResult:
    instance_id: int
    trigger: str
    from_state: str
    to_state: str
    version: int
    audit_seq: int
    replayed: bool = False
    # The instance as the firing left it (None for a replayed result): callers that
    # present it need not read it again, and the session holds clean objects only weakly.
    instance: WorkflowInstance | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "trigger": self.trigger,
                "from_state": self.from_state, "to_state": self.to_state,
                "version": self.version, "audit_seq": self.audit_seq, "replayed": self.replayed}


def start(
    session: Session,
    definition_name: str,
    actor: Actor,
    *,
    subject_type: str | None = None,
    subject_id: int | None = None,
    data: dict[str, Any] | None = None,
    parent_id: int | None = None,
    assignees: list[str] | None = None,
    comment: str | None = None,
    request_id: str | None = None,
) -> WorkflowInstance:
    """Create an instance of the latest version of ``definition_name`` in its initial state.

    Raises:
        NotFound: no such definition.
    """
    definition = runtime.of(session).catalog.get(definition_name)
    now = clock.now()
    instance = WorkflowInstance(
        definition=definition.name, definition_version=definition.version,
        state=definition.initial, version=1, is_open=True,
        subject_type=subject_type or definition.subject, subject_id=subject_id,
        parent_id=parent_id, created_by=actor.username, assignees=list(assignees or []),
        data=dict(data or {}), created_at=now, updated_at=now, state_entered_at=now,
        audit_seq=0, audit_hash="", breached=False,
    )
    session.add(instance)
    session.flush()  # the id names the audit stream and the timers
    for key, value in _enter_state(session, instance, definition, definition.initial, now).items():
        setattr(instance, key, value)
    audit.append(
        session, instance, audit.instance_stream(instance.id), "started", actor, at=now,
        instance_id=instance.id, subject=_subject(instance), definition=definition.name,
        definition_version=definition.version, to_state=definition.initial, comment=comment,
        payload={"data": instance.data} if instance.data else {}, request_id=request_id,
    )
    return instance


def fire(
    session: Session,
    instance_id: int,
    trigger: str,
    actor: Actor,
    payload: dict[str, Any] | None = None,
    *,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
    comment: str | None = None,
    request_id: str | None = None,
) -> FireResult:
    """Fire ``trigger`` on an instance as ``actor``, inside the caller's transaction.

    Raises:
        NotFound: no such instance.
        UnknownAction: the definition has no such trigger.
        VersionConflict: ``expected_version`` is stale.
        IllegalState: the trigger cannot fire from the current state.
        Forbidden: a missing role or a guard refused (``extra['rule']`` names it).
        ValidationFailed: payload or comment invalid (``extra['errors']`` per field).
        ConditionNotMet: no transition's condition holds.
        IdempotencyMismatch: the key was used for a different request.
    """
    payload = dict(payload or {})
    catalog = runtime.of(session).catalog
    if idempotency_key:
        prior = session.get(IdempotencyRecord, (actor.username, idempotency_key))
        if prior is not None:
            if prior.instance_id != instance_id or prior.trigger != trigger:
                raise IdempotencyMismatch(
                    f"Idempotency-Key {idempotency_key!r} was already used for "
                    f"{prior.trigger!r} on instance {prior.instance_id}; use a new key per request"
                )
            return FireResult(**{**prior.result, "replayed": True})

    instance = session.execute(_LOCK, {"iid": instance_id}).scalar_one_or_none()
    admitted = _admit(session, instance, instance_id, trigger, actor, catalog,
                      expected_version=expected_version, payload=payload, comment=comment,
                      request_id=request_id)
    assert admitted is not None  # the payload is known: every check was made
    definition, ctx, chosen = admitted.definition, admitted.ctx, admitted.chosen
    instance = ctx.instance
    from_state, now, registry = ctx.from_state, ctx.now, catalog.registry
    _validate_payload(ctx.transition, payload, comment)
    if chosen is None:
        raise ConditionNotMet(
            f"{trigger!r} is not possible with this data: "
            + "; ".join(t.condition.source for t in admitted.permitted if t.condition is not None),
            allowed_actions=available_actions(session, instance, actor, definition),
            code="action.condition", params={"trigger": trigger},
        )

    for call in chosen.effects:
        registry.effects[call.name](ctx, **call.args)
    dest = run_transition(definition, from_state, chosen, ctx.dest)

    # The row's new values, written below by one UPDATE (effects may have set some of
    # them on the instance: those are taken as they are now).
    row = {key: getattr(instance, key) for key in _MOVED}
    row.update(state=dest, version=instance.version + 1, updated_at=now)
    if dest != from_state:
        timers.cancel_for_state(session, instance.id, from_state)
        row.update(_enter_state(session, instance, definition, dest, now))
    if ctx.sla_due_at is not None:
        row["sla_due_at"] = ctx.sla_due_at
    if dest == from_state:
        for timer in definition.timers_for(dest):
            if timer.repeat and timer.trigger == trigger:
                timers.schedule(session, instance, dest, timer.trigger, now + timer.after)
    audit_payload = {**payload, **ctx.audit} if ctx.audit else payload
    written = audit.write_record(
        session, instance.audit_seq + 1, instance.audit_hash, audit.instance_stream(instance.id),
        "transition", actor, at=now, instance_id=instance.id, subject=_subject(instance),
        definition=definition.name, definition_version=definition.version, trigger=trigger,
        from_state=from_state, to_state=dest, comment=comment, payload=audit_payload,
        request_id=request_id, idempotency_key=idempotency_key,
    )
    row.update(audit_seq=written.seq, audit_hash=written.hash)
    _move(session, instance, row)
    for task in chosen.tasks:
        enqueue(session, task, {"instance_id": instance.id, "version": instance.version},
                instance_id=instance.id)
    result = FireResult(instance.id, trigger, from_state, dest, instance.version, instance.audit_seq,
                        instance=instance)
    if idempotency_key:
        record = result.to_dict()
        record.pop("replayed")
        session.add(IdempotencyRecord(actor=actor.username, key=idempotency_key,
                                      instance_id=instance.id, trigger=trigger, result=record,
                                      created_at=now))
    return result


def authorize(
    session: Session,
    instance_id: int,
    trigger: str,
    actor: Actor,
    *,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
) -> None:
    """Check, before the action's input is read, that ``actor`` may fire ``trigger`` on
    the instance now: the checks of :func:`fire` in its order, without the row lock and
    without what only the input decides (its fields; a condition on it), which
    :func:`fire` checks again with the rest under the lock. A refused request that repeats
    an earlier one's idempotency key is let through: :func:`fire` answers it.

    Raises:
        NotFound: no such instance, or one ``actor`` may not see.
        UnknownAction: the definition has no such trigger.
        VersionConflict: ``expected_version`` is stale.
        IllegalState: the trigger cannot fire from the current state.
        Forbidden: a missing role or a guard refused (``extra['rule']`` names it).
    """
    catalog = runtime.of(session).catalog
    try:
        _admit(session, session.get(WorkflowInstance, instance_id), instance_id, trigger, actor,
               catalog, expected_version=expected_version, payload=None)
    except RiskloopError:
        if idempotency_key and session.get(IdempotencyRecord, (actor.username, idempotency_key)):
            return
        raise


@dataclass(frozen=True)
class _Admitted:
    definition: Definition
    permitted: list[TransitionDef]
    chosen: TransitionDef | None  # None: no permitted transition's condition holds
    ctx: FireContext  # for the transition whose guards were checked


def _admit(session: Session, instance: WorkflowInstance | None, instance_id: int, trigger: str,
           actor: Actor, catalog: Catalog, *, expected_version: int | None,
           payload: dict[str, Any] | None, comment: str | None = None,
           request_id: str | None = None) -> _Admitted | None:
    """Whether ``actor`` may fire ``trigger`` on ``instance`` now, in the order of SPEC 3.2
    (seen, known, current version, allowed from the state, roles, guards, someone else's
    step). ``payload`` None: the action's input is not read yet; if it decides which
    transition this is, the checks stop before the guards (None is returned).

    Raises: as :func:`authorize`.
    """
    if instance is None or not visibility.can_view(session, instance, actor, catalog):
        # A case the actor may not see is reported as missing, never as forbidden.
        raise NotFound(f"workflow instance {instance_id} does not exist")
    definition = catalog.get(instance.definition, instance.definition_version)
    if trigger not in definition.by_trigger:
        raise UnknownAction(
            f"{definition.name} has no action {trigger!r}; it defines: "
            f"{', '.join(sorted(definition.by_trigger))}"
        )
    if expected_version is not None and instance.version != expected_version:
        from workflow.errors import VersionConflict

        raise VersionConflict(
            f"instance {instance.id} is at version {instance.version}, not {expected_version}: "
            "someone acted first; reload and try again",
            current_version=instance.version, state=instance.state,
            code="instance.version_conflict",
        )
    from_state = instance.state
    candidates = definition.candidates(trigger, from_state)
    if not candidates:
        raise IllegalState(
            f"{trigger!r} cannot be done while the case is {from_state!r}",
            state=from_state,
            allowed_actions=available_actions(session, instance, actor, definition),
            code="action.illegal_state", params={"trigger": trigger, "state": from_state},
        )
    permitted = [t for t in candidates if actor.has_any(t.roles)]
    if not permitted:
        needed = sorted(set().union(*(t.roles for t in candidates)))
        raise Forbidden(
            f"{trigger!r} needs one of the roles {', '.join(needed)}; you have "
            f"{', '.join(sorted(actor.roles)) or 'none'}",
            rule="role",
            code="action.role", params={"trigger": trigger, "roles": needed},
        )
    if payload is None and any(t.condition is not None and t.condition.reads_payload for t in candidates):
        return None
    now = clock.now()
    payload = payload if payload is not None else {}  # fire()'s own dict: effects may add to it
    variables = _variables(instance, actor, payload)
    chosen = next((t for t in permitted if t.condition is None or t.condition.holds(variables)), None)
    probe = chosen or permitted[0]
    ctx = FireContext(session=session, instance=instance, definition=definition, transition=probe,
                      actor=actor, payload=payload, comment=comment, from_state=from_state,
                      now=now, request_id=request_id)
    _check_guards(ctx, probe, catalog.registry)
    if chosen is None:
        # Someone else's step at this point of the case (the second approval, say): a
        # transition of this trigger whose condition holds needs roles the actor lacks.
        theirs = [t for t in candidates if t not in permitted
                  and (t.condition is None or t.condition.holds(variables))]
        if theirs:
            needed = sorted(set().union(*(t.roles for t in theirs)))
            raise Forbidden(
                f"{trigger!r} at this point of the case needs one of the roles "
                f"{', '.join(needed)}; you have {', '.join(sorted(actor.roles)) or 'none'}",
                rule="role", code="action.role", params={"trigger": trigger, "roles": needed},
            )
    return _Admitted(definition, permitted, chosen, ctx)


# The instance row as it is locked for a firing. The row may already be in the
# session (read before the lock): populate_existing refreshes it.
_LOCK = (
    select(WorkflowInstance)
    .where(WorkflowInstance.id == bindparam("iid"))
    .with_for_update()
    .execution_options(populate_existing=True)
)

# What a firing changes on the instance row, always all of them: one statement shape.
_MOVED = ("state", "version", "updated_at", "state_entered_at", "is_open", "sla_due_at",
          "breached", "audit_seq", "audit_hash")
_MOVE = (
    update(WorkflowInstance)
    .where(WorkflowInstance.id == bindparam("iid"))
    .values({key: bindparam(key) for key in _MOVED})
)


def _move(session: Session, instance: WorkflowInstance, row: dict[str, Any]) -> None:
    """Write the firing's changes to the locked row with one Core UPDATE, and give the
    loaded instance the same values as committed ones, so that the ORM does not write
    them again at commit (it still writes whatever else an effect changed)."""
    session.connection().execute(_MOVE, {"iid": instance.id, **row})
    for key, value in row.items():
        set_committed_value(instance, key, value)


def _enter_state(session: Session, instance: WorkflowInstance, definition: Definition,
                 state: str, now: Any) -> dict[str, Any]:
    """Arm ``state``'s timers; returns the instance columns that entering it sets."""
    spec = definition.states[state]
    for timer in definition.timers_for(state):
        timers.schedule(session, instance, state, timer.trigger, now + timer.after)
    return {"state_entered_at": now, "is_open": not spec.final,
            "sla_due_at": now + spec.sla if spec.sla else None, "breached": False}


def _subject(instance: WorkflowInstance) -> str | None:
    if instance.subject_type and instance.subject_id is not None:
        return f"{instance.subject_type}:{instance.subject_id}"
    return None


def _variables(instance: WorkflowInstance, actor: Actor, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": instance.data or {},
        "payload": payload,
        "actor": {"username": actor.username, "roles": sorted(actor.roles)},
        "instance": {"state": instance.state, "version": instance.version,
                     "created_by": instance.created_by},
    }


def _check_guards(ctx: FireContext, transition: TransitionDef, registry: Registry) -> None:
    for call in transition.guards:
        reason = registry.guards[call.name](ctx, **call.args)
        if reason:
            raise Forbidden(reason, rule=call.name)


def _validate_payload(transition: TransitionDef, payload: dict[str, Any], comment: str | None) -> None:
    errors: dict[str, Any] = {}
    if transition.payload_schema is not None:
        errors.update(transition.payload_schema.validate(payload))
    if transition.comment_required and not (comment or "").strip():
        errors["comment"] = [Message("field.comment_required", "A comment is required for this action.")]
    elif comment and (problem := text_problem(comment, multiline=True)) is not None:
        errors["comment"] = [problem]
    if errors:
        raise ValidationFailed(
            f"the {transition.trigger!r} action's input is invalid", errors=errors,
            fields=sorted(transition.payload),
            code="action.invalid", params={"trigger": transition.trigger},
        )


def available_actions(session: Session, instance: WorkflowInstance, actor: Actor,
                      definition: Definition | None = None) -> list[str]:
    """Triggers ``actor`` may fire now: roles, guards, and the conditions that depend on the
    case alone (a condition on the action's input is judged when the action comes)."""
    catalog = runtime.of(session).catalog
    definition = definition or catalog.get(instance.definition, instance.definition_version)
    if definition.states[instance.state].final:
        return []
    allowed: list[str] = []
    guards = catalog.registry.guards
    variables: dict[str, Any] | None = None
    for t in definition.transitions_from(instance.state):
        if t.trigger in allowed or not actor.has_any(t.roles) or (t.system_only and not actor.is_system):
            continue
        if t.condition is not None and not t.condition.reads_payload:
            variables = variables or _variables(instance, actor, {})
            if not t.condition.holds(variables):
                continue
        ctx = FireContext(session=session, instance=instance, definition=definition, transition=t,
                          actor=actor, payload={}, comment=None, from_state=instance.state,
                          now=clock.now())
        if all(not guards[c.name](ctx, **c.args) for c in t.guards):
            allowed.append(t.trigger)
    return allowed
