"""Create or update the topics in deploy/topics.toml (and a DLQ per topic and consumer group)."""

from __future__ import annotations

import asyncio
import tomllib
from dataclasses import dataclass, field

from aiokafka.admin import NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from openrcm_devstack.paths import repo_root
from openrcm_shared.contracts.topics import dlq_topic
from openrcm_shared.messaging.kafka import KafkaSecurity, admin_client


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    cleanup_policy: str
    replication_factor: int
    min_insync_replicas: int
    producer: str | None = None
    consumer_groups: tuple[str, ...] = field(default=())

    @property
    def configs(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy,
                "min.insync.replicas": str(self.min_insync_replicas)}


def load_catalogue() -> list[TopicSpec]:
    """Every topic, DLQs included, from deploy/topics.toml."""
    document = tomllib.loads((repo_root() / "deploy" / "topics.toml").read_text())
    defaults, dlq = document["defaults"], document["dlq"]
    specs: list[TopicSpec] = []
    for entry in document["topics"]:
        spec = TopicSpec(name=entry["name"], partitions=entry["partitions"], retention_ms=entry["retention_ms"],
                         cleanup_policy=entry["cleanup_policy"], replication_factor=defaults["replication_factor"],
                         min_insync_replicas=defaults["min_insync_replicas"], producer=entry.get("producer"),
                         consumer_groups=tuple(entry.get("consumer_groups", ())))
        specs.append(spec)
        for group in spec.consumer_groups:
            specs.append(TopicSpec(name=dlq_topic(spec.name, group), partitions=dlq["partitions"],
                                   retention_ms=dlq["retention_ms"], cleanup_policy=dlq["cleanup_policy"],
                                   replication_factor=defaults["replication_factor"],
                                   min_insync_replicas=defaults["min_insync_replicas"]))
    return specs


async def apply_catalogue(bootstrap_servers: str, specs: list[TopicSpec] | None = None, *,
                          security: KafkaSecurity | None = None) -> dict[str, str]:
    """Create missing topics, add partitions where the catalogue has more, and set configs.

    Returns what was done per topic (created / updated / unchanged). Partitions are never
    reduced (Kafka cannot), and a topic not in the catalogue is left alone. On a broker with
    ACLs this needs a principal allowed to create and alter topics (the cluster's admin).
    """
    specs = specs if specs is not None else load_catalogue()
    admin = admin_client(bootstrap_servers, client_id="openrcm-topics", security=security)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        actions = {s.name: "unchanged" for s in specs}
        if missing:
            await admin.create_topics([
                NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=s.configs) for s in missing])
            actions.update({s.name: "created" for s in missing})
        present = [s for s in specs if s.name in existing]
        if present:
            described = await admin.describe_topics([s.name for s in present])
            counts = {t["topic"]: len(t["partitions"]) for t in described}
            grow = {s.name: NewPartitions(s.partitions) for s in present if counts.get(s.name, 0) < s.partitions}
            if grow:
                await admin.create_partitions(grow)
            await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, s.name, configs=s.configs)
                                       for s in present])
            actions.update({name: "updated" for name in grow})
        return actions
    finally:
        await admin.close()


def ensure_topics(bootstrap_servers: str, *, security: KafkaSecurity | None = None) -> dict[str, str]:
    return asyncio.run(apply_catalogue(bootstrap_servers, security=security))
