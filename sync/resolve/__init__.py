"""Entity resolution: match rules, scoring, clustering into golden records, explain, review."""

from sync.resolve.engine import ResolveResult, parse_ref, ref_text, resolve, resolve_all
from sync.resolve.explain import Explanation, explain
from sync.resolve.review import confirm, pending, reject, unmerge
from sync.resolve.spec import MatchConfig, load_match_config

__all__ = ["Explanation", "MatchConfig", "ResolveResult", "confirm", "explain", "load_match_config",
           "parse_ref", "pending", "ref_text", "reject", "resolve", "resolve_all", "unmerge"]
