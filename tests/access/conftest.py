from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # access_stack, imported by the tests here

from access_stack import Stack, start_stack, stop_stack


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    built, things = await start_stack(tmp_path)
    try:
        yield built
    finally:
        await stop_stack(built, things)
