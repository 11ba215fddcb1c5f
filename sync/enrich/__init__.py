"""Enrichment: tiers, scores, lifecycle stage, churn warning and forecast per golden customer.

The public surface: :func:`score_customers` (pure: activity + rules + date -> scores),
:func:`load_rules` for config/scoring.yml, and the data types below. Reading activity from the
store and writing scores back lives in :mod:`sync.enrich.store_io`.
"""

from sync.enrich.activity import CreditNote, CustomerActivity
from sync.enrich.config import load_rules
from sync.enrich.engine import CustomerScores, Population, score_customer, score_customers, survey_population
from sync.enrich.rules import ScoringRules

__all__ = ["CreditNote", "CustomerActivity", "CustomerScores", "Population", "ScoringRules", "load_rules",
           "score_customer", "score_customers", "survey_population"]
