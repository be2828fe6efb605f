//! The tool's accounting and lines, as Java's `ProducerPerformance.Stats` prints them.

use crate::support;
use std::time::{Duration, Instant};

/// Java's reporting interval for the periodic line.
const WINDOW: Duration = Duration::from_secs(5);

/// Since when, records, payload bytes, latency total and maximum (µs): of the whole run, or
/// of one 5 s window.
pub struct Window(Instant, u64, u64, u64, u64);

impl Window {
    pub fn new() -> Self {
        Window(Instant::now(), 0, 0, 0, 0)
    }

    pub fn add(&mut self, us: u64, bytes: u64) {
        (self.1, self.2, self.3, self.4) =
            (self.1 + 1, self.2 + bytes, self.3 + us, self.4.max(us));
    }

    /// Records/s, MB/s (Java's MB: 2^20 bytes), average and maximum latency in ms.
    fn rates(&self) -> (f64, f64, f64, f64) {
        let (secs, count) = (self.0.elapsed().as_secs_f64(), self.1 as f64);
        let avg = self.3 as f64 / count.max(1.0) / 1000.0;
        (
            count / secs,
            self.2 as f64 / secs / 1048576.0,
            avg,
            self.4 as f64 / 1000.0,
        )
    }
}

/// Java's `ProducerPerformance.Stats`, timed in microseconds where Java has milliseconds.
pub struct Stats {
    pub total: Window,
    window: Window,
    /// Every `sampling`-th latency in µs: at most ~500k of them, as Java keeps.
    samples: Vec<u32>,
    sampling: u64,
    pub failed: u64,
    pub first_error: Option<String>,
}

impl Stats {
    pub fn new(num_records: u64) -> Self {
        let sampling = num_records / num_records.min(500_000);
        Stats {
            total: Window::new(),
            window: Window::new(),
            samples: Vec::with_capacity((num_records / sampling + 1) as usize),
            sampling,
            failed: 0,
            first_error: None,
        }
    }

    pub fn record(&mut self, latency: Duration, bytes: usize) {
        let us = latency.as_micros() as u64;
        if self.total.1.is_multiple_of(self.sampling) {
            self.samples.push(us.min(u32::MAX.into()) as u32);
        }
        self.total.add(us, bytes as u64);
        self.window.add(us, bytes as u64);
        if self.window.0.elapsed() >= WINDOW {
            let (rps, mbps, avg, max) = self.window.rates();
            println!(
                "{} records sent, {rps:.1} records/sec ({mbps:.2} MB/sec), {avg:.1} ms avg latency, {max:.1} ms max latency.",
                self.window.1
            );
            self.window = Window::new();
        }
    }

    pub fn print_total(&mut self) {
        let (rps, mbps, avg, max) = self.total.rates();
        self.samples.sort_unstable();
        // Java's percentile: the sample at index floor(q * n), in whole milliseconds.
        let n = self.samples.len() as f64;
        let p = |q: f64| self.samples.get((q * n) as usize).map_or(0, |us| us / 1000);
        println!(
            "{} records sent, {rps:.6} records/sec ({mbps:.2} MB/sec), {avg:.2} ms avg latency, {max:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
            self.total.1, p(0.5), p(0.95), p(0.99), p(0.999)
        );
    }
}

/// kafkit has no metrics registry yet, so these are the process's own figures: the CPU time
/// of every thread of this process; the broker's CPU is not in it.
pub fn print_metrics(stats: &Stats) {
    let secs = stats.total.0.elapsed().as_secs_f64();
    println!("metric: wall time {secs:.3} s");
    let Some((user, sys)) = support::cpu_seconds() else {
        return println!("metric: cpu time unavailable (needs Linux /proc)");
    };
    let busy = (user + sys) / secs * 100.0;
    let per_record = (user + sys) * 1e6 / stats.total.1.max(1) as f64;
    println!("metric: cpu user {user:.2} s, sys {sys:.2} s ({busy:.0}% of one core)");
    println!("metric: cpu {per_record:.2} us/record");
}
