"""Text that ends up in an email header — a contact's name, an address, a subject — is one line.

A line break there would end the header and start another (``Bcc: …``), and Python's email
package refuses such a value outright, so it is refused where it enters (contacts, templates)
and made one line, or failed readably, where a message is built (pure).
"""

from __future__ import annotations

import unicodedata

# Control characters (CR, LF, NUL, tab …) and the Unicode line and paragraph separators.
_NOT_IN_A_HEADER = frozenset(("Cc", "Zl", "Zp"))


def breaks_header(value: str) -> bool:
    """True when ``value`` holds a line break or another control character."""
    return any(unicodedata.category(character) in _NOT_IN_A_HEADER for character in value)


def one_line_refusal(label: str) -> str:
    """What a form or the API says about a ``label`` value with a line break in it."""
    return f"Write the {label} on one line, without line breaks or control characters."


def one_line(value: str) -> str:
    """``value`` as one header line: whitespace runs (line breaks too) become one space and
    other control characters go."""
    spaced = " ".join(value.split())
    return "".join(
        character for character in spaced if unicodedata.category(character) not in _NOT_IN_A_HEADER
    )
