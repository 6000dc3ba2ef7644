"""Every Kubernetes object we write, checked offline against the Kubernetes OpenAPI
schemas (`kubernetes-validate`, which ships them: no cluster, no network).

Strict mode: a misspelled field (`replcas`) is an error, not silently ignored as a
server would with a client-side apply of an unknown field.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opsbook.errors import OpsbookError

# The Kubernetes release the schemas are taken from: kind's node images of the same
# minor release run these manifests as they are.
KUBERNETES_VERSION = "1.33.0"


def problems(docs: Iterable[dict[str, Any]], source: str,
             version: str = KUBERNETES_VERSION) -> list[str]:
    """One line per object that does not match its schema: `source: Kind/name: path: why`."""
    try:
        import kubernetes_validate
        from kubernetes_validate.utils import SchemaNotFoundError, ValidationError
    except ImportError:
        raise OpsbookError(
            "the schema check needs kubernetes-validate: pip install -e '.[test]'"
        ) from None
    found = []
    for doc in docs:
        what = f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path) or "(top)"
            found.append(f"{source}: {what}: {where}: {exc.message}")
        except SchemaNotFoundError as exc:
            found.append(f"{source}: {what}: {exc.message}")
    return found
