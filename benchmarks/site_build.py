"""Benchmark: site build time with the opsbook plugin vs plain mkdocs-material.

Both sides build the same pages: the plain side gets the Markdown `opsbook render`
produced, written to a temporary docs dir, and the same mkdocs.yml minus the plugin.
Builds run in-process and interleaved (plugin, plugin with a cold template cache, plain,
...) so machine noise hits every side alike; the medians and the ratios are printed.
Target: ratio <= 1.15. The cold figure is a first build after every template changed
(compiled templates are cached on disk by source checksum in .opsbook/jinja-cache).

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

from opsbook.project import Project, find_project
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

    project = find_project(start=Path(__file__).resolve().parent)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plain_config = plain_copy(project, work / "plain")
        with_plugin, cold, plain = [], [], []
        cache = project.state_dir / "jinja-cache"
        timed_build(project.root / "mkdocs.yml", work / "warm1")  # imports, caches
        timed_build(plain_config, work / "warm2")
        for i in range(args.runs):
            with_plugin.append(timed_build(project.root / "mkdocs.yml", work / f"a{i}"))
            shutil.rmtree(cache, ignore_errors=True)  # as after editing every template
            cold.append(timed_build(project.root / "mkdocs.yml", work / f"c{i}"))
            plain.append(timed_build(plain_config, work / f"b{i}"))
            for side in "acb":
                shutil.rmtree(work / f"{side}{i}")
    a, c, b = (statistics.median(x) for x in (with_plugin, cold, plain))
    print(f"pages: {len(render_site(project))}, runs per side: {args.runs}")
    def line(label: str, times: list[float]) -> str:
        median, best = statistics.median(times) * 1000, min(times) * 1000
        return f"{label:<24}: median {median:7.1f} ms  (min {best:.1f})"

    print(line("with opsbook plugin", with_plugin))
    print(line("  cold template cache", cold))
    print(line("plain mkdocs-material", plain))
    overhead = 100 * (a / b - 1)
    print(f"ratio plugin/plain      : {a / b:.3f}  (target <= 1.15; overhead {overhead:+.1f} %)")
    print(f"ratio cold/plain        : {c / b:.3f}  (first build after editing every template)")

if __name__ == "__main__":
    main()
