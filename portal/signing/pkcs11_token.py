"""This process's PKCS#11 sessions: one logged-in session per token, and the keys in it.

What: :class:`Pkcs11TokenKey` is a private key in a token, reached through the session
this process shares for that token; :func:`close_pkcs11_sessions` and
:func:`pkcs11_session_count` manage and count those sessions. The signer and the identity
built on top are in :mod:`portal.signing.pkcs11_signer`; import the public names from
:mod:`portal.signing.pkcs11`, which re-exports them.

Why it is built this way:

- One logged-in session per token per process, shared by every key on that token.
  PKCS#11 login state belongs to the process: a second ``C_Login`` fails with
  ``CKR_USER_ALREADY_LOGGED_IN`` (FIELD-NOTES), and a login per signature would cost
  a round trip to a network HSM. The session and the key handle are looked up once
  and reused for every signature.
- Sessions do not survive ``fork()``. The process id is recorded with the session;
  a forked child (gunicorn with preload, a forking worker) re-initialises the module
  and opens its own session on first use instead of using the parent's handles.
- A lock per token serialises signatures: a session must not be used by two threads
  at once, and a raw signature is far shorter (about 0.1 ms in SoftHSM) than the rest
  of a PDF signature, so the lock is not a bottleneck.
- A PIN the token refused is not offered again by this process (each job would
  otherwise retry it, and a real HSM locks the user PIN after a few failures).
  The PIN is read when the session opens and never logged or put in an error.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
import threading
from dataclasses import dataclass, field
from typing import Any

import pkcs11
from asn1crypto import x509
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11e
from pyhanko.sign.general import SigningError as PyHankoSigningError

from .identity import KeyLoadError
from .keysettings import Pkcs11KeySpec

__all__ = [
    "Pkcs11TokenKey",
    "close_pkcs11_sessions",
    "pkcs11_session_count",
]

# The name these log lines have always had (operators and tests may filter on it), not this module's.
logger = logging.getLogger("portal.signing.pkcs11")

_RETRYABLE = (
    p11e.SessionHandleInvalid,
    p11e.SessionClosed,
    p11e.ObjectHandleInvalid,
    p11e.DeviceRemoved,
    p11e.TokenNotPresent,
    p11e.KeyHandleInvalid,
    p11e.UserNotLoggedIn,
    p11e.DeviceError,
)
"""Errors after which a fresh session may succeed (HSM restarted, network blip)."""

_PIN_SALT = secrets.token_bytes(16)
"""Per-process key for remembering refused PINs without keeping them."""


def _pin_fingerprint(pin: str) -> bytes:
    return hmac.new(_PIN_SALT, pin.encode("utf-8"), hashlib.sha256).digest()


@dataclass
class _Token:
    """This process's session with one token (shared by every key stored on it)."""

    module: str
    label: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    pid: int | None = None
    session: Any = None
    keys: dict[tuple[str | None, bytes | None], Any] = field(default_factory=dict)
    sessions_opened: int = 0
    key_lookups: int = 0
    refused_pin: bytes | None = None

    def drop_session(self, *, close: bool) -> None:
        """Forget the session (closing it only when it belongs to this process)."""
        if close and self.session is not None and self.pid == os.getpid():
            try:
                self.session.close()
            except p11e.PKCS11Error:
                logger.debug("closing the session with token %s failed", self.label, exc_info=True)
        self.session = None
        self.keys.clear()


_tokens: dict[tuple[str, str], _Token] = {}
_tokens_lock = threading.Lock()
_library_pids: dict[str, int] = {}


def _token(module: str, label: str) -> _Token:
    with _tokens_lock:
        token = _tokens.get((module, label))
        if token is None:
            token = _tokens[(module, label)] = _Token(module=module, label=label)
        return token


def pkcs11_session_count(module: str, token_label: str) -> int:
    """Sessions this process has opened with a token so far (for tests and metrics)."""
    token = _tokens.get((module, token_label))
    return token.sessions_opened if token else 0


def close_pkcs11_sessions() -> None:
    """Log out of and close every session this process holds (at shutdown, or in tests).

    Identities keep working: the next signature opens a new session.
    """
    with _tokens_lock:
        tokens = list(_tokens.values())
    for token in tokens:
        with token.lock:
            token.drop_session(close=True)
            token.refused_pin = None


def _library(spec: Pkcs11KeySpec) -> Any:
    """The loaded module, initialised in this process (again after a fork)."""
    pid = os.getpid()
    try:
        lib = pkcs11.lib(spec.module)
        if _library_pids.setdefault(spec.module, pid) != pid:
            # Loaded by the parent before fork: PKCS#11 requires a new C_Initialize in the child.
            lib.reinitialize()
            _library_pids[spec.module] = pid
        return lib
    except p11e.PKCS11Error as exc:
        raise KeyLoadError(
            f"agency {spec.agency}: the PKCS#11 module {spec.module} cannot be loaded "
            f"({spec.setting('module')}): {exc}"
        ) from None


def _read_pin(spec: Pkcs11KeySpec) -> str:
    """The user PIN from the environment variable or file the configuration names."""
    if spec.pin_env:
        pin = os.environ.get(spec.pin_env)
        if not pin:
            raise KeyLoadError(
                f"agency {spec.agency}: the environment variable {spec.pin_env} named by "
                f"{spec.setting('pin_env')} is not set or empty"
            )
        return pin
    assert spec.pin_file is not None  # the spec's constructor guarantees one of the two
    try:
        mode = spec.pin_file.stat().st_mode
        pin = spec.pin_file.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise KeyLoadError(
            f"agency {spec.agency}: the PIN file {spec.pin_file} named by {spec.setting('pin_file')} "
            f"cannot be read: {reason}"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("PIN file %s can be read by other users; make it mode 0600", spec.pin_file)
    if not pin:
        raise KeyLoadError(f"agency {spec.agency}: the PIN file {spec.pin_file} is empty")
    return pin


def _ensure_session(token: _Token, spec: Pkcs11KeySpec) -> Any:
    """The token's logged-in session in this process; the caller holds ``token.lock``."""
    pid = os.getpid()
    if token.session is not None and token.pid == pid:
        return token.session
    if token.pid != pid:
        token.drop_session(close=False)  # the parent's handles mean nothing here
        token.refused_pin = None
        token.pid = pid
    lib = _library(spec)
    try:
        slot_token = lib.get_token(token_label=spec.token_label)
    except p11e.NoSuchToken:
        raise KeyLoadError(
            f"agency {spec.agency}: no PKCS#11 token labelled {spec.token_label!r} "
            f"in module {spec.module} ({spec.setting('token')})"
        ) from None
    except p11e.MultipleTokensReturned:
        raise KeyLoadError(
            f"agency {spec.agency}: several PKCS#11 tokens are labelled {spec.token_label!r} "
            f"({spec.setting('token')}); give each token its own label"
        ) from None
    except p11e.PKCS11Error as exc:
        raise KeyLoadError(
            f"agency {spec.agency}: cannot list the tokens of {spec.module}: {exc!r}"
        ) from None

    pin = _read_pin(spec)
    pin_source = spec.setting("pin_env" if spec.pin_env else "pin_file")
    fingerprint = _pin_fingerprint(pin)
    if token.refused_pin == fingerprint:
        raise KeyLoadError(
            f"agency {spec.agency}: token {spec.token_label!r} refused this PIN before "
            f"({pin_source}); not trying it again until it changes"
        )
    try:
        session = slot_token.open(user_pin=pin)
    except p11e.UserAlreadyLoggedIn:
        # Another session of this process is logged in already; new sessions share that login.
        session = slot_token.open()
    except (p11e.PinIncorrect, p11e.PinLenRange, p11e.PinInvalid) as exc:
        token.refused_pin = fingerprint
        raise KeyLoadError(
            f"agency {spec.agency}: token {spec.token_label!r} refused the PIN ({pin_source}): "
            f"{type(exc).__name__}"
        ) from None
    except p11e.PinLocked:
        raise KeyLoadError(
            f"agency {spec.agency}: the user PIN of token {spec.token_label!r} is locked; "
            "the token's security officer must unlock it"
        ) from None
    except p11e.PKCS11Error as exc:
        raise KeyLoadError(
            f"agency {spec.agency}: cannot open a session with token {spec.token_label!r}: "
            f"{type(exc).__name__}"
        ) from None
    token.session, token.pid = session, pid
    token.keys.clear()
    token.sessions_opened += 1
    logger.info("opened a PKCS#11 session with token %s (process %d)", spec.token_label, pid)
    return session


class Pkcs11TokenKey:
    """A private key in a token, reached through this process's shared session.

    The key handle is looked up once per session; :meth:`sign` reopens the session
    once if the token went away in between (HSM restart).
    """

    def __init__(self, spec: Pkcs11KeySpec) -> None:
        self.spec = spec
        self._token = _token(spec.module, spec.token_label)

    @property
    def session_count(self) -> int:
        """Sessions opened with this key's token in this process."""
        return self._token.sessions_opened

    @property
    def key_lookups(self) -> int:
        """Private-key searches made in this key's token in this process (one per session and key)."""
        return self._token.key_lookups

    def _handle(self) -> Any:
        spec, token = self.spec, self._token
        session = _ensure_session(token, spec)
        cache_key = (spec.key_label, spec.key_id)
        handle = token.keys.get(cache_key)
        if handle is None:
            try:
                handle = session.get_key(
                    object_class=ObjectClass.PRIVATE_KEY, label=spec.key_label, id=spec.key_id
                )
            except p11e.NoSuchKey:
                raise KeyLoadError(
                    f"agency {spec.agency}: token {spec.token_label!r} holds no private key "
                    f"{spec.describe_key()} ({spec.setting('key_label' if spec.key_label else 'key_id')})"
                ) from None
            except p11e.MultipleObjectsReturned:
                raise KeyLoadError(
                    f"agency {spec.agency}: token {spec.token_label!r} holds several private keys "
                    f"{spec.describe_key()}; set both key_label and key_id"
                ) from None
            token.keys[cache_key] = handle
            token.key_lookups += 1
        return handle

    def ensure_ready(self) -> None:
        """Open the session and find the key now (to fail at start-up, not at the first document)."""
        with self._token.lock:
            self._handle()

    def certificate_from_token(self) -> x509.Certificate:
        """The certificate object stored beside the key (by ``cert_label`` or the key's label/id)."""
        spec = self.spec
        query: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.CERTIFICATE}
        label = spec.cert_label or spec.key_label
        if label is not None:
            query[Attribute.LABEL] = label
        if spec.key_id is not None and spec.cert_label is None:
            query[Attribute.ID] = spec.key_id
        with self._token.lock:
            session = _ensure_session(self._token, spec)
            try:
                values = [obj[Attribute.VALUE] for obj in session.get_objects(query)]
            except p11e.PKCS11Error as exc:
                raise KeyLoadError(
                    f"agency {spec.agency}: cannot read certificates from token {spec.token_label!r}: "
                    f"{type(exc).__name__}"
                ) from None
        if len(values) != 1:
            how = "no" if not values else "more than one"
            raise KeyLoadError(
                f"agency {spec.agency}: token {spec.token_label!r} holds {how} certificate labelled "
                f"{label!r}; set {spec.setting('cert')} or {spec.setting('cert_label')}"
            )
        try:
            certificate = x509.Certificate.load(bytes(values[0]))
            certificate.native  # noqa: B018 - a full parse, so that bad DER fails here
        except (ValueError, TypeError):
            raise KeyLoadError(
                f"agency {spec.agency}: the certificate {label!r} in token {spec.token_label!r} "
                "is not valid DER"
            ) from None
        return certificate

    def sign(self, data: bytes, **sign_kwargs: Any) -> bytes:
        """Raw signature of ``data`` by the token (mechanism in ``sign_kwargs``)."""
        with self._token.lock:
            for attempt in (1, 2):
                handle = self._handle()
                try:
                    return handle.sign(data, **sign_kwargs)
                except _RETRYABLE as exc:
                    self._token.drop_session(close=False)
                    if attempt == 2:
                        raise KeyLoadError(
                            f"agency {self.spec.agency}: token {self.spec.token_label!r} is unavailable: "
                            f"{type(exc).__name__}"
                        ) from None
                    logger.warning(
                        "PKCS#11 token %s: %s; opening a new session",
                        self.spec.token_label,
                        type(exc).__name__,
                    )
                except p11e.PKCS11Error as exc:
                    raise PyHankoSigningError(
                        f"token {self.spec.token_label!r} could not sign: {type(exc).__name__}"
                    ) from exc
        raise AssertionError("unreachable")  # pragma: no cover
