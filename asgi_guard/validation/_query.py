"""Query string to the mapping a query Struct is converted from.

Keys repeat only for list-like fields; a repeated scalar is refused rather than silently taking the
first or the last value (HTTP parameter pollution: two layers must never read different values).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from asgi_guard.validation._errors import malformed, validation_error


def parse_query(raw: bytes, multi: frozenset[str], max_params: int, limit: int) -> dict[str, str | list[str]]:
    """The parameters of ``raw`` (a scope's ``query_string``).

    Raises:
        GuardError: ``malformed_request`` for invalid UTF-8 or too many parameters,
            ``validation_error`` for a repeated scalar parameter.
    """
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=max_params, errors="strict")
    except ValueError as exc:  # UnicodeDecodeError included
        raise malformed("invalid_query_string", f"The query string is not valid: {exc}", limit) from exc
    params: dict[str, str | list[str]] = {}
    lists: dict[str, list[str]] = {}
    for key, value in pairs:
        if key in multi:
            lists.setdefault(key, []).append(value)
        elif key in params:
            raise validation_error(f"Expected one value, got several - at `$.{key}`", "query", limit)
        else:
            params[key] = value
    params.update(lists)
    return params


__all__ = ("parse_query",)
