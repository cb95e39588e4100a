"""Key rotation: the signing_keys table, `flask portal keys`, signing with the current key, and what
verification says about the certificate that signed."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from portal.signing import FileKeySpec, certificate_key_id, load_trust_roots
from tests.keys_plugin import KeyFiles, make_key_files

AUDIT_ACTIONS = sa.text(
    "SELECT action, target FROM audit_events WHERE action LIKE 'signing_key.%' ORDER BY id"
)


def _dev_key_id(app, dev_pki) -> str:
    (cert,) = load_trust_roots([dev_pki.agency_paths["dlt"][1]])
    return certificate_key_id(cert)


def _add(cli, key: KeyFiles, dev_pki, *extra: str):
    return cli(
        "add",
        "--agency",
        "dlt",
        "--cert",
        str(key.cert),
        "--key",
        str(key.key),
        "--chain",
        str(dev_pki.root_cert_path),
        *extra,
    )


def test_list_shows_the_configured_key_while_the_table_is_empty(app, cli, dev_pki):
    result = cli("list", "--agency", "dlt")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["AGENCY", "KEY", "ID"]
    (row,) = [line for line in lines[1:] if line.startswith("dlt")]
    assert _dev_key_id(app, dev_pki)[:16] in row
    assert "(not in the table: configured by environment)" in row
    assert "current" in row


def test_rotation_old_documents_keep_verifying_and_say_retired(app, client, cli, issue, dev_pki, new_key):
    from portal.services import runtime

    old_key_id = _dev_key_id(app, dev_pki)
    first = issue().certificate
    assert first.signer_key_id == old_key_id

    key_b = new_key()
    added = _add(cli, key_b, dev_pki, "--make-current")
    assert added.exit_code == 0, added.output
    assert f"Added key {key_b.key_id[:16]}" in added.output and ": current" in added.output

    second = issue().certificate
    assert second.signer_key_id == key_b.key_id != first.signer_key_id

    # Both files are genuine, each signed by its own key.
    for certificate in (first, second):
        with app.app_context():
            pdf = runtime.blob_store().get(certificate.sha256)
        body = client.post("/api/v1/verify", data={"file": (_io(pdf), "doc.pdf")}).json
        assert body["verdict"] == "genuine", body
        assert body["signature"]["signer_key_id"] == certificate.signer_key_id
        assert body["document"]["signer"]["key_id"] == certificate.signer_key_id

    old = client.get(f"/api/v1/verify/{first.verification_code}").json
    assert old["status"] == "valid"
    assert old["signer"]["state"] == "retired" and old["signer"]["retired_at"]
    assert old["signer"]["key_id"] == old_key_id
    assert "DEVELOPMENT" in old["signer"]["common_name"]
    new = client.get(f"/api/v1/verify/{second.verification_code}").json
    assert new["signer"]["state"] == "current" and new["signer"]["retired_at"] is None
    assert new["signer"]["common_name"] == "DLT Document Signing B (DEVELOPMENT)"
    assert new["signer"]["not_after"] > new["signer"]["not_before"]

    page_old = client.get(f"/v/{first.verification_code}?lang=en").get_data(as_text=True)
    assert 'data-signer-state="retired"' in page_old
    assert "the agency has since moved to a new key; documents signed before remain valid" in page_old
    page_new = client.get(f"/v/{second.verification_code}?lang=en").get_data(as_text=True)
    assert 'data-signer-state="current"' in page_new
    assert key_b.key_id[:16] in page_new
    page_th = client.get(f"/v/{first.verification_code}?lang=th")
    assert page_th.status_code == 200 and 'data-signer-state="retired"' in page_th.get_data(as_text=True)

    listing = cli("list", "--agency", "dlt").output
    rows = {line.split()[1]: line for line in listing.splitlines()[1:]}
    assert " retired " in rows[old_key_id[:16]] and " current " in rows[key_b.key_id[:16]]
    assert "not in the table" not in listing

    # Switching back retires B; both changes are audited.
    back = cli("current", old_key_id[:12])
    assert back.exit_code == 0, back.output
    assert issue().certificate.signer_key_id == old_key_id
    actions = [tuple(row) for row in db_session_rows(AUDIT_ACTIONS)]
    assert actions == [
        ("signing_key.added", key_b.key_id),
        ("signing_key.adopted", old_key_id),
        ("signing_key.retired", old_key_id),
        ("signing_key.made_current", key_b.key_id),
        ("signing_key.retired", key_b.key_id),
        ("signing_key.made_current", old_key_id),
    ]


def db_session_rows(query):
    from portal.extensions import db

    return db.session.execute(query).all()


def _io(data: bytes):
    import io

    return io.BytesIO(data)


def test_a_document_signed_after_its_key_was_revoked_is_not_shown_valid(
    app, client, cli, issue, dev_pki, new_key, ring
):
    from portal.services import keys

    key_b = new_key()
    assert _add(cli, key_b, dev_pki, "--make-current").exit_code == 0
    before = issue().certificate
    after = issue().certificate
    revoked_at = after.issued_at - dt.timedelta(microseconds=1)
    assert before.issued_at < revoked_at
    result = cli(
        "revoke", key_b.key_id[:16], "--reason", "key copied off the server", "--at", revoked_at.isoformat()
    )
    assert result.exit_code == 0, result.output

    bad = client.get(f"/api/v1/verify/{after.verification_code}").json
    assert bad["status"] == "revoked"
    assert bad["signer"]["state"] == "revoked" and bad["signer"]["signed_after_revocation"] is True
    assert bad["signer"]["revoked_at"] == revoked_at.isoformat()
    assert bad["signer"]["revocation_reason"] == "key copied off the server"
    page = client.get(f"/v/{after.verification_code}?lang=en").get_data(as_text=True)
    assert 'data-signer-warning="revoked"' in page and "Signed with a revoked key" in page
    assert "This document is valid" not in page
    page_th = client.get(f"/v/{after.verification_code}?lang=th")
    assert page_th.status_code == 200 and 'data-signer-warning="revoked"' in page_th.get_data(as_text=True)

    earlier = client.get(f"/api/v1/verify/{before.verification_code}").json
    assert earlier["status"] == "valid" and earlier["signer"]["state"] == "revoked"
    assert earlier["signer"]["signed_after_revocation"] is False
    page = client.get(f"/v/{before.verification_code}?lang=en").get_data(as_text=True)
    assert "signed before that date, so the revocation does not affect it" in page
    assert 'data-signer-warning="revoked"' not in page

    # The revoked key was current: the agency may not fall back to the adopted (retired) key.
    with app.app_context(), pytest.raises(keys.SigningKeyUnusable, match="retired or revoked"):
        ring.get("dlt")


def test_the_ring_picks_up_a_switch_within_its_refresh_interval(app, db_session, dev_pki, new_key, ring):
    from portal.services import keys

    now = [1000.0]
    local = keys.RotatingKeyRing(ring.configured, refresh_seconds=5, monotonic=lambda: now[0])
    key_b = new_key()
    with app.app_context():
        old = local.get("dlt")
        assert old.key_id == _dev_key_id(app, dev_pki)
        keys.add_key(
            spec=FileKeySpec(agency="dlt", key=key_b.key, cert=key_b.cert, chain=(dev_pki.root_cert_path,)),
            make_current_now=True,
        )
        now[0] += 4.9
        assert local.get("dlt").key_id == old.key_id  # not yet: no query within the interval
        now[0] += 0.2
        switched = local.get("dlt")
        assert switched.key_id == key_b.key_id
        assert local.get("dlt") is switched  # loaded once, then kept


def test_one_current_key_per_agency_is_enforced_by_the_database(app, db_session, cli, dev_pki, new_key):
    from portal.models import SigningKey

    key_b, key_c = new_key("DLT B (DEVELOPMENT)"), new_key("DLT C (DEVELOPMENT)")
    assert _add(cli, key_b, dev_pki, "--make-current").exit_code == 0
    added = _add(cli, key_c, dev_pki)
    assert added.exit_code == 0 and ": standby" in added.output
    row_c = db_session.scalar(sa.select(SigningKey).where(SigningKey.key_id == key_c.key_id))
    with pytest.raises(sa.exc.IntegrityError):
        with db_session.begin_nested():
            row_c.status = "current"
            db_session.flush()
    db_session.expire_all()
    current = db_session.scalars(
        sa.select(SigningKey.key_id).where(SigningKey.agency == "dlt", SigningKey.status == "current")
    ).all()
    assert current == [key_b.key_id]

    # Through the service the switch retires the previous key in the same transaction.
    assert cli("current", key_c.key_id).exit_code == 0
    states = dict(db_session.execute(sa.select(SigningKey.key_id, SigningKey.status)).all())
    assert states[key_b.key_id] == "retired" and states[key_c.key_id] == "current"


def test_operator_mistakes_get_one_line_errors(app, cli, dev_pki, new_key, tmp_path):
    key_b = new_key()
    other = new_key("Other (DEVELOPMENT)")
    expired = new_key("Expired (DEVELOPMENT)", days=(-30, -1))
    stranger = new_key("Stranger CA (DEVELOPMENT)")  # issues the next one; not among our roots
    foreign = make_key_files(
        tmp_path / "foreign",
        "Foreign signer (DEVELOPMENT)",
        issuer_cert=stranger.cert,
        issuer_key=stranger.key,
    )
    assert _add(cli, key_b, dev_pki).exit_code == 0  # standby

    def check(result, code: int, message: str) -> None:
        assert result.exit_code == code, (message, result.output)
        assert message in result.output, result.output
        assert "Traceback" not in result.output

    check(cli("add", "--agency", "dlt", "--cert", str(key_b.cert), "--key", str(other.key)), 1, "does not")
    check(_add(cli, expired, dev_pki), 1, "expired")
    foreign_add = cli("add", "--agency", "dlt", "--cert", str(foreign.cert), "--key", str(foreign.key))
    check(foreign_add, 1, "does not chain to the trust roots")
    check(_add(cli, key_b, dev_pki), 1, "already in the table")
    check(
        cli("add", "--agency", "nope", "--cert", str(key_b.cert), "--key", str(key_b.key)),
        1,
        "unknown agency",
    )
    check(cli("add", "--agency", "dlt", "--cert", str(key_b.cert)), 2, "give --key")
    check(cli("current", "0123456789abcdef"), 1, "no signing key")
    check(cli("current", "abc"), 1, "at least 8")
    check(cli("revoke", key_b.key_id), 2, "--reason")
    check(cli("revoke", key_b.key_id, "--reason", "x", "--at", "yesterday"), 2, "ISO 8601")
    check(cli("revoke", key_b.key_id, "--reason", "x", "--at", "2999-01-01"), 1, "future")
    check(cli("retire", key_b.key_id), 0, "is retired")
    check(cli("retire", key_b.key_id), 1, "already retired")
    listing = cli("list").output
    assert expired.key_id[:16] not in listing and foreign.key_id[:16] not in listing


def test_current_key_cannot_be_retired_and_revoked_key_cannot_return(cli, dev_pki, new_key):
    key_b = new_key()
    assert _add(cli, key_b, dev_pki, "--make-current").exit_code == 0
    again = cli("current", key_b.key_id)
    assert again.exit_code == 1 and "already the current key" in again.output
    retire = cli("retire", key_b.key_id)
    assert retire.exit_code == 1 and "make another key current" in retire.output
    assert cli("revoke", key_b.key_id, "--reason", "lost").exit_code == 0
    back = cli("current", key_b.key_id)
    assert back.exit_code == 1 and "revoked" in back.output


def test_a_token_key_location_round_trips_through_a_row_without_any_pin(tmp_path):
    """What `keys add --pkcs11-…` records is what the ring later loads from (and holds no PIN)."""
    from portal.models import SigningKey
    from portal.services.keys.locations import location_of, spec_of
    from portal.signing import Pkcs11KeySpec

    spec = Pkcs11KeySpec(
        agency="dlt",
        module="/usr/lib/softhsm/libsofthsm2.so",
        token_label="tra-dlt",
        key_label="dlt-2027",
        key_id=bytes.fromhex("a1b2"),
        pin_env="TRA_DLT_HSM_PIN",
        cert=tmp_path / "dlt-2027.pem",
        chain=(tmp_path / "root.pem",),
    )
    store, reference, settings, chain = location_of(spec)
    assert (store, reference) == ("pkcs11", "dlt-2027")
    assert settings["pin_env"] == "TRA_DLT_HSM_PIN" and "pin" not in settings
    row = SigningKey(
        agency="dlt", key_id="0" * 64, store=store, reference=reference, settings=settings, chain=chain
    )
    assert spec_of(row) == spec
