"""``python -m fer_core``: the command line (:mod:`fer_core.cli`)."""
import sys

from .cli import main

sys.exit(main())
