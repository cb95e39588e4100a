"""The sample world's people as the development OP vouches for them, and logging them in through
the portal's real login service (claims → user → server-side session → mandates asked)."""

from __future__ import annotations

from sqlalchemy import select

COMPANY_A = "0105556012341"
COMPANY_B = "0105560098760"
COMPANY_A_EN = "Tra Test Company Limited"
COMPANY_A_TH = "บริษัท ตราทดสอบ จำกัด"

SOMCHAI = {
    "sub": "dev-somchai",
    "pid": "1101700123456",
    "name": "นายสมชาย ใจดี",
    "name_en": "Mr. Somchai Jaidee",
}
SOMYING = {
    "sub": "dev-somying",
    "pid": "3100500678905",
    "name": "นางสาวสมหญิง รักไทย",
    "name_en": "Ms. Somying Rakthai",
}
ARUNEE = {
    "sub": "dev-arunee",
    "pid": "1101400555555",
    "name": "นางอรุณี แก้วมณี",
    "name_en": "Mrs. Arunee Kaewmanee",
}
MALEE = {
    "sub": "dev-malee",
    "pid": "3101200987652",
    "name": "นางสาวมาลี ทองดี",
    "name_en": "Ms. Malee Thongdee",
}
YAMADA = {
    "sub": "dev-yamada",
    "passport_number": "TK1234567",
    "nationality": "JPN",
    "name": "นายทาโร ยามาดะ",
    "name_en": "Mr. Taro Yamada",
}


def log_in(app, client, claims: dict):
    """Log ``claims`` in with the development provider through ``accounts.log_in`` (what the OIDC
    callback calls), and give ``client`` that session's cookie. Returns the user."""
    from portal.auth import provider
    from portal.services import accounts

    with app.test_request_context():
        user = accounts.log_in(provider=provider("dev"), claims=claims, id_token=None)
        session_id = user.login_session.id
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    return user


def login_session(db_session, user):
    from portal.models import UserSession

    return db_session.scalar(
        select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.created_at.desc())
    )


def audit_events(db_session, action: str, actor: str | None = None) -> list:
    from portal.models import AuditEvent

    query = select(AuditEvent).where(AuditEvent.action == action)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    return list(db_session.scalars(query))
