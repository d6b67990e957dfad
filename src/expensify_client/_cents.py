"""Expensify amounts (integer hundredths) to ``Decimal`` in the currency's ISO precision.

Expensify keeps every amount as an integer count of **hundredths** of the currency unit,
whatever the currency's ISO 4217 minor unit (1,000 JPY arrives as ``100000``; KWD's third
decimal cannot be represented). :func:`cents_to_decimal` divides by 100 in ``Decimal`` and
presents the result at the currency's ISO precision: ``"12.34"`` USD, ``"1000"`` JPY,
``"12.340"`` KWD. A fraction the currency cannot have (JPY ``100050`` = 1000.50) is a data
problem, raised as :class:`CurrencyPrecisionError`, never rounded away. Negative amounts
(refunds, credits) keep their sign.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from ._exceptions import CurrencyPrecisionError, DataError

__all__ = ["MINOR_UNITS", "cents_to_decimal", "decimal_to_cents", "minor_units"]

_ZERO_DECIMALS = [
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "ISK",
    "JPY",
    "KMF",
    "KRW",
    "PYG",
    "RWF",
    "UGX",
    "UYI",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
]
_THREE_DECIMALS = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]
_FOUR_DECIMALS = ["CLF", "UYW"]
_TWO_DECIMALS = [
    "AED",
    "AFN",
    "ALL",
    "AMD",
    "ANG",
    "AOA",
    "ARS",
    "AUD",
    "AWG",
    "AZN",
    "BAM",
    "BBD",
    "BDT",
    "BGN",
    "BMD",
    "BND",
    "BOB",
    "BRL",
    "BSD",
    "BTN",
    "BWP",
    "BYN",
    "BZD",
    "CAD",
    "CDF",
    "CHF",
    "CNY",
    "COP",
    "CRC",
    "CUP",
    "CVE",
    "CZK",
    "DKK",
    "DOP",
    "DZD",
    "EGP",
    "ERN",
    "ETB",
    "EUR",
    "FJD",
    "FKP",
    "GBP",
    "GEL",
    "GHS",
    "GIP",
    "GMD",
    "GTQ",
    "GYD",
    "HKD",
    "HNL",
    "HTG",
    "HUF",
    "IDR",
    "ILS",
    "INR",
    "IRR",
    "JMD",
    "KES",
    "KGS",
    "KHR",
    "KPW",
    "KYD",
    "KZT",
    "LAK",
    "LBP",
    "LKR",
    "LRD",
    "LSL",
    "MAD",
    "MDL",
    "MGA",
    "MKD",
    "MMK",
    "MNT",
    "MOP",
    "MRU",
    "MUR",
    "MVR",
    "MWK",
    "MXN",
    "MYR",
    "MZN",
    "NAD",
    "NGN",
    "NIO",
    "NOK",
    "NPR",
    "NZD",
    "PAB",
    "PEN",
    "PGK",
    "PHP",
    "PKR",
    "PLN",
    "QAR",
    "RON",
    "RSD",
    "RUB",
    "SAR",
    "SBD",
    "SCR",
    "SDG",
    "SEK",
    "SGD",
    "SHP",
    "SLE",
    "SOS",
    "SRD",
    "SSP",
    "STN",
    "SVC",
    "SYP",
    "SZL",
    "THB",
    "TJS",
    "TMT",
    "TOP",
    "TRY",
    "TTD",
    "TWD",
    "TZS",
    "UAH",
    "USD",
    "UYU",
    "UZS",
    "VES",
    "WST",
    "XCD",
    "YER",
    "ZAR",
    "ZMW",
    "ZWL",
]

#: ISO 4217 minor units of the active currencies this library supports.
MINOR_UNITS: Final[Mapping[str, int]] = MappingProxyType(
    {
        **dict.fromkeys(_ZERO_DECIMALS, 0),
        **dict.fromkeys(_TWO_DECIMALS, 2),
        **dict.fromkeys(_THREE_DECIMALS, 3),
        **dict.fromkeys(_FOUR_DECIMALS, 4),
    }
)

_HUNDRED = Decimal(100)


def minor_units(currency: str) -> int:
    """The ISO 4217 number of decimals of ``currency``; unknown codes raise :class:`DataError`."""
    try:
        return MINOR_UNITS[currency]
    except (KeyError, TypeError):
        raise DataError(f"unsupported currency {currency!r} (not an ISO 4217 code)") from None


def cents_to_decimal(cents: int, currency: str) -> Decimal:
    """An Expensify amount (hundredths) as a ``Decimal`` in ``currency``'s ISO precision.

    Raises :class:`CurrencyPrecisionError` when the amount has a fraction the currency
    cannot represent (JPY 1000.50), and :class:`DataError` for a non-integer amount or an
    unknown currency.
    """
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise DataError(f"amount must be an integer count of hundredths, not {cents!r}")
    places = minor_units(currency)
    value = Decimal(cents) / _HUNDRED
    quantum = Decimal(1).scaleb(-places)
    exact = value.quantize(quantum)
    if exact != value:
        raise CurrencyPrecisionError(
            f"{cents} hundredths of {currency} is {value}, which has a fraction finer than "
            f"{currency}'s {places} decimal(s)"
        )
    return exact


def decimal_to_cents(amount: Decimal, currency: str) -> int:
    """The inverse of :func:`cents_to_decimal`: a ``Decimal`` amount as Expensify hundredths.

    Raises :class:`CurrencyPrecisionError` when the amount is not a whole number of
    hundredths or has more decimals than the currency allows.
    """
    if not isinstance(amount, Decimal):
        raise DataError(f"amount must be a Decimal, not {type(amount).__name__}")
    places = minor_units(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise CurrencyPrecisionError(f"{amount} has more decimals than {currency} allows")
    cents = amount * _HUNDRED
    if cents != cents.to_integral_value():
        raise CurrencyPrecisionError(f"{amount} {currency} is not a whole number of hundredths")
    return int(cents)
