"""A namespace keeps its layout: the layouts keep separate consumer groups,
so a runner refuses a namespace whose processors the other layout ran (it
would read everything again) with EX_CONFIG, on the real broker."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from topology.config import EX_CONFIG, Config
from topology.registry import PIPELINE, service
from topology.service import create_topics, refuse_the_other_layouts_namespace
from topology.topics import Topics

pytestmark = pytest.mark.kafka


def _commit(bootstrap: str, group: str, topic: str) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    finally:
        consumer.close()


def test_the_pipeline_refuses_a_namespace_its_checks_ran_in_separately_and_not_a_new_one(
    bootstrap: str, tmp_path: Path
) -> None:
    config = Config.load({}, kafka_bootstrap=bootstrap, namespace=f"l{uuid.uuid4().hex[:8]}.", data_dir=tmp_path)
    create_topics(config)
    topics = Topics(config.namespace)
    refuse_the_other_layouts_namespace(service(PIPELINE), config)  # a new namespace: either layout

    _commit(bootstrap, topics.group("fraud-check"), topics.orders)  # the fraud check ran on its own

    with pytest.raises(SystemExit) as refused:
        refuse_the_other_layouts_namespace(service(PIPELINE), config)
    assert refused.value.code == EX_CONFIG
    refuse_the_other_layouts_namespace(service("fraud"), config)  # its own layout goes on


def test_a_separate_check_refuses_a_namespace_the_pipeline_ran(bootstrap: str, tmp_path: Path) -> None:
    config = Config.load({}, kafka_bootstrap=bootstrap, namespace=f"l{uuid.uuid4().hex[:8]}.", data_dir=tmp_path)
    create_topics(config)
    _commit(bootstrap, Topics(config.namespace).group(PIPELINE), Topics(config.namespace).orders)

    with pytest.raises(SystemExit) as refused:
        refuse_the_other_layouts_namespace(service("inventory"), config)
    assert refused.value.code == EX_CONFIG
