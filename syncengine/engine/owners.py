"""Owners and remote users: the Users stage, and the owner property ↔ OwnerId both ways.

The Users stage (read-only, before every pull) reads the remote users changed since the newest
one it knows, in one paged query, and links each to a Concord owner by email (case-insensitive):
a linked user updates its owner's name and active flag, an unlinked one is linked to the owner
with its email, created when there is none.

Pulls translate a user's Id into its owner's id through these links; pushes translate an owner
into the Id of its *active* user. An owner without one is never sent: the record's other
fields are, and the owner becomes a Permissions sync error (OWNER_HAS_NO_ACTIVE_USER) with its
resolution steps — a Salesforce admin expects the record's data to keep flowing and its owner
not to fall back silently to the integration user. A blank owner is not sent either: every
Salesforce record has one, so the record keeps the one it has there (a record Concord creates
without one gets the connecting user, which becomes the agreed value), and a blank owner never
competes with Salesforce's when merging: Salesforce's later reassignments are pulled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Max

from crm.audit import record_audit
from crm.models import Owner, Property
from syncengine.codes import SyncErrorCode as Code
from syncengine.connectors.base import RemoteUser
from syncengine.models import FieldMapping, ObjectMapping, RemoteOwner, SyncError, SyncStage

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner

OWNER_TYPE = Property.Type.OWNER
USERS_OBJECT = "User"
# Users committed late can carry an older stamp than the newest one known: re-read a window.
OVERLAP = dt.timedelta(minutes=2)
USERS_BATCH = 500
# The outgoing form of an owner with no remote user: compared like a value, never sent.
UNLINKED = "owner:"


class UnknownUser(ValueError):
    """A pulled OwnerId names a user the Users stage has not linked to an owner."""


def is_owner(fm: FieldMapping) -> bool:
    return fm.property.type == OWNER_TYPE


def uses_owners(run: CycleRunner) -> bool:
    """Does any usable field mapping of the cycle sync an owner?"""
    return any(is_owner(fm) for usable in run.usable.values() for fm in usable.fields)


# --- the Users stage ----------------------------------------------------------------------------


def pull_users(run: CycleRunner) -> None:
    """Read the remote users changed since the newest one known and link them to owners."""
    with run.stage(SyncStage.Operation.PULL_USERS) as stage:
        stage.remote_object = USERS_OBJECT
        newest = RemoteOwner.objects.filter(integration=run.integration).aggregate(
            newest=Max("remote_modstamp")
        )["newest"]
        batch: list[RemoteUser] = []
        created = 0
        for user in run.connector.read_users(newest - OVERLAP if newest else None):
            batch.append(user)
            if len(batch) >= USERS_BATCH:
                created += _link_users(run, batch, stage)
                batch = []
        if batch:
            created += _link_users(run, batch, stage)
        stage.message = (
            f"{stage.new} users linked to owners ({created} owners created), {stage.updated} "
            f"owners updated, {stage.skipped} unchanged."
        )
    run.owners = OwnerDirectory(run.integration)


@transaction.atomic
def _link_users(run: CycleRunner, users: list[RemoteUser], stage: SyncStage) -> int:
    """Link a batch of users to owners; how many owners it created."""
    # A batch commits with its links, so the next read starts after what is stored.
    created = 0
    links = {
        link.remote_id: link
        for link in RemoteOwner.objects.filter(
            integration=run.integration, remote_id__in=[u.remote_id for u in users]
        ).select_related("owner")
    }
    emails = {u.email for u in users if u.remote_id not in links and u.email}
    by_email = {o.email: o for o in Owner.objects.filter(email__in=emails)}
    linked_owners = set(
        RemoteOwner.objects.filter(
            integration=run.integration, owner__in=list(by_email.values())
        ).values_list("owner_id", flat=True)
    )
    for user in users:
        link = links.get(user.remote_id)
        if link is not None:
            changed = _update_owner(run, link.owner, user)
            if link.is_active != user.is_active or link.remote_modstamp != user.stamp:
                link.is_active, link.remote_modstamp = user.is_active, user.stamp
                link.save(update_fields=["is_active", "remote_modstamp", "synced_at"])
            if changed:
                stage.updated += 1
            else:
                stage.skipped += 1
            continue
        if not user.email:
            stage.skipped += 1
            continue
        owner = by_email.get(user.email)
        if owner is not None and owner.pk in linked_owners:
            # Two users of one org share the email: the owner stays its first user's.
            stage.skipped += 1
            continue
        if owner is None:
            owner = Owner.objects.create(name=user.name, email=user.email, is_active=user.is_active)
            by_email[user.email] = owner
            created += 1
            record_audit(
                verb="create_owner",
                source=run.source,
                target_id=owner.pk,
                target_repr=str(owner),
                detail={"remote_user": user.remote_id},
            )
        else:
            _update_owner(run, owner, user)
        RemoteOwner.objects.create(
            integration=run.integration,
            owner=owner,
            remote_id=user.remote_id,
            is_active=user.is_active,
            remote_modstamp=user.stamp,
        )
        linked_owners.add(owner.pk)
        stage.new += 1
    run.renew_lease()
    return created


def _update_owner(run: CycleRunner, owner: Owner, user: RemoteUser) -> bool:
    """The user's name and active flag onto its owner; whether anything changed."""
    changes = {}
    if user.name and owner.name != user.name:
        changes["name"] = user.name
    if owner.is_active != user.is_active:
        changes["is_active"] = user.is_active
    if not changes:
        return False
    before = {name: getattr(owner, name) for name in changes}
    for name, value in changes.items():
        setattr(owner, name, value)
    owner.save(update_fields=[*changes, "updated_at"])
    record_audit(
        verb="update_owner",
        source=run.source,
        target_id=owner.pk,
        target_repr=str(owner),
        detail={"before": before, "after": changes},
    )
    return True


# --- translation --------------------------------------------------------------------------------


class OwnerDirectory:
    """The integration's owner ↔ user links, read once (and again after the Users stage)."""

    def __init__(self, integration) -> None:
        rows = RemoteOwner.objects.filter(integration=integration).values_list(
            "owner_id", "remote_id", "is_active"
        )
        self.user_of: dict[int, str] = {}
        self.owner_of: dict[str, int] = {}
        self.active: set[str] = set()
        for owner_id, remote_id, is_active in rows:
            self.user_of[owner_id] = remote_id
            self.owner_of[remote_id] = owner_id
            if is_active:
                self.active.add(remote_id)

    def to_remote(self, owner_id: object) -> str | None:
        """An owner's id → its user's Id (active or not: compared with what the remote holds),
        or the UNLINKED form of an owner with no user."""
        if owner_id in (None, ""):
            return None
        owner = int(str(owner_id))
        return self.user_of.get(owner, f"{UNLINKED}{owner}")

    def to_local(self, remote_id: object) -> int | None:
        """A user's Id → its owner's id."""
        if remote_id in (None, ""):
            return None
        owner = self.owner_of.get(str(remote_id))
        if owner is None:
            raise UnknownUser(str(remote_id))
        return owner

    def sendable(self, value: object) -> bool:
        """Can this outgoing owner value be written: an active user's Id."""
        return isinstance(value, str) and value in self.active


def defaulted_on_create(run: CycleRunner, usable, payload: dict) -> dict:
    """What the remote set as owner of a record Concord created without sending one: the
    connecting user (Salesforce's default), so re-reading the record finds nothing new."""
    if not run.remote.has_users or not run.integration.remote_user_id:
        return {}
    return {
        fm.remote_field: run.integration.remote_user_id
        for fm in usable.fields
        if is_owner(fm) and fm.remote_field not in payload
    }


def blank_defers(fm: FieldMapping, local: object, agreed: object) -> object:
    """A blank Concord owner never competes with the remote's (every remote record has one,
    and a blank one is never sent): it counts as the last agreed value."""
    return agreed if is_owner(fm) and local is None else local


@dataclass
class Unsendable:
    """Owners a push chunk could not send, recorded once the chunk's answers are applied."""

    problems: list[tuple[FieldMapping, int, object]] = field(default_factory=list)

    def add(self, fm: FieldMapping, record_id: int, value: object) -> None:
        self.problems.append((fm, record_id, value))

    @property
    def record_ids(self) -> set[int]:
        return {record_id for _, record_id, _ in self.problems}

    def record(self, run: CycleRunner, om: ObjectMapping) -> None:
        """One Permissions error per record whose owner has no active remote user."""
        kind = run.integration.get_kind_display()
        owners = Owner.objects.in_bulk(
            {_owner_id(run, value) for _, _, value in self.problems} - {None}
        )
        for fm, record_id, value in self.problems:
            owner = owners.get(_owner_id(run, value))
            who = f"{owner.name} <{owner.email}>" if owner else "The owner"
            state = "is inactive" if str(value) in run.owners.owner_of else "is not a user"
            run.error(
                category=SyncError.Category.PERMISSIONS,
                code=Code.OWNER_HAS_NO_ACTIVE_USER,
                message=f"{who} {state} in {kind}, so the record's owner was not sent "
                f"({om.remote_object}.{fm.remote_field}); its other fields were.",
                direction=SyncError.Direction.PUSH,
                object_type_id=om.object_type_id,
                record_id=record_id,
                remote_object=om.remote_object,
                remote_field=fm.remote_field,
                property_name=fm.property.name,
                details={"owner": who},
                affected_record_ids=[record_id],
            )
        self.problems.clear()


def _owner_id(run: CycleRunner, value: object) -> int | None:
    text = str(value)
    if text.startswith(UNLINKED):
        return int(text.removeprefix(UNLINKED))
    return run.owners.owner_of.get(text)


def unknown_user(
    run: CycleRunner,
    om: ObjectMapping,
    fm: FieldMapping,
    record_id: int | None,
    remote_id: str | None,
    user_id: str,
) -> None:
    """A pulled owner names a user no owner is linked to (the Users stage did not read it)."""
    run.error(
        category=SyncError.Category.PERMISSIONS,
        code=Code.OWNER_USER_UNKNOWN,
        message=f"{om.remote_object}.{fm.remote_field} names the user {user_id}, whom no "
        "Concord owner is linked to yet; the record keeps its Concord owner.",
        direction=SyncError.Direction.PULL,
        object_type_id=om.object_type_id,
        record_id=record_id,
        remote_object=om.remote_object,
        remote_id=remote_id or "",
        remote_field=fm.remote_field,
        property_name=fm.property.name,
        details={"value": user_id},
    )
