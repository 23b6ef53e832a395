"""``python -m sipwire``: the same as the ``sipwire`` command."""

from sipwire.cli import main

raise SystemExit(main())
