"""Timers in PostgreSQL: schedule a job, and the worker runs each due job exactly once.

Why a table of our own rather than procrastinate: a timer here is "do X to order N at T unless
it no longer applies", and what matters is that its effect and its `done` mark commit in one
transaction. The worker claims a due row with `SELECT ... FOR UPDATE SKIP LOCKED`, runs the
handler inside the same transaction and marks it done: a crash (or a database restart) before
the commit rolls everything back, the lock disappears with the connection, and the next worker
run does it again, once. Several workers can run side by side; SKIP LOCKED hands each due job
to one of them. Handlers also check that their premise still holds (an offer that was
acknowledged meanwhile does not expire), so a timer that is late is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import settings as cs
from .models import Job

log = logging.getLogger("dispatch.jobs")

Handler = Callable[[dict], Any]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of `kind` (called with the payload)."""

    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def schedule(kind: str, run_at: datetime, payload: dict | None = None, *, key: str = "") -> Job:
    """Add a timer; with a `key`, a pending job of that key is moved to the new time instead (one per key).

    Call inside the transaction that makes the timer necessary, so both commit or neither does.
    """
    with transaction.atomic():
        if key:
            existing = Job.objects.select_for_update().filter(key=key, state=Job.State.PENDING).first()
            if existing is not None:
                existing.run_at, existing.payload, existing.kind = run_at, payload or {}, kind
                existing.save(update_fields=["run_at", "payload", "kind"])
                return existing
        try:
            with transaction.atomic():
                return Job.objects.create(kind=kind, run_at=run_at, payload=payload or {}, key=key)
        except IntegrityError:  # a concurrent schedule with the same key won; move it
            existing = Job.objects.select_for_update().get(key=key, state=Job.State.PENDING)
            existing.run_at, existing.payload = run_at, payload or {}
            existing.save(update_fields=["run_at", "payload"])
            return existing


def cancel(key: str) -> int:
    """Cancel the pending job with this key (e.g. the offer was acknowledged). Returns how many."""
    return Job.objects.filter(key=key, state=Job.State.PENDING).update(
        state=Job.State.CANCELLED, done_at=timezone.now()
    )


def run_one(now: datetime | None = None) -> Job | None:
    """Claim the oldest due job (skipping ones another worker holds), run it and mark it, in one transaction.

    Returns the job run, or None when nothing is due. A handler that raises rolls its work back;
    the failure is recorded in a separate transaction and the job is retried later, up to
    JOB_MAX_ATTEMPTS times.
    """
    now = now or timezone.now()
    failed: tuple[int, str, int] | None = None
    with transaction.atomic():
        job = Job.objects.select_for_update(skip_locked=True).filter(state=Job.State.PENDING, run_at__lte=now).first()
        if job is None:
            return None
        fn = HANDLERS.get(job.kind)
        job.attempts += 1
        if fn is None:
            job.state, job.last_error, job.done_at = Job.State.FAILED, f"no handler for {job.kind!r}", now
            job.save(update_fields=["state", "last_error", "done_at", "attempts"])
            log.error("job %s: no handler for %r", job.pk, job.kind)
            return job
        try:
            with transaction.atomic():
                result = fn(job.payload)
        except Exception as exc:
            failed = (job.pk, f"{type(exc).__name__}: {exc}", job.attempts)
            log.exception("job %s (%s) failed, attempt %s", job.pk, job.kind, job.attempts)
        else:
            job.state, job.done_at = Job.State.DONE, timezone.now()
            job.result = result if isinstance(result, dict) else {"result": result}
            job.save(update_fields=["state", "done_at", "result", "attempts"])
            after_run(job)
            return job
        # the handler's savepoint was rolled back; record the attempt and keep the lock until commit
        pk, error, attempts = failed
        give_up = attempts >= cs.job_max_attempts()
        Job.objects.filter(pk=pk).update(
            attempts=attempts,
            last_error=error[:2000],
            state=Job.State.FAILED if give_up else Job.State.PENDING,
            run_at=now + timedelta(seconds=cs.job_retry_s() * attempts),
            done_at=now if give_up else None,
        )
        job.refresh_from_db()
        return job


def after_run(job: Job) -> None:
    """Called inside the job's transaction just before it commits (a seam for fault-injection tests)."""


def run_due(limit: int = 100, now: datetime | None = None) -> int:
    """Run due jobs until none is left (or `limit`). Returns how many ran."""
    n = 0
    while n < limit and run_one(now) is not None:
        n += 1
    return n
