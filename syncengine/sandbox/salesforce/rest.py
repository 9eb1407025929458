"""The REST API resources under /services/data/vNN.N/ (reference §1-§4)."""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from . import deserialize, ids, soql
from .describe import describe_global, describe_sobject, sobject_summary
from .dml import WriteOp, WriteOptions, WriteResult
from .errors import ApiError, invalid_type, not_found
from .org import ObjectDef
from .wire import Request, Response, method_not_allowed

if TYPE_CHECKING:
    from .app import SandboxOrg

COLLECTION_LIMIT = 200
MAX_CHUNKS = 10
REPLICATION_ID_LIMIT = 600_000


def _object(org_app: SandboxOrg, name: str) -> ObjectDef:
    obj = org_app.org.sobject(name)
    if obj is None:
        raise not_found()
    return obj


def _write_options(app: SandboxOrg, request: Request, all_or_none: bool = False) -> WriteOptions:
    duplicate_header = (request.header("Sforce-Duplicate-Rule-Header") or "").replace(" ", "")
    return WriteOptions(
        all_or_none=all_or_none,
        allow_save_duplicates="allowSave=true" in duplicate_header,
        unable_to_lock_row_rate=app.faults().unable_to_lock_row_rate,
    )


def _batch_size(request: Request) -> int | None:
    options = request.header("Sforce-Query-Options") or ""
    for part in options.split(","):
        key, _, value = part.strip().partition("=")
        if key.lower() == "batchsize" and value.strip().isdigit():
            return int(value)
    return None


def _record_body(
    app: SandboxOrg,
    obj: ObjectDef,
    record: dict[str, Any],
    version: str,
    fields: list[str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "attributes": {
            "type": obj.name,
            "url": f"/services/data/v{version}/sobjects/{obj.name}/{record['Id']}",
        }
    }
    if fields:
        for name in fields:
            f = obj.field(name)
            if f is None or not f.visible:
                raise ApiError(
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{obj.name}'. "
                    "If you are attempting to use a custom field, be sure to append the "
                    "'__c' after the custom field name. Please reference your WSDL or "
                    "the describe call for the appropriate names.",
                )
            body[f.name] = record.get(f.name)
    else:
        for f in obj.fields.values():
            if f.visible:
                body[f.name] = record.get(f.name)
    return body


def _single_failure(result: WriteResult) -> Response:
    return Response.json([e.top_level() for e in result.errors], result.errors[0].status)


# --- top level -------------------------------------------------------------------------------


def resources(app: SandboxOrg, request: Request, version: str) -> Response:
    base = f"/services/data/v{version}"
    names = ["sobjects", "query", "queryAll", "limits", "composite", "jobs"]
    return Response.json({name: f"{base}/{name}" for name in names})


def limits(app: SandboxOrg, request: Request, version: str) -> Response:
    used, maximum = app.api_usage()
    batches = app.bulk.batches_used()
    return Response.json(
        {
            "DailyApiRequests": {"Max": maximum, "Remaining": max(0, maximum - used)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": max(0, 15000 - batches)},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
            "FileStorageMB": {"Max": 1024, "Remaining": 1024},
            "SingleEmail": {"Max": 5000, "Remaining": 5000},
        }
    )


# --- sObjects --------------------------------------------------------------------------------


def sobjects(app: SandboxOrg, request: Request, version: str, parts: list[str]) -> Response:
    if not parts:
        if request.method != "GET":
            raise method_not_allowed(request.method, ["GET", "HEAD"])
        return Response.json(describe_global(app.org, version))
    obj = _object(app, parts[0])
    rest = parts[1:]
    if not rest:
        if request.method == "GET":
            return Response.json(
                {"objectDescribe": sobject_summary(obj, version), "recentItems": []}
            )
        if request.method == "POST":
            body = _typed_body(app, request, obj.name)
            result = app.writer.run(
                [WriteOp("insert", obj.name, body)], _write_options(app, request)
            )[0]
            if not result.success:
                return _single_failure(result)
            return Response.json(result.as_json(), 201)
        raise method_not_allowed(request.method, ["GET", "POST", "HEAD"])
    head = rest[0]
    if head == "describe" and len(rest) == 1:
        return _describe(app, request, obj, version)
    if head in ("updated", "deleted") and len(rest) == 1:
        return _replication(app, request, obj, head)
    if len(rest) == 1:
        return _record(app, request, obj, version, head)
    if len(rest) == 2:
        return _by_external_id(app, request, obj, version, rest[0], unquote(rest[1]))
    raise not_found()


def _describe(app: SandboxOrg, request: Request, obj: ObjectDef, version: str) -> Response:
    if request.method not in ("GET", "HEAD"):
        raise method_not_allowed(request.method, ["GET", "HEAD"])
    since = request.header("If-Modified-Since")
    if since:
        try:
            if email.utils.parsedate_to_datetime(since).timestamp() >= app.org_loaded_at:
                return Response.empty(304)
        except (TypeError, ValueError):
            pass
    return Response.json(
        describe_sobject(app.org, obj, version),
        **{"Last-Modified": email.utils.formatdate(app.org_loaded_at, usegmt=True)},
    )


def _record(
    app: SandboxOrg, request: Request, obj: ObjectDef, version: str, raw_id: str
) -> Response:
    try:
        record_id = ids.to_18(raw_id)
    except ids.MalformedIdError:
        record_id = None
    if record_id is None or record_id[:3] != obj.key_prefix:
        raise ApiError(
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {raw_id}",
            status=404,
        )
    record = app.store.get(record_id)
    if record is None:
        raise not_found()
    if request.method == "GET":
        if record.get("IsDeleted"):
            raise ApiError("ENTITY_IS_DELETED", "entity is deleted", status=404)
        fields = request.params.get("fields")
        return Response.json(
            _record_body(app, obj, record, version, fields.split(",") if fields else None)
        )
    if request.method == "PATCH":
        body = _typed_body(app, request, obj.name)
        result = app.writer.run(
            [WriteOp("update", obj.name, body, record_id=record_id)],
            _write_options(app, request),
        )[0]
        return Response.empty(204) if result.success else _single_failure(result)
    if request.method == "DELETE":
        result = app.writer.run(
            [WriteOp("delete", obj.name, record_id=record_id)], _write_options(app, request)
        )[0]
        return Response.empty(204) if result.success else _single_failure(result)
    raise method_not_allowed(request.method, ["GET", "PATCH", "DELETE", "HEAD"])


def _by_external_id(
    app: SandboxOrg, request: Request, obj: ObjectDef, version: str, field_name: str, value: str
) -> Response:
    f = obj.field(field_name)
    if f is None or not f.visible or not (f.external_id or f.name == "Id"):
        raise ApiError(
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {field_name}",
            status=404,
        )
    with app.store.lock:
        matches = sorted(
            i
            for i in app.store.find_unique(obj.name, f.name, value, f.case_sensitive)
            if not app.store.records[i].get("IsDeleted")
        )
    if len(matches) > 1:
        return Response.json(
            [f"/services/data/v{version}/sobjects/{obj.name}/{m}" for m in matches], 300
        )
    if request.method == "GET":
        if not matches:
            raise not_found()
        return Response.json(_record_body(app, obj, app.store.records[matches[0]], version))
    if request.method == "DELETE":
        if not matches:
            raise not_found()
        result = app.writer.run(
            [WriteOp("delete", obj.name, record_id=matches[0])], _write_options(app, request)
        )[0]
        return Response.empty(204) if result.success else _single_failure(result)
    if request.method not in ("PATCH", "POST"):
        raise method_not_allowed(request.method, ["GET", "PATCH", "DELETE", "HEAD"])
    body = _typed_body(app, request, obj.name)
    if not isinstance(body, dict):
        raise ApiError("JSON_PARSER_ERROR", "Expected a JSON object")
    if request.params.get("updateOnly", "").lower() == "true" and not matches:
        raise not_found()
    values = {k: v for k, v in body.items() if k.lower() != f.name.lower()}
    values[f.name] = value
    result = app.writer.run(
        [WriteOp("upsert", obj.name, values, external_field=f.name)], _write_options(app, request)
    )[0]
    if not result.success:
        return _single_failure(result)
    if result.created:
        return Response.json(result.as_json(with_created=True), 201)
    if float(version) < 46:
        return Response.empty(204)
    return Response.json(result.as_json(with_created=True), 200)


def _window(request: Request, max_days: int) -> tuple[dt.datetime, dt.datetime]:
    try:
        start = soql.parse_datetime(request.params["start"]).replace(second=0, microsecond=0)
        end = soql.parse_datetime(request.params["end"]).replace(second=0, microsecond=0)
    except KeyError as exc:
        raise ApiError("MISSING_ARGUMENT", f"Missing required parameter: {exc.args[0]}") from exc
    except ValueError as exc:
        raise ApiError("INVALID_REPLICATION_DATE", f"Invalid date: {exc}") from exc
    now = dt.datetime.now(dt.UTC)
    if start >= end:
        raise ApiError(
            "INVALID_REPLICATION_DATE",
            "startDate must chronologically precede endDate by more than one minute",
        )
    if start < now - dt.timedelta(days=max_days):
        raise ApiError(
            "INVALID_REPLICATION_DATE", f"startDate cannot be more than {max_days} days ago"
        )
    return start, end


def _replication(app: SandboxOrg, request: Request, obj: ObjectDef, kind: str) -> Response:
    if request.method != "GET":
        raise method_not_allowed(request.method, ["GET", "HEAD"])
    start, end = _window(request, 30 if kind == "updated" else 15)
    now_minute = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    latest = min(end, now_minute)
    # The window is inclusive at minute resolution: [start, end + 1 minute).
    low = soql.format_datetime(start)
    high = soql.format_datetime(end + dt.timedelta(minutes=1))
    with app.store.lock:
        records = list(app.store.iter_sobject(obj.name))
        deleted_dates = dict(app.store.deleted_dates)
    if kind == "updated":
        found = [
            r["Id"] for r in records if not r.get("IsDeleted") and low <= r["SystemModstamp"] < high
        ]
        if len(found) > REPLICATION_ID_LIMIT:
            raise ApiError("EXCEEDED_ID_LIMIT", "too many ids in the window; narrow it")
        return Response.json({"ids": found, "latestDateCovered": soql.format_datetime(latest)})
    purged_at = app.store.get_setting("delete_log_purged_at")
    if purged_at and low < purged_at:
        raise ApiError(
            "INVALID_REPLICATION_DATE", "the delete log was purged inside the requested window"
        )
    deleted = [
        {"id": r["Id"], "deletedDate": deleted_dates[r["Id"]]}
        for r in records
        if r.get("IsDeleted") and r["Id"] in deleted_dates and low <= deleted_dates[r["Id"]] < high
    ]
    # Records emptied from the recycle bin stay in the delete log until it is purged.
    deleted += [
        {"id": rid, "deletedDate": date}
        for rid, date in app.store.purged_deletes(obj.name).items()
        if low <= date < high
    ]
    if len(deleted) > REPLICATION_ID_LIMIT:
        raise ApiError("EXCEEDED_ID_LIMIT", "too many ids in the window; narrow it")
    earliest = purged_at or soql.format_datetime(now_minute - dt.timedelta(days=15))
    return Response.json(
        {
            "deletedRecords": deleted,
            "earliestDateAvailable": earliest,
            "latestDateCovered": soql.format_datetime(latest),
        }
    )


# --- query -----------------------------------------------------------------------------------


def query(
    app: SandboxOrg, request: Request, version: str, parts: list[str], include_deleted: bool
) -> Response:
    if request.method != "GET":
        raise method_not_allowed(request.method, ["GET", "HEAD"])
    if parts:
        return Response.json(app.queries.next_page(parts[0], version, _batch_size(request)))
    text = request.params.get("q")
    if not text:
        raise ApiError("MALFORMED_QUERY", "A query string has to be specified")
    return Response.json(
        app.queries.first_page(text, include_deleted, version, _batch_size(request))
    )


def _typed_body(app: SandboxOrg, request: Request, sobject: str) -> Any:
    """The JSON body, once Salesforce's deserialiser has read it into an sObject."""
    body = request.json()
    deserialize.check_types(app.org, [(sobject, body)], request.body)
    return body


# --- composite/sobjects ------------------------------------------------------------------------


def _collection_records(body: Any) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError("JSON_PARSER_ERROR", "The request body must contain a 'records' array")
    records = body["records"]
    if len(records) > COLLECTION_LIMIT:
        raise ApiError(
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        )
    return records, bool(body.get("allOrNone", False))


def _record_type(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    attributes = record.get("attributes")
    return attributes.get("type") if isinstance(attributes, dict) else None


def _check_chunks(records: list[dict[str, Any]]) -> None:
    chunks = 0
    previous = object()
    for record in records:
        current = _record_type(record)
        if current != previous:
            chunks += 1
            previous = current
    if chunks > MAX_CHUNKS:
        raise ApiError(
            "INVALID_BATCH_REQUEST",
            "Number of chunks exceeds the limit of 10: records must be grouped by object type",
        )


def composite_sobjects(
    app: SandboxOrg, request: Request, version: str, parts: list[str]
) -> Response:
    if not parts:
        if request.method == "DELETE":
            raw_ids = [i for i in request.params.get("ids", "").split(",") if i]
            if len(raw_ids) > COLLECTION_LIMIT:
                raise ApiError(
                    "EXCEEDED_ID_LIMIT",
                    "record limit reached. cannot submit more than 200 records into this call",
                )
            ops = []
            for raw_id in raw_ids:
                obj = app.org.sobject_for_id(raw_id) if ids.is_valid(raw_id) else None
                ops.append(WriteOp("delete", obj.name if obj else "", record_id=raw_id))
            all_or_none = request.params.get("allOrNone", "false").lower() == "true"
            results = app.writer.run(ops, _write_options(app, request, all_or_none))
            # A bad id is reported as malformed rather than as an unknown object.
            for op, result in zip(ops, results, strict=True):
                if not op.sobject and result.errors:
                    result.errors = [ApiError("MALFORMED_ID", f"malformed id {op.record_id}", [])]
            return Response.json([r.as_json() for r in results])
        if request.method not in ("POST", "PATCH"):
            raise method_not_allowed(request.method, ["POST", "PATCH", "DELETE"])
        records, all_or_none = _collection_records(request.json())
        _check_chunks(records)
        deserialize.check_types(app.org, [(_record_type(r), r) for r in records], request.body)
        ops = []
        for record in records:
            sobject = _record_type(record)
            values = {k: v for k, v in (record or {}).items() if k != "attributes"}
            if request.method == "POST":
                ops.append(WriteOp("insert", sobject, values))
            else:
                record_id = values.pop("id", None) or values.pop("Id", None)
                ops.append(WriteOp("update", sobject, values, record_id=record_id))
        results = app.writer.run(ops, _write_options(app, request, all_or_none))
        return Response.json([r.as_json() for r in results])
    obj = app.org.sobject(parts[0])
    if obj is None:
        raise invalid_type(parts[0])
    if len(parts) == 1:
        return _retrieve(app, request, obj, version)
    if len(parts) == 2 and request.method == "PATCH":
        f = obj.field(parts[1])
        if f is None or not f.visible:
            raise ApiError(
                "INVALID_FIELD", f"No such column '{parts[1]}' on sobject of type {obj.name}"
            )
        records, all_or_none = _collection_records(request.json())
        deserialize.check_types(app.org, [(obj.name, r) for r in records], request.body)
        ops = []
        for record in records:
            sobject = _record_type(record)
            values = {k: v for k, v in (record or {}).items() if k != "attributes"}
            op = WriteOp("upsert", obj.name, values, external_field=f.name)
            if sobject and sobject.lower() != obj.name.lower():
                op.preset_error = ApiError(
                    "INVALID_FIELD", f"Only {obj.name} records are allowed in this upsert", []
                )
            elif "Id" in values or "id" in values:
                op.preset_error = ApiError("INVALID_FIELD", "Only external ids are supported", [])
            ops.append(op)
        results = app.writer.run(ops, _write_options(app, request, all_or_none))
        return Response.json([r.as_json(with_created=True) for r in results])
    raise method_not_allowed(request.method, ["PATCH"])


def _retrieve(app: SandboxOrg, request: Request, obj: ObjectDef, version: str) -> Response:
    if request.method == "GET":
        raw_ids = [i for i in request.params.get("ids", "").split(",") if i]
        fields = [f for f in request.params.get("fields", "").split(",") if f]
        limit = 800
    elif request.method == "POST":
        body = request.json()
        raw_ids, fields, limit = list(body.get("ids", [])), list(body.get("fields", [])), 2000
    else:
        raise method_not_allowed(request.method, ["GET", "POST"])
    if not fields:
        raise ApiError("MISSING_ARGUMENT", "fields parameter is required")
    if len(raw_ids) > limit:
        raise ApiError("EXCEEDED_ID_LIMIT", f"cannot retrieve more than {limit} ids in one call")
    output: list[dict[str, Any] | None] = []
    for raw_id in raw_ids:
        record = None
        if ids.is_valid(raw_id):
            record = app.store.get(ids.to_18(raw_id))
        if record is None or record.get("IsDeleted") or record["Id"][:3] != obj.key_prefix:
            output.append(None)
            continue
        output.append(_record_body(app, obj, record, version, fields))
    return Response.json(output)


# --- Bulk API 2.0 ----------------------------------------------------------------------------


_INGEST_RESULTS = {
    "successfulResults": "successful",
    "failedResults": "failed",
    "unprocessedrecords": "unprocessed",
    "unprocessedRecords": "unprocessed",  # what simple-salesforce requests
}


def bulk_route(
    app: SandboxOrg, request: Request, version: str, kind: str, parts: list[str]
) -> Response:
    bulk = app.bulk
    method = request.method
    if not parts:
        if method == "POST":
            body = request.json()
            job = (
                bulk.create_ingest(body, version)
                if kind == "ingest"
                else bulk.create_query(body, version)
            )
            return Response.json(job)
        if method == "GET":
            return Response.json(bulk.list(kind))
        raise method_not_allowed(method, ["GET", "POST"])
    job_id = parts[0]
    if len(parts) == 1:
        if method == "GET":
            return Response.json(bulk.get(kind, job_id))
        if method == "PATCH":
            return Response.json(bulk.set_state(kind, job_id, request.json().get("state")))
        if method == "DELETE":
            bulk.delete(kind, job_id)
            return Response.empty(204)
        raise method_not_allowed(method, ["GET", "PATCH", "DELETE"])
    resource = parts[1]
    if kind == "ingest" and resource == "batches" and len(parts) == 2:
        if method != "PUT":
            raise method_not_allowed(method, ["PUT"])
        bulk.upload(job_id, request.body.decode("utf-8"))
        return Response.empty(201)
    if kind == "ingest" and resource in _INGEST_RESULTS and len(parts) == 2:
        text = bulk.ingest_results(job_id, _INGEST_RESULTS[resource])
        return Response.text(text, "text/csv")
    if kind == "query" and resource == "results" and len(parts) == 2:
        max_records = request.params.get("maxRecords")
        text, locator, count = bulk.query_results(
            job_id, request.params.get("locator"), int(max_records) if max_records else None
        )
        response = Response.text(text, "text/csv")
        response.headers.update({"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(count)})
        return response
    raise not_found()
