"""The whole site against the live sandbox: every runnable block passes, as a reader runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbook.harness.env import scrubbed_env
from opsbook.harness.runner import run_page
from opsbook.sandbox import compose_environment

pytestmark = pytest.mark.integration


def test_plain_docker_compose_reaches_the_sandbox(sandbox, tmp_path: Path) -> None:  # noqa: ANN001
    from opsbook.harness.classify import Forbidden
    from opsbook.harness.collect import analyse

    env = scrubbed_env(tmp_path, compose_environment(sandbox.project, sandbox.facts))
    page = analyse(
        "c.md",
        "```console\n$ docker compose exec -T api python -c 'print(6*7)'\n42\n```\n\n"
        f"```bash\ncurl -fsS {sandbox.url('api', '/health/live')}\n```\n",
        Forbidden(),
    )
    results = run_page("c.md", page.steps, tmp_path, env, Forbidden())
    assert [r.status for r in results] == ["passed", "passed"], [r.message for r in results]
