"""Bridge errors: stable codes, every problem carried, recovery intent by type."""

from __future__ import annotations

import pickle

import pytest

from expense_bridge._errors import (
    BridgeError,
    ConfigError,
    ErrorCode,
    MappingError,
    PostingError,
    Problem,
)

REQUIRED = {
    "CATEGORY_UNKNOWN",
    "CATEGORY_NO_GL_CODE",
    "GL_ACCOUNT_INACTIVE",
    "SUBMITTER_NO_VENDOR",
    "TAG_UNMAPPED",
    "TAG_VALUE_UNKNOWN",
    "CURRENCY_UNSUPPORTED",
    "CURRENCY_PRECISION",
    "CONVERSION_MISSING",
    "CARD_TARGET_INCOMPLETE",
    "REPORT_EMPTY",
    "CHANGED_AFTER_POSTING",
    "LEDGER_REJECTED",
}


def problem(code=ErrorCode.CATEGORY_UNKNOWN, field="expenses[0].category", tid="7001"):
    return Problem(
        code=code, field=field, message="category 'X' is unknown", fix="Add it.", transaction_id=tid
    )


class TestErrorCode:
    """Codes have stable, unique ``EB-`` strings derived from their names."""

    def test_contract_codes_exist(self):
        assert {c.name for c in ErrorCode} >= REQUIRED

    def test_values_are_unique_and_follow_the_name(self):
        values = [c.value for c in ErrorCode]
        assert len(values) == len(set(values))
        for code in ErrorCode:
            assert code.value == "EB-" + code.name.replace("_", "-")
            assert ErrorCode.from_value(code.value) is code

    def test_unknown_value_is_refused(self):
        with pytest.raises(ValueError):
            ErrorCode.from_value("EB-NOPE")


class TestErrors:
    """Exceptions carry their problems and say whether to retry or abort."""

    def test_mapping_error_lists_every_problem(self):
        problems = (
            problem(),
            problem(ErrorCode.CONVERSION_MISSING, "expenses[1].converted_amount_cents", "7002"),
        )
        err = MappingError("R1", problems)
        assert isinstance(err, BridgeError)
        assert err.report_id == "R1"
        assert err.problems == problems
        assert err.codes == {ErrorCode.CATEGORY_UNKNOWN, ErrorCode.CONVERSION_MISSING}
        assert "R1" in str(err)
        assert "EB-CATEGORY-UNKNOWN" in str(err)
        assert "1 more" in str(err)

    def test_problem_str_names_code_field_transaction_and_fix(self):
        text = str(problem())
        assert text == (
            "EB-CATEGORY-UNKNOWN at expenses[0].category (7001): "
            "category 'X' is unknown Fix: Add it."
        )
        assert "(" not in str(problem(tid=None)).split(":")[0]

    def test_intent(self):
        assert not MappingError.retryable
        assert not MappingError.aborts_sync
        assert ConfigError.aborts_sync
        assert not PostingError.retryable

    def test_posting_error(self):
        err = PostingError("R9", ErrorCode.LEDGER_REJECTED, "Account: inactive")
        assert (err.report_id, err.code, err.message) == (
            "R9",
            ErrorCode.LEDGER_REJECTED,
            "Account: inactive",
        )
        assert "EB-LEDGER-REJECTED" in str(err)

    @pytest.mark.parametrize(
        "err",
        [
            MappingError("R1", (problem(),)),
            ConfigError((problem(ErrorCode.CARD_TARGET_INCOMPLETE, "rules.card_vendor", None),)),
            PostingError("R2", ErrorCode.CHANGED_AFTER_POSTING, "changed"),
        ],
    )
    def test_errors_pickle(self, err):
        copy = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own bytes
        assert type(copy) is type(err)
        assert str(copy) == str(err)
        assert getattr(copy, "problems", None) == getattr(err, "problems", None)
