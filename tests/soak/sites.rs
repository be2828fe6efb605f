//! Allocation sites, for finding what holds memory (`KAFKIT_SOAK_SITES=N`): one allocation
//! in every N bytes allocated (per thread; every allocation of N bytes or more) has its call
//! stack recorded with its size and time while it stays allocated, standing for N bytes
//! (or its size), and
//! [`dump`] writes the ones alive with their stacks and this process's mappings, which
//! `bench/soak-sites.py` turns into bytes per site over time. Off (one atomic load per
//! allocation) unless enabled.

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// Frames kept per stack: deep enough to get past the allocator, `Vec`/`Box` and the
/// collections into the code that owns the memory.
const DEPTH: usize = 40;

/// Every how many bytes allocated one allocation is recorded; 0: none.
static EVERY: AtomicU64 = AtomicU64::new(0);
static START: OnceLock<Instant> = OnceLock::new();
static SITES: Mutex<Option<Sites>> = Mutex::new(None);

#[derive(Default)]
struct Sites {
    /// Address → (stack, size, seconds since enabled, bytes it stands for) of each
    /// recorded allocation alive.
    live: HashMap<usize, (u32, usize, u32, u64)>,
    ids: HashMap<Vec<usize>, u32>,
    stacks: Vec<Vec<usize>>,
}

thread_local! {
    /// Set while this thread records: the recording's own allocations are not recorded.
    static BUSY: Cell<bool> = const { Cell::new(false) };
    /// Bytes this thread may still allocate before the next one is recorded.
    static UNTIL: Cell<u64> = const { Cell::new(0) };
}

extern "C" {
    /// glibc's `backtrace(3)`: the return addresses on this thread's stack, without
    /// allocating once it has loaded the unwinder (see [`enable`]).
    fn backtrace(buffer: *mut *mut c_void, size: c_int) -> c_int;
}

/// Starts recording an allocation in every `every` bytes.
pub fn enable(every: u64) {
    let mut frames = [std::ptr::null_mut(); DEPTH];
    // SAFETY: the buffer holds DEPTH pointers. The first call loads libgcc's unwinder
    // (which allocates), so that the calls inside the allocator do not.
    unsafe { backtrace(frames.as_mut_ptr(), DEPTH as c_int) };
    START.get_or_init(Instant::now);
    *SITES.lock().unwrap() = Some(Sites::default());
    EVERY.store(every, Ordering::Relaxed);
}

/// Runs `f` unless this thread is already recording (or is being torn down).
fn guarded(f: impl FnOnce()) {
    if BUSY.try_with(|b| !b.replace(true)).unwrap_or(false) {
        f();
        let _ = BUSY.try_with(|b| b.set(false));
    }
}

/// Called by the allocator for each allocation.
pub fn allocated(ptr: *mut u8, size: usize) {
    let every = EVERY.load(Ordering::Relaxed);
    if every == 0 || ptr.is_null() {
        return;
    }
    let weight = if size as u64 >= every {
        size as u64
    } else {
        let due = UNTIL
            .try_with(|until| match until.get().checked_sub(size as u64) {
                Some(left) if left > 0 => {
                    until.set(left);
                    false
                }
                _ => {
                    until.set(every);
                    true
                }
            })
            .unwrap_or(false);
        if !due {
            return;
        }
        every
    };
    guarded(|| {
        let mut frames = [std::ptr::null_mut(); DEPTH];
        // SAFETY: the buffer holds DEPTH pointers.
        let n = unsafe { backtrace(frames.as_mut_ptr(), DEPTH as c_int) };
        let stack: Vec<usize> = frames[..n.max(0) as usize]
            .iter()
            .map(|&f| f as usize)
            .collect();
        let secs = START.get().map_or(0, |t| t.elapsed().as_secs() as u32);
        if let Some(sites) = SITES.lock().unwrap().as_mut() {
            let next = sites.stacks.len() as u32;
            let id = *sites.ids.entry(stack.clone()).or_insert(next);
            if id == next {
                sites.stacks.push(stack);
            }
            sites.live.insert(ptr as usize, (id, size, secs, weight));
        }
    });
}

/// Called by the allocator for each deallocation.
pub fn freed(ptr: *mut u8) {
    if EVERY.load(Ordering::Relaxed) == 0 {
        return;
    }
    guarded(|| {
        if let Some(sites) = SITES.lock().unwrap().as_mut() {
            sites.live.remove(&(ptr as usize));
        }
    });
}

/// Writes the recorded allocations alive now to `path`: lines `now SECONDS` (since
/// [`enable`]), `alloc STACK SIZE SECONDS BYTES-IT-STANDS-FOR`,
/// `stack ID ADDRESS...` (hexadecimal) and `map LINE` (this process's mappings, to tell
/// the executable's addresses from the libraries').
pub fn dump(path: &str) {
    guarded(|| {
        let mut out = String::new();
        let now = START.get().map_or(0, |t| t.elapsed().as_secs());
        let _ = writeln!(out, "now {now}");
        if let Ok(maps) = std::fs::read_to_string("/proc/self/maps") {
            for line in maps.lines() {
                let _ = writeln!(out, "map {line}");
            }
        }
        if let Some(sites) = SITES.lock().unwrap().as_ref() {
            let mut alive = vec![false; sites.stacks.len()];
            for &(stack, ..) in sites.live.values() {
                alive[stack as usize] = true;
            }
            for (id, stack) in sites.stacks.iter().enumerate().filter(|(id, _)| alive[*id]) {
                let _ = write!(out, "stack {id}");
                for ip in stack {
                    let _ = write!(out, " {ip:x}");
                }
                out.push('\n');
            }
            for (stack, size, secs, weight) in sites.live.values() {
                let _ = writeln!(out, "alloc {stack} {size} {secs} {weight}");
            }
        }
        std::fs::write(path, out).unwrap_or_else(|e| panic!("write {path}: {e}"));
    });
}
