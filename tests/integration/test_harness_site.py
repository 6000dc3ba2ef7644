"""The verification driver against the live sandbox: blocks reach it as a reader's would."""

from __future__ import annotations

import pytest

from opsbook.harness.reading.plan import Plan, read_page
from opsbook.harness.running.isolation import Forbidden
from opsbook.harness.verify import verify

pytestmark = pytest.mark.integration


def test_plain_docker_compose_reaches_the_sandbox(sandbox) -> None:
    page = read_page(
        "c.md",
        "```console\n$ docker compose exec -T api python -c 'print(6*7)'\n42\n```\n\n"
        f"```bash\ncurl -fsS {sandbox.url('api', '/health/live')}\n```\n",
        Forbidden(),
    )
    results = verify(
        Plan([page], Forbidden(), sandbox.facts), project=sandbox.project, write_results=False
    )
    assert [r.status for r in results.blocks] == ["passed", "passed"], [
        r.message for r in results.blocks
    ]
