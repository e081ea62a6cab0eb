"""The topic catalogue is applied idempotently, and the operations CLI works on the real broker."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from openrcm_devstack import cli
from openrcm_devstack.topics import apply_catalogue, load_catalogue

pytestmark = pytest.mark.stack


async def test_catalogue_is_created_once_then_unchanged_and_grows_partitions(infra):
    bootstrap = infra.kafka.bootstrap_servers
    specs = load_catalogue()
    assert set((await apply_catalogue(bootstrap, specs)).values()) == {"unchanged"}  # created at start-up

    name = f"test.catalogue.{uuid.uuid4().hex[:8]}"
    spec = dataclasses.replace(specs[0], name=name, partitions=1, consumer_groups=())
    assert await apply_catalogue(bootstrap, [spec]) == {name: "created"}
    grown = dataclasses.replace(spec, partitions=3, retention_ms=3600000)
    assert await apply_catalogue(bootstrap, [grown]) == {name: "updated"}

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([name])
        assert len(described["partitions"]) == 3
    finally:
        await admin.close()


def test_dlq_list_and_topics_commands(infra, capsys):
    assert cli.main(["--bootstrap-servers", infra.kafka.bootstrap_servers, "topics"]) == 0
    assert "unchanged  rcm.claims.events.v1" in capsys.readouterr().out
    assert cli.main(["--bootstrap-servers", infra.kafka.bootstrap_servers, "dlq", "list"]) == 0
    assert "dead letter(s)" in capsys.readouterr().out
