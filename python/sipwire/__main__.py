"""``python -m sipwire``: the same as the ``sipwire`` command."""

from sipwire.cli import console

raise SystemExit(console())
