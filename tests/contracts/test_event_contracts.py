"""The event catalogue: committed schemas, the additive-change rule, topics, consumers and docs."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from openrcm_devstack.services import SERVICES
from openrcm_devstack.topics import load_catalogue
from openrcm_shared.contracts import topics
from openrcm_shared.contracts.catalogue import ALL_EVENTS, BY_TYPE
from openrcm_shared.contracts.compatibility import breaking_changes, schema_of, schema_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_type)
def test_committed_schema_matches_the_code_and_changes_only_additively(event):
    path = schema_path(event)
    assert path.exists(), f"{path.name} is not committed: run python -m openrcm_shared.contracts.compatibility"
    committed = json.loads(path.read_text())
    current = schema_of(event)
    problems = breaking_changes(committed, current)
    assert not problems, (f"{event.event_type} changed incompatibly ({problems}); publish a .v2 type beside it "
                          "instead of changing this one")
    assert committed == json.loads(json.dumps(current, sort_keys=True)), (
        f"{path.name} is stale (additive change): run python -m openrcm_shared.contracts.compatibility")


def test_the_compatibility_rule_catches_removals_type_changes_and_new_required_fields():
    from openrcm_shared.contracts.remittance import ClaimPaymentPosted

    old = schema_of(ClaimPaymentPosted)
    removed = copy.deepcopy(old)
    del removed["properties"]["paid_amount"]
    removed["required"].remove("paid_amount")
    assert breaking_changes(old, removed) == ["/paid_amount: removed"]

    retyped = copy.deepcopy(old)
    retyped["properties"]["paid_amount"] = {"type": "number"}
    assert breaking_changes(old, retyped)[0].startswith("/paid_amount: type changed")

    required = copy.deepcopy(old)
    required["properties"]["new_field"] = {"type": "string"}
    required["required"].append("new_field")
    assert breaking_changes(old, required) == ["/new_field: newly required"]

    optional = copy.deepcopy(old)
    optional["properties"]["new_field"] = {"type": "string"}
    assert breaking_changes(old, optional) == []

    from openrcm_shared.contracts.claims import ClaimStatusChanged

    statuses = schema_of(ClaimStatusChanged)
    widened, narrowed = copy.deepcopy(statuses), copy.deepcopy(statuses)
    status_def = next(k for k in widened["$defs"] if "enum" in widened["$defs"][k]) if "$defs" in widened else None
    target_w = widened["$defs"][status_def] if status_def else widened["properties"]["to_status"]
    target_n = narrowed["$defs"][status_def] if status_def else narrowed["properties"]["to_status"]
    target_w["enum"] = target_w["enum"] + ["appealed"]
    target_n["enum"] = target_n["enum"][1:]
    assert breaking_changes(statuses, widened) == []  # a new value: consumers tolerate unknown values
    assert breaking_changes(statuses, narrowed) and "enum values removed" in breaking_changes(statuses, narrowed)[0]

    nested = copy.deepcopy(old)
    nested["$defs"]["Adjustment"]["properties"]["carc"] = {"type": "integer"}
    assert breaking_changes(old, nested) and "/adjustments/items/carc" in breaking_changes(old, nested)[0]


def test_types_are_versioned_and_unique():
    assert len(BY_TYPE) == len(ALL_EVENTS)
    for event_type in BY_TYPE:
        assert re.fullmatch(r"org\.openrcm\.[a-z]+\.[a-z_]+\.v[0-9]+", event_type), event_type


def test_every_contract_topic_is_in_the_catalogue_with_its_producer():
    catalogue = {spec.name: spec for spec in load_catalogue()}
    for event in ALL_EVENTS:
        assert event.topic in catalogue, f"{event.topic} missing from deploy/topics.toml"
        producing_context = event.event_type.split(".")[2]
        assert catalogue[event.topic].producer == producing_context
    assert set(topics.ALL) == {name for name in catalogue if not name.endswith(".dlq")}


def test_consumer_groups_in_the_catalogue_match_what_services_subscribe_to():
    import importlib

    catalogue = {spec.name: spec for spec in load_catalogue()}
    declared = {(topic, group) for topic, spec in catalogue.items() for group in spec.consumer_groups}
    subscribed = set()
    for spec in SERVICES:
        definition = importlib.import_module(f"{spec.package}.main").DEFINITION
        subscribed |= {(topic, definition.consumer_group) for topic in definition.consumed_topics}
    assert declared == subscribed
    for topic, group in declared:
        assert topics.dlq_topic(topic, group) in catalogue


def test_readme_lists_every_event_type():
    readme = (ROOT / "README.md").read_text()
    missing = [event.event_type for event in ALL_EVENTS if event.event_type not in readme]
    assert not missing, f"README event catalogue lacks {missing}"


def test_claims_docs_list_every_scrubber_rule():
    from openrcm_claims.domain.scrubber import list_rules

    docs = (ROOT / "docs" / "claims.md").read_text()
    missing = [rule.id for rule in list_rules() if f"`{rule.id}`" not in docs]
    assert not missing, f"docs/claims.md lacks rules {missing}"
