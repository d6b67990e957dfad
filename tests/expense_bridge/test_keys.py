"""Document keys: format, limits, and finding them again in descriptions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expense_bridge._keys import (
    DESCRIPTION_MAX_LENGTH,
    KEY_MAX_LENGTH,
    DocumentPart,
    clean_text,
    description_prefix,
    document_key,
    journal_description,
    key_from_description,
    parse_key,
)

report_ids = st.from_regex(r"[A-Za-z0-9_.]{1,30}", fullmatch=True)


class TestDocumentKey:
    """``document_key`` builds ``EXB-<id>`` / ``EXB-<id>-C`` and refuses what cannot work."""

    def test_reimbursable_and_card_keys(self):
        assert document_key("R00abcDEF", DocumentPart.REIMBURSABLE) == "EXB-R00abcDEF"
        assert document_key("R00abcDEF", DocumentPart.CARD) == "EXB-R00abcDEF-C"
        assert document_key("1234567", DocumentPart.CARD) == "EXB-1234567-C"

    def test_longest_id_that_fits(self):
        longest = "9" * (KEY_MAX_LENGTH - len("EXB--C"))
        assert len(document_key(longest, DocumentPart.CARD)) == KEY_MAX_LENGTH
        with pytest.raises(ValueError, match="40"):
            document_key(longest + "9", DocumentPart.CARD)
        assert len(document_key(longest + "99", DocumentPart.REIMBURSABLE)) == KEY_MAX_LENGTH

    @pytest.mark.parametrize("bad", ["", "R-1", "R 1", "R'1", "R]1", "R\n1", "Ré1"])
    def test_unsafe_report_ids_are_refused(self, bad):
        with pytest.raises(ValueError, match="cannot form a document key"):
            document_key(bad, DocumentPart.REIMBURSABLE)

    @given(report_ids, st.sampled_from(DocumentPart))
    def test_keys_parse_back_and_differ_per_part(self, report_id, part):
        key = document_key(report_id, part)
        assert len(key) <= KEY_MAX_LENGTH
        assert parse_key(key) == (report_id, part)
        other = (
            DocumentPart.CARD if part is DocumentPart.REIMBURSABLE else DocumentPart.REIMBURSABLE
        )
        assert document_key(report_id, other) != key

    @pytest.mark.parametrize("text", ["EXB-", "EXC-R1", "EXB-R1-D", "exb-R1", "EXB-R 1", "x" * 41])
    def test_parse_key_rejects_non_keys(self, text):
        assert parse_key(text) is None


class TestJournalDescription:
    """Journal descriptions start with ``<key>:`` and fit Acumatica's length."""

    def test_format(self):
        assert journal_description("EXB-R1", "Trip to Oslo") == "EXB-R1: Trip to Oslo"
        assert journal_description("EXB-R1-C", "  a\n b\tc ") == "EXB-R1-C: a b c"
        assert journal_description("EXB-R1", "   ") == "EXB-R1:"
        assert journal_description("EXB-R_1.2", "x") == "EXB-R~1.2: x"

    @given(report_ids, st.sampled_from(DocumentPart))
    def test_prefix_has_no_like_metacharacter(self, report_id, part):
        # SQL Server LIKE: [, ], %, _ are wildcards; the startswith literal has none.
        prefix = description_prefix(document_key(report_id, part))
        assert not set(prefix) & set("[]%_")
        assert key_from_description(prefix + " x") == document_key(report_id, part)

    def test_long_name_is_cut_never_the_key(self):
        text = journal_description("EXB-R1", "N" * 1000)
        assert len(text) == DESCRIPTION_MAX_LENGTH
        assert text.startswith("EXB-R1: NNN")

    def test_refuses_a_non_key(self):
        with pytest.raises(ValueError, match="not a document key"):
            journal_description("INV-1", "x")

    @given(report_ids, st.sampled_from(DocumentPart), st.text(max_size=400))
    def test_key_round_trips_through_description(self, report_id, part, name):
        key = document_key(report_id, part)
        text = journal_description(key, name)
        assert len(text) <= DESCRIPTION_MAX_LENGTH
        assert key_from_description(text) == key

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "Trip EXB-R1:",
            "EXB-R1 Trip",
            "INV-1: x",
            "EXB-R-1: x",
            " EXB-R1: x",
            "[EXB-R1] x",
            "EXB-R_1: x",
        ],
    )
    def test_other_descriptions_have_no_key(self, text):
        assert key_from_description(text) is None


class TestCleanText:
    """``clean_text`` collapses whitespace and cuts to a length."""

    def test_collapses_and_cuts(self):
        assert clean_text(" a \r\n\t b ") == "a b"
        assert clean_text("abc def", 4) == "abc"
        assert len(clean_text("y" * 999)) == DESCRIPTION_MAX_LENGTH
