"""What a JSON value sent to us may hold before it is stored: how deep it nests, which numbers
and which characters. Pure.

The databases refuse what Python accepts: PostgreSQL stores no NUL character in text or JSON,
float8 holds no infinity in JSON and no number beyond about 1e308, and BIGINT stops at 2**63-1.
A value that breaks one of these is refused here, with a message, before it reaches a statement
that would fail for a whole batch.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_JSON_DEPTH = 20  # levels of objects and arrays inside one stored JSON value
MAX_INT = 2**63 - 1  # BIGINT, the widest integer either database stores
MIN_INT = -(2**63)
MAX_FLOAT = 1e308  # float8 holds a little more; a number this large is no measurement
# a body nested deeper than this is cut (the cut part becomes null) before it is parsed: the
# parsers recurse, and a value this deep is refused anyway
MAX_BODY_DEPTH = MAX_JSON_DEPTH + 40

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def number_problem(value: Any) -> str | None:
    """Why ``value`` (an int or a float) cannot be stored, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            return "whole numbers must lie between -2**63 and 2**63-1"
        return None
    if isinstance(value, float) and (not math.isfinite(value) or abs(value) > MAX_FLOAT):
        return "numbers must be finite and at most 1e308 in size"
    return None


def text_problem(value: str) -> str | None:
    """Why the string ``value`` cannot be stored, or None."""
    return "text must not contain the NUL character (\\u0000)" if "\x00" in value else None


def json_value_problem(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why the decoded JSON ``value`` cannot be stored, or None: nested more than ``max_depth``
    objects and arrays deep, a number out of range or a NUL character in a key or a string.
    Walks without recursion, so any depth is safe to check."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                return f"nests more than {max_depth} levels of objects and arrays"
            if isinstance(item, dict):
                for key in item:
                    if isinstance(key, str) and text_problem(key):
                        return text_problem(key)
                children = item.values()
            else:
                children = item
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return problem
        elif isinstance(item, int | float):
            problem = number_problem(item)
            if problem:
                return problem
    return None


def cut_deep_json(text: str, max_depth: int = MAX_BODY_DEPTH) -> str:
    """``text`` with every array or object nested deeper than ``max_depth`` replaced by
    ``null``, so that a recursive parser can read the rest. The containers at ``max_depth``
    remain, so whatever held the deep part is still deeper than any limit below it and is
    refused by ``json_value_problem`` on its own, beside the items that are fine."""
    pieces: list[str] = []
    depth = 0
    cut_from: int | None = None
    kept_until = 0
    for token in _JSON_TOKEN.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth == max_depth + 1 and cut_from is None:
                cut_from = token.start()
        elif mark in "]}":
            if depth == max_depth + 1 and cut_from is not None:
                pieces.append(text[kept_until:cut_from])
                pieces.append("null")
                kept_until = token.end()
                cut_from = None
            depth -= 1
    if cut_from is not None:  # never closed: the parser will say the body is not JSON
        pieces.append(text[kept_until:cut_from])
        pieces.append("null")
        return "".join(pieces)
    pieces.append(text[kept_until:])
    return "".join(pieces)
