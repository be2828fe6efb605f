"""Produce records with librdkafka and print each delivered record as JSON.

Usage: produce.py BOOTSTRAP TOPIC CODEC COUNT

CODEC is librdkafka's compression.type (none, gzip, snappy, lz4, zstd). Records go to
partitions 0 and 1 alternately, with explicit timestamps; among them are null keys, keys that
are not UTF-8, null, empty and large (190 KiB) values, a duplicated header key, a null and an
empty header value, and records without headers. After every delivery report has come back,
prints one JSON line per record in consume.py's format, with the partition and offset the
broker assigned. Exits 1 on any delivery error.
"""

import json
import random
import sys
import time

from confluent_kafka import Producer


def record(i, base_ts):
    if i % 7 == 0:
        key = None
    elif i % 5 == 1:
        # Not UTF-8 (0xff, 0xfe, a lone continuation byte), with a NUL in it.
        key = bytes([0xFF, 0xFE, 0x00, 0x80]) + i.to_bytes(4, "big")
    else:
        key = f"key-{i}".encode()
    if i % 100 == 50:
        # About 190 KiB, compressible text then noise: several lz4 blocks and snappy chunks,
        # some of them stored uncompressed.
        value = f"big value {i} ".encode() * 4000 + random.Random(i).randbytes(128 * 1024)
    elif i % 10 == 3:
        value = None
    elif i % 13 == 0:
        value = b""
    else:
        # Repetitive text compresses; the binary tail covers every byte value over the run.
        value = f"value-{i}-".encode() * (1 + i % 20) + bytes(range(i % 256))
    if i % 11 == 0:
        headers = []
    else:
        headers = [
            ("trace", str(i).encode()),
            ("dup", b"first"),
            ("dup", f"second-{i}".encode()),
            ("nothing", None),
            ("empty", b""),
        ]
    return {
        "partition": i % 2,
        "timestamp": base_ts + i,
        "key": key,
        "value": value,
        "headers": headers,
    }


def hex_or_none(data):
    return None if data is None else data.hex()


def main():
    bootstrap, topic, codec, count = sys.argv[1:5]
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.type": codec,
            "linger.ms": 5,
            # Several batches per partition, so the reader meets batch boundaries, not one
            # batch holding everything.
            "batch.num.messages": 50,
            "acks": "all",
        }
    )
    # An hour ago: recent enough that retention leaves it alone, old enough to differ from
    # the broker's clock, so a lost timestamp shows.
    base_ts = int(time.time() * 1000) - 3_600_000
    delivered, errors = [], []

    for i in range(int(count)):
        rec = record(i, base_ts)

        def on_delivery(err, msg, i=i, rec=rec):
            if err is not None:
                errors.append(f"record {i} (partition {rec['partition']}): {err}")
            else:
                delivered.append(dict(rec, partition=msg.partition(), offset=msg.offset()))

        producer.produce(
            topic,
            key=rec["key"],
            value=rec["value"],
            partition=rec["partition"],
            headers=rec["headers"],
            timestamp=rec["timestamp"],
            on_delivery=on_delivery,
        )
        producer.poll(0)

    left = producer.flush(30)
    if left or errors or len(delivered) != int(count):
        print(f"{left} undelivered, {len(delivered)} delivered, errors:", file=sys.stderr)
        print("\n".join(errors[:10]), file=sys.stderr)
        return 1

    for rec in sorted(delivered, key=lambda r: (r["partition"], r["offset"])):
        line = {
            "partition": rec["partition"],
            "offset": rec["offset"],
            "timestamp": rec["timestamp"],
            "timestamp_type": "create",
            "key": hex_or_none(rec["key"]),
            "value": hex_or_none(rec["value"]),
            "headers": [[k.encode().hex(), hex_or_none(v)] for k, v in rec["headers"]],
        }
        print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
