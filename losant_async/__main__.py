"""``python -m losant_async``: the ``losant-async`` command."""

import sys

from .cli import main

sys.exit(main())
