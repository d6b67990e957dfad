"""The OData $filter builder: literals, parenthesisation and injection resistance.

The tests carry their own small tokenizer and parser of the OData subset, so the
properties check what a server would read, not the builder's own idea of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acumatica_client._filters import Field, Filter, expand_param, literal, select_param

# ----------------------------------------------------------------- tokenizer + parser

KEYWORDS = {"and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le"}
FUNCS = {"startswith", "endswith", "substringof"}
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)?")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Tok:
    kind: str  # "str" "num" "dto" "bool" "null" "kw" "func" "field" "(" ")" ","
    value: Any


def tokenize(text: str) -> list[Tok]:
    """Split OData filter text into tokens; a string literal's '' is one quote."""
    out: list[Tok] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == " ":
            i += 1
        elif ch in "(),":
            out.append(Tok(ch, ch))
            i += 1
        elif ch == "'":
            i += 1
            chars: list[str] = []
            while True:
                if i >= len(text):
                    raise ValueError("unterminated string literal")
                if text[i] == "'":
                    if text[i + 1 : i + 2] == "'":
                        chars.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                chars.append(text[i])
                i += 1
            out.append(Tok("str", "".join(chars)))
        elif text.startswith("datetimeoffset'", i):
            end = text.index("'", i + len("datetimeoffset'"))
            inner = unquote(text[i + len("datetimeoffset'") : end])
            out.append(Tok("dto", datetime.fromisoformat(inner)))
            i = end + 1
        elif match := NUMBER.match(text, i):
            out.append(Tok("num", Decimal(match.group())))
            i = match.end()
        elif match := WORD.match(text, i):
            word = match.group()
            if word in ("true", "false"):
                out.append(Tok("bool", word == "true"))
            elif word == "null":
                out.append(Tok("null", None))
            elif word in KEYWORDS:
                out.append(Tok("kw", word))
            elif word in FUNCS:
                out.append(Tok("func", word))
            else:
                out.append(Tok("field", word))
            i = match.end()
        else:
            raise ValueError(f"unexpected {ch!r} at {i} in {text!r}")
    return out


class Parser:
    """Precedence parser: not > and > or. Produces normalised ASTs (n-ary and/or)."""

    def __init__(self, text: str) -> None:
        self.toks = tokenize(text)
        self.pos = 0

    def parse(self) -> Any:
        node = self.or_()
        assert self.pos == len(self.toks), f"trailing tokens {self.toks[self.pos :]}"
        return node

    def peek(self) -> Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self, kind: str, value: Any = None) -> Tok:
        tok = self.peek()
        assert tok is not None, f"expected {kind}, got the end"
        assert tok.kind == kind, f"expected {kind}, got {tok}"
        assert value is None or tok.value == value
        self.pos += 1
        return tok

    def _nary(self, op: str, sub: Any) -> Any:
        items = [sub()]
        while (tok := self.peek()) is not None and tok == Tok("kw", op):
            self.pos += 1
            items.append(sub())
        return items[0] if len(items) == 1 else normal((op, items))

    def or_(self) -> Any:
        return self._nary("or", self.and_)

    def and_(self) -> Any:
        return self._nary("and", self.unary)

    def unary(self) -> Any:
        tok = self.peek()
        assert tok is not None, "unexpected end"
        if tok == Tok("kw", "not"):
            self.pos += 1
            return ("not", self.unary())
        if tok.kind == "(":
            self.pos += 1
            node = self.or_()
            self.take(")")
            return node
        if tok.kind == "func":
            self.pos += 1
            self.take("(")
            if tok.value == "substringof":
                text = self.take("str").value
                self.take(",")
                field = self.take("field").value
                node = ("contains", field, text)
            else:
                field = self.take("field").value
                self.take(",")
                node = (tok.value, field, self.take("str").value)
            self.take(")")
            return node
        field = self.take("field").value
        op = self.take("kw").value
        assert op in {"eq", "ne", "gt", "ge", "lt", "le"}
        value = self.toks[self.pos]
        assert value.kind in {"str", "num", "dto", "bool", "null"}
        self.pos += 1
        return (op, field, value.value)


def normal(node: Any) -> Any:
    """Flatten nested and/or of the same kind (they are associative)."""
    if isinstance(node, tuple) and node[0] in ("and", "or"):
        flat: list[Any] = []
        for item in node[1]:
            item = normal(item)
            if isinstance(item, tuple) and item[0] == node[0]:
                flat.extend(item[1])
            else:
                flat.append(item)
        return (node[0], flat)
    return node


def parse(text: str) -> Any:
    return Parser(text).parse()


# ------------------------------------------------------------------------ strategies

RESERVED = KEYWORDS | FUNCS | {"true", "false", "null", "datetimeoffset"}
SEGMENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True).filter(
    lambda s: s.lower() not in RESERVED
)
NAMES = st.one_of(SEGMENT, st.tuples(SEGMENT, SEGMENT).map("/".join))
OFFSETS = st.builds(
    timezone,
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
        lambda m: timedelta(minutes=m)
    ),
)
AWARE = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9000, 1, 1), timezones=OFFSETS
)
VALUES = st.one_of(
    st.text(),
    st.integers(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    AWARE,
)


def expected_value(value: Any) -> Any:
    """What the server reads back from the literal of ``value``."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return Decimal(value)
    assert isinstance(value, datetime)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@st.composite
def leaves(draw: st.DrawFn) -> tuple[Filter, Any]:
    field = Field(draw(NAMES))
    op = draw(st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le", "sw", "ew", "contains"]))
    if op in ("sw", "ew", "contains"):
        text = draw(st.text())
        name = {"sw": "startswith", "ew": "endswith", "contains": "contains"}[op]
        method = {"sw": field.startswith, "ew": field.endswith, "contains": field.contains}[op]
        return method(text), (name, field.name, text)
    value = draw(VALUES)
    return getattr(field, op)(value), (op, field.name, expected_value(value))


def _extend(children: st.SearchStrategy[tuple[Filter, Any]]) -> st.SearchStrategy[Any]:
    pairs = st.tuples(children, children)
    return st.one_of(
        pairs.map(lambda p: (p[0][0] & p[1][0], normal(("and", [p[0][1], p[1][1]])))),
        pairs.map(lambda p: (p[0][0] | p[1][0], normal(("or", [p[0][1], p[1][1]])))),
        children.map(lambda c: (~c[0], ("not", c[1]))),
        st.lists(children, min_size=1, max_size=4).map(
            lambda cs: (
                Filter.any_of(c[0] for c in cs),
                normal(("or", [c[1] for c in cs])) if len(cs) > 1 else cs[0][1],
            )
        ),
        st.lists(children, min_size=1, max_size=4).map(
            lambda cs: (
                Filter.all_of(c[0] for c in cs),
                normal(("and", [c[1] for c in cs])) if len(cs) > 1 else cs[0][1],
            )
        ),
    )


TREES = st.recursive(leaves(), _extend, max_leaves=8)


# ----------------------------------------------------------------------------- tests


class TestLiterals:
    @given(s=st.text())
    def test_string_literal_parses_back(self, s: str) -> None:
        """For any string, its literal is one token that reads back as the same string."""
        lit = literal(s)
        assert tokenize(lit) == [Tok("str", s)]
        assert lit.count("'") % 2 == 0

    @given(s=st.text())
    def test_comparison_is_exactly_three_tokens(self, s: str) -> None:
        """Field eq <any string> is always field, operator, one literal: nothing injected."""
        text = Field("VendorRef").eq(s).to_odata()
        assert tokenize(text) == [Tok("field", "VendorRef"), Tok("kw", "eq"), Tok("str", s)]

    @pytest.mark.parametrize(
        "attack",
        [
            "x' or 1 eq 1 or 'a",
            "x') or (1 eq 1",
            "'",
            "''",
            "a' eq 'a' or VendorRef ne '",
            "x' or substringof('',VendorRef) or 'y",
        ],
    )
    def test_injection_stays_one_literal(self, attack: str) -> None:
        """A quote-bearing ID cannot change the query's structure."""
        parsed = parse((Field("VendorRef").eq(attack) & Field("Type").eq("Bill")).to_odata())
        assert parsed == ("and", [("eq", "VendorRef", attack), ("eq", "Type", "Bill")])

    def test_golden_string(self) -> None:
        """Quotes are doubled, the OData rule."""
        assert Field("VendorRef").eq("x' or 1 eq 1 or 'a").to_odata() == (
            "VendorRef eq 'x'' or 1 eq 1 or ''a'"
        )
        assert literal("O'Brien") == "'O''Brien'"

    def test_datetime_matches_reference_form(self) -> None:
        """The date-time literal, URL-encoded once by the query string, is the documented form."""
        dt = datetime(2024, 7, 15, 10, 31, 28, 402000, tzinfo=timezone(timedelta(hours=3)))
        assert Field("LastModifiedDateTime").gt(dt).to_odata() == (
            "LastModifiedDateTime gt datetimeoffset'2024-07-15T10:31:28.402+03:00'"
        )
        assert literal(datetime(2024, 1, 1, tzinfo=UTC)) == (
            "datetimeoffset'2024-01-01T00:00:00.000+00:00'"
        )

    @given(dt=AWARE)
    def test_datetime_reads_back_to_the_millisecond(self, dt: datetime) -> None:
        """A tz-aware datetime reads back as the same instant, truncated to milliseconds."""
        (tok,) = tokenize(literal(dt))
        assert tok.kind == "dto"
        assert tok.value == expected_value(dt)
        assert tok.value.utcoffset() == dt.utcoffset()

    def test_date_is_midnight_utc(self) -> None:
        """A date filters as that day's midnight UTC."""
        assert literal(date(2024, 1, 15)) == literal(datetime(2024, 1, 15, tzinfo=UTC))

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (True, "true"),
            (False, "false"),
            (None, "null"),
            (0, "0"),
            (-42, "-42"),
            (Decimal("12.50"), "12.50"),
            (Decimal("1E+3"), "1000"),
            (Decimal("-5E-3"), "-0.005"),
        ],
    )
    def test_plain_literals(self, value: Any, expected: str) -> None:
        """Booleans, null, integers and Decimals are plain OData literals."""
        assert literal(value) == expected

    def test_naive_datetime_refused(self) -> None:
        """A naive datetime is a ValueError (no guessing of zones)."""
        with pytest.raises(ValueError, match="time zone"):
            Field("LastModifiedDateTime").gt(datetime(2024, 1, 1))

    @pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
    def test_non_finite_refused(self, value: Decimal) -> None:
        """NaN and infinity have no literal."""
        with pytest.raises(ValueError, match="cannot filter"):
            literal(value)

    @pytest.mark.parametrize("value", [1.5, b"x", object(), [1]])
    def test_other_types_refused(self, value: Any) -> None:
        """Floats and other types are TypeErrors (use Decimal)."""
        with pytest.raises(TypeError):
            literal(value)

    def test_function_argument_must_be_text(self) -> None:
        """startswith/endswith/contains take strings only."""
        with pytest.raises(TypeError):
            Field("VendorRef").startswith(5)  # type: ignore[arg-type]


class TestFieldNames:
    @pytest.mark.parametrize("name", ["VendorRef", "MainContact/Email", "_x1", "A_b/C_d"])
    def test_valid(self, name: str) -> None:
        """Identifiers and one slash path are accepted."""
        assert Field(name).name == name

    @pytest.mark.parametrize(
        "name",
        ["", "1A", "A B", "A/B/C", "A/", "/A", "A-B", "A'", "and", "Not", "true", "null", "A/eq"],
    )
    def test_invalid(self, name: str) -> None:
        """Anything else, keywords included, is a ValueError."""
        with pytest.raises(ValueError, match="field name"):
            Field(name)

    def test_non_string(self) -> None:
        """A non-string name is a ValueError, not coerced."""
        with pytest.raises(ValueError, match="field name"):
            Field(None)  # type: ignore[arg-type]

    @given(name=st.text())
    def test_arbitrary_text(self, name: str) -> None:
        """Any text is either a clean identifier path or refused."""
        pattern = r"[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)?"
        ok = re.fullmatch(pattern, name) and not any(p.lower() in RESERVED for p in name.split("/"))
        if ok:
            assert Field(name).eq(1).to_odata() == f"{name} eq 1"
        else:
            with pytest.raises(ValueError, match="field name"):
                Field(name)


class TestCombinators:
    def test_golden(self) -> None:
        """Operators, functions, in_ and combinators render as documented."""
        vendor, kind = Field("VendorRef"), Field("Type")
        a, b, c = vendor.eq("EXB-1"), kind.eq("Bill"), Field("Hold").eq(True)
        assert vendor.ne("x").to_odata() == "VendorRef ne 'x'"
        assert Field("Amount").ge(Decimal("10.00")).to_odata() == "Amount ge 10.00"
        assert Field("Amount").lt(5).to_odata() == "Amount lt 5"
        assert Field("Amount").le(5).to_odata() == "Amount le 5"
        assert vendor.startswith("EXB-").to_odata() == "startswith(VendorRef,'EXB-')"
        assert vendor.endswith("-1").to_odata() == "endswith(VendorRef,'-1')"
        assert Field("Description").contains("taxi").to_odata() == (
            "substringof('taxi',Description)"
        )
        assert Field("Status").in_(["Open", "Balanced"]).to_odata() == (
            "(Status eq 'Open' or Status eq 'Balanced')"
        )
        assert Field("Status").in_(["Open"]).to_odata() == "Status eq 'Open'"
        assert (a & b & c).to_odata() == "VendorRef eq 'EXB-1' and Type eq 'Bill' and Hold eq true"
        assert (
            (a | b) & c
        ).to_odata() == "(VendorRef eq 'EXB-1' or Type eq 'Bill') and Hold eq true"
        assert (a | b & c).to_odata() == "VendorRef eq 'EXB-1' or Type eq 'Bill' and Hold eq true"
        assert (~(a | b)).to_odata() == "not (VendorRef eq 'EXB-1' or Type eq 'Bill')"
        assert (~a & b).to_odata() == "not (VendorRef eq 'EXB-1') and Type eq 'Bill'"
        assert str(a) == a.to_odata()

    @given(tree=TREES)
    def test_structure_survives_rendering(self, tree: tuple[Filter, Any]) -> None:
        """Any combination renders to text that parses back to the same expression tree."""
        built, expected = tree
        text = built.to_odata()
        assert text.count("'") % 2 == 0
        kinds = [tok.kind for tok in tokenize(text)]
        assert kinds.count("(") == kinds.count(")")
        assert parse(text) == expected

    def test_empty_in_and_groups_refused(self) -> None:
        """in_() and any_of/all_of need at least one item."""
        with pytest.raises(ValueError, match="at least one"):
            Field("Status").in_([])
        with pytest.raises(ValueError, match="at least one"):
            Filter.any_of([])
        with pytest.raises(ValueError, match="at least one"):
            Filter.all_of([])

    def test_combining_with_text_is_refused(self) -> None:
        """A raw string cannot be and-ed into a filter."""
        with pytest.raises(TypeError):
            Field("A").eq(1) & "B eq 2"  # type: ignore[operator]


class TestParams:
    def test_select_and_expand(self) -> None:
        """Names are validated, de-duplicated in order and comma-joined."""
        assert select_param(["VendorRef", "Details/Amount", "VendorRef"]) == (
            "VendorRef,Details/Amount"
        )
        assert expand_param(["Details", "Operations/Material"]) == "Details,Operations/Material"
        assert expand_param("Details") == "Details"

    @pytest.mark.parametrize("names", [[], ["A,B"], ["A B"], ["$x"], ["and"]])
    def test_bad_names(self, names: list[str]) -> None:
        """Empty lists and non-identifiers are refused."""
        with pytest.raises(ValueError, match="name"):
            select_param(names)
