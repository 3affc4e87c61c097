"""``python -m informer_gluonts``: see :mod:`informer_gluonts.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
