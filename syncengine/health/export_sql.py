"""The sync errors CSV export as one PostgreSQL query: the readable columns of `rows.error_row`
(names, sentences, links, details in words) built in SQL, for `COPY … TO STDOUT`.

SQL writes each row exactly as the Python path would, for the shapes it can reproduce exactly:
names from text, whole numbers or booleans, details whose values are those or lists of them,
with ASCII keys. Any other row (a float, a nested object, a non-ASCII key: Python's `str` and
`capitalize` decide those) gets its raw fields as JSON in the first column instead, and
`export.py` writes it with the Python code itself, without a query while the COPY runs.

Everything interpolated below is a constant of this code (`sql_literal`); the filters come from
the queryset's own SQL and parameters.
"""

from __future__ import annotations

from django.db.models import F, QuerySet

from crm.csv_writer import sql_isoformat, sql_literal, sql_text_cell
from syncengine.codes import SyncErrorCode
from syncengine.health.texts import DETAIL_LABELS
from syncengine.models import Integration, SyncError
from syncengine.remote_links import GOOGLE_CONTACTS_UI, GOOGLE_PERSON_PREFIX

ASSOCIATION = sql_literal(SyncErrorCode.ASSOCIATED_RECORD_NOT_SYNCED)
PUSH = sql_literal(SyncError.Direction.PUSH)
CURRENT = ", ".join(sql_literal(s) for s in (SyncError.Status.OPEN, SyncError.Status.RESYNCING))
URL_SAFE = "[A-Za-z0-9_.~-]"  # what urllib.parse.quote(safe="") leaves as it is
WHOLE_NUMBER = "'^-?[0-9]+$'"  # a JSON number Python reads as an int: str() writes it as is
ASCII_KEY = "'^[ -~]*$'"  # str.capitalize and PostgreSQL's upper/lower agree on these

# The queryset's columns the export reads, under names of their own.
FIELDS = {
    "x_id": "id",
    "x_integration": "integration_id",
    "x_category": "category",
    "x_status": "status",
    "x_code": "code",
    "x_message": "message",
    "x_direction": "direction",
    "x_record": "record_id",
    "x_remote_object": "remote_object",
    "x_remote_id": "remote_id",
    "x_remote_field": "remote_field",
    "x_property": "property_name",
    "x_details": "details",
    "x_first_seen": "first_seen_at",
    "x_last_seen": "last_seen_at",
    "x_occurrences": "occurrences",
    "x_kind": "integration__kind",
    "x_instance_url": "integration__instance_url",
    "x_props": "record__properties",
    "x_type_name": "record__object_type__name",
    "x_type_label": "record__object_type__label_singular",
    "x_type_primary": "record__object_type__primary_property",
}


def _choice_label(column: str, choices) -> str:
    """`get_FOO_display()`: the label of a choice, the value itself when it is none."""
    whens = " ".join(f"WHEN {sql_literal(v)} THEN {sql_literal(label)}" for v, label in choices)
    return f"CASE {column} {whens} ELSE {column} END"


def _quote(value: str) -> str:
    """urllib.parse.quote(value, safe=""): UTF-8 bytes of other characters as %XX."""
    per_char = (
        f"(SELECT string_agg(CASE WHEN c ~ '^{URL_SAFE}$' THEN c ELSE regexp_replace("
        f"upper(encode(convert_to(c, 'UTF8'), 'hex')), '(..)', '%\\1', 'g') END, '' ORDER BY n)"
        f" FROM regexp_split_to_table({value}, '') WITH ORDINALITY AS chars(c, n))"
    )
    return f"CASE WHEN {value} ~ '^{URL_SAFE}*$' THEN {value} ELSE {per_char} END"


def _remote_url(kind: str, instance_url: str, remote_object: str, remote_id: str) -> str:
    """remote_links.remote_record_url."""
    prefix = sql_literal(GOOGLE_PERSON_PREFIX)
    person = (
        f"CASE WHEN starts_with({remote_id}, {prefix}) "
        f"THEN substr({remote_id}, {len(GOOGLE_PERSON_PREFIX) + 1}) ELSE {remote_id} END"
    )
    base = f"rtrim({instance_url}, '/')"
    return (
        f"CASE WHEN coalesce({remote_id}, '') = '' THEN '' "
        f"WHEN {kind} = {sql_literal(Integration.Kind.GOOGLE_CONTACTS)} "
        f"THEN {sql_literal(GOOGLE_CONTACTS_UI)} || {_quote(person)} "
        f"WHEN coalesce({instance_url}, '') = '' THEN '' "
        f"WHEN coalesce({remote_object}, '') = '' THEN {base} || '/' || {_quote(remote_id)} "
        f"ELSE {base} || '/lightning/r/' || {_quote(remote_object)} || '/' || "
        f"{_quote(remote_id)} || '/view' END"
    )


def _record_name(pk: str, props: str, type_name: str, label: str, primary: str) -> str:
    """texts.record_name over crm.models.display_name: "Deal Acme renewal", "Deal #488"."""
    value = f"{props} -> {primary}"
    primary_text = (
        f"CASE WHEN {primary} = '' THEN '' ELSE CASE jsonb_typeof({value}) "
        f"WHEN 'string' THEN {props} ->> {primary} WHEN 'number' THEN {props} ->> {primary} "
        f"WHEN 'boolean' THEN CASE WHEN {value} = 'true' THEN 'True' ELSE 'False' END "
        f"ELSE '' END END"
    )
    full = (
        f"concat_ws(' ', NULLIF({props} ->> 'firstname', ''), NULLIF({props} ->> 'lastname', ''))"
    )
    display = (
        f"CASE WHEN {type_name} = 'contacts' AND {full} <> '' THEN {full} ELSE {primary_text} END"
    )
    return (
        f"CASE WHEN {pk} IS NULL THEN '' "
        f"ELSE {label} || ' ' || coalesce(NULLIF({display}, ''), '#' || {pk}) END"
    )


def _name_is_exact(pk: str, props: str, type_name: str, primary: str) -> str:
    """Whether `_record_name` writes what Python's str() would (text, whole numbers, booleans)."""
    value = f"{props} -> {primary}"
    text_or_null = "IN ('string', 'null')"
    return (
        f"({pk} IS NULL OR (({type_name} <> 'contacts' OR ("
        f"coalesce(jsonb_typeof({props} -> 'firstname'), 'null') {text_or_null} AND "
        f"coalesce(jsonb_typeof({props} -> 'lastname'), 'null') {text_or_null})) AND "
        f"({primary} = '' OR coalesce(jsonb_typeof({value}), 'null') "
        f"IN ('string', 'null', 'boolean') OR (jsonb_typeof({value}) = 'number' AND "
        f"({props} ->> {primary}) ~ {WHOLE_NUMBER}))))"
    )


def _label(key: str) -> str:
    """texts._label: the known label, else the key with spaces, capitalised."""
    spaced = f"replace({key}, '_', ' ')"
    known = " ".join(
        f"WHEN {sql_literal(k)} THEN {sql_literal(v)}" for k, v in DETAIL_LABELS.items()
    )
    return f"CASE {key} {known} ELSE upper(left({spaced}, 1)) || lower(substr({spaced}, 2)) END"


def _scalar_text(value: str) -> str:
    """texts._value_text of a string, number, boolean or null."""
    return (
        f"CASE jsonb_typeof({value}) WHEN 'null' THEN '(blank)' "
        f"WHEN 'boolean' THEN CASE WHEN {value} = 'true' THEN 'yes' ELSE 'no' END "
        f"ELSE coalesce(NULLIF({value} #>> '{{}}', ''), '(blank)') END"
    )


def _scalar_is_exact(value: str) -> str:
    return (
        f"(jsonb_typeof({value}) IN ('string', 'boolean', 'null') OR "
        f"(jsonb_typeof({value}) = 'number' AND ({value} #>> '{{}}') ~ {WHOLE_NUMBER}))"
    )


# texts.details_text, one entry per row of jsonb_each (in the order Python reads the keys), and
# whether SQL wrote each entry exactly.
DETAILS = f"""
LEFT JOIN LATERAL (
    SELECT string_agg(
               {_label("d.key")} || ': ' || CASE jsonb_typeof(d.value)
                   WHEN 'array' THEN coalesce((
                       SELECT string_agg({_scalar_text("a.v")}, ', ' ORDER BY a.n)
                       FROM jsonb_array_elements(d.value) WITH ORDINALITY AS a(v, n)
                   ), '(none)')
                   ELSE {_scalar_text("d.value")} END,
               ' · ' ORDER BY d.n
           ) FILTER (WHERE NOT (
               jsonb_typeof(d.value) = 'null' OR d.value IN ('""', '[]', '{{}}')
               OR (d.key = 'statusCode' AND d.value = to_jsonb(x.x_code))
           )) AS text,
           bool_and(d.key ~ {ASCII_KEY} AND ({_scalar_is_exact("d.value")} OR d.value = '{{}}' OR (
               jsonb_typeof(d.value) = 'array' AND NOT EXISTS (
                   SELECT 1 FROM jsonb_array_elements(d.value) AS a(v)
                   WHERE NOT {_scalar_is_exact("a.v")}
               )
           ))) AS exact
    FROM jsonb_each(CASE WHEN jsonb_typeof(x.x_details) = 'object' THEN x.x_details END)
         WITH ORDINALITY AS d(key, value, n)
) details ON TRUE
"""

# What an association error whose record blocks others names (rows._load_names), read only
# for those rows: the first waiting record, its link, the blocker's own newest error or else
# the newest error the blocker itself waits on.
BLOCKING = f"""
LEFT JOIN LATERAL (
    SELECT fa.first_id, fa.n AS affected_n,
           ar.properties AS a_props, at.name AS a_type_name,
           at.label_singular AS a_type_label, at.primary_property AS a_type_primary,
           link.remote_object AS link_object, link.remote_id AS link_id,
           own.id AS own_id, own.category AS own_category,
           own.integration_id AS own_integration, own.record_id AS own_record,
           w.id AS w_id, w.category AS w_category, w.integration_id AS w_integration,
           w.record_id AS w_record, wr.properties AS w_props, wt.name AS w_type_name,
           wt.label_singular AS w_type_label, wt.primary_property AS w_type_primary
    FROM (
        SELECT min(record_id) AS first_id, count(*) AS n
        FROM syncengine_syncerroraffectedrecord WHERE error_id = x.x_id
    ) fa
    LEFT JOIN crm_record ar ON ar.id = fa.first_id
    LEFT JOIN crm_objecttype at ON at.id = ar.object_type_id
    LEFT JOIN LATERAL (
        SELECT om.remote_object, rl.remote_id
        FROM syncengine_recordlink rl
        JOIN syncengine_objectmapping om ON om.id = rl.object_mapping_id
        WHERE rl.integration_id = x.x_integration AND rl.record_id = fa.first_id
          AND rl.remote_id IS NOT NULL
    ) link ON TRUE
    LEFT JOIN LATERAL (
        SELECT o.id, o.category, o.integration_id, o.record_id
        FROM syncengine_syncerror o
        WHERE o.record_id = x.x_record AND o.status IN ({CURRENT})
          AND NOT (o.code = {ASSOCIATION} AND o.direction = {PUSH})
        ORDER BY o.last_seen_at DESC, o.id DESC LIMIT 1
    ) own ON TRUE
    LEFT JOIN LATERAL (
        SELECT e.id, e.category, e.integration_id, e.record_id
        FROM syncengine_syncerroraffectedrecord wa
        JOIN syncengine_syncerror e ON e.id = wa.error_id
        WHERE own.id IS NULL AND wa.record_id = x.x_record AND e.status IN ({CURRENT})
          AND e.code = {ASSOCIATION} AND e.direction = {PUSH}
        ORDER BY e.last_seen_at DESC, e.id DESC LIMIT 1
    ) w ON TRUE
    LEFT JOIN crm_record wr ON wr.id = w.record_id
    LEFT JOIN crm_objecttype wt ON wt.id = wr.object_type_id
    WHERE x.x_code = {ASSOCIATION} AND x.x_direction = {PUSH} AND x.x_record IS NOT NULL
) b ON TRUE
"""


def _record_json(pk: str, props: str, type_name: str, label: str, primary: str) -> str:
    return (
        f"CASE WHEN {pk} IS NOT NULL THEN jsonb_build_object('id', {pk}, 'properties', {props}, "
        f"'type', jsonb_build_object('name', {type_name}, 'label_singular', {label}, "
        f"'primary_property', {primary})) END"
    )


_RECORD = _record_json("x_record", "x_props", "x_type_name", "x_type_label", "x_type_primary")
_FIRST = _record_json("first_id", "a_props", "a_type_name", "a_type_label", "a_type_primary")
_WAITING = _record_json("w_record", "w_props", "w_type_name", "w_type_label", "w_type_primary")
# The fields `export.render_raw_row` builds the row from, for the rows SQL does not write.
RAW = f"""jsonb_build_object(
    'error', jsonb_build_object(
        'id', x_id, 'integration_id', x_integration, 'category', x_category, 'status', x_status,
        'code', x_code, 'message', x_message, 'direction', x_direction, 'record_id', x_record,
        'remote_object', x_remote_object, 'remote_id', x_remote_id,
        'remote_field', x_remote_field, 'property_name', x_property, 'details', x_details,
        'first_seen_at', x_first_seen, 'last_seen_at', x_last_seen,
        'occurrences', x_occurrences),
    'integration', jsonb_build_object(
        'id', x_integration, 'kind', x_kind, 'instance_url', x_instance_url),
    'record', {_RECORD},
    'affected_count', affected_n,
    'first_affected', {_FIRST},
    'link', CASE WHEN link_id IS NOT NULL THEN jsonb_build_array(link_object, link_id) END,
    'own', CASE WHEN own_id IS NOT NULL THEN jsonb_build_object(
        'id', own_id, 'category', own_category, 'integration_id', own_integration,
        'record_id', own_record) END,
    'waiting', CASE WHEN w_id IS NOT NULL THEN jsonb_build_object(
        'id', w_id, 'category', w_category, 'integration_id', w_integration,
        'record', {_WAITING}) END
)::text"""


def _texts() -> str:
    """The readable columns from the named fields (one evaluation each, hence the layer)."""
    blocking = f"(x_code = {ASSOCIATION} AND x_direction = {PUSH} AND x_record IS NOT NULL)"
    waiting_for_it = f"({blocking} AND first_id IS NOT NULL)"
    ending = (
        f"CASE WHEN own_id IS NOT NULL THEN 'which has a ' || "
        f"{_choice_label('own_category', SyncError.Category.choices)} || ' error' "
        f"WHEN w_id IS NOT NULL THEN 'which waits for ' || w_name "
        f"ELSE 'which is not in ' || system_name || ' yet (it is sent with the next push)' END"
    )
    more = (
        "CASE WHEN affected_n > 1 THEN ' (and ' || (affected_n - 1) || CASE WHEN affected_n = 2 "
        "THEN ' other record' ELSE ' other records' END || ')' ELSE '' END"
    )
    summary = (
        f"CASE WHEN NOT {blocking} THEN x_message "
        f"WHEN first_id IS NULL THEN 'Records associated with ' || r_name || ' wait for it, ' "
        f"|| {ending} || '.' "
        f"ELSE a_name || {more} || ' waits for ' || r_name || ', ' || {ending} || '.' END"
    )
    remote_url = (
        f"CASE WHEN {waiting_for_it} "
        f"THEN {_remote_url('x_kind', 'x_instance_url', 'link_object', 'link_id')} "
        f"ELSE {_remote_url('x_kind', 'x_instance_url', 'x_remote_object', 'x_remote_id')} END"
    )
    exact = (
        f"((x_details IS NULL OR x_details = '{{}}' OR "
        f"(jsonb_typeof(x_details) = 'object' AND coalesce(details_exact, TRUE))) "
        f"AND r_exact AND (NOT {blocking} OR (a_exact AND w_exact)))"
    )
    return f"""
        {_choice_label("x_category", SyncError.Category.choices)} AS label,
        {_choice_label("x_status", SyncError.Status.choices)} AS status_label,
        {summary} AS summary,
        CASE WHEN {waiting_for_it} THEN first_id ELSE x_record END AS listed_record,
        CASE WHEN {waiting_for_it} THEN a_name ELSE r_name END AS listed_record_label,
        coalesce(x_type_name, '') AS record_type,
        CASE WHEN {blocking} THEN r_name ELSE '' END AS blocking_record_label,
        {remote_url} AS remote_url,
        CASE WHEN jsonb_typeof(x_details) = 'object' THEN coalesce(details_words, '') ELSE ''
        END AS details_text,
        {exact} AS exact"""


def export_statement(queryset: QuerySet[SyncError]) -> tuple[str, list[object]]:
    """The SELECT whose CSV is the export of `queryset` (its filters and order), and its
    parameters: the first column is NULL, or the raw fields of a row SQL does not write."""
    rows = queryset.values(**{alias: F(path) for alias, path in FIELDS.items()})
    inner, params = rows.query.get_compiler(using=queryset.db).as_sql()
    names = f"""
        {_record_name("x_record", "x_props", "x_type_name", "x_type_label", "x_type_primary")}
            AS r_name,
        {_name_is_exact("x_record", "x_props", "x_type_name", "x_type_primary")} AS r_exact,
        {_record_name("first_id", "a_props", "a_type_name", "a_type_label", "a_type_primary")}
            AS a_name,
        {_name_is_exact("first_id", "a_props", "a_type_name", "a_type_primary")} AS a_exact,
        {_record_name("w_record", "w_props", "w_type_name", "w_type_label", "w_type_primary")}
            AS w_name,
        {_name_is_exact("w_record", "w_props", "w_type_name", "w_type_primary")} AS w_exact,
        {_choice_label("x_kind", Integration.Kind.choices)} AS system_name"""
    cells = ", ".join(
        [
            f"CASE WHEN exact THEN NULL ELSE {RAW} END",
            "x_id",
            sql_text_cell("label"),
            sql_text_cell("status_label"),
            sql_text_cell("summary"),
            sql_text_cell("x_code"),
            sql_text_cell("listed_record_label"),
            "listed_record",
            sql_text_cell("record_type"),
            sql_text_cell("blocking_record_label"),
            sql_text_cell("x_remote_object"),
            sql_text_cell("x_remote_id"),
            sql_text_cell("remote_url"),
            sql_text_cell("x_remote_field"),
            sql_text_cell("x_property"),
            sql_text_cell("details_text"),
            sql_isoformat("x_first_seen"),
            sql_isoformat("x_last_seen"),
            "x_occurrences",
        ]
    )
    # The rows keep the queryset's order without an ORDER BY of their own: every join on the
    # ordered subquery is LATERAL, which PostgreSQL can only run as a nested loop driven by it,
    # and a second sort of the finished text rows would hold the whole export before its first
    # byte. (tests/syncengine/test_errors_export_copy.py compares the bytes with the Python path.)
    # OFFSET 0 keeps each layer a layer: PostgreSQL would otherwise copy a column's expression
    # into every place the next layer reads it, and compute it that many times.
    statement = f"""
SELECT {cells} FROM (
    SELECT *, {_texts()} FROM (
        SELECT x.*, b.*, details.text AS details_words, details.exact AS details_exact, {names}
        FROM (%s) x {BLOCKING} {DETAILS}
        OFFSET 0
    ) named
    OFFSET 0
) texts"""
    # The statement's own % signs are literal; the queryset's placeholders stay placeholders.
    return statement.replace("%", "%%").replace("(%%s) x", "(" + inner + ") x"), list(params)
