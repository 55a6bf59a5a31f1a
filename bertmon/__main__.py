import sys

from bertmon.cli import main

sys.exit(main())
