"""Keys land on the same partition as Kafka's Java clients would put them."""

from __future__ import annotations

import pytest

from streams.partitioning import murmur2, partition_for


def signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


# org.apache.kafka.common.utils.UtilsTest#testMurmur2 (Java ints, signed)
KAFKA_VECTORS = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]


@pytest.mark.parametrize(("data", "java_value"), KAFKA_VECTORS, ids=[d.decode()[:12] for d, _ in KAFKA_VECTORS])
def test_murmur2_matches_kafkas_java_implementation(data: bytes, java_value: int) -> None:
    assert signed32(murmur2(data)) == java_value


def test_murmur2_is_an_unsigned_32_bit_value() -> None:
    for data, _ in KAFKA_VECTORS:
        assert 0 <= murmur2(data) < 1 << 32


# librdkafka src/rdmurmur2.c unittest_murmur2 (java_murmur2_results): every tail length, empty key included
LIBRDKAFKA_VECTORS = [
    (b"kafka", 0xD067CF64),
    (b"giberish123456789", 0x8F552B0C),
    (b"1234", 0x9FC97B14),
    (b"234", 0xE7C009CA),
    (b"34", 0x873930DA),
    (b"4", 0x5A4B5CA1),
    (b"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424F1C),
    (b"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4A62B377),
    (b"eAmbleWillBeRemoved,ThePrePartThatIs", 0xE0E4E09E),
    (b"AmbleWillBeRemoved,ThePrePartThatIs", 0x62B8B43F),
    (b"", 0x106E08D9),
]


@pytest.mark.parametrize(
    ("data", "expected"), LIBRDKAFKA_VECTORS, ids=[d.decode()[:12] or "empty" for d, _ in LIBRDKAFKA_VECTORS]
)
def test_murmur2_matches_librdkafkas_java_compatible_vectors(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


@pytest.mark.parametrize(("data", "java_value"), KAFKA_VECTORS, ids=[d.decode()[:12] for d, _ in KAFKA_VECTORS])
def test_partition_is_the_positive_hash_modulo_the_partition_count(data: bytes, java_value: int) -> None:
    # Java: Utils.toPositive(murmur2(key)) % numPartitions
    for partitions in (1, 3, 6, 7, 12):
        assert partition_for(data, partitions) == (java_value & 0x7FFFFFFF) % partitions


def test_partitions_are_spread_and_in_range() -> None:
    partitions = {partition_for(f"order-{i}".encode(), 6) for i in range(200)}

    assert partitions == set(range(6))
