//! What web developers expect on day one (issue "day one", SECURITY-TESTS G6, G7): per-session
//! lifetimes (remember me, browser-session cookies), flash messages, the refresh policy that
//! touches every request, and revocation by the application's check, over every instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sealed_session::{Lifetime, Rolling, SessionConfig};

use super::{Env, Instance, layer, serve_layer, visits};
use crate::common::{DAY, HOUR};

/// G7: a browser-session cookie has no `Max-Age`/`Expires`, and the server still ends it at
/// its idle and absolute bounds.
pub(crate) async fn browser_session_cookies_have_no_max_age_and_expire_server_side(
    instance: Instance,
) {
    let config = SessionConfig::builder()
        .idle_timeout(Duration::from_secs(2 * HOUR))
        .max_lifetime(Duration::from_secs(5 * HOUR))
        .lifetime(Lifetime::browser_session())
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let mut client = env.client();
    let resp = client.get("/").await;
    let cookie = resp.cookie();
    assert_eq!(cookie.attr("Max-Age"), None, "{}", cookie.line);
    assert_eq!(cookie.attr("Expires"), None, "{}", cookie.line);
    // Idle: valid a second before two hours, refused at two hours.
    env.clock.advance(2 * HOUR - 1);
    assert_eq!(visits(&client.get("/").await), 2);
    env.clock.advance(2 * HOUR);
    assert_eq!(visits(&client.get("/peek").await), 0);
    // Absolute: active every hour, refused at five hours.
    let mut client = env.client();
    for expected in 1..=5 {
        assert_eq!(visits(&client.get("/").await), expected);
        env.clock.advance(HOUR);
    }
    assert_eq!(visits(&client.get("/peek").await), 0);
    // A session that chose its own lifetime keeps it: `/remember?no` on a persistent default.
    let env = Env::new(instance).await;
    let mut client = env.client();
    let resp = client.post("/remember?no", "ada").await;
    assert_eq!(resp.body, "hello ada");
    assert_eq!(resp.cookie().attr("Max-Age"), None);
    env.clock.advance(1);
    let resp = client.get("/").await;
    assert_eq!(resp.cookie().attr("Max-Age"), None, "{resp:?}");
}

/// G7: "remember me" is a persistent cookie of the configuration's longest lifetime, and a
/// session asking for more is capped by the maxima; every instance enforces the sealed bound.
pub(crate) async fn remember_me_is_persistent_and_capped_by_the_maxima(instance: Instance) {
    let config = SessionConfig::builder()
        .idle_timeout(Duration::from_secs(30 * DAY))
        .max_lifetime(Duration::from_secs(30 * DAY))
        .lifetime(
            Lifetime::persistent()
                .with_idle_timeout(Duration::from_secs(DAY))
                .with_max_lifetime(Duration::from_secs(7 * DAY)),
        )
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let mut anonymous = env.client();
    assert_eq!(anonymous.get("/").await.cookie().max_age(), DAY);
    let mut remembered = env.client();
    let resp = remembered.post("/remember?yes", "ada").await;
    assert_eq!(resp.cookie().max_age(), 30 * DAY);
    let mut greedy = env.client();
    let resp = greedy.post("/remember?long", "bob").await;
    assert_eq!(resp.cookie().max_age(), 30 * DAY, "capped by the maximum");
    // The anonymous one ends after a day idle; the remembered one is alive after 20 days.
    env.clock.advance(DAY);
    assert_eq!(visits(&anonymous.get("/peek").await), 0);
    env.clock.advance(19 * DAY);
    assert_eq!(remembered.get("/me").await.body, "ada");
    // Another instance with smaller maxima caps the sealed bound again.
    let config = SessionConfig::builder()
        .idle_timeout(Duration::from_secs(10 * DAY))
        .max_lifetime(Duration::from_secs(10 * DAY))
        .build()
        .unwrap();
    let stricter = env.also_serve(config).await;
    remembered.retarget(stricter.addr);
    assert_eq!(remembered.get("/me").await.status, 401);
}

/// A flash message set before a redirect is read once after it, then gone.
pub(crate) async fn a_flash_is_read_once_across_a_redirect(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    let resp = client.post("/flash", "welcome ada").await;
    assert_eq!(resp.status, 303);
    assert_eq!(resp.headers["location"], "/flash");
    let resp = client.get("/flash").await;
    assert_eq!(resp.body, "welcome ada\n");
    assert!(
        resp.set_cookie().is_some(),
        "the read removes it from the cookie"
    );
    assert_eq!(client.get("/flash").await.body, "");
    // Several, in order, and counted in the size check like everything else.
    client.post("/flash", "one").await;
    client.post("/flash", "two").await;
    assert_eq!(client.get("/flash").await.body, "one\ntwo\n");
    let big = "x".repeat(5000);
    assert_eq!(client.post("/flash", &big).await.status, 413);
    // Without a message pending, reading sends nothing.
    assert!(client.get("/flash").await.set_cookie().is_none());
}

/// `Rolling::EveryRequest` opens (and re-seals) the session on routes that never touch it;
/// the default leaves them alone.
pub(crate) async fn every_request_refreshes_untouched_routes(instance: Instance) {
    let config = SessionConfig::builder()
        .rolling(Rolling::EveryRequest)
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let mut client = env.client();
    client.get("/").await;
    env.clock.advance(HOUR);
    let resp = client.get("/untouched").await;
    let cookie = resp.cookie();
    assert_eq!(cookie.max_age(), DAY);
    // The refreshed session goes on past the first cookie's expiry.
    env.clock.advance(DAY - 60);
    assert_eq!(visits(&client.get("/").await), 2);
    let env = Env::new(instance).await;
    let mut client = env.client();
    client.get("/").await;
    env.clock.advance(HOUR * 20);
    assert!(client.get("/untouched").await.set_cookie().is_none());
}

/// G6: the application's per-session check (a per-user epoch kept in memory) refuses older
/// sessions over HTTP; bumping the epoch logs that user out everywhere.
pub(crate) async fn revoked_sessions_are_refused_over_http(instance: Instance) {
    let env = Env::new(instance).await;
    let epoch = Arc::new(AtomicU32::new(1));
    let current = Arc::clone(&epoch);
    // For this test, the length of the session's blob is the epoch it was granted under.
    let sessions = layer(env.ring.clone(), env.config.clone(), &env.clock).with_revocation_check(
        move |_meta, session| {
            session.user.is_none() || session.blob.len() == current.load(Ordering::SeqCst) as usize
        },
    );
    let server = serve_layer(instance.adapter, sessions).await;
    let logs = super::Logs::capture();
    let mut ada = super::Client::new(server.addr);
    ada.post("/grow?n=1", "").await;
    ada.post("/login", "ada").await;
    assert_eq!(ada.get("/me").await.body, "ada");
    logs.take();
    epoch.store(2, Ordering::SeqCst);
    assert_eq!(
        ada.get("/me").await.status,
        401,
        "revoked once the epoch moved"
    );
    assert!(logs.take().contains("reason=\"session_revoked\""));
    // Sessions without a user are not affected.
    let mut anonymous = super::Client::new(server.addr);
    anonymous.get("/").await;
    assert_eq!(visits(&anonymous.get("/").await), 2);
}
