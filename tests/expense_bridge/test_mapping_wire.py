"""Planned documents are valid entities of the published Acumatica endpoint schemas."""

from __future__ import annotations

import pytest
from hypothesis import given

from acumatica_client import to_wire
from expense_bridge.mapping import plan_report
from tests.reference import ACUMATICA_SCHEMAS, require, validate_entity

from .strategies import worlds

pytestmark = pytest.mark.reference


@pytest.mark.parametrize("version", sorted(ACUMATICA_SCHEMAS))
class TestWire:
    """Every document the mapping plans validates against Default/<version>."""

    @given(world=worlds())
    def test_documents_validate(self, version, world):
        require(ACUMATICA_SCHEMAS[version])
        for doc in plan_report(world.report, **world.kwargs()):
            body = to_wire(doc.document, version=version)
            validate_entity(version, type(doc.document).ENTITY, body)
            assert "Amount" not in body  # computed by Acumatica, never sent
            for line in body["Details"]:
                assert "Amount" not in line
