//! Skipping a test at run time, visibly. Rust's test runners have no "skipped" outcome: a test
//! that cannot run where it is returns early and passes. So that this is never silent, it says
//! why on stderr and appends a line to the file `RFT_TEST_SKIPS` names, which
//! `scripts/emulators.py` (`make test-rust`) sets and lists once the tests are done (cargo test
//! and nextest show a passing test's output only when asked to).

use std::io::Write;

/// The variable naming the file skips are appended to.
pub const SKIPS_VAR: &str = "RFT_TEST_SKIPS";

/// Records the running test as skipped for `reason`; the test then returns.
pub fn skip(reason: &str) {
    let test = current_test();
    eprintln!("SKIPPED {test}: {reason}");
    let Some(path) = std::env::var_os(SKIPS_VAR) else { return };
    let line = format!("{test}: {reason}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!("could not record the skip in {} ({SKIPS_VAR}): {e}", path.to_string_lossy());
    }
}

/// The running test's name: libtest names each test's thread after it; a test run on the main
/// thread (`--test-threads=1`) is named by the binary instead.
fn current_test() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_owned(),
        _ => std::env::args().next().unwrap_or_else(|| "a test".into()),
    }
}
