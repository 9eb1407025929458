"""What each error type means and what staff do about it (the cards' info popovers, H-1)."""

from __future__ import annotations

from syncengine.codes import SyncErrorCode as Code
from syncengine.connectors.google_contacts.errors import RESOLUTION_STEPS
from syncengine.models import SyncError

C = SyncError.Category

INFO: dict[str, dict[str, object]] = {
    C.ASSOCIATIONS: {
        "explanation": "A record did not sync because a record it is associated with (its "
        "company, deal or contact) is not in Salesforce yet, or the association reached a "
        "Salesforce limit. The affected records wait for the blocking record.",
        "steps": [
            "Open the blocking record and fix its own sync error first.",
            "Resync the error: the blocking record is pushed first, then the affected records.",
            "If Salesforce refuses more associations, remove ones you no longer need.",
        ],
    },
    C.CUSTOM_CODE: {
        "explanation": "Salesforce automation rejected the change: a validation rule, an Apex "
        "trigger or a flow. The message is Salesforce's own.",
        "steps": [
            "Read the details: they name the rule, trigger or flow that refused the record.",
            "Change the record's values so the rule accepts them, or ask your Salesforce admin "
            "to exempt the integration user.",
            "Resync the error.",
        ],
    },
    C.DUPLICATES: {
        "explanation": "Salesforce refused to create the record because a duplicate rule or a "
        "unique field found another record with the same value.",
        "steps": [
            "Compare the Concord record with the Salesforce record holding the same value.",
            "Merge them, or change the duplicated value on one side.",
            "Resync the error.",
        ],
    },
    C.PERMISSIONS: {
        "explanation": "The Salesforce user the integration connects as cannot read or edit a "
        "field or object (field-level security, profile or permission set), or a record's "
        "owner cannot be given records in Salesforce (no active user with the owner's email).",
        "steps": [
            "Ask your Salesforce admin to grant the integration user access to the field or "
            "object named in the error.",
            "Or stop syncing that field in the field mappings.",
            "For an owner error: activate the owner's Salesforce user (or create one with the "
            "owner's email), or reassign the record in Concord to an owner with an active user.",
            "Resync the errors.",
        ],
    },
    C.PICKLISTS: {
        "explanation": "A picklist value in one system matches no current value in the other, "
        "the picklist reached its limit of values, or the value is not allowed.",
        "steps": [
            "Add the missing value to the Salesforce picklist or to the Concord property's "
            "options, or map it to an existing value in the field mapping.",
            "Or change the value on the affected records.",
            "Resync the errors.",
        ],
    },
    C.PROPERTY_MAPPINGS: {
        "explanation": "A field mapping cannot work: the property and field types are "
        "incompatible, one of them no longer exists, or a reference field needs an "
        "association mapping instead.",
        "steps": [
            "Open the integration's field mappings and fix or remove the mapping named here.",
            "The next cycle checks the mapping again; resync to check it now.",
        ],
    },
    C.PROPERTY_VALUES: {
        "explanation": "The record holds a value Salesforce does not accept (a required field "
        "is empty, a number or date is malformed, a text is too long).",
        "steps": [
            "Open the record and correct the value of the property named here.",
            "Editing a mapped property queues the record by itself; resync to push it now.",
        ],
    },
    C.OTHER: {
        "explanation": "An error Concord could not classify. The details are Salesforce's.",
        "steps": [
            "Read the details; most explain what Salesforce expected.",
            "Fix the record or the mapping accordingly and resync; if it persists, report the "
            "code to your administrator.",
        ],
    },
}


# Errors whose code says more than their type: Google's storage limits (SPEC G-5), owners.
BY_CODE: dict[str, dict[str, object]] = {
    code: {
        "explanation": "Google refused to store the contact: storage limit exceeded.",
        "steps": steps,
    }
    for code, steps in RESOLUTION_STEPS.items()
}
BY_CODE[Code.OWNER_HAS_NO_ACTIVE_USER] = {
    "explanation": "The record's Concord owner has no active Salesforce user (none with their "
    "email, or a deactivated one), so Concord did not send the owner. The record's other "
    "fields were sent; in Salesforce it keeps the owner it had.",
    "steps": [
        "In Salesforce, activate the owner's user, or create one with the owner's email; the "
        "next sync cycle links it to the owner.",
        "Or reassign the record in Concord to an owner who has an active Salesforce user.",
        "Resync the error.",
    ],
}
BY_CODE["INACTIVE_OWNER_OR_USER"] = {
    "explanation": "Salesforce refused the record because its owner (OwnerId) is a deactivated "
    "user: Salesforce gives no records to inactive users. Nothing of the record was written.",
    "steps": [
        "Reassign the record in Concord to an owner with an active Salesforce user, or ask "
        "your Salesforce admin to reactivate the user.",
        "Resync the error; the next cycle also reads the user's new status.",
    ],
}
BY_CODE[Code.OWNER_USER_UNKNOWN] = {
    "explanation": "Salesforce assigned the record to a user Concord has not linked to an "
    "owner yet (the Users stage did not read them), so the record kept its Concord owner.",
    "steps": [
        "Check the latest cycle's Pull users stage on the sync status dashboard: it reads "
        "new users before the records.",
        "Give the user an email address: users are matched to owners by email.",
        "Resync the error once the user is read.",
    ],
}


# The "Mass delete held" card (SPEC L-5): not an error type, so kept apart from INFO.
HELD_DELETES_INFO: dict[str, object] = {
    "explanation": "A sync cycle would have deleted more of a mapping's linked records than "
    "the mapping allows without confirmation (by default 10 % of its linked records, and "
    "never fewer than 500). Those deletes are held: nothing was deleted on either side.",
    "steps": [
        "Check the sample: were these records really deleted on purpose (a clean-up) or by "
        "mistake (a wrong filter, a bulk delete, a reconnected org)?",
        "Confirm to apply them: remote deletes archive the Concord records (restorable from "
        "the recycle bin); Concord archives are deleted in the remote by the next cycle.",
        "Or discard them: remote deletes keep the Concord records (the next push creates them "
        "again remotely); Concord archives stay archived but the remote records stay.",
        "To change when deletes are held, edit the mapping's mass-delete share and minimum.",
    ],
}


def info_for(category: str, code: str = "") -> dict[str, object]:
    """The explanation and resolution steps of one error type (or of one code, if known)."""
    return BY_CODE.get(code) or INFO.get(category, INFO[C.OTHER])
