"""cents_to_decimal: Expensify hundredths to Decimal in the currency's ISO precision."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expensify_client import CurrencyPrecisionError, DataError
from expensify_client._cents import MINOR_UNITS, cents_to_decimal, decimal_to_cents, minor_units


@pytest.mark.parametrize(
    ("cents", "currency", "expected"),
    [
        (123456, "USD", "1234.56"),
        (-550, "EUR", "-5.50"),
        (100000, "JPY", "1000"),
        (-100000, "JPY", "-1000"),
        (1234, "KWD", "12.340"),
        (-1, "BHD", "-0.010"),
        (0, "USD", "0.00"),
        (123456789012, "USD", "1234567890.12"),
    ],
)
def test_examples(cents: int, currency: str, expected: str) -> None:
    value = cents_to_decimal(cents, currency)
    assert value == Decimal(expected)
    assert str(value) == expected  # presented in the ISO precision


def test_impossible_fraction_is_a_data_error_not_rounded() -> None:
    with pytest.raises(CurrencyPrecisionError, match="JPY"):
        cents_to_decimal(100050, "JPY")
    with pytest.raises(CurrencyPrecisionError):
        cents_to_decimal(-1, "JPY")


@pytest.mark.parametrize("bad", [True, 1.5, "100", None])
def test_non_integer_amounts_are_refused(bad: object) -> None:
    with pytest.raises(DataError):
        cents_to_decimal(bad, "USD")  # type: ignore[arg-type]


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(DataError, match="XYZ"):
        minor_units("XYZ")


@given(st.sampled_from(sorted(MINOR_UNITS)), st.integers(-(10**12), 10**12))
def test_round_trip_and_precision_for_every_currency(currency: str, cents: int) -> None:
    places = MINOR_UNITS[currency]
    if places < 2:
        cents -= cents % 10 ** (2 - places) if cents >= 0 else -((-cents) % 10 ** (2 - places))
    value = cents_to_decimal(cents, currency)
    assert value.as_tuple().exponent == -places
    assert decimal_to_cents(value, currency) == cents
    assert value * 100 == cents


@given(st.sampled_from([c for c, p in MINOR_UNITS.items() if p == 0]), st.integers(1, 99))
def test_zero_decimal_currencies_reject_every_sub_unit_fraction(currency: str, frac: int) -> None:
    with pytest.raises(CurrencyPrecisionError):
        cents_to_decimal(100 * 7 + frac, currency)
