"""The practice a request names is bound for the rest of its task (until authentication binds it
from the token): the database sessions act for it (row-level security)."""

from __future__ import annotations

import asyncio

import pytest

from openrcm_shared.http.problems import Problem
from openrcm_shared.http.tenancy import tenant_id, tenant_of
from openrcm_shared.security.context import current_tenant


def in_a_task_of_its_own(check):
    """Run `check` in a fresh task, as a request is: what it binds stays in that task."""
    async def main():
        return await asyncio.create_task(check())
    return asyncio.run(main())


def test_the_header_s_practice_is_bound_for_the_request():
    async def check():
        assert tenant_of("practice-a") == "practice-a"
        return current_tenant()
    assert in_a_task_of_its_own(check) == "practice-a"


def test_the_dependency_binds_it_too():
    async def check():
        assert await tenant_id("practice-b") == "practice-b"
        return current_tenant()
    assert in_a_task_of_its_own(check) == "practice-b"


@pytest.mark.parametrize("header", [None, "", "bad tenant!"])
def test_a_refused_header_binds_nothing(header):
    async def check():
        with pytest.raises(Problem):
            tenant_of(header)
        return current_tenant()
    assert in_a_task_of_its_own(check) is None
