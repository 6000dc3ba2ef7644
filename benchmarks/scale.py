"""Benchmark: the site at 9, 100 and 1,000 pages: plugin build vs plain Material, and
`opsbook blocks list`, each with cold and warm caches (compiled templates, rendered
pages, read pages: .opsbook/jinja-cache, render-cache.pickle, plan-cache.pickle).

The pages are the site's own templates, copied into folders (c0/, c1/, ...) as many times
as it takes, so links between them still resolve. Both build sides get the same Markdown:
the plain side the text the plugin renders, with the plugin removed from mkdocs.yml.
Builds are not strict (a cut-down copy links to pages it does not hold), on both sides.
Runs alternate between the sides, so machine noise hits both alike. Targets: plugin/plain
<= 1.10 cold and warm; `blocks list` over 1,000 pages under 1 s warm, under 2 s cold.

    python benchmarks/scale.py [--pages 9 100 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mkdocs.commands.build import build
from mkdocs.config import load_config
from site_build import plain_copy  # beside this file

from opsbook.project import Project, find_project

PARTS = ("facts", "snippets")
# what "cold" removes: compiled templates, rendered pages, read pages
CACHES = ("jinja-cache", "render-cache.pickle", "plan-cache.pickle")


def clear(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def scaled_project(project: Project, pages: int, root: Path) -> Project:
    """A copy of the project whose docs/ holds `pages` pages (the site's, repeated)."""
    root.mkdir(parents=True)
    for part in PARTS:
        shutil.copytree(project.root / part, root / part)
    templates = sorted(p.relative_to(project.docs_dir) for p in project.docs_dir.rglob("*.md"))
    docs = root / "docs"
    for n in range(pages):
        rel = templates[n % len(templates)]
        target = docs / f"c{n // len(templates)}" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project.docs_dir / rel, target)
    copy_assets(project, docs)
    config = (project.root / "mkdocs.yml").read_text()
    head, _, rest = config.partition("\nnav:\n")
    # drop the nav (the copies are found by folder) and keep everything after it
    tail = rest.split("\n\n", 1)[1] if "\n\n" in rest else ""
    (root / "mkdocs.yml").write_text(head + "\n\n" + tail)
    return Project(root)


def copy_assets(project: Project, docs: Path) -> None:
    """The folders the theme loads from docs/ (css, javascripts), without pages."""
    for asset in project.docs_dir.iterdir():
        if asset.is_dir() and not (docs / asset.name).exists():
            shutil.copytree(asset, docs / asset.name, ignore=shutil.ignore_patterns("*.md"))


def plain_twin(project: Project, root: Path) -> Path:
    """site_build.py's plain side, plus the assets a scaled copy's pages sit beside."""
    config = plain_copy(project, root)
    copy_assets(project, root / "docs")
    return config


def timed_build(config_file: Path, site_dir: Path) -> float:
    config = load_config(str(config_file), site_dir=str(site_dir), strict=False)
    start = time.perf_counter()
    build(config)
    elapsed = time.perf_counter() - start
    shutil.rmtree(site_dir, ignore_errors=True)
    return elapsed


def timed_list(project: Project) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "opsbook", "--project", str(project.root), "blocks", "list"],
        capture_output=True, text=True, timeout=600,
    )
    elapsed = time.perf_counter() - start
    if "Traceback" in done.stderr:
        raise SystemExit(done.stderr)
    return elapsed


def median_ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:8.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[9, 100, 1000])
    parser.add_argument("--runs", type=int, default=3, help="builds per side and size")
    args = parser.parse_args()
    logging.getLogger("mkdocs").setLevel(logging.ERROR)
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    project = find_project(start=Path(__file__).resolve().parent)
    print(f"{'pages':>6} {'plain':>11} {'plugin warm':>11} {'plugin cold':>11} "
          f"{'warm/plain':>10} {'cold/plain':>10} {'list warm':>11} {'list cold':>11}")
    for pages in args.pages:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            scaled = scaled_project(project, pages, work / "opsbook")
            plain_config = plain_twin(scaled, work / "plain")
            caches = [scaled.state_dir / n for n in CACHES]
            timed_build(scaled.root / "mkdocs.yml", work / "s")  # imports, caches
            timed_build(plain_config, work / "s")
            plain, warm, cold, lwarm, lcold = [], [], [], [], []
            for _ in range(args.runs):
                warm.append(timed_build(scaled.root / "mkdocs.yml", work / "s"))
                clear(caches)  # as after editing every template (and the facts)
                cold.append(timed_build(scaled.root / "mkdocs.yml", work / "s"))
                plain.append(timed_build(plain_config, work / "s"))
                clear(caches)
                lcold.append(timed_list(scaled))
                lwarm.append(timed_list(scaled))  # every cache as the cold run left it
            p, w, c = (statistics.median(x) for x in (plain, warm, cold))
            print(f"{pages:>6} {median_ms(plain)} {median_ms(warm)} {median_ms(cold)} "
                  f"{w / p:>10.3f} {c / p:>10.3f} {median_ms(lwarm)} {median_ms(lcold)}",
                  flush=True)
    print("targets: warm/plain and cold/plain <= 1.10; blocks list at 1,000 pages "
          "< 1 s warm, < 2 s cold")


if __name__ == "__main__":
    main()
