"""`opsbook k8s render`: the Kubernetes manifests generated from the facts."""

from __future__ import annotations

from pathlib import Path

import click

from opsbook.cli.context import AppContext, pass_app
from opsbook.errors import OpsbookError
from opsbook.k8s.generate import default_out, drift, render_tree, write_tree
from opsbook.project import display_path


@click.group()
def k8s() -> None:
    """Kubernetes manifests (Kustomize base and overlays) generated from the facts."""


@k8s.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of the Kustomize tree (default: deploy/k8s/).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; fail naming every file that differs from a fresh render.",
)
@pass_app
def render(app: AppContext, out: Path | None, check: bool) -> None:
    """Write the base, the kind, staging and production overlays and kind's cluster config."""
    out_dir = out or default_out(app.project)
    tree = render_tree(app.project, app.facts)
    shown = display_path(out_dir)
    if check:
        drifted = drift(tree, out_dir)
        if not drifted:
            click.echo(f"{shown}: {len(tree)} files match the facts")
            return
        for d in drifted:
            if d.diff:
                click.echo(d.diff, err=True, nl=False)
        raise OpsbookError([
            f"{display_path(out_dir / d.path)}: {d.why} (a fresh render of the facts "
            "differs; change the facts, then run `opsbook k8s render`)"
            for d in drifted
        ])
    write_tree(tree, out_dir)
    click.echo(f"wrote {len(tree)} files under {shown}")
