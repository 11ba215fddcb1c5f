"""The writeback: its YAML mapping (``mappings/writeback.yml``) and value rules, shared with the
target that writes to Salesforce, and the ``crm2 sync`` stage that runs that target."""

from sync.writeback.stage import bookmark_name, run_writeback

__all__ = ["bookmark_name", "run_writeback"]
