"""The Google sync settings page: admin form markup, filters that apply only under the "sync
filters" rule (ignored under the others, required under it), and the fixed mappings listed."""

from __future__ import annotations

from syncengine.services.google_contacts import sync_options


def settings_url(integration) -> str:
    return f"/admin/syncengine/integration/{integration.pk}/google-sync/"


def test_the_page_lists_the_eleven_fixed_mappings_in_admin_markup(integration, admin_client):
    page = admin_client.get(settings_url(integration))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<fieldset class="module aligned">' in html and "<h2>What syncs</h2>" in html
    assert "syncengine/google_sync.js" in html
    assert "Field mappings: 11 fixed" in html
    table = html[html.index('id="fixed-mappings"') :]
    assert table.count("<td>↔</td>") == 11
    assert "First name <span" in table and "(givenName)" in table
    assert "Postal code" in table and "(zip)" in table


def test_filters_ticked_under_another_rule_are_ignored(integration, admin_client):
    response = admin_client.post(
        settings_url(integration),
        {"sync_rule": "two_way", "filters": ["starred"], "conflict_winner": "google"},
    )
    assert response.status_code == 302
    integration.refresh_from_db()
    assert sync_options(integration) == {
        "sync_rule": "two_way",
        "filters": [],
        "conflict_winner": "google",
    }


def test_the_filters_rule_needs_a_filter_and_keeps_what_it_was_given(integration, admin_client):
    refused = admin_client.post(
        settings_url(integration), {"sync_rule": "filters", "conflict_winner": "concord"}
    )
    assert refused.status_code == 200
    assert "choose at least one filter" in refused.content.decode()
    integration.refresh_from_db()
    assert sync_options(integration)["sync_rule"] == "two_way"
    admin_client.post(
        settings_url(integration),
        {"sync_rule": "filters", "filters": ["starred"], "conflict_winner": "concord"},
    )
    integration.refresh_from_db()
    assert sync_options(integration)["filters"] == ["starred"]
