"""Process exit codes, documented in the README and `crm2 --help`, for schedulers and monitoring."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """Everything ran and every record was loaded."""
    FAILED = 1
    """The run failed (a stage crashed, a system was unreachable); state was saved where safe."""
    CONFIG = 2
    """Bad configuration or usage; nothing ran."""
    PARTIAL = 3
    """The run finished but some records were quarantined or rejected."""


STOPPED_EARLY = 75
"""EX_TEMPFAIL, from crm2's connectors (not from `crm2` itself): stopped cleanly on the API limit
or budget with resumable state; the orchestrator reports it and the next run continues."""
