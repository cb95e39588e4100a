"""Checks of a person's documents, counted in Redis and folded into "Who read my data".

What: :func:`note_check` records one check of a document (by code or by file) for its holder's
log. With ``CHECK_COUNTS_REDIS_URL`` (production: the portal's Redis) it adds one to a counter
per (Bangkok day, holder, agency, document, means) in a Redis hash, in one round trip; without
it (the embedded default), or while that Redis does not answer, it writes the access event to
the database at once, as before. :func:`fold_counts` moves the counters into ``access_events``:
one row per counter, its ``times`` the count and its ``occurred_at`` the last check. The log
(``portal.services.access_log``) adds up ``times``, so a folded row reads like that many rows.

Why: banks check documents far more often than people ask for them. A committed row per check
cost about a third of a check's time and most of the database's work; a Redis counter costs
a round trip. The holder's promise is kept: every check is counted, per day, by means.

When it is folded: "Who read my data" folds before it reads (the holder always sees every check
so far); each web process folds at most every ``CHECK_COUNTS_FOLD_SECONDS`` (one process at a
time, by a Redis lock), so Redis holds at most that long's counters.

Never lost, never twice: a fold first RENAMEs the live hash to a key of its own (atomic: a check
lands either before, in the batch, or after, in a new live hash), then writes the batch's rows
and its id (``check_folds``) in one transaction, then deletes the batch. A fold that stops half
way leaves its batch in Redis; the next fold finds it and, if its id is already in
``check_folds``, only deletes it. Two processes folding one batch at once: the id's primary key
lets one commit. What Redis itself keeps across a crash is its persistence's business: run it
with ``appendonly yes`` (README, "Running in production"), as the job queue needs anyway.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import redis
from flask import current_app
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.extensions import db
from portal.models import CheckFold
from portal.services.audit import record_access

log = logging.getLogger(__name__)

__all__ = ["DOCUMENT_VERIFIED", "fold_counts", "note_check", "verification_purpose"]

DOCUMENT_VERIFIED = "document_verified"
_SEP = "\x1f"
#: After Redis failed to answer, checks go straight to the database for this long (seconds).
_RETRY_AFTER = 5.0


def verification_purpose(how: str) -> str:
    """The access event's ``purpose`` for a check by ``how`` ("code" or "file")."""
    return f"verification by {how}"


@dataclass
class _Counter:
    """This process's way to the counters of one app."""

    client: redis.Redis
    key: str
    lock: str
    batch_prefix: str
    fold_every: float
    down_until: float = 0.0
    next_fold: float = 0.0
    guard: threading.Lock = field(default_factory=threading.Lock)


def _counter() -> _Counter | None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    counter = app.extensions.get("tra.check_counts", False)
    if counter is False:
        url = app.config.get("CHECK_COUNTS_REDIS_URL")
        prefix = app.config.get("CHECK_COUNTS_PREFIX", "tra-checks")
        counter = (
            _Counter(
                client=redis.Redis.from_url(url, socket_connect_timeout=0.3, socket_timeout=0.5),
                key=f"{prefix}:live",
                lock=f"{prefix}:fold-lock",
                batch_prefix=f"{prefix}:batch:",
                fold_every=float(app.config.get("CHECK_COUNTS_FOLD_SECONDS", 30)),
            )
            if url
            else None
        )
        if counter is not None:
            counter.next_fold = time.monotonic() + counter.fold_every
        app.extensions["tra.check_counts"] = counter
    return counter


def note_check(*, subject_pid: str, agency: str, reference: str, how: str) -> None:
    """Count one check of document ``reference`` (by ``how``: code|file) for ``subject_pid``."""
    counter = _counter()
    if counter is not None and time.monotonic() >= counter.down_until:
        at = clock.now()
        day = at.astimezone(clock.BANGKOK).date().isoformat()
        name = _SEP.join((day, subject_pid, agency, reference, how))
        try:
            pipe = counter.client.pipeline(transaction=False)  # one round trip, no MULTI/EXEC
            pipe.hincrby(counter.key, f"n{_SEP}{name}", 1)
            pipe.hset(counter.key, f"t{_SEP}{name}", at.isoformat())
            pipe.execute()
        except redis.RedisError as exc:
            counter.down_until = time.monotonic() + _RETRY_AFTER
            log.warning("check counts: Redis did not answer (%s); writing checks to the database", exc)
        else:
            _fold_if_due(counter)
            return
    _record_checks(subject_pid, agency, reference, how)
    db.session.commit()


def _record_checks(
    subject_pid: str, agency: str, reference: str, how: str, times: int = 1, last: datetime | None = None
) -> None:
    """The access event for ``times`` checks of ``reference`` by ``how``, the last at ``last``."""
    record_access(
        subject_pid=subject_pid,
        kind=DOCUMENT_VERIFIED,
        agency=agency,
        reference=reference,
        purpose=verification_purpose(how),
        request_id=None,
        times=times,
        occurred_at=last,
    )


def _fold_if_due(counter: _Counter) -> None:
    now = time.monotonic()
    if now < counter.next_fold or not counter.guard.acquire(blocking=False):
        return
    try:
        counter.next_fold = now + counter.fold_every
        hold = max(int(counter.fold_every) - 1, 1)
        if counter.client.set(counter.lock, "1", nx=True, ex=hold):
            fold_counts()
    except Exception:  # a fold that fails is retried by the next one; the check is counted
        log.exception("check counts: folding failed; the next fold tries again")
    finally:
        counter.guard.release()


def fold_counts() -> int:
    """Move the counted checks into ``access_events``; the number of checks moved.

    Safe to call from several processes at once and after any crash (see the module's doc).
    Redis not answering is logged, not raised: the counters wait there for the next fold.
    """
    counter = _counter()
    if counter is None:
        return 0
    # A fold is a transaction of its own: end what the caller had open (a check's read runs
    # without a transaction, portal.services.verification), so the batch commits as one.
    db.session.rollback()
    client = counter.client
    try:
        try:
            client.rename(counter.key, f"{counter.batch_prefix}{uuid.uuid4().hex}")
        except redis.ResponseError:
            pass  # no live counters: nothing was checked since the last fold
        batches = list(client.scan_iter(match=f"{counter.batch_prefix}*", count=100))
        moved = 0
        for batch in batches:
            moved += _fold_batch(client, batch.decode() if isinstance(batch, bytes) else batch, counter)
        return moved
    except redis.RedisError as exc:
        log.warning("check counts: Redis did not answer while folding (%s); the next fold tries again", exc)
        return 0


def _fold_batch(client: redis.Redis, batch: str, counter: _Counter) -> int:
    fold_id = batch.removeprefix(counter.batch_prefix)
    fields = {k.decode(): v.decode() for k, v in client.hgetall(batch).items()}
    moved = 0
    if db.session.get(CheckFold, fold_id) is None:
        db.session.add(CheckFold(id=fold_id))
        for name, value in fields.items():
            kind, _, rest = name.partition(_SEP)
            if kind != "n":
                continue
            _day, subject_pid, agency, reference, how = rest.split(_SEP)
            last = fields.get(f"t{_SEP}{rest}")
            at = datetime.fromisoformat(last) if last else clock.now()
            _record_checks(subject_pid, agency, reference, how, times=int(value), last=at)
            moved += int(value)
        try:
            db.session.commit()  # the batch's rows and its id together: never added twice
        except IntegrityError:
            db.session.rollback()  # another process folded this batch at the same moment
            moved = 0
    else:
        db.session.rollback()  # end the read; the batch was folded before a crash
    client.delete(batch)
    return moved
