"""Form value parsing (portal.forms): what a clerk types becomes a value or a field error."""

from __future__ import annotations

import pytest

from medledger.portal.errors import FormError
from medledger.portal.forms import tenths


@pytest.mark.parametrize(
    ("typed", "expected"), [("2", 20), ("-18.5", -185), ("2,5", 25), ("3276.7", 32767)]
)
def test_a_temperature_is_read_in_tenths_of_a_degree(typed: str, expected: int) -> None:
    assert tenths("temp_min", typed) == expected


@pytest.mark.parametrize("typed", ["nan", "NaN", "inf", "-Infinity", "1e999999", "3276.8", "x"])
def test_a_temperature_that_is_no_number_or_out_of_range_is_a_field_error(typed: str) -> None:
    with pytest.raises(FormError) as refused:
        tenths("temp_min", typed)
    assert refused.value.code == "invalid_request"
    assert "temp_min" in refused.value.fields
