"""The worker's and the job queue's settings (WORKER_ and JOB_ prefixed Django settings)."""

from core.appsettings import AppSettings

_worker = AppSettings("WORKER")
_job = AppSettings("JOB")


def worker_poll_s() -> float:
    return _worker.get("WORKER_POLL_S", 1.0)  # seconds between polls of the job table when idle


def worker_sweep_s() -> int:
    # seconds between sweeps: presence (time-driven edges) and reports waiting for a supervisor
    return _worker.get("WORKER_SWEEP_S", 30)


def job_max_attempts() -> int:
    return _job.get("JOB_MAX_ATTEMPTS", 5)  # a job that keeps failing stops after this many tries


def job_retry_s() -> int:
    return _job.get("JOB_RETRY_S", 30)  # seconds before a failed job is tried again (times attempt)
