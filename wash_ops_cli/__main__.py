import sys

from wash_ops_cli import main

sys.exit(main())
