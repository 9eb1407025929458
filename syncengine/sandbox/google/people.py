"""Person resources: field masks, normalising what a client sends, rendering what Google answers.

A contact's fields are stored already normalised (output-only values such as ``displayName``,
``formattedType`` and ``canonicalForm`` computed once at write time), so rendering a page of a
full sync only copies items and adds their per-item ``metadata``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from .errors import invalid_argument, invalid_mask_path, mask_required

Item = dict[str, Any]
# The account's region: national phone numbers are read as numbers of this country.
DEFAULT_REGION = "US"

PERSON_FIELDS = [
    "addresses",
    "ageRanges",
    "biographies",
    "birthdays",
    "calendarUrls",
    "clientData",
    "coverPhotos",
    "emailAddresses",
    "events",
    "externalIds",
    "genders",
    "imClients",
    "interests",
    "locales",
    "locations",
    "memberships",
    "metadata",
    "miscKeywords",
    "names",
    "nicknames",
    "occupations",
    "organizations",
    "phoneNumbers",
    "photos",
    "relations",
    "sipAddresses",
    "skills",
    "urls",
    "userDefined",
]
READ_ONLY_FIELDS = {"ageRanges", "coverPhotos", "metadata", "photos", "skills"}
UPDATABLE_FIELDS = [f for f in PERSON_FIELDS if f not in READ_ONLY_FIELDS]
# Stored as list items on the contact; memberships and metadata are derived.
DATA_FIELDS = [f for f in UPDATABLE_FIELDS if f != "memberships"]
SINGLETON_FIELDS = {"names", "biographies", "birthdays", "genders"}
OTHER_CONTACT_FIELDS = {"emailAddresses", "metadata", "names", "phoneNumbers", "photos"}
COPYABLE_FIELDS = {"emailAddresses", "names", "phoneNumbers"}
# Keys of a Person that are not fields (or are output only) and that clients echo back.
PERSON_EXTRA_KEYS = {
    "resourceName",
    "etag",
    "ageRange",
    "braggingRights",
    "fileAses",
    "relationshipInterests",
    "relationshipStatuses",
    "residences",
    "taglines",
}

FORMATTED_TYPES = {
    "home": "Home",
    "work": "Work",
    "other": "Other",
    "mobile": "Mobile",
    "homeFax": "Home Fax",
    "workFax": "Work Fax",
    "otherFax": "Other Fax",
    "pager": "Pager",
    "workMobile": "Work Mobile",
    "workPager": "Work Pager",
    "main": "Main",
    "googleVoice": "Google Voice",
    "school": "School",
    "blog": "Blog",
    "profile": "Profile",
    "homePage": "Home Page",
    "ftp": "FTP",
}
# Keys Google computes; a client echoing them back must not be able to set them.
OUTPUT_ONLY_KEYS = {
    "metadata",
    "formattedType",
    "canonicalForm",
    "displayName",
    "displayNameLastFirst",
    "formattedValue",
    "formattedProtocol",
}
NAME_ORDER = ("honorificPrefix", "givenName", "middleName", "familyName", "honorificSuffix")


def parse_mask(
    raw: str | None, name: str, allowed: Iterable[str] = PERSON_FIELDS, required: bool = True
) -> list[str] | None:
    """A comma-separated mask; ``person.`` prefixes are accepted as Google does."""
    if raw is None or not raw.strip():
        if required:
            raise mask_required(name)
        return None
    allowed_set = set(allowed)
    fields: list[str] = []
    for part in raw.split(","):
        path = part.strip().removeprefix("person.")
        if path not in allowed_set:
            raise invalid_mask_path(name, part.strip())
        if path not in fields:
            fields.append(path)
    return fields


def _clean_item(item: Any, field_name: str) -> Item:
    if not isinstance(item, dict):
        raise invalid_argument(
            f"Invalid JSON payload received. Invalid value at 'person.{field_name}': "
            "expected an object."
        )
    return {k: v for k, v in item.items() if k not in OUTPUT_ONLY_KEYS}


def _canonical_phone(value: str, region: str) -> str | None:
    """The E.164 form Google adds as ``canonicalForm``: a number in international format as it
    is, a national one read in the account's region; none for a number that is not valid there.
    libphonenumber is Google's own phone-number library."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _formatted_type(item: Item) -> None:
    kind = item.get("type")
    if kind:
        item["formattedType"] = FORMATTED_TYPES.get(kind, kind)


def _normalise_name(item: Item) -> None:
    if not any(item.get(k) for k in NAME_ORDER) and item.get("unstructuredName"):
        given, _, family = str(item["unstructuredName"]).strip().partition(" ")
        item["givenName"] = given
        if family:
            item["familyName"] = family
    display = " ".join(str(item[k]) for k in NAME_ORDER if item.get(k))
    if display:
        item["displayName"] = display
        item.setdefault("unstructuredName", display)
        last_first = item.get("familyName") or ""
        rest = " ".join(str(item[k]) for k in ("givenName", "middleName") if item.get(k))
        item["displayNameLastFirst"] = f"{last_first}, {rest}" if last_first and rest else display


def _normalise_address(item: Item) -> None:
    city_line = " ".join(str(item[k]) for k in ("city", "region", "postalCode") if item.get(k))
    parts = [item.get("poBox"), item.get("streetAddress"), item.get("extendedAddress"), city_line]
    parts.append(item.get("country"))
    formatted = "\n".join(str(p) for p in parts if p)
    if formatted:
        item["formattedValue"] = formatted


def normalise_field(field_name: str, items: Any, region: str = DEFAULT_REGION) -> list[Item]:
    """Validate and normalise one field's items as Google stores them."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise invalid_argument(
            f"Invalid JSON payload received. Invalid value at 'person.{field_name}': "
            "expected a list."
        )
    if field_name in SINGLETON_FIELDS and len(items) > 1:
        raise invalid_argument(f"Only one {field_name[:-1]} field is allowed per contact.")
    cleaned = [_clean_item(item, field_name) for item in items]
    for item in cleaned:
        if field_name == "names":
            _normalise_name(item)
        elif field_name == "phoneNumbers":
            if canonical := _canonical_phone(str(item.get("value", "")), region):
                item["canonicalForm"] = canonical
            _formatted_type(item)
        elif field_name == "addresses":
            _normalise_address(item)
            _formatted_type(item)
        elif field_name == "biographies":
            item.setdefault("contentType", "TEXT_PLAIN")
        elif field_name in ("emailAddresses", "organizations", "urls", "events", "relations"):
            _formatted_type(item)
    return cleaned


def check_person_keys(body: dict[str, Any]) -> None:
    for key in body:
        if key not in PERSON_FIELDS and key not in PERSON_EXTRA_KEYS:
            raise invalid_argument(
                f"Invalid JSON payload received. Unknown name \"{key}\" at 'person': "
                "Cannot find field."
            )


def normalise_person(
    body: dict[str, Any], fields: Iterable[str] | None = None, region: str = DEFAULT_REGION
) -> dict[str, list]:
    """The stored data fields of ``body``: all present ones, or exactly ``fields`` (an update)."""
    check_person_keys(body)
    names = [f for f in DATA_FIELDS if f in body] if fields is None else list(fields)
    return {f: normalise_field(f, body.get(f), region) for f in names if f in DATA_FIELDS}


def membership_group_ids(body: dict[str, Any]) -> list[str] | None:
    """Group ids named by ``memberships`` (None when the field is absent)."""
    memberships = body.get("memberships")
    if memberships is None:
        return None
    if not isinstance(memberships, list):
        raise invalid_argument("Invalid JSON payload received. 'person.memberships' is a list.")
    group_ids: list[str] = []
    for membership in memberships:
        group = (membership or {}).get("contactGroupMembership") or {}
        group_id = group.get("contactGroupId") or str(
            group.get("contactGroupResourceName", "")
        ).removeprefix("contactGroups/")
        if not group_id:
            raise invalid_argument("Membership must set contactGroupMembership.")
        if group_id not in group_ids:
            group_ids.append(group_id)
    return group_ids


def _digest(text: str, length: int) -> str:
    raw = hashlib.sha1(text.encode()).digest()
    return base64.b64encode(raw).decode()[:length]


@dataclass
class Contact:
    """One stored contact (``kind`` contact) or Other contact (``kind`` other)."""

    id: str  # c<digits>
    kind: str  # contact | other
    state: str  # active | trash | gone (purged from Trash or moved away: a tombstone only)
    seq: int  # position in the change log; bumps on every change
    update_time: str
    source_id: str
    fields: dict[str, list[Item]] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    trashed_at: float | None = None

    @property
    def resource_name(self) -> str:
        return f"{'people' if self.kind == 'contact' else 'otherContacts'}/{self.id}"

    @property
    def etag(self) -> str:
        return "%" + _digest(f"{self.id}:{self.seq}", 24)

    @property
    def source_etag(self) -> str:
        return "#" + _digest(f"{self.source_id}:{self.seq}", 11) + "="

    @property
    def source_type(self) -> str:
        return "CONTACT" if self.kind == "contact" else "OTHER_CONTACT"

    def size_bytes(self) -> int:
        """What counts toward the per-contact limit: the stored data as compact JSON."""
        data = {"fields": self.fields, "groups": self.groups}
        return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())

    def to_row(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "update_time": self.update_time,
            "fields": self.fields,
            "groups": self.groups,
        }

    def render(self, mask: Iterable[str] | None, tombstone: bool = False) -> dict[str, Any]:
        """The Person as the API answers it; ``mask`` None means every field."""
        person: dict[str, Any] = {"resourceName": self.resource_name, "etag": self.etag}
        source = {"type": self.source_type, "id": self.source_id}
        wanted = PERSON_FIELDS if mask is None else mask
        if tombstone:
            # Sync answers show a deleted contact with metadata.deleted and nothing else.
            wanted = ["metadata"]
        for name in wanted:
            if name == "metadata":
                metadata: dict[str, Any] = {
                    "sources": [
                        {
                            **source,
                            "etag": self.source_etag,
                            "updateTime": self.update_time,
                        }
                    ],
                    "objectType": "PERSON",
                }
                if tombstone:
                    metadata["deleted"] = True
                person["metadata"] = metadata
            elif name == "memberships":
                if self.groups:
                    person["memberships"] = [
                        {
                            "metadata": {"source": source},
                            "contactGroupMembership": {
                                "contactGroupId": group_id,
                                "contactGroupResourceName": f"contactGroups/{group_id}",
                            },
                        }
                        for group_id in self.groups
                    ]
            elif items := self.fields.get(name):
                rendered = []
                for index, item in enumerate(items):
                    item_metadata: dict[str, Any] = {"source": source}
                    if index == 0:
                        item_metadata = {"primary": True, "sourcePrimary": True, **item_metadata}
                    rendered.append({"metadata": item_metadata, **item})
                person[name] = rendered
        return person

    def matches(self, query: str) -> bool:
        """searchContacts: a prefix match on names, emails, phones and organizations."""
        needle = query.strip().lower()
        for name in ("names", "emailAddresses", "phoneNumbers", "organizations", "nicknames"):
            for item in self.fields.get(name, []):
                for value in item.values():
                    if isinstance(value, str) and any(
                        word.startswith(needle) for word in value.lower().split()
                    ):
                        return True
                    if isinstance(value, str) and value.lower().startswith(needle):
                        return True
        return False
