"""`python -m parley` is the `parley` command."""

from parley.cli import main

raise SystemExit(main())
