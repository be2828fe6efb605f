// The Java client's side of kafkit's transaction interop tests and of the transactional
// produce benchmark (bench/peers.py, workload produce-txn), built with javac against the
// kafka-clients jar that org.apache.kafka:kafka-tools brings (testkit/src/java_tools.rs).
//
//   produce BOOTSTRAP TOPIC TRANSACTIONAL_ID TRANSACTIONS RECORDS_PER_TXN ABORT_EVERY PREFIX
//       Writes TRANSACTIONS transactions of RECORDS_PER_TXN records; transaction t is aborted
//       when ABORT_EVERY > 0 and t % ABORT_EVERY == ABORT_EVERY - 1, committed otherwise.
//       Record j (counted over the whole run) has key "PREFIX-k<j % 5>" and value
//       "PREFIX-<t>-<j>", partitioned by key. Aborted records are flushed to the log first,
//       so a reader that ignores the aborts would see them. Prints the committed records.
//       TRANSACTIONAL_ID "-": a plain idempotent producer (no transactions, no markers in
//       the log, ABORT_EVERY must be 0), for a copier's input.
//   read BOOTSTRAP TOPIC TIMEOUT_MS
//       Reads every partition of TOPIC from the beginning with isolation.level=read_committed
//       until each position reaches the partition's end offset as read_committed sees it
//       (the last stable offset, taken once at the start). Prints the records read.
//   perf BOOTSTRAP TOPIC NUM_RECORDS RECORDS_PER_TXN PAYLOAD_FILE [KEY=VALUE...]
//       Sends NUM_RECORDS keyless records (values: the file's lines, picked at random with a
//       fixed seed) in transactions of RECORDS_PER_TXN, committed one after the other, with
//       the producer settings given, after one uncounted warm-up transaction of one record;
//       prints one JSON summary line as bench-peers' `peer` does.
//
// Records are printed one JSON object per line: {"partition":0,"offset":12,"key":"6b30",
// "value":"76"}, key and value hex (JSON null for a null), in the order they were written
// (produce) or returned (read). Exits 1 with the reason on stderr on any failure.

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class KafkitTxnPeer {
    private KafkitTxnPeer() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage("no mode");
        }
        switch (args[0]) {
            case "produce" -> produce(Arrays.copyOfRange(args, 1, args.length));
            case "read" -> read(Arrays.copyOfRange(args, 1, args.length));
            case "perf" -> perf(Arrays.copyOfRange(args, 1, args.length));
            default -> usage("unknown mode " + args[0]);
        }
        System.out.flush();
        System.exit(0);
    }

    private static void usage(String why) {
        System.err.println("KafkitTxnPeer: " + why
                + "; modes: produce | read | perf (see the head of KafkitTxnPeer.java)");
        System.exit(2);
    }

    private static String hex(byte[] bytes) {
        if (bytes == null) {
            return "null";
        }
        StringBuilder s = new StringBuilder(bytes.length * 2 + 2).append('"');
        for (byte b : bytes) {
            s.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        return s.append('"').toString();
    }

    private static String recordJson(int partition, long offset, byte[] key, byte[] value) {
        return "{\"partition\":" + partition + ",\"offset\":" + offset + ",\"key\":" + hex(key)
                + ",\"value\":" + hex(value) + "}";
    }

    private static KafkaProducer<byte[], byte[]> producer(String bootstrap, String transactionalId,
                                                          Map<String, String> extra) {
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        if (transactionalId != null) {
            props.put("transactional.id", transactionalId);
        }
        props.put("enable.idempotence", "true");
        props.put("acks", "all");
        props.putAll(extra);
        return new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private static void produce(String[] a) throws Exception {
        if (a.length != 7) {
            usage("produce takes 7 arguments");
        }
        String bootstrap = a[0];
        String topic = a[1];
        String transactionalId = a[2].equals("-") ? null : a[2];
        int transactions = Integer.parseInt(a[3]);
        int perTxn = Integer.parseInt(a[4]);
        int abortEvery = Integer.parseInt(a[5]);
        String prefix = a[6];
        StringBuilder out = new StringBuilder();
        try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap, transactionalId, Map.of())) {
            boolean transactional = transactionalId != null;
            if (!transactional && abortEvery != 0) {
                usage("a plain producer (TRANSACTIONAL_ID -) cannot abort");
            }
            if (transactional) {
                producer.initTransactions();
            }
            long j = 0;
            for (int t = 0; t < transactions; t++) {
                boolean abort = abortEvery > 0 && t % abortEvery == abortEvery - 1;
                if (transactional) {
                    producer.beginTransaction();
                }
                List<Future<RecordMetadata>> sent = new ArrayList<>();
                List<byte[][]> records = new ArrayList<>();
                for (int i = 0; i < perTxn; i++, j++) {
                    byte[] key = (prefix + "-k" + (j % 5)).getBytes(StandardCharsets.UTF_8);
                    byte[] value = (prefix + "-" + t + "-" + j).getBytes(StandardCharsets.UTF_8);
                    sent.add(producer.send(new ProducerRecord<>(topic, key, value)));
                    records.add(new byte[][] {key, value});
                }
                if (abort) {
                    producer.flush();
                    producer.abortTransaction();
                    continue;
                }
                if (transactional) {
                    producer.commitTransaction();
                }
                for (int i = 0; i < sent.size(); i++) {
                    RecordMetadata m = sent.get(i).get();
                    out.append(recordJson(m.partition(), m.offset(), records.get(i)[0], records.get(i)[1]))
                            .append('\n');
                }
            }
        }
        System.out.print(out);
    }

    private static void read(String[] a) {
        if (a.length != 3) {
            usage("read takes 3 arguments");
        }
        String topic = a[1];
        long deadline = System.currentTimeMillis() + Long.parseLong(a[2]);
        Properties props = new Properties();
        props.put("bootstrap.servers", a[0]);
        props.put("isolation.level", "read_committed");
        props.put("enable.auto.commit", "false");
        props.put("auto.offset.reset", "earliest");
        props.put("check.crcs", "true");
        props.put("client.id", "kafkit-txn-peer-" + UUID.randomUUID());
        StringBuilder out = new StringBuilder();
        try (KafkaConsumer<byte[], byte[]> consumer =
                     new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                partitions.add(new TopicPartition(topic, p.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            // read_committed: the last stable offsets.
            Map<TopicPartition, Long> end = new HashMap<>(consumer.endOffsets(partitions));
            while (true) {
                end.entrySet().removeIf(e -> consumer.position(e.getKey()) >= e.getValue());
                if (end.isEmpty()) {
                    break;
                }
                if (System.currentTimeMillis() > deadline) {
                    System.err.println("KafkitTxnPeer read: timed out short of the end offsets: " + end);
                    System.exit(1);
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    out.append(recordJson(r.partition(), r.offset(), r.key(), r.value())).append('\n');
                }
            }
        }
        System.out.print(out);
    }

    private static void perf(String[] a) throws Exception {
        if (a.length < 5) {
            usage("perf takes at least 5 arguments");
        }
        String bootstrap = a[0];
        String topic = a[1];
        long n = Long.parseLong(a[2]);
        int perTxn = Integer.parseInt(a[3]);
        List<byte[]> payloads = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get(a[4]), StandardCharsets.UTF_8)) {
            if (!line.isEmpty()) {
                payloads.add(line.getBytes(StandardCharsets.UTF_8));
            }
        }
        Map<String, String> extra = new HashMap<>();
        for (int i = 5; i < a.length; i++) {
            String[] kv = a[i].split("=", 2);
            extra.put(kv[0], kv[1]);
        }
        Random pick = new Random(1);
        long[] latencyUs = new long[(int) n];
        AtomicLong acked = new AtomicLong();
        AtomicLong bytes = new AtomicLong();
        AtomicReference<Exception> firstError = new AtomicReference<>();
        long start;
        try (KafkaProducer<byte[], byte[]> producer =
                     producer(bootstrap, "kafkit-bench-" + UUID.randomUUID(), extra)) {
            producer.initTransactions();
            // Warm-up, not counted: one transaction of one record, as bench-peers' peer does.
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, payloads.get(0)));
            producer.commitTransaction();
            start = System.nanoTime();
            for (long i = 0; i < n; i += perTxn) {
                producer.beginTransaction();
                for (long k = i; k < Math.min(n, i + perTxn); k++) {
                    byte[] value = payloads.get(pick.nextInt(payloads.size()));
                    long sent = System.nanoTime();
                    int slot = (int) k;
                    producer.send(new ProducerRecord<>(topic, value), (m, e) -> {
                        if (e != null) {
                            firstError.compareAndSet(null, e);
                            return;
                        }
                        latencyUs[slot] = (System.nanoTime() - sent) / 1000;
                        acked.incrementAndGet();
                        bytes.addAndGet(value.length);
                    });
                }
                producer.commitTransaction();
            }
        }
        double secs = (System.nanoTime() - start) / 1e9;
        long[] sorted = latencyUs.clone();
        Arrays.sort(sorted);
        long records = acked.get();
        Exception e = firstError.get();
        System.out.println("{\"client\":\"java-txn\",\"records\":" + records + ",\"bytes\":" + bytes.get()
                + ",\"secs\":" + secs + ",\"records_per_sec\":" + records / secs
                + ",\"mb_per_sec\":" + bytes.get() / secs / 1048576.0
                + ",\"errors\":" + (n - records) + ",\"first_error\":"
                + (e == null ? "null" : "\"" + e.toString().replace("\"", "'") + "\"")
                + ",\"lat_us_p50\":" + quantile(sorted, 0.5) + ",\"lat_us_p99\":" + quantile(sorted, 0.99)
                + ",\"lat_us_p999\":" + quantile(sorted, 0.999) + ",\"lat_us_max\":" + sorted[sorted.length - 1]
                + ",\"checksum\":0}");
        if (records != n) {
            System.exit(1);
        }
    }

    private static long quantile(long[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) (q * sorted.length))];
    }
}
