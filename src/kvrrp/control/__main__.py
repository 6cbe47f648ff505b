"""`python3 -m kvrrp.control ...` = kvrrpctl (without importing the daemon's command line)."""
import sys

from kvrrp.control.cli import main

sys.exit(main())
