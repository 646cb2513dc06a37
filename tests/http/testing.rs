//! The test kit (`sealed_session::testing`, feature `test-util`) against real servers: the
//! typed layer behind plain hyper and behind axum, over TCP with a real hyper client
//! (`tests/harness`), and the tower-sessions bridge behind an axum `Router` through
//! `tower::ServiceExt::oneshot`; each over AES-256-GCM and XChaCha20-Poly1305.
//!
//! What is checked: a cookie the kit seals opens in the application (data, flash, lifetime,
//! age, chunks), what the application sends opens in the kit (`Sent`), the assertions say
//! what they found, and bad input is an error of the same kind as in production, never a
//! panic.
#![cfg(all(
    feature = "test-util",
    feature = "axum",
    feature = "hyper",
    feature = "tower-sessions"
))]

use crate::{common, harness};

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use common::{ALGORITHMS, DAY, NAME, T0};
use harness::{Adapter, Client, TestSession, serve_layer};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use sealed_session::testing::{MockClock, Sent, TestSessions, TestTowerSessions};
use sealed_session::{
    Algorithm, Key, KeyRing, Lifetime, OpenErrorKind, SameSite, SessionConfig, SessionError,
    SessionLayer, TowerSessionsLayer,
};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use tower_sessions_core::Session as KvSession;

/// A layer over a one-key ring of `algorithm` on `clock`, and the kit made from it.
fn layer(
    algorithm: Algorithm,
    config: SessionConfig,
    clock: &MockClock,
) -> (SessionLayer<TestSession>, TestSessions<TestSession>) {
    let ring = KeyRing::new(Key::generate(algorithm));
    let layer = SessionLayer::<TestSession>::new(ring, config).with_clock(clock.clone());
    let kit = TestSessions::new(&layer);
    (layer, kit)
}

fn ann() -> TestSession {
    TestSession {
        user: Some("ann".to_owned()),
        ..TestSession::default()
    }
}

/// The typed layer: the kit's cookies open in the server, and the server's open in the kit.
async fn typed_round_trip(adapter: Adapter, algorithm: Algorithm) {
    let clock = MockClock::new(T0);
    let (layer, kit) = layer(algorithm, SessionConfig::default(), &clock);
    let server = serve_layer(adapter, layer).await;
    let mut client = Client::new(server.addr);
    let cookie = kit.cookie_header(&ann());
    let cookie = cookie.to_str().unwrap();

    // Logged in without logging in; a read-only request leaves the session alone.
    let resp = client.get_with("/me", &[cookie]).await;
    assert_eq!((resp.status, resp.body.as_str()), (200, "ann"));
    kit.assert_no_set_cookie(&resp.headers);
    assert!(kit.read(&resp.headers).unwrap().is_nothing());

    // A change: the response's session is read back.
    let resp = client.get_with("/", &[cookie]).await;
    assert_eq!(resp.body, "visits: 1");
    let opened = kit.assert_session(&resp.headers);
    assert_eq!(opened.data, TestSession { visits: 1, ..ann() });
    assert!(opened.lifetime.is_persistent() && opened.flash.is_empty());
    assert_eq!(opened.expires, T0 + DAY);

    // Flash from the builder: shown once, and the response removes it.
    let cookie = kit
        .session(ann())
        .flash("saved")
        .flash("again")
        .cookie_header();
    let resp = client.get_with("/flash", &[cookie.to_str().unwrap()]).await;
    assert_eq!(resp.body, "saved\nagain\n");
    let opened = kit.assert_session(&resp.headers);
    assert!(opened.flash.is_empty() && opened.data == ann());

    // A chosen lifetime is what the server reads and re-seals.
    let cookie = kit
        .session(ann())
        .lifetime(Lifetime::browser_session())
        .cookie_header();
    let resp = client.get_with("/", &[cookie.to_str().unwrap()]).await;
    let opened = kit.assert_session(&resp.headers);
    assert!(!opened.lifetime.is_persistent());
    assert!(!resp.set_cookies()[0].contains("Max-Age"), "{resp:?}");

    // Logout deletes the cookie with the session cookie's attributes.
    let resp = client
        .send(
            Method::POST,
            "/logout",
            "",
            Some(&[cookie.to_str().unwrap()]),
        )
        .await;
    assert!(kit.read(&resp.headers).unwrap().is_deleted());
    kit.assert_deleted(&resp.headers);

    // Nearly at the absolute lifetime (7 days): live now, refused a minute later.
    let old = kit
        .session(ann())
        .created_ago(Duration::from_secs(7 * DAY - 60))
        .cookie_header();
    let old = old.to_str().unwrap();
    assert_eq!(client.get_with("/me", &[old]).await.body, "ann");
    clock.advance(Duration::from_secs(60));
    assert_eq!(client.get_with("/me", &[old]).await.status, 401);

    // Idle for longer than the idle timeout (a day): refused.
    let idle = kit
        .session(ann())
        .sealed_ago(Duration::from_secs(DAY + 1))
        .cookie_header();
    assert_eq!(
        client
            .get_with("/me", &[idle.to_str().unwrap()])
            .await
            .status,
        401
    );
    server.shutdown().await;
}

#[tokio::test]
async fn typed_round_trip_hyper_aes_256_gcm() {
    typed_round_trip(Adapter::Hyper, Algorithm::Aes256Gcm).await;
}

#[tokio::test]
async fn typed_round_trip_hyper_xchacha20_poly1305() {
    typed_round_trip(Adapter::Hyper, Algorithm::XChaCha20Poly1305).await;
}

#[tokio::test]
async fn typed_round_trip_axum_aes_256_gcm() {
    typed_round_trip(Adapter::Axum, Algorithm::Aes256Gcm).await;
}

#[tokio::test]
async fn typed_round_trip_axum_xchacha20_poly1305() {
    typed_round_trip(Adapter::Axum, Algorithm::XChaCha20Poly1305).await;
}

/// A configuration with chunking: a session too large for one cookie is split by the kit as
/// by a response, the server reads it whole, and the kit reads the server's chunks whole.
#[tokio::test]
async fn chunked_sessions_both_ways() {
    for algorithm in ALGORITHMS {
        for adapter in [Adapter::Hyper, Adapter::Axum] {
            let clock = MockClock::new(T0);
            let config = SessionConfig::builder()
                .max_chunks(3)
                .cookie_header_budget(12 * 1024)
                .build()
                .unwrap();
            let (layer, kit) = layer(algorithm, config, &clock);
            let server = serve_layer(adapter, layer).await;
            let big = TestSession {
                blob: "x".repeat(6000),
                ..ann()
            };
            let cookie = kit.cookie_header(&big);
            let cookie = cookie.to_str().unwrap();
            assert!(cookie.contains(&format!("; {NAME}.1=")), "not chunked");
            let mut client = Client::new(server.addr);
            let resp = client.get_with("/len", &[cookie]).await;
            assert_eq!(resp.body, "len: 6000");
            let resp = client.get_with("/", &[cookie]).await;
            assert!(resp.set_cookies().len() >= 2, "{resp:?}");
            let opened = kit.assert_session(&resp.headers);
            assert_eq!((opened.data.visits, opened.data.blob.len()), (1, 6000));
            server.shutdown().await;
        }
    }
}

/// Bad input is an error of its kind: a value too large is the `TooLarge` a handler gets, a
/// tampered or foreign value set by a response is an `OpenError`, never a panic.
#[tokio::test]
async fn bad_input_is_an_error_of_its_kind() {
    for algorithm in ALGORITHMS {
        let clock = MockClock::new(T0);
        let (layer, kit) = layer(algorithm, SessionConfig::default(), &clock);
        let big = TestSession {
            blob: "y".repeat(5000),
            ..ann()
        };
        let handler = layer.sessions().begin((), "/").set(big.clone());
        let kit_error = kit.try_cookie_header(&big).unwrap_err();
        assert!(matches!(kit_error, SessionError::TooLarge { .. }));
        assert_eq!(Err(kit_error), handler);

        let ring = layer.ring().clone();
        let server = serve_layer(Adapter::Axum, layer).await;
        let mut client = Client::new(server.addr);
        let resp = client
            .get_with("/", &[kit.cookie_header(&ann()).to_str().unwrap()])
            .await;
        let line = resp.set_cookies()[0].clone();

        // A tampered value: one character of the sealed value changed.
        let at = NAME.len() + 20;
        let flipped = if &line[at..=at] == "A" { "B" } else { "A" };
        let tampered = format!("{}{flipped}{}", &line[..at], &line[at + 1..]);
        let error = kit.read(&headers(&[&tampered])).unwrap_err();
        assert_eq!(error.kind(), OpenErrorKind::Unauthentic);

        // A value sealed for another cookie name, set under this one.
        let other = SessionConfig::builder()
            .cookie_name("other")
            .build()
            .unwrap();
        let other = TestSessions::new(
            SessionLayer::<TestSession>::new(ring.clone(), other).with_clock(clock.clone()),
        );
        let foreign = other.cookie_header(&ann());
        let value = foreign.to_str().unwrap().strip_prefix("other=").unwrap();
        let moved =
            format!("{NAME}={value}; Max-Age=86400; Path=/; Secure; HttpOnly; SameSite=Lax");
        let error = kit.read(&headers(&[&moved])).unwrap_err();
        assert_eq!(error.kind(), OpenErrorKind::Unauthentic);

        // Not a cookie line, and garbage: errors too.
        assert_eq!(
            kit.read(&headers(&[&format!("{NAME}=!!!; Path=/")]))
                .unwrap_err()
                .kind(),
            OpenErrorKind::Malformed
        );
        // Other cookies are not the session's.
        assert!(
            kit.read(&headers(&["theme=dark; Path=/"]))
                .unwrap()
                .is_nothing()
        );
        server.shutdown().await;
    }
}

/// A response's headers with these `Set-Cookie` lines.
fn headers(lines: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines {
        headers.append(SET_COOKIE, HeaderValue::from_str(line).unwrap());
    }
    headers
}

/// The assertions' messages say what they found (and never a cookie value).
#[test]
fn assertion_messages_say_what_was_found() {
    let clock = MockClock::new(T0);
    let (layer, kit) = layer(Algorithm::Aes256Gcm, SessionConfig::default(), &clock);
    let value = kit.cookie_header(&ann());
    let value = value
        .to_str()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let set = format!("{NAME}={value}; Max-Age=86400; Path=/; Secure; HttpOnly; SameSite=Lax");
    let message = panic_message(|| kit.assert_no_set_cookie(&headers(&[&set])));
    assert!(message.contains("expected no Set-Cookie"), "{message}");
    assert!(
        message.contains("Max-Age=86400") && !message.contains(&value),
        "{message}"
    );

    let message = panic_message(|| kit.assert_deleted(&headers(&[&set])));
    assert!(message.contains("but it sets it"), "{message}");
    let message = panic_message(|| kit.assert_deleted(&HeaderMap::new()));
    assert!(message.contains("sets no cookie of that name"), "{message}");
    // A deletion with another Path deletes another cookie.
    let wrong = format!("{NAME}=; Max-Age=0; Path=/app; Secure; HttpOnly; SameSite=Lax");
    let message = panic_message(|| kit.assert_deleted(&headers(&[&wrong])));
    assert!(
        message.contains("/app") && message.contains("keep the session"),
        "{message}"
    );
    let right = format!("{NAME}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax");
    kit.assert_deleted(&headers(&[&right]));

    let message = panic_message(|| {
        let _ = kit.assert_session(&headers(&[&right]));
    });
    assert!(message.contains("deletes it"), "{message}");
    drop(layer);
}

fn panic_message(f: impl FnOnce()) -> String {
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .expect_err("the assertion passed");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// `browser_cookie` has the session cookie's attributes, in WebDriver's JSON shape.
#[test]
fn browser_cookie_has_the_cookies_attributes() {
    let clock = MockClock::new(T0);
    let config = SessionConfig::builder()
        .cookie_name("sid")
        .domain("app.test")
        .path("/app")
        .same_site(SameSite::Strict)
        .build()
        .unwrap();
    let (_layer, kit) = layer(Algorithm::XChaCha20Poly1305, config, &clock);
    let cookie = kit.browser_cookie(&ann(), "https://www.app.test:8443/login");
    assert_eq!(cookie.host, "www.app.test");
    assert_eq!(cookie.domain.as_deref(), Some("app.test"));
    let json = serde_json::to_value(&cookie).unwrap();
    assert_eq!(json["name"], "sid");
    assert_eq!(json["path"], "/app");
    assert_eq!(json["domain"], "app.test");
    assert_eq!(json["sameSite"], "Strict");
    assert_eq!(
        (json["secure"].clone(), json["httpOnly"].clone()),
        (json!(true), json!(true))
    );
    assert!(json["expiry"].as_u64().unwrap() > T0);
    assert!(!format!("{cookie:?}").contains(&cookie.value));

    let session_only = kit
        .session(ann())
        .lifetime(Lifetime::browser_session())
        .browser_cookies("https://app.test");
    assert_eq!(session_only[0].expiry, None);
    assert!(
        serde_json::to_value(&session_only[0])
            .unwrap()
            .get("expiry")
            .is_none()
    );
}

// ---------------------------------------------------------------------------------------------
// The tower-sessions bridge, through `oneshot`
// ---------------------------------------------------------------------------------------------

/// An axum app on the bridge: `GET /me` answers the record's `user`, `POST /count` adds one to
/// `n`, `POST /logout` flushes the session.
fn bridge_app(layer: TowerSessionsLayer) -> Router {
    async fn me(session: KvSession) -> (StatusCode, String) {
        match session.get::<String>("user").await {
            Ok(Some(user)) => (StatusCode::OK, user),
            _ => (StatusCode::UNAUTHORIZED, "not logged in".to_owned()),
        }
    }
    async fn count(session: KvSession) -> String {
        let n = session.get::<u64>("n").await.ok().flatten().unwrap_or(0) + 1;
        session.insert("n", n).await.unwrap();
        format!("n: {n}")
    }
    async fn logout(session: KvSession) -> &'static str {
        session.flush().await.unwrap();
        "bye"
    }
    Router::new()
        .route("/me", get(me))
        .route("/count", post(count))
        .route("/logout", post(logout))
        .layer(layer)
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    cookie: &HeaderValue,
) -> (StatusCode, HeaderMap) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    (response.status(), response.headers().clone())
}

#[tokio::test]
async fn bridge_records_both_ways_through_oneshot() {
    for algorithm in ALGORITHMS {
        let clock = MockClock::new(T0);
        let layer = TowerSessionsLayer::new(
            KeyRing::new(Key::generate(algorithm)),
            SessionConfig::default(),
        )
        .with_clock(clock.clone());
        let kit = TestTowerSessions::new(&layer);
        let app = bridge_app(layer);
        let record: HashMap<String, Value> = HashMap::from([
            ("user".to_owned(), json!("ann")),
            ("n".to_owned(), json!(41)),
        ]);
        let cookie = kit.cookie_header(&record);

        let (status, headers) = call(&app, Method::GET, "/me", &cookie).await;
        assert_eq!(status, StatusCode::OK);
        kit.assert_no_set_cookie(&headers);

        let (_, headers) = call(&app, Method::POST, "/count", &cookie).await;
        let Sent::Session(opened) = kit.read(&headers).unwrap() else {
            panic!("no session set");
        };
        assert_eq!(opened.data["n"], json!(42));
        assert_eq!(opened.data["user"], json!("ann"));

        let (_, headers) = call(&app, Method::POST, "/logout", &cookie).await;
        kit.assert_deleted(&headers);

        // An expired record is refused: the app sees nobody.
        let old = kit
            .session(&record)
            .sealed_ago(Duration::from_secs(DAY))
            .cookie_header();
        let (status, _) = call(&app, Method::GET, "/me", &old).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // Too large: the error a save gets.
        let big = HashMap::from([("blob".to_owned(), json!("z".repeat(5000)))]);
        assert!(matches!(
            kit.try_cookie_header(&big),
            Err(SessionError::TooLarge { .. })
        ));
    }
}
