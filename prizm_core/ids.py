"""Job ids: how a new one is made and what a caller-given one may look like."""

from __future__ import annotations

import re
import uuid

from prizm_core.errors import invalid_argument

__all__ = ["checked_job_id"]

# A job id travels in metadata and logs: keep it short and plain.
_JOB_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def checked_job_id(job_id: str) -> str:
    """`job_id` if it is valid, a fresh one if it is empty.

    Raises:
        PrizmError: INVALID_ARGUMENT with a `job_id` field violation.
    """
    if not job_id:
        return uuid.uuid4().hex
    if not _JOB_ID.fullmatch(job_id):
        raise invalid_argument([("job_id", "must be 1 to 128 letters, digits, '-', '_' or '.'")])
    return job_id
