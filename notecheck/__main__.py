import sys

from notecheck.cli import main

sys.exit(main())
