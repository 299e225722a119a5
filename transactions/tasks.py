"""Task entry points: ids in, one service call."""

from __future__ import annotations

from . import services


def sync_job_run(job_id: int) -> str:
    return services.sync_job_run(job_id=job_id).status
