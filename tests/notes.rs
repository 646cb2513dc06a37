//! `examples/notes.rs` over a real server, tested the way an application tests its own
//! handlers with the test kit: the new user's notes-app tests (issue 20), which took 75 lines
//! of plumbing (a one-cookie jar and sender, CSRF-token scraping, a `logged_in()` helper)
//! before the kit. Here the plumbing is `App` and its two functions, between the markers.
#![cfg(all(feature = "test-util", feature = "axum"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/notes.rs"]
mod notes;

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use notes::Notes;
use sealed_session::testing::{MockClock, TestSessions};
use sealed_session::{Algorithm, CsrfToken, Key, KeyRing, SessionLayer};

// --- plumbing: begin ---
struct App {
    kit: TestSessions<Notes>,
    clock: MockClock,
    base: String,
}

async fn start() -> App {
    let clock = MockClock::new(1_764_000_000);
    let ring = KeyRing::new(Key::generate(Algorithm::XChaCha20Poly1305));
    let layer = SessionLayer::new(ring, notes::config().unwrap()).with_clock(clock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, notes::app(layer.clone())).into_future());
    App {
        kit: TestSessions::new(&layer),
        clock,
        base,
    }
}

async fn send(
    app: &App,
    path: &str,
    cookie: &HeaderValue,
    form: Option<String>,
) -> (StatusCode, HeaderMap, String) {
    let request = Request::builder()
        .method(if form.is_some() { "POST" } else { "GET" })
        .uri(format!("{}{path}", app.base))
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    let response = Client::builder(TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>()
        .request(request.body(Full::from(form.unwrap_or_default())).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap(),
    )
}
// --- plumbing: end ---

/// A session of `user` (or an anonymous one) with a known CSRF token.
fn with_token(user: Option<&str>) -> (Notes, CsrfToken) {
    let token = CsrfToken::generate().unwrap();
    let notes = Notes {
        user: user.map(str::to_owned),
        csrf: Some(token.clone()),
        notes: vec![],
    };
    (notes, token)
}

#[tokio::test]
async fn login_sets_a_session() {
    let app = start().await;
    let (anonymous, token) = with_token(None);
    let form = format!("username=ann&remember=1&csrf={token}");
    let (status, headers, _) = send(
        &app,
        "/login",
        &app.kit.cookie_header(&anonymous),
        Some(form),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let opened = app.kit.assert_session(&headers);
    assert_eq!(opened.data.user.as_deref(), Some("ann"));
    assert_eq!(opened.flash, ["welcome ann"]);
    assert!(opened.lifetime.is_persistent());
}

#[tokio::test]
async fn a_protected_route_refuses_without_a_session() {
    let app = start().await;
    let (status, headers, _) = send(&app, "/notes", &HeaderValue::from_static(""), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.kit.assert_no_set_cookie(&headers);
    let (ann, _) = with_token(Some("ann"));
    let (status, _, _) = send(&app, "/notes", &app.kit.cookie_header(&ann), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_bad_csrf_token_is_refused() {
    let app = start().await;
    let (ann, _) = with_token(Some("ann"));
    let form = format!("text=hi&csrf={}", CsrfToken::generate().unwrap());
    let (status, headers, _) = send(&app, "/notes", &app.kit.cookie_header(&ann), Some(form)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.kit.assert_no_set_cookie(&headers);
}

#[tokio::test]
async fn flash_shows_once() {
    let app = start().await;
    let (ann, token) = with_token(Some("ann"));
    let form = format!("text=buy+milk&csrf={token}");
    let (_, headers, _) = send(&app, "/notes", &app.kit.cookie_header(&ann), Some(form)).await;
    let added = app.kit.assert_session(&headers);
    assert_eq!(
        (added.data.notes.clone(), added.flash.clone()),
        (vec!["buy milk".to_owned()], vec!["note added".to_owned()])
    );
    let cookie = app
        .kit
        .session(added.data)
        .flash("note added")
        .cookie_header();
    let (_, headers, page) = send(&app, "/", &cookie, None).await;
    assert!(
        page.contains("note added") && page.contains("buy milk"),
        "{page}"
    );
    assert!(
        app.kit.assert_session(&headers).flash.is_empty(),
        "shown twice"
    );
}

/// Issue 19 F4: the logout ends the session, and the next page says so with a flash (before,
/// a flash after `destroy()` answered 500).
#[tokio::test]
async fn logout_ends_the_session_and_flashes_logged_out() {
    let app = start().await;
    let (ann, token) = with_token(Some("ann"));
    let cookie = app.kit.cookie_header(&ann);
    let (status, headers, _) = send(&app, "/logout", &cookie, Some(format!("csrf={token}"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/login");
    // The old cookie is replaced by a new, empty session that carries only the flash.
    let after = app.kit.assert_session(&headers);
    assert_eq!(after.data.user, None);
    assert_eq!(after.flash, ["logged out"]);
    // The login page shows it once.
    let set_cookie = headers[header::SET_COOKIE].to_str().unwrap();
    let next = HeaderValue::from_str(set_cookie.split(';').next().unwrap()).unwrap();
    let (status, headers, body) = send(&app, "/login", &next, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<p class=flash>logged out</p>"), "{body}");
    assert!(
        app.kit.assert_session(&headers).flash.is_empty(),
        "shown twice"
    );
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let app = start().await;
    let (ann, _) = with_token(Some("ann"));
    let cookie = app.kit.cookie_header(&ann); // a plain login: a day idle
    app.clock.advance(Duration::from_secs(24 * 3600));
    let (status, _, _) = send(&app, "/notes", &cookie, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
