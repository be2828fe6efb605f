//! What the member writes: one line per record, one per hook call or error, each flushed.

use kafkit::{Consumer, ConsumerRecord, RebalanceListener, TopicPartition};
use std::io::Write;
use std::sync::{Arc, Mutex};

pub type Out = Arc<Mutex<Box<dyn Write + Send>>>;

pub fn emit(out: &Out, line: &str) {
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

pub struct Hooks(pub Out);

impl Hooks {
    fn log(&self, what: &str, partitions: &[TopicPartition]) {
        let list: Vec<String> = partitions
            .iter()
            .map(|tp| tp.partition.to_string())
            .collect();
        emit(&self.0, &format!("# {what} {}", list.join(",")));
    }
}

impl RebalanceListener for Hooks {
    fn on_partitions_revoked<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        self.log("revoked", partitions);
        Box::pin(async {})
    }

    fn on_partitions_assigned<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        self.log("assigned", partitions);
        Box::pin(async {})
    }

    fn on_partitions_lost<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        self.log("lost", partitions);
        Box::pin(async {})
    }
}

pub fn write_records(out: &Out, records: &[ConsumerRecord]) -> std::io::Result<()> {
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    for r in records {
        let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default());
        writeln!(out, "{} {} {value}", r.partition, r.offset)?;
    }
    out.flush()
}
