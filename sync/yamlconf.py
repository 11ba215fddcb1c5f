"""Load a YAML file once into a validated pydantic model, with errors that point.

Every error is reported as ``file:line:column: message (hint)`` — line and column are 1-based
and point at the key or value at fault, so an editor can jump straight to it. ruamel.yaml is
used because it keeps the position of every node; pydantic does the validation.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, SequenceNode

from sync.errors import ConfigError, Problem

__all__ = ["ConfigError", "Problem", "did_you_mean", "load", "parse_yaml", "read_yaml", "validate"]

M = TypeVar("M", bound=BaseModel)


# what people coming from other CRMs and tools call crm2's fields: no spelling is close, so
# difflib alone finds nothing (website → domain)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "domain": ("website", "web", "url", "homepage", "site", "web_site"),
    "email": ("mail", "e_mail", "email_address"),
    "phone": ("telephone", "tel", "phone_number", "mobile"),
    "name": ("company", "company_name", "account_name", "title"),
    "tax_id": ("vat", "vat_id", "vat_number", "uscc", "ein", "tax_number"),
    "country": ("country_code", "nation"),
    "kind": ("type", "account_type", "category"),
    "amount": ("total", "value", "sum"),
    "external_id": ("ext_id",),
}


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    """A 'did you mean' hint, or a list of the valid choices when nothing is close."""
    for target, aliases in SYNONYMS.items():
        if word.lower() in aliases and target in choices:
            return f"did you mean '{target}'?"
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if choices and len(choices) <= 12:
        return "expected one of: " + ", ".join(sorted(choices))
    return None


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file keeping node positions; raise ConfigError on any read/parse failure."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError.single(path, "file not found", hint="check the path") from None
    except IsADirectoryError:
        raise ConfigError.single(path, "is a directory, expected a YAML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError.single(path, f"not UTF-8 text ({exc.reason})") from None
    return parse_yaml(text, path)


def _explain_yaml(raw: str, text: str, line: int | None) -> tuple[str, str | None]:
    """The parser's words for the usual slips (tabs, indentation) in plain ones, with a hint."""
    lines = text.splitlines()
    here = lines[line] if line is not None and 0 <= line < len(lines) else ""
    if "'\\t'" in raw or "\t" in raw or here[: len(here) - len(here.lstrip())].count("\t"):
        return "a tab character in the indentation", "YAML indents with spaces only: replace the tab with spaces"
    indent = len(here) - len(here.lstrip(" "))
    if raw.startswith("expected <block end>") or "did not find expected key" in raw:
        spaces = f"{indent} space" + ("" if indent == 1 else "s")
        return (f"this line's indentation ({spaces}) does not line up with the block it belongs to",
                "keys of one block start in the same column; a list item starts with '- '")
    if "mapping values are not allowed" in raw:
        return ("a ':' where a value was expected",
                "usually indentation: a key indented deeper than its siblings; quote a value that "
                "contains ': '")
    if "could not find expected ':'" in raw:
        return "a key without ':'", "write 'key: value'; continue a long value on the next line with more indentation"
    return raw, None


ALIAS_BUDGET = 10_000
"""Most nodes the aliases of one file may stand for, counted as expanded. A config file reuses a
block a few times; a 'billion laughs' bomb (aliases of aliases) stands for billions of nodes, so
it is refused where its budget runs out instead of hanging whatever walks the tree later."""
MAX_YAML_DEPTH = 100
"""Deepest nesting of mappings and sequences a config file may have."""
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in (
    "str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge", "binary", "omap", "set"))


class _RefusedYAML(MarkedYAMLError):
    pass


class _BudgetComposer(Composer):
    """ruamel's composer, counting what aliases expand to and refusing tags that construct objects."""

    def compose_document(self) -> Any:
        self._expanded = 0
        self._sizes: dict[int, int] = {}
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            self._expanded += self._size(node)
            if self._expanded > ALIAS_BUDGET:
                raise _RefusedYAML(None, None, f"aliases expand to more than {ALIAS_BUDGET:,} nodes "
                                   "(an alias bomb?); repeat the block instead", event.start_mark)
            return node
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and str(tag) not in _PLAIN_TAGS:
            shown = str(tag).replace("tag:yaml.org,2002:", "!!")
            raise _RefusedYAML(None, None, f"YAML tag '{shown}' is not allowed: config files hold plain values, "
                               "and tags that construct objects are refused", event.start_mark)
        return super().compose_node(parent, index)

    def _size(self, node: Any) -> int:
        """Nodes under ``node``, each shared node counted once per use (memoised: linear time)."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, MappingNode):
            size = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
        elif isinstance(node, SequenceNode):
            size = 1 + sum(self._size(v) for v in node.value)
        else:
            size = 1
        self._sizes[id(node)] = size
        return size


def parse_yaml(text: str, path: str | Path = "<string>") -> Any:
    """Every YAML file crm2 reads comes through here: positions kept, aliases and depth bounded."""
    yaml = YAML(typ="rt")
    yaml.Composer = _BudgetComposer
    yaml.max_depth = MAX_YAML_DEPTH
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if isinstance(exc, _RefusedYAML):
            raise ConfigError.single(path, str(exc.problem), line=mark.line + 1, column=mark.column + 1) from None
        message, hint = _explain_yaml(exc.problem or exc.context or "invalid YAML", text,
                                      mark.line if mark is not None else None)
        if mark is None:
            raise ConfigError.single(path, f"invalid YAML: {message}", hint=hint) from None
        raise ConfigError.single(path, f"invalid YAML: {message}", line=mark.line + 1,
                                 column=mark.column + 1, hint=hint) from None
    except YAMLError as exc:
        raise ConfigError.single(path, f"invalid YAML: {exc}") from None


def position(tree: Any, loc: Sequence[str | int], *, at_key: bool = False) -> tuple[int, int]:
    """1-based (line, column) of the node at ``loc``; the nearest existing ancestor if absent."""
    node, line, col = tree, 1, 1
    if isinstance(tree, CommentedMap | CommentedSeq):
        line, col = tree.lc.line + 1, tree.lc.col + 1
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, CommentedMap) and part in node:
            kl, kc = node.lc.key(part)
            vl, vc = node.lc.value(part)
            # point at the value, unless asked for the key or the value is a block that starts
            # on a later line (then the key is where the eye goes)
            if (at_key and last) or (isinstance(node[part], CommentedMap | CommentedSeq) and vl != kl):
                line, col = kl + 1, kc + 1
            else:
                line, col = vl + 1, vc + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            ln, cl = node.lc.item(part)
            line, col = ln + 1, cl + 1
            node = node[part]
        else:
            break
    return line, col


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types inside Optional/Union/Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for a in typing.get_args(annotation) for t in _unwrap(a)]
    return [annotation]


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The pydantic model that owns the mapping at ``loc``, walking lists and dicts."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
            continue
        candidates = []
        for t in _unwrap(current):
            origin = typing.get_origin(t)
            if origin in (list, tuple, typing.Sequence) or origin is Sequence:
                candidates.append(typing.get_args(t)[0])
            elif origin in (dict, typing.Mapping) or origin is Mapping:
                candidates.append(typing.get_args(t)[1])
            elif isinstance(t, type) and issubclass(t, BaseModel):
                field = t.model_fields.get(str(part))
                if field is not None:
                    candidates.append(field.annotation)
        if not candidates:
            return None
        current = candidates[0]
    for t in _unwrap(current):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def problems_from_validation(exc: ValidationError, tree: Any, path: str | Path,
                             model: type[BaseModel]) -> list[Problem]:
    """Turn pydantic's errors into positioned problems with hints."""
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        # discriminated unions and custom validators add non-key parts to loc; keep real keys
        loc = [p for p in err["loc"] if isinstance(p, int) or not str(p).startswith(("function-", "tagged-"))]
        kind, where = err["type"], ".".join(str(p) for p in loc) or "(top level)"
        hint: str | None = None
        if kind == "extra_forbidden":
            line, col = position(tree, loc, at_key=True)
            owner = _model_at(model, loc[:-1])
            hint = did_you_mean(str(loc[-1]), _field_names(owner)) if owner else None
            message = f"unknown key '{loc[-1]}'"
        elif kind == "missing":
            line, col = position(tree, loc[:-1], at_key=True)
            message = f"missing required key '{loc[-1]}'" + (f" in '{'.'.join(map(str, loc[:-1]))}'"
                                                              if len(loc) > 1 else "")
        else:
            line, col = position(tree, loc)
            got = err.get("input")
            shown = "" if isinstance(got, Mapping | list) else f", got {got!r}"
            msg = err["msg"]
            message = f"{where}: {msg[:1].lower()}{msg[1:]}{shown}"
            ctx = err.get("ctx") or {}
            if "expected" in ctx:
                hint = f"expected {ctx['expected']}"
        problems.append(Problem(str(path), line, col, message, hint))
    return problems


def validate(tree: Any, model: type[M], path: str | Path = "<string>") -> M:
    if tree is None:
        raise ConfigError.single(path, "file is empty", hint=f"expected a {model.__name__} mapping")
    try:
        return model.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(exc, tree, path, model)) from None


def load(path: str | Path, model: type[M]) -> M:
    """Read ``path`` and validate it into ``model``; raise ConfigError pointing at the fault."""
    return validate(read_yaml(path), model, path)
