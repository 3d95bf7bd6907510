"""Starting instances and firing transitions.

``fire`` runs inside the caller's transaction as five steps, each a function
below: **lock** the instance row (read as plain columns, with the idempotency
record of the key in the same statement), **replay** the first result of a
repeated key, **select** the transition (visible case, known trigger, current
version, legal state, roles, condition, guards, payload), **apply** its effects
and move the machine, **persist** every row at once (``workflow.engine.writes``:
one statement on PostgreSQL). The caller commits (see
``workflow.platform.transaction``); if any step raises, nothing of the firing
remains.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from marshmallow import Schema
from sqlalchemy.orm import Session

from workflow.engine import runtime, visibility, writes
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
    UnknownAction,
    ValidationFailed,
    VersionConflict,
)
from workflow.platform import clock
from workflow.platform.hygiene import text_problem
from workflow.records import timers
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance


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
        return {
            "instance_id": self.instance_id,
            "trigger": self.trigger,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "version": self.version,
            "audit_seq": self.audit_seq,
            "replayed": self.replayed,
        }


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
        definition=definition.name,
        definition_version=definition.version,
        state=definition.initial,
        version=1,
        is_open=True,
        subject_type=subject_type or definition.subject,
        subject_id=subject_id,
        parent_id=parent_id,
        created_by=actor.username,
        assignees=list(assignees or []),
        data=dict(data or {}),
        created_at=now,
        updated_at=now,
        state_entered_at=now,
        audit_seq=0,
        audit_hash="",
        breached=False,
    )
    session.add(instance)
    session.flush()  # the id names the audit stream and the timers
    columns, armed = _entering(definition, definition.initial, now)
    for key, value in columns.items():
        setattr(instance, key, value)
    for state, timer_trigger, due_at in armed:
        timers.arm(session, instance.id, state, timer_trigger, due_at)
    audit.append(
        session,
        instance,
        audit.instance_stream(instance.id),
        "started",
        actor,
        at=now,
        instance_id=instance.id,
        subject=subject_of(instance),
        definition=definition.name,
        definition_version=definition.version,
        to_state=definition.initial,
        comment=comment,
        payload={"data": instance.data} if instance.data else {},
        request_id=request_id,
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
    held: writes.Locked | None = None,
) -> FireResult:
    """Fire ``trigger`` on an instance as ``actor``, inside the caller's transaction.

    Five steps, each below: lock (with the idempotency record), replay, select, apply,
    persist. Nothing is written before persist, which writes everything at once.
    ``held``: what :func:`authorize` returned; when its lock is still held (the same
    instance, actor, key and transaction) the row is not locked and read again.

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
    catalog = runtime.of(session).catalog
    if held is not None and held.held_for(session, instance_id, actor.username, idempotency_key):
        locked, instance = held, held.fresh_instance()
    else:
        locked = writes.lock(session, instance_id, actor.username, idempotency_key)
        instance = locked.instance
    if locked.prior is not None:
        return _replay(locked.prior, instance_id, trigger, idempotency_key)
    ctx = _admitted_already(locked, instance, trigger, expected_version, payload, comment)
    if ctx is not None:
        ctx.request_id = request_id
    else:
        ctx = _select(
            session,
            instance,
            instance_id,
            trigger,
            actor,
            dict(payload or {}),
            expected_version=expected_version,
            comment=comment,
            request_id=request_id,
            catalog=catalog,
        )
    read = dict(ctx.instance.__dict__)
    dest = _apply(ctx, catalog.registry)
    change = _writes(ctx, dest, read, idempotency_key)
    writes.persist(session, change, locked.connection)
    return _result(session, ctx, change)


def _replay(prior: writes.Prior, instance_id: int, trigger: str, key: str | None) -> FireResult:
    """The first result of a call made again with the same Idempotency-Key.

    Raises:
        IdempotencyMismatch: the key was used for another instance or trigger.
    """
    if prior.instance_id != instance_id or prior.trigger != trigger:
        raise IdempotencyMismatch(
            f"Idempotency-Key {key!r} was already used for "
            f"{prior.trigger!r} on instance {prior.instance_id}; use a new key per request"
        )
    return FireResult(**{**prior.result, "replayed": True})


def authorize(
    session: Session,
    instance_id: int,
    trigger: str,
    actor: Actor | writes.Credential,
    *,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
) -> writes.Locked:
    """Check, before the action's input is read, that ``actor`` may fire ``trigger`` on
    the instance now: the checks of :func:`fire` in its order, without what only the
    input decides (its fields; a condition on it), which :func:`fire` checks again with
    the rest. A request that repeats an earlier one's idempotency key is let through:
    :func:`fire` answers it.

    The row is read as :func:`fire`'s lock reads it (on PostgreSQL ``FOR UPDATE``, with
    the key's record): the lock-then-authorise of one transaction. The result, passed to
    :func:`fire` as ``held``, spares it a second read while that transaction lasts; a
    refusal leaves the lock to the caller's rollback.

    ``actor`` may be a :class:`~workflow.engine.writes.Credential`: who acts is then found
    by the lock's own statement (no round trip of its own), and the result's ``acting``
    holds them.

    Raises:
        whatever the credential raises when it names no one who may act (nothing is
        locked then).
        NotFound: no such instance, or one ``actor`` may not see.
        UnknownAction: the definition has no such trigger.
        VersionConflict: ``expected_version`` is stale.
        IllegalState: the trigger cannot fire from the current state.
        Forbidden: a missing role or a guard refused (``extra['rule']`` names it).
    """
    catalog = runtime.of(session).catalog
    if isinstance(actor, Actor):
        locked = writes.lock(session, instance_id, actor.username, idempotency_key)
        locked.acting = actor
    else:
        locked = writes.lock(session, instance_id, actor, idempotency_key)
    acting = locked.acting
    if acting is None:  # a Credential names someone or raises: never reached
        raise RuntimeError("the lock was taken for no one")
    if locked.prior is not None:
        return locked  # fire() replays the first result (or refuses a reused key)
    admitted = _admit(
        session,
        locked.instance,
        instance_id,
        trigger,
        acting,
        catalog,
        expected_version=expected_version,
        payload=None,
    )
    locked.admitted = (trigger, expected_version, admitted)
    return locked


def _admitted_already(
    locked: writes.Locked,
    instance: WorkflowInstance | None,
    trigger: str,
    expected_version: int | None,
    payload: dict[str, Any] | None,
    comment: str | None,
) -> FireContext | None:
    """The firing's context from what :func:`authorize` decided under this lock, when
    ``fire`` is called with what it was called with: the same trigger and expected
    version, no input and no comment (its checks then saw exactly what ``_select``'s
    would); None otherwise, and ``_select`` decides. The context is rebuilt on the fresh
    copy of the instance and the action's input is still validated."""
    if payload or comment is not None or locked.admitted is None or instance is None:
        return None
    admitted_trigger, admitted_version, admitted = locked.admitted
    if admitted_trigger != trigger or admitted_version != expected_version:
        return None
    if admitted is None or admitted.chosen is None:
        return None  # the input decides, or no condition holds: _select says which
    ctx: FireContext = replace(admitted.ctx, instance=instance, payload={})
    _validate_payload(ctx.transition, ctx.payload, comment)
    return ctx


@dataclass(frozen=True)
class _Admitted:
    definition: Definition
    permitted: list[TransitionDef]
    chosen: TransitionDef | None  # None: no permitted transition's condition holds
    ctx: FireContext  # for the transition whose guards were checked


def _admit(
    session: Session,
    instance: WorkflowInstance | None,
    instance_id: int,
    trigger: str,
    actor: Actor,
    catalog: Catalog,
    *,
    expected_version: int | None,
    payload: dict[str, Any] | None,
    comment: str | None = None,
    request_id: str | None = None,
) -> _Admitted | None:
    """Whether ``actor`` may fire ``trigger`` on ``instance`` now, in the order fire() checks them
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
        raise VersionConflict(
            f"instance {instance.id} is at version {instance.version}, not {expected_version}: "
            "someone acted first; reload and try again",
            current_version=instance.version,
            state=instance.state,
            code="instance.version_conflict",
        )
    from_state = instance.state
    candidates = definition.candidates(trigger, from_state)
    if not candidates:
        raise IllegalState(
            f"{trigger!r} cannot be done while the case is {from_state!r}",
            state=from_state,
            allowed_actions=available_actions(session, instance, actor, definition),
            code="action.illegal_state",
            params={"trigger": trigger, "state": from_state},
        )
    permitted = [t for t in candidates if actor.has_any(t.roles)]
    if not permitted:
        raise _missing_role(trigger, candidates, actor, "")
    if payload is None and any(
        t.condition is not None and t.condition.reads_payload for t in candidates
    ):
        return None
    now = clock.now()
    payload = payload if payload is not None else {}  # fire()'s own dict: effects may add to it
    variables = _variables(instance, actor, payload)
    chosen = next(
        (t for t in permitted if t.condition is None or t.condition.holds(variables)), None
    )
    probe = chosen or permitted[0]
    ctx = FireContext(
        session=session,
        instance=instance,
        definition=definition,
        transition=probe,
        actor=actor,
        payload=payload,
        comment=comment,
        from_state=from_state,
        now=now,
        request_id=request_id,
    )
    _check_guards(ctx, probe, catalog.registry)
    if chosen is None:
        # Someone else's step at this point of the case (the second approval, say): a
        # transition of this trigger whose condition holds needs roles the actor lacks.
        theirs = [
            t
            for t in candidates
            if t not in permitted and (t.condition is None or t.condition.holds(variables))
        ]
        if theirs:
            raise _missing_role(trigger, theirs, actor, " at this point of the case")
    return _Admitted(definition, permitted, chosen, ctx)


def _select(
    session: Session,
    instance: WorkflowInstance | None,
    instance_id: int,
    trigger: str,
    actor: Actor,
    payload: dict[str, Any],
    *,
    expected_version: int | None,
    comment: str | None,
    request_id: str | None,
    catalog: Catalog,
) -> FireContext:
    """Which transition fires: the checks of ``_admit`` (visible, known, current version,
    allowed from the state, roles, condition, guards, someone else's step), then the
    payload, then a condition that holds — refused in that order. Returns the firing's
    context, for the chosen transition."""
    admitted = _admit(
        session,
        instance,
        instance_id,
        trigger,
        actor,
        catalog,
        expected_version=expected_version,
        payload=payload,
        comment=comment,
        request_id=request_id,
    )
    assert admitted is not None  # the payload is known: every check was made
    ctx = admitted.ctx
    _validate_payload(ctx.transition, payload, comment)
    if admitted.chosen is None:
        raise ConditionNotMet(
            f"{trigger!r} is not possible with this data: "
            + "; ".join(t.condition.source for t in admitted.permitted if t.condition is not None),
            allowed_actions=available_actions(session, ctx.instance, actor, admitted.definition),
            code="action.condition",
            params={"trigger": trigger},
        )
    return ctx


def _missing_role(
    trigger: str, transitions: list[TransitionDef], actor: Actor, where: str
) -> Forbidden:
    needed = sorted(set().union(*(t.roles for t in transitions)))
    return Forbidden(
        f"{trigger!r}{where} needs one of the roles {', '.join(needed)}; you have "
        f"{', '.join(sorted(actor.roles)) or 'none'}",
        rule="role",
        code="action.role",
        params={"trigger": trigger, "roles": needed},
    )


def _apply(ctx: FireContext, registry: Registry) -> str:
    """Run the chosen transition's effects, then move the machine; returns the new state.
    Effects change ``ctx.instance`` (written by persist) or write rows of their own."""
    for call in ctx.transition.effects:
        registry.effects[call.name](ctx, **call.args)
    return run_transition(ctx.definition, ctx.from_state, ctx.transition, ctx.dest)


def _writes(
    ctx: FireContext, dest: str, read: dict[str, Any], idempotency_key: str | None
) -> writes.TransitionWrites:
    """The rows the firing writes: the instance row (state, version, times, SLA, chain
    head, and whatever effects changed), the audit record chained on it, the timers
    cancelled and armed, the tasks queued and the idempotency record."""
    instance, definition, now, from_state = ctx.instance, ctx.definition, ctx.now, ctx.from_state
    trigger = ctx.transition.trigger
    row = {key: getattr(instance, key) for key in writes.MOVED}
    row.update(state=dest, version=instance.version + 1, updated_at=now)
    armed: list[tuple[str, str, datetime]] = []
    if dest != from_state:
        columns, armed = _entering(definition, dest, now)
        row.update(columns)
    else:
        armed = [
            (dest, t.trigger, now + t.after)
            for t in definition.timers_for(dest)
            if t.repeat and t.trigger == trigger
        ]
    if ctx.sla_due_at is not None:
        row["sla_due_at"] = ctx.sla_due_at
    payload = {**ctx.payload, **ctx.audit} if ctx.audit else ctx.payload
    record = audit.record_values(
        instance.audit_seq + 1,
        instance.audit_hash,
        audit.instance_stream(instance.id),
        "transition",
        ctx.actor,
        at=now,
        instance_id=instance.id,
        subject=subject_of(instance),
        definition=definition.name,
        definition_version=definition.version,
        trigger=trigger,
        from_state=from_state,
        to_state=dest,
        comment=ctx.comment,
        payload=payload,
        request_id=ctx.request_id,
        idempotency_key=idempotency_key,
    )
    row.update(audit_seq=record["seq"], audit_hash=record["hash"])
    row.update(writes.changed_columns(instance, read))
    version = row["version"]
    change = writes.TransitionWrites(
        instance_id=instance.id,
        row=row,
        audit=record,
        cancel_state=from_state if dest != from_state else None,
        timers=armed,
        tasks=[
            (task, {"instance_id": instance.id, "version": version})
            for task in ctx.transition.tasks
        ],
        now=now,
    )
    if idempotency_key:
        result = FireResult(instance.id, trigger, from_state, dest, version, record["seq"])
        kept = result.to_dict()
        kept.pop("replayed")
        change.idempotency = {
            "actor": ctx.actor.username,
            "key": idempotency_key,
            "trigger": trigger,
            "result": kept,
        }
    return change


def _result(session: Session, ctx: FireContext, change: writes.TransitionWrites) -> FireResult:
    """What the caller gets: the result, and the instance as the firing left it (a copy
    the session already held is brought up to date too)."""
    instance = ctx.instance
    instance.__dict__.update(change.row)
    writes.refresh_loaded(session, instance.id, change.row)
    return FireResult(
        instance.id,
        ctx.transition.trigger,
        ctx.from_state,
        change.row["state"],
        change.row["version"],
        change.row["audit_seq"],
        instance=instance,
    )


def _entering(
    definition: Definition, state: str, now: datetime
) -> tuple[dict[str, Any], list[tuple[str, str, datetime]]]:
    """The instance columns that entering ``state`` sets, and the timers it arms."""
    spec = definition.states[state]
    columns = {
        "state_entered_at": now,
        "is_open": not spec.final,
        "sla_due_at": now + spec.sla if spec.sla else None,
        "breached": False,
    }
    return columns, [(state, t.trigger, now + t.after) for t in definition.timers_for(state)]


def subject_of(instance: WorkflowInstance) -> str | None:
    if instance.subject_type and instance.subject_id is not None:
        return f"{instance.subject_type}:{instance.subject_id}"
    return None


def _variables(instance: WorkflowInstance, actor: Actor, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": instance.data or {},
        "payload": payload,
        "actor": {"username": actor.username, "roles": sorted(actor.roles)},
        "instance": {
            "state": instance.state,
            "version": instance.version,
            "created_by": instance.created_by,
        },
    }


def _check_guards(ctx: FireContext, transition: TransitionDef, registry: Registry) -> None:
    for call in transition.guards:
        reason = registry.guards[call.name](ctx, **call.args)
        if reason:
            raise Forbidden(reason, rule=call.name)


def _validate_payload(
    transition: TransitionDef, payload: dict[str, Any], comment: str | None
) -> None:
    errors: dict[str, Any] = {}
    if transition.payload_schema is not None:
        errors.update(_payload_errors(transition.payload_schema, payload))
    if transition.comment_required and not (comment or "").strip():
        errors["comment"] = [
            Message("field.comment_required", "A comment is required for this action.")
        ]
    elif comment and (problem := text_problem(comment, multiline=True)) is not None:
        errors["comment"] = [problem]
    if errors:
        raise ValidationFailed(
            f"the {transition.trigger!r} action's input is invalid",
            errors=errors,
            fields=sorted(transition.payload),
            code="action.invalid",
            params={"trigger": transition.trigger},
        )


# What a payload schema says of an empty payload, once per schema: the schema is pure
# (field types, required, lengths; no hook reads anything else), so the answer never changes.
_EMPTY_ERRORS: WeakKeyDictionary[Schema, dict[str, Any]] = WeakKeyDictionary()


def _payload_errors(schema: Schema, payload: dict[str, Any]) -> dict[str, Any]:
    if payload:
        return schema.validate(payload)
    errors = _EMPTY_ERRORS.get(schema)
    if errors is None:
        errors = _EMPTY_ERRORS[schema] = schema.validate({})
    return {key: list(value) if isinstance(value, list) else value for key, value in errors.items()}


def available_actions(
    session: Session, instance: WorkflowInstance, actor: Actor, definition: Definition | None = None
) -> list[str]:
    """Triggers ``actor`` may fire now: roles, guards, and the conditions that depend on the
    case alone (a condition on the action's input is judged when the action comes)."""
    catalog = runtime.of(session).catalog
    definition = definition or catalog.get(instance.definition, instance.definition_version)
    if definition.states[instance.state].final:
        return []
    allowed: list[str] = []
    guards = catalog.registry.guards
    variables: dict[str, Any] | None = None
    now: datetime | None = None
    for t in definition.transitions_from(instance.state):
        if (
            t.trigger in allowed
            or not actor.has_any(t.roles)
            or (t.system_only and not actor.is_system)
        ):
            continue
        if t.condition is not None and not t.condition.reads_payload:
            variables = variables or _variables(instance, actor, {})
            if not t.condition.holds(variables):
                continue
        ctx = FireContext(
            session=session,
            instance=instance,
            definition=definition,
            transition=t,
            actor=actor,
            payload={},
            comment=None,
            from_state=instance.state,
            now=now or (now := clock.now()),
        )
        if all(not guards[c.name](ctx, **c.args) for c in t.guards):
            allowed.append(t.trigger)
    return allowed
