"""The kind backend's classification: the Kubernetes tabs run, what belongs to the Compose
sandbox does not; and `opsbook test --backend kind` without kind fails in one line."""

from __future__ import annotations

import os
import subprocess
import sys

from opsbook.harness.reading.plan import read_page
from opsbook.harness.running.isolation import Forbidden
from opsbook.project import Project

PAGE = """# P

```bash
curl -fsS "$API_URL/health/ready"
```

=== "Docker Compose"

    ```bash
    docker compose restart api
    ```

=== "Kubernetes"

    ```bash
    kubectl -n opsbook rollout restart deployment/api
    ```

```bash
docker compose ps --format '{{.Service}}'
python3 "$(dirname "$COMPOSE_FILE")/tools/share.py" show
```

<!-- opsbook: scenario=api-errors phase=diagnosis -->
```bash
curl -s "$API_URL/metrics"
```

=== "Staging"

    ```bash
    export API_URL=https://api.staging.example
    ```
"""


def kinds(backend: str) -> list[tuple[str, str | None]]:
    page = read_page("p.md", PAGE, Forbidden(), {"api-errors"}, backend=backend)
    return [(c.kind, c.reason) for b, c in page.shell]


def test_compose_runs_the_compose_commands_and_skips_kubernetes() -> None:
    assert kinds("compose") == [
        ("run", None), ("run", None), ("skip", "needs-kubernetes"), ("run", None),
        ("run", None), ("skip", "staging-only"),
    ]


def test_kind_runs_the_kubernetes_tab_and_skips_what_is_compose_only() -> None:
    assert kinds("kind") == [
        ("run", None),  # plain HTTP: the same ports on both backends
        ("skip", "compose-only"),  # its tab
        ("run", None),  # the Kubernetes tab
        ("skip", "compose-only"),  # docker compose outside a tab
        ("skip", "compose-only"),  # a fault scenario: injected through Compose
        ("skip", "staging-only"),
    ]
    page = read_page("p.md", PAGE, Forbidden(), {"api-errors"}, backend="kind")
    assert page.scenarios == [] and not page.problems


def test_test_backend_kind_without_kind_is_one_line(project_copy: Project) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "opsbook", "--project", str(project_copy.root), "test",
         "--backend", "kind", "access.md"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin"},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: the kind backend needs 'kind' on PATH (not found); install kind from its "
        "project's releases (a single static binary) or your package manager; kind also "
        "needs a container registry it can pull its node image from"
    ]
