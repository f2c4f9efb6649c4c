"""``python -m mp_schema`` runs the CLI."""

import sys

from mp_schema._cli import main

sys.exit(main())
