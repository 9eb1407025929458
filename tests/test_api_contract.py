"""The OpenAPI schema is the contract: schemathesis runs every operation against a live server.

One bounded, derandomised run (positive and negative data) as a super admin with an API token,
over data that gives every route something real to find. Every failure of the four checks is
collected and reported at once; the test fails on any of them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter

import pytest
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backups.models import Backup
from backups.services import backups as backup_services
from backups.services import restore_plan
from crm import sources
from crm.models import AssociationDefinition, AuditEvent, ObjectType, Property
from crm.services import schema as schema_services
from crm.services.associations import associate
from crm.services.records import archive_records
from notifications.services import notify
from syncengine.models import Integration, SyncError, SyncStage
from syncengine.services import google_contacts as google_services
from syncengine.services import mappings as mapping_services
from syncengine.services.errors import record_sync_error
from tests.factories import (
    GoogleIntegrationFactory,
    IntegrationFactory,
    SyncCycleFactory,
    SyncStageFactory,
    UserFactory,
)
from tests.support.backups import create as create_records
from tests.support.schema import ensure_standard_schema

# Cases per operation and generation mode (66 operations x 2 modes), derandomised: about two
# minutes on two cores. CONCORD_CONTRACT_EXAMPLES=100 runs deeper by hand. No operation is left
# out: the data is chosen so that none can break the run (see SCRATCH_PROPERTY, private_queue).
MAX_EXAMPLES = int(os.environ.get("CONCORD_CONTRACT_EXAMPLES", "12"))
# The operations are dealt into this many tests (every one in exactly one), so parallel test
# processes share the run; each starts from fresh data, deletions still last within a path.
SHARDS = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The property that DELETE and PATCH on a property route are pointed at: a custom one, so the
# run cannot remove what later operations need (built-in properties refuse deletion anyway).
SCRATCH_PROPERTY = "contract_note"
# The one a field mapping is added for (a mapped property cannot be deleted).
MAPPED_PROPERTY = "contract_mapped"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(900)]


def _ensure_records(contacts: ObjectType, companies: ObjectType) -> tuple[int, int, int]:
    """Two live contacts, an archived one and a company: their ids (contact, archived, company)."""
    for name in (SCRATCH_PROPERTY, MAPPED_PROPERTY):
        if not Property.objects.filter(object_type=contacts, name=name).exists():
            schema_services.create_property(
                object_type=contacts, name=name, label=name, source=sources.SYSTEM
            )
    live = contacts.records.filter(archived_at__isnull=True)
    if live.count() < 2:
        create_records(
            contacts,
            {"email": f"ada{timezone.now().timestamp()}@example.com", "firstname": "Ada"},
            {"email": f"bob{timezone.now().timestamp()}@example.com", "firstname": "Bob"},
        )
    contact_id = live.order_by("pk").values_list("pk", flat=True).first()
    archived_id = contacts.records.filter(archived_at__isnull=False).values_list("pk", flat=True)
    archived_id = archived_id.first()
    if archived_id is None:
        archived_id = create_records(contacts, {"firstname": "Archived"})[0]
        archive_records(object_type=contacts, record_ids=[archived_id], source=sources.SYSTEM)
    company_id = (
        companies.records.filter(archived_at__isnull=True).values_list("pk", flat=True).first()
        or create_records(companies, {"name": "Acme", "domain": "acme.example"})[0]
    )
    return contact_id, archived_id, company_id


def _ensure_association(
    contacts: ObjectType, companies: ObjectType, contact_id: int, company_id: int
) -> tuple:
    """The unlabelled contact-to-company definition and one association of it (or Nones)."""
    definition = AssociationDefinition.objects.filter(
        from_object_type=contacts, to_object_type=companies, label=""
    ).first()
    association = definition.associations.first() if definition else None
    if definition and association is None:
        from crm.models import Record

        association = associate(
            definition=definition,
            from_record=Record.objects.get(pk=contact_id),
            to_record=Record.objects.get(pk=company_id),
            source=sources.SYSTEM,
        )
    return definition, association


def _ensure_integrations(contacts: ObjectType) -> tuple:
    """A Salesforce and a Google integration with default mappings, and one field mapping."""
    salesforce = Integration.objects.filter(kind=Integration.Kind.SALESFORCE).first()
    if salesforce is None:
        salesforce = IntegrationFactory(
            kind=Integration.Kind.SALESFORCE,
            name="Salesforce",
            instance_url="https://example.invalid",
            remote_org_id="00D000000000001",
        )
        mapping_services.create_default_mappings(integration=salesforce)
    google = Integration.objects.filter(kind=Integration.Kind.GOOGLE_CONTACTS).first()
    if google is None:
        google = GoogleIntegrationFactory(name="Google")
        google_services.create_default_mappings(integration=google)
    contact_mapping = salesforce.object_mappings.filter(object_type=contacts).order_by("pk")[0]
    field_mapping = contact_mapping.field_mappings.filter(property__name=MAPPED_PROPERTY).first()
    if field_mapping is None:
        field_mapping = mapping_services.save_field_mapping(
            object_mapping=contact_mapping,
            prop=Property.objects.get(object_type=contacts, name=MAPPED_PROPERTY),
            remote_field="Contract_mapped__c",
            rule="two_way",
        )
    return salesforce, google, contact_mapping, field_mapping


def _ensure_sync_history(
    salesforce: Integration, contacts: ObjectType, contact_id: int
) -> SyncError:
    """A finished cycle with one stage, and a sync error (returned)."""
    if not SyncStage.objects.exists():
        cycle = SyncCycleFactory(integration=salesforce, status="success")
        now = timezone.now()
        SyncStageFactory(
            cycle=cycle,
            integration=salesforce,
            operation="push_new",
            object_type=contacts,
            remote_object="Contact",
            status="success",
            started_at=now - dt.timedelta(minutes=5),
            ended_at=now,
            new=1,
        )
    return SyncError.objects.first() or record_sync_error(
        integration=salesforce,
        category=SyncError.Category.values[0],
        code="REQUIRED_FIELD_MISSING",
        message="Required fields are missing: [LastName]",
        object_type_id=contacts.pk,
        record_id=contact_id,
        remote_object="Contact",
        affected_record_ids=[contact_id],
    )


def _ensure_admin_items(admin) -> tuple:
    """A notification for the admin, a ready backup and a restore plan of it."""
    notification = admin.notifications.first() or notify(
        users=[admin], kind="backup_ready", title="Your backup is ready"
    )
    if isinstance(notification, list):
        notification = notification[0]
    backup = Backup.objects.filter(status=Backup.Status.READY).first()
    if backup is None:
        backup = backup_services.create_backup(requested_by=admin, source=sources.SYSTEM)
        backup_services.run_backup(backup_id=backup.pk)
        # Requested long ago, so the plan allows the run one backup of its own (then 429s).
        Backup.objects.filter(pk=backup.pk).update(created_at=timezone.now() - dt.timedelta(days=8))
        backup.refresh_from_db()
    restore = backup.restores.first() or restore_plan.plan_restore(
        backup=backup,
        object_type_name="contacts",
        properties=["firstname"],
        actor=admin,
        source=sources.SYSTEM,
    )
    return notification, backup, restore


def _ensure_data(admin) -> dict:
    """Objects for the path parameters: made once, re-made if an operation removed them."""
    ensure_standard_schema()
    contacts = ObjectType.objects.get(name="contacts")
    companies = ObjectType.objects.get(name="companies")
    contact_id, archived_id, company_id = _ensure_records(contacts, companies)
    definition, association = _ensure_association(contacts, companies, contact_id, company_id)
    salesforce, google, contact_mapping, field_mapping = _ensure_integrations(contacts)
    error = _ensure_sync_history(salesforce, contacts, contact_id)
    notification, backup, restore = _ensure_admin_items(admin)
    return {
        "object_type": "contacts",
        "name": "contacts",
        "property_name": SCRATCH_PROPERTY,
        "record_id": contact_id,
        "archived_id": archived_id,
        "username": admin.username,
        "company_id": company_id,
        "association": association.pk if association else None,
        "definition": definition.pk if definition else None,
        "salesforce": salesforce.pk,
        "google": google.pk,
        "stage": SyncStage.objects.values_list("pk", flat=True).first(),
        "error": error.pk,
        "object_mapping": contact_mapping.pk,
        "field_mapping": field_mapping.pk,
        "notification": notification.pk,
        "backup": backup.pk,
        "restore": restore.pk,
        "audit_event": AuditEvent.objects.values_list("pk", flat=True).first(),
    }


def _known_path_parameters(path: str, data: dict) -> dict:
    """Real values for a route's path parameters, so cases reach the view, not only its 404."""
    known = {"object_type": data["object_type"], "property_name": data["property_name"]}
    by_prefix = {
        "/api/v1/object-types/{name}/": {"name": data["name"]},
        "/api/v1/objects/": {"id": data["record_id"]},
        "/api/v1/associations/": {"id": data["association"]},
        "/api/v1/association-definitions/": {"id": data["definition"]},
        "/api/v1/integrations/": {"id": data["salesforce"], "pk": data["salesforce"]},
        "/api/v1/sync-stages/": {"id": data["stage"]},
        "/api/v1/sync-errors/": {"id": data["error"]},
        "/api/v1/notifications/": {"id": data["notification"]},
        "/api/v1/backups/": {"id": data["backup"]},
        "/api/v1/restores/": {"id": data["restore"]},
        "/api/v1/audit-events/": {"id": data["audit_event"]},
    }
    for prefix, values in by_prefix.items():
        if path.startswith(prefix):
            known.update(values)
    if "google-sync-options" in path:
        known.update(id=data["google"])
    if path.endswith("/restore/"):
        known.update(id=data["archived_id"])
    names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
    return {k: v for k, v in known.items() if k in names and v is not None}


def _known_bodies(label: str, data: dict) -> list:
    """Valid bodies for operations whose constraints random data rarely meets (names, ids)."""
    bodies = {
        "POST /api/v1/object-types/": [
            {"name": "contract_projects", "label_singular": "Project", "label_plural": "Projects"}
        ],
        "POST /api/v1/object-types/{object_type}/properties/": [
            {"name": "contract_extra", "label": "Extra", "type": "text"}
        ],
        "PUT /api/v1/object-types/{object_type}/properties/{property_name}/": [
            {"name": SCRATCH_PROPERTY, "label": "Contract note", "type": "text"}
        ],
        "POST /api/v1/objects/{object_type}/records/batch/": [
            {"action": "create", "inputs": [{"properties": {"firstname": "Cy"}}]}
        ],
        "POST /api/v1/associations/": [
            {"from_record": data["record_id"], "to_record": data["company_id"], "label": ""}
        ],
        "POST /api/v1/restores/": [
            {"backup": data["backup"], "object_type": "contacts", "properties": ["firstname"]}
        ],
        "POST /api/v1/sync-errors/resync/": [{"ids": [data["error"]]}],
        "POST /api/v1/auth/token/": [{"username": data["username"], "password": "password"}],
        "POST /api/v1/integrations/{id}/mappings/": [
            {
                "object_mapping": data["object_mapping"],
                "property": MAPPED_PROPERTY,
                "remote_field": "Contract_note__c",
            }
        ],
        "PATCH /api/v1/integrations/{id}/mappings/": [
            {"field_mappings": [{"id": data["field_mapping"], "rule": "always_concord"}]}
        ],
    }
    return bodies.get(label, [])


def _record(failures: dict[str, str], case, exc: BaseException) -> None:
    """Keep the first case of each distinct (operation, failure) with a command to replay it."""
    found = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
    for failure in found:
        code = getattr(failure, "code", type(failure).__name__)
        title = getattr(failure, "title", "") or str(failure).splitlines()[0]
        key = f"{case.operation.label}: {code} {title}"
        if key not in failures:
            message = getattr(failure, "message", str(failure))
            failures[key] = f"{message}\n    {case.as_curl_command()}"


@pytest.fixture
def private_queue(settings):
    """Tasks the run enqueues (backups, cycles, resyncs) go to a queue of its own, emptied after:
    no worker runs them, so no connector reaches for a remote system."""
    from config.celery import app

    queue = f"contract-{os.getpid()}"
    saved = (app.conf.task_default_queue, app.conf.task_always_eager)
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    app.conf.task_default_queue, app.conf.task_always_eager = queue, False
    yield queue
    app.conf.task_default_queue, app.conf.task_always_eager = saved
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)


def _use_enterprise_plan_and_local_backups(settings, tmp_path) -> None:
    """The plan that opens every route, and backups stored under the test's own directory."""
    settings.CONCORD_PLAN = "enterprise"
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "backups")},
        },
    }


def _operations(live_server, headers: dict) -> list:
    """The schema's operations, deletions last within each path."""
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json", headers=headers
    )
    schema.config.update(base_url=live_server.url)
    schema.config.generation.update(
        deterministic=True, with_security_parameters=False, allow_x00=True
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    # Removing operations last within each path keeps the data the other ones read.
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))
    return operations


def _strategy(operation, mode: GenerationMode, data: dict):
    """Generated cases, the same with real path parameters, and (positive) known-good bodies."""
    known = _known_path_parameters(operation.path, data)
    strategies = [operation.as_strategy(generation_mode=mode)]
    if known:
        strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=known))
    if mode is GenerationMode.POSITIVE:
        strategies += [
            operation.as_strategy(path_parameters=known, body=body, media_type="application/json")
            for body in _known_bodies(operation.label, data)
        ]
    return st.one_of(*strategies)


def _run_cases(
    operation,
    mode: GenerationMode,
    strategy,
    *,
    headers: dict,
    cases: Counter[str],
    answered: Counter[str],
    failures: dict[str, str],
) -> None:
    """Send the strategy's cases to the live server, counting them and collecting failures.

    Derandomised runs are seeded from the source of ``run`` below: editing it changes which
    cases are generated (not how many)."""

    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        cases[case.meta.generation.mode.value if case.meta else "positive"] += 1
        response = case.call(headers=headers, timeout=30)
        answered[case.operation.label] += 200 <= response.status_code < 300
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, FailureGroup) as exc:  # collected; the run goes on
            _record(failures, case, exc)

    try:
        run()
    except Unsatisfiable:
        # Nothing to negate: no parameters and no body (e.g. GET of a fixed resource).
        assert mode is GenerationMode.NEGATIVE, operation.label


def _print_summary(operations: list, cases: Counter[str], answered: Counter[str], failures: dict):
    """Case counts, distinct failures and the operations no case got a 2xx from."""
    total = sum(cases.values())
    print(
        f"\nschemathesis: {len(operations)} operations, {total} generated cases "
        f"({cases['positive']} positive, {cases['negative']} negative), "
        f"{len(failures)} distinct failures"
    )
    refused = sorted(op.label for op in operations if not answered[op.label])
    print(f"schemathesis: operations never answered 2xx: {', '.join(refused) or 'none'}")


@pytest.mark.parametrize("shard", range(SHARDS), ids=lambda shard: f"shard{shard + 1}of{SHARDS}")
def test_every_operation_keeps_the_contract(
    shard, live_server, private_queue, capsys, settings, tmp_path
):
    # Given a super admin with a token, and data behind every route
    _use_enterprise_plan_and_local_backups(settings, tmp_path)
    admin = UserFactory(is_staff=True, is_superuser=True)
    token = Token.objects.create(user=admin)
    headers = {"Authorization": f"Token {token.key}"}
    data = _ensure_data(admin)
    operations = _operations(live_server, headers)[shard::SHARDS]
    failures: dict[str, str] = {}
    cases: Counter[str] = Counter()
    answered: Counter[str] = Counter()  # 2xx answers per operation: did cases reach the view?

    # When schemathesis sends positive and negative cases to every operation
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            data = _ensure_data(admin)
            strategy = _strategy(operation, mode, data)
            _run_cases(
                operation,
                mode,
                strategy,
                headers=headers,
                cases=cases,
                answered=answered,
                failures=failures,
            )

    # Then no check fails anywhere
    with capsys.disabled():
        _print_summary(operations, cases, answered, failures)
    assert not failures, "\n\n".join(f"{k}\n{v}" for k, v in sorted(failures.items()))
