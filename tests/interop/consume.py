"""Read a topic from the beginning with librdkafka and print every record as JSON.

Usage: consume.py BOOTSTRAP TOPIC EXPECTED_COUNT TIMEOUT_SECONDS

One JSON object per line, in the order librdkafka returned them:
  {"partition": 0, "offset": 0, "timestamp": 1700000000000, "timestamp_type": "create",
   "key": "6b6579", "value": null, "headers": [["647570", "6669727374"], ["6e", null]]}
Keys, values and header keys and values are hex, so bytes come out exact; a null is JSON null.
Headers keep their order and duplicates. Exits 1 if fewer than EXPECTED_COUNT records arrive
within TIMEOUT_SECONDS or librdkafka reports an error.
"""

import json
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME


def hex_or_none(data):
    return None if data is None else bytes(data).hex()


def to_json(msg):
    ts_type, ts = msg.timestamp()
    return {
        "partition": msg.partition(),
        "offset": msg.offset(),
        "timestamp": ts,
        "timestamp_type": {
            TIMESTAMP_CREATE_TIME: "create",
            TIMESTAMP_LOG_APPEND_TIME: "log_append",
        }.get(ts_type, "none"),
        "key": hex_or_none(msg.key()),
        "value": hex_or_none(msg.value()),
        # confluent-kafka gives header keys as str (librdkafka keeps them as C strings).
        "headers": [
            [k.encode("utf-8").hex(), hex_or_none(v)] for k, v in (msg.headers() or [])
        ],
    }


def main():
    bootstrap, topic, expected, timeout = sys.argv[1:5]
    expected, deadline = int(expected), time.monotonic() + float(timeout)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            # Unique and never committed: nothing here depends on, or leaves, group state.
            "group.id": f"interop-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            # librdkafka skips CRC checks by default; the point here is to judge kafkit's bytes.
            "check.crcs": True,
        }
    )
    # assign, not subscribe: no group join to wait for, and every partition from offset 0.
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    seen = 0
    while seen < expected:
        left = deadline - time.monotonic()
        if left <= 0:
            print(f"only {seen} of {expected} records within {timeout} s", file=sys.stderr)
            return 1
        for msg in consumer.consume(num_messages=1000, timeout=min(left, 1.0)):
            if msg.error():
                print(f"consume error: {msg.error()}", file=sys.stderr)
                return 1
            print(json.dumps(to_json(msg)))
            seen += 1
    consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
