"""The image each service runs on a cluster: exactly what the Compose sandbox builds.

Read from `sandbox/compose.yaml` rather than restated, so `kind load docker-image` loads
the images `opsbook sandbox up` built and the manifests name the same references.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from opsbook.errors import OpsbookError
from opsbook.facts import Facts

# ${API_VERSION:?message} / ${API_VERSION} -> the release the facts call current
_VERSION_VAR = re.compile(r"\$\{API_VERSION(?::?[?-][^}]*)?\}")
APP_SERVICES = ("api", "worker")  # built once per release (current, previous, broken)


def compose_images(compose_file: Path, facts: Facts) -> dict[str, str]:
    """service -> image reference, for every service of the facts that compose runs."""
    try:
        data = yaml.safe_load(compose_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise OpsbookError(f"{compose_file}: cannot read the sandbox's images: {exc}") from None
    services = data.get("services") or {}
    current = facts.deployment.versions.current
    found: dict[str, str] = {}
    for spec in facts.services:
        image = (services.get(spec.name) or {}).get("image")
        if image is None:
            continue
        ref = _VERSION_VAR.sub(current, image)
        if "$" in ref:
            raise OpsbookError(f"{compose_file}: image of {spec.name} ({image}) uses a "
                               "variable other than API_VERSION; name the tag there")
        found[spec.name] = ref
    return found


def with_version(ref: str, version: str) -> str:
    """opsbook/api:v2 -> opsbook/api:v1."""
    return f"{ref.rsplit(':', 1)[0]}:{version}"


def all_built(images: dict[str, str], facts: Facts) -> list[str]:
    """Every image `opsbook sandbox up` builds: each service's, and the app's other
    releases (deploy and rollback drills switch between them)."""
    versions = facts.deployment.versions
    refs = list(images.values())
    for name in APP_SERVICES:
        if name in images:
            refs += [with_version(images[name], v) for v in (versions.previous, versions.broken)]
    return list(dict.fromkeys(refs))
