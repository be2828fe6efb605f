// Produces (and checks) the golden record batches under tests/golden/ with the Java client.
// See README.md in this directory for how to run it.
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.SimpleRecord;

public class Golden {
    static byte[] b(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    static Compression codec(String name) {
        switch (name) {
            case "none": return Compression.NONE;
            case "gzip": return Compression.gzip().build();
            case "snappy": return Compression.snappy().build();
            case "lz4": return Compression.lz4().build();
            case "zstd": return Compression.zstd().build();
            default: throw new IllegalArgumentException(name);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("gen")) {
            gen(Path.of(args[1]));
        } else {
            for (int i = 1; i < args.length; i++) {
                dump(Path.of(args[i]));
            }
        }
    }

    // The records every golden batch holds: keys, a null key, a null value, duplicate header
    // keys, a null header value, a timestamp below the first (negative delta), and a long
    // repetitive value so the codecs have something to compress.
    static SimpleRecord[] records() {
        StringBuilder longValue = new StringBuilder();
        for (int i = 0; i < 20; i++) {
            longValue.append("{\"id\":").append(i).append(",\"name\":\"kafkit\"}");
        }
        return new SimpleRecord[] {
            new SimpleRecord(1700000000000L, b("k1"), b("hello"), new Header[] {
                new RecordHeader("h1", b("v1")),
                new RecordHeader("h1", b("v2")),
                new RecordHeader("n", (byte[]) null),
            }),
            new SimpleRecord(1699999999000L, null, b(longValue.toString()), new Header[0]),
            new SimpleRecord(1700000001000L, b("tomb"), null, new Header[0]),
            new SimpleRecord(1700000000500L, b(""), b(""), new Header[] {
                new RecordHeader("", b("")),
            }),
        };
    }

    static void gen(Path dir) throws Exception {
        for (String name : new String[] {"none", "gzip", "snappy", "lz4", "zstd"}) {
            // baseOffset 100, producer id 1234, epoch 5, base sequence 42, leader epoch 7.
            MemoryRecords records = MemoryRecords.withRecords(RecordBatch.MAGIC_VALUE_V2, 100L,
                codec(name), TimestampType.CREATE_TIME, 1234L, (short) 5, 42, 7, false,
                records());
            ByteBuffer buf = records.buffer();
            byte[] out = new byte[buf.remaining()];
            buf.get(out);
            Files.write(dir.resolve("java_" + name + ".bin"), out);
        }
    }

    // Prints what the Java client reads from a file, after validating every batch's CRC.
    static void dump(Path file) throws Exception {
        MemoryRecords records = MemoryRecords.readableRecords(ByteBuffer.wrap(Files.readAllBytes(file)));
        for (RecordBatch batch : records.batches()) {
            batch.ensureValid();
            System.out.printf("%s batch base=%d last=%d codec=%s pid=%d epoch=%d seq=%d txn=%b ctrl=%b maxTs=%d%n",
                file.getFileName(), batch.baseOffset(), batch.lastOffset(), batch.compressionType().name,
                batch.producerId(), batch.producerEpoch(), batch.baseSequence(), batch.isTransactional(),
                batch.isControlBatch(), batch.maxTimestamp());
            for (Record r : batch) {
                r.ensureValid();
                StringBuilder h = new StringBuilder();
                for (Header hd : r.headers()) {
                    h.append(hd.key()).append('=').append(hd.value() == null ? "null" : new String(hd.value(), StandardCharsets.UTF_8)).append(';');
                }
                System.out.printf("  offset=%d ts=%d key=%s valueLen=%d headers=%s%n", r.offset(), r.timestamp(),
                    r.hasKey() ? StandardCharsets.UTF_8.decode(r.key()).toString() : "null",
                    r.hasValue() ? r.valueSize() : -1, h);
            }
        }
    }
}
