"""The OData query options of the emulated Graph: ``$filter``, ``$select``, ``$top``, ``$count``.

What real clients send (the Azure CLI's ``az ad app/sp list|create``, the Graph SDKs), with the
rules of Graph's directory objects (graph-docs ``aad-advanced-queries.md``,
``query-parameters.md``):

* ``$filter``: ``eq`` and ``in (...)`` on a property, ``startswith(prop,'x')``,
  ``coll/any(x:x eq 'v')`` (or ``startswith`` in the lambda), joined by ``and``/``or``, grouped
  by parentheses. String comparison ignores case, as Graph's does. ``ne`` and ``not`` are
  *advanced* queries: they need the ``ConsistencyLevel: eventual`` header and ``$count=true``,
  else 400 Request_UnsupportedQuery with Graph's message. Other operators and functions
  (``endsWith``, ``gt``, ``contains``...) and unknown properties answer 400
  Request_UnsupportedQuery.
* ``$select``: property names (any case) of the resource type; an unknown name answers 400.
* ``$top``: 1-999 (else 400); without it a page holds 100, as Graph's default for applications
  and service principals. A longer result carries ``@odata.nextLink``: the same query on the
  emulator's own origin plus an opaque ``$skiptoken`` (the last object id of the page; pages are
  in object-id order, so objects added or removed between pages never repeat or shift others).
* ``$count=true`` adds ``@odata.count`` (the whole result, not the page) only with
  ``ConsistencyLevel: eventual``; without the header Graph silently ignores it. The ``/$count``
  path segment answers the number as text, and without the header 400 "$count is not currently
  supported.".
* ``$search``, ``$orderby``, ``$expand``, ``$skip`` and unknown ``$`` options answer 400 in Graph's
  envelope (never a 500); ``$search`` without the header gets Graph's own message.

UNVERIFIED: the message of a syntax error (Graph's parser reports a position) and of an
unparseable ``$skiptoken`` (here Directory_ExpiredPageToken, Graph's code for a stale one).
"""
import base64
import binascii
import dataclasses
import re
import urllib.parse

from .graph_keys import GraphError, bad_request
from .state import is_guid

PAGE_SIZE, MAX_TOP = 100, 999
MAX_DEPTH = 32  # nesting of parentheses and not: deeper is refused, never a RecursionError
ADVANCED_HINT = ("Try adding $count=true query parameter and ConsistencyLevel:eventual header. "
                 "Refer to https://aka.ms/graph-docs/advanced-queries for more information")
_OPTIONS = ("$filter", "$select", "$top", "$count", "$skiptoken")
_UNSUPPORTED = ("$orderby", "$expand", "$skip", "$search", "$format", "$levels", "$apply")
_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)(?![\w-])"
                    r"|(?P<punct>[(),:/])|(?P<word>[A-Za-z_][\w.]*))")


@dataclasses.dataclass(frozen=True)
class EntityType:
    """What a query may name on one Graph resource type."""

    name: str  # as Graph spells it in errors: "Application"
    filterable: tuple  # single-valued properties for eq / in / startswith
    collections: tuple  # multi-valued properties for any(...)
    properties: tuple  # everything $select may name

    def canonical(self, name, names):
        return next((n for n in names if n.lower() == name.lower()), None)


@dataclasses.dataclass(frozen=True)
class Query:
    """The parsed query options of one listing (or, with ``select`` only, one object)."""

    keep: object  # predicate over an entity
    select: tuple  # canonical property names, () for all
    top: int
    after: str  # the object id a $skiptoken resumes after, or ""
    count: bool  # whether to add @odata.count
    raw: dict  # the request's query, to build the next link


def eventual(headers):
    """Whether the request asks for Graph's advanced queries (``ConsistencyLevel: eventual``)."""
    return (headers.get("ConsistencyLevel") or "").strip().lower() == "eventual"


def parse_select(query, entity_type):
    names = [n.strip() for n in (query.get("$select") or "").split(",") if n.strip()]
    select = []
    for name in names:
        canonical = entity_type.canonical(name, entity_type.properties)
        if canonical is None:
            raise GraphError(400, "BadRequest", f"Could not find a property named '{name}' on "
                             f"type 'microsoft.graph.{entity_type.name[0].lower()}"
                             f"{entity_type.name[1:]}'.")
        select.append(canonical)
    return tuple(dict.fromkeys(select))


def parse_listing(query, headers, entity_type, *, count_segment=False):
    """The ``Query`` of a listing request (or of its ``/$count`` segment); GraphError (400) for
    what Graph would refuse."""
    advanced = eventual(headers)
    for option in query:
        if not option.startswith("$") or option in _OPTIONS:
            continue
        if option == "$search" and not advanced:
            raise GraphError(400, "Request_UnsupportedQuery", "Request with $search query "
                             "parameter only works through MSGraph with a special request header:"
                             " 'ConsistencyLevel: eventual'")
        if option in _UNSUPPORTED:
            raise GraphError(400, "Request_UnsupportedQuery",
                             f"The query option '{option}' is not supported by the entracert "
                             "emulator.")
        raise GraphError(400, "BadRequest", f"The query parameter '{option}' is not supported.")
    count_text = (query.get("$count") or "false").lower()
    if count_text not in ("true", "false"):
        raise bad_request(f"Invalid value '{query['$count']}' for $count: use true or false.")
    counted = advanced and count_text == "true"
    top = query.get("$top")
    if top is None:
        top = PAGE_SIZE
    elif top.isdigit() and 1 <= int(top) <= MAX_TOP:
        top = int(top)
    else:
        raise bad_request(f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} "
                          "inclusive.")
    filter_advanced = advanced and (count_text == "true" or count_segment)
    keep = _Filter(query["$filter"], entity_type, advanced=filter_advanced).compile() if query.get(
        "$filter") else (lambda entity: True)
    return Query(keep=keep, select=parse_select(query, entity_type), top=top,
                 after=_resume_after(query.get("$skiptoken")), count=counted, raw=dict(query))


def page(entities, query):
    """How many entities match, this page of them (in id order), and the ``$skiptoken`` of the
    next page (None on the last)."""
    matched = sorted((e for e in entities if query.keep(e)), key=lambda e: e["id"])
    rest = [e for e in matched if e["id"] > query.after] if query.after else matched
    if len(rest) <= query.top:
        return len(matched), rest, None
    last = rest[query.top - 1]["id"]
    return len(matched), rest[:query.top], base64.urlsafe_b64encode(
        f"entracert:{last}".encode("ascii")).decode("ascii").rstrip("=")


def next_link(base, query, skiptoken):
    params = {k: v for k, v in query.raw.items() if k != "$skiptoken"}
    params["$skiptoken"] = skiptoken
    return base + "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="$,")


def _resume_after(token):
    if token is None:
        return ""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        text = ""
    prefix, _, last = text.partition(":")
    if prefix != "entracert" or not is_guid(last):
        raise GraphError(400, "Directory_ExpiredPageToken", "The specified page token value has "
                         "expired and can no longer be included in your request.")
    return last.lower()


class _Filter:
    """A recursive-descent parser from ``$filter`` text to a predicate over an entity (a dict).

    Grammar: ``or := and ('or' and)*``, ``and := unary ('and' unary)*``,
    ``unary := 'not' unary | '(' or ')' | startswith(operand, literal) | operand 'eq'|'ne' literal
    | operand 'in' '(' literal, ... ')'``, ``operand := property | variable | coll/any(v: or)``."""

    def __init__(self, text, entity_type, *, advanced):
        self.text, self.type, self.advanced = text, entity_type, advanced
        self.tokens = self._tokenize(text)
        self.pos, self.depth, self.variable = 0, 0, None

    def compile(self):
        predicate = self._or()
        if self.pos != len(self.tokens):
            self._syntax(f"unexpected '{self.tokens[self.pos][1]}'")
        return lambda entity: bool(predicate(entity, None))

    # --- tokens ---

    def _tokenize(self, text):
        tokens, at = [], 0
        while at < len(text):
            match = _TOKEN.match(text, at)
            if match is None or match.end() == at:
                if not text[at:].strip():
                    break
                self._syntax(f"unexpected character at position {at}")
            kind = match.lastgroup
            tokens.append((kind, match.group(kind)))
            at = match.end()
        return tokens

    def _peek(self, value=None):
        if self.pos >= len(self.tokens):
            return None
        kind, text = self.tokens[self.pos]
        if value is None:
            return self.tokens[self.pos]
        return (kind, text) if text.lower() == value else None

    def _take(self, value=None, kind=None):
        token = self._peek(value)
        if token is None or (kind is not None and token[0] != kind):
            wanted = f"'{value}'" if value else kind or "more"
            self._syntax(f"expected {wanted}")
        self.pos += 1
        return token[1]

    def _syntax(self, reason):
        raise GraphError(400, "BadRequest", f"Invalid filter clause: {reason} in '{self.text}'.")

    def _unsupported_operator(self, operator):
        raise GraphError(400, "Request_UnsupportedQuery", f"Operator '{operator}' is not "
                         f"supported because the required parameters might be missing. "
                         f"{ADVANCED_HINT}")

    def _unsupported_property(self, name):
        raise GraphError(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter "
                         f"clause specified for property '{name}' of resource '{self.type.name}'.")

    # --- grammar ---

    def _or(self):
        terms = [self._and()]
        while self._peek("or"):
            self.pos += 1
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else (
            lambda entity, item: any(term(entity, item) for term in terms))

    def _and(self):
        terms = [self._unary()]
        while self._peek("and"):
            self.pos += 1
            terms.append(self._unary())
        return terms[0] if len(terms) == 1 else (
            lambda entity, item: all(term(entity, item) for term in terms))

    def _unary(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self._syntax("the expression is nested too deeply")
        try:
            if self._peek("not"):
                self.pos += 1
                if not self.advanced:
                    self._unsupported_operator("not")
                inner = self._unary()
                return lambda entity, item: not inner(entity, item)
            if self._peek("("):
                self.pos += 1
                inner = self._or()
                self._take(")")
                return inner
            return self._comparison()
        finally:
            self.depth -= 1

    def _comparison(self):
        name = self._take(kind="word")
        if self._peek("("):
            return self._function(name)
        if self._peek("/"):
            return self._lambda(name)
        getter = self._operand(name)
        operator = self._take(kind="word").lower()
        if operator == "in":
            self._take("(")
            values = [self._literal()]
            while self._peek(","):
                self.pos += 1
                values.append(self._literal())
            self._take(")")
            return lambda entity, item: any(_equal(getter(entity, item), v) for v in values)
        if operator == "ne" and not self.advanced:
            self._unsupported_operator("ne")
        if operator not in ("eq", "ne"):
            if operator in ("gt", "ge", "lt", "le", "has"):
                self._unsupported_property(name)
            self._syntax(f"unknown operator '{operator}'")
        value = self._literal()
        negate = operator == "ne"
        return lambda entity, item: _equal(getter(entity, item), value) != negate

    def _function(self, function):
        self._take("(")
        if function.lower() == "endswith":
            # Graph allows endsWith, in advanced queries, only on mail and userPrincipalName-like
            # properties, none of which applications and service principals have.
            if not self.advanced:
                self._unsupported_operator("endsWith")
            self._unsupported_property(self._take(kind="word"))
        if function.lower() != "startswith":
            raise GraphError(400, "Request_UnsupportedQuery",
                             f"The function '{function}' is not supported by the entracert "
                             "emulator in $filter.")
        getter = self._operand(self._take(kind="word"))
        self._take(",")
        prefix = self._literal()
        self._take(")")
        if not isinstance(prefix, str):
            self._syntax("startswith needs a string")
        return lambda entity, item: isinstance(getter(entity, item), str) and getter(
            entity, item).casefold().startswith(prefix.casefold())

    def _lambda(self, name):
        collection = self.type.canonical(name, self.type.collections)
        if collection is None:
            self._unsupported_property(name)
        self._take("/")
        if self._take(kind="word").lower() != "any":
            self._syntax("only the any(...) lambda is supported")
        self._take("(")
        outer, self.variable = self.variable, self._take(kind="word")
        self._take(":")
        inner = self._or()
        self._take(")")
        self.variable = outer
        return lambda entity, item: any(inner(entity, value)
                                        for value in entity.get(collection) or [])

    def _operand(self, name):
        if self.variable is not None and name == self.variable:
            return lambda entity, item: item
        prop = self.type.canonical(name, self.type.filterable)
        if prop is None:
            self._unsupported_property(name)
        return lambda entity, item: entity.get(prop)

    def _literal(self):
        kind, text = self._peek() or (None, None)
        if kind == "string":
            self.pos += 1
            return text[1:-1].replace("''", "'")
        if kind == "number":
            self.pos += 1
            return float(text) if "." in text else int(text)
        if kind == "word" and text.lower() in ("true", "false", "null"):
            self.pos += 1
            return {"true": True, "false": False, "null": None}[text.lower()]
        self._syntax("expected a literal ('text', a number, true, false or null)")


def _equal(actual, wanted):
    if isinstance(actual, str) and isinstance(wanted, str):
        return actual.casefold() == wanted.casefold()
    return actual == wanted
