"""Writes transactions with librdkafka: some committed, some aborted, interleaved on the
same partitions, for kafkit's read_committed test.

usage: transactions.py BOOTSTRAP TOPIC PARTITIONS ROUNDS
Each round writes 10 records per partition in a transaction that commits (values
"c-<round>-<partition>-<i>") and 10 in one that aborts ("a-..."); even rounds commit first,
odd rounds abort first. Every transaction ends, so a read_committed consumer reaches the end
of the log. Prints the committed values, one per line.
"""
import sys
import uuid

from confluent_kafka import Producer

bootstrap, topic, partitions, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
producer = Producer({
    "bootstrap.servers": bootstrap,
    "transactional.id": "kafkit-interop-" + uuid.uuid4().hex,
    "enable.idempotence": True,
})
producer.init_transactions(30)
committed = []


def write(kind, rnd):
    producer.begin_transaction()
    for p in range(partitions):
        for i in range(10):
            producer.produce(topic, value=f"{kind}-{rnd}-{p}-{i}".encode(), partition=p)
    if kind == "c":
        producer.commit_transaction(30)
        committed.extend(f"c-{rnd}-{p}-{i}" for p in range(partitions) for i in range(10))
    else:
        producer.flush(30)
        producer.abort_transaction(30)


for rnd in range(rounds):
    order = ["c", "a"] if rnd % 2 == 0 else ["a", "c"]
    for kind in order:
        write(kind, rnd)
for value in committed:
    print(value)
