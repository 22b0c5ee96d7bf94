"""Touchpoint templates rendered in a Jinja sandbox: leads write them, so they must not reach
Python objects, exhaust the worker's memory or CPU, or fail silently.

What a template sees is plain data only (dicts, strings, numbers, dates; see
``build_context``), never ORM objects. On top of Jinja's ``ImmutableSandboxedEnvironment``
(no underscored attributes, no mutation of lists and dicts):

- attributes of plain values are an allow-list (``account.name``, ``text.upper()``,
  ``date.strftime(...)``); ``str.format`` and printf-style ``%`` are refused;
- filters and globals are an allow-list; ``range`` stops at 1,000 items;
- every call, attribute, item, operator, filter and loop iteration spends from a per-render
  budget and checks the time limit, and operations that multiply sizes (``*``, ``**``, ``+``,
  ``~``, ``replace``, ``join``, ``indent``, ``wordwrap``, ``strftime``) are checked before they
  allocate, so loops, recursion and number, string or list bombs end with a message. Checking
  first matters: one huge C-level operation (squaring a million-bit number, printing a list of
  a billion shared items) holds the GIL, so the time limit could not stop it and every other
  request of a threaded server would wait;
- numbers stay within ``MAX_NUMBER_BITS``; every list, tuple and dict a template builds
  (literals, ``*``, ``+``, filters, calls) weighs at most ``MAX_TEXT`` in all, counting the
  characters of its strings and the items of its nested lists, shared or not;
- an unknown name or field is an error naming it (never an empty string in a customer's mail),
  while a known field without a value (``None``) prints as nothing.

Text mail renders without autoescaping; the HTML version of a message (``html=True``) escapes
every value. Errors are ``TemplateProblem`` with the field and line. Pure: Jinja and the
signal catalog only, no Flask or SQLAlchemy.
"""

from __future__ import annotations

import re
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from functools import lru_cache, wraps
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import StrictUndefined, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer

from cs_app.accounts.signal_catalog import BOOLEAN, CATEGORY, SIGNALS
from cs_app.header_text import breaks_header, one_line_refusal
from cs_app.money import format_money

MAX_SUBJECT_SOURCE = 300
MAX_BODY_SOURCE = 20_000
MAX_SUBJECT = 300  # the stored, rendered subject
MAX_TEXT = 100_000  # any string a template builds, and the rendered output
MAX_ITEMS = 1_000  # items of a range or a repeated list
MAX_NUMBER_BITS = 256  # 2 ** 256 is already absurd in an email
FUEL = 100_000  # operations per render: a real message needs a few hundred
TIME_LIMIT_SECONDS = 2.0
LOOP_GUARD = "sandbox_loop_items"
CONCAT_GUARD = "sandbox_concat"
LITERAL_GUARD = "sandbox_literal"
MAX_WRAPSTRING = 10  # wordwrap's line break: "\n" or "<br>\n", not a payload
MAX_STRFTIME_FORMAT = 200
_STRFTIME_WIDTH = re.compile(r"%[-_0^#]*[0-9]")

NAMES = ("account", "contact", "csm", "recipient", "rule", "signals", "matched", "today")
NAME_HINT = ", ".join(NAMES)

SAFE_ATTRIBUTES: dict[type, set[str]] = {
    str: {
        "upper",
        "lower",
        "title",
        "capitalize",
        "strip",
        "lstrip",
        "rstrip",
        "startswith",
        "endswith",
        "split",
        "splitlines",
        "replace",
        "isdigit",
        "isalpha",
        "count",
    },
    dict: {"get", "items", "keys", "values"},
    list: {"count", "index"},
    tuple: {"count", "index"},
    date: {"year", "month", "day", "isoformat", "strftime", "weekday", "isoweekday"},
    int: set(),
    float: set(),
    bool: set(),
}
_PLAIN_TYPES = tuple(SAFE_ATTRIBUTES)


class TemplateProblem(Exception):
    """A template that cannot be rendered: which field, which line, what is wrong."""

    def __init__(self, field: str, message: str, line: int | None = None):
        self.field = field
        self.line = line
        where = f"{field.capitalize()}, line {line}" if line else field.capitalize()
        self.message = f"{where}: {message}"
        super().__init__(self.message)


class SandboxLimit(SecurityError):
    """A template tried to do more than a message needs (too big, too long, too much)."""


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str
    body_html: str | None = None


# --- the per-render budget ------------------------------------------------------------------


class _Budget:
    __slots__ = ("fuel", "deadline", "weights")

    def __init__(self) -> None:
        self.fuel = FUEL
        self.deadline = time.monotonic() + TIME_LIMIT_SECONDS
        # id -> (container, weight): the container is kept so its id is not reused
        self.weights: dict[int, tuple[Any, int]] = {}

    def spend(self) -> None:
        self.fuel -= 1
        if self.fuel < 0:
            raise SandboxLimit(
                f"the template does too much work (more than {FUEL:,} "
                f"operations); simplify its loops"
            )
        if time.monotonic() > self.deadline:  # every operation: each one is bounded
            raise SandboxLimit(
                f"the template took longer than {TIME_LIMIT_SECONDS:g} s to "
                f"render; simplify its loops"
            )


_budget: ContextVar[_Budget | None] = ContextVar("touchpoint_template_budget", default=None)


def _spend() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.spend()


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


def _weigh(value: Any, weights: dict[int, tuple[Any, int]]) -> int:
    """Characters of strings, digits of numbers and items of containers, counted through
    nested lists, tuples and dicts as often as they are referenced (``[a, a]`` weighs twice
    ``a``): what printing, comparing or hashing the value costs. Containers are remembered, so
    weighing a new list costs its length, not its depth."""
    if isinstance(value, str):
        return len(value) or 1
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    if not isinstance(value, (list, tuple, dict)):
        return 1
    known = weights.get(id(value))
    if known is not None:
        return known[1]
    total = 1
    for item in value.items() if isinstance(value, dict) else value:
        if isinstance(value, dict):
            total += _weigh(item[0], weights) + _weigh(item[1], weights)
        else:
            total += _weigh(item, weights)
        if total > MAX_TEXT:
            raise SandboxLimit(
                f"lists and dicts holding more than {MAX_TEXT:,} items and characters in all "
                f"are not allowed"
            )
    weights[id(value)] = (value, total)
    return total


def _weight(value: Any) -> int:
    budget = _budget.get()
    return _weigh(value, budget.weights if budget is not None else {})


def _check_size(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise SandboxLimit(f"text longer than {MAX_TEXT:,} characters is not allowed")
    if isinstance(value, int) and value.bit_length() > MAX_NUMBER_BITS:
        raise SandboxLimit(f"numbers above 2**{MAX_NUMBER_BITS} are not allowed in templates")
    if isinstance(value, (list, tuple, dict)):
        _weight(value)
    return value


def _checked_literal(value: Any) -> Any:
    """Every list, tuple and dict written in a template is weighed as it is built."""
    _spend()
    return _check_size(value)


def _limited_range(*args: int) -> range:
    _spend()
    numbers = range(*args)
    if len(numbers) > MAX_ITEMS:
        raise SandboxLimit(f"range() is limited to {MAX_ITEMS:,} items in templates")
    return numbers


def _loop_items(iterable: Iterable) -> Iterator:
    """Every loop of a template iterates through this, so each turn spends budget."""
    for item in iterable:
        _spend()
        yield item


def _guarded_concat(join: Callable[[Iterable[Any]], str]) -> Callable[..., str]:
    def concat(*parts: Any) -> str:
        _spend()
        if sum(len(str(part)) for part in parts) > MAX_TEXT:
            raise SandboxLimit(f"text longer than {MAX_TEXT:,} characters is not allowed")
        return join(parts)

    return concat


# --- filters: an allow-list, each spending budget and checked for size ------------------------


def _guard_filter(function: Callable, precheck: Callable[..., None] | None = None) -> Callable:
    @wraps(function)  # keeps jinja's pass_context / pass_environment markers
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _spend()
        if precheck is not None:
            precheck(*args, **kwargs)
        return _check_size(function(*args, **kwargs))

    return guarded


def _replace_size(text: Any, old: Any, new: Any, count: Any = None) -> int:
    text, old, new = str(text), str(old), str(new)
    occurrences = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * max(len(new) - len(old), 0)


def _precheck_replace(*args: Any, **kwargs: Any) -> None:
    # the filter is called as (eval_context, value, old, new[, count])
    values = [a for a in args if not hasattr(a, "autoescape")]
    if len(values) >= 3 and _replace_size(*values[:4]) > MAX_TEXT:
        raise SandboxLimit(f"replace() would make text longer than {MAX_TEXT:,} characters")


def _precheck_join(*args: Any, **kwargs: Any) -> None:
    values = [a for a in args if not hasattr(a, "autoescape")]
    if not values:
        return
    items = list(values[0]) if isinstance(values[0], (list, tuple, str)) else []
    separator = str(values[1]) if len(values) > 1 else str(kwargs.get("d", ""))
    total = sum(len(str(item)) for item in items[: MAX_TEXT + 1])
    if total + len(separator) * max(len(items) - 1, 0) > MAX_TEXT:
        raise SandboxLimit(f"join would make text longer than {MAX_TEXT:,} characters")


def _precheck_indent(*args: Any, **kwargs: Any) -> None:
    width = args[1] if len(args) > 1 else kwargs.get("width", 4)
    if isinstance(width, str):
        width = len(width)
    if isinstance(width, int) and width > 100:
        raise SandboxLimit("indent() is limited to 100 characters")
    text = str(args[0]) if args else ""
    if isinstance(width, int) and len(text) + (text.count("\n") + 1) * width > MAX_TEXT:
        raise SandboxLimit(f"indent() would make text longer than {MAX_TEXT:,} characters")


def _precheck_wordwrap(*args: Any, **kwargs: Any) -> None:
    # called as (environment, text, width, break_long_words, wrapstring, ...)
    values = [a for a in args if not hasattr(a, "autoescape")]
    wrapstring = values[3] if len(values) > 3 else kwargs.get("wrapstring")
    if wrapstring is not None and len(str(wrapstring)) > MAX_WRAPSTRING:
        raise SandboxLimit(f"wordwrap() breaks lines with at most {MAX_WRAPSTRING} characters")


def _precheck_sum(*args: Any, **kwargs: Any) -> None:
    # sum(start=[]) of lists copies them over and over: only numbers are summed
    values = [a for a in args if not hasattr(a, "autoescape")]
    start = values[2] if len(values) > 2 else kwargs.get("start", 0)
    if not isinstance(start, (int, float)):
        raise SandboxLimit("sum() adds numbers only in templates")


SAFE_FILTERS = (
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "filesizeformat",
    "first",
    "float",
    "int",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "reverse",
    "round",
    "select",
    "selectattr",
    "sort",
    "string",
    "striptags",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "wordcount",
)
PRECHECKS = {
    "replace": _precheck_replace,
    "join": _precheck_join,
    "indent": _precheck_indent,
    "wordwrap": _precheck_wordwrap,
    "sum": _precheck_sum,
}


# --- undefined names and fields ---------------------------------------------------------------


class _ClearUndefined(StrictUndefined):
    """Any use of an unknown name or field fails with a message naming it."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        name, owner = self._undefined_name, self._undefined_obj
        if self._undefined_exception is not UndefinedError:
            return f"templates cannot use {name!r}: it is not a field of the data"
        if self._undefined_hint:
            return self._undefined_hint
        if owner is missing:
            return f"{name!r} is unknown; a template can use {NAME_HINT}"
        if isinstance(owner, Mapping):
            known = ", ".join(sorted(str(key) for key in owner)) or "none"
            return f"there is no field {name!r} here; the fields are: {known}"
        return f"{type(owner).__name__} values have no {name!r}"


# --- the environment --------------------------------------------------------------------------


class _TouchpointSandbox(ImmutableSandboxedEnvironment):
    # every arithmetic operator, so none is folded at compile time unchecked
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, *, html: bool) -> None:
        super().__init__(
            autoescape=html,
            undefined=_ClearUndefined,
            keep_trailing_newline=True,
            finalize=_blank_none,
            auto_reload=False,
            cache_size=0,
        )
        self.filters = {name: _guard_filter(self.filters[name]) for name in SAFE_FILTERS}
        base = ImmutableSandboxedEnvironment().filters
        for name, precheck in PRECHECKS.items():
            self.filters[name] = _guard_filter(base[name], precheck)
        self.globals = {
            "range": _limited_range,
            "dict": dict,
            LOOP_GUARD: _loop_items,
            LITERAL_GUARD: _checked_literal,
            CONCAT_GUARD: _guarded_concat(markup_join if html else str_join),
        }

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_"):
            return False
        if isinstance(obj, _PLAIN_TYPES):
            return any(
                isinstance(obj, kind) and attr in allowed
                for kind, allowed in SAFE_ATTRIBUTES.items()
            )
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        """``str.format`` is refused like any attribute off the allow-list."""
        return None

    def getattr(self, obj: Any, attribute: str) -> Any:
        _spend()
        _refuse_underscored(attribute)
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]  # a field wins over a dict method of the same name
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _spend()
        if isinstance(argument, str):
            _refuse_underscored(argument)
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _spend()
        if (
            isinstance(__obj, types.BuiltinMethodType)
            and isinstance(__obj.__self__, str)
            and __obj.__name__ == "replace"
            and len(args) >= 2
            and _replace_size(__obj.__self__, *args[:3]) > MAX_TEXT
        ):
            raise SandboxLimit(f"replace() would make text longer than {MAX_TEXT:,} characters")
        if (
            isinstance(__obj, types.BuiltinMethodType)
            and isinstance(__obj.__self__, date)
            and __obj.__name__ == "strftime"
            and args
        ):
            _precheck_strftime(args[0])
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _spend()
        if operator == "%" and isinstance(left, str):
            raise SandboxLimit(
                "the % formatting of text is not available in templates; join values with ~"
            )
        if operator == "**" and isinstance(left, (int, float)) and isinstance(right, int):
            bits = max(abs(int(left)), 2).bit_length() * abs(right)
            if bits > MAX_NUMBER_BITS:
                raise SandboxLimit("that power is too large for a template")
        if (
            operator == "*"
            and isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > MAX_NUMBER_BITS
        ):
            raise SandboxLimit(f"numbers above 2**{MAX_NUMBER_BITS} are not allowed in templates")
        if operator == "*":
            sequence, times = (left, right) if _size(left) else (right, left)
            if isinstance(times, int) and (_size(sequence) or isinstance(sequence, str)):
                limit = MAX_TEXT if isinstance(sequence, str) else MAX_ITEMS
                if _size(sequence) * times > limit:
                    raise SandboxLimit(
                        f"repeating that would make more than {limit:,} "
                        f"{'characters' if limit == MAX_TEXT else 'items'}"
                    )
        if operator == "+" and _size(left) + _size(right) > MAX_TEXT:
            raise SandboxLimit(f"text longer than {MAX_TEXT:,} characters is not allowed")
        return _check_size(super().call_binop(context, operator, left, right))


def _precheck_strftime(format_: Any) -> None:
    """glibc pads ``%0999999Y`` to any width, in C, holding the GIL."""
    if isinstance(format_, str) and (
        len(format_) > MAX_STRFTIME_FORMAT or _STRFTIME_WIDTH.search(format_)
    ):
        raise SandboxLimit(
            f"strftime() takes a format of at most {MAX_STRFTIME_FORMAT} characters, "
            f"without widths like %010Y"
        )


def _refuse_underscored(name: str) -> None:
    if name.startswith("_"):
        raise SecurityError(f"templates cannot use {name!r}: names starting with _ are blocked")


def _blank_none(value: Any) -> Any:
    """A field without a value prints as nothing rather than "None"."""
    return "" if value is None else value


_ENVIRONMENTS = {False: _TouchpointSandbox(html=False), True: _TouchpointSandbox(html=True)}


def _guard_call(guard: str, arguments: list[nodes.Expr], lineno: int) -> nodes.Call:
    return nodes.Call(nodes.Name(guard, "load"), arguments, [], None, None, lineno=lineno)


class _Guards(NodeTransformer):
    """Routes every loop, every ``~`` and every list, tuple and dict literal of the parsed
    template through the budget guards, in one pass."""

    def visit_For(self, node: nodes.For) -> nodes.For:
        self.generic_visit(node)
        node.iter = _guard_call(LOOP_GUARD, [node.iter], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Call:
        self.generic_visit(node)
        return _guard_call(CONCAT_GUARD, list(node.nodes), node.lineno)

    def _literal(self, node: nodes.Expr) -> nodes.Expr:
        self.generic_visit(node)
        return _guard_call(LITERAL_GUARD, [node], node.lineno)

    visit_List = visit_Dict = _literal

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Expr:
        if node.ctx != "load":  # a target, as in {% for key, value in ... %}
            self.generic_visit(node)
            return node
        return self._literal(node)


def _guard_tree(tree: nodes.Template) -> nodes.Template:
    return _Guards().visit(tree)


def _underscored_names(tree: nodes.Template, source: str) -> list[tuple[int, str]]:
    """Attribute and constant item names starting with ``_``, in reading order."""
    found = [
        (node.lineno, node.attr)
        for node in tree.find_all(nodes.Getattr)
        if node.attr.startswith("_")
    ]
    found += [
        (node.lineno, node.arg.value)
        for node in tree.find_all(nodes.Getitem)
        if isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
        and node.arg.value.startswith("_")
    ]
    lines = source.splitlines() or [""]
    return sorted(
        found, key=lambda item: (item[0], lines[min(item[0], len(lines)) - 1].find(item[1]))
    )


@lru_cache(maxsize=512)
def _compiled(source: str, field: str, html: bool):
    """The template compiled once per source text (delivery renders it for every message)."""
    environment = _ENVIRONMENTS[html]
    filename = f"<{field}>"
    try:
        tree = environment.parse(source, name=field, filename=filename)
    except TemplateSyntaxError as error:
        raise TemplateProblem(field, _syntax_message(error), error.lineno) from None
    blocked = _underscored_names(tree, source)
    if blocked:
        line, name = blocked[0]
        raise TemplateProblem(
            field, f"{name!r} cannot be used: names starting with _ are blocked in templates", line
        )
    try:
        code = environment.compile(_guard_tree(tree), name=field, filename=filename)
    except TemplateSyntaxError as error:  # e.g. a filter that is not on the allow-list
        raise TemplateProblem(field, _syntax_message(error), error.lineno) from None
    return environment.template_class.from_code(environment, code, environment.make_globals(None))


def _syntax_message(error: TemplateSyntaxError) -> str:
    message = error.message or "syntax error"
    match = re.match(r"No filter named '([^']+)'", message)
    if match:
        return (
            f"there is no filter {match.group(1)!r} in templates; available: "
            f"{', '.join(sorted(set(SAFE_FILTERS) | set(PRECHECKS)))}"
        )
    return message


def _template_line(error: BaseException, field: str) -> int | None:
    line = None
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == f"<{field}>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def render(
    source: str, context: Mapping[str, Any], *, field: str = "body", html: bool = False
) -> str:
    """``source`` rendered with ``context``; raises ``TemplateProblem``."""
    template = _compiled(source, field, html)
    token = _budget.set(_Budget())
    pieces: list[str] = []
    length = 0
    try:
        for piece in template.generate(dict(context)):
            length += len(piece)
            if length > MAX_TEXT:
                raise TemplateProblem(
                    field, f"the rendered text is longer than {MAX_TEXT:,} characters"
                )
            pieces.append(piece)
    except TemplateProblem:
        raise
    except SecurityError as error:
        raise TemplateProblem(
            field, _security_message(error), _template_line(error, field)
        ) from None
    except UndefinedError as error:
        raise TemplateProblem(field, str(error), _template_line(error, field)) from None
    except RecursionError as error:
        raise TemplateProblem(
            field, "the template calls itself too deeply", _template_line(error, field)
        ) from None
    except MemoryError as error:
        raise TemplateProblem(
            field, "the template needs too much memory", _template_line(error, field)
        ) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as error:
        raise TemplateProblem(
            field, f"{type(error).__name__}: {error}", _template_line(error, field)
        ) from None
    finally:
        _budget.reset(token)
    return "".join(pieces)


def _security_message(error: SecurityError) -> str:
    message = str(error)
    if message.startswith("templates cannot use") or isinstance(error, SandboxLimit):
        return message
    return f"not allowed in templates ({message})"


def _html_paragraphs(text: str) -> str:
    paragraphs = [part.strip("\n") for part in re.split(r"\n\s*\n", text) if part.strip()]
    return "\n".join(f"<p>{part.replace(chr(10), '<br>' + chr(10))}</p>" for part in paragraphs)


def render_message(
    subject: str, body: str, context: Mapping[str, Any], *, html: bool = False
) -> RenderedMessage:
    """Subject (one line, at most 300 characters) and body; with ``html`` also the body as
    HTML paragraphs whose every value is escaped."""
    rendered_subject = " ".join(render(subject, context, field="subject").split())
    if len(rendered_subject) > MAX_SUBJECT:
        rendered_subject = rendered_subject[: MAX_SUBJECT - 1].rstrip() + "…"
    rendered_body = render(body, context, field="body")
    body_html = _html_paragraphs(render(body, context, field="body", html=True)) if html else None
    return RenderedMessage(rendered_subject, rendered_body, body_html)


def validate_template(subject: str, body: str) -> dict[str, str]:
    """What is wrong with a template, by field (empty when nothing is): syntax errors with
    their line, blocked names, unknown fields and sandbox violations found by rendering it
    against ``SAMPLE_CONTEXT``."""
    problems: dict[str, str] = {}
    for field, source, limit in (
        ("subject", subject, MAX_SUBJECT_SOURCE),
        ("body", body, MAX_BODY_SOURCE),
    ):
        if not (source or "").strip():
            problems[field] = f"Write the {field}."
        elif field == "subject" and breaks_header(source):
            problems[field] = one_line_refusal("subject")
        elif len(source) > limit:
            problems[field] = f"The {field} is at most {limit:,} characters."
        else:
            try:
                render(source, SAMPLE_CONTEXT, field=field)
                if field == "body":
                    render(source, SAMPLE_CONTEXT, field=field, html=True)
            except TemplateProblem as problem:
                problems[field] = problem.message
    return problems


# --- the context: plain data only ------------------------------------------------------------


def first_name(name: str | None) -> str:
    return (name or "").split(" ")[0] if name else ""


def _person(person: Mapping[str, Any] | None, *keys: str) -> dict[str, Any]:
    person = person or {}
    values = {key: person.get(key) or "" for key in ("name", "email", *keys)}
    values["first_name"] = first_name(values["name"])
    return values


def build_context(
    *,
    account: Mapping[str, Any],
    contact: Mapping[str, Any] | None = None,
    csm: Mapping[str, Any] | None = None,
    recipient: Mapping[str, Any] | None = None,
    rule: Mapping[str, Any] | None = None,
    signals: Mapping[str, Any] | None = None,
    matched: Mapping[str, Any] | None = None,
    today: date,
) -> dict[str, Any]:
    """The names a template sees. ``account`` holds the account's columns (``arr_minor``,
    ``currency``, ``renewal_date``...), ``contact`` the customer contact (the recipient, or the
    account's primary contact), ``csm`` the owning CSM (or whoever handles a pooled account),
    ``recipient`` who the message goes to, ``signals`` the account's current signals and
    ``matched`` the signal values that made the rule fire."""
    renewal = account.get("renewal_date")
    csm_values = _person(csm)
    if not csm_values["name"]:
        csm_values.update(name="the Customer Success team", first_name="the team")
    return {
        "account": {
            "name": account.get("name") or "",
            "external_id": account.get("external_id") or "",
            "segment": account.get("segment") or "",
            "lifecycle_stage": account.get("lifecycle_stage") or "",
            "engagement_model": account.get("engagement_model") or "",
            "domain": account.get("domain") or "",
            "industry": account.get("industry") or "",
            "product_plan": account.get("product_plan") or "",
            "renewal_date": renewal,
            "contract_start": account.get("contract_start"),
            "days_to_renewal": (renewal - today).days if renewal else None,
            "trial_ends_on": account.get("trial_ends_on"),
            "arr": format_money(account.get("arr_minor"), account.get("currency"), missing=""),
            "arr_minor": account.get("arr_minor"),
            "currency": account.get("currency") or "",
            "seats_purchased": account.get("seats_purchased"),
            "csm_name": csm_values["name"],
        },
        "contact": _person(contact, "title"),
        "csm": csm_values,
        "recipient": _person(recipient),
        "rule": {"name": (rule or {}).get("name") or "", "kind": (rule or {}).get("kind") or ""},
        "signals": {key: (signals or {}).get(key) for key in SIGNALS},
        "matched": dict(matched or {}),
        "today": today,
    }


def _sample_signal(key: str) -> Any:
    signal = SIGNALS[key]
    if signal.kind == CATEGORY:
        return signal.categories[0]
    if signal.kind == BOOLEAN:
        return False
    return 12


SAMPLE_CONTEXT = build_context(
    account={
        "name": "Acme Corp",
        "external_id": "ACME-001",
        "segment": "Mid-Market",
        "lifecycle_stage": "adoption",
        "engagement_model": "hybrid",
        "domain": "acme.example",
        "industry": "Software",
        "product_plan": "Team",
        "renewal_date": date(2027, 1, 15),
        "contract_start": date(2026, 1, 15),
        "trial_ends_on": None,
        "arr_minor": 2_400_000,
        "currency": "USD",
        "seats_purchased": 50,
    },
    contact={"name": "Dana Smith", "email": "dana@acme.example", "title": "Head of Operations"},
    csm={"name": "Casey Miller", "email": "casey@vendor.example"},
    recipient={"name": "Dana Smith", "email": "dana@acme.example"},
    rule={"name": "Usage dropped", "kind": "risk"},
    signals={key: _sample_signal(key) for key in SIGNALS},
    matched={key: _sample_signal(key) for key in SIGNALS},
    today=date(2026, 11, 21),
)
