"""`python -m mimic ...`: see mimic.cli."""

import sys

from mimic.cli import main

sys.exit(main())
