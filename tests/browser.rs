//! A real browser against `examples/axum_app`: headless Chromium driven through the W3C
//! WebDriver protocol (chromedriver), with a minimal WebDriver client over hyper.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian: `apt-get install -y
//! chromium chromium-driver`) and the example binary, built beforehand:
//!
//! ```text
//! cargo build --example axum_app --features axum && cargo test --all-features --test browser
//! ```
//!
//! Without the browser the test is skipped with a loud message on a developer's machine, so the
//! README's `cargo test --all-features` works on a fresh clone; under CI (`CI` set, as
//! `.ci/run` is run) or with `SEALED_SESSION_REQUIRE_BROWSER=1` a missing browser fails it.
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
/// The bound on a process becoming ready, and on a page showing the expected text.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_flow_against_axum_app() {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).is_file())
        .collect();
    if !missing.is_empty() {
        let required = std::env::var_os("CI").is_some_and(|value| !value.is_empty())
            || std::env::var(REQUIRE_VAR).is_ok_and(|value| value == "1");
        assert!(
            !required,
            "browser test: missing {}; install them with `apt-get install -y chromium \
             chromium-driver` (Debian)",
            missing.join(", ")
        );
        eprintln!(
            "browser test SKIPPED: missing {} (apt-get install -y chromium chromium-driver); \
             it is required under CI",
            missing.join(", ")
        );
        return;
    }
    let app_binary = example_binary();

    let mut guard = Guard::new();
    let app_port = free_port();
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
    wait_for_port(&mut guard, app_port, "examples/axum_app");

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

    let started = Instant::now();
    let mut wd = WebDriver::new(driver_port);
    wd.wait_ready().await;
    let profile = guard.dir.join("profile");
    let session = wd.new_session(&profile).await;
    guard.session = Some(session.clone());

    // 127.0.0.1 over plain http: Chromium counts loopback as a potentially trustworthy
    // origin, so it keeps the `Secure` `__Host-` cookie (checked below via the cookie store).
    let base = format!("http://127.0.0.1:{app_port}");

    wd.navigate(&format!("{base}/")).await;
    wd.wait_for_body("visits: 1").await;
    wd.cmd(Method::POST, "refresh", json!({})).await;
    wd.wait_for_body("visits: 2").await;

    let name = "ada_lovelace";
    wd.navigate(&format!("{base}/login")).await;
    let username = wd.find("#username").await;
    wd.cmd(
        Method::POST,
        &format!("element/{username}/value"),
        json!({ "text": name }),
    )
    .await;
    let submit = wd.find("#submit").await;
    wd.cmd(Method::POST, &format!("element/{submit}/click"), json!({}))
        .await;
    wd.wait_for_body(&format!("hello {name}")).await;

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
    let status = wd
        .execute(
            "const done = arguments[arguments.length - 1];\
             fetch('/me').then(r => done(r.status)).catch(e => done(String(e)));",
            true,
        )
        .await;
    assert_eq!(status, json!(401), "GET /me after logout answered {status}");

    // A new session starts from zero.
    wd.navigate(&format!("{base}/")).await;
    wd.wait_for_body("visits: 1").await;

    wd.cmd_at(Method::DELETE, &format!("/session/{session}"), None)
        .await;
    guard.session = None;
    eprintln!("browser flow passed in {:?}", started.elapsed());
}

/// `target/<profile>/examples/axum_app`, next to this test's `target/<profile>/deps/`.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let binary = profile_dir.join("examples").join("axum_app");
    let build = "cargo build --example axum_app --features axum";
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
    let mut sources = vec![root.join("examples/axum_app.rs")];
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

    async fn new_session(&mut self, profile: &Path) -> String {
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": { "pageLoad": 10_000, "script": 10_000, "implicit": 0 },
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--disable-quic",
                            format!("--user-data-dir={}", profile.display()),
                        ],
                    },
                },
            },
        });
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

    /// The browser's `__Host-session` cookie for the current page, if any.
    async fn session_cookie(&self) -> Option<Value> {
        let cookies = self.cmd(Method::GET, "cookie", Value::Null).await;
        cookies
            .as_array()
            .expect("the cookie list is an array")
            .iter()
            .find(|cookie| cookie["name"] == json!(COOKIE))
            .cloned()
    }
}
