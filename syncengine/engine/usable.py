"""What of an object mapping takes part in a cycle: the directions that pull or push, the rules
that send Concord's values, and the mappings the schema check found usable."""

from __future__ import annotations

from dataclasses import dataclass, field

from syncengine.models import FieldMapping, ObjectMapping, ReferenceMapping, SyncRule

PULL_DIRECTIONS = (ObjectMapping.Direction.TWO_WAY, ObjectMapping.Direction.FROM_REMOTE)
PUSH_DIRECTIONS = (ObjectMapping.Direction.TWO_WAY, ObjectMapping.Direction.TO_REMOTE)
PUSHING_RULES = {SyncRule.TWO_WAY, SyncRule.ALWAYS_CONCORD, SyncRule.PREFER_REMOTE_UNLESS_BLANK}


@dataclass
class UsableFields:
    """The usable mappings of one object mapping, after the schema check."""

    fields: list[FieldMapping] = field(default_factory=list)
    pushable: set[int] = field(default_factory=set)  # field mapping ids the remote lets us write
    refs: list[ReferenceMapping] = field(default_factory=list)
    junctions: list[ReferenceMapping] = field(default_factory=list)  # e.g. contact roles
    has_external_id: bool = True
