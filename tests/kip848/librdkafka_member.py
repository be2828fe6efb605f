"""A librdkafka group member (confluent-kafka) with group.protocol=consumer (KIP-848), for
tests/kip848/librdkafka.rs.

Usage: librdkafka_member.py BOOTSTRAP TOPIC GROUP OUT_FILE TIMEOUT_SECONDS

Subscribes to TOPIC in GROUP and appends to OUT_FILE, flushing after each line, in the
format of kafkit's group_member example (which the tests' ownership ledger reads):
  "P O VALUE"            for every record (partition, offset, value as UTF-8)
  "# assigned 0,1"       from the assign callback (KIP-848: the partitions added)
  "# revoked 2" / "# lost 2"  from the revoke and lost callbacks
  "# commit-error ..." / "# error ..."  when a commit or the consumer fails
  "# closed"             once it has left the group
It commits synchronously after each batch it wrote, so every record it wrote is committed
before the next poll, where revocations happen. It leaves the group (close) when its stdin
reaches end of file or TIMEOUT_SECONDS pass.
"""

import sys
import threading
import time

from confluent_kafka import Consumer


def main():
    bootstrap, topic, group, path, timeout = sys.argv[1:6]
    deadline = time.monotonic() + float(timeout)
    stop = threading.Event()
    out = open(path, "a", encoding="utf-8")

    def emit(line):
        out.write(line + "\n")
        out.flush()

    def hook(what):
        def log(_consumer, partitions):
            emit(f"# {what} " + ",".join(str(tp.partition) for tp in partitions))

        return log

    def wait_for_eof():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    # With group.protocol=consumer the broker sets the session and heartbeat timing and
    # assigns: librdkafka refuses session.timeout.ms, heartbeat.interval.ms and
    # partition.assignment.strategy here.
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "group.protocol": "consumer",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe(
        [topic],
        on_assign=hook("assigned"),
        on_revoke=hook("revoked"),
        on_lost=hook("lost"),
    )
    while not stop.is_set() and time.monotonic() < deadline:
        msgs = consumer.consume(num_messages=100, timeout=0.2)
        wrote = False
        for msg in msgs:
            if msg.error():
                emit(f"# error {msg.error()}")
                continue
            emit(f"{msg.partition()} {msg.offset()} {msg.value().decode()}")
            wrote = True
        if wrote:
            try:
                consumer.commit(asynchronous=False)
            except Exception as e:  # a commit racing a fence is refused
                emit(f"# commit-error {e}")
    consumer.close()
    emit("# closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
