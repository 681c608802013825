"""Job ids: a fresh one when none is given, a caller's one only if short and plain."""

from __future__ import annotations

import re

import grpc
import pytest

from prizm_core.errors import PrizmError
from prizm_core.ids import checked_job_id


def test_an_empty_id_gives_a_fresh_one() -> None:
    made = {checked_job_id("") for _ in range(100)}
    assert len(made) == 100
    assert all(re.fullmatch(r"[0-9a-f]{32}", job_id) for job_id in made)


@pytest.mark.parametrize(
    "job_id",
    ["a", "job-42", "Job_42.retry-1", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "x" * 128, "...", "-"],
)
def test_a_valid_id_is_kept(job_id: str) -> None:
    assert checked_job_id(job_id) == job_id


@pytest.mark.parametrize(
    "job_id",
    ["x" * 129, "job 42", "job/42", "job:42", "jöb", "job\n", "\njob", "job\x00", "a,b", "job\t1"],
)
def test_an_invalid_id_is_an_invalid_argument_on_job_id(job_id: str) -> None:
    with pytest.raises(PrizmError) as raised:
        checked_job_id(job_id)
    error = raised.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_INPUT"
    [(field, problem)] = error.field_violations
    assert field == "job_id"
    assert "128" in problem
    assert error.message.startswith("invalid request: job_id: ")
