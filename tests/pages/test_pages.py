"""The pages over HTTP: sign-in, scope, escaping, highlighting, the ops view, security headers."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from api.pages.highlight import matched_terms, pieces
from api.pages.routes import plain_problem
from tests.pages.conftest import BAD_LINE


def signed_in(site, token: str) -> TestClient:
    client = TestClient(site.app(), base_url="http://127.0.0.1:8000")
    answer = client.post("/app/sign-in", data={"token": token}, follow_redirects=False)
    assert answer.status_code == 303
    return client


def test_signing_in_with_a_token_keeps_it_out_of_the_address_bar(site):
    client = TestClient(site.app(), base_url="http://127.0.0.1:8000")
    assert client.get("/app", follow_redirects=False).headers["location"] == "/app/sign-in"

    answer = client.get(f"/app/sign-in?token={site.alice}", follow_redirects=False)  # the link from an email
    assert answer.status_code == 303 and answer.headers["location"] == "/app"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/app" in cookie
    landing = client.get("/app")
    assert landing.url.path == "/app/users/alice@example.com" and "token" not in str(landing.url)
    assert "Prospects of alice@example.com" in landing.text


def test_a_wrong_or_missing_token_is_refused_in_plain_words(site):
    client = TestClient(site.app())
    answer = client.post("/app/sign-in", data={"token": "pit_not-a-real-token-at-all"})
    assert answer.status_code == 401 and "not valid, or it was revoked" in answer.text
    assert "set-cookie" not in answer.headers
    assert client.get("/app/users/alice@example.com", follow_redirects=False).status_code == 303


def test_a_salesperson_sees_their_prospects_heat_signals_and_subscriptions(site):
    page = signed_in(site, site.alice).get("/app/users/alice@example.com")
    assert page.status_code == 200
    html = page.text
    assert 'id="prospect-apple"' in html and 'id="prospect-snowflake"' in html
    assert 'id="prospect-siemens"' not in html  # bob's
    apple = html[html.index('id="prospect-apple"'):html.index("</article>", html.index('id="prospect-apple"'))]
    assert "qualifying" in apple and "<meter" in apple
    assert "funding" in apple and "Apple Inc. raises $2 billion" in apple  # a latest signal
    # Subscribe: feed addresses carry the token for feed readers; the OPML is one click.
    addresses = re.findall(r'value="([^"]+)"', apple)
    atom = next(a for a in addresses if ".atom" in a)
    assert urlsplit(atom.replace("&amp;", "&")).path == "/feeds/prospects/apple.atom"
    assert parse_qs(urlsplit(atom.replace("&amp;", "&")).query)["token"] == [site.alice]
    assert 'id="download-opml"' in html and "/feeds/users/alice@example.com.opml?token=" in html


def test_salespeople_see_only_their_own_pages(site):
    alice = signed_in(site, site.alice)
    assert alice.get("/app/users/bob@example.com").status_code == 404
    assert alice.get("/app/prospects/siemens").status_code == 404
    assert alice.get("/app/ops").status_code == 404
    assert "Siemens" not in alice.get("/app/users/bob@example.com").text


def test_feed_content_is_escaped_and_hostile_links_dropped(site):
    preview = signed_in(site, site.alice).get("/app/prospects/apple")
    html = preview.text
    assert preview.status_code == 200
    at = html.index("opens a store")
    hostile = html[html.rindex("<article", 0, at):html.index("</article>", at)]
    assert "shares rise 5 &lt; 6 &amp; more" in hostile  # text from the feed, escaped
    assert "<script" not in hostile and "alert(" not in hostile and "onerror" not in hostile and "<img" not in hostile
    assert 'href="javascript:' not in html.lower() and "<a href" not in hostile  # no link rather than a bad one
    # No inline script or style anywhere: the CSP forbids them and the page needs none.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html and "onclick" not in html


def test_the_preview_highlights_matched_words_and_says_why(site):
    html = signed_in(site, site.alice).get("/app/prospects/apple").text
    assert re.search(r'<mark class="who">Apple( Inc\.)?</mark>', html)  # the name as the tagger matched it
    assert re.search(r'<mark class="what">[^<]*rais', html)  # the funding pattern
    assert "Why it is here:" in html and "About Apple Inc. (score" in html


def test_pages_carry_a_strict_content_security_policy(site):
    client = signed_in(site, site.alice)
    for path in ("/app/users/alice@example.com", "/app/prospects/apple", "/app/sign-in"):
        headers = client.get(path).headers
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert headers["cache-control"] == "no-store" and headers["referrer-policy"] == "no-referrer"
    assert client.get("/app/static/app.js").status_code == 200


def test_the_ops_page_shows_source_health_config_errors_and_prospect_counts(site):
    admin = signed_in(site, site.admin)
    html = admin.get("/app/ops").text
    sources = html[html.index('id="sources"'):html.index("</table>", html.index('id="sources"'))]
    rows = sources.split("<tr")
    flaky = next(r for r in rows if "flaky-wire" in r)
    assert "failing" in flaky and "503" in flaky
    assert sources.index("flaky-wire") < sources.index("business-news")  # failing first
    good = next(r for r in rows if "business-news" in r)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", good)
    assert cells[0] == "ok" and cells[3] == "0" and cells[4] == "0.6"  # 4 items over the last 7 days
    # The config problem in plain words, with the raw line for editors.
    assert "not applied" in html and "intel.yaml, line 14" in html and "source 3, setting “every”" in html
    counts = html[html.index('id="prospect-counts"'):]
    alice = counts[counts.index("alice@example.com"):counts.index("</tr>", counts.index("alice@example.com"))]
    header = re.findall(r'<th scope="col">([^<]*)</th>', counts[:counts.index("</thead>")])
    row = dict(zip(header[1:], re.findall(r"<td>(?:<strong>)?([^<]*)", alice)))
    assert row == {"prospecting": "·", "qualifying": "1", "delivering": "1", "Total": "2"}


def test_config_problems_in_plain_words():
    words = plain_problem(BAD_LINE)
    assert words["where"] == "intel.yaml, line 14"
    assert words["what"] == "source 3, setting “every”"
    assert words["message"].startswith("not a duration")


def test_highlighting_marks_matches_without_building_html():
    who = matched_terms(["title: name 'Apple'; ambiguous word; followed by 'to'", "score: confidence 0.9"])
    what = matched_terms(["title: pattern 'raises $2 billion'"])
    assert who == ["Apple"] and what == ["raises $2 billion"]
    parts = pieces("<b>Apple</b> raises $2 billion to grow", who, what)
    assert [(p.text, p.kind) for p in parts] == [("<b>", None), ("Apple", "who"), ("</b> ", None),
                                                 ("raises $2 billion", "what"), (" to grow", None)]
