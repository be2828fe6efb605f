//! A process's resident memory over time, for soak runs: samples of RSS, and
//! the verdict "no growth beyond the warm-up's peak".

use std::fmt;
use std::io;
use std::time::Duration;

/// The resident set size of process `pid` (`None`: this process), in bytes,
/// from `/proc/<pid>/statm`.
pub fn rss_bytes(pid: Option<u32>) -> io::Result<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/statm"),
        None => "/proc/self/statm".to_string(),
    };
    let statm = std::fs::read_to_string(&path)?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| io::Error::other(format!("unexpected {path}: {statm:?}")))?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Ok(pages * u64::try_from(page).unwrap_or(4096))
}

/// A process's resident memory split by kind, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResidentSet {
    /// Anonymous resident bytes (`RssAnon`): the heap, thread stacks, and other memory the
    /// process allocated, which is where a leak shows.
    pub anon: u64,
    /// File-backed resident bytes (`RssFile`): pages of the executable and libraries,
    /// which grow as code first runs and which the kernel can drop and re-read.
    pub file: u64,
    /// The process's threads.
    pub threads: u64,
}

/// The resident set of process `pid` (`None`: this process), split by kind.
pub fn resident_set(pid: Option<u32>) -> io::Result<ResidentSet> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    parse_status(&std::fs::read_to_string(&path)?)
        .ok_or_else(|| io::Error::other(format!("{path} lacks RssAnon, RssFile or Threads")))
}

fn parse_status(status: &str) -> Option<ResidentSet> {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
    };
    Some(ResidentSet {
        anon: field("RssAnon")? * 1024,
        file: field("RssFile")? * 1024,
        threads: field("Threads")?,
    })
}

/// Asks the allocator to hand the memory it keeps free back to the system (glibc's
/// `malloc_trim`; elsewhere nothing), so that an RSS sample taken next counts what the
/// process holds rather than what its allocator caches for reuse.
pub fn trim_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Makes the allocator serve every thread from one arena (glibc's `M_ARENA_MAX` = 1;
/// elsewhere nothing); call it before starting threads. glibc gives each thread that meets
/// contention an arena of its own (up to 8 per core), and a free block in one arena cannot
/// serve another's request, so memory freed on one thread and needed on the next stays
/// resident as fragments, more of them the more arenas: for a process whose memory is
/// judged, the same setting `MALLOC_ARENA_MAX=1` gives a deployment.
pub fn single_allocator_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt has no preconditions; M_ARENA_MAX only limits arenas created later.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// RSS samples, each at a time since the run began.
#[derive(Debug, Clone, Default)]
pub struct RssSamples {
    samples: Vec<(Duration, u64)>,
}

/// What [`RssSamples::verdict`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct RssVerdict {
    /// The highest sample within the warm-up.
    pub warmup_peak: u64,
    /// The highest sample after it.
    pub later_peak: u64,
    /// When the later peak was taken.
    pub later_peak_at: Duration,
    /// Samples within the warm-up, and after it.
    pub counts: (usize, usize),
    /// How much the least-squares line through the samples after the warm-up rises
    /// between the first and the last of them, in bytes (negative: it falls). Memory kept
    /// a little at a time shows here even while single samples swing more than it.
    pub trend: f64,
}

impl RssVerdict {
    /// True when no sample after the warm-up exceeds the warm-up's peak, and
    /// there were samples on both sides.
    pub fn holds(&self) -> bool {
        self.counts.0 > 0 && self.counts.1 > 0 && self.later_peak <= self.warmup_peak
    }

    /// True when, with samples on both sides, no sample after the warm-up exceeds the
    /// warm-up's peak by more than `burst` bytes and the fitted line after the warm-up
    /// rises by at most `trend` bytes: for a load whose bursts vary in size up to a known
    /// bound, "no growth" judged on levels rather than on the luck of single samples.
    pub fn holds_within(&self, burst: u64, trend: u64) -> bool {
        self.counts.0 > 0
            && self.counts.1 > 0
            && self.later_peak <= self.warmup_peak + burst
            && self.trend <= trend as f64
    }
}

impl fmt::Display for RssVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        write!(
            f,
            "warm-up peak {:.2} MiB ({} samples), later peak {:.2} MiB at {} s ({} samples), \
             trend after the warm-up {:+.2} MiB",
            mib(self.warmup_peak),
            self.counts.0,
            mib(self.later_peak),
            self.later_peak_at.as_secs(),
            self.counts.1,
            self.trend / (1024.0 * 1024.0)
        )
    }
}

impl RssSamples {
    /// No samples yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `bytes` resident at `at`.
    pub fn push(&mut self, at: Duration, bytes: u64) {
        self.samples.push((at, bytes));
    }

    /// Every sample, in the order taken.
    pub fn samples(&self) -> &[(Duration, u64)] {
        &self.samples
    }

    /// Compares the samples taken after `warmup` with the peak before it.
    pub fn verdict(&self, warmup: Duration) -> RssVerdict {
        let mut v = RssVerdict {
            warmup_peak: 0,
            later_peak: 0,
            later_peak_at: Duration::ZERO,
            counts: (0, 0),
            trend: 0.0,
        };
        for &(at, bytes) in &self.samples {
            if at < warmup {
                v.counts.0 += 1;
                v.warmup_peak = v.warmup_peak.max(bytes);
            } else {
                v.counts.1 += 1;
                if bytes > v.later_peak {
                    v.later_peak = bytes;
                    v.later_peak_at = at;
                }
            }
        }
        let later: Vec<(f64, f64)> = self
            .samples
            .iter()
            .filter(|(at, _)| *at >= warmup)
            .map(|&(at, bytes)| (at.as_secs_f64(), bytes as f64))
            .collect();
        v.trend = rise(&later);
        v
    }
}

/// The rise of the least-squares line through `points` (x, y) from the first x to the
/// last; 0 for fewer than two distinct x.
fn rise(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx == 0.0 {
        return 0.0;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let span = points[points.len() - 1].0 - points[0].0;
    sxy / sxx * span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_resident_set() {
        let rss = rss_bytes(None).unwrap();
        assert!(rss > 100 * 1024, "{rss}");
        let own = rss_bytes(Some(std::process::id())).unwrap();
        assert!(own > 100 * 1024, "{own}");
    }

    #[test]
    fn status_splits_the_resident_set() {
        let status = "Name:\tsoak\nVmRSS:\t  12000 kB\nRssAnon:\t    8000 kB\n\
                      RssFile:\t    3990 kB\nRssShmem:\t 10 kB\nThreads:\t7\n";
        let set = parse_status(status).unwrap();
        assert_eq!(
            set,
            ResidentSet {
                anon: 8000 * 1024,
                file: 3990 * 1024,
                threads: 7
            }
        );
        assert_eq!(parse_status("VmRSS:\t12 kB\n"), None);
        let own = resident_set(None).unwrap();
        assert!(own.anon > 0 && own.file > 0 && own.threads >= 1, "{own:?}");
    }

    #[test]
    fn growth_after_the_warmup_fails_the_verdict() {
        let s = |v: &[(u64, u64)]| {
            let mut samples = RssSamples::new();
            for &(at, bytes) in v {
                samples.push(Duration::from_secs(at), bytes);
            }
            samples.verdict(Duration::from_secs(300))
        };
        let flat = s(&[(0, 50), (10, 80), (290, 70), (300, 80), (600, 75)]);
        assert!(flat.holds(), "{flat}");
        assert_eq!((flat.warmup_peak, flat.later_peak), (80, 80));
        let grew = s(&[(0, 50), (290, 80), (310, 70), (900, 81)]);
        assert!(!grew.holds(), "{grew}");
        assert_eq!(grew.later_peak_at, Duration::from_secs(900));
        // Too short a run proves nothing.
        assert!(!s(&[(0, 50), (10, 50)]).holds());
    }

    #[test]
    fn trend_is_the_rise_of_the_fitted_line_after_the_warmup() {
        let mut samples = RssSamples::new();
        // Bursts of 30 on a level of 100 in the warm-up, then the same plus one kept per
        // 10 s sample: a rise of 9 over 90 s that no single burst shows.
        for i in 0..40u64 {
            let burst = if i % 3 == 0 { 30 } else { 0 };
            let kept = i.saturating_sub(30);
            samples.push(Duration::from_secs(10 * i), 100 + burst + kept);
        }
        let v = samples.verdict(Duration::from_secs(300));
        assert!((v.trend - 9.0).abs() < 1.5, "{v}");
        // The kept memory fails the trend while the peak stays within the burst allowance.
        assert_eq!((v.warmup_peak, v.later_peak), (130, 139));
        assert!(!v.holds_within(10, 5), "{v}");
        assert!(v.holds_within(10, 10), "{v}");
        // A burst beyond the allowance fails without a trend.
        samples.push(Duration::from_secs(400), 141);
        assert!(!samples
            .verdict(Duration::from_secs(300))
            .holds_within(10, 100));
        let mut flat = RssSamples::new();
        for i in 0..40u64 {
            flat.push(
                Duration::from_secs(10 * i),
                100 + if i % 3 == 0 { 30 } else { 0 },
            );
        }
        let v = flat.verdict(Duration::from_secs(300));
        assert!(v.trend.abs() < 3.0, "{v}");
        assert_eq!(rise(&[(1.0, 5.0)]), 0.0);
        assert_eq!(rise(&[(1.0, 5.0), (1.0, 9.0)]), 0.0);
    }
}
