"""opsbook: operations runbooks that prove themselves.

Data flow: facts (YAML) -> render (Jinja2) -> site (MkDocs) / extract -> run -> report.
"""

__version__ = "0.1.0"
