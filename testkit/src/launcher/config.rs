//! What a node is told: its `server.properties` and its logging setup.

use std::path::Path;

/// The ports of a cluster's nodes, by node index: the client listener, the
/// listener brokers use among themselves, and the controller's (used by the
/// first `controllers` nodes only).
pub(super) struct Ports {
    pub(super) broker: Vec<u16>,
    pub(super) internal: Vec<u16>,
    pub(super) controller: Vec<u16>,
    pub(super) controllers: usize,
}

/// A client listener besides PLAINTEXT (see `KafkaClusterBuilder::listener`).
#[derive(Debug, Clone)]
pub(super) struct Listener {
    pub(super) name: String,
    pub(super) protocol: String,
    pub(super) port: u16,
    /// The port it advertises (its own, or a proxy's in front of it).
    pub(super) advertised: u16,
}

impl Ports {
    /// The static quorum, `controller.quorum.voters`: Kafka 3.9 and 4.x both
    /// take it, and then format a node with no quorum flags.
    fn voters(&self) -> String {
        self.controller[..self.controllers]
            .iter()
            .enumerate()
            .map(|(i, port)| format!("{i}@127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Node `i`'s `server.properties`: the cluster's layout, settings that suit
/// tests, then `overrides` (later ones win).
pub(super) fn server_properties(
    i: usize,
    ports: &Ports,
    advertised: u16,
    listeners: &[Listener],
    data: &Path,
    overrides: &[(String, String)],
) -> String {
    let extra = |f: &dyn Fn(&Listener) -> String| -> String {
        listeners.iter().map(|l| format!(",{}", f(l))).collect()
    };
    let n = ports.broker.len();
    let rf = n.min(3);
    let min_isr = if n >= 3 { 2 } else { 1 };
    let controller = i < ports.controllers;
    let mut listeners = format!(
        "PLAINTEXT://127.0.0.1:{},INTERNAL://127.0.0.1:{}",
        ports.broker[i], ports.internal[i]
    );
    if controller {
        listeners.push_str(&format!(",CONTROLLER://127.0.0.1:{}", ports.controller[i]));
    }
    listeners.push_str(&extra(&|l| format!("{}://127.0.0.1:{}", l.name, l.port)));
    let roles = if controller {
        "broker,controller"
    } else {
        "broker"
    };
    let mut props: Vec<(String, String)> = [
        ("process.roles", roles.to_string()),
        ("node.id", i.to_string()),
        ("controller.quorum.voters", ports.voters()),
        ("listeners", listeners),
        (
            "advertised.listeners",
            format!(
                "PLAINTEXT://127.0.0.1:{advertised},INTERNAL://127.0.0.1:{}{}",
                ports.internal[i],
                extra(&|l| format!("{}://127.0.0.1:{}", l.name, l.advertised))
            ),
        ),
        ("controller.listener.names", "CONTROLLER".into()),
        ("inter.broker.listener.name", "INTERNAL".into()),
        (
            "listener.security.protocol.map",
            format!(
                "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT{}",
                extra(&|l| format!("{}:{}", l.name, l.protocol))
            ),
        ),
        ("log.dirs", data.display().to_string()),
        ("num.partitions", "1".into()),
        ("default.replication.factor", n.to_string()),
        ("auto.create.topics.enable", "true".into()),
        ("offsets.topic.replication.factor", rf.to_string()),
        ("offsets.topic.num.partitions", "5".into()),
        ("transaction.state.log.replication.factor", rf.to_string()),
        ("transaction.state.log.min.isr", min_isr.to_string()),
        ("transaction.state.log.num.partitions", "5".into()),
        (
            "share.coordinator.state.topic.replication.factor",
            rf.to_string(),
        ),
        ("share.coordinator.state.topic.min.isr", min_isr.to_string()),
        ("group.initial.rebalance.delay.ms", "0".into()),
        // A killed node is fenced after 3 s rather than the default
        // 9 s. That also bounds a restart after SIGKILL: the
        // controller refuses the new incarnation until the old
        // session expires. Still long enough that a busy 2-core
        // runner does not fence a healthy node.
        ("broker.heartbeat.interval.ms", "500".into()),
        ("broker.session.timeout.ms", "3000".into()),
        // Fewer log-cleaner and recovery threads: faster start, less
        // CPU stolen from the code under test.
        ("log.cleaner.threads", "1".into()),
        ("num.recovery.threads.per.data.dir", "1".into()),
        ("num.network.threads", "2".into()),
        ("num.io.threads", "4".into()),
        // A restarted node must not wait out a leader rebalance.
        ("auto.leader.rebalance.enable", "false".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in overrides {
        match props.iter_mut().find(|(pk, _)| pk == k) {
            Some(slot) => slot.1 = v.clone(),
            None => props.push((k.clone(), v.clone())),
        }
    }
    props.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// A log4j2 setup that sends everything to `file`.
pub(super) fn log4j_config(file: &Path) -> String {
    // Everything to a file: the console is the test runner's, and a broker
    // prints thousands of lines while starting.
    format!(
        "status = error\n\
         name = kafkit-testkit\n\
         appender.file.type = File\n\
         appender.file.name = file\n\
         appender.file.fileName = {}\n\
         appender.file.append = true\n\
         appender.file.layout.type = PatternLayout\n\
         appender.file.layout.pattern = [%d] %p %m (%c)%n\n\
         rootLogger.level = INFO\n\
         rootLogger.appenderRef.file.ref = file\n\
         logger.config.name = org.apache.kafka.common.config.AbstractConfig\n\
         logger.config.level = WARN\n",
        file.display()
    )
}
