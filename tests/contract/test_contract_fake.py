"""The contract suite (tests/contract/suite.py) against the SDK's fake,
oms_client.testing.FakeOms: no broker. tests/e2e/test_contract_platform.py
runs the same tests against the platform."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oms_client import OmsClient
from oms_client.testing import FakeOms
from tests.contract.suite import *  # noqa: F403 - the shared tests run here as they are


@pytest.fixture(scope="module")
def client() -> Iterator[OmsClient]:
    with FakeOms() as oms, OmsClient(oms.target, timeout=10) as connected:
        yield connected
