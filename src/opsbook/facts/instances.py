"""Sandbox instances: the facts of sandbox K, so K sandboxes run side by side.

    instance 0   the facts as written: compose project `opsbook-sandbox`, ports as listed
    instance K   compose project `opsbook-sandbox-K`, every host port + K x port_stride,
                 the sandbox environment's URLs moved with them

Everything that reaches the sandbox reads these facts (compose's environment, the pages
rendered for it, the harness's probes), so an instance is nothing more than this shift:
no second copy of the compose file, no per-instance configuration to keep in step.
`OPSBOOK_SANDBOX_INSTANCE=K` selects it for any command (`opsbook test -j N` sets it for
its workers, the pytest plugin for each pytest-xdist worker).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from opsbook.errors import OpsbookError
from opsbook.facts.model import Facts

VARIABLE = "OPSBOOK_SANDBOX_INSTANCE"


def instance_from_env(facts: Facts, environ: dict[str, str] | None = None) -> int:
    """The instance the environment selects (0 when unset); OpsbookError when invalid."""
    raw = (os.environ if environ is None else environ).get(VARIABLE, "").strip()
    if not raw:
        return 0
    limit = facts.platform.sandbox_instances.max
    if not raw.isdigit() or not 0 <= int(raw) < limit:
        raise OpsbookError(
            f"{VARIABLE}={raw}: must be a number from 0 to {limit - 1} "
            "(platform.sandbox_instances.max in the facts)"
        )
    return int(raw)


def _moved(url: str, offset: int) -> str:
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost") or parts.port is None:
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{parts.port + offset}"))


def for_instance(facts: Facts, k: int) -> Facts:
    """The facts of sandbox instance `k` (instance 0: `facts` itself)."""
    if k == 0:
        return facts
    offset = k * facts.platform.sandbox_instances.port_stride
    sandbox = facts.sandbox
    moved_sandbox = sandbox.model_copy(update={
        "api_url": _moved(str(sandbox.api_url), offset),
        "prometheus_url": _moved(str(sandbox.prometheus_url), offset),
        "alertmanager_url": _moved(str(sandbox.alertmanager_url), offset),
    })
    return facts.model_copy(update={
        "platform": facts.platform.model_copy(
            update={"compose_project": f"{facts.platform.compose_project}-{k}"}
        ),
        "services": [s.model_copy(update={"port": s.port + offset}) for s in facts.services],
        "environments": {**facts.environments, "sandbox": moved_sandbox},
    })
