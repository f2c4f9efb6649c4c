"""``python -m mp_schema`` runs the CLI; importing this module runs nothing (tools that import
every module of a package, such as documentation builders, must not start the CLI)."""

import sys

from mp_schema._cli import main

if __name__ == "__main__":
    sys.exit(main())
