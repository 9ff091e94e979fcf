"""The JSON API answers a qualifying tool's questions: who is this domain, what is going on there."""

from __future__ import annotations

import pytest


def api(client, path, token="qualifier", **params):
    return client.get(path, params={**params}, headers={"Authorization": f"Bearer {client.seeded.tokens[token]}"})


@pytest.mark.parametrize("domain", ["apple.com", "https://www.Apple.com/iphone/?ref=x", "investor.apple.com"])
def test_lookup_by_domain_answers_who_and_whats_going_on(client, domain):
    response = api(client, "/api/v1/prospects/lookup", domain=domain)
    assert response.status_code == 200
    prospect = response.json()
    assert prospect["id"] == "apple" and prospect["owners"] == ["alice@example.com"]
    assert prospect["stage"] == "qualifying"
    summary = prospect["summary"]
    assert summary["mentions_30_days"] == 2 and summary["mentions_90_days"] == 3
    counts = {s["type"]: (s["last_30_days"], s["last_90_days"]) for s in summary["signals"]}
    assert counts == {"funding": (1, 1), "leadership_change": (1, 1), "acquisition": (0, 1)}
    assert [s["title"] for s in summary["latest_signals"]] == ["Tim Cook names a new Apple CFO",
                                                              "Apple raises $5B in bond funding",
                                                              "Apple to acquire a small AI start-up"]
    assert [(p["name"], p["mentions"]) for p in summary["people_mentioned"]] == [("Tim Cook", 1)]
    heat = summary["heat"]
    assert heat["level"] in ("warm", "hot") and 25 <= heat["score"] <= 100
    assert heat["reasons"][0].startswith("funding 2 days ago: Apple raises $5B") or \
        heat["reasons"][0].startswith("leadership change yesterday")
    assert any("acquisition 40 days ago" in r for r in heat["reasons"])


def test_lookup_by_name_or_alias_and_misses(client):
    assert api(client, "/api/v1/prospects/lookup", name="apple inc.").json()["id"] == "apple"
    assert api(client, "/api/v1/prospects/lookup", name="Snowflake").json()["id"] == "snowflake"
    missing = api(client, "/api/v1/prospects/lookup", domain="example.org")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    neither = api(client, "/api/v1/prospects/lookup")
    assert neither.status_code == 404 and "domain=" in neither.json()["detail"]


def test_heat_explains_itself_and_ignores_old_news(client):
    from tests.api.conftest import news_item

    # Siemens: one contract win and a partnership, days old — some heat, and each point explained.
    heat = api(client, "/api/v1/prospects/siemens").json()["summary"]["heat"]
    assert heat["level"] in ("cold", "warm") and heat["score"] < 60
    assert any("contract win 5 days ago" in r for r in heat["reasons"])
    assert any("partnership 10 days ago" in r for r in heat["reasons"])
    client.seeded.store("news", [news_item("q1", "Unrelated Apple ad", 200, [("apple", 0.9)])])
    assert api(client, "/api/v1/prospects/apple").json()["summary"]["mentions_90_days"] == 3  # too old to count


def test_prospect_search_owner_stage_and_paging(client):
    page = api(client, "/api/v1/prospects", limit=2).json()
    assert [p["id"] for p in page["prospects"]] == ["apple", "siemens"] and page["next_cursor"] == "siemens"
    rest = api(client, "/api/v1/prospects", limit=2, cursor=page["next_cursor"]).json()
    assert [p["id"] for p in rest["prospects"]] == ["snowflake"] and rest["next_cursor"] is None
    assert [p["id"] for p in api(client, "/api/v1/prospects", q="snow").json()["prospects"]] == ["snowflake"]
    assert [p["id"] for p in api(client, "/api/v1/prospects", owner="bob@example.com").json()["prospects"]] == ["siemens"]
    assert [p["id"] for p in api(client, "/api/v1/prospects", stage="delivering").json()["prospects"]] == ["snowflake"]


def test_items_with_filters_and_cursor_paging(client):
    first = api(client, "/api/v1/items", limit=3).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    second = api(client, "/api/v1/items", limit=3, cursor=first["next_cursor"]).json()
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 6  # six external items, none twice, no internal note
    funding = api(client, "/api/v1/items", signal="funding").json()["items"]
    assert [i["title"] for i in funding] == ["Apple raises $5B in bond funding"]
    assert funding[0]["signals"][0]["type"] == "funding" and funding[0]["mentions"][0]["prospect"] == "apple"
    about = api(client, "/api/v1/prospects/snowflake/items").json()["items"]
    assert [i["title"] for i in about] == ["Snowflake opens a Paris region",
                                           "Snowflake and Siemens partner on industrial data"]
    bad = api(client, "/api/v1/items", cursor="not-a-cursor")
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["invalid-params"][0]["name"] == "query.cursor"


def test_tag_supplied_text_against_the_prospect_list(client):
    response = client.post("/api/v1/tag", json={"id": "lead-7", "title": "Snowflake Inc. opens office in Lagos",
                                                "text": "The data cloud company Snowflake expands."},
                           headers={"Authorization": f"Bearer {client.seeded.tokens['qualifier']}"})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "lead-7" and [m["prospect"] for m in body["mentions"]] == ["snowflake"]
    assert body["mentions"][0]["evidence"]
    # A token scoped to one salesperson only hears about that salesperson's prospects.
    bob = client.post("/api/v1/tag", json={"title": "Snowflake Inc. opens office in Lagos"},
                      headers={"Authorization": f"Bearer {client.seeded.tokens['bob']}"})
    assert bob.json()["mentions"] == []


def test_errors_are_rfc_9457_problem_details(client):
    response = api(client, "/api/v1/items", limit=0)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"].startswith("Unprocessable") and problem["status"] == 422
    assert problem["instance"] == "/api/v1/items"
    assert problem["invalid-params"][0]["name"] == "query.limit"
    spec = client.get("/openapi.json").json()
    lookup = spec["paths"]["/api/v1/prospects/lookup"]["get"]["responses"]
    assert "application/problem+json" in lookup["404"]["content"]
    assert "ProspectDetailOut" in lookup["200"]["content"]["application/json"]["schema"]["$ref"]
