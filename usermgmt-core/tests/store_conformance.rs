//! The store conformance suite (every capability's `cases/*store.rs`) against every store:
//! one trial per store and registered case, named `<store>::<case>`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use usermgmt_core::testing::runner;

fn main() -> std::process::ExitCode {
    let stores = runner::test_stores();
    let trials = runner::store_trials(&stores);
    runner::run(&stores, trials)
}
