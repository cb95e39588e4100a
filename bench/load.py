"""Benchmark (not a test): the portal under load in its production shape (`make serve`).

    make bench-load          # or: .venv/bin/python bench/load.py [--duration 8] [--jobs 40]

What runs, all on this machine, in one run so that the ratios mean something on a noisy machine:

1. Web: gunicorn with gunicorn.conf.py (WEB_CONCURRENCY, GUNICORN_THREADS from the environment)
   serves the portal (PORTAL_ENV=production, PostgreSQL, Redis-backed rate limits and check
   counts) and, on the same settings, a bare Flask endpoint (bench/bare_app.py).
   a. Flat with size: a copy of the database per size in --sizes (10,000, 100,000 and 1,000,000
      certificates by default; generated rows in one INSERT … SELECT generate_series, the real
      issued certificate among them), each served by its own portal; `wrk` measures
      check-by-code (`/api/v1/verify/<code>`) and check-by-file (`POST /api/v1/verify` with the
      issued PDF), p50/p99 at --size-connections, the sizes alternating for --size-rounds
      rounds (medians printed). The query plans of both lookups are printed too.
   b. At the largest size, `wrk` sends load for a fixed time to each in turn, --rounds times,
      alternating: the bare endpoint, the portal's /healthz (its per-request floor), the
      verification page `/v/<code>` and the API `/api/v1/verify/<code>`, at --connections.
      Printed: requests per second, latency p50/p99, and each endpoint's throughput as a
      fraction of the bare endpoint's.
   Then each target (issue 10) is printed as met or not met.
2. Issuance: N requests are queued in Redis, then the time until all are ready is measured with
   1 and then 2 RQ workers (`python -m portal.jobs.worker`, warmed up before the clock starts).

The database is a fresh PostgreSQL database built by the migrations and dropped afterwards; the
sample DLT registry runs in this process on loopback.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = ROOT / ".venv" / "bin"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PID = "1101700123456"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def _new_database(name: str, template: str | None = None):
    """Create database ``name`` (a copy of ``template`` if given); yield its URL; drop it afterwards."""
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    copy_of = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{copy_of}'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database():
    """A fresh empty database for this run, dropped afterwards."""
    return _new_database(f"tra_bench_{uuid.uuid4().hex[:8]}")


def database_copy(url: str, label: str):
    """A copy of the database at ``url`` (CREATE DATABASE … TEMPLATE), dropped afterwards."""
    template = url.rsplit("/", 1)[1]
    return _new_database(f"{template}_{label}", template)


@contextmanager
def process(args: list[str], env: dict, log: Path):
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * _UNITS[unit]


def wrk(url: str, *, duration: int, connections: int, threads: int, script: Path | None = None) -> dict:
    extra = ["-s", str(script)] if script else []
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", *extra, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p50": p50,
        "p99": p99,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "errors": errors.group(0) if errors else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds of load per endpoint and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--jobs", type=int, default=40, help="certificates per issuance run")
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="certificate counts to measure checks at, comma-separated ('' to skip; the web table "
        "is measured at the largest)",
    )
    parser.add_argument("--size-duration", type=int, default=5, help="seconds of load per size and check")
    parser.add_argument(
        "--size-connections", type=int, default=2, help="wrk connections for the size table (latency)"
    )
    parser.add_argument("--size-rounds", type=int, default=3, help="alternating rounds of the size table")
    parser.add_argument("--skip-web", action="store_true")
    parser.add_argument("--skip-issuance", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the logs and files (path printed)")
    args = parser.parse_args()
    if not shutil.which("wrk") and not args.skip_web:
        raise SystemExit("wrk is missing: `make bench-load` installs it (apt-get install wrk)")

    from werkzeug.serving import make_server

    from issuers.dlt.sample_registry import create_registry_app

    tmp = Path(tempfile.mkdtemp(prefix="tra-load-"))
    registry = make_server("127.0.0.1", 0, create_registry_app(), threaded=True)
    # The registry answers every fetch of the issuance runs from this process: an access line per
    # fetch (twice, once the app's JSON logging is set up) took CPU from the workers being measured.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    threading.Thread(target=registry.serve_forever, daemon=True).start()
    portal_port, bare_port = free_port(), free_port()

    with database() as database_url:
        env = {
            **os.environ,
            "PORTAL_ENV": "production",
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "RQ_QUEUE_PREFIX": f"bench-{uuid.uuid4().hex[:6]}-",
            "RATELIMIT_KEY_PREFIX": f"bench-limits-{uuid.uuid4().hex[:6]}",
            "CHECK_COUNTS_PREFIX": f"bench-checks-{uuid.uuid4().hex[:6]}",
            # The limiter still counts every request in Redis, but never says no to the load generator.
            "RATELIMIT_VERIFY": "10000000/minute",
            "PORTAL_SECRET_KEY": uuid.uuid4().hex,
            # The development PKI has no OCSP/TSA: sign at B-B (bench/issue.py measures the levels).
            "SIGNATURE_LEVEL": "B-B",
            "PORTAL_BASE_URL": f"http://127.0.0.1:{portal_port}",
            "PORTAL_BLOB_DIR": str(tmp / "blobs"),
            "PORTAL_DEV_PKI_DIR": str(tmp / "pki"),
            "DLT_REGISTRY_URL": f"http://127.0.0.1:{registry.server_port}",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus"),
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        }
        (tmp / "prometheus").mkdir()
        flask = [str(BIN / "flask"), "--app", "wsgi"]
        subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        issued = subprocess.run(
            [*flask, "portal", "issue", "dlt", "driving-licence", "--pid", PID, "--out", tmp / "issued.pdf"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        code = re.search(r"code ([0-9A-Z]+)", issued).group(1)

        print(
            f"machine: {os.cpu_count()} cores; gunicorn workers={os.environ.get('WEB_CONCURRENCY', '2')} "
            f"threads={os.environ.get('GUNICORN_THREADS', '4')}; wrk -t{args.threads} "
            f"-c{args.connections} -d{args.duration}s x {args.rounds} rounds"
        )
        if not args.skip_web:
            web(args, env, tmp, portal_port, bare_port, code)
        if not args.skip_issuance:
            issuance(args, env, tmp)
    registry.shutdown()
    if args.keep:
        print(f"\nlogs and files kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


#: Issue 10's targets for the web part.
TARGET_API = 0.5
TARGET_PAGE = 0.35
TARGET_P99_MS = 50.0
TARGET_FLAT = 1.2

_POST_FILE_LUA = """
local f = assert(io.open("{body}", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "multipart/form-data; boundary={boundary}"
"""


def file_check_script(tmp: Path, pdf: bytes) -> Path:
    """A wrk script that POSTs ``pdf`` as the multipart field ``file`` (the API's file check)."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="issued.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + pdf
        + f"\r\n--{boundary}--\r\n".encode()
    )
    (tmp / "file-check.body").write_bytes(body)
    script = tmp / "file-check.lua"
    script.write_text(_POST_FILE_LUA.format(body=tmp / "file-check.body", boundary=boundary))
    return script


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def web(args, env: dict, tmp: Path, portal_port: int, bare_port: int, code: str) -> None:
    import hashlib

    from bench import seed

    gunicorn = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"]
    pdf = (tmp / "issued.pdf").read_bytes()
    post_file = file_check_script(tmp, pdf)
    sizes = sorted(int(size) for size in args.sizes.split(",") if size.strip())
    with ExitStack() as stack:
        # One copy of the database per size, each filled to its size and served by its own
        # portal, so that the sizes can be measured in alternating rounds like the endpoints
        # below (on a shared machine, one size after the other measures the neighbours).
        portals: dict[int, tuple[str, str]] = {}  # size → (database URL, portal address)
        seeded_in: dict[int, float] = {}
        for size in sizes:
            url = stack.enter_context(database_copy(env["DATABASE_URL"], f"s{size}"))
            started = time.perf_counter()
            have = seed.grow_to(url, size, real_code=code)
            seeded_in[have] = time.perf_counter() - started
            port = portal_port if size == sizes[-1] else free_port()
            portals[have] = (url, f"http://127.0.0.1:{port}")
        if not portals:  # no size table: the web table on the database as issued
            portals[seed.count(env["DATABASE_URL"])] = (
                env["DATABASE_URL"],
                f"http://127.0.0.1:{portal_port}",
            )
        for size, (url, address) in portals.items():
            port = address.rsplit(":", 1)[1]
            stack.enter_context(
                process(
                    [*gunicorn, "wsgi:app"],
                    # Each portal counts checks under a prefix of its own: it folds into its database.
                    {
                        **env,
                        "DATABASE_URL": url,
                        "BIND": f"127.0.0.1:{port}",
                        "CHECK_COUNTS_PREFIX": f"{env['CHECK_COUNTS_PREFIX']}-{size}",
                    },
                    tmp / f"portal-{size}.log",
                )
            )
        stack.enter_context(
            process(
                [*gunicorn, "bench.bare_app:app"], {**env, "BIND": f"127.0.0.1:{bare_port}"}, tmp / "bare.log"
            )
        )
        largest = max(portals)
        database_url, portal = portals[largest]
        targets = {
            "bare Flask /ping (baseline)": f"http://127.0.0.1:{bare_port}/ping",
            # The portal's own floor: its hooks (request id, access line, metrics, limiter, headers)
            # around a view that reads nothing.
            "portal /healthz (no database, no limit)": f"{portal}/healthz",
            "verification page /v/<code>": f"{portal}/v/{code}",
            "verify API /api/v1/verify/<code>": f"{portal}/api/v1/verify/{code}",
        }
        for url in targets.values():
            wait_http(url)
            wrk(url, duration=2, connections=args.connections, threads=args.threads)  # warm-up
        for _, address in portals.values():
            wait_http(f"{address}/api/v1/verify/{code}")
            wrk(f"{address}/api/v1/verify", duration=2, connections=2, threads=1, script=post_file)

        by_size: dict[int, dict[str, list[dict]]] = {size: {"code": [], "file": []} for size in seeded_in}
        for _ in range(args.size_rounds if seeded_in else 0):
            for size in seeded_in:
                address = portals[size][1]
                checks = {
                    "code": (f"{address}/api/v1/verify/{code}", None),
                    "file": (f"{address}/api/v1/verify", post_file),
                }
                for how, (url, script) in checks.items():
                    by_size[size][how].append(
                        wrk(
                            url,
                            duration=args.size_duration,
                            connections=args.size_connections,
                            threads=args.threads,
                            script=script,
                        )
                    )
        plan_lines = seed.plans(database_url, code=code, sha256=hashlib.sha256(pdf).hexdigest())

        results: dict[str, list[dict]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, url in targets.items():
                results[name].append(
                    wrk(url, duration=args.duration, connections=args.connections, threads=args.threads)
                )
        report_web(args, results, by_size, seeded_in, plan_lines, seed.count(database_url))


def report_web(args, results, by_size, seeded_in, plan_lines, rows) -> None:
    base = statistics.mean(r["rps"] for r in results["bare Flask /ping (baseline)"])
    print(f"\n| endpoint ({rows:,} certificates, -c{args.connections}) ", end="")
    print("| req/s | × bare | p50 ms | p99 ms | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|")
    summary = {}
    for name, runs in results.items():
        rps = statistics.mean(r["rps"] for r in runs)
        p99 = statistics.mean(r["p99"] for r in runs)
        summary[name] = (rps / base, p99)
        print(
            f"| {name} | {rps:.0f} | {rps / base:.2f} | {statistics.mean(r['p50'] for r in runs):.1f} "
            f"| {p99:.1f} | {sum(r['non2xx'] for r in runs)} |"
        )
        for r in runs:
            if r["errors"]:
                print(f"  {name}: {r['errors']}")
    flat = {}
    if by_size:
        print(
            f"\n| certificates (-c{args.size_connections}, {args.size_rounds} rounds) | seeded in s ", end=""
        )
        print("| by code p50 ms | p99 ms | by file p50 ms | p99 ms | non-2xx |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        means = {
            size: {
                # The median round: one round disturbed by a neighbour on the machine does not count.
                check: {pct: statistics.median(r[pct] for r in runs) for pct in ("p50", "p99")}
                for check, runs in measured.items()
            }
            for size, measured in by_size.items()
        }
        for size, m in means.items():
            non2xx = sum(r["non2xx"] for runs in by_size[size].values() for r in runs)
            print(
                f"| {size:,} | {seeded_in[size]:.1f} | {m['code']['p50']:.1f} | {m['code']['p99']:.1f} "
                f"| {m['file']['p50']:.1f} | {m['file']['p99']:.1f} | {non2xx} |"
            )
        for line in plan_lines:
            print(f"  plan at {max(by_size):,}: {line}")
        small, large = means[min(means)], means[max(means)]
        for check in ("code", "file"):
            for pct in ("p50", "p99"):
                flat[f"check by {check} {pct}"] = large[check][pct] / small[check][pct]

    api_ratio, api_p99 = summary["verify API /api/v1/verify/<code>"]
    page_ratio, page_p99 = summary["verification page /v/<code>"]
    print("\n| target | measured | |")
    print("|---|---:|---|")
    c = f"-c{args.connections}"
    checks = [
        (f"verify API ≥ {TARGET_API}× bare", f"{api_ratio:.2f}×", api_ratio >= TARGET_API),
        (f"verification page ≥ {TARGET_PAGE}× bare", f"{page_ratio:.2f}×", page_ratio >= TARGET_PAGE),
        (f"verify API p99 < {TARGET_P99_MS:.0f} ms at {c}", f"{api_p99:.1f} ms", api_p99 < TARGET_P99_MS),
        (f"page p99 < {TARGET_P99_MS:.0f} ms at {c}", f"{page_p99:.1f} ms", page_p99 < TARGET_P99_MS),
    ]
    for what, measured, ok in checks:
        print(f"| {what} | {measured} | {met(ok)} |")
    if flat:
        span = f"{min(by_size):,} → {max(by_size):,}"
        for what, ratio in flat.items():
            print(f"| {what} ≤ {TARGET_FLAT}× from {span} | {ratio:.2f}× | {met(ratio <= TARGET_FLAT)} |")


def issuance(args, env: dict, tmp: Path) -> None:
    from rq import Worker

    from portal import create_app
    from portal.extensions import db
    from portal.jobs import redis_connection
    from portal.models import Certificate, DocumentRequest, User
    from portal.services import issuance_requests as issuing

    # portal.config read the environment when it was imported: pass the settings directly.
    app = create_app(
        "production",
        {
            "SECRET_KEY": env["PORTAL_SECRET_KEY"],
            "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
            "REDIS_URL": env["REDIS_URL"],
            "RQ_QUEUE_PREFIX": env["RQ_QUEUE_PREFIX"],
            "PUBLIC_BASE_URL": env["PORTAL_BASE_URL"],
            "BLOB_DIR": env["PORTAL_BLOB_DIR"],
            "DEV_PKI_DIR": env["PORTAL_DEV_PKI_DIR"],
            "DLT_REGISTRY_URL": env["DLT_REGISTRY_URL"],
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            "SIGNATURE_LEVEL": "B-B",
        },
    )
    # Baseline: the same pipeline called in this process, one after another, with no queue.
    with app.app_context():
        issuing.issue_for_subject(issuer_id="dlt", type_id="driving-licence", pid=PID)  # warm-up
        started = time.perf_counter()
        for _ in range(args.jobs // 2):
            issuing.issue_for_subject(issuer_id="dlt", type_id="driving-licence", pid=PID)
        inline_rate = (args.jobs // 2) / (time.perf_counter() - started)
    print("\n| issued by | certificates/s | × in-process | × 1 worker |")
    print("|---|---:|---:|---:|")
    print(f"| in-process loop, no queue (baseline) | {inline_rate:.2f} | 1.00 | |")
    first = None
    for workers in (1, 2):
        with app.app_context(), ExitStack() as stack:
            connection = redis_connection()
            for i in range(workers):
                stack.enter_context(
                    process(
                        [str(BIN / "python"), "-m", "portal.jobs.worker"],
                        env,
                        tmp / f"worker{workers}-{i}.log",
                    )
                )
            prefix = env["RQ_QUEUE_PREFIX"]
            deadline = time.monotonic() + 60
            while (
                sum(
                    any(q.startswith(prefix) for q in w.queue_names())
                    for w in Worker.all(connection=connection)
                )
                < workers
            ):
                if time.monotonic() > deadline:
                    raise SystemExit(f"workers did not start; see {tmp}/worker*.log")
                time.sleep(0.2)
            time.sleep(1.0)  # let them finish warming their caches
            user = db.session.query(User).filter_by(pid=PID).one_or_none()
            if user is None:
                user = User(pid=PID, name_th="bench")
                db.session.add(user)
                db.session.commit()
            started = time.perf_counter()
            ids = [
                issuing.request_document(
                    user=user, issuer_id="dlt", type_id="driving-licence", consent_given=True
                ).id
                for _ in range(args.jobs)
            ]
            while True:
                db.session.expire_all()
                done = db.session.query(Certificate).filter(Certificate.request_id.in_(ids)).count()
                failed = (
                    db.session.query(DocumentRequest)
                    .filter(DocumentRequest.id.in_(ids), DocumentRequest.status == "failed")
                    .count()
                )
                if done + failed >= len(ids):
                    break
                if time.perf_counter() - started > 600:
                    raise SystemExit("issuance did not finish within 10 minutes")
                time.sleep(0.05)
            seconds = time.perf_counter() - started
        rate = done / seconds
        first = first or rate
        note = f" ({failed} failed)" if failed else ""
        print(
            f"| {workers} RQ worker{'s' if workers > 1 else ''}, {done} certificates in {seconds:.1f} s{note}"
            " "
            f"| {rate:.2f} | {rate / inline_rate:.2f} | {rate / first:.2f} |"
        )


if __name__ == "__main__":
    main()
