"""``crawl.pipeline``'s failure paths, in this process, against the emulator behind a server that changes
one answer (``tests.support.hostile.pipeline``): each test pins the records and counters one behaviour
leaves."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio
