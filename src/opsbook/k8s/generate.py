"""The generated tree as text, writing it, and detecting drift (as `opsbook alerts render`).

Every file starts with a header naming the command that writes it; `--check` compares
each file with a fresh render and names every one that differs, is missing, or is left
over from an earlier render.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from opsbook.alerts.generate import rules_text
from opsbook.facts import Facts
from opsbook.k8s import manifests
from opsbook.k8s.images import compose_images
from opsbook.k8s.overlays import kind_cluster, overlays
from opsbook.k8s.workloads import Workload, workloads
from opsbook.project import Project

OUT_DIR = Path("deploy") / "k8s"  # under the project root
KIND_CLUSTER = "kind-cluster.yaml"
HEADER = (
    "# generated from facts/ by `opsbook k8s render`; do not edit\n"
    "# (change the facts, then run `opsbook k8s render`)\n"
)


def default_out(project: Project) -> Path:
    return project.root / OUT_DIR


def dump(docs: list[dict[str, Any]], note: str = "") -> str:
    """Deterministic multi-document YAML: key order kept, no folding, so diffs are exact."""
    body = "---\n".join(
        yaml.safe_dump(d, sort_keys=False, default_flow_style=False, allow_unicode=True,
                       width=1_000_000)
        for d in docs
    )
    return HEADER + note + body


def _block_yaml(text: str) -> str:
    """A generated file's body without its comment header, for embedding in a ConfigMap."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))


def cluster_workloads(project: Project, facts: Facts) -> list[Workload]:
    return workloads(facts, compose_images(project.sandbox_dir / "compose.yaml", facts))


def render_tree(project: Project, facts: Facts) -> dict[str, str]:
    """Relative path (POSIX) -> file text, for every file under deploy/k8s/."""
    found = cluster_workloads(project, facts)
    sandbox_prom = yaml.safe_load(
        (project.sandbox_dir / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    )
    alertmanager = (project.sandbox_dir / "alertmanager" / "alertmanager.yml").read_text(
        encoding="utf-8"
    )
    prom_config = yaml.safe_dump(manifests.prometheus_config(facts, found, sandbox_prom),
                                 sort_keys=False, width=1_000_000)
    key = manifests.RULES_KEY
    tree: dict[str, str] = {}
    resources = ["namespace.yaml"]
    tree["base/namespace.yaml"] = dump([manifests.namespace(facts)])
    for w in found:
        resources.append(f"{w.name}.yaml")
        tree[f"base/{w.name}.yaml"] = dump(
            [manifests.workload(w, facts), *manifests.services(w, facts)]
        )
    resources += ["prometheus-config.yaml", "alertmanager-config.yaml"]
    tree["base/prometheus-config.yaml"] = dump([
        manifests.config_map("prometheus-config", {"prometheus.yml": prom_config}, facts),
        # the real `for`, as staging and production alert
        manifests.config_map("prometheus-rules",
                             {key: _block_yaml(rules_text(facts, sandbox=False))}, facts),
    ])
    tree["base/alertmanager-config.yaml"] = dump([
        manifests.config_map("alertmanager-config", {"alertmanager.yml": alertmanager}, facts),
    ])
    tree["base/kustomization.yaml"] = dump([{
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": facts.platform.kubernetes.namespace,
        "resources": resources,
    }])
    sandbox_rules = _block_yaml(rules_text(facts, sandbox=True))
    for overlay in overlays(facts, found, sandbox_rules, key):
        where = f"overlays/{overlay.name}"
        tree[f"{where}/kustomization.yaml"] = dump([overlay.kustomization], overlay.note)
        for name, docs in overlay.files.items():
            tree[f"{where}/{name}"] = dump(docs)
    tree[KIND_CLUSTER] = dump([kind_cluster(facts)])
    return tree


def write_tree(tree: dict[str, str], out_dir: Path) -> list[Path]:
    """Write every file; remove generated files a fresh render no longer has."""
    written = []
    for rel, text in tree.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    for stale in _generated_files(out_dir):
        if stale.relative_to(out_dir).as_posix() not in tree:
            stale.unlink()
    return written


def _generated_files(out_dir: Path) -> list[Path]:
    """YAML files under out_dir carrying our header (a hand-added file is left alone)."""
    if not out_dir.is_dir():
        return []
    return sorted(
        p for p in out_dir.rglob("*.yaml")
        if p.is_file() and p.read_text(encoding="utf-8").startswith(HEADER)
    )


@dataclass(frozen=True)
class Drift:
    path: str  # relative to the output folder
    why: str  # "differs", "missing", "left over"
    diff: str  # unified diff on disk -> fresh ("" when missing or left over)


def drift(tree: dict[str, str], out_dir: Path) -> list[Drift]:
    """Every file that differs from a fresh render, is missing, or is left over."""
    found = []
    for rel, fresh in tree.items():
        path = out_dir / rel
        if not path.is_file():
            found.append(Drift(rel, "missing", ""))
            continue
        current = path.read_text(encoding="utf-8")
        if current != fresh:
            diff = "".join(difflib.unified_diff(
                current.splitlines(keepends=True), fresh.splitlines(keepends=True),
                fromfile=f"{rel} (on disk)", tofile=f"{rel} (rendered from facts)",
            ))
            found.append(Drift(rel, "differs", diff))
    for path in _generated_files(out_dir):
        rel = path.relative_to(out_dir).as_posix()
        if rel not in tree:
            found.append(Drift(rel, "left over", ""))
    return found
