//! The tower-sessions bridge (`TowerSessionsLayer`, feature `tower-sessions`) over real axum
//! servers on `127.0.0.1`:
//!
//! - the axum-login + axum-messages stack of `examples/axum_login.rs`: login, a flash shown
//!   once, logout deleting the cookie, key rotation mid-session, a tampered cookie, the session
//!   id cycled on login, and the stateless limits (a copy from before logout still opens, until
//!   the password changes);
//! - a session too large for its cookie, saved by the layer (an empty 500) or by the handler
//!   (`session_store::Error::Encode`);
//! - tower-sessions' own `route_tests!` (its `tests/common/mod.rs`), ported onto the bridge.
#![cfg(all(feature = "tower-sessions", feature = "axum", feature = "hyper"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::mod_module_files
)]

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/harness/mod.rs"]
mod harness;

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use common::{NAME, key_string, sealed_key_id};
use harness::{Client, Logs, Resp, Server, SetCookie, serve_axum};
use http::header::{CONTENT_TYPE, COOKIE, HOST};
use http::{HeaderValue, Method, Request};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use sealed_session::{Algorithm, Key, KeyRing, SessionConfig, TowerSessionsLayer};
use tower_sessions_core::Session as KvSession;
use tower_sessions_core::session_store;

// ---------------------------------------------------------------------------------------------
// The axum-login stack: examples/axum_login.rs itself, plus two routes
// ---------------------------------------------------------------------------------------------

#[path = "../examples/axum_login.rs"]
#[allow(dead_code)]
mod example;

/// `GET /id`: the tower-sessions id, as `Some(Id(..))` or `None`.
async fn session_id(session: KvSession) -> String {
    format!("{:?}", session.id())
}

/// `POST /note` (body = text): keeps a value in the session (before any login).
async fn note_set(session: KvSession, body: String) -> Response {
    match session.insert("note", body).await {
        Ok(()) => "noted".into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// `GET /note`: the kept value, or `none`.
async fn note_get(session: KvSession) -> String {
    session
        .get::<String>("note")
        .await
        .unwrap()
        .unwrap_or_else(|| "none".to_owned())
}

/// A running axum-login app and (a clone of) its key ring.
struct LoginApp {
    server: Server,
    ring: KeyRing,
    /// The id of the key the ring started with.
    first_key: u32,
}

/// The example's app (plus `/id` and `/note`) over `backend`, behind `session_layer`.
async fn serve_login(backend: example::Backend, session_layer: TowerSessionsLayer) -> Server {
    let more = Router::new()
        .route("/id", get(session_id))
        .route("/note", get(note_get).post(note_set));
    serve_axum(example::app(backend, session_layer, more)).await
}

/// The example's app behind the default configuration and a new key.
async fn login_app() -> LoginApp {
    let key = key_string(Algorithm::Aes256Gcm);
    let first_key = common::key_id(&key);
    let session_layer = TowerSessionsLayer::new(key.parse().unwrap(), SessionConfig::default());
    let ring = session_layer.ring().clone();
    LoginApp {
        server: serve_login(example::backend(), session_layer).await,
        ring,
        first_key,
    }
}

/// `POST path` with `body` as an HTML form (`application/x-www-form-urlencoded`, which axum's
/// `Form` requires and `Client::post` does not send) and the client's session cookie, over a
/// real connection of its own; the response's cookies go into the client's jar (which holds
/// only the session cookie in these tests, so a deletion empties it).
async fn post_form(client: &mut Client, addr: SocketAddr, path: &str, body: &str) -> Resp {
    let mut req = Request::new(Full::new(Bytes::from(body.to_owned())));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = path.parse().unwrap();
    let headers = req.headers_mut();
    headers.insert(HOST, addr.to_string().parse().unwrap());
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    if let Some(value) = client.cookie(NAME) {
        headers.insert(COOKIE, format!("{NAME}={value}").parse().unwrap());
    }
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender.send_request(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let resp = Resp {
        status: parts.status.as_u16(),
        version: parts.version,
        headers: parts.headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    };
    for line in resp.set_cookies() {
        let cookie = SetCookie::parse(&line);
        assert_eq!(cookie.name, NAME, "{line}");
        if cookie.is_removal() {
            client.clear_jar();
        } else {
            client.set_cookie(&cookie.name, &cookie.value);
        }
        client.set_cookie_log.push(line);
    }
    resp
}

const FERRIS: &str = "username=ferris&password=hunter42";

/// The attributes of a `Set-Cookie` other than its lifetime (`Max-Age`, `Expires`).
fn attributes_but_lifetime(cookie: &SetCookie) -> Vec<(String, Option<String>)> {
    cookie
        .attributes
        .iter()
        .filter(|(name, _)| {
            !name.eq_ignore_ascii_case("Max-Age") && !name.eq_ignore_ascii_case("Expires")
        })
        .cloned()
        .collect()
}

/// The value with one character in the middle changed (to another base64url character).
fn tampered(value: &str) -> String {
    let mid = value.len() / 2;
    let old = value.as_bytes()[mid];
    let new = if old == b'A' { 'B' } else { 'A' };
    format!("{}{new}{}", &value[..mid], &value[mid + 1..])
}

/// Login (a wrong password is a 401, the right one `hello ferris`), the flash shown once under
/// the user, logout deleting the cookie with the login cookie's attributes, and 401 after.
#[tokio::test]
async fn axum_login_login_flash_once_and_logout() {
    let app = login_app().await;
    let addr = app.server.addr;
    let mut client = Client::new(addr);

    // Not logged in yet.
    let resp = client.get("/protected").await;
    assert_eq!(resp.status, 401, "{resp:?}");
    assert!(resp.set_cookie().is_none(), "{resp:?}");

    let resp = post_form(
        &mut client,
        addr,
        "/login",
        "username=ferris&password=wrong",
    )
    .await;
    assert_eq!(resp.status, 401, "{resp:?}");
    assert_eq!(resp.body, "wrong user name or password");
    assert!(resp.set_cookie().is_none(), "{resp:?}");
    assert!(client.cookie(NAME).is_none());

    let resp = post_form(&mut client, addr, "/login", FERRIS).await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, "hello ferris");
    let login_cookie = resp.cookie();
    assert_eq!(login_cookie.name, NAME);
    assert!(!login_cookie.value.is_empty());
    assert_eq!(login_cookie.max_age(), 86_400, "{}", login_cookie.line);
    assert_eq!(login_cookie.attr("Path"), Some(Some("/")));
    assert_eq!(login_cookie.attr("Secure"), Some(None));
    assert_eq!(login_cookie.attr("HttpOnly"), Some(None));
    assert_eq!(login_cookie.attr("SameSite"), Some(Some("Lax")));

    // The flash, under the user, once.
    let resp = client.get("/protected").await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, "user: ferris\nlogged in");
    let resp = client.get("/protected").await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, "user: ferris");
    // Reading the session with nothing to change sends no cookie.
    assert!(resp.set_cookie().is_none(), "{resp:?}");

    let resp = post_form(&mut client, addr, "/logout", "").await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, "logged out");
    let removal = resp.cookie();
    assert_eq!(removal.name, NAME);
    assert_eq!(removal.value, "");
    assert!(removal.is_removal(), "{}", removal.line);
    assert!(
        removal.line.starts_with("__Host-session=; Max-Age=0"),
        "{}",
        removal.line
    );
    assert_eq!(
        attributes_but_lifetime(&removal),
        attributes_but_lifetime(&login_cookie),
        "{} vs {}",
        removal.line,
        login_cookie.line
    );
    assert!(client.cookie(NAME).is_none());

    let resp = client.get("/protected").await;
    assert_eq!(resp.status, 401, "{resp:?}");
    // Logged out: the right password logs in again.
    let resp = post_form(&mut client, addr, "/login", FERRIS).await;
    assert_eq!(resp.body, "hello ferris", "{resp:?}");
    assert_eq!(
        client.get("/protected").await.body,
        "user: ferris\nlogged in"
    );
}

/// A cookie copied before logout still opens after it: a sealed cookie carries the whole
/// session and the server keeps no list of ended ones (the documented stateless limitation;
/// the absolute lifetime bounds it). axum-login's auth-hash check is the one server-side
/// revocation it gets: once the user's password (here the auth hash) changes, the copy logs
/// out, and its response deletes it.
#[tokio::test]
async fn a_copy_from_before_logout_opens_until_the_password_changes() {
    let app = login_app().await;
    let addr = app.server.addr;
    let mut client = Client::new(addr);
    assert_eq!(
        post_form(&mut client, addr, "/login", FERRIS).await.status,
        200
    );
    assert_eq!(
        client.get("/protected").await.body,
        "user: ferris\nlogged in"
    );
    let copy = client.cookie(NAME).unwrap();

    assert_eq!(
        post_form(&mut client, addr, "/logout", "").await.status,
        200
    );
    assert_eq!(client.get("/protected").await.status, 401);

    // The stateless limitation: the copy is still a logged-in session.
    let mut thief = Client::new(addr);
    thief.set_cookie(NAME, &copy);
    let resp = thief.get("/protected").await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, "user: ferris");

    // A password change makes axum-login flush every session with the old auth hash: the
    // app restarts (as after a deploy) with the new password and the same key ring.
    let mut backend = example::backend();
    backend.users.get_mut(&1).unwrap().password = "new password".to_owned();
    let server = serve_login(
        backend,
        TowerSessionsLayer::new(app.ring.clone(), SessionConfig::default()),
    )
    .await;
    let addr = server.addr;
    let mut client = Client::new(addr);
    let mut thief = Client::new(addr);
    thief.set_cookie(NAME, &copy);
    let resp = thief.get("/protected").await;
    assert_eq!(resp.status, 401, "{resp:?}");
    let removal = resp.cookie();
    assert!(removal.is_removal(), "{}", removal.line);
    assert_eq!(removal.value, "");
    assert!(thief.cookie(NAME).is_none());
    // The copy stays refused however often it is sent.
    let resp = Client::new(addr)
        .get_with("/protected", &[&format!("{NAME}={copy}")])
        .await;
    assert_eq!(resp.status, 401, "{resp:?}");

    // The old password no longer logs in; the new one does.
    let resp = post_form(&mut client, addr, "/login", FERRIS).await;
    assert_eq!(resp.status, 401, "{resp:?}");
    let resp = post_form(
        &mut client,
        addr,
        "/login",
        "username=ferris&password=new+password",
    )
    .await;
    assert_eq!(resp.body, "hello ferris", "{resp:?}");
    assert_eq!(client.get("/protected").await.status, 200);
}

/// Rotating the key (through a clone of the layer's ring) mid-session keeps the user logged
/// in, and the next response re-seals the cookie under the new key; then it stays quiet.
#[tokio::test]
async fn key_rotation_keeps_the_user_logged_in_and_reseals_under_the_new_key() {
    let app = login_app().await;
    let addr = app.server.addr;
    let mut client = Client::new(addr);
    assert_eq!(
        post_form(&mut client, addr, "/login", FERRIS).await.status,
        200
    );
    assert_eq!(
        client.get("/protected").await.body,
        "user: ferris\nlogged in"
    );
    let before = client.cookie(NAME).unwrap();
    assert_eq!(sealed_key_id(&before), app.first_key);

    let new_key = Key::generate(Algorithm::XChaCha20Poly1305);
    let new_id = new_key.id().get();
    assert_ne!(new_id, app.first_key);
    app.ring.rotate(new_key).unwrap();

    let resp = client.get("/protected").await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, "user: ferris");
    let resealed = resp.cookie();
    assert_eq!(sealed_key_id(&resealed.value), new_id, "{}", resealed.line);
    assert_eq!(client.cookie(NAME).unwrap(), resealed.value);
    // Under the primary now: nothing more to re-seal, and the user is still there.
    let resp = client.get("/protected").await;
    assert_eq!(resp.body, "user: ferris", "{resp:?}");
    assert!(resp.set_cookie().is_none(), "{resp:?}");
    // A change is sealed under the new key too.
    assert_eq!(client.post("/note", "after rotation").await.status, 200);
    assert_eq!(sealed_key_id(&client.cookie(NAME).unwrap()), new_id);
    assert_eq!(client.get("/note").await.body, "after rotation");
    assert_eq!(client.get("/protected").await.body, "user: ferris");
}

/// A cookie with one character changed does not open: the request is logged out (401), and
/// its response deletes the cookie.
#[tokio::test]
async fn a_tampered_cookie_logs_out_and_is_deleted() {
    let app = login_app().await;
    let addr = app.server.addr;
    let mut client = Client::new(addr);
    assert_eq!(
        post_form(&mut client, addr, "/login", FERRIS).await.status,
        200
    );
    let good = client.cookie(NAME).unwrap();
    let bad = tampered(&good);
    assert_ne!(bad, good);
    assert_eq!(bad.len(), good.len());

    // Control: the untampered cookie is logged in.
    let resp = Client::new(addr)
        .get_with("/protected", &[&format!("{NAME}={good}")])
        .await;
    assert_eq!(resp.status, 200, "{resp:?}");

    client.set_cookie(NAME, &bad);
    let resp = client.get("/protected").await;
    assert_eq!(resp.status, 401, "{resp:?}");
    let removal = resp.cookie();
    assert_eq!(removal.name, NAME);
    assert!(removal.is_removal(), "{}", removal.line);
    assert_eq!(removal.value, "");
    assert_eq!(removal.attr("Path"), Some(Some("/")));
    assert!(client.cookie(NAME).is_none());
    assert_eq!(client.get("/id").await.body, "None");
}

/// Two authentic cookies in one request (one planted, SECURITY-TESTS F1) make it ambiguous:
/// the handler sees no session, and the response neither deletes nor overwrites either
/// cookie, so the user's own survives.
#[tokio::test]
async fn planted_cookies_make_an_empty_session_and_nothing_is_deleted() {
    let app = login_app().await;
    let addr = app.server.addr;
    let mut user = Client::new(addr);
    assert_eq!(user.post("/note", "mine").await.body, "noted");
    let mut attacker = Client::new(addr);
    assert_eq!(attacker.post("/note", "planted").await.body, "noted");
    let (own, planted) = (user.cookie(NAME).unwrap(), attacker.cookie(NAME).unwrap());

    let resp = Client::new(addr)
        .get_with("/note", &[&format!("{NAME}={planted}; {NAME}={own}")])
        .await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, "none");
    assert!(resp.set_cookies().is_empty(), "{resp:?}");
    // The user's cookie alone still opens to the user's data.
    assert_eq!(user.get("/note").await.body, "mine");
}

/// axum-login's `login` cycles the id of a session that existed before the login (session
/// fixation), keeping its data; the pre-login cookie never carries the user.
#[tokio::test]
async fn login_cycles_the_session_id() {
    let app = login_app().await;
    let addr = app.server.addr;
    let mut client = Client::new(addr);
    assert_eq!(client.get("/id").await.body, "None");
    assert_eq!(client.post("/note", "before login").await.body, "noted");
    let pre_login = client.cookie(NAME).unwrap();
    let before = client.get("/id").await.body;
    assert!(before.starts_with("Some(Id("), "{before}");
    // Stable while nothing cycles it.
    assert_eq!(client.get("/id").await.body, before);

    let resp = post_form(&mut client, addr, "/login", FERRIS).await;
    assert_eq!(resp.body, "hello ferris", "{resp:?}");
    let after = client.get("/id").await.body;
    assert!(after.starts_with("Some(Id("), "{after}");
    assert_ne!(after, before);
    // The data survives the new id.
    assert_eq!(client.get("/note").await.body, "before login");
    assert_eq!(
        client.get("/protected").await.body,
        "user: ferris\nlogged in"
    );

    // The cookie from before the login still has the old id and no user.
    let mut other = Client::new(addr);
    let resp = other
        .get_with("/id", &[&format!("{NAME}={pre_login}")])
        .await;
    assert_eq!(resp.body, before);
    let resp = other
        .get_with("/protected", &[&format!("{NAME}={pre_login}")])
        .await;
    assert_eq!(resp.status, 401, "{resp:?}");
}

// ---------------------------------------------------------------------------------------------
// The README's recipe, as written
// ---------------------------------------------------------------------------------------------

/// The README's axum-login recipe (section "axum-login and axum-messages"), in the context
/// its comment says is the reader's: `backend`, `Backend`, `login`, `protected` and `ring`.
/// build.rs copies its Rust block from README.md as written, and its TOML block of
/// dependencies (issue 19 F8: a recipe that did not compile for want of an undeclared
/// dependency).
mod readme {
    use axum::Router;
    use axum::extract::Form;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum_login::AuthSession;
    use axum_messages::Messages;
    use sealed_session::KeyRing;

    use super::example::{Backend, Credentials};

    /// The README's Rust block.
    pub(super) const RUST: &str = include_str!(concat!(env!("OUT_DIR"), "/readme_axum_login.rs"));
    /// The README's TOML block.
    pub(super) const TOML: &str = include_str!(concat!(env!("OUT_DIR"), "/readme_axum_login.toml"));

    /// The reader's login handler: axum-login's, with a flash.
    async fn login(
        mut auth: AuthSession<Backend>,
        messages: Messages,
        Form(creds): Form<Credentials>,
    ) -> Response {
        match auth.authenticate(creds).await {
            Ok(Some(user)) if auth.login(&user).await.is_ok() => {
                messages.success("logged in");
                "hello".into_response()
            }
            Ok(_) => StatusCode::UNAUTHORIZED.into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }

    /// The reader's protected page: the user, then the pending flash messages.
    async fn protected(auth: AuthSession<Backend>, messages: Messages) -> String {
        let user = auth
            .user
            .map(|user| format!("{user:?}"))
            .unwrap_or_default();
        let flash: Vec<String> = messages.into_iter().map(|m| m.to_string()).collect();
        format!("{user} {flash:?}")
    }

    /// The app the recipe builds.
    #[allow(
        clippy::let_and_return,
        reason = "the recipe ends with `let app = ...;`"
    )]
    pub(super) fn app(backend: Backend, ring: KeyRing) -> Router {
        include!(concat!(env!("OUT_DIR"), "/readme_axum_login.rs"))
    }
}

/// The recipe compiles (above) and does what the README's prose says: the auth stack runs on
/// the sealed cookie alone, with no store (a second server with only the ring reads the
/// login), `/protected` answers 401 before a login, and the flash shows once.
#[tokio::test]
async fn the_readme_recipe_runs_as_written() {
    let key = key_string(Algorithm::Aes256Gcm);
    let ring: KeyRing = key.parse().unwrap();
    let server = serve_axum(readme::app(example::backend(), ring.clone())).await;
    let addr = server.addr;
    let mut client = Client::new(addr);
    assert_eq!(client.get("/protected").await.status, 401);
    let resp = post_form(&mut client, addr, "/login", FERRIS).await;
    assert_eq!(
        (resp.status, resp.body.as_str()),
        (200, "hello"),
        "{resp:?}"
    );
    // Sealed under the ring's key, in the cookie the configuration names.
    let value = client.cookie(NAME).unwrap();
    assert_eq!(sealed_key_id(&value), common::key_id(&key));

    // Another server, sharing nothing but the ring, reads the login and shows the flash once.
    let other = serve_axum(readme::app(example::backend(), ring)).await;
    client.retarget(other.addr);
    let first = client.get("/protected").await;
    assert_eq!(first.status, 200, "{first:?}");
    assert!(
        first.body.contains("ferris") && first.body.ends_with("[\"logged in\"]"),
        "{first:?}"
    );
    let second = client.get("/protected").await;
    assert!(
        second.body.contains("ferris") && second.body.ends_with("[]"),
        "{second:?}"
    );
}

/// The recipe's TOML block declares every crate its Rust block names (0.2's named
/// `tower_layer` without declaring it: E0433), each as this package, which compiles the block,
/// depends on it.
#[test]
fn the_readme_recipe_declares_its_dependencies() {
    let manifest = include_str!("../Cargo.toml");
    let declared: Vec<(&str, &str)> = readme::TOML
        .lines()
        .filter_map(|line| line.split_once(" = "))
        .collect();
    let mut named: Vec<String> = readme::RUST
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter_map(|path| path.split_once("::").map(|(root, _)| root))
        .filter(|root| root.starts_with(|c: char| c.is_ascii_lowercase()))
        .map(|root| root.replace('_', "-"))
        .collect();
    named.sort();
    named.dedup();
    assert_eq!(
        named,
        [
            "axum",
            "axum-login",
            "axum-messages",
            "sealed-session",
            "tower-layer"
        ]
    );
    for name in &named {
        let (_, requirement) = declared
            .iter()
            .find(|(crate_name, _)| crate_name == name)
            .unwrap_or_else(|| panic!("README: {name} is used but not in the TOML block"));
        if name != "sealed-session" {
            // The same requirement as this package's (a plain version string, or `version =`).
            let version = requirement.trim_matches('"');
            assert!(
                manifest.contains(&format!("\n{name} = \"{version}\""))
                    || manifest.contains(&format!("\n{name} = {{ version = \"{version}\"")),
                "README: {name} = {requirement}, not this package's requirement"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions too large for the cookie
// ---------------------------------------------------------------------------------------------

/// `len` base64url characters from xorshift64: 6 bits of entropy each, so DEFLATE cannot
/// shrink them much.
fn incompressible(len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(ALPHABET[usize::try_from(x >> 58).unwrap()])
        })
        .collect()
}

const BIG: usize = 10 * 1024;

/// `GET /big`: inserts ~10 KB; the layer's save fails.
async fn big(session: KvSession) -> &'static str {
    session.insert("big", incompressible(BIG)).await.unwrap();
    "inserted"
}

/// `GET /big_save`: inserts ~10 KB and saves; on the expected error, takes the value out again
/// and answers 413 with the error's text.
async fn big_save(session: KvSession) -> Response {
    session.insert("big", incompressible(BIG)).await.unwrap();
    match session.save().await {
        Err(
            error @ tower_sessions_core::session::Error::Store(session_store::Error::Encode(_)),
        ) => {
            session.remove_value("big").await.unwrap();
            (StatusCode::PAYLOAD_TOO_LARGE, error.to_string()).into_response()
        }
        Err(other) => (StatusCode::IM_A_TEAPOT, format!("{other:?}")).into_response(),
        Ok(()) => "saved".into_response(),
    }
}

async fn too_large_app() -> Server {
    let ring: KeyRing = key_string(Algorithm::Aes256Gcm).parse().unwrap();
    let app = route_tests::routes()
        .route("/big", get(big))
        .route("/big_save", get(big_save))
        .layer(TowerSessionsLayer::new(ring, SessionConfig::default()));
    serve_axum(app).await
}

/// The layer's save after the handler fails: an empty 500 with no `Set-Cookie` and an error
/// event; the session from before is kept.
#[tokio::test]
async fn a_session_too_large_saved_by_the_layer_is_an_empty_500_without_set_cookie() {
    let logs = Logs::capture();
    let server = too_large_app().await;
    let mut client = Client::new(server.addr);
    assert_eq!(client.get("/insert").await.status, 200);
    let kept = client.cookie(NAME).unwrap();
    logs.take();

    let resp = client.get("/big").await;
    assert_eq!(resp.status, 500, "{resp:?}");
    assert_eq!(resp.body, "", "the handler's body is replaced");
    assert!(resp.set_cookies().is_empty(), "{resp:?}");
    let text = logs.take();
    assert!(
        text.contains("ERROR") && text.contains("tower-sessions session not saved"),
        "{text}"
    );
    assert!(text.contains("cookie limit"), "{text}");

    assert_eq!(client.cookie(NAME).unwrap(), kept);
    assert_eq!(client.get("/get").await.body, "42");

    // Without a session before, too.
    let resp = Client::new(server.addr).get("/big").await;
    assert_eq!(resp.status, 500, "{resp:?}");
    assert_eq!(resp.body, "");
    assert!(resp.set_cookies().is_empty(), "{resp:?}");
}

/// `session.save()` in a handler reports `Store(Encode(..))` with the size and the limit.
#[tokio::test]
async fn a_session_too_large_saved_by_the_handler_is_an_encode_error() {
    let server = too_large_app().await;
    let mut client = Client::new(server.addr);
    assert_eq!(client.get("/insert").await.status, 200);

    let resp = client.get("/big_save").await;
    assert_eq!(resp.status, 413, "{resp:?}");
    let size: usize = resp
        .body
        .strip_prefix("Encoding failed with: the session would be ")
        .and_then(|rest| {
            rest.strip_suffix(
                " bytes, over the 4096-byte cookie limit; keep large data server-side",
            )
        })
        .unwrap_or_else(|| panic!("unexpected error text: {:?}", resp.body))
        .parse()
        .unwrap();
    assert!(size > BIG, "{size}");
    // The value was taken out again: the session holds what it held before.
    assert_eq!(client.get("/get").await.body, "42");
    assert_eq!(client.get("/get_value").await.body, "Some(Number(42))");
}

/// The configured idle timeout is the `Max-Age` of a session on the default lifetime, as with
/// the typed `SessionLayer` (the control).
#[tokio::test]
async fn the_configured_idle_timeout_is_the_max_age() {
    const DAYS_30: u64 = 30 * 86_400;
    let config = SessionConfig::builder()
        .idle_timeout(std::time::Duration::from_secs(DAYS_30))
        .max_lifetime(std::time::Duration::from_secs(3 * DAYS_30))
        .build()
        .unwrap();
    let ring: KeyRing = key_string(Algorithm::Aes256Gcm).parse().unwrap();

    // Control: the typed layer under the same configuration.
    let clock = harness::Clock::new(common::T0);
    let typed = harness::serve(harness::Adapter::Axum, ring.clone(), config.clone(), &clock).await;
    let resp = Client::new(typed.addr).get("/").await;
    assert_eq!(resp.cookie().max_age(), DAYS_30, "{resp:?}");

    let app = route_tests::routes().layer(TowerSessionsLayer::new(ring, config));
    let server = serve_axum(app).await;
    let mut client = Client::new(server.addr);
    let resp = client.get("/insert").await;
    assert_eq!(resp.cookie().max_age(), DAYS_30, "{resp:?}");
    // And after the next change.
    let resp = client.get("/remove_value").await;
    assert_eq!(resp.cookie().max_age(), DAYS_30, "{resp:?}");
}

// ---------------------------------------------------------------------------------------------
// Deep values in a sealed cookie (RT3-2, SECURITY-TESTS H2)
// ---------------------------------------------------------------------------------------------

/// Bytes serialized as themselves: postcard writes a tuple's `u8`s back to back, with no
/// length. The tests build the bridge's plaintext by hand with it, since a value nested
/// thousands of levels deep cannot be built (or dropped) by recursive code on a test thread.
struct Raw(Vec<u8>);

impl serde::Serialize for Raw {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple as _;
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for byte in &self.0 {
            tuple.serialize_element(byte)?;
        }
        tuple.end()
    }
}

/// The bridge's plaintext (its record as postcard writes it: a list of `(key, value)` entries,
/// each value one tag byte then its content) for one entry `deep`: `levels` arrays of one
/// element each around a `null`, so the `null` sits at depth `levels`.
fn nested_record(levels: usize) -> Vec<u8> {
    const ARRAY: u8 = 6; // the tag of an array, then the element count (one: 0x01)
    const NULL: u8 = 0;
    let mut bytes = vec![1, 4];
    bytes.extend_from_slice(b"deep");
    for _ in 0..levels {
        bytes.extend_from_slice(&[ARRAY, 1]);
    }
    bytes.push(NULL);
    bytes
}

/// `GET /deep`: how many arrays the entry `deep` nests around its innermost value (counted
/// without recursion), or `none`.
async fn deep_levels(session: KvSession) -> String {
    match session.get_value("deep").await.unwrap() {
        None => "none".to_owned(),
        Some(mut value) => {
            let mut levels = 0;
            while let serde_json::Value::Array(mut items) = value {
                levels += 1;
                value = items.pop().unwrap_or_default();
            }
            levels.to_string()
        }
    }
}

/// The bridge under the default configuration at the clock `T0`, with the route tests'
/// routes and `/deep`; and a codec that seals what it opens, compressing (a compressed cookie
/// opens whatever the configuration says about compressing: the 178-byte cookie).
fn deep_app() -> (Router, sealed_session::Codec) {
    let ring: KeyRing = key_string(Algorithm::Aes256Gcm).parse().unwrap();
    let config = SessionConfig::default();
    // The bridge's records are bound to its fixed context (wire format v3); cookies of 0.3
    // bridges everywhere carry it, so it never changes.
    let codec = harness::codec_for(ring.clone(), &config)
        .with_type_context("sealed-session/tower-sessions record");
    #[cfg(feature = "compression")]
    let codec = codec.with_compression(true);
    let layer = TowerSessionsLayer::new(ring, config)
        .with_clock(|| std::time::UNIX_EPOCH + std::time::Duration::from_secs(common::T0));
    let app = route_tests::routes()
        .route("/deep", get(deep_levels))
        .layer(layer);
    (app, codec)
}

/// A sealed cookie of the bridge holding `nested_record(levels)`.
fn deep_cookie(codec: &sealed_session::Codec, levels: usize) -> String {
    let sealed = codec
        .seal(
            NAME,
            &common::meta(common::T0),
            &Raw(nested_record(levels)),
            common::T0,
        )
        .unwrap();
    format!("{NAME}={}", sealed.value)
}

/// RT3-2: an authentic cookie whose value nests 8,000 levels (0.2: a stack overflow that
/// aborted the whole server process) is refused as any other undecodable payload: the request
/// runs with a fresh session, the cookie is deleted, at most one event says why (the
/// rate-limited `payload` warning of issue 19 F2, or `info` within its minute), and
/// the server goes on serving. The depth bound is the one the save side enforces: a value
/// that can be saved (the `null` at depth 64) opens, one level more does not.
#[tokio::test]
async fn a_cookie_nesting_thousands_of_levels_is_a_fresh_session_not_a_crash() {
    let logs = Logs::capture();
    let (app, codec) = deep_app();
    let server = serve_axum(app).await;
    let levels = if cfg!(feature = "compression") {
        8_000
    } else {
        1_000
    };
    let cookie = deep_cookie(&codec, levels);
    assert!(cookie.len() <= 4096, "{}", cookie.len());
    logs.take();

    let resp = Client::new(server.addr).get_with("/deep", &[&cookie]).await;
    let captured = logs.take();
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, "none");
    assert!(resp.cookie().is_removal(), "{resp:?}");
    let events: Vec<&str> = captured
        .lines()
        .filter(|line| line.contains("sealed_session"))
        .collect();
    // Issue 19 F2: an authentic cookie that does not decode is a server-side reason (only a
    // holder of the key makes one), so its one event may be the rate-limited `payload` warning;
    // never an error.
    assert!(
        events.len() <= 1
            && events.iter().all(|e| {
                !e.contains("ERROR") && (!e.contains("WARN") || e.contains("reason=\"payload\""))
            }),
        "{captured}"
    );

    // Still serving, with sessions.
    let mut client = Client::new(server.addr);
    assert_eq!(client.get("/insert").await.status, 200);
    assert_eq!(client.get("/get").await.body, "42");

    // The bound is the save side's: 64 arrays around the innermost value open, 65 do not.
    let resp = Client::new(server.addr)
        .get_with("/deep", &[&deep_cookie(&codec, 64)])
        .await;
    assert_eq!((resp.status, resp.body.as_str()), (200, "64"), "{resp:?}");
    let resp = Client::new(server.addr)
        .get_with("/deep", &[&deep_cookie(&codec, 65)])
        .await;
    assert_eq!((resp.status, resp.body.as_str()), (200, "none"), "{resp:?}");
    assert!(resp.cookie().is_removal(), "{resp:?}");
}

// ---------------------------------------------------------------------------------------------
// What a client can make the bridge log (RT3-3, SECURITY-TESTS F5, H3)
// ---------------------------------------------------------------------------------------------

/// Every event's level and target, from a subscriber installed on the current thread (the
/// test's runtime is current-thread, so the server's events land here too).
#[derive(Clone, Default)]
struct Events(std::sync::Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Events {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        self.0
            .lock()
            .unwrap()
            .push((*meta.level(), meta.target().to_owned()));
    }
}

impl Events {
    fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        use tracing_subscriber::layer::SubscriberExt as _;
        let events = Self::default();
        let subscriber = tracing_subscriber::registry().with(events.clone());
        (events, tracing::subscriber::set_default(subscriber))
    }

    fn take(&self) -> Vec<(tracing::Level, String)> {
        core::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// RT3-3: nothing a client sends through the bridge raises an event above `info`, and no
/// request logs more than one event of the crate: conflicting (planted) cookies on a read and
/// on a write, a tampered cookie, garbage, a value longer than any cookie, a value of the
/// session's name among 150 other cookies in a 12 KB header, fifty copies of it, an authentic
/// value nesting thousands of levels. None is a 5xx. (0.2: conflicts on a write were an empty
/// 500 with two `error` events; the deep value aborted the process.)
#[tokio::test]
async fn nothing_a_client_sends_through_the_bridge_logs_above_info() {
    let (events, _guard) = Events::capture();
    let (app, codec) = deep_app();
    let server = serve_axum(app).await;
    let mut user = Client::new(server.addr);
    assert_eq!(user.get("/insert").await.status, 200);
    let mut attacker = Client::new(server.addr);
    assert_eq!(attacker.get("/insert").await.status, 200);
    let (own, planted) = (user.cookie(NAME).unwrap(), attacker.cookie(NAME).unwrap());
    assert_ne!(own, planted);
    let others: String = (0..150)
        .map(|i| format!("c{i}={}; ", "v".repeat(70)))
        .collect();
    let levels = if cfg!(feature = "compression") {
        8_000
    } else {
        1_000
    };
    let cases: Vec<(&str, &str, String)> = vec![
        (
            "conflict on a read",
            "/get_value",
            format!("{NAME}={planted}; {NAME}={own}"),
        ),
        (
            "conflict on a write",
            "/insert",
            format!("{NAME}={own}; {NAME}={planted}"),
        ),
        (
            "conflict on a flush",
            "/flush",
            format!("{NAME}={own}; {NAME}={planted}"),
        ),
        ("tampered", "/insert", format!("{NAME}={}", tampered(&own))),
        ("garbage", "/get_value", format!("{NAME}=garbage")),
        ("garbage, untouched", "/", format!("{NAME}=%00;;=; {NAME}")),
        (
            "longer than a cookie",
            "/get_value",
            format!("{NAME}={}", "A".repeat(6_000)),
        ),
        (
            "in a 12 KB header",
            "/insert",
            format!("{others}{NAME}={}", tampered(&own)),
        ),
        (
            "fifty copies",
            "/insert",
            (0..50)
                .map(|i| format!("{NAME}={}", if i % 2 == 0 { &own } else { &planted }))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        ("nested deep", "/deep", deep_cookie(&codec, levels)),
        (
            "nested one level too deep",
            "/insert",
            deep_cookie(&codec, 65),
        ),
    ];
    events.take();
    for (case, path, cookie) in &cases {
        let resp = Client::new(server.addr).get_with(path, &[cookie]).await;
        let seen = events.take();
        assert!(resp.status < 500, "{case}: {resp:?}");
        let above: Vec<_> = seen
            .iter()
            .filter(|(level, _)| *level < tracing::Level::INFO)
            .collect();
        assert!(above.is_empty(), "{case}: events above info: {above:?}");
        let ours: Vec<_> = seen
            .iter()
            .filter(|(_, target)| target.starts_with("sealed_session"))
            .collect();
        assert!(ours.len() <= 1, "{case}: more than one event: {ours:?}");
        if case.starts_with("conflict on a write") {
            // The typed API's answer: the client's fault, with no cookie written or deleted.
            assert_eq!(resp.status, 400, "{case}: {resp:?}");
            assert_eq!(resp.set_cookies(), Vec::<String>::new(), "{case}");
        }
    }
    // The user's cookie survived all of it, and the server is serving.
    assert_eq!(user.get("/get").await.body, "42");
}

// ---------------------------------------------------------------------------------------------
// tower-sessions' route_tests!, ported
// ---------------------------------------------------------------------------------------------

/// tower-sessions' `route_tests!` (tests/common/mod.rs of tower-sessions 0.14/0.15), over the
/// bridge. Its routes are kept verbatim (plus `/id`); `build_app(max_age, domain)` maps onto
/// our configuration; the requests go over TCP with the cookie set by hand, as the originals
/// set the `Cookie` header by hand. Each test says whether it runs as written or adapted.
mod route_tests {
    use std::time::Duration as StdDuration;

    use axum::Router;
    use axum::routing::get;
    use sealed_session::{Algorithm, Lifetime, SameSite, SessionConfig, TowerSessionsLayer};
    use time::{Duration, OffsetDateTime};
    use tower_sessions_core::{Expiry, Session};

    use crate::common::key_string;
    use crate::harness::{Client, Resp, Server, SetCookie, serve_axum};

    /// tower-sessions' `routes()`, verbatim, plus `/id` (for `cycle_session_id`).
    pub(super) fn routes() -> Router {
        Router::new()
            .route("/", get(|_: Session| async move { "Hello, world!" }))
            .route(
                "/insert",
                get(|session: Session| async move {
                    session.insert("foo", 42).await.unwrap();
                }),
            )
            .route(
                "/get",
                get(|session: Session| async move {
                    format!("{}", session.get::<usize>("foo").await.unwrap().unwrap())
                }),
            )
            .route(
                "/get_value",
                get(|session: Session| async move {
                    format!("{:?}", session.get_value("foo").await.unwrap())
                }),
            )
            .route(
                "/remove",
                get(|session: Session| async move {
                    session.remove::<usize>("foo").await.unwrap();
                }),
            )
            .route(
                "/remove_value",
                get(|session: Session| async move {
                    session.remove_value("foo").await.unwrap();
                }),
            )
            .route(
                "/cycle_id",
                get(|session: Session| async move {
                    session.cycle_id().await.unwrap();
                }),
            )
            .route(
                "/flush",
                get(|session: Session| async move {
                    session.flush().await.unwrap();
                }),
            )
            .route(
                "/set_expiry",
                get(|session: Session| async move {
                    let expiry = Expiry::AtDateTime(OffsetDateTime::now_utc() + Duration::days(1));
                    session.set_expiry(Some(expiry));
                }),
            )
            .route(
                "/remove_expiry",
                get(|session: Session| async move {
                    session.set_expiry(Some(Expiry::OnSessionEnd));
                }),
            )
            .route(
                "/id",
                get(|session: Session| async move { format!("{:?}", session.id()) }),
            )
    }

    /// tower-sessions' `build_app(SessionManagerLayer::new(MemoryStore).with_secure(true),
    /// max_age, domain)`: cookie `id`, `SameSite=Strict`, `Secure`, and
    /// - `max_age = Some(d)` (`with_expiry(Expiry::OnInactivity(d))`): a persistent lifetime
    ///   with idle timeout `d`, under maxima of 2 and 7 days (they cap `set_expiry`, so they
    ///   leave it room);
    /// - `max_age = None` (no expiry: no `Max-Age`): a browser-session lifetime;
    /// - `domain` (`with_domain`): `Domain`.
    async fn build_app(max_age: Option<Duration>, domain: Option<String>) -> Server {
        let mut config = SessionConfig::builder()
            .cookie_name("id")
            .same_site(SameSite::Strict)
            .secure(true);
        config = match max_age {
            Some(max_age) => config
                .idle_timeout(StdDuration::from_secs(2 * 86_400))
                .max_lifetime(StdDuration::from_secs(7 * 86_400))
                .lifetime(
                    Lifetime::persistent().with_idle_timeout(StdDuration::from_secs(
                        u64::try_from(max_age.whole_seconds()).unwrap(),
                    )),
                ),
            None => config.lifetime(Lifetime::browser_session()),
        };
        if let Some(domain) = domain {
            config = config.domain(domain);
        }
        let ring = key_string(Algorithm::Aes256Gcm).parse().unwrap();
        serve_axum(routes().layer(TowerSessionsLayer::new(ring, config.build().unwrap()))).await
    }

    /// `GET uri` with exactly this `Cookie` header (none for `None`), as the originals'
    /// `Request::builder().uri(..).header(COOKIE, ..)`, on a fresh client.
    async fn request(app: &Server, uri: &str, cookie: Option<&SetCookie>) -> Resp {
        let mut client = Client::new(app.addr);
        match cookie {
            Some(cookie) => {
                client
                    .get_with(uri, &[&format!("{}={}", cookie.name, cookie.value)])
                    .await
            }
            None => client.get_with(uri, &[]).await,
        }
    }

    /// The original `get_session_cookie`: the first `Set-Cookie`, parsed.
    fn get_session_cookie(res: &Resp) -> SetCookie {
        SetCookie::parse(
            res.set_cookies()
                .first()
                .unwrap_or_else(|| panic!("no Set-Cookie: {res:?}")),
        )
    }

    /// `cookie.max_age()`: the `Max-Age` attribute, if any.
    fn max_age(cookie: &SetCookie) -> Option<Duration> {
        cookie
            .attr("Max-Age")
            .map(|value| Duration::seconds(value.unwrap().parse().unwrap()))
    }

    fn http_only(cookie: &SetCookie) -> Option<bool> {
        cookie.attr("HttpOnly").map(|_| true)
    }

    fn secure(cookie: &SetCookie) -> Option<bool> {
        cookie.attr("Secure").map(|_| true)
    }

    fn same_site(cookie: &SetCookie) -> Option<&str> {
        cookie.attr("SameSite").flatten()
    }

    fn path(cookie: &SetCookie) -> Option<&str> {
        cookie.attr("Path").flatten()
    }

    fn domain(cookie: &SetCookie) -> Option<&str> {
        cookie.attr("Domain").flatten()
    }

    /// `d` within one second of `expected`.
    fn assert_about(actual: Duration, expected: Duration) {
        let tolerance = Duration::seconds(1);
        assert!(
            actual >= expected - tolerance && actual <= expected + tolerance,
            "Duration is not within the acceptable range: {actual:?}"
        );
    }

    /// As written.
    #[tokio::test]
    async fn no_session_set() {
        let app = build_app(Some(Duration::hours(1)), None).await;
        let res = request(&app, "/", None).await;

        assert_eq!(res.status, 200, "{res:?}");
        assert_eq!(res.body, "Hello, world!");
        assert!(res.set_cookies().is_empty(), "{res:?}");
    }

    /// As written: `AAAAAAAAAAAAAAAAAAAAAA` (a well-formed tower-sessions id) is not a sealed
    /// session, so it does not open, and `/insert` starts a new one.
    #[tokio::test]
    async fn bogus_session_cookie() {
        let app = build_app(Some(Duration::hours(1)), None).await;
        let res = Client::new(app.addr)
            .get_with("/insert", &["id=AAAAAAAAAAAAAAAAAAAAAA"])
            .await;
        let session_cookie = get_session_cookie(&res);

        assert_eq!(res.status, 200, "{res:?}");
        assert_ne!(session_cookie.value, "AAAAAAAAAAAAAAAAAAAAAA");
        // Beyond the original: a new, working session (not a deletion).
        assert!(!session_cookie.is_removal(), "{}", session_cookie.line);
        assert_eq!(
            request(&app, "/get", Some(&session_cookie)).await.body,
            "42"
        );
    }

    /// As written: a cookie that does not open is deleted even on a route that never touches
    /// the session (the `Set-Cookie` the original unwraps is that deletion).
    #[tokio::test]
    async fn malformed_session_cookie() {
        let app = build_app(Some(Duration::hours(1)), None).await;
        let res = Client::new(app.addr).get_with("/", &["id=malformed"]).await;

        let session_cookie = get_session_cookie(&res);
        assert_ne!(session_cookie.value, "malformed");
        assert_eq!(res.status, 200, "{res:?}");
        // Beyond the original: it is the deletion.
        assert!(session_cookie.is_removal(), "{}", session_cookie.line);
        assert_eq!(session_cookie.name, "id");
    }

    /// As written.
    #[tokio::test]
    async fn insert_session() {
        let app = build_app(Some(Duration::hours(1)), None).await;
        let res = request(&app, "/insert", None).await;
        let session_cookie = get_session_cookie(&res);

        assert_eq!(session_cookie.name, "id");
        assert_eq!(http_only(&session_cookie), Some(true));
        assert_eq!(same_site(&session_cookie), Some("Strict"));
        assert!(max_age(&session_cookie).is_some_and(|dt| dt <= Duration::hours(1)));
        assert_eq!(secure(&session_cookie), Some(true));
        assert_eq!(path(&session_cookie), Some("/"));
    }

    /// As written.
    #[tokio::test]
    async fn session_max_age() {
        let app = build_app(None, None).await;
        let res = request(&app, "/insert", None).await;
        let session_cookie = get_session_cookie(&res);

        assert_eq!(session_cookie.name, "id");
        assert_eq!(http_only(&session_cookie), Some(true));
        assert_eq!(same_site(&session_cookie), Some("Strict"));
        assert!(max_age(&session_cookie).is_none());
        assert_eq!(secure(&session_cookie), Some(true));
        assert_eq!(path(&session_cookie), Some("/"));
    }

    /// As written.
    #[tokio::test]
    async fn get_session() {
        let app = build_app(Some(Duration::hours(1)), None).await;

        let res = request(&app, "/insert", None).await;
        let session_cookie = get_session_cookie(&res);

        let res = request(&app, "/get", Some(&session_cookie)).await;
        assert_eq!(res.status, 200, "{res:?}");

        assert_eq!(res.body, "42");
    }

    /// As written.
    #[tokio::test]
    async fn get_no_value() {
        let app = build_app(Some(Duration::hours(1)), None).await;

        let res = request(&app, "/get_value", None).await;

        assert_eq!(res.body, "None");
    }

    /// Adapted: the original reads `/get_value` with the cookie from *before* `/remove_value`
    /// and expects `None`, which needs the store to forget the value. A sealed cookie carries
    /// its data, so that copy still opens with `foo = 42` (the stateless limitation, asserted
    /// below); the cookie `/remove_value` returns is the one without it.
    #[tokio::test]
    async fn remove_last_value() {
        let app = build_app(Some(Duration::hours(1)), None).await;

        let res = request(&app, "/insert", None).await;
        let session_cookie = get_session_cookie(&res);

        let res = request(&app, "/remove_value", Some(&session_cookie)).await;
        let removed_cookie = get_session_cookie(&res);
        // `remove_value` leaves the session (its id, no data), so this is not a deletion.
        assert!(!removed_cookie.is_removal(), "{}", removed_cookie.line);

        let res = request(&app, "/get_value", Some(&removed_cookie)).await;

        assert_eq!(res.body, "None");

        // The original's request, with the pre-removal cookie: still there, statelessly.
        let res = request(&app, "/get_value", Some(&session_cookie)).await;
        assert_eq!(res.body, "Some(Number(42))");
    }

    /// As written, and stronger: the cookie values differ trivially (every seal has a fresh
    /// nonce), so the session ids are compared too (through the extra `/id` route).
    #[tokio::test]
    async fn cycle_session_id() {
        let app = build_app(Some(Duration::hours(1)), None).await;

        let res = request(&app, "/insert", None).await;
        let first_session_cookie = get_session_cookie(&res);

        let res = request(&app, "/cycle_id", Some(&first_session_cookie)).await;
        let second_session_cookie = get_session_cookie(&res);

        let res = request(&app, "/get", Some(&second_session_cookie)).await;

        assert_ne!(first_session_cookie.value, second_session_cookie.value);
        assert_eq!(res.body, "42");

        let first_id = request(&app, "/id", Some(&first_session_cookie)).await.body;
        let second_id = request(&app, "/id", Some(&second_session_cookie))
            .await
            .body;
        assert!(first_id.starts_with("Some(Id("), "{first_id}");
        assert!(second_id.starts_with("Some(Id("), "{second_id}");
        assert_ne!(first_id, second_id);
    }

    /// As written.
    #[tokio::test]
    async fn flush_session() {
        let app = build_app(Some(Duration::hours(1)), None).await;

        let res = request(&app, "/insert", None).await;
        let session_cookie = get_session_cookie(&res);

        let res = request(&app, "/flush", Some(&session_cookie)).await;

        let session_cookie = get_session_cookie(&res);

        assert_eq!(session_cookie.value, "");
        assert_eq!(max_age(&session_cookie), Some(Duration::ZERO));
        assert_eq!(path(&session_cookie), Some("/"));
    }

    /// As written.
    #[tokio::test]
    async fn flush_with_domain() {
        let app = build_app(Some(Duration::hours(1)), Some("localhost".to_string())).await;

        let res = request(&app, "/insert", None).await;
        let session_cookie = get_session_cookie(&res);

        let res = request(&app, "/flush", Some(&session_cookie)).await;

        let session_cookie = get_session_cookie(&res);

        assert_eq!(session_cookie.value, "");
        assert_eq!(max_age(&session_cookie), Some(Duration::ZERO));
        assert_eq!(domain(&session_cookie), Some("localhost"));
        assert_eq!(path(&session_cookie), Some("/"));
    }

    /// As written.
    #[tokio::test]
    async fn set_expiry() {
        let app = build_app(Some(Duration::hours(1)), Some("localhost".to_string())).await;

        let res = request(&app, "/insert", None).await;
        let session_cookie = get_session_cookie(&res);

        assert_about(max_age(&session_cookie).unwrap(), Duration::hours(1));

        let res = request(&app, "/set_expiry", Some(&session_cookie)).await;

        let session_cookie = get_session_cookie(&res);

        assert_about(max_age(&session_cookie).unwrap(), Duration::days(1));
    }

    /// As written.
    #[tokio::test]
    async fn change_expiry_type() {
        let app = build_app(None, Some("localhost".to_string())).await;

        let res = request(&app, "/insert", None).await;
        let session_cookie = get_session_cookie(&res);

        let expected_duration = None;
        let actual_duration = max_age(&session_cookie);

        assert_eq!(actual_duration, expected_duration, "Duration is not None");

        let res = request(&app, "/set_expiry", Some(&session_cookie)).await;

        let session_cookie = get_session_cookie(&res);

        assert!(max_age(&session_cookie).is_some(), "Duration is None");
        assert_about(max_age(&session_cookie).unwrap(), Duration::days(1));

        let app2 = build_app(Some(Duration::hours(1)), Some("localhost".to_string())).await;

        let res = request(&app2, "/insert", None).await;
        let session_cookie = get_session_cookie(&res);

        assert_about(max_age(&session_cookie).unwrap(), Duration::hours(1));

        let res = request(&app2, "/remove_expiry", Some(&session_cookie)).await;

        let session_cookie = get_session_cookie(&res);

        let expected_duration = None;
        let actual_duration = max_age(&session_cookie);

        assert_eq!(actual_duration, expected_duration, "Duration is not None");
    }
}
