"""The OpenAPI schema as the contract: one error body, documented on every operation.

Every refusal the API answers has the same body (config.api.exception_handler builds it, from
config.errors.ConcordError's attributes for a service's refusal): `{"detail": …}` always, plus
`code` (a service's refusal), `errors` (field-level messages, or one entry per batch input),
`used_in`, `active_restore`, `next_allowed_at`, `retry_after`, `duplicates` or `options_in_use`
where they apply. The schema class below documents, for each operation, the refusals its view
can answer with that body, so clients and the contract test (tests/test_api_contract.py) hold
every answer to the schema.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.settings import api_settings

from crm.api.serializers import PropertyUsageSerializer

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = ("POST", "PUT", "PATCH")

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: `detail` says what is wrong, `errors` names each field; "
    "nothing was written.",
    "401": "No credentials, or invalid ones.",
    "403": "Signed in without the permission this operation needs.",
    "404": "No such object.",
    "404+format": "An unknown `format`: DRF answers a format it does not produce with 404.",
    "413": "The request body is too large.",
    "429": "Too many requests; retry after the seconds in `Retry-After`.",
}

RETRY_AFTER = {
    "schema": {"type": "integer"},
    "description": "Seconds until the throttle lets a request through again.",
}


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": {},
                "description": "Messages by field name, e.g. "
                '`{"name": ["This field is required."]}`; nested for nested input.',
            },
            {
                "type": "array",
                "items": {"type": "object", "additionalProperties": {}},
                "description": 'One entry per refused batch input: `{"index": 0, "errors": {…}}`.',
            },
        ]
    }
)
class ErrorsField(serializers.JSONField):
    """Field-level messages: an object by field, or a list of per-input results."""


class ErrorSerializer(serializers.Serializer):
    """The body of every refusal (4xx) the API answers."""

    detail = serializers.CharField(help_text="What was wrong, in a sentence.")
    code = serializers.CharField(
        required=False,
        help_text="A service's refusal: its stable machine code (e.g. `backup_too_soon`, "
        "`integration_not_active`), to branch on instead of the sentence.",
    )
    errors = ErrorsField(required=False, help_text="What was wrong with each field or input.")
    used_in = PropertyUsageSerializer(
        many=True, required=False, help_text="Deleting a property in use: where it is used."
    )
    active_restore = serializers.IntegerField(
        required=False, allow_null=True, help_text="409 of a restore: the one pending or running."
    )
    next_allowed_at = serializers.DateTimeField(
        required=False, help_text="429 of a backup: when the plan allows the next one."
    )
    duplicates = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text='Making a property unique while records share values: [{"value": …, '
        '"records": n}], the most shared first (at most 20).',
    )
    duplicate_values = serializers.IntegerField(
        required=False, help_text="Making a property unique: how many values are shared."
    )
    options_in_use = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text='Removing options that records hold: [{"value": …, "records": n}]; say '
        "where they move with replace_with.",
    )
    retry_after = serializers.IntegerField(
        required=False, help_text="429 of wrong authenticator codes: seconds until the next try."
    )


class ConcordAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the error answers of each operation (one body schema)."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code, description in self._error_answers(operation).items():
            responses.setdefault(code, {"description": description})
        for code, response in responses.items():
            # Refusals a view names without a body (or with another one) get the error body.
            if code >= "400":
                error = self._get_response_for_code(
                    ErrorSerializer, code, media_types=["application/json"]
                )
                response["content"] = error["content"]
                response["description"] = response.get("description") or ERROR_DESCRIPTIONS.get(
                    code, ""
                )
        if "429" in responses and self.view.get_throttles():
            # DRF's throttles say how long to wait; a view's own 429 documents its own headers.
            responses["429"].setdefault("headers", {}).setdefault("Retry-After", RETRY_AFTER)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_answers(self, operation: dict) -> dict[str, str]:
        """The refusals this operation can answer, by status code."""
        answers: dict[str, str] = {}
        query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
        if self.method in UNSAFE_METHODS or query:
            answers["400"] = ERROR_DESCRIPTIONS["400"]
        permissions = self.view.get_permissions()
        if any(not isinstance(p, AllowAny) for p in permissions):
            answers["401"] = ERROR_DESCRIPTIONS["401"]
            answers["403"] = ERROR_DESCRIPTIONS["403"]
        not_found = []
        if "{" in self.path:
            not_found.append(ERROR_DESCRIPTIONS["404"])
        if any(p.get("name") == api_settings.URL_FORMAT_OVERRIDE for p in query):
            not_found.append(ERROR_DESCRIPTIONS["404+format"])
        if not_found:
            answers["404"] = " ".join(not_found)
        if self.method in BODY_METHODS:
            answers["413"] = ERROR_DESCRIPTIONS["413"]
        if self.view.get_throttles():
            answers["429"] = ERROR_DESCRIPTIONS["429"]
        return answers
