"""Options of the `opsbook` MkDocs plugin (all optional)."""

from mkdocs.config import config_options as c
from mkdocs.config.base import Config


class OpsbookConfig(Config):
    # Show each shell block's verification status from the last harness run.
    badges = c.Type(bool, default=True)
