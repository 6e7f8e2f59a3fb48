"""python -m oms_client: the `oms` command."""

import sys

from oms_client.cli import main

sys.exit(main())
