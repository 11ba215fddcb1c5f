"""``python -m connectors.salesforce.standin``: run the Salesforce stand-in in the foreground."""

import sys

from connectors.salesforce.standin.launcher import main

sys.exit(main())
