"""Options of the `opsbook` MkDocs plugin (all optional)."""

from mkdocs.config import config_options as c
from mkdocs.config.base import Config


class OpsbookConfig(Config):
    # Show each shell block's verification status from the last harness run.
    badges = c.Type(bool, default=True)
    # Under `mkdocs serve`, run a page's blocks again each time it is saved, against the
    # sandbox that is up, and show the new badges when they are done (mkdocs_plugin/live.py).
    # OPSBOOK_LIVE=1 in the environment turns it on too, without editing mkdocs.yml.
    live = c.Type(bool, default=False)
    # Pages and folders under docs_dir the harness has taken on (`[runbooks/, deploy.md]`);
    # unset: every page. Pages not adopted are listed, never run, never marked verified.
    adopt = c.Optional(c.ListOfItems(c.Type(str)))
