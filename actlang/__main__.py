"""``python -m actlang`` runs the command line."""

from actlang.cli import main

raise SystemExit(main())
