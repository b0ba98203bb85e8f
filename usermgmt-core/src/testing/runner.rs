//! Runs the conformance suites: every case registers itself where it is written
//! (`store_case!(name)` / `http_case!(name)` right below its function), and the test binaries
//! (`harness = false`) turn the registered cases into one named trial per store and case with
//! libtest-mimic, so `cargo test <filter>`, `--list`, `--skip`, `--exact` and a failure per case
//! work as with the built-in harness. A case cannot be left out of a list: there is no list.
//!
//! Trial names are `<store>::<case>` (`memory::…`, `sqlite::…`, `postgres::…`). A store whose
//! database is not configured (PostgreSQL without `USERMGMT_TEST_POSTGRES_URL`) is announced
//! once with a notice and its trials are marked ignored, so the skip shows in the summary.

use super::http_suite::{HttpCtx, TestServer, Transport};
use crate::api::Api;
use crate::store::Store;
use std::process::ExitCode;
use std::sync::Arc;

pub use futures_util::future::LocalBoxFuture;
pub use libtest_mimic::{Arguments, Failed, Trial};

/// A store case as registered: its name and how to run it on a fresh store.
pub struct StoreCase {
    /// The case function's name (the trial's name after the store's).
    pub name: &'static str,
    /// Runs the case on a fresh, empty store.
    pub run: fn(Arc<dyn Store>) -> LocalBoxFuture<'static, ()>,
}

/// An HTTP case as registered: its name and how to run it in a fresh world.
pub struct HttpCase {
    /// The case function's name (the trial's name after the store's).
    pub name: &'static str,
    /// Runs the case against a fresh app mounted in the adapter under test.
    pub run: for<'a> fn(&'a HttpCtx) -> LocalBoxFuture<'a, ()>,
}

inventory::collect!(StoreCase);
inventory::collect!(HttpCase);

/// Registers a store case (`pub async fn name(store: Arc<dyn Store>)`); write it right below
/// the function.
macro_rules! store_case {
    ($case:ident) => {
        ::inventory::submit! {
            $crate::testing::runner::StoreCase {
                name: stringify!($case),
                run: |store| ::std::boxed::Box::pin($case(store)),
            }
        }
    };
}
pub(crate) use store_case;

/// Registers an HTTP case (`pub async fn name(cx: &HttpCtx)`); write it right below the
/// function.
macro_rules! http_case {
    ($case:ident) => {
        ::inventory::submit! {
            $crate::testing::runner::HttpCase {
                name: stringify!($case),
                run: |cx| ::std::boxed::Box::pin($case(cx)),
            }
        }
    };
}
pub(crate) use http_case;

/// Every registered store case, by name.
pub fn store_cases() -> Vec<&'static StoreCase> {
    let mut cases: Vec<_> = inventory::iter::<StoreCase>.into_iter().collect();
    cases.sort_by_key(|c| c.name);
    cases
}

/// Every registered HTTP case, by name.
pub fn http_cases() -> Vec<&'static HttpCase> {
    let mut cases: Vec<_> = inventory::iter::<HttpCase>.into_iter().collect();
    cases.sort_by_key(|c| c.name);
    cases
}

/// Opens a fresh, empty store; `None` when its database is not configured.
pub type OpenStore = fn() -> LocalBoxFuture<'static, Option<Arc<dyn Store>>>;

/// A store the suites run on.
#[derive(Clone, Copy)]
pub struct TestStore {
    /// The trials' prefix (`memory`, `sqlite`, `postgres`).
    pub name: &'static str,
    /// Opens a fresh store for one trial.
    pub open: OpenStore,
    /// Why this store's trials are skipped (its database is not configured), if they are.
    pub skipped: Option<&'static str>,
}

/// The stores this build can test: memory always, SQLite, PostgreSQL and MySQL with their
/// features (PostgreSQL skipped when `USERMGMT_TEST_POSTGRES_URL` is unset, MySQL when
/// `USERMGMT_TEST_MYSQL_URL` is).
pub fn test_stores() -> Vec<TestStore> {
    let mut stores = vec![TestStore {
        name: "memory",
        open: || {
            Box::pin(async {
                Some(Arc::new(crate::store::memory::MemoryStore::new()) as Arc<dyn Store>)
            })
        },
        skipped: None,
    }];
    #[cfg(feature = "sqlite")]
    stores.push(TestStore {
        name: "sqlite",
        open: || Box::pin(async { Some(super::databases::sqlite_test_store().await) }),
        skipped: None,
    });
    #[cfg(feature = "postgres")]
    {
        let configured =
            std::env::var(super::databases::POSTGRES_URL_VAR).is_ok_and(|v| !v.trim().is_empty());
        stores.push(TestStore {
            name: "postgres",
            open: || Box::pin(super::databases::postgres_test_store()),
            skipped: (!configured)
                .then_some("USERMGMT_TEST_POSTGRES_URL is unset; the PostgreSQL cases are ignored"),
        });
    }
    #[cfg(feature = "mysql")]
    {
        let configured =
            std::env::var(super::databases::MYSQL_URL_VAR).is_ok_and(|v| !v.trim().is_empty());
        stores.push(TestStore {
            name: "mysql",
            open: || Box::pin(super::databases::mysql_test_store()),
            skipped: (!configured)
                .then_some("USERMGMT_TEST_MYSQL_URL is unset; the MySQL cases are ignored"),
        });
    }
    stores
}

/// A trial that runs on `store`, ignored when the store is skipped.
fn store_trial(store: &TestStore, case: &str, run: impl FnOnce() + Send + 'static) -> Trial {
    Trial::test(format!("{}::{case}", store.name), move || {
        run();
        // Reached only when the trial passed: a failed one's database stays to be looked at.
        super::databases::remove_trial_databases();
        Ok(())
    })
    .with_ignored_flag(store.skipped.is_some())
}

/// One trial per store and store case. Each runs on its own two-worker multi-threaded runtime
/// (so the concurrency cases really race) with a fresh store.
pub fn store_trials(stores: &[TestStore]) -> Vec<Trial> {
    let mut trials = Vec::new();
    for store in stores {
        for case in store_cases() {
            let (open, run) = (store.open, case.run);
            trials.push(store_trial(store, case.name, move || {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("test runtime builds")
                    .block_on(async move {
                        let Some(store) = open().await else { return };
                        run(store).await;
                    });
            }));
        }
    }
    trials
}

/// An adapter under test: how to mount an API in it and the runtime its tests run on.
#[derive(Clone, Copy)]
pub struct HttpAdapter {
    /// Mounts an API in the adapter's real framework stack.
    pub server: fn(Api) -> LocalBoxFuture<'static, Box<dyn TestServer>>,
    /// Runs a test body to completion on the adapter's test runtime (what its async test
    /// attribute would set up, e.g. `tokio::test`'s current-thread runtime or an Actix system).
    pub block_on: fn(LocalBoxFuture<'static, ()>),
}

/// One trial per store and HTTP case, its client presenting bearer tokens; and on the memory
/// store one more per case whose client presents them as a browser's cookie session would
/// (trials `cookie::…`: the transport does not depend on the store). Each builds a fresh store
/// and app and mounts it in the adapter, on the adapter's own test runtime.
pub fn http_trials(adapter: HttpAdapter, stores: &[TestStore]) -> Vec<Trial> {
    let cookie_store = stores
        .iter()
        .find(|s| s.name == "memory")
        .map(|memory| TestStore {
            name: "cookie",
            ..*memory
        });
    let runs = stores
        .iter()
        .map(|store| (*store, Transport::Bearer))
        .chain(cookie_store.map(|store| (store, Transport::Cookie)));
    let mut trials = Vec::new();
    for (store, transport) in runs {
        for case in http_cases() {
            let (open, run) = (store.open, case.run);
            trials.push(store_trial(&store, case.name, move || {
                (adapter.block_on)(Box::pin(async move {
                    let Some(cx) = HttpCtx::start(open(), adapter.server, transport).await else {
                        return;
                    };
                    run(&cx).await;
                }));
            }));
        }
    }
    trials
}

/// Runs `trials` as the test binary's command line asks (filters, `--list`, `--skip`,
/// `--exact`, `--ignored`, …), after printing why any store is skipped.
pub fn run(stores: &[TestStore], mut trials: Vec<Trial>) -> ExitCode {
    let args = Arguments::from_args();
    if !args.list {
        for reason in stores.iter().filter_map(|s| s.skipped) {
            eprintln!("notice: {reason}");
        }
    }
    trials.sort_by(|a, b| a.name().cmp(b.name()));
    libtest_mimic::run(&args, trials).exit_code()
}

#[cfg(test)]
mod tests {
    //! Every case function is registered: a `pub async fn` taking only a store or only an
    //! [`HttpCtx`] in the case folders has a registration, and every registration names one.

    use std::collections::BTreeSet;

    /// The source files of every capability's case folder (`src/<capability>/cases/*.rs`),
    /// read at test time so a new folder or file is covered without listing it.
    fn case_sources() -> Vec<(String, String)> {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        for folder in std::fs::read_dir(&src).expect("src exists") {
            let cases = folder.expect("readable entry").path().join("cases");
            let Ok(entries) = std::fs::read_dir(&cases) else {
                continue;
            };
            files.extend(
                entries
                    .map(|e| e.expect("readable entry").path())
                    .filter(|p| p.extension().is_some_and(|e| e == "rs")),
            );
        }
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).expect("readable source");
                (p.display().to_string(), text)
            })
            .collect()
    }

    /// The names of the `pub async fn`s whose only parameter is `parameter` (whitespace
    /// normalised), in `text`.
    fn case_functions(text: &str, parameter: &str) -> Vec<String> {
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        flat.split("pub async fn ")
            .skip(1)
            .filter_map(|rest| {
                let (name, after) = rest.split_once('(')?;
                let (params, _) = after.split_once(')')?;
                let params = params.trim().trim_end_matches(',').trim();
                (params == parameter).then(|| name.trim().to_owned())
            })
            .collect()
    }

    /// The names registered in `text` with `macro_name!(…)`.
    fn registrations(text: &str, macro_name: &str) -> Vec<String> {
        let needle = format!("\n{macro_name}!(");
        text.split(needle.as_str())
            .skip(1)
            .filter_map(|rest| rest.split_once(')').map(|(n, _)| n.trim().to_owned()))
            .collect()
    }

    fn check(parameter: &str, macro_name: &str, registered: BTreeSet<&str>) {
        let mut written = BTreeSet::new();
        let sources = case_sources();
        assert!(sources.len() > 20, "the case folders are found");
        for (path, text) in sources {
            let cases: BTreeSet<_> = case_functions(&text, parameter).into_iter().collect();
            let listed: BTreeSet<_> = registrations(&text, macro_name).into_iter().collect();
            let unregistered: Vec<_> = cases.difference(&listed).collect();
            assert!(
                unregistered.is_empty(),
                "{path}: cases without `{macro_name}!(name)` below them never run: {unregistered:?}"
            );
            written.extend(cases);
        }
        let registered: BTreeSet<String> = registered.into_iter().map(str::to_owned).collect();
        assert_eq!(
            written, registered,
            "the `{parameter}` case functions in src/*/cases/ and the registered cases differ"
        );
    }

    #[test]
    fn every_store_case_is_registered() {
        let registered: BTreeSet<_> = super::store_cases().iter().map(|c| c.name).collect();
        assert_eq!(
            registered.len(),
            super::store_cases().len(),
            "no name twice"
        );
        check("store: Arc<dyn Store>", "store_case", registered);
    }

    #[test]
    fn every_http_case_is_registered() {
        let registered: BTreeSet<_> = super::http_cases().iter().map(|c| c.name).collect();
        assert_eq!(registered.len(), super::http_cases().len(), "no name twice");
        check("cx: &HttpCtx", "http_case", registered);
    }
}
