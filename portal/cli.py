"""Operator commands: ``flask --app wsgi portal …``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from portal.issuing.thai import pid_is_valid

portal_cli = AppGroup("portal", help="Tra operator commands.")


@portal_cli.command("issue")
@click.argument("issuer_id")
@click.argument("type_id")
@click.option("--pid", required=True, help="13-digit national ID of the person the document is about.")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the signed PDF here.",
)
def issue_command(issuer_id: str, type_id: str, pid: str, out_path: Path | None) -> None:
    """Issue ISSUER_ID's TYPE_ID document for one person, without the web (e.g. dlt driving-licence)."""
    from portal.errors import PortalError
    from portal.models import RequestStatus
    from portal.services import runtime
    from portal.services.issuance_requests import issue_for_subject

    if not re.fullmatch(r"\d{13}", pid) or not pid_is_valid(pid):
        raise click.BadParameter(
            "must be a 13-digit national ID with a valid check digit", param_hint="--pid"
        )
    try:
        with _sample_registries_if_embedded():
            request, _times = issue_for_subject(issuer_id=issuer_id, type_id=type_id, pid=pid)
    except PortalError as exc:
        raise click.ClickException(str(exc.message or exc.title)) from None
    if request.status != RequestStatus.READY:
        click.echo(f"Not issued ({request.failure_code}): {request.failure_reason}", err=True)
        sys.exit(1)
    certificate = request.certificate
    click.echo(
        f"Issued {certificate.number}  code {certificate.verification_code}  sha256 {certificate.sha256}"
    )
    click.echo(
        f"Verify at {current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/v/{certificate.verification_code}"
    )
    if out_path:
        out_path.write_bytes(runtime.blob_store().get(certificate.sha256))
        click.echo(f"Wrote {out_path}")


@portal_cli.command("init")
def init_command() -> None:
    """Create the development PKI (if missing) and show where it is."""
    from portal.services import runtime

    pki = runtime.dev_pki()
    click.echo(f"Development PKI ready; root certificate {pki.root_cert_path}")


class _sample_registries_if_embedded:
    """In development the sample registries live inside the web server's process; when the CLI
    runs on its own, serve them on a loopback port for the duration of the command."""

    def __enter__(self):
        self._server = None
        app = current_app._get_current_object()
        if not app.config.get("SAMPLE_REGISTRIES_MOUNTED") or app.config.get("DLT_REGISTRY_URL"):
            return self
        import threading

        from werkzeug.serving import make_server

        from issuers.dlt.sample_registry import create_registry_app

        self._server = make_server("127.0.0.1", 0, create_registry_app(), threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        issuer = app.extensions["tra.issuers"].get("dlt")
        self._saved = issuer.settings
        issuer.settings = {**issuer.settings, "registry_url": f"http://127.0.0.1:{self._server.server_port}"}
        return self

    def __exit__(self, *exc):
        if self._server is not None:
            current_app.extensions["tra.issuers"].get("dlt").settings = self._saved
            self._server.shutdown()
        return False


@portal_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--with-scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Also run the scheduler that starts delayed retries.",
)
def worker_command(burst: bool, with_scheduler: bool) -> None:
    """Run an RQ worker for issuance (needs REDIS_URL)."""
    from portal.jobs.worker import run_worker

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: without Redis, documents are issued in-process")
    run_worker(current_app._get_current_object(), burst=burst, with_scheduler=with_scheduler)


@portal_cli.command("requeue")
@click.option(
    "--older-than",
    type=float,
    default=None,
    help="Seconds a request must have been untouched (default: REQUEUE_AFTER_SECONDS).",
)
def requeue_command(older_than: float | None) -> None:
    """Queue again unfinished requests that have no job (workers also do this by themselves)."""
    from portal.services.issuance_jobs import requeue_stalled

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: there is no queue")
    requeued = requeue_stalled(older_than_seconds=older_than)
    click.echo(f"Re-queued {len(requeued)} request(s)")
    for request_id in requeued:
        click.echo(f"  {request_id}")


# --- signing keys (rotation; docs/keys.md) ----------------------------------------------------------

keys_cli = AppGroup("keys", help="Agencies' signing keys: list, add, switch, retire, revoke.")
portal_cli.add_command(keys_cli)


class _KeyDateTime(click.ParamType):
    """ISO 8601 date or date-time; without a zone it is Bangkok time."""

    name = "DATETIME"

    def convert(self, value, param, ctx):
        from datetime import datetime

        from portal.clock import BANGKOK

        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or date-time (e.g. 2026-11-27T09:30)", param, ctx)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=BANGKOK)


#: How ``keys add`` spells each token setting, so that its errors name the option at fault.
_KEYS_ADD_OPTIONS = {
    "module": "--pkcs11-module",
    "token": "--pkcs11-token",
    "key_label": "--pkcs11-key-label",
    "key_id": "--pkcs11-key-id",
    "pin_env": "--pin-env",
    "pin_file": "--pin-file",
    "cert": "--cert",
}


def _keys_call(function, *args, **kwargs):
    """Run a key service; its errors become a one-line message and exit code 1 (no traceback)."""
    from portal.errors import PortalError

    try:
        return function(*args, **kwargs)
    except PortalError as exc:
        raise click.ClickException(str(exc.message or exc.title)) from None


def _day(value) -> str:
    return value.strftime("%Y-%m-%d") if value else "-"


@keys_cli.command("list")
@click.option("--agency", help="Only this agency (e.g. dlt).")
def keys_list_command(agency: str | None) -> None:
    """Signing keys per agency, with validity and status."""
    from portal.services import keys

    rows = _keys_call(keys.list_keys, agency)
    if not rows:
        click.echo("No signing keys.")
        return
    header = ("AGENCY", "KEY ID", "COMMON NAME", "VALID FROM", "VALID TO", "STORE", "STATUS", "SINCE")
    lines = [header]
    for row in rows:
        if not row.in_table:
            status, since = "current", "(not in the table: configured by environment)"
        else:
            status = row.status
            since = _day(
                {"retired": row.retired_at, "revoked": row.revoked_at, "current": row.activated_at}.get(
                    row.status
                )
            )
        lines.append(
            (
                row.agency,
                row.key_id[:16],
                row.common_name,
                _day(row.not_before),
                _day(row.not_after),
                row.store,
                status,
                since,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        click.echo("  ".join([*cells, line[-1]]))


@keys_cli.command("add")
@click.option("--agency", required=True, help="Agency id, e.g. dlt.")
@click.option(
    "--cert",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The signing certificate (PEM or DER).",
)
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Key file (PEM).")
@click.option("--pkcs11-module", help="PKCS#11 module (default /usr/lib/softhsm/libsofthsm2.so).")
@click.option("--pkcs11-token", help="Label of the token holding the key.")
@click.option("--pkcs11-key-label", help="Label of the private key in the token.")
@click.option("--pkcs11-key-id", help="CKA_ID of the private key, hex.")
@click.option("--pin-env", help="Name of the environment variable holding the token PIN (never the PIN).")
@click.option("--pin-file", type=click.Path(dir_okay=False, path_type=Path), help="File holding the PIN.")
@click.option(
    "--chain",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Intermediate/root certificate file to embed (repeatable).",
)
@click.option("--make-current", is_flag=True, help="Sign the agency's new documents with it from now on.")
def keys_add_command(
    agency: str,
    cert: Path,
    key: Path | None,
    pkcs11_module: str | None,
    pkcs11_token: str | None,
    pkcs11_key_label: str | None,
    pkcs11_key_id: str | None,
    pin_env: str | None,
    pin_file: Path | None,
    chain: tuple[Path, ...],
    make_current: bool,
) -> None:
    """Record a signing key after checking it: key and certificate match, valid, chains to our roots."""
    from portal.services import keys
    from portal.signing import FileKeySpec, KeySpec, Pkcs11KeySpec, SigningError

    spec: KeySpec
    if pkcs11_token or pkcs11_key_label or pkcs11_key_id or pkcs11_module:
        if key is not None:
            raise click.UsageError("give either --key or the --pkcs11-* options, not both")
        if not pkcs11_token or not (pkcs11_key_label or pkcs11_key_id):
            raise click.UsageError("a PKCS#11 key needs --pkcs11-token and --pkcs11-key-label (or -key-id)")
        if (pin_env is None) == (pin_file is None):
            raise click.UsageError("a PKCS#11 key needs exactly one of --pin-env and --pin-file")
        try:
            spec = Pkcs11KeySpec(
                agency=agency,
                module=pkcs11_module or "/usr/lib/softhsm/libsofthsm2.so",
                token_label=pkcs11_token,
                key_label=pkcs11_key_label,
                key_id=bytes.fromhex(pkcs11_key_id.replace(":", "")) if pkcs11_key_id else None,
                pin_env=pin_env,
                pin_file=pin_file,
                cert=cert,
                chain=tuple(chain),
                setting_names=_KEYS_ADD_OPTIONS,
            )
        except (SigningError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    elif key is None:
        raise click.UsageError("give --key PATH or --pkcs11-token T --pkcs11-key-label L")
    else:
        spec = FileKeySpec(agency=agency, key=key, cert=cert, chain=tuple(chain))
    row = _keys_call(keys.add_key, spec=spec, make_current_now=make_current)
    click.echo(f"Added key {row.key_id[:16]} ({row.subject_cn}) for {row.agency}: {row.status}")


@keys_cli.command("current")
@click.argument("key_id")
def keys_current_command(key_id: str) -> None:
    """Sign the agency's new documents with KEY_ID from now on (the previous current key is retired)."""
    from portal.services import keys

    row = _keys_call(keys.make_current, key_id)
    refresh = current_app.config.get("SIGNING_KEY_REFRESH_SECONDS", 10)
    click.echo(
        f"Key {row.key_id[:16]} is now the current key of {row.agency} "
        f"(running processes switch within {refresh} s)"
    )


@keys_cli.command("retire")
@click.argument("key_id")
def keys_retire_command(key_id: str) -> None:
    """Normal end of use of a key that is not current: documents it signed stay valid."""
    from portal.services import keys

    row = _keys_call(keys.retire_key, key_id)
    click.echo(f"Key {row.key_id[:16]} of {row.agency} is retired")


@keys_cli.command("revoke")
@click.argument("key_id")
@click.option("--reason", required=True, help="Why (shown on the verification page).")
@click.option(
    "--at",
    "at",
    type=_KeyDateTime(),
    help="When the problem began (ISO 8601; Bangkok time unless a zone is given). Default: now.",
)
def keys_revoke_command(key_id: str, reason: str, at) -> None:
    """A problem with a key: documents it signed from --at on are shown as not valid."""
    from portal.services import keys

    row = _keys_call(keys.revoke_key, key_id, reason=reason, at=at)
    click.echo(f"Key {row.key_id[:16]} of {row.agency} is revoked as of {row.revoked_at.isoformat()}")


@portal_cli.command("issuers")
def issuers_command() -> None:
    """List the issuers, their document types (with audience) and settings; secrets show as ••••."""
    from portal.services import runtime

    registry = runtime.issuers()
    for issuer in registry:
        click.echo(f"{issuer.id}  {issuer.name_en} / {issuer.name_th}")
        for doc_type in issuer.document_types:
            approval = ", officer approval" if doc_type.needs_approval else ""
            click.echo(
                f"  document {doc_type.id}  audience {doc_type.audience}, "
                f"valid {doc_type.validity_days} days{approval}  ({doc_type.title_en})"
            )
        settings = issuer.settings
        shown = getattr(settings, "shown", None)
        for name in settings:
            value = shown(name) if shown else "••••"  # not checked settings: show nothing
            source = settings.source(name) if hasattr(settings, "source") else "?"
            click.echo(f"  setting {name} = {value}  [{source}]")
    for issuer_id in sorted(registry.disabled):
        click.echo(f"{issuer_id}  (disabled by configuration)")


def init_cli(app: Flask) -> None:
    app.cli.add_command(portal_cli)
