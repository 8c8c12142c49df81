import sys

from symm.cli import main

sys.exit(main())
