"""The lenient JSON the Integration Server reads (``org.json``'s ``JSONObject`` grammar).

Expensify's servlet parses ``requestJobDescription`` with ``org.json`` (its 2013 script
matched ``HTTP Status 500 - JSONObject`` error pages, and that script's single-quoted
pseudo-JSON was answered with a file name as late as 2018). Expensify's own published
examples rely on that leniency: the report status updater example has a trailing comma
inside ``credentials``. This reader accepts what ``org.json``'s ``JSONTokener`` accepts:

* strings in double **or single** quotes (escapes ``\\b \\t \\n \\f \\r \\" \\' \\\\ \\/``
  and ``\\uXXXX``), and unquoted words (``true``, ``false``, ``null``, numbers, otherwise a
  string) ending at whitespace or one of ``,:]}/\\"[{;=#``;
* ``,`` or ``;`` between members and elements, a trailing separator before ``}``/``]``;
* ``:``, ``=`` or ``=>`` between a key and its value;
* an empty element (``[1,,2]``) is ``null``.

It refuses what ``org.json`` refuses, with ``org.json``'s message (``JSONObject text must
begin with '{' at 1 [character 2 line 1]``, ``Duplicate key "type"``, ``Expected a ',' or
'}'``...): the caller turns it into the servlet's HTTP 500 error page. Integers are
``int``; numbers with a fraction or an exponent are :class:`~decimal.Decimal` (never
``float``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Final

__all__ = ["LenientJSONError", "loads_object"]

_STOP: Final = frozenset(',:]}/\\"[{;=#')
_ESCAPES: Final = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "/": "/",
}


class LenientJSONError(ValueError):
    """The text is not JSON even by ``org.json``'s lenient rules (message: org.json's)."""


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> LenientJSONError:
        line = self.text.count("\n", 0, self.pos) + 1
        column = self.pos - (self.text.rfind("\n", 0, self.pos) + 1)
        return LenientJSONError(f"{message} at {self.pos} [character {column + 1} line {line}]")

    def next_clean(self) -> str:
        """The next non-whitespace character ('' at the end), consumed."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char > " ":
                return char
        self.pos += 1
        return ""

    def back(self) -> None:
        self.pos -= 1

    def string(self, quote: str) -> str:
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("Unterminated string")
            char = self.text[self.pos]
            self.pos += 1
            if char in "\n\r":
                raise self.error("Unterminated string")
            if char == quote:
                return _join_surrogates("".join(out))
            if char != "\\":
                out.append(char)
                continue
            if self.pos >= len(self.text):
                raise self.error("Unterminated string")
            escape = self.text[self.pos]
            self.pos += 1
            if escape == "u":
                digits = self.text[self.pos : self.pos + 4]
                if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                    raise self.error("Illegal escape.")
                out.append(chr(int(digits, 16)))
                self.pos += 4
            elif escape in _ESCAPES:
                out.append(_ESCAPES[escape])
            else:
                raise self.error("Illegal escape.")

    def value(self) -> Any:
        char = self.next_clean()
        if char in ('"', "'"):
            return self.string(char)
        if char == "{":
            self.back()
            return self.obj()
        if char == "[":
            self.back()
            return self.array()
        start = self.pos - 1
        while char and char > " " and char not in _STOP:
            char = self.text[self.pos] if self.pos < len(self.text) else ""
            self.pos += 1
        self.back()
        word = self.text[start : self.pos].strip()
        if not word:
            raise self.error("Missing value")
        return _word(word)

    def obj(self) -> dict[str, Any]:
        if self.next_clean() != "{":
            raise self.error("A JSONObject text must begin with '{'")
        out: dict[str, Any] = {}
        while True:
            char = self.next_clean()
            if char == "":
                raise self.error("A JSONObject text must end with '}'")
            if char == "}":
                return out
            self.back()
            key = self.value()
            if isinstance(key, dict | list):
                raise self.error("Missing value")
            key = _key_text(key)
            char = self.next_clean()
            if char == "=":
                if self.pos < len(self.text) and self.text[self.pos] == ">":
                    self.pos += 1
            elif char != ":":
                raise self.error("Expected a ':' after a key")
            if key in out:
                raise self.error(f'Duplicate key "{key}"')
            out[key] = self.value()
            char = self.next_clean()
            if char in (",", ";"):
                if self.next_clean() == "}":
                    return out
                self.back()
            elif char == "}":
                return out
            else:
                raise self.error("Expected a ',' or '}'")

    def array(self) -> list[Any]:
        if self.next_clean() != "[":
            raise self.error("A JSONArray text must start with '['")
        out: list[Any] = []
        if self.next_clean() == "]":
            return out
        self.back()
        while True:
            if self.next_clean() == ",":
                self.back()
                out.append(None)
            else:
                self.back()
                out.append(self.value())
            char = self.next_clean()
            if char in (",", ";"):
                if self.next_clean() == "]":
                    return out
                self.back()
            elif char == "]":
                return out
            else:
                raise self.error("Expected a ',' or ']'")


def _join_surrogates(text: str) -> str:
    """Combine ``\ud800\udc00``-style escaped pairs (Java strings are UTF-16)."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        return text  # a lone surrogate stays as it is


def _key_text(key: Any) -> str:
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _word(word: str) -> Any:
    lower = word.lower()
    if lower == "true":
        return True
    if lower == "false":
        return False
    if lower == "null":
        return None
    if word[0] in "-0123456789":
        if all(c in "-0123456789" for c in word[1:]) and word not in ("-",):
            try:
                return int(word)
            except ValueError:
                return word
        try:
            return Decimal(word)
        except InvalidOperation:
            return word
    return word


def loads_object(text: str) -> dict[str, Any]:
    """Parse ``text`` as ``new JSONObject(text)`` does; :class:`LenientJSONError` if not."""
    reader = _Reader(text)
    if reader.next_clean() != "{":
        raise reader.error("A JSONObject text must begin with '{'")
    reader.back()
    # org.json ignores whatever follows the object's closing brace.
    return reader.obj()
