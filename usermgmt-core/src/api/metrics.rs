//! Request and security counters in the Prometheus text format (`GET /metrics`), counted by
//! the API itself so both adapters report the same figures. Lock-free: one set of atomics per
//! route of the table.

use super::routes::Route;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct RouteStats {
    /// Answers by status class: 1xx … 5xx.
    by_class: [AtomicU64; 5],
    /// Non-cumulative bucket counts (the last one is +Inf).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl RouteStats {
    fn record(&self, status: u16, elapsed: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.by_class
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

/// Login outcomes, in `usermgmt_logins_total{result=…}` order.
const LOGIN_RESULTS: [&str; 4] = ["success", "two_factor_required", "failure", "locked"];

/// Webhook figures read at scrape time: this instance's attempts by outcome, and the queue.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WebhookFigures {
    pub(crate) delivered: u64,
    pub(crate) retried: u64,
    pub(crate) failed: u64,
    /// Pending deliveries (every instance's).
    pub(crate) backlog: u64,
    /// Age of the oldest pending delivery, in seconds.
    pub(crate) lag_seconds: i64,
}

/// The counters of one [`super::Api`] (shared by its clones).
#[derive(Default)]
pub(crate) struct Metrics {
    /// The rows counted, in the API's table order.
    table: &'static [Route],
    /// Parallel to `table`.
    routes: Vec<RouteStats>,
    unmatched: RouteStats,
    logins: [AtomicU64; 4],
}

impl Metrics {
    pub(crate) fn new(table: &'static [Route]) -> Self {
        Self {
            table,
            routes: table.iter().map(|_| RouteStats::default()).collect(),
            ..Self::default()
        }
    }

    /// Counts one answer; `body` is read only for login answers (challenge or tokens).
    pub(crate) fn record(
        &self,
        route: Option<&'static Route>,
        status: u16,
        elapsed: Duration,
        body: &[u8],
    ) {
        let stats = route
            // By address: every route the API matches is an element of the `static` table.
            .and_then(|r| self.table.iter().position(|x| std::ptr::eq(x, r)))
            .and_then(|i| self.routes.get(i))
            .unwrap_or(&self.unmatched);
        stats.record(status, elapsed);
        if let Some(route) = route
            // The two routes that end in a session; the compatibility aliases never do.
            && matches!(route.name, "Login" | "LoginTwoFactor")
        {
            let result = match status {
                200 if contains(body, b"\"twoFactorRequired\":true") => Some(1),
                200 => Some(0),
                423 => Some(3),
                400 | 401 => Some(2),
                _ => None,
            };
            if let Some(i) = result {
                self.logins[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The exposition text, with the gauges read at scrape time.
    pub(crate) fn render(
        &self,
        hash_queue: usize,
        lockouts: u64,
        mail_backlog: Option<u64>,
        webhooks: Option<WebhookFigures>,
        uptime: Duration,
    ) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP usermgmt_http_requests_total Requests answered, by route and status class.\n\
             # TYPE usermgmt_http_requests_total counter\n",
        );
        let labelled = self
            .table
            .iter()
            .map(|r| (r.method, r.path))
            .zip(self.routes.iter())
            .chain(std::iter::once((("ANY", "unmatched"), &self.unmatched)));
        let labelled: Vec<_> = labelled.filter(|(_, s)| s.count() > 0).collect();
        for ((method, path), stats) in &labelled {
            for (i, class) in ["1xx", "2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
                let n = stats.by_class[i].load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "usermgmt_http_requests_total{{method=\"{method}\",route=\"{path}\",status=\"{class}\"}} {n}"
                    );
                }
            }
        }
        out.push_str(
            "# HELP usermgmt_http_request_duration_seconds Time to answer, by route.\n\
             # TYPE usermgmt_http_request_duration_seconds histogram\n",
        );
        for ((method, path), stats) in &labelled {
            let mut cumulative = 0;
            for (i, le) in BUCKETS.iter().enumerate() {
                cumulative += stats.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "usermgmt_http_request_duration_seconds_bucket{{method=\"{method}\",route=\"{path}\",le=\"{le}\"}} {cumulative}"
                );
            }
            cumulative += stats.buckets[BUCKETS.len()].load(Ordering::Relaxed);
            let sum = stats.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "usermgmt_http_request_duration_seconds_bucket{{method=\"{method}\",route=\"{path}\",le=\"+Inf\"}} {cumulative}\n\
                 usermgmt_http_request_duration_seconds_sum{{method=\"{method}\",route=\"{path}\"}} {sum}\n\
                 usermgmt_http_request_duration_seconds_count{{method=\"{method}\",route=\"{path}\"}} {cumulative}"
            );
        }
        out.push_str(
            "# HELP usermgmt_logins_total Login attempts (both steps), by outcome.\n\
             # TYPE usermgmt_logins_total counter\n",
        );
        for (i, result) in LOGIN_RESULTS.iter().enumerate() {
            let n = self.logins[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "usermgmt_logins_total{{result=\"{result}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP usermgmt_account_lockouts_total Accounts locked after repeated failed sign-ins.\n\
             # TYPE usermgmt_account_lockouts_total counter\n\
             usermgmt_account_lockouts_total {lockouts}"
        );
        let _ = writeln!(
            out,
            "# HELP usermgmt_hash_queue_depth Password hashes waiting for a pool permit.\n\
             # TYPE usermgmt_hash_queue_depth gauge\n\
             usermgmt_hash_queue_depth {hash_queue}"
        );
        if let Some(backlog) = mail_backlog {
            let _ = writeln!(
                out,
                "# HELP usermgmt_mail_outbox_backlog Mails waiting for delivery.\n\
                 # TYPE usermgmt_mail_outbox_backlog gauge\n\
                 usermgmt_mail_outbox_backlog {backlog}"
            );
        }
        if let Some(w) = webhooks {
            let _ = writeln!(
                out,
                "# HELP usermgmt_webhook_attempts_total Webhook delivery attempts of this instance, by outcome.\n\
                 # TYPE usermgmt_webhook_attempts_total counter\n\
                 usermgmt_webhook_attempts_total{{result=\"delivered\"}} {}\n\
                 usermgmt_webhook_attempts_total{{result=\"retried\"}} {}\n\
                 usermgmt_webhook_attempts_total{{result=\"failed\"}} {}\n\
                 # HELP usermgmt_webhook_backlog Webhook deliveries waiting.\n\
                 # TYPE usermgmt_webhook_backlog gauge\n\
                 usermgmt_webhook_backlog {}\n\
                 # HELP usermgmt_webhook_lag_seconds Age of the oldest waiting webhook delivery.\n\
                 # TYPE usermgmt_webhook_lag_seconds gauge\n\
                 usermgmt_webhook_lag_seconds {}",
                w.delivered, w.retried, w.failed, w.backlog, w.lag_seconds
            );
        }
        let _ = writeln!(
            out,
            "# HELP usermgmt_uptime_seconds Seconds since this API started.\n\
             # TYPE usermgmt_uptime_seconds gauge\n\
             usermgmt_uptime_seconds {}",
            uptime.as_secs()
        );
        out
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
