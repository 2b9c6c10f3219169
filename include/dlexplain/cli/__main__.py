"""``python -m dlexplain.cli``: the same as the ``dlexplain`` command."""

import sys

from dlexplain.cli import main

sys.exit(main())
