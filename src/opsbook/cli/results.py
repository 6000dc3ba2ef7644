"""`opsbook results merge|import`: join results made apart (shards, workers, CI)."""

from __future__ import annotations

from pathlib import Path

import click

from opsbook.cli.context import AppContext, pass_app

FILES = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def results() -> None:
    """Results of runs made elsewhere: merge shards, import a CI run's results."""


@results.command()
@click.argument("files", nargs=-1, required=True, type=FILES)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the merged results here. Default: .opsbook/results.json, and every page "
    "that ran to its end is kept for `opsbook test --changed`.",
)
@pass_app
def merge(app: AppContext, files: tuple[Path, ...], output: Path | None) -> None:
    """Join FILES (results.json of `opsbook test --shard I/N` jobs, say) into one report:
    each page's results come from the latest run that executed it."""
    from opsbook.harness.reporting import results as results_file
    from opsbook.harness.reporting import store

    merged = store.merge(results_file.read_file(f) for f in files)
    if output is None:
        kept = store.publish(merged, app.project.state_dir)
        path = app.project.state_dir / results_file.FILE
        extra = f"; {len(kept)} pages kept for --changed"
    else:
        path = results_file.write_file(merged, output)
        extra = ""
    counts = ", ".join(f"{v} {k}" for k, v in sorted(merged.counts().items()))
    click.echo(f"{len(files)} files, {len(merged.pages)} pages ({counts}) -> {path}{extra}")


@results.command("import")
@click.argument("file", type=FILES)
@pass_app
def import_(app: AppContext, file: Path) -> None:
    """Keep the pages of FILE (a results.json from another machine, a CI artifact) as
    their latest results: `opsbook test --changed` then skips every page whose key still
    matches, and the site's badges show them with the date and commit of that run."""
    from opsbook.harness.reporting import results as results_file
    from opsbook.harness.reporting import store

    state_dir = app.project.state_dir
    incoming = results_file.read_file(file)
    merged, kept = store.fold_in(incoming, state_dir)
    click.echo(
        f"{file}: {len(kept)} pages kept ({incoming.commit}, {incoming.time}); "
        f"{state_dir / results_file.FILE} now holds {len(merged.pages)} pages"
    )
