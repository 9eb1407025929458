"""Errors the CRM services raise: each carries a message a user can act on."""

from __future__ import annotations


class CrmError(Exception):
    """A refused write. Nothing was changed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RecordValidationError(CrmError):
    """One record's values are not acceptable: {property name: [messages]}."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        summary = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in errors.items())
        super().__init__(summary)


class BatchValidationError(CrmError):
    """Some inputs of a batch are not acceptable: {input index: {property: [messages]}}."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        self.errors = errors
        super().__init__(f"{len(errors)} of the inputs are invalid; nothing was written")


class FilterError(CrmError):
    """A filter on a property that cannot be applied; `name` is the property's."""

    def __init__(self, message: str, *, name: str):
        super().__init__(message)
        self.name = name


class AssociationError(CrmError):
    """An association that cannot be made (wrong types, a limit reached, …)."""


class SchemaError(CrmError):
    """A change to object types or properties that cannot be made.

    `extra` holds machine-readable detail for the answer (e.g. the duplicate values that stop
    a property becoming unique), beside the message a person reads.
    """

    def __init__(self, message: str, *, field: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.field = field
        self.extra = extra or {}


class PropertyInUseError(SchemaError):
    """A property that is used elsewhere cannot be deleted: `usages` says where."""

    def __init__(self, prop, usages):
        self.usages = list(usages)
        where = "; ".join(u.label for u in self.usages)
        super().__init__(f"{prop} is used, so it cannot be deleted. Used in: {where}")
