"""Every request gives its database connection back once answered (the session dependency closes
it in a worker thread after the response: api/deps.py), however the request ended."""

from __future__ import annotations


def checked_out(client) -> int:
    return client.seeded.sessions.kw["bind"].pool.checkedout()


def test_many_feed_requests_in_a_row_hold_no_connection_afterwards(client):
    alice, manager = client.seeded.tokens["alice"], client.seeded.tokens["manager"]
    # More requests than the pool has connections (5, and 10 more on overflow): a request that kept
    # its connection would make a later one wait out the pool's timeout and fail.
    for n in range(24):
        fmt = ("atom", "rss", "json")[n % 3]
        answer = client.get(f"/feeds/prospects/apple.{fmt}", params={"token": alice})
        assert answer.status_code == 200
        assert "Tim Cook names a new Apple CFO" in answer.text
        assert client.get(f"/feeds/users/alice@example.com.{fmt}",
                          headers={"Authorization": f"Bearer {manager}"}).status_code == 200
        again = client.get(f"/feeds/prospects/apple.{fmt}", params={"token": alice},
                           headers={"If-None-Match": answer.headers["etag"]})
        assert again.status_code == 304
    assert checked_out(client) == 0


def test_refused_and_failed_feed_requests_give_their_connection_back(client):
    alice = client.seeded.tokens["alice"]
    for _ in range(20):
        assert client.get("/feeds/prospects/apple.atom", params={"token": "pit_not_a_token"}).status_code == 404
        assert client.get("/feeds/prospects/siemens.atom", params={"token": alice}).status_code == 404  # bob's
        assert client.get("/feeds/prospects/apple.atom", params={"token": alice, "before": "x"}).status_code in (400, 422)
    assert checked_out(client) == 0
    assert client.get("/feeds/prospects/apple.atom", params={"token": alice}).status_code == 200
