"""Describe payloads (global and per object), as the integration user sees them: FLS-hidden
fields are simply absent and read-only fields are neither createable nor updateable."""

from __future__ import annotations

from typing import Any

from .org import FIELD_TYPES, FieldDef, ObjectDef, OrgDef

REPLICATEABLE = True


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def sobject_summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    return {
        "name": obj.name,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "keyPrefix": obj.key_prefix,
        "custom": obj.custom,
        "createable": "create" in obj.permissions,
        "updateable": "edit" in obj.permissions,
        "deletable": "delete" in obj.permissions,
        "queryable": "read" in obj.permissions,
        "retrieveable": "read" in obj.permissions,
        "replicateable": REPLICATEABLE,
        "searchable": True,
        "triggerable": True,
        "undeletable": "delete" in obj.permissions,
        "urls": _urls(obj, version),
    }


def describe_global(org: OrgDef, version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [sobject_summary(o, version) for o in org.objects.values()],
    }


def describe_field(f: FieldDef, obj: ObjectDef) -> dict[str, Any]:
    writable = f.writable_by_api
    is_text = f.type not in ("boolean", "int", "double", "currency", "percent", "date", "datetime")
    return {
        "aggregatable": f.type != "textarea",
        "autoNumber": False,
        # Text holds up to 3 UTF-8 bytes a character; ids are 18 ASCII characters.
        "byteLength": 18 if f.type in ("id", "reference") else (f.length * 3 if is_text else 0),
        "calculated": bool(f.compose),
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": f.case_sensitive,
        "controllerName": None,
        "createable": writable and "create" in obj.permissions,
        "custom": f.custom,
        "defaultValue": f.default if f.type in ("boolean", "picklist") else None,
        "defaultValueFormula": None,
        "defaultedOnCreate": f.system
        or f.name == "OwnerId"
        or f.type == "boolean"
        or f.default is not None,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": f.precision if f.type == "int" else 0,
        "encrypted": False,
        "externalId": f.external_id,
        "extraTypeInfo": None,
        "filterable": f.type != "textarea",
        "groupable": f.type not in ("textarea", "double", "currency", "percent", "datetime"),
        "htmlFormatted": False,
        "idLookup": f.name == "Id" or f.external_id,
        "inlineHelpText": None,
        "label": f.label,
        "length": f.length
        if is_text and f.type not in ("id", "reference")
        else (18 if f.type in ("id", "reference") else 0),
        "name": f.name,
        "nameField": f.name_field,
        "namePointing": len(f.reference_to) > 1,
        "nillable": f.nillable,
        "permissionable": f.custom or (not f.required and not f.system),
        "picklistValues": [
            {
                "active": True,
                "defaultValue": value == f.default,
                "label": value,
                "validFor": None,
                "value": value,
            }
            for value in f.values
        ],
        "precision": f.precision if f.type in ("double", "currency", "percent") else 0,
        "referenceTo": f.reference_to,
        "relationshipName": f.relationship_name if f.type == "reference" else None,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": f.restricted,
        "scale": f.scale if f.type in ("double", "currency", "percent") else 0,
        "soapType": FIELD_TYPES[f.type],
        "sortable": f.type != "textarea",
        "type": f.type,
        "unique": f.unique,
        "updateable": writable and "edit" in obj.permissions,
        "writeRequiresMasterRead": False,
    }


def describe_sobject(org: OrgDef, obj: ObjectDef, version: str) -> dict[str, Any]:
    body = sobject_summary(obj, version)
    body.update(
        fields=[describe_field(f, obj) for f in obj.fields.values() if f.visible],
        childRelationships=[
            {
                "childSObject": child.name,
                "field": f.name,
                "relationshipName": None,
                "cascadeDelete": False,
                "restrictedDelete": False,
                "deprecatedAndHidden": False,
            }
            for child in org.objects.values()
            for f in child.fields.values()
            if obj.name in f.reference_to and f.visible
        ],
        recordTypeInfos=[],
        supportedScopes=[{"label": "All records", "name": "everything"}],
    )
    return body
