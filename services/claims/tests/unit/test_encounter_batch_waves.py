"""A batch's encounters are taken concurrently in waves (entrypoints.api._waves): a repeated
encounter id waits for its first occurrence, so the batch answers as if taken in order."""

from openrcm_claims.entrypoints.api import _waves


def test_distinct_encounters_go_in_one_wave():
    assert _waves([{"encounter_id": "A"}, {"encounter_id": "B"}, {"encounter_id": "C"}]) == [[0, 1, 2]]


def test_a_repeated_encounter_goes_after_its_first_occurrence():
    batch = [{"encounter_id": "A"}, {"encounter_id": "B"}, {"encounter_id": "A"}, {"encounter_id": "A"},
             {"encounter_id": "C"}]
    assert _waves(batch) == [[0, 1, 4], [2], [3]]


def test_items_without_an_encounter_id_are_taken_first_and_refused_on_their_own():
    assert _waves([{"lines": []}, "not an object", {"encounter_id": 7}, {"encounter_id": "A"}]) == [[0, 1, 2, 3]]
