"""YAML mappings from source records to crm2 entities: load, check, apply, test.

Public API::

    mapping = load_mapping("mappings/salesforce.yml")     # ConfigError with file:line:column
    result = mapping.apply("Account", record)              # Mapped | Deleted | Quarantine
    report = check_against_catalog(mapping, catalog)       # against a tap's --discover output
    results = run_examples(mapping)                        # the examples: blocks
    write_json_schema("mappings/mapping.schema.json")
"""

from sync.mapping.applier import Deleted, Mapped, Quarantine, Result
from sync.mapping.catalog import Report, check_against_catalog
from sync.mapping.compiler import Mapping
from sync.mapping.errors import MappingFailed, TransformError
from sync.mapping.examples import ExampleResult, run_examples
from sync.mapping.loader import load_mapping, load_mapping_text
from sync.mapping.schema import json_schema, write_json_schema
from sync.mapping.transforms import TRANSFORMS

__all__ = [
    "TRANSFORMS",
    "Deleted",
    "ExampleResult",
    "Mapped",
    "Mapping",
    "MappingFailed",
    "Quarantine",
    "Report",
    "Result",
    "TransformError",
    "check_against_catalog",
    "json_schema",
    "load_mapping",
    "load_mapping_text",
    "run_examples",
    "write_json_schema",
]
