//! What the test suites share, written once: brokers (the shared one, and clusters of a
//! test's own that it can kill, freeze and restart, optionally behind a fault-injecting
//! proxy), topics and unique names, client settings, producing and reading back, waiting,
//! and a test's printed timeline.
//!
//! Each suite's `main.rs` includes it with `#[path = "../support/mod.rs"] mod support;`.

mod broker;
mod clients;
mod examples;
mod timeline;

// A suite may use nothing of one part; an unused re-export is no dead code.
#[allow(unused_imports)]
pub use broker::*;
#[allow(unused_imports)]
pub use clients::*;
#[allow(unused_imports)]
pub use examples::*;
#[allow(unused_imports)]
pub use timeline::*;
