//! Resolves Apache Kafka's tools jars (Maven) and compiles `KafkitTxnPeer`
//! (javac) into the build folder, as the tests do on first use, and prints
//! the class path holding both, for `bench/peers.sh`:
//!
//! ```text
//! cargo run -p kafkit-testkit --bin java-tools
//! classpath=<target>/kafka-tools-4.3.1/libs/*:<target>/kafkit-txn-peer-<digest>/classes
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    match kafkit_testkit::java_tools_classpath() {
        Ok(classpath) => {
            println!("classpath={classpath}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("java-tools: {e}");
            ExitCode::FAILURE
        }
    }
}
