"""The global DRF handler answers any ConcordError from its attributes, Django's ValidationError
like DRF's own, and leaves anything else (a ValueError is a bug) to be a 500."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.test import APIRequestFactory

from config.errors import ConcordError


class TeapotRefusal(ConcordError):
    """An error no handler was told about: its attributes say everything."""

    status = 418
    code = "teapot"

    def headers(self) -> dict[str, str]:
        return {"X-Brew": "later"}


def view_raising(exc: Exception):
    @api_view(["POST"])
    @permission_classes([AllowAny])
    def view(request):
        raise exc

    return view


def post(view):
    return view(APIRequestFactory().post("/tiny/", {}, format="json"))


def test_a_concord_error_answers_with_its_status_code_field_extra_and_headers():
    refusal = TeapotRefusal("Too hot to pour.", field="cup", extra={"ready_in": 5})

    response = post(view_raising(refusal))

    assert response.status_code == 418
    assert response.data == {
        "detail": "Too hot to pour.",
        "code": "teapot",
        "errors": {"cup": ["Too hot to pour."]},
        "ready_in": 5,
    }
    assert response["X-Brew"] == "later"


def test_a_concord_error_without_a_field_is_the_sentence_and_the_code():
    response = post(view_raising(ConcordError("No.")))

    assert response.status_code == 400
    assert response.data == {"detail": "No.", "code": "invalid"}


def test_djangos_validation_error_by_field_is_a_400_naming_each_field():
    refusal = DjangoValidationError({"rule": ["unknown sync rule 'x'"], "filters": ["bad"]})

    response = post(view_raising(refusal))

    assert response.status_code == 400
    assert response.data == {
        "detail": "rule: unknown sync rule 'x'",
        "errors": {"rule": ["unknown sync rule 'x'"], "filters": ["bad"]},
    }


def test_djangos_validation_error_without_a_field_is_a_400_with_its_sentence():
    response = post(view_raising(DjangoValidationError("This mapping cannot be edited.")))

    assert response.status_code == 400
    assert response.data == {"detail": "This mapping cannot be edited."}


def test_a_value_error_is_not_turned_into_a_400():
    with pytest.raises(ValueError, match="a bug"):
        post(view_raising(ValueError("a bug")))
