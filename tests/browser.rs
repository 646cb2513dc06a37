//! A real browser against `examples/axum_app` and `examples/actix_app` (the same HTTP
//! contract: every test that drives an app runs against both, the actix one with the `actix`
//! feature): headless Chromium driven through the W3C WebDriver protocol (chromedriver), with a
//! minimal WebDriver client over hyper.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian: `apt-get install -y
//! chromium chromium-driver`) and the example binaries, built beforehand (`cargo test` builds
//! them too):
//!
//! ```text
//! cargo build --all-features --example axum_app --example actix_app
//! cargo test --all-features --test browser
//! ```
//!
//! Without the browser the tests are skipped with a loud message on a developer's machine, so
//! the README's `cargo test --all-features` works on a fresh clone; under CI (`CI` set, as
//! `.ci/run` is run) or with `SEALED_SESSION_REQUIRE_BROWSER=1` a missing browser fails them.
//!
//! The cases: the login flow and the cookie's attributes; "remember me" surviving a browser
//! restart on the same profile while a plain login does not; flash messages shown once; and
//! SECURITY-TESTS F1 (cookie tossing from a sibling subdomain) against the default `__Host-`
//! cookie name; and a session chunked across three cookies (`max_chunks`, against an app
//! served by the test itself) round-tripping and shrinking back to one. Each test has its own
//! app, chromedriver and profile directories; they take turns (one browser at a time), so that
//! a slow machine does not make them race each other.
#![cfg(feature = "axum")]
// Test code: a failed step panics with its context (the .clippy.toml allowances cover only
// the #[test] function itself, not its helpers).
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sealed_session::{Algorithm, Key};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const REQUIRE_VAR: &str = "SEALED_SESSION_REQUIRE_BROWSER";
const COOKIE: &str = "__Host-session";
/// The W3C WebDriver key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// The bound on any single WebDriver command (page loads included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// The bound on a process becoming ready (or exiting), and on a page showing the expected text.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);
/// The persistent ("remember me") lifetime of `examples/axum_app`.
const REMEMBER: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// One browser at a time: the tests of this file take turns (a tokio mutex, as the holder
/// awaits; it works across the tests' runtimes and is not poisoned by a failed test).
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_flow_against_axum_app() {
    browser_login_flow_on(Example::Axum).await;
}

#[cfg(feature = "__actix-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_flow_against_actix_app() {
    browser_login_flow_on(Example::Actix).await;
}

async fn browser_login_flow_on(example: Example) {
    let Some(mut h) = Harness::start("login flow", example).await else {
        return;
    };
    h.open_browser("profile", &[], false).await;
    let wd = &h.wd;
    let started = Instant::now();

    // 127.0.0.1 over plain http: Chromium counts loopback as a potentially trustworthy
    // origin, so it keeps the `Secure` `__Host-` cookie (checked below via the cookie store).
    let base = h.base();

    wd.navigate(&format!("{base}/")).await;
    wd.wait_for_body("visits: 1").await;
    wd.cmd(Method::POST, "refresh", json!({})).await;
    wd.wait_for_body("visits: 2").await;

    let name = "ada_lovelace";
    wd.log_in(&base, name, false).await;

    wd.navigate(&format!("{base}/me")).await;
    wd.wait_for_body(name).await;

    // HttpOnly: the page's scripts cannot see the session cookie...
    let script_cookies = wd.execute("return document.cookie", false).await;
    let script_cookies = script_cookies
        .as_str()
        .expect("document.cookie is a string");
    assert!(
        !script_cookies.contains(COOKIE),
        "document.cookie reveals the HttpOnly session cookie: {script_cookies:?}"
    );
    // ...but the browser holds it, with the attributes the crate sets.
    let cookie = wd.session_cookie().await.unwrap_or_else(|| {
        panic!("the browser holds no {COOKIE} cookie after login (Secure refused on http?)")
    });
    assert_eq!(cookie["httpOnly"], json!(true), "{cookie}");
    assert_eq!(cookie["secure"], json!(true), "{cookie}");
    assert_eq!(cookie["sameSite"], json!("Lax"), "{cookie}");
    assert_eq!(cookie["path"], json!("/"), "{cookie}");
    let value = cookie["value"].as_str().expect("cookie value is a string");
    assert!(!value.is_empty(), "{cookie}");
    assert!(
        !value.contains(name),
        "the user name shows in the cookie: {cookie}"
    );

    // Log out with a POST from the page (the session cookie rides along, SameSite=Lax).
    let logout = wd
        .execute(
            "const done = arguments[arguments.length - 1];\
             fetch('/logout', { method: 'POST' })\
               .then(r => r.text().then(body => done([r.status, body])))\
               .catch(e => done(['error', String(e)]));",
            true,
        )
        .await;
    assert_eq!(logout[0], json!(200), "POST /logout answered {logout}");
    assert!(
        wd.session_cookie().await.is_none(),
        "the session cookie survived the logout"
    );

    wd.navigate(&format!("{base}/me")).await;
    wd.wait_for_body("not logged in").await;
    let (status, _) = wd.fetch_get("/me").await;
    assert_eq!(status, 401, "GET /me after logout answered {status}");

    // A new session starts from zero.
    wd.navigate(&format!("{base}/")).await;
    wd.wait_for_body("visits: 1").await;

    h.quit_browser().await;
    eprintln!("browser flow passed in {:?}", started.elapsed());
}

/// "Remember me" is a persistent cookie: it is written to the profile's cookie store and comes
/// back when a new Chromium starts on the same `--user-data-dir`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_remember_me_survives_a_restart() {
    browser_remember_me_survives_a_restart_on(Example::Axum).await;
}

#[cfg(feature = "__actix-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_remember_me_survives_a_restart_against_actix_app() {
    browser_remember_me_survives_a_restart_on(Example::Actix).await;
}

async fn browser_remember_me_survives_a_restart_on(example: Example) {
    let Some(mut h) = Harness::start("remember me", example).await else {
        return;
    };
    let started = Instant::now();
    let base = h.base();
    let name = "grace_hopper";

    h.open_browser("profile", &[], false).await;
    h.wd.log_in(&base, name, true).await;
    let cookie =
        h.wd.session_cookie()
            .await
            .unwrap_or_else(|| panic!("no {COOKIE} cookie after a remembered login"));
    // Persistent: it carries an expiry (WebDriver: seconds since the epoch), 30 days out. The
    // wall clock only bounds it coarsely (a day either way).
    let expiry = cookie["expiry"]
        .as_u64()
        .unwrap_or_else(|| panic!("the remembered login set a session-only cookie: {cookie}"));
    let now = unix_now();
    let day = 24 * 60 * 60;
    let remember = REMEMBER.as_secs();
    assert!(
        (now + remember - day..=now + remember + day).contains(&expiry),
        "the remembered cookie expires at {expiry}, not about 30 days after {now}: {cookie}"
    );
    h.wd.navigate(&format!("{base}/me")).await;
    h.wd.wait_for_body(name).await;

    // Quit (chromedriver closes Chromium gracefully, which commits the cookie store) and wait
    // until the process has left the profile cleanly.
    let profile = h.quit_browser().await;
    assert!(
        cookie_store_mentions(&profile, COOKIE),
        "the persistent {COOKIE} cookie never reached {}",
        profile.join("Default/Cookies").display()
    );

    h.open_browser("profile", &[], false).await;
    h.wd.navigate(&format!("{base}/me")).await;
    h.wd.wait_for_body(name).await;
    let (status, body) = h.wd.fetch_get("/me").await;
    assert_eq!(
        (status, body.as_str()),
        (200, name),
        "GET /me after the restart"
    );
    assert!(
        h.wd.session_cookie().await.is_some(),
        "the restarted browser holds no {COOKIE} cookie"
    );
    h.quit_browser().await;
    eprintln!("remember-me restart passed in {:?}", started.elapsed());
}

/// A plain login is a browser-session cookie (no Max-Age): a new Chromium on the same profile
/// does not have it. A persistent control cookie set alongside shows that the profile's cookie
/// store itself did come back.
///
/// Measured with Chromium 148: it writes session cookies to `Default/Cookies` too (rows with
/// `is_persistent = 0`) and deletes them when the next browser starts on the profile, unless
/// that browser restores the last session: the "continue where you left off" setting,
/// `--restore-last-session` (with it, this test fails: `/me` answers the name), or crash
/// recovery (a Chromium killed after its cookie store's periodic commit, about 30 s, brings
/// the session cookie back). A fresh profile restores nothing, and `quit_browser` checks that
/// Chromium exited cleanly, so neither applies here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_plain_login_ends_with_the_browser() {
    browser_plain_login_ends_with_the_browser_on(Example::Axum).await;
}

#[cfg(feature = "__actix-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_plain_login_ends_with_the_browser_against_actix_app() {
    browser_plain_login_ends_with_the_browser_on(Example::Actix).await;
}

async fn browser_plain_login_ends_with_the_browser_on(example: Example) {
    let Some(mut h) = Harness::start("plain login", example).await else {
        return;
    };
    let started = Instant::now();
    let base = h.base();
    let name = "alan_turing";

    h.open_browser("profile", &[], false).await;
    h.wd.log_in(&base, name, false).await;
    let cookie =
        h.wd.session_cookie()
            .await
            .unwrap_or_else(|| panic!("no {COOKIE} cookie after a plain login"));
    assert!(
        cookie.get("expiry").is_none_or(Value::is_null),
        "a plain login set a persistent cookie: {cookie}"
    );
    h.wd.navigate(&format!("{base}/me")).await;
    h.wd.wait_for_body(name).await;
    // The control: a persistent cookie for the same host, which must survive the restart.
    let control_expiry = unix_now() + 60 * 60;
    h.wd.cmd(
        Method::POST,
        "cookie",
        json!({ "cookie": {
            "name": "control", "value": "kept", "path": "/", "expiry": control_expiry,
        } }),
    )
    .await;

    let profile = h.quit_browser().await;
    assert!(
        cookie_store_mentions(&profile, "control"),
        "the persistent control cookie never reached {}",
        profile.join("Default/Cookies").display()
    );

    h.open_browser("profile", &[], false).await;
    h.wd.navigate(&format!("{base}/me")).await;
    h.wd.wait_for_body("not logged in").await;
    let (status, body) = h.wd.fetch_get("/me").await;
    assert_eq!(
        status, 401,
        "GET /me after the restart answered {status}: {body:?}"
    );
    let cookies = h.wd.cookies().await;
    assert!(
        cookies.iter().all(|cookie| cookie["name"] != json!(COOKIE)),
        "the browser-session cookie survived the restart: {cookies:?}"
    );
    assert!(
        cookies
            .iter()
            .any(|cookie| cookie["name"] == json!("control") && cookie["value"] == json!("kept")),
        "the persistent control cookie did not survive the restart (so the restart proves \
         nothing about the session cookie): {cookies:?}"
    );
    h.quit_browser().await;
    eprintln!("plain-login restart passed in {:?}", started.elapsed());
}

/// Login sets the flash message `welcome NAME`: `/flash` shows it once (other requests in
/// between do not consume it), then answers an empty body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_flash_is_shown_once() {
    browser_flash_is_shown_once_on(Example::Axum).await;
}

#[cfg(feature = "__actix-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_flash_is_shown_once_against_actix_app() {
    browser_flash_is_shown_once_on(Example::Actix).await;
}

async fn browser_flash_is_shown_once_on(example: Example) {
    let Some(mut h) = Harness::start("flash", example).await else {
        return;
    };
    let started = Instant::now();
    let base = h.base();
    let name = "barbara_liskov";

    h.open_browser("profile", &[], false).await;
    h.wd.log_in(&base, name, false).await;
    h.wd.navigate(&format!("{base}/me")).await;
    h.wd.wait_for_body(name).await;

    h.wd.navigate(&format!("{base}/flash")).await;
    h.wd.wait_for_body(&format!("welcome {name}")).await;
    h.wd.navigate(&format!("{base}/flash")).await;
    h.wd.wait_for_body("").await;
    // The exact body, not the rendered text, and still logged in.
    let (status, body) = h.wd.fetch_get("/flash").await;
    assert_eq!(
        (status, body.as_str()),
        (200, ""),
        "GET /flash a third time"
    );
    let (status, body) = h.wd.fetch_get("/me").await;
    assert_eq!(
        (status, body.as_str()),
        (200, name),
        "GET /me after the flash"
    );
    h.quit_browser().await;
    eprintln!("flash passed in {:?}", started.elapsed());
}

/// SECURITY-TESTS F1 in a real browser, for the default cookie name: a sibling subdomain cannot
/// toss a `__Host-` cookie at the app, because Chromium refuses a `__Host-` cookie that has a
/// `Domain` (or a `Path` other than `/`), and one it sets without a `Domain` is bound to the
/// attacker's own host. A non-prefixed cookie with a `Domain` does reach the app (the control:
/// the tossing channel is open); the attacker's authentic session value does not.
///
/// The hosts are `app.example.localhost` (the app) and `evil.example.localhost` (an attacker
/// server in this test), both mapped to 127.0.0.1 by `--host-resolver-rules`. Why `.localhost`
/// and not, say, `.test`: over plain http only loopback hosts (`localhost`, `*.localhost`,
/// 127.0.0.1) may hold `__Host-` cookies in Chromium. For `http://app.example.test`, even with
/// `--unsafely-treat-insecure-origin-as-secure` making it a secure context (and letting it set
/// plain `Secure` cookies), Chromium 148 refuses every `__Host-` cookie, the app's own
/// host-only one included, as `InvalidPrefix` (its prefix check wants a cryptographic scheme
/// or a localhost URL), so the victim could never log in; and this crate's tests have no TLS.
/// `*.localhost` names are sibling subdomains of `example.localhost` to the cookie rules
/// (`Domain=example.localhost` is accepted), and trustworthy like 127.0.0.1.
///
/// Cookies ignore ports: the attacker server, reached as `app.example.localhost:ITS_PORT`,
/// echoes the Cookie header that the browser sends to the app's host. The browser's network
/// log (chromedriver's performance log) shows why each tossed cookie was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_host_prefix_defeats_cookie_tossing() {
    browser_host_prefix_defeats_cookie_tossing_on(Example::Axum).await;
}

#[cfg(feature = "__actix-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_host_prefix_defeats_cookie_tossing_against_actix_app() {
    browser_host_prefix_defeats_cookie_tossing_on(Example::Actix).await;
}

async fn browser_host_prefix_defeats_cookie_tossing_on(example: Example) {
    let Some(mut h) = Harness::start("cookie tossing (F1)", example).await else {
        return;
    };
    let started = Instant::now();

    // The attacker's own, authentic session (logged in as `mallory` from another client).
    let mallory = h.attacker_session("mallory").await;
    let tossed = tossed_cookies(&mallory);
    let evil_port = start_attacker_server(
        tossed.iter().map(|(line, _)| line.clone()).collect(),
        format!(
            "document.cookie = '{COOKIE}={mallory}; Domain={PARENT}; Path=/; Secure';\
             document.cookie = '{COOKIE}={mallory}; Domain={PARENT}; Path=/me; Secure';"
        ),
    )
    .await;
    let app = format!("http://app.{PARENT}:{}", h.app_port);
    let evil = format!("http://evil.{PARENT}:{evil_port}");
    let echo = format!("http://app.{PARENT}:{evil_port}");
    h.open_browser(
        "profile",
        &[
            format!("--host-resolver-rules=MAP *.{PARENT} 127.0.0.1"),
            "--no-proxy-server".to_owned(),
        ],
        true,
    )
    .await;
    let wd = &h.wd;

    let name = "ada_lovelace";
    wd.log_in(&app, name, false).await;
    let before = wd
        .session_cookie()
        .await
        .unwrap_or_else(|| panic!("no {COOKIE} cookie at {app}"));
    assert_eq!(before["domain"], json!(format!("app.{PARENT}")), "{before}");
    let victim = before["value"]
        .as_str()
        .expect("cookie value is a string")
        .to_owned();
    assert_ne!(victim, mallory);

    // The attacker page: Set-Cookie headers (tossed_cookies) and document.cookie writes.
    wd.performance_log().await; // drop what came before
    wd.navigate(&format!("{evil}/")).await;
    wd.wait_for_body("attacker page").await;
    // Chromium's verdict on each Set-Cookie line of that response.
    let extra_info = wd
        .wait_for_network_event("Network.responseReceivedExtraInfo", |params| {
            params["headers"]
                .as_object()
                .is_some_and(|headers| headers.values().any(|v| v.to_string().contains("planted=")))
        })
        .await;
    let blocked = extra_info["blockedCookies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (line, refused) in &tossed {
        let verdict = blocked
            .iter()
            .find(|entry| entry["cookieLine"] == json!(line));
        match (refused, verdict) {
            (true, Some(entry)) => assert!(
                entry["blockedReasons"]
                    .as_array()
                    .is_some_and(|reasons| reasons.contains(&json!("InvalidPrefix"))),
                "refused for another reason than the prefix rule: {entry}"
            ),
            (true, None) => panic!("Chromium accepted the tossed cookie {line:?}"),
            (false, Some(entry)) => panic!("Chromium refused the control {line:?}: {entry}"),
            (false, None) => {}
        }
    }
    let evil_cookies = wd.cookies().await;
    // What the browser did accept from the attacker: the control cookie for the whole domain,
    // and a `__Host-` cookie only for the attacker's own host.
    let planted = named(&evil_cookies, "planted");
    assert_eq!(planted.len(), 1, "{evil_cookies:?}");
    assert_eq!(
        planted[0]["domain"],
        json!(format!(".{PARENT}")),
        "{evil_cookies:?}"
    );
    let own = named(&evil_cookies, COOKIE);
    assert_eq!(own.len(), 1, "{evil_cookies:?}");
    assert_eq!(
        own[0]["domain"],
        json!(format!("evil.{PARENT}")),
        "{evil_cookies:?}"
    );

    // The victim's session at the app is unchanged.
    wd.navigate(&format!("{app}/me")).await;
    wd.wait_for_body(name).await;
    let (status, body) = wd.fetch_get("/me").await;
    assert_eq!(
        (status, body.as_str()),
        (200, name),
        "GET /me after the attack"
    );
    let app_cookies = wd.cookies().await;
    let sessions = named(&app_cookies, COOKIE);
    assert_eq!(
        sessions.len(),
        1,
        "the app's host sees more than one {COOKIE} cookie: {app_cookies:?}"
    );
    assert_eq!(
        sessions[0]["value"],
        json!(victim),
        "the victim's cookie changed"
    );
    assert_eq!(
        sessions[0]["domain"],
        json!(format!("app.{PARENT}")),
        "{app_cookies:?}"
    );
    assert_eq!(
        named(&app_cookies, "planted").len(),
        1,
        "the control cookie (Domain={PARENT}) did not reach the app's host, so the attack \
         was never possible: {app_cookies:?}"
    );

    // What the browser actually sends to the app's host.
    wd.navigate(&format!("{echo}/echo")).await;
    let header = wd.body_text().await;
    let pairs: Vec<(&str, &str)> = header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .collect();
    assert_eq!(
        pairs
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(COOKIE))
            .collect::<Vec<_>>(),
        vec![&(COOKIE, victim.as_str())],
        "Cookie header sent to app.{PARENT}: {header:?}"
    );
    assert!(
        pairs.contains(&("planted", "tossed")),
        "Cookie header sent to app.{PARENT}: {header:?}"
    );
    assert!(
        !header.contains(&mallory),
        "the attacker's session value reached the app's host: {header:?}"
    );

    h.quit_browser().await;
    eprintln!("cookie tossing (F1) passed in {:?}", started.elapsed());
}

/// The registrable domain of the F1 test's hosts (see its comment for why `.localhost`).
const PARENT: &str = "example.localhost";

/// The attacker's Set-Cookie lines, each with whether Chromium must refuse it. The value is
/// the attacker's authentic session cookie.
fn tossed_cookies(value: &str) -> Vec<(String, bool)> {
    vec![
        // Refused: a `__Host-` cookie must not have a Domain...
        (
            format!("{COOKIE}={value}; Domain={PARENT}; Path=/; Secure; HttpOnly; SameSite=Lax"),
            true,
        ),
        (
            format!("{COOKIE}={value}; Domain=.{PARENT}; Path=/; Secure"),
            true,
        ),
        // ...nor a Path other than `/` (longer paths are sent first: RFC 6265 §5.4).
        (
            format!("{COOKIE}={value}; Domain={PARENT}; Path=/me; Secure"),
            true,
        ),
        (format!("{COOKIE}={value}; Path=/me; Secure"), true),
        // Look-alikes: the prefix is matched case-insensitively, and a nameless cookie may
        // not look like a prefixed one.
        (
            format!("__host-session={value}; Domain={PARENT}; Path=/; Secure"),
            true,
        ),
        (
            format!("={COOKIE}={value}; Domain={PARENT}; Path=/; Secure"),
            true,
        ),
        // Accepted, but host-only: it stays with evil.example.localhost.
        (format!("{COOKIE}={value}; Path=/; Secure; HttpOnly"), false),
        // The control: a plain cookie for the whole domain, which the browser keeps and sends
        // to the app.
        (format!("planted=tossed; Domain={PARENT}; Path=/"), false),
    ]
}

fn named(cookies: &[Value], name: &str) -> Vec<Value> {
    cookies
        .iter()
        .filter(|cookie| cookie["name"] == json!(name))
        .cloned()
        .collect()
}

/// The attacker server: `/` sends `set_cookies` and a page running `script`; `/echo` answers
/// the request's Cookie header. It runs on this test's runtime until the test ends.
async fn start_attacker_server(set_cookies: Vec<String>, script: String) -> u16 {
    use axum::http::{HeaderMap, Uri, header};
    use axum::response::{AppendHeaders, Html, IntoResponse};

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind the attacker server");
    let port = listener.local_addr().expect("local_addr").port();
    let handler = move |uri: Uri, headers: HeaderMap| {
        let set_cookies = set_cookies.clone();
        let script = script.clone();
        async move {
            match uri.path() {
                "/echo" => headers
                    .get_all(header::COOKIE)
                    .iter()
                    .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
                    .collect::<Vec<_>>()
                    .join("; ")
                    .into_response(),
                "/" => (
                    AppendHeaders(
                        set_cookies
                            .into_iter()
                            .map(|line| (header::SET_COOKIE, line)),
                    ),
                    Html(format!(
                        "<!doctype html><title>attacker</title>\
                         <body><script>{script}</script>attacker page</body>"
                    )),
                )
                    .into_response(),
                _ => axum::http::StatusCode::NOT_FOUND.into_response(),
            }
        }
    };
    let router = axum::Router::new().fallback(handler);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    port
}

/// The chunked session's cookie names, in order (`__Host-session`, `__Host-session.1`, ...).
const CHUNKS: [&str; 3] = [COOKIE, "__Host-session.1", "__Host-session.2"];
/// Blob bytes that need all three chunks (about 2.9 KiB of blob fit in one 4 KiB cookie).
const THREE_CHUNKS: usize = 8500;
/// What `/shrink` leaves in the blob.
const SHRUNK: &str = "small";

/// Chunking in a real browser: a session too large for one cookie is split across
/// `__Host-session`, `__Host-session.1` and `__Host-session.2` (`max_chunks(3)`); Chromium
/// keeps all three (each under its 4096-byte limit, the `__Host-` prefix on each), sends all
/// three back and the server joins them into exactly the blob it sealed. When the session
/// shrinks to one cookie, the same response deletes the other two (`Max-Age=0`), so the jar
/// holds only `__Host-session` and the browser stops sending the chunks.
///
/// The app is served by this test (`start_chunk_server`) on 127.0.0.1, a loopback origin
/// where Chromium accepts `__Host-` cookies over plain http.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_three_chunk_session_round_trips_and_shrinks() {
    let Some(mut h) = Harness::start_without_app("three chunks").await else {
        return;
    };
    let started = Instant::now();
    let port = start_chunk_server().await;
    let base = format!("http://127.0.0.1:{port}");
    h.open_browser("profile", &[], true).await;
    let wd = &h.wd;

    wd.navigate(&format!("{base}/")).await;
    wd.wait_for_body("chunk app").await;
    assert!(
        session_cookies(&wd.cookies().await).is_empty(),
        "a session cookie before the session was touched"
    );

    // Grow: the server answers what it sealed; the test knows what that must be.
    let grown = summary(&noise(0, THREE_CHUNKS));
    wd.performance_log().await; // drop what came before
    let (status, body) = wd.fetch("POST", &format!("/grow?n={THREE_CHUNKS}")).await;
    assert_eq!((status, body.as_str()), (200, grown.as_str()), "POST /grow");
    let (lines, blocked) = set_cookie_lines(wd).await;
    assert!(blocked.is_empty(), "Chromium refused chunks: {blocked:?}");
    assert_eq!(
        lines.iter().map(|line| line_name(line)).collect::<Vec<_>>(),
        CHUNKS,
        "the grow response's Set-Cookie lines: {lines:?}"
    );

    let jar = session_cookies(&wd.cookies().await);
    assert_eq!(
        jar.iter()
            .map(|cookie| cookie["name"].clone())
            .collect::<Vec<_>>(),
        CHUNKS.map(|name| json!(name)),
        "the browser's session cookies after growing: {jar:?}"
    );
    let chunk_values: Vec<String> = jar
        .iter()
        .map(|cookie| {
            cookie["value"]
                .as_str()
                .expect("cookie value is a string")
                .to_owned()
        })
        .collect();
    for (cookie, value) in jar.iter().zip(&chunk_values) {
        let name = cookie["name"].as_str().expect("cookie name is a string");
        // Chromium's limit is on name and value together (4096 bytes).
        assert!(
            !value.is_empty() && name.len() + value.len() <= 4096,
            "{name}: {} value bytes",
            value.len()
        );
        // The same attributes as the first cookie (expiry: computed per line, so allow for a
        // second boundary between them).
        for attribute in ["domain", "path", "secure", "httpOnly", "sameSite"] {
            assert_eq!(cookie[attribute], jar[0][attribute], "{attribute}: {jar:?}");
        }
        let expiry = |cookie: &Value| cookie["expiry"].as_u64().expect("a persistent cookie");
        assert!(
            expiry(cookie).abs_diff(expiry(&jar[0])) <= 1,
            "expiry: {jar:?}"
        );
    }
    assert_eq!(jar[0]["secure"], json!(true), "{jar:?}");
    assert_eq!(jar[0]["httpOnly"], json!(true), "{jar:?}");
    assert_eq!(jar[0]["domain"], json!("127.0.0.1"), "{jar:?}");
    let sizes: Vec<usize> = chunk_values.iter().map(String::len).collect();

    // The browser sends all three back (the echo route is outside the session layer)...
    let (status, header) = wd.fetch_get("/echo").await;
    assert_eq!(status, 200, "GET /echo: {header:?}");
    let sent = session_pairs(&header);
    assert_eq!(
        sent,
        CHUNKS
            .iter()
            .zip(&chunk_values)
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect::<Vec<_>>(),
        "the session pairs of the Cookie header after growing (header of {} bytes)",
        header.len()
    );
    // ...and the server joins them into exactly the blob it sealed.
    wd.navigate(&format!("{base}/len")).await;
    wd.wait_for_body(&grown).await;

    // Shrink: one cookie again, the other two deleted on the same response.
    let shrunk = summary(SHRUNK);
    wd.performance_log().await;
    let (status, body) = wd.fetch("POST", "/shrink").await;
    assert_eq!(
        (status, body.as_str()),
        (200, shrunk.as_str()),
        "POST /shrink"
    );
    let jar = session_cookies(&wd.cookies().await);
    assert_eq!(
        jar.iter()
            .map(|cookie| cookie["name"].clone())
            .collect::<Vec<_>>(),
        [json!(COOKIE)],
        "the browser's session cookies after shrinking: {jar:?}"
    );
    assert_ne!(jar[0]["value"], json!(chunk_values[0]), "{jar:?}");
    let (lines, blocked) = set_cookie_lines(wd).await;
    assert!(blocked.is_empty(), "Chromium refused a line: {blocked:?}");
    assert_eq!(
        lines.iter().map(|line| line_name(line)).collect::<Vec<_>>(),
        CHUNKS,
        "the shrink response's Set-Cookie lines: {lines:?}"
    );
    assert!(!lines[0].contains("Max-Age=0;"), "{lines:?}");
    for line in &lines[1..] {
        assert!(
            line.split(';').nth(1).map(str::trim) == Some("Max-Age=0")
                && line_value(line).is_empty(),
            "not a deletion: {line:?}"
        );
    }

    let (status, header) = wd.fetch_get("/echo").await;
    assert_eq!(status, 200, "GET /echo: {header:?}");
    let value = jar[0]["value"].as_str().expect("cookie value is a string");
    assert_eq!(
        session_pairs(&header),
        [(COOKIE.to_owned(), value.to_owned())],
        "the Cookie header after shrinking: {header:?}"
    );
    assert!(
        !header.contains(&format!("{COOKIE}.")),
        "the Cookie header after shrinking names a chunk: {header:?}"
    );
    wd.navigate(&format!("{base}/len")).await;
    wd.wait_for_body(&shrunk).await;

    h.quit_browser().await;
    eprintln!(
        "three chunks passed in {:?} (chunk values of {sizes:?} bytes)",
        started.elapsed()
    );
}

/// The test kit's `browser_cookie` (feature `test-util`): a browser given the cookie through
/// WebDriver's "add cookie" starts logged in, without a login form. The app is served by this
/// test on 127.0.0.1 (a loopback origin, where Chromium keeps the `Secure` `__Host-` cookie
/// over plain http), on the system clock, as a real deployment.
#[cfg(feature = "test-util")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_starts_logged_in_from_the_test_kit() {
    use axum::routing::get;
    use sealed_session::testing::TestSessions;
    use sealed_session::{KeyRing, Session, SessionConfig, SessionLayer};

    #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
    struct Who {
        user: Option<String>,
    }
    async fn who(session: Session<Who>) -> String {
        format!("who: {}", session.get().user.as_deref().unwrap_or("nobody"))
    }

    let Some(mut h) = Harness::start_without_app("starts logged in").await else {
        return;
    };
    let ring = KeyRing::new(Key::generate(Algorithm::XChaCha20Poly1305));
    let layer = SessionLayer::<Who>::new(ring, SessionConfig::default());
    let kit = TestSessions::new(&layer);
    let router = axum::Router::new().route("/", get(who)).layer(layer);
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind the app");
    let base = format!("http://{}", listener.local_addr().expect("local_addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    h.open_browser("profile", &[], false).await;
    let wd = &h.wd;
    // WebDriver adds cookies for the current page's host: be on the origin first.
    wd.navigate(&format!("{base}/")).await;
    wd.wait_for_body("who: nobody").await;
    let ann = Who {
        user: Some("ann".to_owned()),
    };
    let cookie = kit.browser_cookie(&ann, &base);
    wd.cmd(Method::POST, "cookie", json!({ "cookie": cookie }))
        .await;
    let held = wd
        .session_cookie()
        .await
        .unwrap_or_else(|| panic!("Chromium did not keep the added {COOKIE} cookie"));
    assert_eq!(held["httpOnly"], json!(true), "{held}");
    assert_eq!(held["secure"], json!(true), "{held}");
    wd.navigate(&format!("{base}/")).await;
    wd.wait_for_body("who: ann").await;
}

/// The session of the chunking test: one blob.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct BlobSession {
    blob: String,
}

/// The chunking test's app: `POST /grow?n=N` appends `noise` to the blob, `GET /len` and
/// `POST /shrink` (which sets it to `SHRUNK`) answer its `summary`; `GET /echo`, outside the
/// session layer, answers the request's Cookie header. `max_chunks(3)`, a 12 KiB header
/// budget. It runs on this test's runtime until the test ends.
async fn start_chunk_server() -> u16 {
    use axum::http::{HeaderMap, Uri, header};
    use axum::response::{Html, IntoResponse, Response};
    use axum::routing::{get, post};
    use sealed_session::{KeyRing, Session, SessionConfig, SessionLayer};

    async fn grow(session: Session<BlobSession>, uri: Uri) -> Response {
        let Some(n) = uri
            .query()
            .and_then(|query| query.strip_prefix("n="))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            return (StatusCode::BAD_REQUEST, "expected ?n=CHARS").into_response();
        };
        session
            .update(|s| {
                let more = noise(s.blob.len(), n);
                s.blob.push_str(&more);
                summary(&s.blob)
            })
            .into_response()
    }
    async fn len(session: Session<BlobSession>) -> String {
        summary(&session.get().blob)
    }
    async fn shrink(session: Session<BlobSession>) -> Response {
        session
            .update(|s| {
                SHRUNK.clone_into(&mut s.blob);
                summary(&s.blob)
            })
            .into_response()
    }
    async fn echo(headers: HeaderMap) -> String {
        headers
            .get_all(header::COOKIE)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join("; ")
    }

    let config = SessionConfig::builder()
        .max_chunks(3)
        .cookie_header_budget(12 * 1024)
        .build()
        .expect("a valid chunking configuration");
    let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
    let router = axum::Router::new()
        .route(
            "/",
            get(|| async { Html("<!doctype html><title>chunks</title><body>chunk app</body>") }),
        )
        .route("/grow", post(grow))
        .route("/len", get(len))
        .route("/shrink", post(shrink))
        .layer(SessionLayer::<BlobSession>::new(ring, config))
        .route("/echo", get(echo));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind the chunk server");
    let port = listener.local_addr().expect("local_addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    port
}

/// `n` printable ASCII characters (`!` to `~`) from a xorshift64 seeded by `start` (the blob's
/// length so far): barely compressible, and the test can compute what the server appended.
fn noise(start: usize, n: usize) -> String {
    let mut state = 0x9E37_79B9_7F4A_7C15 ^ start as u64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let [top, ..] = state.to_be_bytes();
            char::from(b'!' + top % 94)
        })
        .collect()
}

/// `len: L fnv: H`: the blob's length and its 32-bit FNV-1a hash (order-sensitive, unlike a
/// sum of bytes, so swapped chunks would show too).
fn summary(blob: &str) -> String {
    let hash = blob.bytes().fold(0x811C_9DC5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    format!("len: {} fnv: {hash:08x}", blob.len())
}

/// Whether `name` is the session cookie or one of its chunks (or looks like one: the prefix
/// is matched case-insensitively).
fn is_session_name(name: &str) -> bool {
    name.to_ascii_lowercase()
        .starts_with(&COOKIE.to_ascii_lowercase())
}

/// The session cookies and chunks of a WebDriver cookie list, by name.
fn session_cookies(cookies: &[Value]) -> Vec<Value> {
    let mut found: Vec<Value> = cookies
        .iter()
        .filter(|cookie| cookie["name"].as_str().is_some_and(is_session_name))
        .cloned()
        .collect();
    found.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    found
}

/// The session pairs of a Cookie header, by name.
fn session_pairs(header: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| is_session_name(name))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    pairs.sort();
    pairs
}

fn line_name(line: &str) -> &str {
    line.split_once('=').map_or(line, |(name, _)| name)
}

fn line_value(line: &str) -> &str {
    line.split_once('=')
        .and_then(|(_, rest)| rest.split(';').next())
        .unwrap_or_default()
}

/// The `Set-Cookie` lines of the next response that has any (from the network log), and the
/// ones Chromium refused, with its reasons.
async fn set_cookie_lines(wd: &WebDriver) -> (Vec<String>, Vec<Value>) {
    let set_cookie = |params: &Value| {
        params["headers"].as_object().and_then(|headers| {
            headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
                .and_then(|(_, value)| value.as_str())
                .map(str::to_owned)
        })
    };
    let params = wd
        .wait_for_network_event("Network.responseReceivedExtraInfo", |params| {
            set_cookie(params).is_some()
        })
        .await;
    let lines = set_cookie(&params)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let blocked = params["blockedCookies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (lines, blocked)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// Whether the profile's cookie store (an SQLite file, names in clear) holds `name`: a
/// stand-in for `sqlite3 Default/Cookies 'select name from cookies'` without a dependency.
fn cookie_store_mentions(profile: &Path, name: &str) -> bool {
    let Ok(bytes) = std::fs::read(profile.join("Default").join("Cookies")) else {
        return false;
    };
    bytes
        .windows(name.len())
        .any(|window| window == name.as_bytes())
}

/// Whether the browser test may be skipped here: it may not under CI or when required.
fn browser_missing(test: &str) -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).is_file())
        .collect();
    if missing.is_empty() {
        return false;
    }
    let required = std::env::var_os("CI").is_some_and(|value| !value.is_empty())
        || std::env::var(REQUIRE_VAR).is_ok_and(|value| value == "1");
    assert!(
        !required,
        "browser test ({test}): missing {}; install them with `apt-get install -y chromium \
         chromium-driver` (Debian)",
        missing.join(", ")
    );
    eprintln!(
        "browser test ({test}) SKIPPED: missing {} (apt-get install -y chromium \
         chromium-driver); it is required under CI",
        missing.join(", ")
    );
    true
}

/// One test's app (`examples/axum_app`, unless the test serves its own), chromedriver and
/// browser sessions.
struct Harness {
    // Fields drop in order: the processes end before the next test may start its own.
    guard: Guard,
    wd: WebDriver,
    /// 0 when started without the app.
    app_port: u16,
    profile: Option<PathBuf>,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Harness {
    /// Starts the app and chromedriver (no browser yet); `None` when the test is skipped.
    async fn start(test: &str, example: Example) -> Option<Self> {
        Self::start_with(test, Some(example)).await
    }

    /// Starts chromedriver only, for a test that serves its own app in-process (`base` is then
    /// not available); `None` when the test is skipped.
    async fn start_without_app(test: &str) -> Option<Self> {
        Self::start_with(test, None).await
    }

    async fn start_with(test: &str, example: Option<Example>) -> Option<Self> {
        if browser_missing(test) {
            return None;
        }
        let app_binary = example.map(example_binary);
        let turn = ONE_BROWSER.lock().await;

        let mut guard = Guard::new();
        let mut app_port = 0;
        if let Some(app_binary) = app_binary {
            app_port = free_port();
            let key = Key::generate(Algorithm::Aes256Gcm).to_string();
            let app = Command::new(&app_binary)
                .env("PORT", app_port.to_string())
                .env("SESSION_KEYS", key)
                .stdin(Stdio::null())
                .stdout(guard.log_file("app.log"))
                .stderr(guard.log_file("app.log"))
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start {}: {error}", app_binary.display()));
            guard.push_child(app, "app.log");
            let name = example.map_or("the app", Example::path);
            wait_for_port(&mut guard, app_port, name);
        }

        let driver_port = free_port();
        let mut driver_command = Command::new(CHROMEDRIVER);
        driver_command
            .arg(format!("--port={driver_port}"))
            .stdin(Stdio::null())
            .stdout(guard.log_file("chromedriver.log"))
            .stderr(guard.log_file("chromedriver.log"));
        // Its own process group, so that the guard can end Chromium with it if all else fails.
        std::os::unix::process::CommandExt::process_group(&mut driver_command, 0);
        let driver = driver_command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {CHROMEDRIVER}: {error}"));
        guard.push_child(driver, "chromedriver.log");
        guard.driver_port = Some(driver_port);
        wait_for_port(&mut guard, driver_port, "chromedriver");

        let wd = WebDriver::new(driver_port);
        wd.wait_ready().await;
        Some(Self {
            guard,
            wd,
            app_port,
            profile: None,
            _turn: turn,
        })
    }

    /// The app's origin on the loopback address.
    fn base(&self) -> String {
        assert_ne!(self.app_port, 0, "this harness was started without the app");
        format!("http://127.0.0.1:{}", self.app_port)
    }

    /// A new browser session on the profile directory `name` (under the temp dir; reused if
    /// it exists), with `extra` Chromium flags, and with chromedriver's network log if asked.
    async fn open_browser(&mut self, name: &str, extra: &[String], network_log: bool) {
        assert!(self.guard.session.is_none(), "a browser is already open");
        let profile = self.guard.dir.join(name);
        let session = self.wd.new_session(&profile, extra, network_log).await;
        self.guard.session = Some(session);
        self.profile = Some(profile);
    }

    /// Ends the browser session and waits until Chromium has left the profile cleanly: its
    /// `SingletonLock` is gone and `Default/Preferences` records `"exit_type": "Normal"`
    /// (it says `Crashed` while Chromium runs or if it was killed). Returns the profile
    /// directory.
    ///
    /// Chromium commits its cookie store lazily (about every 30 s); a graceful close, which
    /// chromedriver's `DELETE /session/{id}` is, commits it on the way out, so no wait or
    /// navigation is needed. A killed Chromium loses the cookies set since the last commit
    /// (measured: a remembered login killed right away is gone), and the next one runs crash
    /// recovery, which would also bring session cookies back.
    async fn quit_browser(&mut self) -> PathBuf {
        let session = self.guard.session.take().expect("a browser is open");
        self.wd
            .cmd_at(Method::DELETE, &format!("/session/{session}"), None)
            .await;
        let profile = self.profile.take().expect("a browser is open");
        let lock = profile.join("SingletonLock");
        let preferences = profile.join("Default").join("Preferences");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let exit_type = std::fs::read(&preferences)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .map(|prefs| prefs["profile"]["exit_type"].clone());
            let locked = std::fs::symlink_metadata(&lock).is_ok();
            if !locked && exit_type == Some(json!("Normal")) {
                return profile;
            }
            assert!(
                Instant::now() < deadline,
                "Chromium did not exit cleanly within {READY_TIMEOUT:?} of quitting \
                 (SingletonLock present: {locked}; exit_type in {}: {exit_type:?})",
                preferences.display()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Logs `name` in over plain HTTP (not through the browser) and returns the session
    /// cookie's value, checking that it is authentic (`GET /me` with it answers `name`).
    async fn attacker_session(&self, name: &str) -> String {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let base = self.base();
        let request = Request::post(format!("{base}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(format!("username={name}"))))
            .expect("a valid request");
        let response = client.request(request).await.expect("POST /login");
        assert_eq!(response.status(), StatusCode::OK, "POST /login as {name}");
        let value = response
            .headers()
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|line| line.to_str().ok())
            .find_map(|line| line.strip_prefix(&format!("{COOKIE}=")))
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_else(|| panic!("POST /login as {name} set no {COOKIE} cookie"))
            .to_owned();
        let request = Request::get(format!("{base}/me"))
            .header("cookie", format!("{COOKIE}={value}"))
            .body(Full::new(Bytes::new()))
            .expect("a valid request");
        let response = client.request(request).await.expect("GET /me");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("GET /me body")
            .to_bytes();
        assert_eq!(
            (status, body.as_ref()),
            (StatusCode::OK, name.as_bytes()),
            "the attacker's own cookie does not open the attacker's session"
        );
        value
    }
}

/// The example apps with one HTTP contract: every test that drives an app runs against each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Example {
    /// `examples/axum_app.rs`.
    Axum,
    /// `examples/actix_app.rs` (feature `actix`).
    #[cfg_attr(not(feature = "__actix-tests"), allow(dead_code))]
    Actix,
}

impl Example {
    fn name(self) -> &'static str {
        match self {
            Self::Axum => "axum_app",
            Self::Actix => "actix_app",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Axum => "examples/axum_app",
            Self::Actix => "examples/actix_app",
        }
    }

    fn build_command(self) -> &'static str {
        match self {
            Self::Axum => "cargo build --example axum_app",
            Self::Actix => "cargo build --example actix_app --features actix",
        }
    }
}

/// `target/<profile>/examples/<example>`, next to this test's `target/<profile>/deps/`.
fn example_binary(example: Example) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let binary = profile_dir.join("examples").join(example.name());
    let build = example.build_command();
    let built = std::fs::metadata(&binary)
        .and_then(|meta| meta.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} is missing: build it first with `{build}`",
                binary.display()
            )
        });
    // Refuse to test a stale example (the sources changed since it was built).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = vec![root.join(format!("{}.rs", example.path()))];
    collect_files(&root.join("src"), &mut sources);
    for source in sources {
        let changed = std::fs::metadata(&source)
            .and_then(|meta| meta.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        assert!(
            changed <= built,
            "{} is older than {}: rebuild it with `{build}`",
            binary.display(),
            source.display()
        );
    }
    binary
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A port that was free a moment ago (bind to port 0, read it, release it).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Waits (bounded) until `port` accepts connections, failing early if a child exited.
fn wait_for_port(guard: &mut Guard, port: u16, what: &str) {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return;
        }
        for (child, log) in &mut guard.children {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{log}: the process exited early ({status}) while waiting for {what}");
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not accept connections on {address} within {READY_TIMEOUT:?}"
        );
        std::thread::sleep(POLL);
    }
}

/// Owns the temp dir and the child processes; ends them all on drop, pass or fail.
struct Guard {
    dir: PathBuf,
    children: Vec<(Child, &'static str)>,
    driver_port: Option<u16>,
    session: Option<String>,
}

impl Guard {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "sealed-session-browser-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create the temp dir");
        Self {
            dir,
            children: Vec::new(),
            driver_port: None,
            session: None,
        }
    }

    fn log_file(&self, name: &str) -> File {
        File::options()
            .create(true)
            .append(true)
            .open(self.dir.join(name))
            .expect("open a log file")
    }

    fn push_child(&mut self, child: Child, log: &'static str) {
        self.children.push((child, log));
    }

    /// `DELETE /session/{id}` over a raw socket (no runtime in `drop`): chromedriver closes
    /// Chromium.
    fn delete_session(port: u16, session: &str) {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /session/{session} HTTP/1.1\r\nHost: {address}\r\n\
             Connection: close\r\nContent-Length: 0\r\n\r\n"
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return;
        }
        // Read the whole answer (chromedriver answers once Chromium has quit), but not
        // until EOF: chromedriver may keep the connection open.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut answer = Vec::new();
        let mut chunk = [0u8; 1024];
        while Instant::now() < deadline && !complete_http_response(&answer) {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let (Some(port), Some(session)) = (self.driver_port, self.session.take()) {
            Self::delete_session(port, &session);
        }
        for (child, log) in self.children.iter_mut().rev() {
            if *log == "chromedriver.log" {
                // Whatever chromedriver started (Chromium) is in its process group.
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            for log in ["app.log", "chromedriver.log"] {
                if let Ok(text) = std::fs::read_to_string(self.dir.join(log)) {
                    let tail: Vec<&str> = text.lines().rev().take(40).collect();
                    eprintln!("--- last lines of {log} ---");
                    for line in tail.into_iter().rev() {
                        eprintln!("{line}");
                    }
                }
            }
        }
        // Chromium's last helpers may still be exiting: retry briefly.
        for _ in 0..20 {
            if std::fs::remove_dir_all(&self.dir).is_ok() || !self.dir.exists() {
                break;
            }
            std::thread::sleep(POLL);
        }
    }
}

/// Whether `bytes` hold an HTTP/1.1 response's head and its `Content-Length` body.
fn complete_http_response(bytes: &[u8]) -> bool {
    let Some(head_end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    bytes.len() >= head_end + 4 + length
}

/// Just enough of the W3C WebDriver protocol for this test.
struct WebDriver {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    session: String,
}

impl WebDriver {
    fn new(port: u16) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
        }
    }

    /// Sends one command and returns its `value`; panics on a WebDriver error.
    async fn cmd_at(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.try_cmd_at(method.clone(), path, body).await;
        assert!(
            status.is_success(),
            "WebDriver {method} {path} failed ({status}): {value}"
        );
        value
    }

    async fn try_cmd_at(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let body = body.map_or_else(Bytes::new, |body| Bytes::from(body.to_string()));
        let request = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json; charset=utf-8")
            .body(Full::new(body))
            .expect("a valid request");
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            let bytes = response.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(COMMAND_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| {
                panic!("WebDriver {method} {path}: no answer in {COMMAND_TIMEOUT:?}")
            })
            .unwrap_or_else(|error| panic!("WebDriver {method} {path}: {error}"));
        let json: Value = serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            panic!(
                "WebDriver {method} {path}: not JSON ({error}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, json["value"].clone())
    }

    /// A command on the current session: `path` is relative to `/session/{id}/`.
    async fn cmd(&self, method: Method, path: &str, body: Value) -> Value {
        let body = (method == Method::POST).then_some(body);
        self.cmd_at(method, &format!("/session/{}/{path}", self.session), body)
            .await
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let (_, status) = self.try_cmd_at(Method::GET, "/status", None).await;
            if status["ready"] == json!(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready within {READY_TIMEOUT:?}: {status}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    async fn new_session(&mut self, profile: &Path, extra: &[String], network_log: bool) -> String {
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-quic".to_owned(),
            // The cookie store's encryption key must be the same in the next browser on this
            // profile (chromedriver passes this too): no desktop keyring.
            "--password-store=basic".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        args.extend_from_slice(extra);
        let mut capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": { "pageLoad": 10_000, "script": 10_000, "implicit": 0 },
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": args,
                    },
                },
            },
        });
        if network_log {
            // DevTools events, Network.* included, in the "performance" log.
            capabilities["capabilities"]["alwaysMatch"]["goog:loggingPrefs"] =
                json!({ "performance": "ALL" });
        }
        let value = self
            .cmd_at(Method::POST, "/session", Some(capabilities))
            .await;
        let session = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {value}"))
            .to_owned();
        self.session.clone_from(&session);
        session
    }

    async fn navigate(&self, url: &str) {
        self.cmd(Method::POST, "url", json!({ "url": url })).await;
    }

    /// The element id of the first match of a CSS selector.
    async fn find(&self, selector: &str) -> String {
        let value = self
            .cmd(
                Method::POST,
                "element",
                json!({ "using": "css selector", "value": selector }),
            )
            .await;
        value[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("no element for {selector}: {value}"))
            .to_owned()
    }

    /// Polls (bounded) until the page's body text is `expected`: a click's navigation may
    /// still be in flight when the command returns.
    async fn wait_for_body(&self, expected: &str) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = Value::Null;
        loop {
            let path = format!("/session/{}/element", self.session);
            let (status, element) = self
                .try_cmd_at(
                    Method::POST,
                    &path,
                    Some(json!({ "using": "css selector", "value": "body" })),
                )
                .await;
            if status.is_success() {
                if let Some(id) = element[ELEMENT_KEY].as_str() {
                    let path = format!("/session/{}/element/{id}/text", self.session);
                    let (status, text) = self.try_cmd_at(Method::GET, &path, None).await;
                    if status.is_success() && text.as_str().map(str::trim) == Some(expected) {
                        return;
                    }
                    last = text;
                }
            } else {
                last = element;
            }
            assert!(
                Instant::now() < deadline,
                "the page never showed {expected:?} within {READY_TIMEOUT:?}; last: {last}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs a script (`async`: it calls its last argument with the result).
    async fn execute(&self, script: &str, asynchronous: bool) -> Value {
        let path = if asynchronous {
            "execute/async"
        } else {
            "execute/sync"
        };
        self.cmd(Method::POST, path, json!({ "script": script, "args": [] }))
            .await
    }

    /// The DevTools events logged since the last call (chromedriver's "performance" log, which
    /// the session must have asked for), as `{method, params}` objects.
    async fn performance_log(&self) -> Vec<Value> {
        let entries = self
            .cmd(Method::POST, "se/log", json!({ "type": "performance" }))
            .await;
        entries
            .as_array()
            .expect("the log is an array")
            .iter()
            .map(|entry| {
                let message = entry["message"].as_str().expect("a log message");
                let message: Value = serde_json::from_str(message).expect("a JSON log message");
                message["message"].clone()
            })
            .collect()
    }

    /// Polls (bounded) the performance log for a `method` event whose params satisfy `pick`:
    /// DevTools events may trail the page load a little.
    async fn wait_for_network_event(&self, method: &str, pick: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(event) = self
                .performance_log()
                .await
                .into_iter()
                .find(|event| event["method"] == json!(method) && pick(&event["params"]))
            {
                return event["params"].clone();
            }
            assert!(
                Instant::now() < deadline,
                "no such {method} event within {READY_TIMEOUT:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The browser's cookies for the current page (HttpOnly ones included).
    async fn cookies(&self) -> Vec<Value> {
        let cookies = self.cmd(Method::GET, "cookie", Value::Null).await;
        cookies
            .as_array()
            .expect("the cookie list is an array")
            .clone()
    }

    /// The browser's `__Host-session` cookie for the current page, if any.
    async fn session_cookie(&self) -> Option<Value> {
        self.cookies()
            .await
            .into_iter()
            .find(|cookie| cookie["name"] == json!(COOKIE))
    }

    /// The current page's body text.
    async fn body_text(&self) -> String {
        let body = self.find("body").await;
        let text = self
            .cmd(Method::GET, &format!("element/{body}/text"), Value::Null)
            .await;
        text.as_str().expect("the text is a string").to_owned()
    }

    /// `GET path` with the page's `fetch` (the page's cookies ride along): status and body.
    async fn fetch_get(&self, path: &str) -> (u64, String) {
        self.fetch("GET", path).await
    }

    /// `method path` with the page's `fetch` (same-origin: the page's cookies ride along, and
    /// the browser applies the response's `Set-Cookie` lines): status and body.
    async fn fetch(&self, method: &str, path: &str) -> (u64, String) {
        let script = format!(
            "const done = arguments[arguments.length - 1];\
             fetch({path}, {{ method: {method} }})\
               .then(r => r.text().then(body => done([r.status, body])))\
               .catch(e => done(['error', String(e)]));",
            path = json!(path),
            method = json!(method)
        );
        let answer = self.execute(&script, true).await;
        let status = answer[0]
            .as_u64()
            .unwrap_or_else(|| panic!("fetch {method} {path} failed: {answer}"));
        let body = answer[1].as_str().expect("a text body").to_owned();
        (status, body)
    }

    /// Logs `name` in through the form at `{origin}/login`, ticking "remember me" or not.
    async fn log_in(&self, origin: &str, name: &str, remember: bool) {
        self.navigate(&format!("{origin}/login")).await;
        let username = self.find("#username").await;
        self.cmd(
            Method::POST,
            &format!("element/{username}/value"),
            json!({ "text": name }),
        )
        .await;
        let checkbox = self.find("#remember").await;
        if remember {
            self.cmd(
                Method::POST,
                &format!("element/{checkbox}/click"),
                json!({}),
            )
            .await;
        }
        let ticked = self
            .cmd(
                Method::GET,
                &format!("element/{checkbox}/selected"),
                Value::Null,
            )
            .await;
        assert_eq!(ticked, json!(remember), "the remember box's state");
        let submit = self.find("#submit").await;
        self.cmd(Method::POST, &format!("element/{submit}/click"), json!({}))
            .await;
        self.wait_for_body(&format!("hello {name}")).await;
    }
}
