"""The contract suite (tests/contract/suite.py) against the whole platform
on the real broker, through the SDK: the same tests the SDK's fake passes
(tests/contract/test_contract_fake.py), so the fake cannot drift."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oms_client import OmsClient
from tests.contract.suite import *  # noqa: F403 - the shared tests run here as they are
from tests.support.platform import Platform

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def client(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OmsClient]:
    platform = Platform(bootstrap, tmp_path_factory.mktemp("contract")).start()
    try:
        with OmsClient(f"localhost:{platform.port}", timeout=30) as connected:
            yield connected
    finally:
        platform.stop()
