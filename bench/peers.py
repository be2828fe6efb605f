#!/usr/bin/env python3
"""Side-by-side benchmark: kafkit against librdkafka, the Java client and krafka.

Run through bench/peers.sh, which builds everything first. This script starts one local
Apache Kafka broker with the project's launcher, writes two payload corpora (100-byte and
1 KiB lines), runs every (workload, client) pair interleaved (A B C A B C ..., the first
repetition discarded) as child processes, measures each child the same way (user+sys CPU
time from wait4, peak RSS from GNU time), counts records per batch in the broker's segment files after
each produce run, and writes results.md, results.json and chart.png to the results folder.

The -tls workloads run over the broker's SSL listener (the launcher's --ssl: a certificate
signed by a CA made at start), every client trusting that CA: kafkit with rustls, librdkafka
with OpenSSL, Java with its own TLS (a PEM trust store); krafka sits them out.

produce-txn sends the produce-none records in transactions of 1,000 (--transaction-size),
each committed before the next begins: kafkit and librdkafka through the peer's -txn-
modes, Java through KafkitTxnPeer's perf mode (testkit/java/); the future-per-record
columns and krafka sit it out.

The rebalance-* workloads (`--workloads rebalance` runs all three, interleaved) time a
consumer group of one client through the peer's -rebalance modes: four consumers in one
process, subscribed to a fresh 12-partition topic that a producer in the same process
(kafkit's, for every client) writes one record per partition every 5 ms. Timed: member 1's
subscribe → its first record (alone in a fresh group); and member 4's subscribe, a second
plus an offset spread over a heartbeat interval across repetitions (see join_offset) after
three members settled → the four settled again, i.e. each client reports an equal
share (3 partitions) as assigned, none twice, and each member has read a record from its
share since it got it. rebalance-eager: classic protocol, range assignor;
rebalance-cooperative: classic, cooperative-sticky; rebalance-consumer: KIP-848
(group.protocol=consumer, the broker's default assignor). Clients' defaults otherwise
(heartbeat.interval.ms 3 s, session.timeout.ms 45 s; the broker's
group.consumer.heartbeat.interval.ms 5 s), unless --group-heartbeat-ms sets the classic
clients' heartbeat.interval.ms and the started broker's group.consumer.heartbeat.interval.ms
(and its minimum) alike. Java and krafka sit these out (no peer for them).

The large workloads (`--workloads large` runs all twelve; none of them by default)
produce and consume records of 100 KiB (produce-100k-*, consume-100k-*) and 1 MiB
(-1m-*), uncompressed, lz4 and zstd, with kafkit, librdkafka and Java only: JSON-like
order events cut to size, as compressible as the 1 KiB corpus. Every client gets
max.request.size 2 MiB (librdkafka: message.max.bytes), and a broker started here
message.max.bytes 2 MiB: a 1 MiB record in a batch of its own is over every default (Java's
and kafkit's max.request.size 1 MiB, librdkafka's 1,000,000, the broker's 1 MiB + 12).
Each codec at its client's default level: zstd 3 for Java and librdkafka, ruzstd's
fastest (about zstd's 1) for kafkit; the compressed bytes per record, read from the
broker's segment files, are in the notes.

The link-* workloads (`--workloads links` runs all six) produce the produce-none records
over a latency-bound link, unthrottled or (-10k) at 10,000 records/s: the started broker
gets one extra listener per delay (the launcher's --delayed-listener), reached through the
testkit's TCP proxy, which holds every chunk 1 ms or 10 ms each way (link-2ms-*,
link-20ms-*: a round trip of 2 ms or 20 ms, as to another zone or region) and which the
listener advertises, so every connection of the client goes through it. -p1: a topic of 1
partition; -p6 and -10k: 6. kafkit, librdkafka and Java only (their callback or perf-tool
paths), with the settings of every produce workload (idempotence on, acks=all, 5 in
flight). The harness times ApiVersions round trips over each listener first and notes them.

The parts-* workloads (`--workloads partitions` runs them all; issue 16) produce to and
consume from many partitions on the one broker: 1 topic of 100, 1,000 and 10,000 partitions
(the curve) and 100 topics of 100 (-100x100; producers send record i to topic i mod 100,
consumers assign every partition). A workload's topics are made once and shared by its runs
(making 10,000 partitions takes the broker a while), so records per batch are not counted
there. Time to first record is the peer's (process start → the warm-up's delivery report, or
→ the first record polled); Java's tools do not report it, and they take one topic only, so
Java sits out the -100x100 workloads. parts-meta-10k and parts-paced-10k produce the same
10,000 records/s to 10,000 partitions, with metadata refreshed every 250 ms and at each
client's default (minutes): their CPU difference over the refreshes made prices one refresh
of 10,000 partitions' metadata. The started broker gets --broker-heap (default 2g) for these
(KAFKIT_TESTKIT_BROKER_HEAP): 512 MiB was too small at 10,000 partitions.
"""

import argparse
import json
import os
import random
import resource
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
import platform

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Every client gets these (the peer binary and the Java tools alike).
PRODUCER_PROPS = {
    "acks": "all",
    "enable.idempotence": "true",
    "max.in.flight.requests.per.connection": "5",
    "linger.ms": "5",
    "batch.size": "65536",
    "buffer.memory": "33554432",
}

# kafkit and rdkafka: each client's fastest API (a delivery callback per record); the
# -future columns: a future per record (kafkit's `send` + `Delivery`, rdkafka's FutureProducer).
PRODUCERS = ["kafkit", "kafkit-future", "rdkafka", "rdkafka-future", "krafka", "java"]
CONSUMERS = ["kafkit", "rdkafka", "rdkafka-tuned", "rdkafka-stream", "krafka", "java"]
E2E_CLIENTS = ["kafkit", "rdkafka", "krafka"]
REBALANCE_CLIENTS = ["kafkit", "rdkafka"]

# kind: produce (unthrottled or at `rate` records/s), consume (a pre-filled topic) or e2e
# (produce at `rate` and consume the same topic in one process). corpus: "100" or "1k".
# records: the option giving the record count, times `scale`.
WORKLOADS = {
    "produce-none": dict(kind="produce", corpus="100", compression="none", rate=-1, records="records"),
    "produce-lz4": dict(kind="produce", corpus="100", compression="lz4", rate=-1, records="records"),
    "produce-1k-none": dict(kind="produce", corpus="1k", compression="none", rate=-1, records="records_1k"),
    "produce-1k-lz4": dict(kind="produce", corpus="1k", compression="lz4", rate=-1, records="records_1k"),
    "latency-10k": dict(kind="produce", corpus="100", compression="none", rate=10_000, records="latency_records"),
    "latency-50k": dict(kind="produce", corpus="100", compression="none", rate=50_000, records="latency_records", scale=5),
    "consume": dict(kind="consume", corpus="100", compression="none", records="consume_records"),
    "consume-1k": dict(kind="consume", corpus="1k", compression="none", records="consume_records_1k"),
    "consume-lz4": dict(kind="consume", corpus="100", compression="lz4", records="consume_records"),
    "e2e-10k": dict(kind="e2e", corpus="100", compression="none", rate=10_000, records="latency_records"),
    "produce-tls": dict(kind="produce", corpus="100", compression="none", rate=-1, records="records", tls=True),
    "consume-tls": dict(kind="consume", corpus="100", compression="none", records="consume_records", tls=True),
    "produce-txn": dict(kind="produce", corpus="100", compression="none", rate=-1, records="records", txn=True),
    # delay: ms each way through the delaying proxy (see the module's doc); partitions: the
    # topic's (6 for every other workload).
    "link-2ms-p1": dict(kind="produce", corpus="100", compression="none", rate=-1, records="link_records", delay=1, partitions=1),
    "link-2ms-p6": dict(kind="produce", corpus="100", compression="none", rate=-1, records="link_records", delay=1, partitions=6),
    "link-20ms-p1": dict(kind="produce", corpus="100", compression="none", rate=-1, records="link_records", delay=10, partitions=1),
    "link-20ms-p6": dict(kind="produce", corpus="100", compression="none", rate=-1, records="link_records", delay=10, partitions=6),
    # At a fixed rate, the latency the link and the batching add rather than a queue's.
    "link-2ms-10k": dict(kind="produce", corpus="100", compression="none", rate=10_000, records="latency_records", delay=1, partitions=6),
    "link-20ms-10k": dict(kind="produce", corpus="100", compression="none", rate=10_000, records="latency_records", delay=10, partitions=6),
    # kind rebalance: `protocol` is the peer's --group-protocol (see the module's doc).
    "rebalance-eager": dict(kind="rebalance", protocol="eager"),
    "rebalance-cooperative": dict(kind="rebalance", protocol="cooperative"),
    "rebalance-consumer": dict(kind="rebalance", protocol="consumer"),
    # Many partitions (see the module's doc): topics × partitions of a topic, shared by the
    # workload's runs.
    "parts-produce-100": dict(kind="produce", corpus="100", compression="none", rate=-1, records="parts_records", partitions=100, shared=True),
    "parts-produce-1k": dict(kind="produce", corpus="100", compression="none", rate=-1, records="parts_records", partitions=1000, shared=True),
    "parts-produce-10k": dict(kind="produce", corpus="100", compression="none", rate=-1, records="parts_records", partitions=10_000, shared=True),
    "parts-produce-100x100": dict(kind="produce", corpus="100", compression="none", rate=-1, records="parts_records", partitions=100, topics=100, shared=True),
    "parts-consume-100": dict(kind="consume", corpus="100", compression="none", records="parts_records", partitions=100),
    "parts-consume-1k": dict(kind="consume", corpus="100", compression="none", records="parts_records", partitions=1000),
    "parts-consume-10k": dict(kind="consume", corpus="100", compression="none", records="parts_records", partitions=10_000),
    "parts-consume-100x100": dict(kind="consume", corpus="100", compression="none", records="parts_records", partitions=100, topics=100),
    "parts-paced-10k": dict(kind="produce", corpus="100", compression="none", rate=10_000, records="parts_paced_records", partitions=10_000, shared=True),
    "parts-meta-10k": dict(kind="produce", corpus="100", compression="none", rate=10_000, records="parts_paced_records", partitions=10_000, shared=True, metadata_age_ms=250),
}
# The large workloads (see the module's doc): corpus "100k" or "1m", only when asked for.
for _size in ["100k", "1m"]:
    for _codec in ["none", "lz4", "zstd"]:
        WORKLOADS[f"produce-{_size}-{_codec}"] = dict(
            kind="produce", corpus=_size, compression=_codec, rate=-1,
            records=f"records_{_size}", large=True)
        WORKLOADS[f"consume-{_size}-{_codec}"] = dict(
            kind="consume", corpus=_size, compression=_codec, records=f"records_{_size}",
            large=True)
# The clients of the large workloads, producing and consuming.
LARGE_CLIENTS = {"kafkit", "rdkafka", "java"}
# max.request.size of every producer (and message.max.bytes of a broker started here) when
# a large workload runs.
LARGE_MAX_REQUEST = 2 * 1024 * 1024
# Bytes per record of each corpus.
CORPUS_BYTES = {"100": 100, "1k": 1024, "100k": 100 * 1024, "1m": 1024 * 1024}
# --workloads rebalance: the three, their runs interleaved; --workloads links: the four link-*.
WORKLOAD_GROUPS = {"rebalance": [w for w, spec in WORKLOADS.items() if spec["kind"] == "rebalance"],
                   "links": [w for w, spec in WORKLOADS.items() if spec.get("delay")],
                   "partitions": [w for w in WORKLOADS if w.startswith("parts-")]}
WORKLOAD_GROUPS["large"] = [w for w, spec in WORKLOADS.items() if spec.get("large")]
# Partitions of a rebalance topic: shared evenly by 1, 3 and 4 members.
REBALANCE_PARTITIONS = 12
# The metrics of a rebalance run, as the peer prints them (ms).
REBALANCE_METRICS = ["first_record_ms", "three_ms", "rebalance_ms", "new_member_first_ms"]
# Clients whose TLS the peer does not wire up (no ratios against them over TLS).
NO_TLS = {"krafka"}
TLS_WORKLOADS = {w for w, spec in WORKLOADS.items() if spec.get("tls")}
# The clients with a transactional produce mode.
TXN_CLIENTS = {"kafkit", "rdkafka", "java"}
# The clients of the link-* workloads.
LINK_CLIENTS = {"kafkit", "rdkafka", "java"}
# The clients of the parts-* workloads; Java only where there is one topic.
PARTS_CLIENTS = {"kafkit", "rdkafka", "java"}
PARTS_WORKLOADS = set(WORKLOAD_GROUPS["partitions"])


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def write_corpus(path, lines=20000, size=100, seed=1):
    """Compressible 100-byte records: log-like lines from a small vocabulary."""
    rng = random.Random(seed)
    words = ("order user item payment shipped created updated cancelled eu-west us-east "
             "warehouse status ok retry checkout cart session token price qty sku").split()
    with open(path, "w") as f:
        for i in range(lines):
            s = '{"id":%d,"ev":"%s","user":"u%04d","tags":[' % (i, rng.choice(words), rng.randrange(10000))
            while len(s) < size:
                s += '"%s",' % rng.choice(words)
            f.write(s[: size - 2] + "]}" + "\n")
    return path


def write_corpus_1k(path, lines=2000, size=1024, seed=2):
    """Compressible 1 KiB records: JSON-like order events (fields, then line items) drawn
    from a small vocabulary with varying numbers, cut to `size` bytes."""
    rng = random.Random(seed)
    words = ("order user item payment shipped created updated cancelled eu-west us-east "
             "warehouse status ok retry checkout cart session token price qty sku").split()
    with open(path, "w") as f:
        for i in range(lines):
            s = ('{"id":%d,"ev":"%s","user":"u%05d","region":"%s","session":"s%08x",'
                 '"status":"%s","items":[' % (i, rng.choice(words), rng.randrange(100000),
                                              rng.choice(words), rng.getrandbits(32),
                                              rng.choice(words)))
            while len(s) < size:
                s += ('{"sku":"%s-%04d","qty":%d,"price":%d.%02d,"note":"%s %s"},'
                      % (rng.choice(words), rng.randrange(10000), rng.randrange(1, 9),
                         rng.randrange(1, 500), rng.randrange(100), rng.choice(words),
                         rng.choice(words)))
            f.write(s[: size - 2] + "]}" + "\n")
    return path


def write_corpus_large(path, size, lines, seed):
    """Compressible records of `size` bytes (100 KiB, 1 MiB): JSON-like order events, as
    the 1 KiB corpus, one after the other until the line is full: text a log or an event
    store would carry, neither all one byte nor random."""
    rng = random.Random(seed)
    words = ("order user item payment shipped created updated cancelled eu-west us-east "
             "warehouse status ok retry checkout cart session token price qty sku").split()
    with open(path, "w") as f:
        for i in range(lines):
            parts, n = ["["], 1
            while n < size:
                event = ('{"id":%d,"ev":"%s","user":"u%05d","region":"%s","session":"s%08x",'
                         '"items":[' % (rng.randrange(10**9), rng.choice(words),
                                        rng.randrange(100000), rng.choice(words),
                                        rng.getrandbits(32)))
                event += ",".join('{"sku":"%s-%04d","qty":%d,"price":%d.%02d,"note":"%s %s"}'
                                  % (rng.choice(words), rng.randrange(10000), rng.randrange(1, 9),
                                     rng.randrange(1, 500), rng.randrange(100), rng.choice(words),
                                     rng.choice(words)) for _ in range(rng.randrange(1, 6)))
                event += "]},"
                parts.append(event)
                n += len(event)
            f.write("".join(parts)[: size - 1] + "]" + "\n")
    return path


def segment_batches(path):
    """(batches, records, bytes) of the data record batches (magic v2) in one segment file.
    A batch: baseOffset int64, batchLength int32 (bytes after this field), partitionLeaderEpoch
    int32, magic int8, crc uint32, attributes int16 (bit 5: control batch), lastOffsetDelta
    int32, baseTimestamp int64, maxTimestamp int64, producerId int64, producerEpoch int16,
    baseSequence int32, records count int32 (at byte 57), then the records."""
    batches = records = size = pos = 0
    with open(path, "rb") as f:  # header by header: the harness stays small (see run_child)
        while len(head := f.read(61)) == 61:
            _, length = struct.unpack_from(">qi", head, 0)
            if length <= 0:  # zeros past the end of a preallocated segment
                break
            if head[16] != 2:
                raise ValueError(f"{path}: batch at byte {pos} has magic {head[16]}, not 2")
            (attributes,) = struct.unpack_from(">h", head, 21)
            (count,) = struct.unpack_from(">i", head, 57)
            if not attributes & 0x20:
                batches, records, size = batches + 1, records + count, size + 12 + length
            pos += 12 + length
            f.seek(pos)
    return batches, records, size


def topic_batches(log_dir, topic):
    """(batches, records, bytes) over every partition folder (<topic>-<n>) of `topic`."""
    folder = re.compile(re.escape(topic) + r"-\d+$")
    total = [0, 0, 0]
    for d in os.listdir(log_dir):
        if not folder.match(d):
            continue
        for name in os.listdir(os.path.join(log_dir, d)):
            if name.endswith(".log"):
                for i, v in enumerate(segment_batches(os.path.join(log_dir, d, name))):
                    total[i] += v
    return tuple(total)


def broker_home_on(folder, target):
    """A copy of the launcher's Kafka jars under `folder` (e.g. on tmpfs), so that the
    launcher, pointed there by CARGO_TARGET_DIR, keeps the broker's data there too."""
    src = os.path.join(target, "kafka-4.4.0")
    dst = os.path.join(folder, "kafka-4.4.0")
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        if name != "clusters" and not os.path.exists(os.path.join(dst, name)):
            (shutil.copytree if os.path.isdir(os.path.join(src, name)) else shutil.copy2)(
                os.path.join(src, name), os.path.join(dst, name))
    return folder


def api_versions_round_trip(bootstrap, samples=20):
    """(median, min, max) ms of a Kafka ApiVersions v0 round trip to the first address of
    `bootstrap`, on a connection of its own: what a delayed listener adds to a request."""
    host, port = bootstrap.split(",")[0].rsplit(":", 1)

    def read_exactly(sock, n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError(f"{bootstrap} closed the connection")
            data += chunk
        return data

    times = []
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client_id = b"kafkit-bench-rtt"
        for i in range(samples):
            # api_key 18 (ApiVersions), version 0, correlation id, client id.
            body = struct.pack(">hhih", 18, 0, i, len(client_id)) + client_id
            t = time.perf_counter()
            sock.sendall(struct.pack(">i", len(body)) + body)
            (size,) = struct.unpack(">i", read_exactly(sock, 4))
            read_exactly(sock, size)
            times.append((time.perf_counter() - t) * 1000)
    return median_spread(times)


def more_open_files():
    """Raises the open-file limit of the broker about to start to the hard limit: it keeps a
    file open per partition (see Bench.wait_for_files)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def open_files(pid):
    """(files process `pid` holds open, its limit), or None where /proc cannot tell."""
    try:
        count = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/limits") as f:
            line = next(l for l in f if l.startswith("Max open files"))
        return count, int(line.split()[3])
    except (OSError, StopIteration, ValueError, IndexError):
        return None


class Broker:
    def __init__(self, launcher, log_path, home=None, ssl=False, properties=(), delays=(),
                 heap=None):
        self.log = open(log_path, "w")
        env = dict(os.environ, CARGO_TARGET_DIR=home) if home else dict(os.environ)
        if heap:
            env["KAFKIT_TESTKIT_BROKER_HEAP"] = heap
        cmd = [launcher, "--nodes", "1", "--ignore-stdin"] + (["--ssl"] if ssl else [])
        for p in properties:
            cmd += ["--property", p]
        for d in delays:
            cmd += ["--delayed-listener", str(d)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     stdin=subprocess.DEVNULL, env=env,
                                     preexec_fn=more_open_files)
        self.bootstrap = self.log_dir = self.ssl_bootstrap = self.ssl_ca = None
        self.delayed = {}  # ms each way -> the delayed listener's bootstrap
        for line in self.proc.stdout:
            log("launcher:", line.rstrip())
            key, _, value = line.strip().partition("=")
            if key == "bootstrap":
                self.bootstrap = value
            if key == "logdir" and not self.log_dir:
                self.log_dir = value
            if key == "ssl_bootstrap":
                self.ssl_bootstrap = value
            if key == "ssl_ca":
                self.ssl_ca = value
            if m := re.fullmatch(r"delayed_bootstrap_(\d+)ms", key):
                self.delayed[int(m.group(1))] = value
            if key == "node":
                break
        if not self.bootstrap:
            raise SystemExit(f"the launcher printed no bootstrap= line (exit status "
                             f"{self.proc.poll()}); see {log_path}")
        self.pid = int(re.search(r"pid=(\d+)", line).group(1)) if "pid=" in line else None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


GNU_TIME = "/usr/bin/time"


def run_child(cmd, out_path, env=None):
    """Runs cmd to completion; returns (exit status, rusage, peak RSS in MB, wall seconds,
    stdout text). CPU time comes from wait4. Peak RSS does not: Linux carries a process's
    ru_maxrss across exec, and Popen's vfork+exec starts it at this Python process's own
    peak, so the child is run under GNU time (a fork from a ~1 MB process) when there is
    one, and its %M is taken."""
    rss_path = out_path + ".maxrss"
    timed = os.access(GNU_TIME, os.X_OK)
    full = [GNU_TIME, "-f", "%M", "-o", rss_path] + cmd if timed else cmd
    with open(out_path, "w") as out:
        start = time.monotonic()
        proc = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path) as f:
        text = f.read()
    rss_kb = ru.ru_maxrss
    if timed:
        with open(rss_path) as f:  # "Command exited with non-zero status N" may come first
            rss_kb = int(f.read().split()[-1])
        os.unlink(rss_path)
    return proc.returncode, ru, rss_kb / 1024, wall, text


class Bench:
    def __init__(self, a):
        self.a = a
        self.peer = os.path.join(a.target, "release", "peer")
        self.java_cp = a.java_classpath
        self.results = []  # one dict per counted or discarded run
        self.topic_seq = 0
        self.corpora = {}  # "100" / "1k" -> payload file
        self.large_corpora = set()  # the payload files of the large workloads
        self.log_dir = None  # the broker's log.dirs, for records per batch
        self.broker_pid = None  # the broker started here, for its open files
        self.ssl_bootstrap = self.ssl_ca = None  # the SSL listener, for the -tls workloads
        self.delayed = {}  # ms each way -> a delayed listener, for the link-* workloads
        self.notes = []  # checksum checks, for the report

    def wait_for_files(self, partitions):
        """Waits, up to three minutes, until the broker started here has room under its
        open-file limit for the logs of `partitions` more partitions. It holds a file open per
        partition, and a deleted topic's for a minute or more after the delete: a workload
        making 10,000 partitions right after another deleted 10,000 went past this machine's
        limit of 20,000 ("Too many open files" in the broker's metadata publisher, which then
        never made the logs of some partitions it leads, and every produce to them failed)."""
        if not self.broker_pid:
            return
        started = time.monotonic()
        while (files := open_files(self.broker_pid)) and files[0] + partitions + 1000 > files[1]:
            if time.monotonic() - started > 180:
                log(f"  the broker still holds {files[0]} of {files[1]} files open; going on")
                return
            time.sleep(1)
        waited = time.monotonic() - started
        if waited >= 1:
            log(f"  waited {waited:.0f} s for the broker to close the files of deleted topics")

    def admin(self, mode, topics, partitions=6):
        if mode == "admin-create":
            self.wait_for_files(partitions * len(topics))
        # Straight to the broker: only the measured runs go through a delayed listener.
        cmd = [self.peer, mode, "--bootstrap", self.bootstrap, "--topic", ",".join(topics),
               "--num-records", "1", "--partitions", str(partitions)]
        rc, _, _, _, text = run_child(cmd, os.path.join(self.a.out, "admin.log"))
        if rc != 0:
            raise SystemExit(f"{mode} {topics} failed: {text}")

    def java(self, cls, args):
        # As kafka-run-class.sh runs the perf tools (KAFKA_HEAP_OPTS=-Xmx512M).
        return ["java", "-Xmx512M", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
                "-Djava.awt.headless=true", "-cp", self.java_cp, cls] + args

    def server(self, tls, delay=None):
        """(bootstrap, security properties under Java's names, the peer's arguments)."""
        if delay:
            if delay not in self.delayed:
                raise SystemExit(f"a link workload needs a listener delayed {delay} ms each way: "
                                 "start the broker here (no --bootstrap), or pass "
                                 f"--delayed-bootstrap {delay}=HOST:PORT")
            assert not tls, "no link workload over TLS"
            return self.delayed[delay], [], []
        if not tls:
            return self.bootstrap, [], []
        if not self.ssl_bootstrap:
            raise SystemExit("a -tls workload needs the broker's SSL listener: start it here "
                             "(no --bootstrap), or pass --ssl-bootstrap and --ssl-ca")
        props = ["security.protocol=SSL", "ssl.truststore.type=PEM",
                 f"ssl.truststore.location={self.ssl_ca}"]
        return self.ssl_bootstrap, props, ["--ssl-ca", self.ssl_ca]

    def produce_cmd(self, client, topic, n, throughput, compression, corpus, tls=False, txn=False,
                    delay=None, metadata_age_ms=None):
        bootstrap, security, peer_args = self.server(tls, delay)
        if metadata_age_ms:
            security = security + [f"metadata.max.age.ms={metadata_age_ms}"]
            peer_args = peer_args + ["--metadata-max-age-ms", str(metadata_age_ms)]
        if txn:
            assert throughput < 0 and not tls, "produce-txn is unthrottled plaintext"
            if client == "java":
                props = [f"{k}={v}" for k, v in PRODUCER_PROPS.items()]
                props += [f"compression.type={compression}"]
                return self.java("KafkitTxnPeer", ["perf", bootstrap, topic, str(n),
                                                   str(self.a.transaction_size), corpus] + props)
            return [self.peer, f"{client}-txn-produce", "--bootstrap", bootstrap, "--topic", topic,
                    "--num-records", str(n), "--payload-file", corpus,
                    "--compression", compression,
                    "--transaction-size", str(self.a.transaction_size)]
        large = corpus in self.large_corpora
        if client == "java":
            props = [f"{k}={v}" for k, v in PRODUCER_PROPS.items()]
            props += [f"bootstrap.servers={bootstrap}", f"compression.type={compression}"]
            props += [f"max.request.size={LARGE_MAX_REQUEST}"] if large else []
            return self.java("org.apache.kafka.tools.ProducerPerformance",
                             ["--topic", topic, "--num-records", str(n), "--payload-file",
                              corpus, "--throughput", str(throughput),
                              "--producer-props"] + props + security)
        mode = {"kafkit": "kafkit-produce", "kafkit-future": "kafkit-future-produce",
                "rdkafka": "rdkafka-produce",
                "rdkafka-future": "rdkafka-future-produce", "krafka": "krafka-produce"}[client]
        return [self.peer, mode, "--bootstrap", bootstrap, "--topic", topic,
                "--num-records", str(n), "--payload-file", corpus,
                "--throughput", str(throughput), "--compression", compression] + peer_args + (
                    ["--max-request-size", str(LARGE_MAX_REQUEST)] if large else [])

    def e2e_cmd(self, client, topic, n, throughput, compression, corpus, tls=False):
        assert not tls, "no end-to-end workload over TLS"
        return [self.peer, f"{client}-e2e", "--bootstrap", self.bootstrap, "--topic", topic,
                "--num-records", str(n), "--payload-file", corpus,
                "--throughput", str(throughput), "--compression", compression]

    def consume_cmd(self, client, topic, n, tls=False, partitions=6):
        bootstrap, security, peer_args = self.server(tls)
        if client == "java":
            props = ["fetch.min.bytes=1", "fetch.max.bytes=52428800", "fetch.max.wait.ms=500",
                     "max.poll.records=500", "auto.offset.reset=earliest",
                     "enable.auto.commit=false"] + security
            args = ["--bootstrap-server", bootstrap, "--topic", topic, "--num-records",
                    str(n), "--fetch-size", "1048576", "--timeout", "60000",
                    "--group", f"bench-{time.time_ns()}"]
            for p in props:
                args += ["--command-property", p]
            return self.java("org.apache.kafka.tools.ConsumerPerformance", args)
        mode = {"kafkit": "kafkit-consume", "rdkafka": "rdkafka-consume",
                "rdkafka-tuned": "rdkafka-tuned-consume",
                "rdkafka-stream": "rdkafka-stream-consume", "krafka": "krafka-consume"}[client]
        return [self.peer, mode, "--bootstrap", bootstrap, "--topic", topic,
                "--num-records", str(n), "--partitions", str(partitions)] + peer_args

    def parse(self, client, kind, text, n):
        """records/s, MB/s and latency (ms) as the client itself reports them."""
        json_lines = [l for l in text.splitlines() if l.startswith("{")]
        if client != "java" or json_lines:  # KafkitTxnPeer prints the peer's JSON too
            line = json_lines[-1]
            j = json.loads(line)
            if kind == "consume":
                j["lat_us_p50"] = j["lat_us_p99"] = j["lat_us_p999"] = None
            us = lambda v: None if v is None else v / 1000  # noqa: E731
            return dict(records=j["records"], rps=j["records_per_sec"], mbps=j["mb_per_sec"],
                        p50=us(j["lat_us_p50"]), p99=us(j["lat_us_p99"]),
                        p999=us(j["lat_us_p999"]), errors=j["errors"], checksum=j["checksum"],
                        first_record_ms=j.get("first_record_ms"))
        if kind == "produce":
            m = re.search(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\).*?"
                          r"(\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th", text)
            return dict(records=int(m.group(1)), rps=float(m.group(2)), mbps=float(m.group(3)),
                        p50=float(m.group(4)), p99=float(m.group(6)), p999=float(m.group(7)),
                        errors=0)
        # ConsumerPerformance: start.time, end.time, data.consumed.in.MB, MB.sec,
        # data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec,
        # fetch.nMsg.sec. The fetch figures leave the group join out.
        rows = [l for l in text.splitlines() if re.match(r"^\d{4}-\d\d-\d\d", l)]
        f = [x.strip() for x in rows[-1].split(",")]
        return dict(records=int(f[4]), rps=float(f[9]), mbps=float(f[8]), p50=None, p99=None,
                    p999=None, errors=0)

    def run(self, workload, client, rep, cmd, kind, n):
        """Runs one measured child; returns its result dict, or None if it failed."""
        out = os.path.join(self.a.out, "logs", f"{workload}-{client}-{rep}.log")
        rc, ru, rss_mb, wall, text = run_child(cmd, out)
        if rc != 0:
            log(f"  {workload} {client} rep {rep}: FAILED (exit {rc}); see {out}")
            self.results.append(dict(workload=workload, client=client, rep=rep, failed=True))
            return None
        try:
            r = self.parse(client, kind, text, n)
        except Exception as e:  # noqa: BLE001
            log(f"  {workload} {client} rep {rep}: cannot parse output ({e}); see {out}")
            self.results.append(dict(workload=workload, client=client, rep=rep, failed=True))
            return None
        cpu = ru.ru_utime + ru.ru_stime
        r.update(workload=workload, client=client, rep=rep, failed=False, wall=wall,
                 cpu_s=cpu, user_s=ru.ru_utime, sys_s=ru.ru_stime,
                 cpu_us_per_rec=cpu * 1e6 / max(r["records"], 1),
                 rss_mb=rss_mb)
        self.results.append(r)
        lat = f" p99 {r['p99']:.2f} ms" if r["p99"] is not None else ""
        if r.get("first_record_ms") is not None:
            lat += f" first record {r['first_record_ms']:.0f} ms"
        log(f"  {workload:<15} {client:<15} rep {rep}: {r['rps']:>10.0f} rec/s "
            f"{r['cpu_us_per_rec']:6.2f} us/rec cpu  rss {r['rss_mb']:.0f} MB{lat}")
        return r

    def topic(self, workload, client, rep):
        self.topic_seq += 1
        return f"{workload}-{client}-{rep}-{self.topic_seq}"

    def count_batches(self, r, topic):
        """Adds records per batch and mean batch bytes, read from the broker's segment files
        (the warm-up record of the Rust peers is one batch of its own, counted too)."""
        if not self.log_dir or r is None:
            return
        batches, records, size = topic_batches(self.log_dir, topic)
        if batches:
            r.update(batches=batches, rec_per_batch=records / batches, batch_bytes=size / batches)
            log(f"  {'':<15} {'':<15}        {records} records in {batches} batches: "
                f"{records / batches:.1f} records/batch, {size / batches:.0f} bytes/batch")

    def produce_workload(self, workload, clients, n, spec):
        """One fresh topic per run; `spec["kind"]` "e2e" runs the client's e2e mode."""
        rate, compression = spec.get("rate", -1), spec["compression"]
        log(f"workload {workload}: {n} records, throughput {rate}, {compression}, "
            f"{spec['corpus']}-byte corpus")
        make_cmd = self.e2e_cmd if spec["kind"] == "e2e" else self.produce_cmd
        shared = self.shared_topics(workload, spec) if spec.get("shared") else None
        for rep in range(self.a.reps):
            for client in clients:
                topic = shared or self.topic(workload, client, rep)
                if not shared:
                    self.admin("admin-create", [topic], spec.get("partitions", 6))
                extra = {"txn": True} if spec.get("txn") else {}
                if spec.get("delay"):
                    extra["delay"] = spec["delay"]
                if spec.get("metadata_age_ms"):
                    extra["metadata_age_ms"] = spec["metadata_age_ms"]
                cmd = make_cmd(client, topic, n, rate, compression, self.corpora[spec["corpus"]],
                               spec.get("tls", False), **extra)
                r = self.run(workload, client, rep, cmd, spec["kind"], n)
                if not shared:
                    self.count_batches(r, topic)
                    self.admin("admin-delete", [topic])
        if shared:
            self.admin("admin-delete", shared.split(","))

    def shared_topics(self, workload, spec):
        """Makes the `topics` × `partitions` topics of a parts-* workload, timed; returns
        them comma-separated, as the peer's --topic takes them."""
        self.topic_seq += 1
        topics = [f"{workload}-{self.topic_seq}-{i}" for i in range(spec.get("topics", 1))]
        started = time.monotonic()
        self.admin("admin-create", topics, spec["partitions"])
        note = (f"{workload}: creating {len(topics)} topic(s) of {spec['partitions']:,} partitions "
                f"took the broker {time.monotonic() - started:.1f} s.")
        log("  " + note)
        self.notes.append(note)
        return ",".join(topics)

    def consume_workload(self, workload, clients, n, spec):
        """Fills one topic with librdkafka (n records plus its warm-up record, over plaintext
        even for a -tls workload: the fill is not measured), then every client reads all
        n + 1 from earliest, so the Rust peers' checksums must agree."""
        self.topic_seq += 1
        topics = [f"{workload}-src-{self.topic_seq}"]
        if spec.get("topics", 1) > 1:
            topics = [f"{topics[0]}-{i}" for i in range(spec["topics"])]
        topic = ",".join(topics)
        partitions = spec.get("partitions", 6)
        log(f"workload {workload}: filling {topic[:60]} with {n} records "
            f"({spec['corpus']}-byte corpus, {spec['compression']})")
        started = time.monotonic()
        self.admin("admin-create", topics, partitions)
        if partitions > 6 or len(topics) > 1:
            note = (f"{workload}: creating {len(topics)} topic(s) of {partitions:,} partitions "
                    f"took the broker {time.monotonic() - started:.1f} s.")
            log("  " + note)
            self.notes.append(note)
        fill = self.produce_cmd("rdkafka", topic, n, -1, spec["compression"],
                                self.corpora[spec["corpus"]])
        rc, _, _, _, text = run_child(fill, os.path.join(self.a.out, "logs", f"{workload}-fill.log"))
        if rc != 0:
            raise SystemExit("filling the consume topic failed: " + text)
        runs = []
        for rep in range(self.a.reps):
            for client in clients:
                cmd = self.consume_cmd(client, topic, n + 1, spec.get("tls", False), partitions)
                runs.append(self.run(workload, client, rep, cmd, "consume", n + 1))
        self.admin("admin-delete", topics)
        self.check_checksums(workload, [r for r in runs if r and "checksum" in r])

    def rebalance_workloads(self, workloads, clients):
        """Every (workload, client) cell once per repetition, interleaved across both; one
        fresh topic of REBALANCE_PARTITIONS partitions per run (the peer makes a fresh
        group.id itself)."""
        hb = self.a.group_heartbeat_ms
        log(f"workloads {', '.join(workloads)}: {REBALANCE_PARTITIONS} partitions, "
            f"heartbeat {f'{hb} ms' if hb else 'the defaults'}")
        for rep in range(self.a.reps):
            for w in workloads:
                for client in clients:
                    topic = self.topic(w, client, rep)
                    self.admin("admin-create", [topic], REBALANCE_PARTITIONS)
                    cmd = [self.peer, f"{client}-rebalance", "--bootstrap", self.bootstrap,
                           "--topic", topic, "--num-records", "1",
                           "--partitions", str(REBALANCE_PARTITIONS),
                           "--group-protocol", WORKLOADS[w]["protocol"]]
                    if hb:
                        cmd += ["--heartbeat-ms", str(hb)]
                    cmd += ["--join-offset-ms", str(self.join_offset(w, rep))]
                    self.run_rebalance(w, client, rep, cmd)
                    self.admin("admin-delete", [topic])

    def join_offset(self, workload, rep):
        """How much longer than a second the group of a rebalance run stays settled before
        the next members join: rep × the golden ratio, modulo 1, of the heartbeat interval
        in force (the same for every client of a repetition), so that over the repetitions
        the joins meet the members' heartbeats evenly over their interval. A fixed pause
        would meet them at the same point every time (a settled group's heartbeats run
        from the instant it settled), and time that point rather than the client."""
        period = self.a.group_heartbeat_ms or (
            5000 if WORKLOADS[workload]["protocol"] == "consumer" else 3000)
        return int(period * ((rep * 0.6180339887) % 1))

    def run_rebalance(self, workload, client, rep, cmd):
        out = os.path.join(self.a.out, "logs", f"{workload}-{client}-{rep}.log")
        rc, ru, rss_mb, wall, text = run_child(cmd, out)
        json_lines = [l for l in text.splitlines() if l.startswith("{")]
        if rc != 0 or not json_lines:
            log(f"  {workload} {client} rep {rep}: FAILED (exit {rc}); see {out}")
            self.results.append(dict(workload=workload, client=client, rep=rep, failed=True))
            return
        j = json.loads(json_lines[-1])
        r = {m: j[m] for m in REBALANCE_METRICS}
        r.update(workload=workload, client=client, rep=rep, failed=False, wall=wall,
                 cpu_s=ru.ru_utime + ru.ru_stime, rss_mb=rss_mb, records=j["records"])
        self.results.append(r)
        log(f"  {workload:<22} {client:<8} rep {rep}: first record {r['first_record_ms']:7.0f} ms, "
            f"3 members {r['three_ms']:7.0f} ms, 4th joins {r['rebalance_ms']:7.0f} ms "
            f"(its first record {r['new_member_first_ms']:7.0f} ms)")

    def check_checksums(self, workload, runs):
        sums = {(r["client"], r["checksum"]) for r in runs}
        if len({c for _, c in sums}) == 1:
            note = f"{workload}: the checksums of all {len(runs)} Rust consumer runs agree."
        else:
            note = f"{workload}: **checksums disagree**: {sorted(sums)}"
        log("  " + note)
        self.notes.append(note)


def median_spread(values):
    m = statistics.median(values)
    return m, min(values), max(values)


def summarize(results, reps_discarded=1):
    """{(workload, client): {metric: (median, min, max)}} over the counted repetitions."""
    table = {}
    keys = []
    for r in results:
        k = (r["workload"], r["client"])
        if k not in keys:
            keys.append(k)
    for k in keys:
        runs = [r for r in results if (r["workload"], r["client"]) == k]
        counted = [r for r in runs if r["rep"] >= reps_discarded and not r["failed"]]
        failed = sum(1 for r in runs if r["failed"])
        row = {"n": len(counted), "failed": failed}
        for metric in ["rps", "mbps", "cpu_us_per_rec", "rss_mb", "p50", "p99", "p999",
                       "rec_per_batch", "batch_bytes", "cpu_s", "wall"] + REBALANCE_METRICS:
            vals = [r[metric] for r in counted if r.get(metric) is not None]
            row[metric] = median_spread(vals) if vals else None
        table[k] = row
    return keys, table


def refresh_cost_notes(table):
    """What one metadata refresh of 10,000 partitions costs each client: the CPU that
    parts-meta-10k (a refresh every 250 ms) spent beyond parts-paced-10k (the same records
    at the same rate, refreshing at the client's default), per refresh it made."""
    age_s = WORKLOADS["parts-meta-10k"]["metadata_age_ms"] / 1000
    notes = []
    for c in ["kafkit", "rdkafka", "java"]:
        meta, paced = table.get(("parts-meta-10k", c)), table.get(("parts-paced-10k", c))
        if not (meta and paced and meta["cpu_s"] and paced["cpu_s"] and meta["wall"]):
            continue
        refreshes = meta["wall"][0] / age_s
        extra = meta["cpu_s"][0] - paced["cpu_s"][0]
        notes.append(f"{c}: {extra * 1000 / refreshes:.1f} ms CPU per refresh "
                     f"({extra:.2f} s more CPU over ~{refreshes:.0f} refreshes)")
    return (["metadata refresh of 10,000 partitions (parts-meta-10k − parts-paced-10k, medians): "
             + "; ".join(notes) + "."] if notes else [])


def fmt(cell, digits=0, pct=True):
    if cell is None:
        return "–"
    m, lo, hi = cell
    spread = (hi - lo) / m * 100 if m else 0
    return f"{m:,.{digits}f} ±{spread / 2:.0f}%" if pct else f"{m:,.{digits}f}"


def ratios(table):
    """(label, ratio, target, met) rows. The targets of the newer workloads (1 KiB, 50k/s,
    end to end, the consume variants) are those of the workloads they extend."""
    def get(w, c, metric):
        row = table.get((w, c))
        return row[metric][0] if row and row.get(metric) else None

    out = []

    def add(label, w, num, den, metric, target, higher_better):
        if (w, num) not in table and (w, den) not in table:
            return  # workload not run
        a, b = get(w, num, metric), get(w, den, metric)
        if a is None or b is None or b == 0:
            out.append((label, None, target, None))
            return
        r = a / b
        ok = r >= target if higher_better else r <= target
        out.append((label, r, target, ok))

    for w in ["produce-none", "produce-lz4", "produce-1k-none", "produce-1k-lz4", "produce-tls"]:
        add(f"{w} throughput, kafkit / librdkafka", w, "kafkit", "rdkafka", "rps", 1.0, True)
        if w not in TLS_WORKLOADS:
            add(f"{w} throughput, kafkit / krafka", w, "kafkit", "krafka", "rps", 1.2, True)
        add(f"{w} CPU/record, kafkit / librdkafka", w, "kafkit", "rdkafka", "cpu_us_per_rec", 0.7, False)
        add(f"{w} CPU/record, kafkit / Java", w, "kafkit", "java", "cpu_us_per_rec", 0.5, False)
        # Not one of the targets: the future-per-record APIs against each other.
        add(f"{w} CPU/record, kafkit futures / librdkafka FutureProducer", w, "kafkit-future",
            "rdkafka-future", "cpu_us_per_rec", 1.0, False)
    # Issue 13: transactions of 1,000 records at no less than librdkafka's throughput.
    add("produce-txn throughput, kafkit / librdkafka", "produce-txn", "kafkit", "rdkafka", "rps", 1.0, True)
    # Not the target: Java, whose transactions librdkafka's trail by far.
    add("produce-txn throughput, kafkit / Java", "produce-txn", "kafkit", "java", "rps", 1.0, True)
    for w in ["consume", "consume-1k", "consume-lz4"]:
        for peer, name in [("rdkafka", "librdkafka (defaults)"), ("rdkafka-tuned", "librdkafka (tuned)")]:
            add(f"{w} throughput, kafkit / {name}", w, "kafkit", peer, "rps", 1.0, True)
            add(f"{w} CPU/record, kafkit / {name}", w, "kafkit", peer, "cpu_us_per_rec", 1.0, False)
    # Over TLS the issue asks for the produce targets in both directions: at least
    # librdkafka's throughput at no more than 0.7× its CPU per record.
    for peer, name in [("rdkafka", "librdkafka (defaults)"), ("rdkafka-tuned", "librdkafka (tuned)")]:
        add(f"consume-tls throughput, kafkit / {name}", "consume-tls", "kafkit", peer, "rps", 1.0, True)
        add(f"consume-tls CPU/record, kafkit / {name}", "consume-tls", "kafkit", peer, "cpu_us_per_rec", 0.7, False)
    add("consume-tls CPU/record, kafkit / Java", "consume-tls", "kafkit", "java", "cpu_us_per_rec", 0.5, False)
    add("p99 at 10k/s, kafkit / librdkafka", "latency-10k", "kafkit", "rdkafka", "p99", 1.1, False)
    add("p99 at 50k/s, kafkit / librdkafka", "latency-50k", "kafkit", "rdkafka", "p99", 1.1, False)
    add("end-to-end p99 at 10k/s, kafkit / librdkafka", "e2e-10k", "kafkit", "rdkafka", "p99", 1.1, False)
    # Issue 16: over latency-bound links, against the better of librdkafka and Java (the
    # target is parity).
    for w in WORKLOAD_GROUPS["links"]:
        paced = WORKLOADS[w]["rate"] > 0
        for metric, what, higher_better in [("rps", "throughput", True), ("p99", "p99", False)]:
            if paced and metric == "rps":
                continue
            peers = [(get(w, c, metric), name) for c, name in [("rdkafka", "librdkafka"), ("java", "Java")]
                     if get(w, c, metric)]
            if not peers:
                continue
            _, name = (max if higher_better else min)(peers)
            add(f"{w} {what}, kafkit / best peer ({name})", w, "kafkit",
                {"librdkafka": "rdkafka", "Java": "java"}[name], metric, 1.0, higher_better)
    # Issue 16: the consumer's memory: lz4 no dearer than uncompressed, half librdkafka's.
    if ("consume-lz4", "kafkit") in table and ("consume", "kafkit") in table:
        lz4, plain = get("consume-lz4", "kafkit", "rss_mb"), get("consume", "kafkit", "rss_mb")
        r = lz4 / plain if lz4 and plain else None
        out.append(("kafkit peak RSS, consume-lz4 / consume", r, 1.2, None if r is None else r <= 1.2))
    add("consume-lz4 peak RSS, kafkit / librdkafka (defaults)", "consume-lz4", "kafkit", "rdkafka",
        "rss_mb", 0.5, False)
    # Issue 16: large records, against librdkafka and Java (parity; not the targets).
    for w in WORKLOAD_GROUPS["large"]:
        for peer, name in [("rdkafka", "librdkafka"), ("java", "Java")]:
            add(f"{w} throughput, kafkit / {name}", w, "kafkit", peer, "rps", 1.0, True)
            add(f"{w} CPU/record, kafkit / {name}", w, "kafkit", peer, "cpu_us_per_rec", 1.0, False)
            add(f"{w} peak RSS, kafkit / {name}", w, "kafkit", peer, "rss_mb", 1.0, False)
    # Issue 16, many partitions: throughput at least the best peer's, RSS at most half
    # librdkafka's, CPU per record flat over 100 → 10,000 partitions.
    for w in sorted(PARTS_WORKLOADS):
        if WORKLOADS[w].get("rate", -1) > 0:
            continue
        peers = [(get(w, c, "rps"), c) for c in ["rdkafka", "java"] if get(w, c, "rps")]
        if peers:
            _, best = max(peers)
            add(f"{w} throughput, kafkit / best peer ({best})", w, "kafkit", best, "rps", 1.0, True)
        add(f"{w} peak RSS, kafkit / librdkafka", w, "kafkit", "rdkafka", "rss_mb", 0.5, False)
    for kind in ["produce", "consume"]:
        for c in ["kafkit", "rdkafka", "java"]:
            lo, hi = get(f"parts-{kind}-100", c, "cpu_us_per_rec"), get(f"parts-{kind}-10k", c, "cpu_us_per_rec")
            if lo and hi:
                # Not a peer ratio: the same client at 10,000 partitions against 100.
                out.append((f"parts-{kind} CPU/record at 10k / at 100 partitions, {c}", hi / lo,
                            1.1, hi / lo <= 1.1 if c == "kafkit" else None))
    # Issue 14: no slower than librdkafka to the first record and through a rebalance.
    for w in WORKLOAD_GROUPS["rebalance"]:
        add(f"{w} subscribe → first record, kafkit / librdkafka", w, "kafkit", "rdkafka",
            "first_record_ms", 1.0, False)
        add(f"{w} 4th member joins → settled, kafkit / librdkafka", w, "kafkit", "rdkafka",
            "rebalance_ms", 1.0, False)
    return out


def compression_notes(table):
    """The stored size of each large produce workload's records: bytes per batch (header
    included) ÷ (records per batch × record size), per client, from the segment files."""
    notes = []
    for w in WORKLOAD_GROUPS["large"]:
        spec = WORKLOADS[w]
        if spec["kind"] != "produce":
            continue
        cells = []
        for c in sorted(LARGE_CLIENTS):
            row = table.get((w, c))
            if row and row.get("batch_bytes") and row.get("rec_per_batch"):
                stored = row["batch_bytes"][0] / (row["rec_per_batch"][0] * CORPUS_BYTES[spec["corpus"]])
                cells.append(f"{c} {stored:.3f}")
        if cells:
            notes.append(f"{w}: stored bytes ÷ record bytes (median run): " + ", ".join(cells) + ".")
    return notes


def markdown(keys, table, rat, conditions, notes):
    group_keys = [k for k in keys if WORKLOADS[k[0]]["kind"] == "rebalance"]
    parts_keys = [k for k in keys if k[0] in PARTS_WORKLOADS]
    keys = [k for k in keys if k not in group_keys and k not in parts_keys]
    lines = []
    if parts_keys:
        lines += ["| workload | client | records/s | CPU µs/record | CPU s/run | peak RSS MB "
                  "| first record ms | p99 ms | runs |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for k in parts_keys:
            row = table[k]
            lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {}{} |".format(
                k[0], k[1], fmt(row["rps"]), fmt(row["cpu_us_per_rec"], 2),
                fmt(row["cpu_s"], 2), fmt(row["rss_mb"], 0), fmt(row["first_record_ms"]),
                fmt(row["p99"], 2), row["n"],
                f" ({row['failed']} failed)" if row["failed"] else ""))
        lines += [""] if keys or group_keys else []
    if keys:
        lines += ["| workload | client | records/s | MB/s | CPU µs/record | peak RSS MB | p50 ms "
                  "| p99 ms | p99.9 ms | records/batch | bytes/batch | runs |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k in keys:
        row = table[k]
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}{} |".format(
            k[0], k[1], fmt(row["rps"]), fmt(row["mbps"], 1), fmt(row["cpu_us_per_rec"], 2),
            fmt(row["rss_mb"], 0, False), fmt(row["p50"], 2, False), fmt(row["p99"], 2),
            fmt(row["p999"], 2, False), fmt(row["rec_per_batch"], 1, False),
            fmt(row["batch_bytes"], 0, False), row["n"],
            f" ({row['failed']} failed)" if row["failed"] else ""))
    if group_keys:
        lines += [""] if keys else []
        lines += ["| workload | client | subscribe → first record ms | 3 members settled ms "
                  "| 4th member joins → settled ms | 4th member's first record ms "
                  "| CPU s/run | runs |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
    for k in group_keys:
        row = table[k]
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {}{} |".format(
            k[0], k[1], fmt(row["first_record_ms"]), fmt(row["three_ms"]),
            fmt(row["rebalance_ms"]), fmt(row["new_member_first_ms"]),
            fmt(row["cpu_s"], 2, False), row["n"],
            f" ({row['failed']} failed)" if row["failed"] else ""))
    lines += ["", "| ratio (same run, medians) | value | target | met |", "|---|---:|---:|---|"]
    for label, r, target, ok in rat:
        better = "≥" if "throughput" in label else "≤"
        lines.append(f"| {label} | {'–' if r is None else f'{r:.2f}×'} | {better}{target}× | "
                     f"{'–' if ok is None else ('yes' if ok else '**no**')} |")
    lines += [""] + [f"- {n}" for n in notes]
    lines += ["", "Conditions: " + conditions]
    return "\n".join(lines) + "\n"


def bar_panel(ax, table, workloads, clients, metric, title, log_scale=False):
    """Grouped bars, one group per workload, one bar per client (the same colour in every
    panel): median, min–max whiskers."""
    colour = {c: f"C{i}" for i, c in enumerate(clients)}
    clients = [c for c in clients if any(table.get((w, c), {}).get(metric) for w in workloads)]
    width = 0.8 / max(len(clients), 1)
    for i, c in enumerate(clients):
        xs, ys, lo, hi = [], [], [], []
        for j, w in enumerate(workloads):
            row = table.get((w, c))
            if row and row.get(metric):
                m, a, b = row[metric]
                xs.append(j + i * width)
                ys.append(m)
                lo.append(m - a)
                hi.append(b - m)
        ax.bar(xs, ys, width, yerr=[lo, hi], label=c, capsize=2, color=colour[c])
    ax.set_xticks([j + width * (len(clients) - 1) / 2 for j in range(len(workloads))])
    ax.set_xticklabels(workloads, fontsize=8)
    if log_scale:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2)


def chart(keys, table, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no chart")
        return False
    workloads, clients = [], []
    for w, c in keys:
        workloads += [w] if w not in workloads else []
        clients += [c] if c not in clients else []
    kind = lambda w: WORKLOADS[w]["kind"]  # noqa: E731
    grouped = [w for w in workloads if kind(w) == "rebalance"]
    workloads = [w for w in workloads if w not in grouped]
    unthrottled = [w for w in workloads if kind(w) == "consume"
                   or (kind(w) == "produce" and WORKLOADS[w]["rate"] < 0)]
    paced = [w for w in workloads if w not in unthrottled]
    produced = [w for w in workloads if kind(w) != "consume"]
    panels = [(unthrottled, "rps", "records/s, unthrottled (median; bars: min–max; log scale)", True),
              (workloads, "cpu_us_per_rec", "client CPU µs per record (user+sys; log scale)", True),
              (paced, "p99", "p99 latency ms at a fixed rate (latency-*: send→ack; e2e-*: send→receive)", False),
              (produced, "rec_per_batch", "records per batch, from the broker's segment files", False),
              (grouped, "first_record_ms", "ms from subscribe to the first record (one member, fresh group)", False),
              (grouped, "rebalance_ms", "ms from a 4th member's subscribe until the 4 are settled and reading", False)]
    panels = [p for p in panels if p[0]]
    fig, axes = plt.subplots(len(panels), 1, figsize=(13, 4.2 * len(panels)), squeeze=False)
    for ax, (ws, metric, title, log_scale) in zip(axes[:, 0], panels):
        bar_panel(ax, table, ws, clients, metric, title, log_scale)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def conditions_text(a, bootstrap, ssl_bootstrap=None):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.node()}; "
            f"{os.cpu_count()} CPUs ({cpu}), shared by the broker and the client; "
            f"Linux {platform.release()}; {java}; one Apache Kafka 4.4.0 broker (KRaft, "
            f"kafka-launcher) on {bootstrap}"
            f"{f' (SSL listener on {ssl_bootstrap})' if ssl_bootstrap else ''}; {a.reps} repetitions per cell, interleaved, the "
            f"first discarded; medians, ±half the min–max range. Load average at the end: "
            f"{open('/proc/loadavg').read().split()[0:3]} (other work on the machine skews "
            f"absolute figures; the interleaving keeps the ratios fairer).")


def clients_for(w, a):
    spec = WORKLOADS[w]
    if spec["kind"] == "consume":
        return parts_filtered([c for c in a.consumers.split(",")
                               if c in LARGE_CLIENTS or not spec.get("large")], w)
    if spec["kind"] == "e2e":
        return a.e2e_clients.split(",")
    producers = a.producers.split(",")
    if spec["rate"] > 0:  # the future-per-record APIs only in the unthrottled runs
        producers = [c for c in producers if not c.endswith("-future")]
    if spec.get("txn"):
        producers = [c for c in producers if c in TXN_CLIENTS]
    if spec.get("delay"):
        producers = [c for c in producers if c in LINK_CLIENTS]
    if spec.get("large"):
        producers = [c for c in producers if c in LARGE_CLIENTS]
    return parts_filtered(producers, w)


def parts_filtered(clients, w):
    """The clients of a parts-* workload (Java's tools take one topic only)."""
    if w not in PARTS_WORKLOADS:
        return clients
    return [c for c in clients if c in PARTS_CLIENTS
            and not (c == "java" and WORKLOADS[w].get("topics", 1) > 1)]


def tls_filtered(clients, spec):
    return [c for c in clients if c not in NO_TLS] if spec.get("tls") else clients


def run_workloads(bench, a):
    workloads = a.workloads.split(",")
    grouped = [w for w in workloads if WORKLOADS[w]["kind"] == "rebalance"]
    for w in workloads:
        spec = WORKLOADS[w]
        if spec["kind"] == "rebalance":
            if w == grouped[0]:  # all of them at once, interleaved
                bench.rebalance_workloads(grouped, a.rebalance_clients.split(","))
            continue
        n = getattr(a, spec["records"]) * spec.get("scale", 1)
        clients = tls_filtered(clients_for(w, a), spec)
        if spec["kind"] == "consume":
            bench.consume_workload(w, clients, n, spec)
        else:
            bench.produce_workload(w, clients, n, spec)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--target", default=os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")))
    p.add_argument("--out", default=None, help="results folder (default: TARGET/bench-peers/<time>)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--records", type=int, default=500_000, help="records per unthrottled 100-byte produce run")
    p.add_argument("--records-1k", type=int, default=100_000, help="records per unthrottled 1 KiB produce run")
    p.add_argument("--latency-records", type=int, default=50_000,
                   help="records per 10k/s run (latency-10k, e2e-10k); latency-50k sends 5× as many")
    p.add_argument("--consume-records", type=int, default=1_000_000, help="records per 100-byte consume run")
    p.add_argument("--consume-records-1k", type=int, default=200_000, help="records per 1 KiB consume run")
    # The link-* workloads only when asked for: they want a broker with delayed listeners;
    # the large ones too: they move gigabytes.
    p.add_argument("--workloads", default=",".join(w for w in WORKLOADS if not WORKLOADS[w].get("delay")
                                                   and not WORKLOADS[w].get("large")
                                                   and w not in PARTS_WORKLOADS),
                   help="comma-separated, of: " + ",".join(list(WORKLOADS) + list(WORKLOAD_GROUPS))
                   + " (default: all but link-*, parts-* and the large ones)")
    p.add_argument("--producers", default=",".join(PRODUCERS))
    p.add_argument("--consumers", default=",".join(CONSUMERS))
    p.add_argument("--e2e-clients", default=",".join(E2E_CLIENTS))
    p.add_argument("--rebalance-clients", default=",".join(REBALANCE_CLIENTS))
    p.add_argument("--group-heartbeat-ms", type=int, default=None,
                   help="the rebalance workloads: heartbeat.interval.ms of the classic clients and, "
                        "on the broker started here, group.consumer.heartbeat.interval.ms and "
                        "group.consumer.min.heartbeat.interval.ms (default: each one's default)")
    p.add_argument("--records-100k", type=int, default=2_000,
                   help="records per 100 KiB run, produced or consumed (the large workloads)")
    p.add_argument("--records-1m", type=int, default=200,
                   help="records per 1 MiB run, produced or consumed (the large workloads)")
    p.add_argument("--link-records", type=int, default=200_000,
                   help="records per link-* run (100-byte, unthrottled)")
    p.add_argument("--parts-records", type=int, default=500_000,
                   help="records per parts-* run (100-byte, unthrottled; also the consume fill)")
    p.add_argument("--parts-paced-records", type=int, default=100_000,
                   help="records per parts-paced-10k and parts-meta-10k run (at 10,000/s)")
    p.add_argument("--broker-heap", default="2g",
                   help="the started broker's heap when parts-* workloads run "
                        "(KAFKIT_TESTKIT_BROKER_HEAP; otherwise the launcher's 512 MiB)")
    p.add_argument("--transaction-size", type=int, default=1000,
                   help="records per transaction in produce-txn")
    p.add_argument("--java-classpath", default=None,
                   help="the Java tools' class path (bench/peers.sh passes what java-tools prints)")
    p.add_argument("--bootstrap", default=None, help="use this broker instead of starting one")
    p.add_argument("--broker-data", default=None,
                   help="keep the started broker's data under this folder, e.g. on tmpfs "
                        "(/dev/shm/kafkit-bench), so disk writeback does not swing the "
                        "broker-bound workloads")
    p.add_argument("--log-dir", default=None,
                   help="with --bootstrap: that broker's log.dirs, for records per batch")
    p.add_argument("--ssl-bootstrap", default=None,
                   help="with --bootstrap: that broker's SSL listener, for the -tls workloads")
    p.add_argument("--ssl-ca", default=None,
                   help="with --ssl-bootstrap: the PEM file of the CA that signed its certificate")
    p.add_argument("--delayed-bootstrap", action="append", default=[], metavar="MS=HOST:PORT",
                   help="with --bootstrap: a listener of that broker reached through a link "
                        "delayed MS each way (1 for link-2ms-*, 10 for link-20ms-*); repeatable")
    a = p.parse_args()
    a.workloads = ",".join(x for w in a.workloads.split(",") for x in WORKLOAD_GROUPS.get(w, [w]))
    unknown = [w for w in a.workloads.split(",") if w not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; known: {', '.join(WORKLOADS)}")
    try:
        a.delayed = {int(ms): addr for ms, _, addr in
                     (d.partition("=") for d in a.delayed_bootstrap)}
    except ValueError:
        p.error(f"--delayed-bootstrap: MS=HOST:PORT, got {a.delayed_bootstrap}")
    a.target = os.path.abspath(a.target)
    if not a.java_classpath:
        a.java_classpath = os.path.join(a.target, "kafka-tools-4.3.1", "libs", "*")
    a.out = a.out or os.path.join(a.target, "bench-peers", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(os.path.join(a.out, "logs"), exist_ok=True)
    return a


def main():
    a = parse_args()
    bench = Bench(a)
    bench.corpora = {"100": write_corpus(os.path.join(a.out, "payloads.txt")),
                     "1k": write_corpus_1k(os.path.join(a.out, "payloads-1k.txt"))}
    large = {WORKLOADS[w]["corpus"] for w in a.workloads.split(",") if WORKLOADS[w].get("large")}
    for corpus, lines, seed in [("100k", 48, 3), ("1m", 12, 4)]:
        if corpus in large:
            path = write_corpus_large(os.path.join(a.out, f"payloads-{corpus}.txt"),
                                      CORPUS_BYTES[corpus], lines, seed)
            bench.corpora[corpus] = path
            bench.large_corpora.add(path)
    broker = None
    if a.bootstrap:
        bench.bootstrap, bench.log_dir = a.bootstrap, a.log_dir
        bench.ssl_bootstrap, bench.ssl_ca = a.ssl_bootstrap, a.ssl_ca
        bench.delayed = a.delayed
    else:
        launcher = os.path.join(a.target, "release", "kafka-launcher")
        home = broker_home_on(a.broker_data, a.target) if a.broker_data else None
        tls = any(WORKLOADS[w].get("tls") for w in a.workloads.split(","))
        props = []
        if a.group_heartbeat_ms:
            props = [f"group.consumer.heartbeat.interval.ms={a.group_heartbeat_ms}",
                     f"group.consumer.min.heartbeat.interval.ms={min(a.group_heartbeat_ms, 5000)}"]
        delays = sorted({WORKLOADS[w]["delay"] for w in a.workloads.split(",")
                         if WORKLOADS[w].get("delay")})
        if large:
            props.append(f"message.max.bytes={LARGE_MAX_REQUEST}")
        many = any(w in PARTS_WORKLOADS for w in a.workloads.split(","))
        if many:
            bench.notes.append(f"parts-*: the broker's heap {a.broker_heap} "
                               "(KAFKIT_TESTKIT_BROKER_HEAP).")
        broker = Broker(launcher, os.path.join(a.out, "broker.log"), home, ssl=tls,
                        properties=props, delays=delays, heap=a.broker_heap if many else None)
        bench.bootstrap, bench.log_dir = broker.bootstrap, broker.log_dir
        bench.broker_pid = broker.pid
        bench.ssl_bootstrap, bench.ssl_ca = broker.ssl_bootstrap, broker.ssl_ca
        bench.delayed = broker.delayed
    if a.bootstrap and a.group_heartbeat_ms:
        log("--bootstrap: --group-heartbeat-ms sets the classic clients' heartbeat only; "
            "the broker's group.consumer.heartbeat.interval.ms is its own")
    if any(WORKLOADS[w]["kind"] == "rebalance" for w in a.workloads.split(",")):
        hb = a.group_heartbeat_ms
        bench.notes.append(
            f"rebalance-*: {REBALANCE_PARTITIONS} partitions; heartbeat.interval.ms (classic) "
            + (f"{hb} ms for every client, group.consumer.heartbeat.interval.ms {hb} ms on the broker"
               if hb else "3 s (both clients' default), group.consumer.heartbeat.interval.ms 5 s "
                          "(the broker's default)") + ".")
    if bench.delayed:
        direct = api_versions_round_trip(bench.bootstrap)
        rtts = [f"direct {fmt(direct, 2)} ms"]
        for ms, addr in sorted(bench.delayed.items()):
            rtts.append(f"delayed {ms} ms each way {fmt(api_versions_round_trip(addr), 2)} ms")
        note = "link-*: ApiVersions round trips (median of 20): " + "; ".join(rtts) + "."
        log(note)
        bench.notes.append(note)
    if not bench.log_dir:
        log("no broker log dir: records per batch not counted")
    if not os.access(GNU_TIME, os.X_OK):
        log(f"no {GNU_TIME}: peak RSS from wait4, which counts this harness's own peak too")
    started = time.monotonic()
    try:
        run_workloads(bench, a)
    finally:
        if broker:
            broker.stop()
    keys, table = summarize(bench.results)
    bench.notes += refresh_cost_notes(table)
    rat = ratios(table)
    bench.notes += compression_notes(table)
    cond = conditions_text(a, bench.bootstrap, bench.ssl_bootstrap) + f" Matrix took {time.monotonic() - started:.0f} s."
    md = markdown(keys, table, rat, cond, bench.notes)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(md)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(bench.results, f, indent=1)
    has_chart = chart(keys, table, os.path.join(a.out, "chart.png"))
    print(md)
    print(f"results: {a.out}/results.md" + (f", {a.out}/chart.png" if has_chart else ""))


if __name__ == "__main__":
    main()
