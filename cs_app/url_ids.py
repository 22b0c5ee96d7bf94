"""The ``int`` of every route (``/plans/<int:plan_id>``) is an id the database can hold.

Werkzeug's own converter takes any number of digits, and a 22-digit id reached the database
(SQLite: "Python int too large to convert to SQLite INTEGER", a 500). This one matches only up
to ``MAX_ID``, so a larger number is simply no page: 404, like any id that does not exist.

A larger number becomes 0, an id no row has, rather than failing the match: werkzeug answers
405 instead of 404 when a converter refuses a path that another method's rule matches
(``PUT /api/v1/pools/99999999999`` beside ``GET``), so refusing in the converter lied about
the method.
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter, Map

from cs_app.request_args import MAX_ID


class DatabaseIdConverter(IntegerConverter):
    def __init__(
        self,
        map: Map,  # noqa: A002  (werkzeug's name for it)
        fixed_digits: int = 0,
        min: int | None = None,  # noqa: A002
        max: int | None = MAX_ID,  # noqa: A002
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, None, signed)
        self.largest = max

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        return 0 if self.largest is not None and number > self.largest else number
