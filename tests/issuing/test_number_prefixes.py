"""Document number prefixes are declared on the issuer (``number_prefix``, ``number_prefixes``)."""

from __future__ import annotations

import pytest

from issuers.dlt import DltIssuer
from portal.issuing import InvalidIssuer
from portal.issuing.registry import validate_issuer_class


def test_the_first_type_takes_the_prefix_and_later_ones_are_numbered():
    first, *others = (t.id for t in DltIssuer.document_types)
    assert DltIssuer.number_prefix_for(first) == "ขบ"
    for n, type_id in enumerate(others, start=2):
        assert DltIssuer.number_prefix_for(type_id) == f"ขบ-{n}"


def test_a_prefix_per_type_wins_and_no_prefix_means_the_id(monkeypatch):
    first, *_ = (t.id for t in DltIssuer.document_types)
    monkeypatch.setattr(DltIssuer, "number_prefixes", {first: "ขบ.ท"})
    assert DltIssuer.number_prefix_for(first) == "ขบ.ท"
    monkeypatch.setattr(DltIssuer, "number_prefix", "")
    monkeypatch.setattr(DltIssuer, "number_prefixes", {})
    assert DltIssuer.number_prefix_for(first) == "DLT"


def test_a_prefix_for_a_type_the_issuer_does_not_have_stops_it(monkeypatch):
    monkeypatch.setattr(DltIssuer, "number_prefixes", {"pilot-licence": "นบ"})
    with pytest.raises(InvalidIssuer, match="number_prefixes names 'pilot-licence'"):
        validate_issuer_class(DltIssuer)
