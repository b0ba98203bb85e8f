//! Rate limits in Redis hold across instances: two limiters (as two servers would hold) share
//! one count. Runs when USERMGMT_TEST_REDIS_URL is set; skips with a notice otherwise.

use time::Duration;
use usermgmt_core::clock::{Clock, SystemClock};
use usermgmt_core::ratelimit::{Limit, RateLimitStore, RedisRateLimiter};

#[tokio::test]
async fn two_instances_share_one_count() {
    let Ok(url) = std::env::var("USERMGMT_TEST_REDIS_URL") else {
        eprintln!("skipping: USERMGMT_TEST_REDIS_URL is not set");
        return;
    };
    let prefix = format!("usermgmt-test:{}", uuid::Uuid::new_v4());
    let a = RedisRateLimiter::connect(&url, &prefix)
        .await
        .expect("Redis reachable");
    let b = RedisRateLimiter::connect(&url, &prefix)
        .await
        .expect("Redis reachable");
    let limit = Limit::new(4, Duration::minutes(1));
    let now = SystemClock.now();
    let mut allowed = 0;
    for i in 0..6 {
        let limiter = if i % 2 == 0 { &a } else { &b };
        let d = limiter.hit("login:203.0.113.9", limit, now).await.unwrap();
        if d.allowed {
            allowed += 1;
        } else {
            assert!(d.reset_secs >= 1 && d.reset_secs <= 60);
        }
    }
    assert_eq!(allowed, 4, "the limit holds across both instances");
    assert!(
        a.hit("login:198.51.100.7", limit, now)
            .await
            .unwrap()
            .allowed,
        "another client has its own count"
    );
}
