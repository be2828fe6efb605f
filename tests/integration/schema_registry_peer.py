"""confluent-kafka's Avro and Protobuf serializers as the peer of kafkit's
(tests/integration/schema_registry/).

Usage:
  schema_registry_peer.py produce FORMAT BOOTSTRAP REGISTRY TOPIC COUNT SCHEMA...
  schema_registry_peer.py consume FORMAT BOOTSTRAP REGISTRY TOPIC COUNT SCHEMA...

FORMAT and SCHEMA: `avro SCHEMA_FILE` (the schema's JSON text), or `protobuf DESCRIPTOR_FILE
MESSAGE`: a serialized FileDescriptorProto (kafkit's test parses the .proto text and writes
it, so no protoc is needed) and the full name of the message class built from it.

Record i is a reading: key "sensor-<i % 3>", value {sensor: "sensor-<i % 3>", celsius: i / 4,
seq: i, note: "odd" for odd i else null}, and for Protobuf tags [i, -i] too (its note is a
message {text}).

produce writes COUNT readings with FORMAT's serializer, which registers the schema under
TOPIC-value, then prints one JSON object: the schema ids of the records written and the first
record's value in hex. consume reads COUNT records from the start of TOPIC with FORMAT's
deserializer and prints one JSON line per record: the key, the schema id in the value's
header, that schema's type as the registry names it, and the value. Exits 1 on a delivery
error or if COUNT records do not come within 60 s.

The Protobuf deserializer is given no registry client: with one it asks for the writer's
schema as a serialized descriptor (`?format=serialized`), which Apicurio's Confluent API does
not convert to, so it would fail on any schema registered as .proto text (as kafkit and
Confluent's Java serializer register them), not on the records. Without one it reads the
framing (magic byte, schema id, message indexes) and decodes the message.
"""

import json
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer


def reading(i):
    return {"sensor": f"sensor-{i % 3}", "celsius": i / 4, "seq": i,
            "note": "odd" if i % 2 else None}


class Avro:
    def __init__(self, client, schema_file):
        from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
        with open(schema_file) as f:
            self.serializer = AvroSerializer(client, f.read())
        self.deserializer = AvroDeserializer(client)

    def value(self, i):
        return reading(i)

    def shown(self, value):
        return value


class Protobuf:
    def __init__(self, client, descriptor_file, message):
        from confluent_kafka.schema_registry.protobuf import (ProtobufDeserializer,
                                                              ProtobufSerializer)
        from google.protobuf import descriptor_pb2, descriptor_pool
        from google.protobuf.message_factory import GetMessageClass
        with open(descriptor_file, "rb") as f:
            file = descriptor_pb2.FileDescriptorProto.FromString(f.read())
        pool = descriptor_pool.DescriptorPool()
        pool.Add(file)
        self.cls = GetMessageClass(pool.FindMessageTypeByName(message))
        conf = {"use.deprecated.format": False}
        self.serializer = ProtobufSerializer(self.cls, client, conf)
        self.deserializer = ProtobufDeserializer(self.cls, conf)

    def value(self, i):
        fields = reading(i)
        note = fields.pop("note")
        value = self.cls(tags=[i, -i], **fields)
        if note is not None:
            value.note.text = note
        return value

    def shown(self, value):
        return {"sensor": value.sensor, "celsius": value.celsius, "seq": value.seq,
                "note": value.note.text if value.HasField("note") else None,
                "tags": list(value.tags)}


def produce(bootstrap, topic, count, fmt):
    keys = StringSerializer()
    producer = Producer({"bootstrap.servers": bootstrap})
    failed = []
    ids = set()
    first = None
    for i in range(count):
        data = fmt.serializer(fmt.value(i), SerializationContext(topic, MessageField.VALUE))
        ids.add(int.from_bytes(data[1:5], "big"))
        first = first or data.hex()
        producer.produce(topic, key=keys(f"sensor-{i % 3}"), value=data,
                         on_delivery=lambda err, _msg: err and failed.append(err))
    producer.flush(30)
    if failed or len(producer) > 0:
        sys.exit(f"delivery failed: {failed}, {len(producer)} undelivered")
    print(json.dumps({"ids": sorted(ids), "first": first}))


def consume(bootstrap, topic, count, fmt, client):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"registry-peer-{topic}",
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
        value = fmt.deserializer(msg.value(), SerializationContext(topic, MessageField.VALUE))
        schema_id = int.from_bytes(msg.value()[1:5], "big")
        print(json.dumps({"key": msg.key().decode(), "id": schema_id,
                          "schema_type": client.get_schema(schema_id).schema_type,
                          "value": fmt.shown(value)}))
        seen += 1
    consumer.close()
    if seen < count:
        sys.exit(f"{seen} of {count} records within 60 s")


if __name__ == "__main__":
    mode, format_name, bootstrap, registry, topic, count, *schema = sys.argv[1:]
    client = SchemaRegistryClient({"url": registry})
    fmt = {"avro": Avro, "protobuf": Protobuf}[format_name](client, *schema)
    if mode == "produce":
        produce(bootstrap, topic, int(count), fmt)
    else:
        consume(bootstrap, topic, int(count), fmt, client)
