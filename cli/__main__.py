"""``python -m cli``: the ``sportello`` command without the installed console script."""

from cli.main import main

raise SystemExit(main())
