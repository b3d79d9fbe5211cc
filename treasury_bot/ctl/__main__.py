"""`python -m treasury_bot.ctl`: the same as the `treasuryctl` script."""

import sys

from treasury_bot.ctl.cli import console_main

sys.exit(console_main())
