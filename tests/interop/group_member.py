"""A librdkafka group member (confluent-kafka), for the kafkit/librdkafka group tests.

Usage: group_member.py BOOTSTRAP TOPIC GROUP STRATEGY TIMEOUT_SECONDS

Subscribes to TOPIC in GROUP with partition.assignment.strategy STRATEGY (range,
roundrobin, cooperative-sticky) and prints, flushing after each line:
  "# assignment 0,1,2"   whenever its assignment changes (empty: "# assignment ")
  "P O VALUE"            for every record (partition, offset, value as UTF-8)
  "# error ..."          for a consumer error
It commits synchronously after each batch, and leaves the group (close) when its stdin
reaches end of file or TIMEOUT_SECONDS pass.
"""

import sys
import threading
import time

from confluent_kafka import Consumer


def main():
    bootstrap, topic, group, strategy, timeout = sys.argv[1:6]
    deadline = time.monotonic() + float(timeout)
    stop = threading.Event()

    def wait_for_eof():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "partition.assignment.strategy": strategy,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 300,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe([topic])
    shown = None
    while not stop.is_set() and time.monotonic() < deadline:
        msgs = consumer.consume(num_messages=100, timeout=0.2)
        current = sorted(tp.partition for tp in consumer.assignment())
        if current != shown:
            shown = current
            print("# assignment " + ",".join(map(str, current)), flush=True)
        for msg in msgs:
            if msg.error():
                print(f"# error {msg.error()}", flush=True)
                continue
            print(f"{msg.partition()} {msg.offset()} {msg.value().decode()}", flush=True)
        if msgs:
            try:
                consumer.commit(asynchronous=False)
            except Exception as e:  # a commit racing a rebalance may be refused
                print(f"# commit-error {e}", flush=True)
    consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
