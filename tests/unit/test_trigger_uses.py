"""A trigger's uses remembered in the process (:class:`parley.apps.triggers.MemoryFirstUse`)."""

from __future__ import annotations

import asyncio

from parley.apps.triggers import MemoryFirstUse


def test_a_key_is_used_once_until_its_time_has_passed_and_old_keys_are_forgotten():
    now = [100.0]
    uses = MemoryFirstUse(clock=lambda: now[0])

    async def go():
        assert await uses("t1", 10_000) is True
        assert await uses("t1", 10_000) is False
        assert await uses("t2", 10_000) is True
        now[0] += 10.5
        assert await uses("t1", 10_000) is True  # its trigger has expired by now anyway
        for n in range(2000):  # the past ones are forgotten: the memory stays bounded
            now[0] += 0.1
            await uses(f"k{n}", 1_000)
        assert len(uses._until) <= 1024

    asyncio.run(go())
