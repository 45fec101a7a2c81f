"""JSON from outside, parsed with a bounded depth: the one parser every ingest path uses.

``json.loads`` recurses once per nesting level, so a body of 200,000 ``[`` raises
``RecursionError``: an HTTP 500 (the sender retries forever) or a crashed file function
(the notification is redelivered forever). orjson stops at 1,024 levels by itself, but
the records it returns can still be too deep to serialise again (orjson writes at most
255 levels). So every external JSON document (an HTTP body, a JSON file, an NDJSON line)
is refused with :class:`JsonTooDeep` beyond ``Settings.max_json_depth`` levels, before
anything recurses. A SalesSphere batch needs four (``{"records": [order, {"items":
[item]}]}``), so the limit leaves room for any honest sender.

Reading is otherwise exactly ``json.loads``'s: orjson when it reads the bytes the same way
(it refuses NaN, lone surrogates and a BOM, and reads integers beyond 64 bits as floats;
those documents take the standard library's path), so every document parses, or fails,
as before.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import orjson

#: Digit runs this long may be integers beyond 64 bits, which orjson reads as floats.
_LONG_NUMBER = re.compile(rb"\d{19}")
#: A JSON string, or an unterminated one running to the end (possessive: linear time).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_CONTAINERS = frozenset((list, dict))
_STEP = [0] * 256
for _open, _close in (b"[]", b"{}"):
    _STEP[_open], _STEP[_close] = 1, -1


class JsonTooDeep(ValueError):
    """The document nests deeper than the limit; nothing of it is used."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"JSON nested more than {limit} levels deep (the limit; a batch needs 4); "
            "send flat records"
        )
        self.limit = limit


def nesting_exceeds(data: bytes, limit: int) -> bool:
    """Would parsing ``data`` open more than ``limit`` arrays/objects at once?

    Counted on the bytes (strings removed, then the running balance of brackets), so it
    is safe on any input; unbalanced or malformed input is counted the same way, which is
    how deep a recursive parser would go before noticing.
    """
    skeleton = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if skeleton.count(b"[") + skeleton.count(b"{") <= limit:
        return False
    return max(accumulate(map(_STEP.__getitem__, skeleton))) > limit


def deeper_than(value: Any, limit: int) -> bool:
    """Does a parsed value nest more than ``limit`` lists/dicts (level by level, no recursion)?

    Checks what the JSON parsers return (exact ``list``/``dict``); a node whose children
    are all scalars (almost every record) costs one C-level pass over its values.
    """
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for node in level:
            children = node.values() if type(node) is dict else node
            if not _CONTAINERS.isdisjoint(map(type, children)):
                below.extend(child for child in children if type(child) in _CONTAINERS)
        level = below
    return False


def loads(data: bytes, *, max_depth: int, encoding: str = "utf-8") -> Any:
    """``json.loads(data.decode(encoding))``, refusing documents deeper than ``max_depth``.

    Raises :class:`JsonTooDeep`, ``UnicodeDecodeError`` or ``json.JSONDecodeError``.
    """
    if not _LONG_NUMBER.search(data):
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # the standard library decides (and explains) below
        else:
            if deeper_than(value, max_depth):
                raise JsonTooDeep(max_depth)
            return value
    if nesting_exceeds(data, max_depth):
        raise JsonTooDeep(max_depth)
    return json.loads(data.decode(encoding))
