import sys

from kvrrp.cli import main

sys.exit(main())
