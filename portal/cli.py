"""Operator commands: ``flask --app wsgi portal …``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from portal.rendering.dates import pid_is_valid

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
    from portal.services import issuance, runtime

    if not re.fullmatch(r"\d{13}", pid) or not pid_is_valid(pid):
        raise click.BadParameter(
            "must be a 13-digit national ID with a valid check digit", param_hint="--pid"
        )
    try:
        with _sample_registries_if_embedded():
            request, _times = issuance.issue_for_subject(issuer_id=issuer_id, type_id=type_id, pid=pid)
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
    from portal.jobs import requeue_stalled

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: there is no queue")
    requeued = requeue_stalled(older_than_seconds=older_than)
    click.echo(f"Re-queued {len(requeued)} request(s)")
    for request_id in requeued:
        click.echo(f"  {request_id}")


def init_cli(app: Flask) -> None:
    app.cli.add_command(portal_cli)
