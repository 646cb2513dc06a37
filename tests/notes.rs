//! `examples/notes.rs` tested the way an application tests its own handlers with the test kit:
//! the new user's notes-app tests (issue 20), which took 75 lines of plumbing (a one-cookie jar
//! and sender, CSRF-token scraping, a `logged_in()` helper) before the kit. The kit seals each
//! request's session and reads each response's; the app's `Router`, behind its real layer and
//! ciphers, answers through `tower::ServiceExt::oneshot`, as an application's own tests call
//! it. Here the plumbing is `start` and `send`, between the markers.
#![cfg(all(feature = "test-util", feature = "axum"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/notes.rs"]
mod notes;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use notes::Notes;
use sealed_session::testing::{MockClock, TestSessions};
use sealed_session::{Algorithm, CsrfToken, Key, KeyRing, SessionLayer};
use tower::ServiceExt as _;

// --- plumbing: begin ---
fn start() -> (Router, TestSessions<Notes>, MockClock) {
    let clock = MockClock::new(1_764_000_000);
    let ring = KeyRing::new(Key::generate(Algorithm::XChaCha20Poly1305));
    let layer = SessionLayer::new(ring, notes::config().unwrap()).with_clock(clock.clone());
    (notes::app(layer.clone()), TestSessions::new(&layer), clock)
}

async fn send(app: &Router, path: &str, cookie: &HeaderValue, form: &str) -> Response<String> {
    let request = Request::builder().method(if form.is_empty() { "GET" } else { "POST" });
    let request = request.uri(path).header(COOKIE, cookie);
    let request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    let request = request.body(Body::from(form.to_owned())).unwrap();
    let (parts, body) = app.clone().oneshot(request).await.unwrap().into_parts();
    let page = body.collect().await.unwrap().to_bytes();
    Response::from_parts(parts, String::from_utf8(page.to_vec()).unwrap())
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
    let (app, kit, _) = start();
    let (anonymous, token) = with_token(None);
    let form = format!("username=ann&remember=1&csrf={token}");
    let response = send(&app, "/login", &kit.cookie_header(&anonymous), &form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let opened = kit.assert_session(response.headers());
    assert_eq!(opened.data.user.as_deref(), Some("ann"));
    assert_eq!(opened.flash, ["welcome ann"]);
    assert!(opened.lifetime.is_persistent());
}

#[tokio::test]
async fn a_protected_route_refuses_without_a_session() {
    let (app, kit, _) = start();
    let response = send(&app, "/notes", &HeaderValue::from_static(""), "").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    kit.assert_no_set_cookie(response.headers());
    let (ann, _) = with_token(Some("ann"));
    let response = send(&app, "/notes", &kit.cookie_header(&ann), "").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_bad_csrf_token_is_refused() {
    let (app, kit, _) = start();
    let (ann, _) = with_token(Some("ann"));
    let form = format!("text=hi&csrf={}", CsrfToken::generate().unwrap());
    let response = send(&app, "/notes", &kit.cookie_header(&ann), &form).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    kit.assert_no_set_cookie(response.headers());
}

#[tokio::test]
async fn flash_shows_once() {
    let (app, kit, _) = start();
    let (ann, token) = with_token(Some("ann"));
    let form = format!("text=buy+milk&csrf={token}");
    let response = send(&app, "/notes", &kit.cookie_header(&ann), &form).await;
    let added = kit.assert_session(response.headers());
    assert_eq!(
        (added.data.notes.clone(), added.flash.clone()),
        (vec!["buy milk".to_owned()], vec!["note added".to_owned()])
    );
    let cookie = kit.session(added.data).flash("note added").cookie_header();
    let response = send(&app, "/", &cookie, "").await;
    let page = response.body();
    assert!(
        page.contains("note added") && page.contains("buy milk"),
        "{page}"
    );
    assert!(
        kit.assert_session(response.headers()).flash.is_empty(),
        "shown twice"
    );
}

/// Issue 19 F4: the logout ends the session, and the next page says so with a flash (before,
/// a flash after `destroy()` answered 500).
#[tokio::test]
async fn logout_ends_the_session_and_flashes_logged_out() {
    let (app, kit, _) = start();
    let (ann, token) = with_token(Some("ann"));
    let cookie = kit.cookie_header(&ann);
    let response = send(&app, "/logout", &cookie, &format!("csrf={token}")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/login");
    // The old cookie is replaced by a new, empty session that carries only the flash.
    let after = kit.assert_session(response.headers());
    assert_eq!(after.data.user, None);
    assert_eq!(after.flash, ["logged out"]);
    // The login page shows it once.
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    let next = HeaderValue::from_str(set_cookie.split(';').next().unwrap()).unwrap();
    let response = send(&app, "/login", &next, "").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.body();
    assert!(body.contains("<p class=flash>logged out</p>"), "{body}");
    assert!(
        kit.assert_session(response.headers()).flash.is_empty(),
        "shown twice"
    );
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let (app, kit, clock) = start();
    let (ann, _) = with_token(Some("ann"));
    let cookie = kit.cookie_header(&ann); // a plain login: a day idle
    clock.advance(Duration::from_secs(24 * 3600));
    let response = send(&app, "/notes", &cookie, "").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
