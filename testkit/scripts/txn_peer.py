"""librdkafka's side (confluent-kafka) of kafkit's transaction interop tests: the same modes
and output as testkit/java/KafkitTxnPeer.java, so a test can swap one client for the other.

  produce BOOTSTRAP TOPIC TRANSACTIONAL_ID TRANSACTIONS RECORDS_PER_TXN ABORT_EVERY PREFIX
      Writes TRANSACTIONS transactions of RECORDS_PER_TXN records; transaction t is aborted
      when ABORT_EVERY > 0 and t % ABORT_EVERY == ABORT_EVERY - 1, committed otherwise.
      Record j (counted over the whole run) has key "PREFIX-k<j % 5>" and value
      "PREFIX-<t>-<j>", partitioned by key (librdkafka's default partitioner, not Java's).
      Aborted records are flushed to the log first. Prints the committed records.
      TRANSACTIONAL_ID "-": a plain idempotent producer (no transactions, ABORT_EVERY 0).
  read BOOTSTRAP TOPIC TIMEOUT_MS
      Reads every partition of TOPIC from the beginning with isolation.level=read_committed
      until librdkafka reports the end of each (for read_committed: the last stable offset).
      Prints the records read.

Records are printed one JSON object per line: {"partition": 0, "offset": 12, "key": "6b30",
"value": "76"}, key and value hex (null for a null). Exits 1 with the reason on stderr on any
failure.
"""

import json
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition


def hex_or_none(data):
    return None if data is None else bytes(data).hex()


def line(partition, offset, key, value):
    return json.dumps({"partition": partition, "offset": offset,
                       "key": hex_or_none(key), "value": hex_or_none(value)})


def produce(bootstrap, topic, transactional_id, transactions, per_txn, abort_every, prefix):
    transactions, per_txn, abort_every = int(transactions), int(per_txn), int(abort_every)
    transactional = transactional_id != "-"
    if not transactional and abort_every:
        raise SystemExit("txn_peer produce: a plain producer (TRANSACTIONAL_ID -) cannot abort")
    config = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"}
    if transactional:
        config["transactional.id"] = transactional_id
    producer = Producer(config)
    if transactional:
        producer.init_transactions(60)
    out, errors, j = [], [], 0
    for t in range(transactions):
        abort = abort_every > 0 and t % abort_every == abort_every - 1
        delivered = []

        def report(err, msg, delivered=delivered):
            if err is not None:
                errors.append(str(err))
            else:
                delivered.append(msg)

        if transactional:
            producer.begin_transaction()
        for _ in range(per_txn):
            producer.produce(topic, key=f"{prefix}-k{j % 5}".encode(),
                             value=f"{prefix}-{t}-{j}".encode(), on_delivery=report)
            j += 1
        # flush serves the delivery reports, and puts an aborted transaction's records in
        # the log before the abort marker.
        producer.flush(60)
        if errors:
            raise SystemExit(f"txn_peer produce: delivery failed: {errors[0]}")
        if abort:
            producer.abort_transaction(60)
            continue
        if transactional:
            producer.commit_transaction(60)
        out.extend(line(m.partition(), m.offset(), m.key(), m.value()) for m in delivered)
    print("\n".join(out))


def read(bootstrap, topic, timeout_ms):
    deadline = time.monotonic() + int(timeout_ms) / 1000
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        # Never committed: assign only, nothing left in group state.
        "group.id": f"kafkit-txn-peer-{uuid.uuid4()}",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
        "check.crcs": True,
    })
    partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    open_partitions, out = set(partitions), []
    while open_partitions:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SystemExit(f"txn_peer read: timed out; partitions {sorted(open_partitions)} "
                             f"never reached their end")
        for msg in consumer.consume(num_messages=1000, timeout=min(left, 1.0)):
            err = msg.error()
            if err is not None and err.code() == KafkaError._PARTITION_EOF:
                open_partitions.discard(msg.partition())
            elif err is not None:
                raise SystemExit(f"txn_peer read: {err}")
            else:
                out.append(line(msg.partition(), msg.offset(), msg.key(), msg.value()))
    consumer.close()
    print("\n".join(out))


def main():
    mode, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    modes = {"produce": (produce, 7), "read": (read, 3)}
    if mode not in modes or len(args) != modes[mode][1]:
        raise SystemExit(f"usage: txn_peer.py produce|read ... (see the docstring); got {sys.argv[1:]}")
    modes[mode][0](*args)


if __name__ == "__main__":
    main()
