"""``python -m alphagan`` runs the command line."""

import sys

from alphagan.cli import main

sys.exit(main())
