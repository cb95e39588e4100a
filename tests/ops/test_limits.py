"""Rate limits counted in the real Redis (own key prefix), and verification without Redis."""

from __future__ import annotations

import redis

from tests.ops.conftest import REDIS_URL, closed_port

UNKNOWN_CODE = "ZZZZZZZZZZZZZZZZZZZZ"


def limited_app(make_app, ops_database, redis_prefix, **settings):
    defaults = {
        "SQLALCHEMY_DATABASE_URI": ops_database,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": redis_prefix,
        "RATELIMIT_VERIFY": "3/minute",
        "RATELIMIT_LOGIN": "2/minute",
    }
    return make_app(**{**defaults, **settings})


def test_verification_page_over_the_limit_gets_a_plain_429_page(make_app, ops_database, redis_prefix):
    client = limited_app(make_app, ops_database, redis_prefix).test_client()
    for _ in range(3):
        assert client.get(f"/v/{UNKNOWN_CODE}").status_code == 404
    response = client.get(f"/v/{UNKNOWN_CODE}?lang=en")
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    page = response.get_data(as_text=True)
    assert "Too many requests" in page
    assert f"Please wait {retry_after} seconds" in page or f"Please wait {retry_after + 1} seconds" in page
    # Counted in Redis under this test's prefix, not in the process.
    keys = redis.Redis.from_url(REDIS_URL).keys(f"*{redis_prefix}*")
    assert keys, "the limiter wrote its counters to Redis"


def test_verify_api_over_the_limit_gets_a_json_problem(make_app, ops_database, redis_prefix):
    client = limited_app(make_app, ops_database, redis_prefix).test_client()
    for _ in range(3):
        assert client.get(f"/api/v1/verify/{UNKNOWN_CODE}").status_code == 404
    response = client.get(f"/api/v1/verify/{UNKNOWN_CODE}")
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 429
    assert body["type"] == "rate-limited"
    assert "seconds" in body["detail"]
    assert int(response.headers["Retry-After"]) >= 1


def test_file_check_is_limited(make_app, ops_database, redis_prefix):
    client = limited_app(make_app, ops_database, redis_prefix).test_client()
    statuses = [client.post("/v", data={}).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]


def test_login_is_limited(make_app, ops_database, redis_prefix):
    client = limited_app(make_app, ops_database, redis_prefix).test_client()
    statuses = [client.get("/login").status_code for _ in range(3)]
    assert statuses[:2] != [429, 429]
    assert statuses[2] == 429
    callbacks = [client.get("/auth/callback?code=x&state=y").status_code for _ in range(3)]
    assert callbacks == [400, 400, 429]


def test_limits_are_per_client_address_and_proxy_hops_are_configured(make_app, ops_database, redis_prefix):
    def hits(client, forwarded_for):
        env = {"REMOTE_ADDR": "10.0.0.1"}
        headers = {"X-Forwarded-For": forwarded_for}
        return [
            client.get(f"/v/{UNKNOWN_CODE}", environ_base=env, headers=headers).status_code for _ in range(4)
        ]

    # No trusted proxy (the default): X-Forwarded-For is ignored, one bucket for 10.0.0.1.
    client = limited_app(make_app, ops_database, redis_prefix).test_client()
    assert hits(client, "192.0.2.1")[-1] == 429
    assert hits(client, "192.0.2.2") == [429] * 4
    # One trusted proxy: the address it saw is the client.
    client = limited_app(make_app, ops_database, redis_prefix + "p-", PROXY_FIX_HOPS=1).test_client()
    assert hits(client, "192.0.2.1") == [404, 404, 404, 429]
    assert hits(client, "192.0.2.2") == [404, 404, 404, 429]


def test_redis_gone_verification_still_answers(make_app, ops_database, redis_prefix):
    from portal.services.issuance_requests import issue_for_subject

    app = limited_app(
        make_app,
        ops_database,
        redis_prefix,
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{closed_port()}/0",
        RATELIMIT_VERIFY="100/minute",
    )
    with app.app_context():
        request = issue_for_subject(issuer_id="dlt", type_id="driving-licence", pid="1101700123456")[
            0
        ]
        code = request.certificate.verification_code
    client = app.test_client()
    for _ in range(3):
        assert client.get(f"/v/{code}").status_code == 200
        response = client.get(f"/api/v1/verify/{code}")
        assert response.status_code == 200
        assert response.get_json()["status"] == "valid"
        assert client.get(f"/v/{UNKNOWN_CODE}").status_code == 404


def test_redis_gone_limits_fall_back_to_memory(make_app, ops_database, redis_prefix):
    client = limited_app(
        make_app, ops_database, redis_prefix, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{closed_port()}/0"
    ).test_client()
    statuses = [client.get(f"/v/{UNKNOWN_CODE}").status_code for _ in range(5)]
    assert 500 not in statuses
    assert statuses[-1] == 429


def test_a_default_limit_still_covers_every_route(make_app, ops_database, redis_prefix):
    # The limiter's hooks run only where a limit can apply; a default limit applies everywhere.
    client = limited_app(make_app, ops_database, redis_prefix, RATELIMIT_DEFAULT="2/minute").test_client()
    statuses = [client.get("/").status_code for _ in range(3)]
    assert statuses[2] == 429 and 429 not in statuses[:2]


def test_unlimited_routes_are_not_counted(make_app, ops_database, redis_prefix):
    client = limited_app(make_app, ops_database, redis_prefix).test_client()
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
    assert redis.Redis.from_url(REDIS_URL).keys(f"*{redis_prefix}*") == []
