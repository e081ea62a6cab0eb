import pytest

from openrcm_collections.domain.responsibility import responsibility_kind


@pytest.mark.parametrize("carc,kind", [("1", "deductible"), ("2", "coinsurance"), ("3", "copay"), ("66", "other")])
def test_patient_responsibility_kind_by_carc(carc, kind):
    assert responsibility_kind(carc) == kind
