"""``python -m fer_core.jobs worker JOB_ID [--root DIR]``."""
import sys

from fer_core.jobs.worker import main

sys.exit(main())
