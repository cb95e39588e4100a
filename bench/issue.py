"""Benchmark (not a test): issue N driving-licence certificates in-process and compare the
pipeline with a bare loop of WeasyPrint render + pyHanko sign of the same document.

    make bench                     # or: PORTAL_ENV=testing .venv/bin/python bench/issue.py -n 40

The pipeline runs exactly as in production: request row, document number, fetch from the
sample DLT registry over HTTP on loopback, render, sign, store (blob + certificate row).
Both loops run in the same process, one after the other, after warm-up; the machine is noisy,
so read the ratio rather than the absolute numbers.

With ``--levels`` (default ``B-B,B-T,B-LTA``) the pipeline runs once per PAdES level, signing with
the certomancer test PKI (tests/pki) whose TSA, OCSP responder and CRLs are served on loopback;
revocation information is fetched once per run, as in a worker process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="certificates per loop (default 40)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--levels", default="B-B,B-T,B-LTA", help="PAdES levels to time (comma separated)")
    args = parser.parse_args()
    levels = [level.strip() for level in args.levels.split(",") if level.strip()]

    from werkzeug.serving import make_server

    from issuers.dlt.sample_registry import create_registry_app
    from portal import create_app
    from tests.pki.plugin import serve_pki

    tmp = Path(tempfile.mkdtemp(prefix="tra-bench-"))
    registry = make_server("127.0.0.1", 0, create_registry_app(), threaded=True)
    threading.Thread(target=registry.serve_forever, daemon=True).start()
    test_pki = serve_pki(tmp / "test-pki")  # TSA, OCSP and CRLs on loopback
    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": args.database_url or f"sqlite:///{tmp / 'bench.db'}",
            "BLOB_DIR": str(tmp / "blobs"),
            "DEV_PKI_DIR": str(tmp / "pki"),
            "DLT_REGISTRY_URL": f"http://127.0.0.1:{registry.server_port}",
            "SAMPLE_REGISTRIES_MOUNTED": False,
            "TRUST_ROOTS": str(test_pki.pki.root_path),
            "TSA_URL": test_pki.pki.tsa_url,
        },
    )
    import logging

    logging.getLogger("portal").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from flask_migrate import upgrade

    from portal.signing import KeyRing

    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        pipeline = run_pipeline(args.n, args.warmup)
        floor = run_floor(args.n, args.warmup)
        # The levels sign with the test PKI's DLT signer: its certificate names an OCSP responder.
        app.extensions["tra.keyring"] = KeyRing(lambda agency: test_pki.pki.identity("dlt", agency))
        by_level = {}
        for level in levels:
            dlt = app.extensions["tra.issuers"].get("dlt")
            dlt.settings = dlt.settings.replace(signature_level=level)
            by_level[level] = run_pipeline(args.n, args.warmup)

    print(f"\nTra issuance benchmark: {args.n} certificates per loop, {args.warmup} warm-up")
    print(f"{'stage':<28}{'median ms':>10}")
    for stage in ("fetch", "render", "sign", "store"):
        print(f"  pipeline {stage:<19}{median_ms(pipeline[stage]):>10.1f}")
    print(f"  pipeline total (wall)     {median_ms(pipeline['total']):>10.1f}")
    print(f"  bare render               {median_ms(floor['render']):>10.1f}")
    print(f"  bare sign                 {median_ms(floor['sign']):>10.1f}")
    print(f"  bare render + sign        {median_ms(floor['total']):>10.1f}")
    ratio = statistics.median(pipeline["total"]) / statistics.median(floor["total"])
    print(f"\npipeline / bare floor: {ratio:.2f}x  (target ≤ 1.20x; absolute target < 150 ms)")

    if by_level:
        print("\nPer signature level (test PKI; TSA, OCSP and CRLs on loopback), median ms")
        columns = ("fetch", "render", "sign", "store", "total")
        print(f"{'level':<8}" + "".join(f"{c:>9}" for c in columns))
        for level, times in by_level.items():
            row = "".join(f"{median_ms(times[c]):>9.1f}" for c in columns)
            print(f"{level:<8}{row}")
        requests = test_pki.counter.snapshot()
        print(f"requests to the test PKI: {dict(sorted(requests.items()))}")
        if "B-B" in by_level and "B-LTA" in by_level:
            lta = statistics.median(by_level["B-LTA"]["total"]) / statistics.median(by_level["B-B"]["total"])
            print(f"B-LTA / B-B issuance: {lta:.2f}x  (target ≤ 2x)")
    test_pki.stop()
    registry.shutdown()


def run_pipeline(n: int, warmup: int) -> dict[str, list[float]]:
    from portal.services import issuance_requests as issuance

    pids = ["1101700123456", "3100500678905", "1101400555555"]
    result: dict[str, list[float]] = {k: [] for k in ("fetch", "render", "sign", "store", "total")}
    for i in range(warmup + n):
        start = time.perf_counter()
        request, times = issuance.issue_for_subject(
            issuer_id="dlt", type_id="driving-licence", pid=pids[i % len(pids)]
        )
        total = time.perf_counter() - start
        if request.status != "ready":
            raise SystemExit(f"issuance failed: {request.failure_code} {request.failure_reason}")
        if i >= warmup:
            for stage in ("fetch", "render", "sign", "store"):
                result[stage].append(getattr(times, stage))
            result["total"].append(total)
    return result


def run_floor(n: int, warmup: int) -> dict[str, list[float]]:
    """The same HTML rendered by WeasyPrint and signed by pyHanko's stock SimpleSigner,
    each with its caches kept (one FontConfiguration, parsed CSS, key loaded once)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from portal import clock
    from portal.issuing import DocumentInfo, Subject
    from portal.rendering import CERTIFICATE_CSS_PATH
    from portal.services import certificate_content as issuance
    from portal.services import runtime

    issuer = runtime.issuers().get("dlt")
    doc_type = issuer.document_type("driving-licence")
    record = issuer.fetch_record(doc_type, Subject(pid="1101700123456"))
    now = clock.now()
    info = DocumentInfo(
        number="ขบ 000001/2569",
        verification_code="K7QF-2M9X-PA4D-TR6B-W3ZZ",
        verify_url="http://127.0.0.1:5000/v/K7QF2M9XPA4DTR6BW3ZZ",
        issued_at=now,
        expires_at=now.date(),
        sample=True,
    )
    html = issuance.certificate_html(issuer, doc_type, record, info)
    font_config = FontConfiguration()
    css = CSS(filename=str(CERTIFICATE_CSS_PATH), font_config=font_config)
    pki = runtime.dev_pki()
    key_path, cert_path = pki.agency_paths["dlt"]
    signer = signers.SimpleSigner.load(
        str(key_path), str(cert_path), ca_chain_files=(str(pki.root_cert_path),)
    )
    meta = signers.PdfSignatureMetadata(field_name="Signature", subfilter=fields.SigSeedSubFilter.PADES)

    result: dict[str, list[float]] = {"render": [], "sign": [], "total": []}
    for i in range(warmup + n):
        t0 = time.perf_counter()
        pdf = HTML(string=html, base_url=str(ROOT)).write_pdf(stylesheets=[css], font_config=font_config)
        t1 = time.perf_counter()
        signers.PdfSigner(meta, signer).sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), bytes_reserved=16384)
        t2 = time.perf_counter()
        if i >= warmup:
            result["render"].append(t1 - t0)
            result["sign"].append(t2 - t1)
            result["total"].append(t2 - t0)
    return result


if __name__ == "__main__":
    main()
