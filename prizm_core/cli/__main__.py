"""`python -m prizm_core.cli`: the `prizm` command without the console script."""

import sys

from prizm_core.cli.main import main

sys.exit(main())
