"""confluent-kafka's Avro serializers as the peer of kafkit's (schema_registry.rs).

Usage:
  avro_peer.py produce BOOTSTRAP REGISTRY TOPIC SCHEMA_FILE COUNT
  avro_peer.py consume BOOTSTRAP REGISTRY TOPIC COUNT

produce writes COUNT readings (key "sensor-<i % 3>", value {sensor, celsius: i / 4, seq: i,
note: "odd" for odd i else null}) with AvroSerializer, registering SCHEMA_FILE's text under
TOPIC-value, then prints the schema id of the records written. consume reads COUNT records
from the start of TOPIC with AvroDeserializer and prints one JSON line per record: the key,
the schema id in the value's header, and the value as the deserializer returned it. Exits 1
on a delivery error or if COUNT records do not come within 60 s.
"""

import json
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer


def produce(bootstrap, registry, topic, schema_file, count):
    with open(schema_file) as f:
        schema = f.read()
    serializer = AvroSerializer(SchemaRegistryClient({"url": registry}), schema)
    keys = StringSerializer()
    producer = Producer({"bootstrap.servers": bootstrap})
    failed = []
    ids = set()
    for i in range(count):
        value = {"sensor": f"sensor-{i % 3}", "celsius": i / 4, "seq": i,
                 "note": "odd" if i % 2 else None}
        data = serializer(value, SerializationContext(topic, MessageField.VALUE))
        ids.add(int.from_bytes(data[1:5], "big"))
        producer.produce(topic, key=keys(f"sensor-{i % 3}"), value=data,
                         on_delivery=lambda err, _msg: err and failed.append(err))
    producer.flush(30)
    if failed or len(producer) > 0:
        sys.exit(f"delivery failed: {failed}, {len(producer)} undelivered")
    print(json.dumps(sorted(ids)))


def consume(bootstrap, registry, topic, count):
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": registry}))
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"avro-peer-{topic}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    seen = 0
    deadline = time.time() + 60
    while seen < count and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            sys.exit(f"consume failed: {msg.error()}")
        value = deserializer(msg.value(), SerializationContext(topic, MessageField.VALUE))
        print(json.dumps({"key": msg.key().decode(), "id": int.from_bytes(msg.value()[1:5], "big"),
                          "value": value}))
        seen += 1
    consumer.close()
    if seen < count:
        sys.exit(f"{seen} of {count} records within 60 s")


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "produce":
        produce(args[0], args[1], args[2], args[3], int(args[4]))
    else:
        consume(args[0], args[1], args[2], int(args[3]))
