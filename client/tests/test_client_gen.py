"""The SDK's own copy of the generated code (oms_client._gen): self-contained,
and the same as the repository's gen/ when both are there."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import oms_client
from oms_client import Order
from oms_client._gen.orders.v1 import command_service_pb2

GEN = Path(oms_client.__file__).parent / "_gen"
REPO = Path(__file__).resolve().parents[2]
VENDOR_SCRIPT = REPO / "client" / "scripts" / "vendor_gen.py"


def test_the_copy_imports_nothing_from_the_main_projects_oms_package() -> None:
    files = sorted(p for p in GEN.rglob("*") if p.suffix in (".py", ".pyi"))
    assert any(f.name == "order_pb2.pyi" for f in files), "the .pyi stubs ship with the messages"
    for path in files:
        text = path.read_text()
        assert not re.search(r"^(from|import) oms\.", text, flags=re.M), path


def test_messages_round_trip() -> None:
    response = command_service_pb2.PlaceOrderResponse(order=Order(order_id="order-1", quantity=2), created=True)
    assert command_service_pb2.PlaceOrderResponse.FromString(response.SerializeToString()) == response


def test_it_lives_alongside_the_main_projects_oms_package() -> None:
    main = importlib.import_module("oms.orders.v1.order_pb2")
    # Same .proto files in one descriptor pool: one set of classes, interchangeable.
    assert main.Order is Order
    assert main.Order.DESCRIPTOR.file.name == "oms/orders/v1/order.proto"


def test_the_copy_is_up_to_date_with_gen() -> None:
    spec = importlib.util.spec_from_file_location("vendor_gen", VENDOR_SCRIPT)
    assert spec is not None and spec.loader is not None
    vendor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vendor)
    expected = set()
    for proto in vendor.public_protos():
        stem = Path(proto).with_suffix("")
        for source in sorted((REPO / "gen" / stem.parent).glob(f"{stem.name}_pb2*")):
            target = GEN.joinpath(*stem.parent.parts[1:], source.name)
            if source.name.endswith("_grpc.py") or source.name.endswith("_grpc.pyi"):
                if not target.exists():
                    continue  # no service in this file: its empty grpc module is not copied
            expected.add(target)
            assert target.exists(), f"{target} is missing: run make gen"
            assert target.read_text() == vendor.rewrite(source.read_text()), f"{target} is stale: run make gen"
    shipped = {p for p in GEN.rglob("*_pb2*") if p.suffix in (".py", ".pyi")}
    assert shipped == expected, "stale files in oms_client/_gen: run make gen"
