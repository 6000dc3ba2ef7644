"""Benchmark: site build time with the opsbook plugin vs plain mkdocs-material.

Both sides build the same pages: the plain side gets the Markdown `opsbook render`
produced, written to a temporary docs dir, and the same mkdocs.yml minus the plugin.
Builds run in-process and interleaved (plugin, plain, plugin, ...) so machine noise hits
both sides alike; the medians and their ratio are printed. Target: ratio <= 1.15.

    python benchmarks/site_build.py [--runs 9]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from mkdocs.commands.build import build
from mkdocs.config import load_config

from opsbook.project import Project
from opsbook.render import render_site


def plain_copy(project: Project, work: Path) -> Path:
    """The same site with pre-rendered pages and no opsbook plugin."""
    docs = work / "docs"
    for page, text in render_site(project).items():
        (docs / page).parent.mkdir(parents=True, exist_ok=True)
        (docs / page).write_text(text, encoding="utf-8")
    config = (project.root / "mkdocs.yml").read_text()
    config = config.replace("  - opsbook\n", "")
    assert "opsbook\n" not in config.split("plugins:")[1].split("\n\n")[0]
    (work / "mkdocs.yml").write_text(config)
    return work / "mkdocs.yml"


def timed_build(config_file: Path, site_dir: Path) -> float:
    config = load_config(str(config_file), site_dir=str(site_dir), strict=True)
    start = time.perf_counter()
    build(config)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="builds per side (default 9)")
    args = parser.parse_args()
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")

    project = Project.find(Path(__file__).resolve().parent)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plain_config = plain_copy(project, work / "plain")
        with_plugin, plain = [], []
        timed_build(project.root / "mkdocs.yml", work / "warm1")  # imports, caches
        timed_build(plain_config, work / "warm2")
        for i in range(args.runs):
            with_plugin.append(timed_build(project.root / "mkdocs.yml", work / f"a{i}"))
            plain.append(timed_build(plain_config, work / f"b{i}"))
            shutil.rmtree(work / f"a{i}")
            shutil.rmtree(work / f"b{i}")
    a, b = statistics.median(with_plugin), statistics.median(plain)
    print(f"pages: {len(render_site(project))}, runs per side: {args.runs}")
    print(f"with opsbook plugin : median {a * 1000:7.1f} ms  (min {min(with_plugin) * 1000:.1f})")
    print(f"plain mkdocs        : median {b * 1000:7.1f} ms  (min {min(plain) * 1000:.1f})")
    overhead = 100 * (a / b - 1)
    print(f"ratio plugin/plain  : {a / b:.3f}  (target <= 1.15; overhead {overhead:+.1f} %)")


if __name__ == "__main__":
    main()
