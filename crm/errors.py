"""Errors the CRM services raise: each carries a message a user can act on.

They derive from config.errors.ConcordError (the project-wide family, which imports nothing, so
crm still imports no other app); the API's exception handler answers each from its `status`,
`code`, `field` and `body()`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from config.errors import ConcordError


class ValueCode(StrEnum):
    """Why one property value of a record was refused: stable, for callers to branch on."""

    INVALID = "invalid"  # the value does not fit the property's type or options
    UNKNOWN_PROPERTY = "unknown_property"
    READ_ONLY = "read_only"
    FORBIDDEN = "forbidden"  # the user may not edit this property
    REQUIRED = "required"
    NOT_FOUND = "not_found"  # no active record with this id
    REPEATED = "repeated"  # the same unique value twice in one batch
    DUPLICATE = "duplicate"  # a unique value another record holds already
    NO_OWNER = "no_owner"  # an owner property naming no active owner


class FieldErrors(dict[str, list[str]]):
    """Messages by property name (a plain dict to read), and each one's ValueCode in `codes`."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.codes: dict[str, str] = {}

    def add(self, name: str, message: str, *, code: ValueCode) -> None:
        """Refuse the value of `name` with this message and code."""
        self[name] = [message]
        self.codes[name] = code


class CrmError(ConcordError):
    """A refused write. Nothing was changed."""

    code = "refused"


class RecordValidationError(CrmError):
    """One record's values are not acceptable: {property name: [messages]}.

    `codes` says why per property ({name: ValueCode}), so a caller never reads the messages.
    """

    code = "invalid_values"

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        self.codes: dict[str, str] = dict(getattr(errors, "codes", {}))
        summary = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in errors.items())
        super().__init__(summary)

    def body(self) -> dict[str, Any]:
        """The messages by property, under `errors.properties`."""
        return {
            "detail": "Some property values are invalid; nothing was written.",
            "code": self.code,
            "errors": {"properties": self.errors},
        }


class BatchValidationError(CrmError):
    """Some inputs of a batch are not acceptable: {input index: {property: [messages]}}."""

    code = "invalid_batch"

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        self.errors = errors
        super().__init__(f"{len(errors)} of the inputs are invalid; nothing was written")

    def body(self) -> dict[str, Any]:
        """One entry per refused input, in input order."""
        return {
            "detail": self.message,
            "code": self.code,
            "errors": [{"index": i, "errors": e} for i, e in sorted(self.errors.items())],
        }


class FilterError(CrmError):
    """A filter on a property that cannot be applied; `name` is the property's."""

    code = "invalid_filter"

    def __init__(self, message: str, *, name: str):
        super().__init__(message)
        self.name = name


class AssociationError(CrmError):
    """An association that cannot be made (wrong types, a limit reached, …)."""

    code = "invalid_association"


class MergeError(CrmError):
    """A merge that cannot be made (unknown, archived or mixed records, too many losers)."""

    code = "invalid_merge"


class SchemaError(CrmError):
    """A change to object types or properties that cannot be made.

    `extra` holds machine-readable detail for the answer (e.g. the duplicate values that stop
    a property becoming unique), beside the message a person reads.
    """

    code = "invalid_schema"


class PropertyInUseError(SchemaError):
    """A property that is used elsewhere cannot be deleted: `usages` says where."""

    code = "property_in_use"

    def __init__(self, prop, usages):
        self.usages = list(usages)
        where = "; ".join(u.label for u in self.usages)
        super().__init__(f"{prop} is used, so it cannot be deleted. Used in: {where}")

    def body(self) -> dict[str, Any]:
        """The sentence, and each place the property is used."""
        return {
            "detail": self.message,
            "code": self.code,
            "used_in": [{"kind": u.kind, "label": u.label, "url": u.url} for u in self.usages],
        }


class OwnerError(CrmError):
    """An owner that cannot be saved: no name, a bad email, or an email another owner has."""

    code = "invalid_owner"


class SavedViewError(CrmError):
    """A saved view that cannot be saved: no name, a name taken, or a filter that cannot apply."""

    code = "invalid_saved_view"
