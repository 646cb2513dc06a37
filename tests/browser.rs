//! Real browsers against `examples/axum_app` and `examples/actix_app` (the same HTTP
//! contract) and against apps served by the tests themselves, in three engines, one module
//! each, driven through the W3C WebDriver protocol with a minimal client over hyper:
//!
//! | module | engine | driver | needs (Debian) |
//! |---|---|---|---|
//! | `chromium::` | Blink (headless Chromium) | chromedriver | `apt-get install -y chromium chromium-driver` |
//! | `firefox::` | Gecko (headless Firefox ESR) | geckodriver | `apt-get install -y firefox-esr`, `cargo install geckodriver` |
//! | `webkit::` | WebKit (WebKitGTK's MiniBrowser, Safari's engine) | WebKitWebDriver | `apt-get install -y webkit2gtk-driver xvfb` |
//!
//! MiniBrowser has no headless mode: without `DISPLAY` the `webkit` tests start their own
//! `Xvfb`. The example binaries are built beforehand (`cargo test` builds them too):
//!
//! ```text
//! cargo build --all-features --example axum_app --example actix_app
//! cargo test --all-features --test browser            # all three engines
//! cargo test --all-features --test browser webkit::   # one
//! ```
//!
//! Without an engine its tests are skipped with a loud message on a developer's machine, so
//! the README's `cargo test --all-features` works on a fresh clone; under CI (`CI` set, as
//! `.ci/run` is run) or with `SEALED_SESSION_REQUIRE_BROWSER=1` a missing engine fails them.
//!
//! The scenarios, in every engine: visits, the login flow, the cookie's attributes (HttpOnly)
//! and logout (`Max-Age=0`); "remember me" surviving a browser restart on the same profile
//! while a plain login does not; flash messages shown once; SECURITY-TESTS F1 (cookie tossing
//! from a sibling subdomain) against the `__Host-` cookie name; a session chunked across three
//! cookies round-tripping and shrinking back to one; and the cookie rules the crate relies on
//! (`Secure` on loopback and on a plain-http host, `SameSite=Lax` on a cross-site top-level
//! POST and its redirect, `Partitioned`). The README's "Browser support" table is made of
//! their results.
//!
//! Where WebKit differs: it refuses every `Secure` cookie over plain http, loopback included
//! (Chromium and Firefox keep them on `127.0.0.1` and `localhost`), so its tests run the apps
//! with `insecure_http` (cookie `session`, no `Secure`, no `__Host-` prefix), as a developer
//! on Safari must; and MiniBrowser's automation mode keeps cookies in memory only, so a
//! restart starts from an empty jar (the restart tests check that instead).
//!
//! Each test has its own app, driver and profile directories; they take turns (one browser
//! at a time, across the three modules), so that a slow machine does not make them race.
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
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sealed_session::{Algorithm, Key, SessionConfig, SessionConfigBuilder};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const FIREFOX: &str = "/usr/bin/firefox-esr";
/// Looked up on `PATH`, then in Cargo's bin directory (`cargo install geckodriver`).
const GECKODRIVER: &str = "geckodriver";
const WEBKIT_DRIVER: &str = "/usr/bin/WebKitWebDriver";
const MINIBROWSER: &str = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
const XVFB: &str = "/usr/bin/Xvfb";
const REQUIRE_VAR: &str = "SEALED_SESSION_REQUIRE_BROWSER";
/// The session cookie's name with the defaults (`Secure`).
const SECURE_COOKIE: &str = "__Host-session";
/// Its name with `insecure_http` (WebKit over plain http).
const INSECURE_COOKIE: &str = "session";
/// The W3C WebDriver key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// The bound on any single WebDriver command (page loads and browser starts included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// The bound on a process becoming ready (or exiting), and on a page showing the expected text.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);
/// The persistent ("remember me") lifetime of `examples/axum_app`.
const REMEMBER: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// One browser at a time: the tests of this file take turns (a tokio mutex, as the holder
/// awaits; it works across the tests' runtimes and is not poisoned by a failed test).
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The scenarios every engine runs, against `examples/axum_app` or a test's own app.
macro_rules! every_engine {
    ($engine:expr) => {
        use super::*;

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn browser_login_flow_against_axum_app() {
            browser_login_flow_on($engine, Example::Axum).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn browser_flash_is_shown_once() {
            browser_flash_is_shown_once_on($engine, Example::Axum).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn browser_host_prefix_defeats_cookie_tossing() {
            browser_host_prefix_defeats_cookie_tossing_on($engine, Example::Axum).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn browser_three_chunk_session_round_trips_and_shrinks() {
            browser_three_chunk_session_round_trips_and_shrinks_on($engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn browser_secure_cookies_on_loopback_and_on_an_http_host() {
            browser_secure_cookies_on_loopback_and_on_an_http_host_on($engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn browser_same_site_lax_on_a_cross_site_post_and_its_redirect() {
            browser_same_site_lax_on_a_cross_site_post_and_its_redirect_on($engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn browser_partitioned_cookie() {
            browser_partitioned_cookie_on($engine).await;
        }
    };
}

/// The restart scenarios, for the engines whose automation keeps a profile on disk.
macro_rules! restart_tests {
    ($engine:expr) => {
        /// "Remember me" is a persistent cookie: it is written to the profile's cookie store
        /// and comes back when a new browser starts on the same profile.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn browser_remember_me_survives_a_restart() {
            browser_remember_me_survives_a_restart_on($engine, Example::Axum).await;
        }

        /// A plain login is a browser-session cookie (no Max-Age): a new browser on the same
        /// profile does not have it, while a persistent control cookie comes back.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn browser_plain_login_ends_with_the_browser() {
            browser_plain_login_ends_with_the_browser_on($engine, Example::Axum).await;
        }
    };
}

/// Headless Chromium (Blink) through chromedriver; the actix app's runs are here too.
mod chromium {
    every_engine!(Engine::Chromium);
    restart_tests!(Engine::Chromium);

    #[cfg(feature = "__actix-tests")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn browser_login_flow_against_actix_app() {
        browser_login_flow_on(Engine::Chromium, Example::Actix).await;
    }

    #[cfg(feature = "__actix-tests")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn browser_remember_me_survives_a_restart_against_actix_app() {
        browser_remember_me_survives_a_restart_on(Engine::Chromium, Example::Actix).await;
    }

    #[cfg(feature = "__actix-tests")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn browser_plain_login_ends_with_the_browser_against_actix_app() {
        browser_plain_login_ends_with_the_browser_on(Engine::Chromium, Example::Actix).await;
    }

    #[cfg(feature = "__actix-tests")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn browser_flash_is_shown_once_against_actix_app() {
        browser_flash_is_shown_once_on(Engine::Chromium, Example::Actix).await;
    }

    #[cfg(feature = "__actix-tests")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn browser_host_prefix_defeats_cookie_tossing_against_actix_app() {
        browser_host_prefix_defeats_cookie_tossing_on(Engine::Chromium, Example::Actix).await;
    }

    #[cfg(feature = "test-util")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn browser_starts_logged_in_from_the_test_kit() {
        browser_starts_logged_in_from_the_test_kit_on(Engine::Chromium).await;
    }
}

/// Headless Firefox ESR (Gecko) through geckodriver.
mod firefox {
    every_engine!(Engine::Firefox);
    restart_tests!(Engine::Firefox);

    #[cfg(feature = "test-util")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn browser_starts_logged_in_from_the_test_kit() {
        browser_starts_logged_in_from_the_test_kit_on(Engine::Firefox).await;
    }
}

/// WebKitGTK's MiniBrowser (WebKit) through WebKitWebDriver, on Xvfb when there is no display.
mod webkit {
    every_engine!(Engine::WebKit);

    /// What replaces the restart tests here: MiniBrowser in automation mode (the only mode
    /// WebKitWebDriver drives) keeps its cookies in memory, whatever `--cookies-file` says, so
    /// a new browser starts with an empty jar: a remembered login has a 30-day expiry, but
    /// neither it nor a persistent control cookie outlives the browser.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn browser_restart_starts_from_an_empty_jar() {
        browser_restart_starts_from_an_empty_jar_on(Engine::WebKit, Example::Axum).await;
    }
}

/// A browser engine and how to drive it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    Chromium,
    Firefox,
    WebKit,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Self::Chromium => "Chromium",
            Self::Firefox => "Firefox",
            Self::WebKit => "WebKit",
        }
    }

    /// Whether the engine keeps a `Secure` cookie set over plain http on 127.0.0.1 (measured
    /// by `browser_secure_cookies_on_loopback_and_on_an_http_host`). Where it does not, the
    /// apps run with `insecure_http`, as a developer on that browser must.
    fn secure_on_loopback(self) -> bool {
        self != Self::WebKit
    }

    /// The session cookie's name in this engine's tests.
    fn cookie(self) -> &'static str {
        if self.secure_on_loopback() {
            SECURE_COOKIE
        } else {
            INSECURE_COOKIE
        }
    }

    /// A test app's configuration: `insecure_http` where the engine needs it.
    fn config(self) -> SessionConfigBuilder {
        SessionConfig::builder().insecure_http(!self.secure_on_loopback())
    }

    /// What must be installed (paths, or a name on `PATH`), and how to install it.
    fn requirements(self) -> (Vec<PathBuf>, &'static str) {
        match self {
            Self::Chromium => (
                vec![CHROMIUM.into(), CHROMEDRIVER.into()],
                "apt-get install -y chromium chromium-driver",
            ),
            Self::Firefox => (
                vec![
                    FIREFOX.into(),
                    find_program(GECKODRIVER).unwrap_or_else(|| GECKODRIVER.into()),
                ],
                "apt-get install -y firefox-esr; cargo install geckodriver",
            ),
            Self::WebKit => {
                let mut needed = vec![PathBuf::from(WEBKIT_DRIVER), PathBuf::from(MINIBROWSER)];
                if std::env::var_os("DISPLAY").is_none() {
                    needed.push(XVFB.into());
                }
                (needed, "apt-get install -y webkit2gtk-driver xvfb")
            }
        }
    }

    /// The driver's command line, listening on `port`.
    fn driver(self, port: u16) -> Command {
        match self {
            Self::Chromium => {
                let mut command = Command::new(CHROMEDRIVER);
                command.arg(format!("--port={port}"));
                command
            }
            Self::Firefox => {
                let mut command =
                    Command::new(find_program(GECKODRIVER).unwrap_or_else(|| GECKODRIVER.into()));
                command.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
                command
            }
            Self::WebKit => {
                let mut command = Command::new(WEBKIT_DRIVER);
                command.arg(format!("--port={port}"));
                command
            }
        }
    }
}

/// `name` on `PATH`, or in Cargo's bin directory (`$CARGO_HOME/bin`, `~/.cargo/bin`).
fn find_program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo").join("bin"));
    }
    dirs.into_iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

async fn browser_login_flow_on(engine: Engine, example: Example) {
    let Some(mut h) = Harness::start(engine, "login flow", example).await else {
        return;
    };
    h.open_browser("profile", Options::default()).await;
    let wd = &h.wd;
    let cookie_name = engine.cookie();
    let started = Instant::now();

    // 127.0.0.1 over plain http: Chromium and Firefox count loopback as a potentially
    // trustworthy origin and keep the `Secure` `__Host-` cookie; WebKit's app runs with
    // `insecure_http` (checked below via the cookie store).
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
        !script_cookies.contains(cookie_name),
        "document.cookie reveals the HttpOnly session cookie: {script_cookies:?}"
    );
    // ...but the browser holds it, with the attributes the crate sets.
    let cookie = wd.session_cookie().await.unwrap_or_else(|| {
        panic!("the browser holds no {cookie_name} cookie after login (Secure refused on http?)")
    });
    assert_eq!(cookie["httpOnly"], json!(true), "{cookie}");
    assert_eq!(
        cookie["secure"],
        json!(engine.secure_on_loopback()),
        "{cookie}"
    );
    assert_eq!(cookie["sameSite"], json!("Lax"), "{cookie}");
    assert_eq!(cookie["path"], json!("/"), "{cookie}");
    let value = cookie["value"].as_str().expect("cookie value is a string");
    assert!(!value.is_empty(), "{cookie}");
    assert!(
        !value.contains(name),
        "the user name shows in the cookie: {cookie}"
    );

    // Log out with a POST from the page (the session cookie rides along, SameSite=Lax): the
    // response deletes the cookie (`Max-Age=0`).
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
        "the session cookie survived the logout (Max-Age=0)"
    );

    wd.navigate(&format!("{base}/me")).await;
    wd.wait_for_body("not logged in").await;
    let (status, _) = wd.fetch_get("/me").await;
    assert_eq!(status, 401, "GET /me after logout answered {status}");

    // A new session starts from zero.
    wd.navigate(&format!("{base}/")).await;
    wd.wait_for_body("visits: 1").await;

    h.quit_browser().await;
    eprintln!(
        "{}: browser flow passed in {:?}",
        engine.name(),
        started.elapsed()
    );
}

async fn browser_remember_me_survives_a_restart_on(engine: Engine, example: Example) {
    let Some(mut h) = Harness::start(engine, "remember me", example).await else {
        return;
    };
    let started = Instant::now();
    let base = h.base();
    let name = "grace_hopper";
    let cookie_name = engine.cookie();

    h.open_browser("profile", Options::default()).await;
    h.wd.log_in(&base, name, true).await;
    let cookie =
        h.wd.session_cookie()
            .await
            .unwrap_or_else(|| panic!("no {cookie_name} cookie after a remembered login"));
    assert_remembered(&cookie);
    h.wd.navigate(&format!("{base}/me")).await;
    h.wd.wait_for_body(name).await;

    // Quit (the driver closes the browser gracefully, which commits the cookie store) and
    // wait until the process has left the profile cleanly.
    let profile = h.quit_browser().await;
    assert!(
        cookie_store_mentions(engine, &profile, cookie_name),
        "the persistent {cookie_name} cookie never reached the cookie store in {}",
        profile.display()
    );

    h.open_browser("profile", Options::default()).await;
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
        "the restarted browser holds no {cookie_name} cookie"
    );
    h.quit_browser().await;
    eprintln!(
        "{}: remember-me restart passed in {:?}",
        engine.name(),
        started.elapsed()
    );
}

/// Persistent: the cookie carries an expiry (WebDriver: seconds since the epoch), 30 days
/// out. The wall clock only bounds it coarsely (a day either way).
fn assert_remembered(cookie: &Value) {
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
}

/// A plain login is a browser-session cookie (no Max-Age): a new browser on the same profile
/// does not have it. A persistent control cookie set alongside shows that the profile's cookie
/// store itself did come back.
///
/// Measured with Chromium 148: it writes session cookies to `Default/Cookies` too (rows with
/// `is_persistent = 0`) and deletes them when the next browser starts on the profile, unless
/// that browser restores the last session: the "continue where you left off" setting,
/// `--restore-last-session` (with it, this test fails: `/me` answers the name), or crash
/// recovery (a Chromium killed after its cookie store's periodic commit, about 30 s, brings
/// the session cookie back). A fresh profile restores nothing, and `quit_browser` checks that
/// the browser exited cleanly, so neither applies here. Firefox keeps session cookies only
/// with session restore (`browser.startup.page` 3), off in a fresh profile.
async fn browser_plain_login_ends_with_the_browser_on(engine: Engine, example: Example) {
    let Some(mut h) = Harness::start(engine, "plain login", example).await else {
        return;
    };
    let started = Instant::now();
    let base = h.base();
    let name = "alan_turing";
    let cookie_name = engine.cookie();

    h.open_browser("profile", Options::default()).await;
    h.wd.log_in(&base, name, false).await;
    let cookie =
        h.wd.session_cookie()
            .await
            .unwrap_or_else(|| panic!("no {cookie_name} cookie after a plain login"));
    assert!(
        cookie.get("expiry").is_none_or(Value::is_null),
        "a plain login set a persistent cookie: {cookie}"
    );
    h.wd.navigate(&format!("{base}/me")).await;
    h.wd.wait_for_body(name).await;
    h.wd.add_control_cookie().await;

    let profile = h.quit_browser().await;
    assert!(
        cookie_store_mentions(engine, &profile, "control"),
        "the persistent control cookie never reached the cookie store in {}",
        profile.display()
    );

    h.open_browser("profile", Options::default()).await;
    h.wd.navigate(&format!("{base}/me")).await;
    h.wd.wait_for_body("not logged in").await;
    let (status, body) = h.wd.fetch_get("/me").await;
    assert_eq!(
        status, 401,
        "GET /me after the restart answered {status}: {body:?}"
    );
    let cookies = h.wd.cookies().await;
    assert!(
        cookies
            .iter()
            .all(|cookie| cookie["name"] != json!(cookie_name)),
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
    eprintln!(
        "{}: plain-login restart passed in {:?}",
        engine.name(),
        started.elapsed()
    );
}

/// WebKit's stand-in for the restart tests (see `webkit::browser_restart_starts_from_an_empty_jar`).
async fn browser_restart_starts_from_an_empty_jar_on(engine: Engine, example: Example) {
    let Some(mut h) = Harness::start(engine, "restart", example).await else {
        return;
    };
    let base = h.base();
    let name = "grace_hopper";
    let cookie_name = engine.cookie();

    h.open_browser("profile", Options::default()).await;
    h.wd.log_in(&base, name, true).await;
    let cookie =
        h.wd.session_cookie()
            .await
            .unwrap_or_else(|| panic!("no {cookie_name} cookie after a remembered login"));
    assert_remembered(&cookie);
    h.wd.add_control_cookie().await;
    h.quit_browser().await;

    h.open_browser("profile", Options::default()).await;
    h.wd.navigate(&format!("{base}/me")).await;
    h.wd.wait_for_body("not logged in").await;
    let cookies = h.wd.cookies().await;
    assert!(
        cookies.is_empty(),
        "{}'s automation mode kept cookies across a restart (the restart tests can run \
         here now): {cookies:?}",
        engine.name()
    );
    h.quit_browser().await;
    eprintln!(
        "{}: a restarted browser starts from an empty jar (automation mode is ephemeral)",
        engine.name()
    );
}

/// Login sets the flash message `welcome NAME`: `/flash` shows it once (other requests in
/// between do not consume it), then answers an empty body.
async fn browser_flash_is_shown_once_on(engine: Engine, example: Example) {
    let Some(mut h) = Harness::start(engine, "flash", example).await else {
        return;
    };
    let started = Instant::now();
    let base = h.base();
    let name = "barbara_liskov";

    h.open_browser("profile", Options::default()).await;
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
    eprintln!("{}: flash passed in {:?}", engine.name(), started.elapsed());
}

/// SECURITY-TESTS F1 in a real browser, for the default cookie name: a sibling subdomain cannot
/// toss a `__Host-` cookie at the app, because the browser refuses a `__Host-` cookie that has
/// a `Domain` (or a `Path` other than `/`), and one it sets without a `Domain` is bound to the
/// attacker's own host. A non-prefixed cookie with a `Domain` does reach the app (the control:
/// the tossing channel is open); the attacker's authentic session value does not.
///
/// The hosts are `app.example.localhost` (the app) and `evil.example.localhost` (an attacker
/// server in this test), on 127.0.0.1: Chromium maps them with `--host-resolver-rules`;
/// Firefox and WebKit (GLib's resolver) resolve every `*.localhost` name to loopback
/// themselves. Why `.localhost` and not, say, `.test`: over plain http only loopback hosts
/// (`localhost`, `*.localhost`, 127.0.0.1) may hold `__Host-` cookies in Chromium. For
/// `http://app.example.test`, even with `--unsafely-treat-insecure-origin-as-secure` making it
/// a secure context (and letting it set plain `Secure` cookies), Chromium 148 refuses every
/// `__Host-` cookie, the app's own host-only one included, as `InvalidPrefix` (its prefix
/// check wants a cryptographic scheme or a localhost URL), so the victim could never log in;
/// and this crate's tests have no TLS. `*.localhost` names are sibling subdomains of
/// `example.localhost` to the cookie rules (`Domain=example.localhost` is accepted), and
/// trustworthy like 127.0.0.1.
///
/// Cookies ignore ports: the attacker server, reached as `app.example.localhost:ITS_PORT`,
/// echoes the Cookie header that the browser sends to the app's host. In Chromium, the
/// browser's network log (chromedriver's performance log) shows why each tossed cookie was
/// refused.
///
/// WebKit refuses every `Secure` cookie over plain http, so no `__Host-` cookie exists there
/// (the app's own included) and its app runs with `insecure_http` (cookie `session`): a
/// tossed `session` cookie does reach the app, and the crate answers the two authentic
/// cookies it then gets as ambiguous (F1: no session, `GET /me` is 401): the victim is logged
/// out, never logged in as the attacker. Over https WebKit's prefix rules apply (not tested
/// here: no TLS); `insecure_http` is for development only.
async fn browser_host_prefix_defeats_cookie_tossing_on(engine: Engine, example: Example) {
    let Some(mut h) = Harness::start(engine, "cookie tossing (F1)", example).await else {
        return;
    };
    let started = Instant::now();
    let cookie_name = engine.cookie();

    // The attacker's own, authentic session (logged in as `mallory` from another client).
    let mallory = h.attacker_session("mallory").await;
    let tossed = tossed_cookies(engine, &mallory);
    let evil_port = start_attacker_server(
        tossed.iter().map(|(line, _)| line.clone()).collect(),
        format!(
            "document.cookie = '{SECURE_COOKIE}={mallory}; Domain={PARENT}; Path=/; Secure';\
             document.cookie = '{SECURE_COOKIE}={mallory}; Domain={PARENT}; Path=/me; Secure';"
        ),
    )
    .await;
    let app = format!("http://app.{PARENT}:{}", h.app_port);
    let evil = format!("http://evil.{PARENT}:{evil_port}");
    let echo = format!("http://app.{PARENT}:{evil_port}");
    h.open_browser(
        "profile",
        Options {
            network_log: true,
            example_hosts: true,
        },
    )
    .await;
    let wd = &h.wd;

    let name = "ada_lovelace";
    wd.log_in(&app, name, false).await;
    let before = wd
        .session_cookie()
        .await
        .unwrap_or_else(|| panic!("no {cookie_name} cookie at {app}"));
    assert_eq!(
        before["domain"].as_str().map(|d| d.trim_start_matches('.')),
        Some(format!("app.{PARENT}").as_str()),
        "{before}"
    );
    let victim = before["value"]
        .as_str()
        .expect("cookie value is a string")
        .to_owned();
    assert_ne!(victim, mallory);

    // The attacker page: Set-Cookie headers (tossed_cookies) and document.cookie writes.
    if engine == Engine::Chromium {
        wd.performance_log().await; // drop what came before
    }
    wd.navigate(&format!("{evil}/")).await;
    wd.wait_for_body("attacker page").await;
    if engine == Engine::Chromium {
        // Chromium's verdict on each Set-Cookie line of that response.
        let extra_info = wd
            .wait_for_network_event("Network.responseReceivedExtraInfo", |params| {
                params["headers"].as_object().is_some_and(|headers| {
                    headers.values().any(|v| v.to_string().contains("planted="))
                })
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
    }
    let evil_cookies = wd.cookies().await;
    // What the browser did accept from the attacker: the control cookie for the whole domain,
    // and a `__Host-` cookie only for the attacker's own host (WebKit: none, and the tossed
    // insecure-name cookie for the whole domain).
    let planted = named(&evil_cookies, "planted");
    assert_eq!(planted.len(), 1, "{evil_cookies:?}");
    assert_eq!(
        planted[0]["domain"],
        json!(format!(".{PARENT}")),
        "{evil_cookies:?}"
    );
    let own = named(&evil_cookies, SECURE_COOKIE);
    let mut accepted: Vec<&String> = tossed
        .iter()
        .filter(|(_, refused)| !refused)
        .map(|(line, _)| line)
        .collect();
    accepted.retain(|line| !line.starts_with("planted="));
    if engine.secure_on_loopback() {
        assert_eq!(own.len(), 1, "{evil_cookies:?}");
        assert_eq!(
            own[0]["domain"].as_str().map(|d| d.trim_start_matches('.')),
            Some(format!("evil.{PARENT}").as_str()),
            "{evil_cookies:?}"
        );
    } else {
        assert!(
            own.is_empty(),
            "{} kept a `Secure` {SECURE_COOKIE} cookie over http: {evil_cookies:?}",
            engine.name()
        );
        let insecure = named(&evil_cookies, INSECURE_COOKIE);
        assert_eq!(insecure.len(), 1, "{evil_cookies:?}");
        assert_eq!(
            insecure[0]["domain"],
            json!(format!(".{PARENT}")),
            "{evil_cookies:?}"
        );
    }
    assert!(
        evil_cookies.len() == 1 + accepted.len(),
        "the browser kept more of the attacker's cookies than expected ({accepted:?} and \
         `planted`): {evil_cookies:?}"
    );

    // What the browser actually sends to the app's host.
    wd.navigate(&format!("{echo}/echo")).await;
    let header = wd.body_text().await;
    let pairs: Vec<(&str, &str)> = header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .collect();
    assert!(
        pairs.contains(&("planted", "tossed")),
        "the control cookie (Domain={PARENT}) did not reach the app's host, so the attack \
         was never possible: {header:?}"
    );
    let sessions: Vec<&str> = pairs
        .iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case(cookie_name))
        .map(|(_, value)| *value)
        .collect();

    if engine.secure_on_loopback() {
        assert_eq!(
            sessions,
            vec![victim.as_str()],
            "Cookie header sent to app.{PARENT}: {header:?}"
        );
        assert!(
            !header.contains(&mallory),
            "the attacker's session value reached the app's host: {header:?}"
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
        let held = named(&app_cookies, cookie_name);
        assert_eq!(held.len(), 1, "{app_cookies:?}");
        assert_eq!(
            held[0]["value"],
            json!(victim),
            "the victim's cookie changed"
        );
    } else {
        // The insecure name is tossable: both sessions reach the app, which takes neither.
        let mut sorted = sessions.clone();
        sorted.sort_unstable();
        let mut expected = vec![victim.as_str(), mallory.as_str()];
        expected.sort_unstable();
        assert_eq!(
            sorted, expected,
            "Cookie header sent to app.{PARENT}: {header:?}"
        );
        wd.navigate(&format!("{app}/me")).await;
        wd.wait_for_body("not logged in").await;
        let (status, body) = wd.fetch_get("/me").await;
        assert_eq!(
            status, 401,
            "GET /me with the victim's and the attacker's cookies: {body:?}"
        );
    }

    h.quit_browser().await;
    eprintln!(
        "{}: cookie tossing (F1) passed in {:?}",
        engine.name(),
        started.elapsed()
    );
}

/// The registrable domain of the F1 test's hosts (see its comment for why `.localhost`).
const PARENT: &str = "example.localhost";

/// The attacker's Set-Cookie lines, each with whether the engine must refuse it. The value is
/// the attacker's authentic session cookie.
fn tossed_cookies(engine: Engine, value: &str) -> Vec<(String, bool)> {
    let secure = engine.secure_on_loopback();
    let mut lines = vec![
        // Refused: a `__Host-` cookie must not have a Domain...
        (
            format!(
                "{SECURE_COOKIE}={value}; Domain={PARENT}; Path=/; Secure; HttpOnly; SameSite=Lax"
            ),
            true,
        ),
        (
            format!("{SECURE_COOKIE}={value}; Domain=.{PARENT}; Path=/; Secure"),
            true,
        ),
        // ...nor a Path other than `/` (longer paths are sent first: RFC 6265 §5.4).
        (
            format!("{SECURE_COOKIE}={value}; Domain={PARENT}; Path=/me; Secure"),
            true,
        ),
        (format!("{SECURE_COOKIE}={value}; Path=/me; Secure"), true),
        // Look-alikes: the prefix is matched case-insensitively, and a nameless cookie may
        // not look like a prefixed one.
        (
            format!("__host-session={value}; Domain={PARENT}; Path=/; Secure"),
            true,
        ),
        (
            format!("={SECURE_COOKIE}={value}; Domain={PARENT}; Path=/; Secure"),
            true,
        ),
        // Accepted, but host-only: it stays with evil.example.localhost (refused where
        // `Secure` is, over http).
        (
            format!("{SECURE_COOKIE}={value}; Path=/; Secure; HttpOnly"),
            !secure,
        ),
        // The control: a plain cookie for the whole domain, which the browser keeps and sends
        // to the app.
        (format!("planted=tossed; Domain={PARENT}; Path=/"), false),
    ];
    if !secure {
        // Where the app runs with `insecure_http`: its unprefixed name, for the whole domain.
        lines.push((
            format!("{INSECURE_COOKIE}={value}; Domain={PARENT}; Path=/; HttpOnly"),
            false,
        ));
    }
    lines
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

/// Blob bytes that need all three chunks (about 2.9 KiB of blob fit in one 4 KiB cookie).
const THREE_CHUNKS: usize = 8500;
/// What `/shrink` leaves in the blob.
const SHRUNK: &str = "small";

/// The chunked session's cookie names, in order (`__Host-session`, `__Host-session.1`, ...).
fn chunk_names(engine: Engine) -> [String; 3] {
    let name = engine.cookie();
    [name.to_owned(), format!("{name}.1"), format!("{name}.2")]
}

/// Chunking in a real browser: a session too large for one cookie is split across
/// `__Host-session`, `__Host-session.1` and `__Host-session.2` (`max_chunks(3)`); the browser
/// keeps all three (each under its 4096-byte limit, the `__Host-` prefix on each), sends all
/// three back and the server joins them into exactly the blob it sealed. When the session
/// shrinks to one cookie, the same response deletes the other two (`Max-Age=0`), so the jar
/// holds only `__Host-session` and the browser stops sending the chunks.
///
/// The app is served by this test (`start_chunk_server`) on 127.0.0.1, a loopback origin
/// where Chromium and Firefox accept `__Host-` cookies over plain http (WebKit: `session`,
/// `session.1`, `session.2` with `insecure_http`). The server records the `Set-Cookie` lines
/// it sends; in Chromium the network log also shows that none was refused.
async fn browser_three_chunk_session_round_trips_and_shrinks_on(engine: Engine) {
    let Some(mut h) = Harness::start_without_app(engine, "three chunks").await else {
        return;
    };
    let started = Instant::now();
    let names = chunk_names(engine);
    let (port, sent_lines) = start_chunk_server(engine).await;
    let base = format!("http://127.0.0.1:{port}");
    h.open_browser(
        "profile",
        Options {
            network_log: true,
            ..Options::default()
        },
    )
    .await;
    let wd = &h.wd;

    wd.navigate(&format!("{base}/")).await;
    wd.wait_for_body("chunk app").await;
    assert!(
        session_cookies(engine, &wd.cookies().await).is_empty(),
        "a session cookie before the session was touched"
    );

    // Grow: the server answers what it sealed; the test knows what that must be.
    let grown = summary(&noise(0, THREE_CHUNKS));
    if engine == Engine::Chromium {
        wd.performance_log().await; // drop what came before
    }
    let (status, body) = wd.fetch("POST", &format!("/grow?n={THREE_CHUNKS}")).await;
    assert_eq!((status, body.as_str()), (200, grown.as_str()), "POST /grow");
    let lines = take_lines(&sent_lines);
    if engine == Engine::Chromium {
        let blocked = blocked_set_cookie_lines(wd).await;
        assert!(blocked.is_empty(), "Chromium refused chunks: {blocked:?}");
    }
    assert_eq!(
        lines.iter().map(|line| line_name(line)).collect::<Vec<_>>(),
        names,
        "the grow response's Set-Cookie lines: {lines:?}"
    );

    let jar = session_cookies(engine, &wd.cookies().await);
    assert_eq!(
        jar.iter()
            .map(|cookie| cookie["name"].clone())
            .collect::<Vec<_>>(),
        names.clone().map(|name| json!(name)),
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
        // Browsers' limit is on name and value together (4096 bytes).
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
    assert_eq!(
        jar[0]["secure"],
        json!(engine.secure_on_loopback()),
        "{jar:?}"
    );
    assert_eq!(jar[0]["httpOnly"], json!(true), "{jar:?}");
    assert_eq!(jar[0]["domain"], json!("127.0.0.1"), "{jar:?}");
    let sizes: Vec<usize> = chunk_values.iter().map(String::len).collect();

    // The browser sends all three back (the echo route is outside the session layer)...
    let (status, header) = wd.fetch_get("/echo").await;
    assert_eq!(status, 200, "GET /echo: {header:?}");
    let sent = session_pairs(engine, &header);
    assert_eq!(
        sent,
        names
            .iter()
            .zip(&chunk_values)
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect::<Vec<_>>(),
        "the session pairs of the Cookie header after growing (header of {} bytes)",
        header.len()
    );
    // ...and the server joins them into exactly the blob it sealed.
    wd.navigate(&format!("{base}/len")).await;
    wd.wait_for_body(&grown).await;

    // Shrink: one cookie again, the other two deleted on the same response.
    let shrunk = summary(SHRUNK);
    if engine == Engine::Chromium {
        wd.performance_log().await;
    }
    take_lines(&sent_lines);
    let (status, body) = wd.fetch("POST", "/shrink").await;
    assert_eq!(
        (status, body.as_str()),
        (200, shrunk.as_str()),
        "POST /shrink"
    );
    let jar = session_cookies(engine, &wd.cookies().await);
    assert_eq!(
        jar.iter()
            .map(|cookie| cookie["name"].clone())
            .collect::<Vec<_>>(),
        [json!(engine.cookie())],
        "the browser's session cookies after shrinking: {jar:?}"
    );
    assert_ne!(jar[0]["value"], json!(chunk_values[0]), "{jar:?}");
    let lines = take_lines(&sent_lines);
    if engine == Engine::Chromium {
        let blocked = blocked_set_cookie_lines(wd).await;
        assert!(blocked.is_empty(), "Chromium refused a line: {blocked:?}");
    }
    assert_eq!(
        lines.iter().map(|line| line_name(line)).collect::<Vec<_>>(),
        names,
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
        session_pairs(engine, &header),
        [(engine.cookie().to_owned(), value.to_owned())],
        "the Cookie header after shrinking: {header:?}"
    );
    assert!(
        !header.contains(&format!("{}.", engine.cookie())),
        "the Cookie header after shrinking names a chunk: {header:?}"
    );
    wd.navigate(&format!("{base}/len")).await;
    wd.wait_for_body(&shrunk).await;

    h.quit_browser().await;
    eprintln!(
        "{}: three chunks passed in {:?} (chunk values of {sizes:?} bytes)",
        engine.name(),
        started.elapsed()
    );
}

/// The test kit's `browser_cookie` (feature `test-util`): a browser given the cookie through
/// WebDriver's "add cookie" starts logged in, without a login form. The app is served by this
/// test on 127.0.0.1 (a loopback origin, where Chromium and Firefox keep the `Secure`
/// `__Host-` cookie over plain http), on the system clock, as a real deployment.
#[cfg(feature = "test-util")]
async fn browser_starts_logged_in_from_the_test_kit_on(engine: Engine) {
    use axum::routing::get;
    use sealed_session::testing::TestSessions;
    use sealed_session::{KeyRing, Session, SessionLayer};

    #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
    struct Who {
        user: Option<String>,
    }
    async fn who(session: Session<Who>) -> String {
        format!("who: {}", session.get().user.as_deref().unwrap_or("nobody"))
    }

    let Some(mut h) = Harness::start_without_app(engine, "starts logged in").await else {
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

    h.open_browser("profile", Options::default()).await;
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
    let held = wd.session_cookie().await.unwrap_or_else(|| {
        panic!(
            "{} did not keep the added {SECURE_COOKIE} cookie",
            engine.name()
        )
    });
    assert_eq!(held["httpOnly"], json!(true), "{held}");
    assert_eq!(held["secure"], json!(true), "{held}");
    wd.navigate(&format!("{base}/")).await;
    wd.wait_for_body("who: ann").await;
    h.quit_browser().await;
}

/// The session of the chunking test: one blob.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct BlobSession {
    blob: String,
}

/// The `Set-Cookie` lines a test server sent, in order, since the last `take_lines`.
type SentLines = Arc<Mutex<Vec<String>>>;

fn take_lines(lines: &SentLines) -> Vec<String> {
    std::mem::take(
        &mut *lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// A tower layer recording every `Set-Cookie` line of the responses it sees.
fn record_set_cookie(
    lines: SentLines,
) -> tower::util::MapResponseLayer<
    impl Fn(axum::response::Response) -> axum::response::Response + Clone,
> {
    tower::util::MapResponseLayer::new(move |response: axum::response::Response| {
        let mut lines = lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lines.extend(
            response
                .headers()
                .get_all(http::header::SET_COOKIE)
                .iter()
                .map(|line| String::from_utf8_lossy(line.as_bytes()).into_owned()),
        );
        response
    })
}

/// The chunking test's app: `POST /grow?n=N` appends `noise` to the blob, `GET /len` and
/// `POST /shrink` (which sets it to `SHRUNK`) answer its `summary`; `GET /echo`, outside the
/// session layer, answers the request's Cookie header. `max_chunks(3)`, a 12 KiB header
/// budget. It runs on this test's runtime until the test ends; the `Set-Cookie` lines it sends
/// are recorded.
async fn start_chunk_server(engine: Engine) -> (u16, SentLines) {
    use axum::http::{HeaderMap, Uri, header};
    use axum::response::{Html, IntoResponse, Response};
    use axum::routing::{get, post};
    use sealed_session::{KeyRing, Session, SessionLayer};

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

    let config = engine
        .config()
        .max_chunks(3)
        .cookie_header_budget(12 * 1024)
        .build()
        .expect("a valid chunking configuration");
    let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
    let lines = SentLines::default();
    let router = axum::Router::new()
        .route(
            "/",
            get(|| async { Html("<!doctype html><title>chunks</title><body>chunk app</body>") }),
        )
        .route("/grow", post(grow))
        .route("/len", get(len))
        .route("/shrink", post(shrink))
        .layer(SessionLayer::<BlobSession>::new(ring, config))
        .route("/echo", get(echo))
        .layer(record_set_cookie(lines.clone()));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind the chunk server");
    let port = listener.local_addr().expect("local_addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (port, lines)
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
fn is_session_name(engine: Engine, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let session = engine.cookie().to_ascii_lowercase();
    name == session || name.starts_with(&format!("{session}."))
}

/// The session cookies and chunks of a WebDriver cookie list, by name.
fn session_cookies(engine: Engine, cookies: &[Value]) -> Vec<Value> {
    let mut found: Vec<Value> = cookies
        .iter()
        .filter(|cookie| {
            cookie["name"]
                .as_str()
                .is_some_and(|name| is_session_name(engine, name))
        })
        .cloned()
        .collect();
    found.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    found
}

/// The session pairs of a Cookie header, by name.
fn session_pairs(engine: Engine, header: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| is_session_name(engine, name))
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

/// The `Set-Cookie` lines Chromium refused, with its reasons, in the next response that has
/// any (from chromedriver's network log).
async fn blocked_set_cookie_lines(wd: &WebDriver) -> Vec<Value> {
    let params = wd
        .wait_for_network_event("Network.responseReceivedExtraInfo", |params| {
            params["headers"].as_object().is_some_and(|headers| {
                headers
                    .keys()
                    .any(|name| name.eq_ignore_ascii_case("set-cookie"))
            })
        })
        .await;
    params["blockedCookies"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// Whether the profile's cookie store (an SQLite file, names in clear) holds `name`: a
/// stand-in for `sqlite3 Default/Cookies 'select name from cookies'` without a dependency.
fn cookie_store_mentions(engine: Engine, profile: &Path, name: &str) -> bool {
    let files: &[&str] = match engine {
        Engine::Chromium => &["Default/Cookies"],
        // SQLite in WAL mode: a clean exit checkpoints the log into the main file.
        Engine::Firefox => &["cookies.sqlite", "cookies.sqlite-wal"],
        Engine::WebKit => &[],
    };
    files.iter().any(|file| {
        std::fs::read(profile.join(file)).is_ok_and(|bytes| {
            bytes
                .windows(name.len())
                .any(|window| window == name.as_bytes())
        })
    })
}

/// Whether the engine's tests may be skipped here: they may not under CI or when required.
fn browser_missing(engine: Engine, test: &str) -> bool {
    let (needed, install) = engine.requirements();
    let missing: Vec<String> = needed
        .iter()
        .filter(|path| !path.is_file())
        .map(|path| path.display().to_string())
        .collect();
    if missing.is_empty() {
        return false;
    }
    let required = std::env::var_os("CI").is_some_and(|value| !value.is_empty())
        || std::env::var(REQUIRE_VAR).is_ok_and(|value| value == "1");
    let engine = engine.name();
    assert!(
        !required,
        "{engine} browser test ({test}): missing {}; install with `{install}` (Debian)",
        missing.join(", ")
    );
    eprintln!(
        "{engine} browser test ({test}) SKIPPED: missing {} ({install}); it is required under CI",
        missing.join(", ")
    );
    true
}

/// What the cookie-rule tests' app saw of each `POST /post`: its session's user and whether
/// the request carried a Cookie header at all.
type Posts = Arc<Mutex<Vec<(String, bool)>>>;

/// The cookie-rule tests' app, with the crate's session cookie configured by `config`:
/// `GET /login` logs `ann` in (`hello ann`), `GET /who` and `GET /after` answer `who: USER`
/// (`nobody` without a session), `POST /post` records what it saw and answers `303` to
/// `/after`, `GET /start` is a page whose form POSTs to `http://127.0.0.1:PORT/post` at once
/// (served here, but cross-site when reached as `localhost`), `GET /set` sets the plain
/// cookies `sec=1; Secure` and `plain=1`, and `GET /echo` answers the Cookie header. It
/// listens on 127.0.0.1 and, if given, on `lan` too (another port); the `Set-Cookie` lines it
/// sends are recorded.
async fn start_rules_server(
    config: SessionConfig,
    lan: Option<Ipv4Addr>,
) -> (u16, Option<u16>, SentLines, Posts) {
    use axum::http::{HeaderMap, header};
    use axum::response::{AppendHeaders, Html, IntoResponse, Redirect};
    use axum::routing::{get, post};
    use sealed_session::{KeyRing, Session, SessionLayer};

    #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
    struct Who {
        user: Option<String>,
    }
    fn who(session: &Session<Who>) -> String {
        format!("who: {}", session.get().user.as_deref().unwrap_or("nobody"))
    }

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind the app");
    let port = listener.local_addr().expect("local_addr").port();
    let lines = SentLines::default();
    let posts = Posts::default();
    let seen = posts.clone();
    let start = format!(
        "<!doctype html><title>elsewhere</title><body>another site\
         <form method=post action='http://127.0.0.1:{port}/post'>\
         <input name=field value=1></form>\
         <script>document.forms[0].submit()</script></body>"
    );
    let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
    let router = axum::Router::new()
        .route(
            "/login",
            get(|session: Session<Who>| async move {
                match session.set(Who {
                    user: Some("ann".to_owned()),
                }) {
                    Ok(()) => "hello ann".into_response(),
                    Err(error) => error.into_response(),
                }
            }),
        )
        .route(
            "/who",
            get(|session: Session<Who>| async move { who(&session) }),
        )
        .route(
            "/after",
            get(|session: Session<Who>| async move { who(&session) }),
        )
        .route(
            "/post",
            post(move |session: Session<Who>, headers: HeaderMap| {
                let seen = seen.clone();
                async move {
                    seen.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((who(&session), headers.contains_key(header::COOKIE)));
                    Redirect::to("/after")
                }
            }),
        )
        .layer(SessionLayer::<Who>::new(ring, config))
        .route("/start", get(move || async move { Html(start) }))
        .route(
            "/set",
            get(|| async {
                (
                    AppendHeaders([
                        (header::SET_COOKIE, "sec=1; Path=/; Secure; SameSite=Lax"),
                        (header::SET_COOKIE, "plain=1; Path=/; SameSite=Lax"),
                    ]),
                    "set",
                )
            }),
        )
        .route(
            "/echo",
            get(|headers: HeaderMap| async move {
                headers
                    .get_all(header::COOKIE)
                    .iter()
                    .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
        )
        .layer(record_set_cookie(lines.clone()));
    let mut lan_port = None;
    if let Some(lan) = lan {
        let lan_listener = tokio::net::TcpListener::bind((lan, 0))
            .await
            .expect("bind the app on the LAN address");
        lan_port = Some(lan_listener.local_addr().expect("local_addr").port());
        let router = router.clone();
        tokio::spawn(async move {
            let _ = axum::serve(lan_listener, router).await;
        });
    }
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (port, lan_port, lines, posts)
}

/// This machine's address on its default route (no packet is sent: a UDP `connect` only picks
/// the source address), if it has one: a plain-http host that is not loopback.
fn lan_address() -> Option<Ipv4Addr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    match socket.local_addr().ok()?.ip() {
        IpAddr::V4(address) if !address.is_loopback() && !address.is_unspecified() => Some(address),
        _ => None,
    }
}

/// `Secure` over plain http: the crate's default cookie (`__Host-session`, `Secure`) and a
/// plain `Secure` cookie, set by a response from `http://127.0.0.1`, `http://localhost` and
/// `http://<this machine's LAN address>`, with a non-`Secure` control cookie that every engine
/// keeps. Measured:
///
/// | origin | Chromium | Firefox | WebKit |
/// |---|---|---|---|
/// | `http://127.0.0.1`, `http://localhost` | kept | kept | refused |
/// | `http://<LAN address>` | refused | refused | refused |
///
/// What the crate does about it: nothing can make a `Secure` cookie stick over plain http on a
/// real host (use https); for development on WebKit (Safari), `insecure_http(true)` drops
/// `Secure` and the prefix, and the F11 warning names the symptom (cookies set, never sent
/// back).
async fn browser_secure_cookies_on_loopback_and_on_an_http_host_on(engine: Engine) {
    let Some(mut h) = Harness::start_without_app(engine, "Secure over http").await else {
        return;
    };
    let lan = lan_address();
    let (port, lan_port, _, _) = start_rules_server(SessionConfig::default(), lan).await;
    h.open_browser("profile", Options::default()).await;
    let wd = &h.wd;
    let mut origins = vec![
        (format!("http://127.0.0.1:{port}"), true),
        (format!("http://localhost:{port}"), true),
    ];
    match (lan, lan_port) {
        (Some(lan), Some(lan_port)) => origins.push((format!("http://{lan}:{lan_port}"), false)),
        _ => eprintln!(
            "{}: no LAN address on this machine: `Secure` on a plain-http host is not tested",
            engine.name()
        ),
    }
    for (origin, loopback) in origins {
        wd.navigate(&format!("{origin}/set")).await;
        wd.wait_for_body("set").await;
        wd.navigate(&format!("{origin}/login")).await;
        wd.wait_for_body("hello ann").await;
        wd.navigate(&format!("{origin}/echo")).await;
        let header = wd.body_text().await;
        let sent = |name: &str| {
            header
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .any(|(key, _)| key == name)
        };
        assert!(
            sent("plain"),
            "{origin}: the control cookie was not sent back: {header:?}"
        );
        let kept = engine.secure_on_loopback() && loopback;
        assert_eq!(
            (sent("sec"), sent(SECURE_COOKIE)),
            (kept, kept),
            "{}: `Secure` cookies over {origin}, expected {}: Cookie header {header:?}",
            engine.name(),
            if kept { "kept" } else { "refused" }
        );
        wd.navigate(&format!("{origin}/who")).await;
        wd.wait_for_body(if kept { "who: ann" } else { "who: nobody" })
            .await;
        eprintln!(
            "{}: `Secure` cookies over {origin}: {}",
            engine.name(),
            if kept { "kept" } else { "refused" }
        );
    }
    h.quit_browser().await;
}

/// `SameSite=Lax` on a cross-site top-level POST and the redirect that answers it (an OAuth
/// `form_post` or payment callback, a login form on another site): the page at
/// `http://localhost:PORT/start` (another site than 127.0.0.1) submits a form to
/// `http://127.0.0.1:PORT/post`, which answers `303 /after`. Measured in all three engines:
/// the POST carries no session cookie (the crate gives its handler a fresh empty session and,
/// as the handler changes nothing, sends no `Set-Cookie`: the user's cookie is neither replaced
/// nor deleted), and the redirected top-level GET carries it again (`who: ann`).
async fn browser_same_site_lax_on_a_cross_site_post_and_its_redirect_on(engine: Engine) {
    let Some(mut h) = Harness::start_without_app(engine, "SameSite=Lax POST").await else {
        return;
    };
    let config = engine.config().build().expect("a valid configuration");
    let (port, _, lines, posts) = start_rules_server(config, None).await;
    h.open_browser("profile", Options::default()).await;
    let wd = &h.wd;
    let app = format!("http://127.0.0.1:{port}");
    wd.navigate(&format!("{app}/login")).await;
    wd.wait_for_body("hello ann").await;
    let before = wd
        .session_cookie()
        .await
        .unwrap_or_else(|| panic!("no {} cookie after login", engine.cookie()));
    assert_eq!(before["sameSite"], json!("Lax"), "{before}");
    take_lines(&lines);

    wd.navigate(&format!("http://localhost:{port}/start")).await;
    wd.wait_for_body("who: ann").await;
    let seen = posts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert_eq!(
        seen,
        [("who: nobody".to_owned(), false)],
        "{}: what the cross-site POST carried",
        engine.name()
    );
    let sent = take_lines(&lines);
    assert!(
        sent.iter()
            .all(|line| !is_session_name(engine, line_name(line))),
        "the cookieless POST (or its redirect) wrote the session cookie: {sent:?}"
    );
    wd.navigate(&format!("{app}/who")).await;
    wd.wait_for_body("who: ann").await;
    let after = wd.session_cookie().await.expect("the session cookie");
    assert_eq!(
        after["value"], before["value"],
        "the session cookie changed"
    );
    h.quit_browser().await;
    eprintln!(
        "{}: SameSite=Lax: not sent on the cross-site POST, sent on its redirect",
        engine.name()
    );
}

/// `Partitioned` (CHIPS, `SessionConfigBuilder::partitioned(true)`): a first-party session
/// cookie with the attribute is kept and sent back like one without it (Chromium, Firefox).
/// `Partitioned` requires `Secure`, so where the app must run with `insecure_http` (WebKit
/// over http) the crate refuses the configuration (`ConfigError`), and WebKit refuses the
/// `Secure` cookie anyway.
async fn browser_partitioned_cookie_on(engine: Engine) {
    let config = engine.config().partitioned(true).build();
    if !engine.secure_on_loopback() {
        let Err(error) = config else {
            panic!("Partitioned with insecure_http (no Secure) was accepted");
        };
        eprintln!(
            "{}: `Partitioned` with insecure_http is refused: {error}",
            engine.name()
        );
        return;
    }
    let config = config.expect("a valid partitioned configuration");
    let Some(mut h) = Harness::start_without_app(engine, "Partitioned").await else {
        return;
    };
    let (port, _, lines, _) = start_rules_server(config, None).await;
    h.open_browser("profile", Options::default()).await;
    let wd = &h.wd;
    let app = format!("http://127.0.0.1:{port}");
    wd.navigate(&format!("{app}/login")).await;
    wd.wait_for_body("hello ann").await;
    let sent = take_lines(&lines);
    assert!(
        sent.iter().any(|line| line_name(line) == SECURE_COOKIE
            && line.split(';').any(|part| part.trim() == "Partitioned")),
        "the login response's Set-Cookie lines: {sent:?}"
    );
    let cookie = wd
        .session_cookie()
        .await
        .unwrap_or_else(|| panic!("{} refused the Partitioned cookie", engine.name()));
    wd.navigate(&format!("{app}/who")).await;
    wd.wait_for_body("who: ann").await;
    h.quit_browser().await;
    eprintln!(
        "{}: a first-party Partitioned cookie is kept and sent back: {cookie}",
        engine.name()
    );
}

/// What a browser session needs beyond the defaults.
#[derive(Clone, Copy, Debug, Default)]
struct Options {
    /// Chromium: DevTools events (`Network.*`) in chromedriver's "performance" log. Ignored by
    /// the other engines, whose drivers have no such log.
    network_log: bool,
    /// `*.example.localhost` resolves to 127.0.0.1 (Chromium: `--host-resolver-rules`; Firefox
    /// and WebKit resolve every `*.localhost` name to loopback themselves).
    example_hosts: bool,
}

/// One test's app (`examples/axum_app`, unless the test serves its own), driver and browser
/// sessions.
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
    /// Starts the app and the driver (no browser yet); `None` when the test is skipped.
    async fn start(engine: Engine, test: &str, example: Example) -> Option<Self> {
        Self::start_with(engine, test, Some(example)).await
    }

    /// Starts the driver only, for a test that serves its own app in-process (`base` is then
    /// not available); `None` when the test is skipped.
    async fn start_without_app(engine: Engine, test: &str) -> Option<Self> {
        Self::start_with(engine, test, None).await
    }

    async fn start_with(engine: Engine, test: &str, example: Option<Example>) -> Option<Self> {
        if browser_missing(engine, test) {
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
                .env(
                    "SESSION_INSECURE_HTTP",
                    if engine.secure_on_loopback() {
                        "0"
                    } else {
                        "1"
                    },
                )
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
        let mut driver_command = engine.driver(driver_port);
        driver_command
            .stdin(Stdio::null())
            .stdout(guard.log_file("driver.log"))
            .stderr(guard.log_file("driver.log"));
        if engine == Engine::WebKit && std::env::var_os("DISPLAY").is_none() {
            // MiniBrowser has no headless mode: a virtual display of its own.
            let display = start_xvfb(&mut guard);
            driver_command.env("DISPLAY", display);
        }
        // Its own process group, so that the guard can end the browser with it if all else
        // fails.
        std::os::unix::process::CommandExt::process_group(&mut driver_command, 0);
        let driver = driver_command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start the {} driver: {error}", engine.name()));
        guard.push_child(driver, "driver.log");
        guard.driver_port = Some(driver_port);
        wait_for_port(&mut guard, driver_port, "the WebDriver driver");

        let wd = WebDriver::new(engine, driver_port);
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
    /// it exists).
    async fn open_browser(&mut self, name: &str, options: Options) {
        assert!(self.guard.session.is_none(), "a browser is already open");
        let profile = self.guard.dir.join(name);
        std::fs::create_dir_all(&profile).expect("create the profile directory");
        let session = self.wd.new_session(&profile, options).await;
        self.guard.session = Some(session);
        self.profile = Some(profile);
    }

    /// Ends the browser session and waits until the browser has left the profile cleanly.
    /// Returns the profile directory.
    ///
    /// Chromium: its `SingletonLock` is gone and `Default/Preferences` records
    /// `"exit_type": "Normal"` (it says `Crashed` while Chromium runs or if it was killed).
    /// Chromium commits its cookie store lazily (about every 30 s); a graceful close, which
    /// chromedriver's `DELETE /session/{id}` is, commits it on the way out, so no wait or
    /// navigation is needed. A killed Chromium loses the cookies set since the last commit
    /// (measured: a remembered login killed right away is gone), and the next one runs crash
    /// recovery, which would also bring session cookies back.
    ///
    /// Firefox: geckodriver answers once Firefox has exited, its cookie store written.
    /// WebKit: nothing is kept on disk (automation mode).
    async fn quit_browser(&mut self) -> PathBuf {
        let session = self.guard.session.take().expect("a browser is open");
        self.wd
            .cmd_at(Method::DELETE, &format!("/session/{session}"), None)
            .await;
        let profile = self.profile.take().expect("a browser is open");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let (done, state) = match self.wd.engine {
                Engine::Chromium => {
                    let preferences = profile.join("Default").join("Preferences");
                    let exit_type = std::fs::read(&preferences)
                        .ok()
                        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                        .map(|prefs| prefs["profile"]["exit_type"].clone());
                    let locked = std::fs::symlink_metadata(profile.join("SingletonLock")).is_ok();
                    (
                        !locked && exit_type == Some(json!("Normal")),
                        format!("SingletonLock present: {locked}; exit_type: {exit_type:?}"),
                    )
                }
                // geckodriver answers `DELETE /session` once Firefox has exited (its `lock`
                // symlink may stay behind, naming a process that is gone).
                Engine::Firefox | Engine::WebKit => (true, String::new()),
            };
            if done {
                return profile;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit cleanly within {READY_TIMEOUT:?} of quitting ({state})",
                self.wd.engine.name()
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
        let cookie = self.wd.engine.cookie();
        let value = response
            .headers()
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|line| line.to_str().ok())
            .find_map(|line| line.strip_prefix(&format!("{cookie}=")))
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_else(|| panic!("POST /login as {name} set no {cookie} cookie"))
            .to_owned();
        let request = Request::get(format!("{base}/me"))
            .header("cookie", format!("{cookie}={value}"))
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

    /// `DELETE /session/{id}` over a raw socket (no runtime in `drop`): the driver closes the
    /// browser.
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
        // Read the whole answer (the driver answers once the browser has quit), but not
        // until EOF: the driver may keep the connection open.
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
            if *log == "driver.log" {
                // Whatever the driver started (the browser) is in its process group.
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            for log in ["app.log", "driver.log", "xvfb.log"] {
                if let Ok(text) = std::fs::read_to_string(self.dir.join(log)) {
                    let tail: Vec<&str> = text.lines().rev().take(40).collect();
                    eprintln!("--- last lines of {log} ---");
                    for line in tail.into_iter().rev() {
                        eprintln!("{line}");
                    }
                }
            }
        }
        // The browser's last helpers may still be exiting: retry briefly.
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
    engine: Engine,
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    session: String,
}

impl WebDriver {
    fn new(engine: Engine, port: u16) -> Self {
        Self {
            engine,
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
                "the driver is not ready within {READY_TIMEOUT:?}: {status}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    async fn new_session(&mut self, profile: &Path, options: Options) -> String {
        let timeouts = json!({ "pageLoad": 20_000, "script": 20_000, "implicit": 0 });
        let always = match self.engine {
            Engine::Chromium => {
                let mut args = vec![
                    "--headless".to_owned(),
                    "--no-sandbox".to_owned(),
                    "--disable-gpu".to_owned(),
                    "--no-first-run".to_owned(),
                    "--disable-background-networking".to_owned(),
                    "--disable-component-update".to_owned(),
                    "--disable-sync".to_owned(),
                    "--disable-quic".to_owned(),
                    // The cookie store's encryption key must be the same in the next browser
                    // on this profile (chromedriver passes this too): no desktop keyring.
                    "--password-store=basic".to_owned(),
                    format!("--user-data-dir={}", profile.display()),
                ];
                if options.example_hosts {
                    args.push(format!("--host-resolver-rules=MAP *.{PARENT} 127.0.0.1"));
                    args.push("--no-proxy-server".to_owned());
                }
                let mut always = json!({
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": timeouts,
                    "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                });
                if options.network_log {
                    // DevTools events, Network.* included, in the "performance" log.
                    always["goog:loggingPrefs"] = json!({ "performance": "ALL" });
                }
                always
            }
            // geckodriver uses a profile given with `-profile` in place (it copies any other
            // into a temp dir), so a second browser finds the first one's cookies.
            Engine::Firefox => json!({
                "browserName": "firefox",
                "pageLoadStrategy": "normal",
                "timeouts": timeouts,
                "moz:firefoxOptions": {
                    "binary": FIREFOX,
                    "args": ["-headless", "-profile", profile.display().to_string()],
                    "prefs": {
                        // No network traffic of its own, no proxy.
                        "network.proxy.type": 0,
                        "app.update.enabled": false,
                        "browser.safebrowsing.malware.enabled": false,
                        "browser.safebrowsing.phishing.enabled": false,
                    },
                },
            }),
            // MiniBrowser in automation mode, whatever the profile: its cookies live in memory.
            Engine::WebKit => json!({
                "browserName": "MiniBrowser",
                "pageLoadStrategy": "normal",
                "timeouts": timeouts,
                "webkitgtk:browserOptions": { "binary": MINIBROWSER, "args": ["--automation"] },
            }),
        };
        let capabilities = json!({ "capabilities": { "alwaysMatch": always } });
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

    /// The browser's session cookie (`__Host-session`, or `session` where the app runs with
    /// `insecure_http`) for the current page, if any.
    async fn session_cookie(&self) -> Option<Value> {
        let name = self.engine.cookie();
        self.cookies()
            .await
            .into_iter()
            .find(|cookie| cookie["name"] == json!(name))
    }

    /// A persistent cookie `control=kept` for the current page's host, an hour long: the
    /// restart tests' proof that the profile's cookie store came back.
    async fn add_control_cookie(&self) {
        let expiry = unix_now() + 60 * 60;
        self.cmd(
            Method::POST,
            "cookie",
            json!({ "cookie": {
                "name": "control", "value": "kept", "path": "/", "expiry": expiry,
            } }),
        )
        .await;
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

/// Starts `Xvfb` on a free display number (its process is the guard's) and returns the
/// display (`:N`) once the server's socket is there.
fn start_xvfb(guard: &mut Guard) -> String {
    // The tests of one binary start their servers in parallel: each takes its own number.
    static NEXT_DISPLAY: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    for _ in 0..DISPLAYS {
        let number =
            99 + NEXT_DISPLAY.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % DISPLAYS;
        if display_in_use(number) {
            continue;
        }
        // An Xvfb killed by an earlier test (the guard kills with SIGKILL) leaves its lock and
        // socket behind; the socket would look like this server's before it is up.
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
        let _ = std::fs::remove_file(&socket);
        let _ = std::fs::remove_file(format!("/tmp/.X{number}-lock"));
        let display = format!(":{number}");
        let mut xvfb = Command::new(XVFB)
            .args([
                display.as_str(),
                "-nolisten",
                "tcp",
                "-screen",
                "0",
                "1280x1024x24",
            ])
            .stdin(Stdio::null())
            .stdout(guard.log_file("xvfb.log"))
            .stderr(guard.log_file("xvfb.log"))
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {XVFB}: {error}"));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if socket.exists() {
                guard.push_child(xvfb, "xvfb.log");
                return display;
            }
            // Another process took the number first: try the next one.
            if let Ok(Some(_)) = xvfb.try_wait() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Xvfb did not open {} within {READY_TIMEOUT:?}",
                socket.display()
            );
            std::thread::sleep(POLL);
        }
    }
    panic!("no free X display number in :99 to :199 for Xvfb");
}

/// The display numbers `start_xvfb` tries, from `:99`.
const DISPLAYS: u32 = 101;

/// Whether display `:number` belongs to a running X server: its lock file names a live
/// process (a lock that cannot be read yet is being written, so in use too).
fn display_in_use(number: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/tmp/.X{number}-lock")) else {
        return false;
    };
    text.trim()
        .parse::<u32>()
        .map_or(true, |pid| Path::new(&format!("/proc/{pid}")).exists())
}
