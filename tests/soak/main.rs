//! The soak (issue 15): produce and group consume on the scenario cluster (three KRaft
//! nodes behind proxies, RF 3, `min.insync.replicas` 2) for 30 minutes, a fault every 30 s,
//! this process's memory sampled every 10 s. It passes when the checks are clean (as in
//! the scenarios, in bounded memory) and the memory after the first five minutes (the
//! warm-up) did not grow beyond their peak, judged as follows.
//!
//! What is judged is the anonymous part of the resident set (`RssAnon`: heap, stacks,
//! everything the process allocated) after the allocator has handed its free memory back
//! to the system (`trim_allocator`, glibc's `malloc_trim`), because that is where memory
//! kept shows, and the live heap (bytes allocated and not yet freed, counted by this
//! process's allocator), where kept memory shows without the allocator's noise:
//! - no anonymous-RSS sample after the warm-up exceeds the warm-up's peak by more than
//!   [`BURST`] (1 MiB, what the budgets let one fault's catch-up hold), and
//! - the least-squares line through the samples after the warm-up rises by at most
//!   [`TREND`] (512 KiB) over them, for the anonymous RSS and for the live heap.
//!
//! Why not "no single sample over the warm-up's peak" (reported too, as "strictly"): a
//! sample lands in a fault's burst or between them, the bursts differ in size (how many
//! connections a fault's reconnects hold at that instant, how full the budgets are), and
//! glibc keeps a few hundred KiB more fragmented after a burst higher than the ones
//! before, so the peak of 150 later samples exceeds that of 30 warm-up ones without any
//! memory kept. Measured (11-minute runs, `bench/soak.sh 11 5`): the live heap's peaks
//! between samples 4.2 MiB in the warm-up and 5.5 MiB at a later SIGSTOP fault, with 21
//! proxied connections instead of 14, after which the trimmed anonymous RSS stayed 0.6 MiB
//! above its warm-up peak while the live heap went back to its level (2.4–2.6 MiB) and had
//! no trend. Memory kept per fault shows in the trend however the bursts swing: 10 KiB per
//! fault over the 50 faults after the warm-up is the least the trend limit catches. The
//! negative control (`KAFKIT_SOAK_LEAK_KIB`, memory kept and written per fault) must fail
//! the judgement.
//!
//! The process runs with one allocator arena (`single_allocator_arena`, glibc's
//! `M_ARENA_MAX` = 1, as `MALLOC_ARENA_MAX=1` would). With glibc's default per-thread
//! arenas (ten here), the anonymous RSS less the live heap (the allocator's fragments)
//! grows through the whole run while the live heap stays level: in a 30-minute run
//! (2026-12-06) it averaged 0.87, 1.52, 1.70, 1.81, 1.89 MiB over the warm-up and each
//! quarter after it, anonymous RSS trend +0.62 MiB against a live-heap trend of +0.11 MiB,
//! and the run failed (an earlier one had passed at +0.39 MiB); with one arena it stays
//! near 1 MiB (below). The allocation sites (`KAFKIT_SOAK_SITES`, below) of a 12-minute run
//! found no owner keeping memory: of what was allocated after the warm-up, 33 KiB
//! (estimated) was alive at the end and over two minutes old, spread over the connections
//! open then and fetched records not yet polled. The allocations of 512 B–4 KiB, +65 KiB in
//! that earlier run, average 354, 348, 381, 363, 370 KiB over the warm-up and the quarters
//! of the failed run: they swing with the instant sampled, without a trend.
//!
//! Three 30-minute runs with one arena (2026-12-06, started together beside other work:
//! load average 8–67 on 2 cores, median 34; 60 faults and 900,000 records each, checks
//! clean), all passed: anonymous RSS warm-up peak 4.41 / 4.21 / 4.04 MiB, later peak 4.71
//! / 4.97 / 4.64 MiB, trend -0.03 / +0.14 / -0.19 MiB; live-heap trend -0.04 / +0.12 /
//! -0.06 MiB; anonymous RSS less live heap averaged 0.74–0.80 MiB in the warm-up and
//! 0.87–1.09 MiB in each later quarter. Strictly, each fails, by 0.30 / 0.76 / 0.60 MiB,
//! each time at a sample inside a fault's catch-up (live heap 4.57 / 4.38 / 4.05 MiB, its
//! quarters' means 2.5–2.8 MiB): which of 180 samples lands highest in a burst is chance, and the
//! warm-up holds 30 of them, so no warm-up, however representative, makes that rule hold
//! without memory that stays level through each burst. The negative control with one arena
//! (`KAFKIT_SOAK_LEAK_KIB=64 bench/soak.sh 12 5`) failed every rule: anonymous RSS trend
//! +0.93 MiB (later peak 5.63 MiB against 4.76), live-heap trend +1.04 MiB. Before (per-
//! thread arenas) it failed them too: anonymous RSS 5.90 MiB against 4.34, trend +1.16 MiB;
//! live-heap trend +0.73 MiB.
//!
//! The proxies (the testkit's, in this process) gave back their read buffers only when a
//! connection ended, and a connection to a frozen broker stays open after kafkit gave up on
//! it: before they gave back idle buffers, they were most of the live heap (64 KiB per
//! direction, 2.5–4.2 MiB of 2.5–4.7) and swung with how many reconnects a fault saw.
//! Each sample records the proxies' open connections and buffered bytes, and the live heap
//! per allocation size class, so an excursion can be told apart by where it sits.
//!
//! The producer's and the members' memory budgets (`buffer.memory`, `fetch.max.bytes`) are
//! set small enough that the backlog of every fault, in the warm-up as later, fills them:
//! with the defaults (32 MiB, 2 × 50 MiB) a catch-up holds as much as its fault's backlog,
//! which is larger after a longer stall (a 30-minute run with the defaults: live heap
//! 5.3 MiB at a catch-up after 20 minutes against 4.9 in the warm-up). The first fault
//! comes 15 s into the load, so the warm-up holds each kind of fault twice. The test's own
//! bookkeeping is allocated up front.
//!
//! Not part of `cargo test` (`test = false`); `bench/soak.sh` runs it:
//! `cargo test --release --test soak`. `KAFKIT_SOAK_MINUTES` (30), `KAFKIT_SOAK_WARMUP_MINUTES`
//! (5), `KAFKIT_SOAK_LEAK_KIB` (the negative control: keep this many KiB per fault) and
//! `KAFKIT_SOAK_RSS` (a file for the samples, one line each: `seconds anon-bytes
//! trimmed-rss-bytes rss-bytes live-heap-bytes live-heap-peak-bytes threads
//! proxied-connections proxy-buffer-bytes` and the live heap of each size class `2^i..2^(i+1)`
//! bytes, i = 0..23) change it. `KAFKIT_SOAK_SITES=N` records an allocation's call stack
//! in every N bytes allocated, while it lives (`sites.rs`: slower, for finding an owner,
//! not for a verdict), and writes those alive every sixth sample beside the samples' file,
//! as `rss.txt.sites-SECONDS`; `bench/soak-sites.py DIR` sums them per site. Reported beside
//! the judged series: the whole resident set after trimming, which also counts the
//! executable's pages; the resident set as sampled, which also counts what glibc keeps
//! free per arena; the live heap's peak between samples.
//!
//! The faults, in turn: the leader of partition 0 SIGKILLed and restarted; the active
//! controller SIGKILLed and restarted; a follower frozen (SIGSTOP) for 10 s; the leader of
//! partition 1 cut off half-open by its proxy for 15 s; a node stopped cleanly and
//! restarted.

// The scenarios' pieces; the soak uses part of each, the rest would count as dead code here.
#[allow(dead_code)]
#[path = "../scenarios/checks.rs"]
mod checks;
#[allow(dead_code)]
#[path = "../scenarios/group.rs"]
mod group;
#[allow(dead_code)]
#[path = "../scenarios/produce.rs"]
mod produce;
#[allow(dead_code)]
#[path = "../scenarios/runner.rs"]
mod runner;
mod sites;
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;

use checks::SharedChecks;
use group::GroupSpec;
use kafkit_testkit::{resident_set, rss_bytes, single_allocator_arena, trim_allocator, RssSamples};
use produce::ProduceSpec;
use runner::{Layout, Run};
use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The system allocator, counting the bytes it has handed out and not had back, in all and
/// per size class, and the highest count since the last sample.
struct Counting;

static LIVE: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
/// Size classes: class `i` holds allocations of `2^i..2^(i+1)` bytes, the last all larger.
const CLASSES: usize = 24;
static BY_CLASS: [AtomicU64; CLASSES] = [const { AtomicU64::new(0) }; CLASSES];

fn class(size: usize) -> usize {
    (size.max(1).ilog2() as usize).min(CLASSES - 1)
}

fn count_alloc(size: usize) {
    let live = LIVE.fetch_add(size as u64, Ordering::Relaxed) + size as u64;
    PEAK.fetch_max(live, Ordering::Relaxed);
    BY_CLASS[class(size)].fetch_add(size as u64, Ordering::Relaxed);
}

fn count_free(size: usize) {
    LIVE.fetch_sub(size as u64, Ordering::Relaxed);
    BY_CLASS[class(size)].fetch_sub(size as u64, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        count_alloc(layout.size());
        let ptr = System.alloc(layout);
        sites::allocated(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: AllocLayout) -> *mut u8 {
        count_alloc(layout.size());
        let ptr = System.alloc_zeroed(layout);
        sites::allocated(ptr, layout.size());
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        // Forgotten before the block can be handed to another thread, recorded again after.
        sites::freed(ptr);
        let moved = System.realloc(ptr, layout, new_size);
        if !moved.is_null() {
            count_alloc(new_size);
            count_free(layout.size());
            sites::allocated(moved, new_size);
        }
        moved
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        count_free(layout.size());
        sites::freed(ptr);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const RATE: f64 = 500.0;
const FAULT_EVERY: Duration = Duration::from_secs(30);
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// The producer's `buffer.memory`: about 4 s of the load, so every fault's backlog fills
/// it (see the module docs).
const BUFFER_MEMORY: usize = 256 * 1024;
/// The members' `fetch.max.bytes` and `max.partition.fetch.bytes`: a fetch memory budget
/// of 256 KiB per member, which every catch-up after a fault fills.
const FETCH_MAX_BYTES: usize = 128 * 1024;

/// Members of the group.
const MEMBERS: usize = 3;
/// How far a single sample may exceed the warm-up's peak: what the budgets let a fault's
/// catch-up hold at most (the producer's buffer, and each member's fetch budget of twice
/// `fetch.max.bytes`), since bursts fill them to different heights at the instant sampled.
const BURST: u64 = (BUFFER_MEMORY + MEMBERS * 2 * FETCH_MAX_BYTES) as u64;
/// How much the least-squares line through the samples after the warm-up may rise over
/// them: memory kept a little per fault shows there, however the bursts swing.
const TREND: u64 = 512 * 1024;

fn minutes(var: &str, default: u64) -> Duration {
    let m = match std::env::var(var) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{var}={v:?}: expected whole minutes")),
        Err(_) => default,
    };
    Duration::from_secs(60 * m)
}

fn main() -> ExitCode {
    let length = minutes("KAFKIT_SOAK_MINUTES", 30);
    let warmup = minutes("KAFKIT_SOAK_WARMUP_MINUTES", 5);
    // One allocator arena (see the module docs): with glibc's per-thread arenas the
    // fragments they keep grow for the whole run while the live heap stays level.
    single_allocator_arena();
    if let Ok(every) = std::env::var("KAFKIT_SOAK_SITES") {
        sites::enable(
            every
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .unwrap_or_else(|| panic!("KAFKIT_SOAK_SITES={every:?}: expected N > 0")),
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if runtime.block_on(soak(length, warmup)) {
        println!("soak passed");
        ExitCode::SUCCESS
    } else {
        println!("soak FAILED");
        ExitCode::FAILURE
    }
}

async fn soak(length: Duration, warmup: Duration) -> bool {
    let mut group = GroupSpec::new(MEMBERS);
    group.session_timeout = Duration::from_secs(30);
    group.fetch_max_bytes = Some(FETCH_MAX_BYTES);
    let run = Run::start_with(
        "soak",
        Layout::ThreeVoters,
        3,
        group,
        SharedChecks::new(false),
    )
    .await;
    let samples = Arc::new(Mutex::new(Vec::<Sample>::with_capacity(
        (length.as_secs() / SAMPLE_EVERY.as_secs() + 2) as usize,
    )));
    let sampler = {
        let samples = samples.clone();
        let t0 = Instant::now();
        run.log("memory samples start (their times count from here)");
        let broker = run.broker.clone();
        // With KAFKIT_SOAK_SITES, the allocation sites alive at each sample, beside the
        // samples' file.
        let site_dumps = std::env::var("KAFKIT_SOAK_SITES")
            .ok()
            .and(std::env::var("KAFKIT_SOAK_RSS").ok());
        tokio::spawn(async move {
            loop {
                let rss = rss_bytes(None).expect("read this process's RSS");
                trim_allocator();
                let trimmed = rss_bytes(None).expect("read this process's RSS");
                let set = resident_set(None).expect("read this process's resident set");
                let live = LIVE.load(Ordering::Relaxed);
                if let Some(dumps) = site_dumps
                    .as_ref()
                    .filter(|_| samples.lock().unwrap().len().is_multiple_of(6))
                {
                    sites::dump(&format!("{dumps}.sites-{}", t0.elapsed().as_secs()));
                }
                samples.lock().unwrap().push(Sample {
                    at: t0.elapsed(),
                    anon: set.anon,
                    trimmed,
                    rss,
                    live,
                    live_peak: PEAK.swap(live, Ordering::Relaxed),
                    threads: set.threads,
                    proxied: (0..3)
                        .map(|n| broker.node_proxy(n).open_connections())
                        .sum(),
                    proxy_buffers: (0..3).map(|n| broker.node_proxy(n).buffered_bytes()).sum(),
                    by_class: std::array::from_fn(|i| BY_CLASS[i].load(Ordering::Relaxed)),
                });
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
        })
    };
    let records = (RATE * length.as_secs_f64()) as u64;
    let mut spec = ProduceSpec::new(records, length);
    spec.buffer_memory = Some(BUFFER_MEMORY);
    let load = run.produce(spec).await;
    let end = Instant::now() + length;
    let mut faults = Vec::new();
    let leak = std::env::var("KAFKIT_SOAK_LEAK_KIB").map_or(0, |v| {
        v.parse::<usize>()
            .unwrap_or_else(|_| panic!("KAFKIT_SOAK_LEAK_KIB={v:?}: expected KiB"))
    });
    let mut leaked = Vec::with_capacity(if leak > 0 { 100 } else { 0 });
    // The first fault halfway into the first period, so that the warm-up holds each kind
    // twice (ten faults in five minutes) and the later samples meet no kind first.
    let mut next = Instant::now() + FAULT_EVERY / 2;
    while next < end {
        tokio::time::sleep_until(next).await;
        next += FAULT_EVERY;
        faults.push(fault(&run, faults.len()).await);
        if leak > 0 {
            // The negative control: memory kept per fault, written so that it is resident.
            leaked.push(std::hint::black_box(vec![1u8; leak * 1024]));
        }
    }
    tokio::time::sleep_until(end).await;
    sampler.abort();
    drop(leaked);
    let notes = format!("{} faults: {}", faults.len(), faults.join("; "));
    let verdict = run.finish(load, Duration::from_secs(600), &notes).await;
    let samples = samples.lock().unwrap().clone();
    if let Ok(path) = std::env::var("KAFKIT_SOAK_RSS") {
        let table: String = samples
            .iter()
            .map(|s| {
                let classes: Vec<String> = s.by_class.iter().map(u64::to_string).collect();
                format!(
                    "{} {} {} {} {} {} {} {} {} {}\n",
                    s.at.as_secs(),
                    s.anon,
                    s.trimmed,
                    s.rss,
                    s.live,
                    s.live_peak,
                    s.threads,
                    s.proxied,
                    s.proxy_buffers,
                    classes.join(" ")
                )
            })
            .collect();
        std::fs::write(&path, table).unwrap_or_else(|e| panic!("write {path}: {e}"));
    }
    let series = |value: fn(&Sample) -> u64| {
        let mut series = RssSamples::new();
        for s in &samples {
            series.push(s.at, value(s));
        }
        series.verdict(warmup)
    };
    let anon = series(|s| s.anon);
    let live = series(|s| s.live);
    println!("anonymous RSS after trimming the allocator (judged): {anon}");
    println!("live heap (trend judged): {live}");
    println!(
        "RSS after trimming, with the executable's pages (reported): {}",
        series(|s| s.trimmed)
    );
    println!("RSS as sampled (reported): {}", series(|s| s.rss));
    println!(
        "live heap's peaks between samples (reported): {}",
        series(|s| s.live_peak)
    );
    if !verdict.clean {
        println!("{}", verdict.details);
    }
    let level = anon.holds_within(BURST, TREND);
    let heap = live.trend <= TREND as f64;
    println!(
        "judged: anonymous RSS at most {} KiB over the warm-up's peak and a trend of at most \
         +{} KiB: {}; live heap's trend at most +{} KiB: {}; strictly no sample over the \
         warm-up's peak (reported): {}",
        BURST / 1024,
        TREND / 1024,
        verdict_word(level),
        TREND / 1024,
        verdict_word(heap),
        verdict_word(anon.holds())
    );
    verdict.clean && level && heap
}

fn verdict_word(holds: bool) -> &'static str {
    if holds {
        "holds"
    } else {
        "FAILS"
    }
}

/// One sample of this process's memory.
#[derive(Clone, Copy)]
struct Sample {
    at: Duration,
    /// Anonymous resident bytes after trimming the allocator: judged.
    anon: u64,
    /// All resident bytes after trimming.
    trimmed: u64,
    /// All resident bytes before trimming.
    rss: u64,
    /// Bytes allocated and not freed.
    live: u64,
    /// The most bytes allocated and not freed at any moment since the previous sample.
    live_peak: u64,
    threads: u64,
    /// Connections the nodes' proxies hold open.
    proxied: u64,
    /// Bytes of read buffers they hold.
    proxy_buffers: u64,
    /// `live` per size class (see [`class`]).
    by_class: [u64; CLASSES],
}

/// Fault number `n` of the cycle; returns what it did.
async fn fault(run: &Run, n: usize) -> String {
    let done = match n % 5 {
        0 => {
            let leader = run.leader(0).await;
            run.broker.kill(leader).await;
            run.broker.restart(leader).await;
            format!("SIGKILL leader {leader}")
        }
        1 => {
            let controller = run.controller().await;
            run.broker.kill(controller).await;
            run.broker.restart(controller).await;
            format!("SIGKILL controller {controller}")
        }
        2 => {
            let roles = run.roles(0).await;
            let follower = (0..3)
                .find(|&n| Some(n) != roles.leader)
                .expect("a follower");
            run.broker.pause(follower).await;
            tokio::time::sleep(Duration::from_secs(10)).await;
            run.broker.resume(follower).await;
            format!("SIGSTOP follower {follower} 10 s")
        }
        3 => {
            let leader = run.leader(1).await;
            let proxy = run.broker.node_proxy(leader);
            proxy.half_open();
            tokio::time::sleep(Duration::from_secs(15)).await;
            proxy.end_half_open();
            format!("half-open {leader} 15 s")
        }
        _ => {
            let node = n % 3;
            run.broker.stop(node).await;
            run.broker.restart(node).await;
            format!("restart {node}")
        }
    };
    run.log(format!("fault {n}: {done}"));
    done
}
