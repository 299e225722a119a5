"""Task entry points: ids in, one service call."""

from __future__ import annotations

from . import partitions, services


def sync_job_run(job_id: int) -> str:
    return services.sync_job_run(job_id=job_id).status


def transaction_partitions_ensure() -> str:
    """Daily: month partitions ahead, and rows out of the default partition (PostgreSQL only)."""
    return str(partitions.transaction_partitions_ensure())
