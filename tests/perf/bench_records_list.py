"""Records list (a page of 100) and a filter by email with 1,000,000 contacts, over HTTP.

gunicorn serves the real API with token auth; each figure is compared with the same page read
as raw SQL (the selector's query, every column of 101 rows), so the ratio shows what the
framework adds. The target (at most 4x) is the page's: a filter by email answers one row that
an index finds in about a millisecond, so its ratio mostly measures what any request costs. It
is printed beside that floor, an authenticated request for an object type that does not exist
(the token, the type's lookup and a 404), so the filter's own cost can be read off.
CONCORD_BENCH_LIST_ADMIN=0 leaves out the admin's figures.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))
from tests.perf._setup import median, percentile, skip, use_benchmark_database  # noqa: E402

CONTACTS = 1_000_000
REQUESTS = 200


def ensure_contacts(object_type_id: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM crm_record WHERE object_type_id = %s", [object_type_id]
        )
        if cursor.fetchone()[0] == CONTACTS:
            return
        cursor.execute(
            "TRUNCATE crm_record, crm_auditevent, crm_association RESTART IDENTITY CASCADE"
        )
        cursor.execute(
            """
            INSERT INTO crm_record (object_type_id, properties, property_changes, created_at,
                                    updated_at)
            SELECT %s,
                   jsonb_build_object(
                       'email', 'user' || g || '@example.com', 'firstname', 'First' || g,
                       'lastname', 'Last' || (g %% 997),
                       'lifecyclestage', (ARRAY['lead','customer','opportunity','subscriber'])
                                         [1 + g %% 4],
                       'phone', '+1 555 ' || lpad((g %% 10000)::text, 4, '0'),
                       'company', 'Company ' || (g %% 5000), 'jobtitle', 'Engineer',
                       'city', 'Springfield', 'country', 'United States'),
                   '{}'::jsonb, now() - make_interval(secs => %s - g), now()
            FROM generate_series(1, %s) AS g
            """,
            [object_type_id, CONTACTS, CONTACTS],
        )
        cursor.execute("ANALYZE crm_record")


def admin_session(base: str):
    """A browser-like session signed in to the admin as a staff user."""
    import re

    import requests
    from django.contrib.auth import get_user_model

    User = get_user_model()
    if not User.objects.filter(username="bench-admin").exists():
        User.objects.create_superuser("bench-admin", "bench@example.com", "bench-password")
    session = requests.Session()
    session.trust_env = False
    login = session.get(f"{base}/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    session.post(
        f"{base}/admin/login/",
        data={
            "csrfmiddlewaretoken": token,
            "username": "bench-admin",
            "password": "bench-password",
            "next": "/admin/",
        },
        headers={"Referer": f"{base}/admin/login/"},
    ).raise_for_status()
    return session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_http(session, url: str, params_list: list[dict]) -> list[float]:
    timings = []
    for params in params_list:
        started = time.perf_counter()
        response = session.get(url, params=params)
        timings.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return timings


def time_floor(session, url: str, requests: int) -> list[float]:
    """What a request costs before it reads a record: the token, the object type's lookup and
    a 404, over HTTP."""
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = session.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 404, response.status_code
    return timings


def time_http_and_sql(session, url: str, queryset_for, params_list: list[dict]):
    """Each request over HTTP, then the same page as raw SQL: alternated, so that both see the
    same load on a shared machine and their ratio means something."""
    from django.db import connection

    http, sql = [], []
    with connection.cursor() as cursor:
        for params in params_list:
            http.extend(time_http(session, url, [params]))
            query, args = queryset_for(params).query.sql_with_params()
            started = time.perf_counter()
            cursor.execute(query, args)
            cursor.fetchall()
            sql.append((time.perf_counter() - started) * 1000)
    return http, sql


def report(name: str, http: list[float], sql: list[float], *, floor: list[float] | None = None):
    """The figure's timings, and HTTP against raw SQL: against the 4x target, or beside the
    request floor when the figure is one row (see the module's docstring)."""
    print(
        f"{name}: median {median(http):.1f} ms, p95 {percentile(http, 95):.1f} ms over HTTP "
        f"({len(http)} requests; target p95 <= 50 ms); raw SQL median {median(sql):.2f} ms, "
        f"p95 {percentile(sql, 95):.2f} ms"
    )
    ratios = (
        f"{name}, HTTP / raw SQL: {median(http) / median(sql):.1f}x at p50, "
        f"{percentile(http, 95) / percentile(sql, 95):.1f}x at p95"
    )
    if floor is None:
        print(f"{ratios} (target <= 4x)")
    else:
        print(
            f"{ratios}; a request's floor (an unknown object type's 404 over HTTP): median "
            f"{median(floor):.1f} ms, p95 {percentile(floor, 95):.1f} ms, so the filter adds "
            f"{median(http) - median(floor):.1f} ms at p50"
        )


def bench_token() -> str:
    """The API token of an integrator's account that may read records."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username="bench")
    # An integrator's account: the User role (created by a migration) may read records.
    user.groups.add(Group.objects.get(name="User"))
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def start_server(port: int) -> subprocess.Popen:
    """gunicorn serving the real API on this port, two workers."""
    return subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ},
    )


def api_session(token: str, url: str):
    """A token-authenticated session, once the server answers."""
    import requests

    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Token {token}"
    # Wait until gunicorn listens; its first answer over a million rows may take a while on a
    # busy machine, so only the connection is retried, never a slow read.
    for _ in range(100):
        try:
            session.get(url, params={"limit": 1}, timeout=(2, 120))
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    return session


def measure_api(session, url: str, contacts, page_params: list, email_params: list) -> None:
    """The records list and the email filter over HTTP, each against its raw SQL."""
    from crm import selectors
    from crm.schema import load_schema

    schema = load_schema(contacts)

    def page_queryset(params):
        return selectors.list_records(object_type=contacts)[:101]

    def email_queryset(params):
        return selectors.filter_records_by_properties(
            selectors.list_records(object_type=contacts),
            schema=schema,
            filters={"email": params["property.email"]},
        )[:101]

    report(
        "records list, page of 100, 1,000,000 contacts",
        *time_http_and_sql(session, url, page_queryset, page_params),
    )
    found = session.get(url, params=email_params[0]).json()["results"]
    assert len(found) == 1, found
    http, sql = time_http_and_sql(session, url, email_queryset, email_params)
    report(
        "records filter by email, 1,000,000 contacts",
        http,
        sql,
        floor=time_floor(session, url.replace("/contacts/", "/no-such-type/"), len(http)),
    )


def measure_admin(base: str, email_params: list) -> None:
    """The admin changelist of contacts and its search by email, as a signed-in browser."""
    admin = admin_session(base)
    changelist = f"{base}/admin/crm/record/"
    page_timings = time_http(admin, changelist, [{"type": "contacts"}] * 50)
    search_timings = time_http(
        admin,
        changelist,
        [{"type": "contacts", "q": p["property.email"]} for p in email_params[:50]],
    )
    print(
        f"admin changelist of contacts (100 a page, estimated count), 1,000,000 contacts: "
        f"median {median(page_timings):.1f} ms, p95 {percentile(page_timings, 95):.1f} ms"
    )
    print(
        f"admin search by email, 1,000,000 contacts: median {median(search_timings):.1f} "
        f"ms, p95 {percentile(search_timings, 95):.1f} ms"
    )


def main() -> None:
    if not use_benchmark_database("concord_bench_list"):
        skip("records list with 1,000,000 contacts")
        return
    from crm.models import ObjectType

    contacts = ObjectType.objects.get(name="contacts")
    ensure_contacts(contacts.pk)
    token = bench_token()

    port = free_port()
    server = start_server(port)
    try:
        url = f"http://127.0.0.1:{port}/api/v1/objects/contacts/records/"
        session = api_session(token, url)
        rng = random.Random(7)
        page_params = [{"limit": 100}] * REQUESTS
        email_params = [
            {"property.email": f"user{rng.randint(1, CONTACTS)}@example.com"}
            for _ in range(REQUESTS)
        ]
        time_http(session, url, page_params[:20] + email_params[:20])  # warm up both workers
        measure_api(session, url, contacts, page_params, email_params)
        if os.environ.get("CONCORD_BENCH_LIST_ADMIN", "1") != "0":
            measure_admin(f"http://127.0.0.1:{port}", email_params)
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
