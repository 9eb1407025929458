"""Loading the org definition file (YAML or JSON) into typed definitions.

The format is documented in README.md next to this module; ``default_org.yaml`` is the example.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import soql
from .ids import MalformedIdError, to_18

DEFAULT_ORG_PATH = Path(__file__).with_name("default_org.yaml")

FIELD_TYPES = {
    "id": "tns:ID",
    "string": "xsd:string",
    "textarea": "xsd:string",
    "email": "xsd:string",
    "phone": "xsd:string",
    "url": "xsd:string",
    "picklist": "xsd:string",
    "multipicklist": "xsd:string",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "reference": "tns:ID",
}
NUMBER_TYPES = {"int", "double", "currency", "percent"}
TEXT_TYPES = {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist"}
DEFAULT_LENGTHS = {
    "string": 255,
    "textarea": 32768,
    "email": 80,
    "phone": 40,
    "url": 255,
    "picklist": 255,
    "multipicklist": 4099,
    "id": 18,
    "reference": 18,
}

# Fields Salesforce maintains itself; present on every object and never writable through the API.
AUDIT_FIELDS = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "MasterRecordId",
)

DEFAULT_LEAD_CONVERSION = {
    "converted_status": "Closed - Converted",
    "account": {
        "Company": "Name",
        "Website": "Website",
        "Phone": "Phone",
        "Industry": "Industry",
        "NumberOfEmployees": "NumberOfEmployees",
        "AnnualRevenue": "AnnualRevenue",
        "City": "BillingCity",
        "Street": "BillingStreet",
        "PostalCode": "BillingPostalCode",
    },
    "contact": {
        "FirstName": "FirstName",
        "LastName": "LastName",
        "Email": "Email",
        "Phone": "Phone",
        "MobilePhone": "MobilePhone",
        "Title": "Title",
        "LeadSource": "LeadSource",
        "Street": "MailingStreet",
        "City": "MailingCity",
        "PostalCode": "MailingPostalCode",
    },
    "opportunity": {"LeadSource": "LeadSource"},
}


class OrgDefinitionError(ValueError):
    """The org file is inconsistent (unknown type, bad rule condition...)."""


@dataclass
class FieldDef:
    name: str
    type: str
    label: str
    length: int = 0
    required: bool = False
    unique: bool = False
    external_id: bool = False
    case_sensitive: bool = False
    values: list[str] = field(default_factory=list)
    restricted: bool = False
    reference_to: list[str] = field(default_factory=list)
    relationship_name: str | None = None
    access: str = "edit"  # edit | read | hidden: the integration user's field-level security
    system: bool = False  # maintained by the platform: nobody may write it through the API
    precision: int = 18
    scale: int = 0
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    compose: list[str] = field(default_factory=list)  # read-only concatenation, e.g. Contact.Name
    name_field: bool = False
    custom: bool = False

    @property
    def visible(self) -> bool:
        return self.access != "hidden"

    @property
    def writable_by_api(self) -> bool:
        return self.access == "edit" and not self.system and not self.compose

    @property
    def nillable(self) -> bool:
        # The platform always sets its own fields (ids, audit stamps, the owner): never null.
        return (
            not self.required
            and self.type != "boolean"
            and not self.system
            and self.name != "OwnerId"
        )


@dataclass
class ObjectDef:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    custom: bool
    fields: dict[str, FieldDef]
    permissions: frozenset[str] = frozenset({"read", "create", "edit", "delete"})

    def __post_init__(self) -> None:
        self._by_lower = {name.lower(): f for name, f in self.fields.items()}
        self._by_relationship = {
            f.relationship_name.lower(): f for f in self.fields.values() if f.relationship_name
        }

    def field(self, name: str) -> FieldDef | None:
        """Case-insensitive lookup, as Salesforce does for API names."""
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        return self._by_relationship.get(name.lower())

    @property
    def unique_fields(self) -> list[FieldDef]:
        return [f for f in self.fields.values() if f.unique or f.external_id]


@dataclass
class ValidationRule:
    name: str
    sobject: str
    condition: soql.Condition  # the record is rejected when this is true
    message: str
    field: str | None = None


@dataclass
class DuplicateRule:
    name: str
    sobject: str
    match_fields: list[str]
    action: str  # block | alert (alert can be overridden with Sforce-Duplicate-Rule-Header)
    message: str


@dataclass
class TriggerDef:
    name: str
    sobject: str
    kind: str  # trigger | flow
    events: list[str]  # insert | update | delete
    condition: soql.Condition | None
    message: str


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: list[str]


@dataclass
class UserDef:
    """A user of the org: a User record, and (with a password) a login for the API."""

    username: str
    password: str | None  # None: the user cannot log in (a sales rep who only owns records)
    user_id: str
    name: str
    email: str = ""
    active: bool = True


@dataclass
class Faults:
    latency_ms: int = 0
    server_unavailable_rate: float = 0.0
    unable_to_lock_row_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise OrgDefinitionError(f"unknown fault settings: {sorted(unknown)}")
        return cls(**data)


@dataclass
class OrgDef:
    org_id: str
    name: str
    users: list[UserDef]
    clients: list[OAuthClient]
    access_token_ttl_seconds: int
    auth_code_ttl_seconds: int
    daily_api_limit: int
    query_batch_size: int
    objects: dict[str, ObjectDef]
    validation_rules: list[ValidationRule]
    duplicate_rules: list[DuplicateRule]
    triggers: list[TriggerDef]
    faults: Faults
    lead_conversion: dict[str, Any]
    latest_api_version: str = "62.0"

    def __post_init__(self) -> None:
        self._objects_lower = {name.lower(): o for name, o in self.objects.items()}
        self._by_prefix = {o.key_prefix: o for o in self.objects.values()}

    def sobject(self, name: str) -> ObjectDef | None:
        return self._objects_lower.get(name.lower())

    def sobject_for_id(self, record_id: str) -> ObjectDef | None:
        return self._by_prefix.get(record_id[:3])

    @property
    def user(self) -> UserDef:
        """The integration user every API session acts as."""
        return self.users[0]


# Objects Salesforce merges: their merged-away records carry MasterRecordId (reference §2.2).
MERGEABLE_OBJECTS = frozenset({"Account", "Contact", "Lead"})


def _audit_fields(owner: bool, object_name: str = "") -> dict[str, FieldDef]:
    fields = {
        "Id": FieldDef("Id", "id", "Record ID", length=18, system=True),
        "IsDeleted": FieldDef("IsDeleted", "boolean", "Deleted", system=True, default=False),
        "CreatedDate": FieldDef("CreatedDate", "datetime", "Created Date", system=True),
        "CreatedById": FieldDef(
            "CreatedById",
            "reference",
            "Created By ID",
            system=True,
            reference_to=["User"],
            relationship_name="CreatedBy",
        ),
        "LastModifiedDate": FieldDef(
            "LastModifiedDate", "datetime", "Last Modified Date", system=True
        ),
        "LastModifiedById": FieldDef(
            "LastModifiedById",
            "reference",
            "Last Modified By ID",
            system=True,
            reference_to=["User"],
            relationship_name="LastModifiedBy",
        ),
        "SystemModstamp": FieldDef("SystemModstamp", "datetime", "System Modstamp", system=True),
    }
    if object_name in MERGEABLE_OBJECTS:
        fields["MasterRecordId"] = FieldDef(
            "MasterRecordId",
            "reference",
            "Master Record ID",
            system=True,
            reference_to=[object_name],
            relationship_name="MasterRecord",
        )
    if owner:
        fields["OwnerId"] = FieldDef(
            "OwnerId", "reference", "Owner ID", reference_to=["User"], relationship_name="Owner"
        )
    return fields


def _users(entries: list[dict[str, Any]]) -> list[UserDef]:
    try:
        users = [
            UserDef(
                username=u["username"],
                password=str(u["password"]) if u.get("password") is not None else None,
                user_id=to_18(u["id"]),
                name=u.get("name", u["username"]),
                email=str(u.get("email") or u["username"]).lower(),
                active=bool(u.get("active", True)),
            )
            for u in entries
        ]
    except MalformedIdError as exc:
        raise OrgDefinitionError(f"user id {exc} is not a valid Salesforce id") from exc
    if not users:
        raise OrgDefinitionError("the org needs at least one user (the integration user)")
    if not users[0].active or users[0].password is None:
        raise OrgDefinitionError("the first user (the integration user) must be active and log in")
    if any(not u.user_id.startswith(USER_KEY_PREFIX) for u in users):
        raise OrgDefinitionError(f"user ids start with {USER_KEY_PREFIX}")
    return users


USER_KEY_PREFIX = "005"


def _user_object() -> ObjectDef:
    """Salesforce's User: readable by the integration user, who cannot manage users (no
    create, edit or delete through the API: users are set up in the org file or, standing for
    the Setup pages, the control API)."""
    fields = _audit_fields(owner=False, object_name="User")
    del fields["IsDeleted"]  # users are deactivated, never deleted
    for name, data in {
        "Username": {"type": "string", "length": 80, "required": True, "unique": True},
        "FirstName": {"type": "string", "length": 40},
        "LastName": {"type": "string", "length": 80, "required": True},
        "Name": {
            "type": "string",
            "length": 121,
            "compose": ["FirstName", "LastName"],
            "name_field": True,
            "label": "Full Name",
        },
        "Email": {"type": "email", "length": 128, "required": True},
        "IsActive": {"type": "boolean", "default": True, "label": "Active"},
    }.items():
        fields[name] = _field_from_dict(name, data)
    return ObjectDef(
        name="User",
        label="User",
        label_plural="Users",
        key_prefix=USER_KEY_PREFIX,
        custom=False,
        fields=fields,
        permissions=frozenset({"read"}),
    )


def _label_from_name(name: str) -> str:
    base = name.removesuffix("__c").removesuffix("Id") if name != "Id" else name
    out = []
    for index, char in enumerate(base.replace("_", " ")):
        if index and char.isupper() and base[index - 1].islower():
            out.append(" ")
        out.append(char)
    return "".join(out).strip() or name


def _field_from_dict(name: str, data: dict[str, Any]) -> FieldDef:
    ftype = data.get("type", "string")
    if ftype not in FIELD_TYPES:
        raise OrgDefinitionError(f"field {name}: unknown type {ftype!r}")
    access = data.get("access", "edit")
    if access not in ("edit", "read", "hidden"):
        raise OrgDefinitionError(f"field {name}: access must be edit, read or hidden")
    reference_to = data.get("reference_to", [])
    if isinstance(reference_to, str):
        reference_to = [reference_to]
    relationship_name = data.get("relationship_name")
    if ftype == "reference" and not relationship_name:
        relationship_name = name[:-2] if name.endswith("Id") else name.replace("__c", "__r")
    return FieldDef(
        name=name,
        type=ftype,
        label=data.get("label") or _label_from_name(name),
        length=int(data.get("length", DEFAULT_LENGTHS.get(ftype, 0))),
        required=bool(data.get("required", False)),
        unique=bool(data.get("unique", False)),
        external_id=bool(data.get("external_id", False)),
        case_sensitive=bool(data.get("case_sensitive", False)),
        values=[str(v) for v in data.get("values", [])],
        restricted=bool(data.get("restricted", False)),
        reference_to=list(reference_to),
        relationship_name=relationship_name,
        access=access,
        system=bool(data.get("system", False)),
        precision=int(data.get("precision", 9 if ftype == "int" else 18)),
        scale=int(data.get("scale", 0 if ftype == "int" else 2)),
        minimum=data.get("min"),
        maximum=data.get("max"),
        default=data.get("default", False if ftype == "boolean" else None),
        compose=list(data.get("compose", [])),
        name_field=bool(data.get("name_field", False)),
        custom=name.endswith("__c"),
    )


def _object_from_dict(name: str, data: dict[str, Any], custom_index: int) -> ObjectDef:
    custom = name.endswith("__c")
    key_prefix = str(data.get("key_prefix") or (f"a0{custom_index:X}" if custom else ""))
    if len(key_prefix) != 3:
        raise OrgDefinitionError(f"object {name}: key_prefix must be 3 characters")
    fields = _audit_fields(owner=bool(data.get("has_owner", True)), object_name=name)
    for field_name, field_data in (data.get("fields") or {}).items():
        if field_name in AUDIT_FIELDS:
            raise OrgDefinitionError(f"object {name}: {field_name} is a system field")
        fields[field_name] = _field_from_dict(field_name, field_data or {})
    if custom and "Name" not in fields:
        fields["Name"] = FieldDef("Name", "string", f"{name[:-3]} Name", length=80, name_field=True)
    permissions = frozenset(data.get("permissions", ["read", "create", "edit", "delete"]))
    label = data.get("label") or _label_from_name(name)
    return ObjectDef(
        name=name,
        label=label,
        label_plural=data.get("label_plural") or f"{label}s",
        key_prefix=key_prefix,
        custom=custom,
        fields=fields,
        permissions=permissions,
    )


def _condition(text: str | None, where: str) -> soql.Condition | None:
    if not text:
        return None
    try:
        return soql.parse_condition(text)
    except soql.SoqlSyntaxError as exc:
        raise OrgDefinitionError(f"{where}: bad condition {text!r}: {exc}") from exc


def org_from_dict(data: dict[str, Any]) -> OrgDef:
    org = data.get("org") or {}
    objects: dict[str, ObjectDef] = {}
    custom_index = 1
    for name, object_data in (data.get("objects") or {}).items():
        objects[name] = _object_from_dict(name, object_data or {}, custom_index)
        custom_index += name.endswith("__c")

    def known_object(name: str, where: str) -> str:
        if name not in objects:
            raise OrgDefinitionError(f"{where}: unknown object {name!r}")
        return name

    validation_rules = [
        ValidationRule(
            name=rule["name"],
            sobject=known_object(rule["object"], f"validation rule {rule['name']}"),
            condition=_condition(rule["condition"], f"validation rule {rule['name']}"),  # type: ignore[arg-type]
            message=rule["message"],
            field=rule.get("field"),
        )
        for rule in data.get("validation_rules") or []
    ]
    duplicate_rules = [
        DuplicateRule(
            name=rule["name"],
            sobject=known_object(rule["object"], f"duplicate rule {rule['name']}"),
            match_fields=list(rule["match_fields"]),
            action=rule.get("action", "alert"),
            message=rule.get("message", "Use one of these records?"),
        )
        for rule in data.get("duplicate_rules") or []
    ]
    triggers = [
        TriggerDef(
            name=rule["name"],
            sobject=known_object(rule["object"], f"trigger {rule['name']}"),
            kind=rule.get("kind", "trigger"),
            events=list(rule.get("events", ["insert", "update"])),
            condition=_condition(rule.get("condition"), f"trigger {rule['name']}"),
            message=rule.get(
                "message", "System.NullPointerException: Attempt to de-reference a null object"
            ),
        )
        for rule in data.get("triggers") or []
    ]
    users = _users(data.get("users") or [])
    if "User" in objects:
        raise OrgDefinitionError("User is built in: configure users under `users:`")
    objects["User"] = _user_object()
    oauth = data.get("oauth") or {}
    clients = [
        OAuthClient(c["client_id"], str(c["client_secret"]), list(c.get("redirect_uris", [])))
        for c in oauth.get("clients") or []
    ]
    conversion = dict(DEFAULT_LEAD_CONVERSION)
    conversion.update(data.get("lead_conversion") or {})
    return OrgDef(
        org_id=str(org.get("id", "00DRS0000000001")),
        name=org.get("name", "Concord Sandbox"),
        users=users,
        clients=clients,
        access_token_ttl_seconds=int(oauth.get("access_token_ttl_seconds", 7200)),
        auth_code_ttl_seconds=int(oauth.get("auth_code_ttl_seconds", 900)),
        daily_api_limit=int(org.get("daily_api_limit", 15000)),
        query_batch_size=int(org.get("query_batch_size", 2000)),
        latest_api_version=str(org.get("api_version", "62.0")),
        objects=objects,
        validation_rules=validation_rules,
        duplicate_rules=duplicate_rules,
        triggers=triggers,
        faults=Faults.from_dict(data.get("faults") or {}),
        lead_conversion=conversion,
    )


def load_org(path: Path | str | None = None) -> OrgDef:
    """Read an org file; ``.json`` is parsed as JSON, anything else as YAML."""
    path = Path(path) if path else DEFAULT_ORG_PATH
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return org_from_dict(data or {})
