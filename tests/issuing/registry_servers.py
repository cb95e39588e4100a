"""Helpers for the registry client's tests: a scriptable registry on loopback (HTTP or HTTPS)
and a small test PKI for mutual TLS, made with ``cryptography`` when the tests run."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.loopback import LoopbackServer


@dataclass(frozen=True)
class Answer:
    """One scripted answer: HTTP status, body (JSON-encoded unless bytes), delay before answering."""

    status: int = 200
    body: object = None
    delay: float = 0.0


class ScriptedRegistry:
    """A registry that answers from a script (then a default), and keeps what it was asked."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.default = Answer(200, {"ok": True})
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        #: (raw path, Authorization header) of every request that reached the application.
        self.seen: list[tuple[str, str | None]] = []
        self._server = LoopbackServer(self._app, ssl_context=ssl_context)
        self.url = self._server.url

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.seen)

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def _app(self, environ, start_response):
        with self._lock:
            self.seen.append((environ["RAW_URI"], environ.get("HTTP_AUTHORIZATION")))
            answer = self._script.popleft() if self._script else self.default
        if answer.delay:
            time.sleep(answer.delay)
        body = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        start_response(f"{answer.status} X", [("Content-Type", "application/json")])
        return [body]

    def stop(self) -> None:
        self._server.close()


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a small PKI: one CA that issues the server's and the client's certificates,
    and a stranger CA with its own server and client certificates."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_ca: Path
    stranger_client_cert: Path
    stranger_client_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(subject_key, common_name, issuer_key=None, issuer_name=None, *, ca=False, usage=None):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer_name or _name(common_name))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage is ExtendedKeyUsageOID.SERVER_AUTH:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key or subject_key, hashes.SHA256())


def _write(path: Path, item) -> Path:
    if isinstance(item, x509.Certificate):
        path.write_bytes(item.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(
            item.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return path


def make_tls_files(folder: Path) -> TlsFiles:
    """Generate the PKI into ``folder`` (EC P-256 keys: quick to make)."""
    out: dict[str, Path] = {}
    for prefix in ("", "stranger_"):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _issue(ca_key, f"Tra test {prefix}registry CA", ca=True)
        out[f"{prefix}ca"] = _write(folder / f"{prefix}ca.pem", ca)
        for role, usage in (
            ("server", ExtendedKeyUsageOID.SERVER_AUTH),
            ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
        ):
            key = ec.generate_private_key(ec.SECP256R1())
            cert = _issue(key, f"Tra test {prefix}{role}", ca_key, ca.subject, usage=usage)
            out[f"{prefix}{role}_cert"] = _write(folder / f"{prefix}{role}.pem", cert)
            out[f"{prefix}{role}_key"] = _write(folder / f"{prefix}{role}.key", key)
    return TlsFiles(
        ca=out["ca"],
        server_cert=out["server_cert"],
        server_key=out["server_key"],
        client_cert=out["client_cert"],
        client_key=out["client_key"],
        stranger_ca=out["stranger_ca"],
        stranger_client_cert=out["stranger_client_cert"],
        stranger_client_key=out["stranger_client_key"],
    )


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """TLS for the registry: its own certificate, and a client certificate from ``files.ca`` required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.server_cert, files.server_key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(files.ca)
    return context
