"""Benchmark (not a test): the cost of one certificate, against issue 10's targets, in one run.

    make bench                     # or: PORTAL_ENV=testing .venv/bin/python bench/issue.py -n 30
    .venv/bin/python bench/issue.py --memory      # also: worker RSS over 1,000 documents (~4 min)

Four loops run interleaved (one document of each per round, after warm-up), in one process, so that
the machine's noise falls on all of them alike; read the ratios rather than the absolute numbers:

* **pipeline B-B** and **pipeline B-LTA**: exactly as in production: request row, document number,
  fetch from the sample DLT registry over HTTP on loopback, render (PDF/A-3b with ``data.json``),
  sign with the visible stamp, store (blob + certificate row). Both sign with the certomancer test
  PKI's DLT key (tests/pki), whose TSA, OCSP responder and CRLs are served on loopback; revocation
  information is fetched once per run, as in a worker process.
* **floor**: the same HTML rendered by WeasyPrint and signed by pyHanko's stock ``SimpleSigner``, each
  with its caches kept (one FontConfiguration, parsed CSS, key loaded once, ``bytes_reserved`` given),
  plain PDF and invisible signature: the least that rendering and signing this page can cost.
* **naive**: what the stock calls cost without any care: ``HTML(...).write_pdf()`` with a fresh
  FontConfiguration and stylesheet each time, and ``signers.sign_pdf`` with the key loaded per
  document (no ``bytes_reserved``), same HTML, same key; plain PDF, invisible signature.

With ``--memory`` the process then issues 1,000 more B-B documents and compares its resident set
size after 100 and after 1,000 of them (the worker runs jobs in-process, so this is a worker's RSS).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_PIPELINE_MS = 150.0
TARGET_LTA_RATIO = 1.3
TARGET_FLOOR_RATIO = 1.1
TARGET_NAIVE_RATIO = 3.0
TARGET_LTA_BYTES = 60 * 1024
TARGET_RSS_GROWTH = 0.10

PIDS = ("1101700123456", "3100500678905", "1101400555555")


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def rss_kib() -> int:
    """This process's resident set size (VmRSS) in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="documents per loop (default 30)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--memory", action="store_true", help="also issue 1,000 documents and compare RSS")
    parser.add_argument(
        "--save", type=Path, help="write the last B-B and B-LTA certificates to this directory"
    )
    args = parser.parse_args()

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

    pki = test_pki.pki
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        # Everything signs with the test PKI's DLT signer (its certificate names an OCSP responder).
        app.extensions["tra.keyring"] = KeyRing(lambda agency: pki.identity("dlt", agency))
        html = document_html()
        loops: dict[str, Callable[[int], dict[str, float]]] = {
            "B-B": lambda i: issue_one(app, "B-B", i),
            "B-LTA": lambda i: issue_one(app, "B-LTA", i),
            "floor": floor_loop(html, pki),
            "naive": naive_loop(html, pki),
        }
        times: dict[str, list[dict[str, float]]] = {name: [] for name in loops}
        names = list(loops)
        for i in range(args.warmup + args.n):
            order = names[i % len(names) :] + names[: i % len(names)]  # rotate who goes first
            for name in order:
                sample = loops[name](i)
                if i >= args.warmup:
                    times[name].append(sample)
        sizes = {level: last_certificate_size(app, level, args.save) for level in ("B-B", "B-LTA")}
        memory = measure_memory(app) if args.memory else None

    report(args, times, sizes, memory, test_pki.counter.snapshot())
    test_pki.stop()
    registry.shutdown()


def use_level(app, level: str) -> None:
    """Sign the DLT's next documents at ``level`` (the level is one of the issuer's settings)."""
    dlt = app.extensions["tra.issuers"].get("dlt")
    dlt.settings = dlt.settings.replace(signature_level=level)


def issue_one(app, level: str, i: int) -> dict[str, float]:
    """One certificate through the whole pipeline at ``level``; its stage times in seconds."""
    from portal.services import issuance_requests

    use_level(app, level)
    start = time.perf_counter()
    request, stages = issuance_requests.issue_for_subject(
        issuer_id="dlt", type_id="driving-licence", pid=PIDS[i % len(PIDS)]
    )
    total = time.perf_counter() - start
    if request.status != "ready":
        raise SystemExit(f"issuance failed: {request.failure_code} {request.failure_reason}")
    return {
        "fetch": stages.fetch,
        "render": stages.render,
        "sign": stages.sign,
        "store": stages.store,
        "total": total,
    }


_last_request: dict[str, str] = {}


def last_certificate_size(app, level: str, save: Path | None) -> int:
    """Issue one more certificate at ``level`` and return its size in bytes (saving it if asked)."""
    from portal.models import Certificate
    from portal.services import issuance_requests, runtime

    use_level(app, level)
    request, _ = issuance_requests.issue_for_subject(issuer_id="dlt", type_id="driving-licence", pid=PIDS[0])
    certificate = Certificate.query.filter_by(request_id=request.id).one()
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        (save / f"dlt-{level}.pdf").write_bytes(runtime.blob_store().get(certificate.sha256))
    return certificate.size_bytes


def document_html() -> str:
    """The DLT driving-licence certificate's HTML, as the pipeline renders it."""
    from portal import clock
    from portal.issuing import DocumentInfo, Subject
    from portal.services import certificate_content, runtime

    issuer = runtime.issuers().get("dlt")
    doc_type = issuer.document_type("driving-licence")
    record = issuer.fetch_record(doc_type, Subject(pid=PIDS[0]))
    now = clock.now()
    info = DocumentInfo(
        number="ขบ 000001/2569",
        verification_code="K7QF-2M9X-PA4D-TR6B-W3ZZ",
        verify_url="http://127.0.0.1:5000/v/K7QF2M9XPA4DTR6BW3ZZ",
        issued_at=now,
        expires_at=now.date(),
        sample=True,
    )
    return certificate_content.certificate_html(issuer, doc_type, record, info)


def floor_loop(html: str, pki) -> Callable[[int], dict[str, float]]:
    """Stock WeasyPrint + stock pyHanko with their caches kept (the floor)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from portal.rendering import CERTIFICATE_CSS_PATH

    font_config = FontConfiguration()
    css = CSS(filename=str(CERTIFICATE_CSS_PATH), font_config=font_config)
    signer = signers.SimpleSigner.load(
        str(pki.key_paths["dlt"]), str(pki.cert_paths["dlt"]), ca_chain_files=tuple(map(str, pki.chain_paths))
    )
    meta = signers.PdfSignatureMetadata(field_name="Signature", subfilter=fields.SigSeedSubFilter.PADES)
    base_url = str(CERTIFICATE_CSS_PATH.parents[1]) + "/"

    def one(_: int) -> dict[str, float]:
        t0 = time.perf_counter()
        pdf = HTML(string=html, base_url=base_url).write_pdf(stylesheets=[css], font_config=font_config)
        t1 = time.perf_counter()
        signers.PdfSigner(meta, signer).sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), bytes_reserved=16384)
        t2 = time.perf_counter()
        return {"render": t1 - t0, "sign": t2 - t1, "total": t2 - t0}

    return one


def naive_loop(html: str, pki) -> Callable[[int], dict[str, float]]:
    """Stock calls with nothing kept between documents (fresh fonts, CSS and key each time)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from portal.rendering import CERTIFICATE_CSS_PATH

    base_url = str(CERTIFICATE_CSS_PATH.parents[1]) + "/"

    def one(_: int) -> dict[str, float]:
        t0 = time.perf_counter()
        font_config = FontConfiguration()
        css = CSS(filename=str(CERTIFICATE_CSS_PATH), font_config=font_config)
        pdf = HTML(string=html, base_url=base_url).write_pdf(stylesheets=[css], font_config=font_config)
        t1 = time.perf_counter()
        signer = signers.SimpleSigner.load(
            str(pki.key_paths["dlt"]),
            str(pki.cert_paths["dlt"]),
            ca_chain_files=tuple(map(str, pki.chain_paths)),
        )
        meta = signers.PdfSignatureMetadata(field_name="Signature", subfilter=fields.SigSeedSubFilter.PADES)
        signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), meta, signer=signer)
        t2 = time.perf_counter()
        return {"render": t1 - t0, "sign": t2 - t1, "total": t2 - t0}

    return one


def measure_memory(app, documents: int = 1000, first: int = 100) -> tuple[int, int]:
    """RSS (KiB) after ``first`` and after ``documents`` more B-B certificates in this process.

    Each document runs as a worker runs a job (portal/jobs/worker.py): in its own application
    context, with the database session removed afterwards."""
    from portal.extensions import db

    after_first = 0
    for i in range(documents):
        with app.app_context():
            try:
                issue_one(app, "B-B", i)
            finally:
                db.session.remove()
        if i + 1 == first:
            gc.collect()
            after_first = rss_kib()
        if (i + 1) % 100 == 0:
            print(f"  memory run: {i + 1} documents, RSS {rss_kib() / 1024:.1f} MiB", file=sys.stderr)
    gc.collect()
    return after_first, rss_kib()


def report(args, times, sizes, memory, pki_requests) -> None:
    def med(name: str, column: str = "total") -> float:
        return median_ms([sample[column] for sample in times[name]])

    print(f"\nTra issuance benchmark: {args.n} documents per loop, interleaved, {args.warmup} warm-up rounds")
    columns = ("fetch", "render", "sign", "store", "total")
    print(f"{'median ms':<16}" + "".join(f"{c:>9}" for c in columns))
    for name in ("B-B", "B-LTA", "floor", "naive"):
        label = f"pipeline {name}" if name.startswith("B-") else name
        cells = "".join(f"{med(name, c):>9.1f}" if c in times[name][0] else f"{'':>9}" for c in columns)
        print(f"{label:<16}{cells}")
    print(f"requests to the test PKI: {dict(sorted(pki_requests.items()))}")

    bb, lta, floor, naive = med("B-B"), med("B-LTA"), med("floor"), med("naive")
    lines = [
        (
            f"pipeline p50 at B-B        {bb:7.1f} ms",
            f"≤ {TARGET_PIPELINE_MS:.0f} ms",
            bb <= TARGET_PIPELINE_MS,
        ),
        (
            f"B-LTA ÷ B-B                {lta / bb:7.2f}x",
            f"≤ {TARGET_LTA_RATIO}x",
            lta / bb <= TARGET_LTA_RATIO,
        ),
        (
            f"pipeline ÷ floor           {bb / floor:7.2f}x",
            f"≤ {TARGET_FLOOR_RATIO}x",
            bb / floor <= TARGET_FLOOR_RATIO,
        ),
        (
            f"naive ÷ pipeline           {naive / bb:7.2f}x",
            f"≥ {TARGET_NAIVE_RATIO:.0f}x",
            naive / bb >= TARGET_NAIVE_RATIO,
        ),
        (
            f"B-LTA file size            {sizes['B-LTA'] / 1024:7.1f} KB",
            f"≤ {TARGET_LTA_BYTES // 1024} KB",
            sizes["B-LTA"] <= TARGET_LTA_BYTES,
        ),
    ]
    if memory is not None:
        growth = memory[1] / memory[0] - 1
        lines.append(
            (
                f"RSS 100 → 1,000 documents  {memory[0] / 1024:.1f} → {memory[1] / 1024:.1f} MiB "
                f"({growth:+.1%})",
                f"≤ +{TARGET_RSS_GROWTH:.0%}",
                growth <= TARGET_RSS_GROWTH,
            )
        )
    print(f"\n(B-B file size {sizes['B-B'] / 1024:.1f} KB)")
    print("\ntargets (issue 10)")
    for text, target, ok in lines:
        print(f"  {text:<48} target {target:<9} {verdict(ok)}")
    if memory is None:
        print("  worker RSS growth: run with --memory")


if __name__ == "__main__":
    main()
