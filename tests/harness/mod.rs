//! Real servers on `127.0.0.1:0` and a cookie-keeping HTTP client, shared by the HTTP suites
//! (the modules of `tests/http/`, one test binary, and `bridge-tests`); the fixtures are in `tests/common`.
//!
//! - [`serve`] starts either a plain hyper 1 server (hyper-util's auto builder: HTTP/1.1 and
//!   HTTP/2 with prior knowledge) whose `service_fn` handler is wrapped by
//!   `SessionLayer::layer`, or an axum 0.8 app behind `axum::serve`. Both expose the same
//!   routes over the same [`TestSession`] type (see [`route`] and [`axum_router`]), so one
//!   scenario suite ([`scenarios!`], bodies in [`scenario`]) runs on both.
//! - Time comes from an injected [`Clock`] that the test advances: nothing sleeps.
//! - [`Client`] is a real hyper client over TCP that keeps a cookie jar (applying `Max-Age=0`
//!   deletions), records every raw `Set-Cookie` line, and can send arbitrary raw `Cookie`
//!   fields instead of its jar (several fields, as HTTP/2 crumbs).
//! - [`Logs`] captures `tracing` output at TRACE level on the current thread (scenario tests
//!   run on a current-thread runtime, so the server's events land there too).
#![allow(dead_code, unreachable_pub)]

#[cfg(feature = "__actix-tests")]
pub(crate) mod actix;
pub(crate) mod chunks;
pub(crate) mod dayone;
pub(crate) mod lifecycle;
pub(crate) mod scenario;
pub(crate) mod security;

pub(crate) use crate::common::{T0, key_id, key_string, sealed_key_id};

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sealed_session::{
    Algorithm, Codec, KeyRing, Lifetime, Session, SessionConfig, SessionError, SessionLayer,
};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tower_layer::Layer as _;

/// The session type every route uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TestSession {
    pub(crate) visits: u64,
    pub(crate) user: Option<String>,
    pub(crate) blob: String,
}

/// Which adapter serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Adapter {
    /// A plain hyper 1 server around a `service_fn`, via hyper-util's auto builder.
    Hyper,
    /// An axum 0.8 `Router` behind `axum::serve`.
    Axum,
    /// An actix-web 4 `App` behind `HttpServer` (one worker, on a thread of its own), wrapped
    /// in `sealed_session::actix::SessionMiddleware`.
    #[cfg(feature = "__actix-tests")]
    Actix,
}

/// One instance of the scenario suite.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Instance {
    pub(crate) adapter: Adapter,
    pub(crate) algorithm: Algorithm,
}

impl Instance {
    pub(crate) const fn new(adapter: Adapter, algorithm: Algorithm) -> Self {
        Self { adapter, algorithm }
    }
}

/// The server's clock, in Unix seconds; the test moves it.
#[derive(Clone, Debug)]
pub(crate) struct Clock(Arc<AtomicU64>);

impl Clock {
    pub(crate) fn new(now: u64) -> Self {
        Self(Arc::new(AtomicU64::new(now)))
    }

    pub(crate) fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }

    pub(crate) fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------------
// Routes: one implementation, wired into hyper (`route`) and axum (`axum_router`).
// ---------------------------------------------------------------------------------------------

/// A framework-neutral response.
#[derive(Debug)]
pub(crate) struct Reply {
    status: StatusCode,
    cache_control: Option<String>,
    /// `Set-Cookie` lines of the handler's own.
    set_cookies: Vec<String>,
    location: Option<&'static str>,
    body: String,
}

impl Reply {
    fn ok(body: impl Into<String>) -> Self {
        Self::with_status(StatusCode::OK, body)
    }

    fn with_status(status: StatusCode, body: impl Into<String>) -> Self {
        Self {
            status,
            cache_control: None,
            set_cookies: Vec::new(),
            location: None,
            body: body.into(),
        }
    }

    fn error(error: &SessionError) -> Self {
        let status = match error {
            SessionError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            // Planted cookies: the request's fault, never a 5xx.
            SessionError::Conflict => StatusCode::BAD_REQUEST,
            SessionError::OutsidePath => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::with_status(status, error.to_string())
    }

    fn into_hyper(mut self) -> Response<Full<Bytes>> {
        let body = core::mem::take(&mut self.body);
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = self.status;
        // The same content type axum gives a String, so both adapters answer alike.
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        self.own_headers(response.headers_mut());
        response
    }

    fn own_headers(self, headers: &mut HeaderMap) {
        if let Some(value) = self.cache_control {
            headers.insert(CACHE_CONTROL, HeaderValue::from_str(&value).unwrap());
        }
        for line in self.set_cookies {
            headers.append(SET_COOKIE, HeaderValue::from_str(&line).unwrap());
        }
        if let Some(location) = self.location {
            headers.insert(http::header::LOCATION, HeaderValue::from_static(location));
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(mut self) -> axum::response::Response {
        let body = core::mem::take(&mut self.body);
        let mut response = (self.status, body).into_response();
        self.own_headers(response.headers_mut());
        response
    }
}

type S = Session<TestSession>;

/// `GET /`: increments the visits.
fn visit(session: &S) -> Reply {
    match session.update(|s| {
        s.visits += 1;
        s.visits
    }) {
        Ok(visits) => Reply::ok(format!("visits: {visits}")),
        Err(error) => Reply::error(&error),
    }
}

/// `GET /peek`: reads the visits.
fn peek(session: &S) -> Reply {
    Reply::ok(format!("visits: {}", session.get().visits))
}

/// `POST /login` (body = name): sets the user and cycles the id.
fn login(session: &S, name: &str) -> Reply {
    let name = name.to_owned();
    match session
        .update(|s| s.user = Some(name.clone()))
        .and_then(|()| session.cycle_id())
    {
        Ok(()) => Reply::ok(format!("hello {name}")),
        Err(error) => Reply::error(&error),
    }
}

/// `GET /me`: the user, or 401.
fn me(session: &S) -> Reply {
    match &session.get().user {
        Some(user) => Reply::ok(user.clone()),
        None => Reply::with_status(StatusCode::UNAUTHORIZED, "not logged in"),
    }
}

/// `POST /logout`: destroys the session.
fn logout(session: &S) -> Reply {
    match session.destroy() {
        Ok(()) => Reply::ok("logged out"),
        Err(error) => Reply::error(&error),
    }
}

/// `POST /grow?n=BYTES`: appends `n` bytes to the blob; 413 with the error message when the
/// cookie would be too large.
fn grow(session: &S, query: Option<&str>) -> Reply {
    let n = query
        .and_then(|q| q.strip_prefix("n="))
        .and_then(|n| n.parse::<usize>().ok());
    let Some(n) = n else {
        return Reply::with_status(StatusCode::BAD_REQUEST, "expected ?n=BYTES");
    };
    match session.update(|s| {
        s.blob.extend(core::iter::repeat_n('x', n));
        s.blob.len()
    }) {
        Ok(len) => Reply::ok(format!("len: {len}")),
        Err(error) => Reply::error(&error),
    }
}

/// `GET /len`: the blob's length.
fn len(session: &S) -> Reply {
    Reply::ok(format!("len: {}", session.get().blob.len()))
}

/// `GET /untouched`: never touches the session.
fn untouched() -> Reply {
    Reply::ok("untouched")
}

/// `GET /cached`: sets its own `Cache-Control` and modifies the session.
fn cached(session: &S) -> Reply {
    let mut reply = visit(session);
    reply.cache_control = Some("max-age=60".to_owned());
    reply
}

/// `GET /clear`: resets the data, keeping the id.
fn clear(session: &S) -> Reply {
    match session.clear() {
        Ok(()) => Reply::ok("cleared"),
        Err(error) => Reply::error(&error),
    }
}

/// `GET /id`: the session id or `none`.
fn id(session: &S) -> Reply {
    Reply::ok(
        session
            .id()
            .map_or_else(|| "none".to_owned(), |id| id.to_string()),
    )
}

/// `GET /noop`: an update that changes nothing.
fn noop(session: &S) -> Reply {
    match session.update(|_| ()) {
        Ok(()) => Reply::ok("noop"),
        Err(error) => Reply::error(&error),
    }
}

/// `GET /expires`: `expires_at()` in Unix seconds, or `none`.
fn expires(session: &S) -> Reply {
    Reply::ok(session.expires_at().map_or_else(
        || "none".to_owned(),
        |at| at.duration_since(UNIX_EPOCH).unwrap().as_secs().to_string(),
    ))
}

/// `GET /debug`: the session's `Debug` after reading it.
fn debug(session: &S) -> Reply {
    let _ = session.get();
    Reply::ok(format!("{session:?}"))
}

/// `GET /fields`: how many `Cookie` fields arrived (HTTP/2 crumbs stay separate).
fn fields(headers: &HeaderMap) -> Reply {
    Reply::ok(format!(
        "fields: {}",
        headers.get_all(COOKIE).iter().count()
    ))
}

/// `POST /remember?yes|no|long` (body = name): logs in with a persistent cookie of the longest
/// lifetime (`yes`), a browser-session one (`no`), or asks for 400 days (`long`, capped).
fn remember(session: &S, query: Option<&str>, name: &str) -> Reply {
    let lifetime = match query {
        Some("yes") => Lifetime::persistent(),
        Some("long") => Lifetime::persistent()
            .with_idle_timeout(Duration::from_secs(400 * 86_400))
            .with_max_lifetime(Duration::from_secs(400 * 86_400)),
        _ => Lifetime::browser_session(),
    };
    let name = name.to_owned();
    let result = session
        .update(|s| s.user = Some(name.clone()))
        .and_then(|()| session.renew())
        .and_then(|()| session.set_lifetime(lifetime));
    match result {
        Ok(()) => Reply::ok(format!("hello {name}")),
        Err(error) => Reply::error(&error),
    }
}

/// `POST /flash` (body = message): leaves a flash message and redirects to `/flash`.
fn flash_set(session: &S, message: &str) -> Reply {
    match session.flash(message) {
        Ok(()) => {
            let mut reply = Reply::with_status(StatusCode::SEE_OTHER, "");
            reply.location = Some("/flash");
            reply
        }
        Err(error) => Reply::error(&error),
    }
}

/// `GET /flash`: the pending flash messages, one per line.
fn flash_get(session: &S) -> Reply {
    match session.take_flash() {
        Ok(messages) => Reply::ok(
            messages
                .iter()
                .map(|m| format!("{m}\n"))
                .collect::<String>(),
        ),
        Err(error) => Reply::error(&error),
    }
}

/// `GET /cache?CACHE-CONTROL`: increments the visits and answers with that `Cache-Control`
/// (`+` stands for a space and `!` for a quote); `GET /cache?peek,CACHE-CONTROL` only reads
/// them.
fn cache(session: &S, query: Option<&str>) -> Reply {
    let query = query.unwrap_or_default();
    // `peek,..`: only read the session (a rolling refresh may still re-seal it).
    let (mut reply, directives) = match query.strip_prefix("peek,") {
        Some(directives) => (peek(session), directives),
        None => (visit(session), query),
    };
    reply.cache_control =
        (!directives.is_empty()).then(|| directives.replace('+', " ").replace('!', "\""));
    reply
}

/// `GET /keep?TOKEN`: reads the session and keeps a clone of it in [`KEPT`] under `TOKEN`,
/// as a spawned task would.
fn keep(session: &S, query: Option<&str>) -> Reply {
    let _ = session.get();
    KEPT.lock()
        .unwrap()
        .insert(query.unwrap_or_default().to_owned(), session.clone());
    Reply::ok("kept")
}

/// Sessions kept past their response by `GET /keep` (SECURITY-TESTS F6), by token.
pub(crate) static KEPT: Mutex<BTreeMap<String, S>> = Mutex::new(BTreeMap::new());

/// `GET /own-cookie?NAME`: increments the visits and sets its own `Set-Cookie` for `NAME`
/// (the session's name, SECURITY-TESTS F8) and for `other`.
fn own_cookie(session: &S, query: Option<&str>) -> Reply {
    let mut reply = visit(session);
    let name = query.unwrap_or("__Host-session");
    reply.set_cookies = vec![
        format!("{name}=from-the-handler; Path=/"),
        "other=1; Path=/".to_owned(),
    ];
    reply
}

/// `GET /destroy-then?OP`: destroys the session, then tries `OP` (`set`, `update`, `clear`,
/// `cycle`, `renew`, `destroy`, `get`) and answers with the outcome (SECURITY-TESTS F9).
fn destroy_then(session: &S, query: Option<&str>) -> Reply {
    if let Err(error) = session.destroy() {
        return Reply::error(&error);
    }
    let outcome = match query.unwrap_or_default() {
        "set" => session
            .set(TestSession::default())
            .map(|()| "ok".to_owned()),
        "update" => session.update(|s| s.visits += 1).map(|()| "ok".to_owned()),
        "clear" => session.clear().map(|()| "ok".to_owned()),
        "cycle" => session.cycle_id().map(|()| "ok".to_owned()),
        "renew" => session.renew().map(|()| "ok".to_owned()),
        "destroy" => session.destroy().map(|()| "ok".to_owned()),
        _ => Ok(format!("visits: {}", session.get().visits)),
    };
    Reply::ok(match outcome {
        Ok(text) => text,
        Err(error) => format!("{error:?}"),
    })
}

/// `GET /fail`: increments the visits, then answers 500 (a changed session on a 5xx).
fn fail(session: &S) -> Reply {
    let _ = visit(session);
    Reply::with_status(StatusCode::INTERNAL_SERVER_ERROR, "failed")
}

/// `POST /fail-logout`: destroys the session, then answers 500.
fn fail_logout(session: &S) -> Reply {
    let _ = session.destroy();
    Reply::with_status(StatusCode::INTERNAL_SERVER_ERROR, "failed")
}

/// `GET /flip`: increments the visits and sets them back, in one request
/// (SECURITY-TESTS F13).
fn flip(session: &S) -> Reply {
    let before = session.get().visits;
    let up = session.update(|s| s.visits += 1);
    let down = session.update(|s| s.visits -= 1);
    match up.and(down) {
        Ok(()) => Reply::ok(format!("visits: {before}")),
        Err(error) => Reply::error(&error),
    }
}

/// A session type whose `None` field postcard skips: it never decodes back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LossySkip {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<u32>,
    pub(crate) count: u32,
}

/// A session type with an untagged enum, which postcard cannot decode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Untagged {
    Number(u32),
    Text(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LossyUntagged {
    pub(crate) value: Untagged,
}

impl Default for LossyUntagged {
    fn default() -> Self {
        Self {
            value: Untagged::Number(0),
        }
    }
}

/// A session type with a flattened field, which postcard cannot serialize (a map of unknown
/// length).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LossyFlatten {
    #[serde(flatten)]
    pub(crate) inner: FlatInner,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FlatInner {
    pub(crate) count: u32,
}

/// `GET /lossy/CASE`: sets a value postcard cannot round-trip (`skip`, `untagged`, `flatten`)
/// or one it can (`skip-ok`), in a second session layer of its own type (cookie `lossy-CASE`),
/// and answers with the outcome (SECURITY-TESTS F12).
fn lossy(extensions: &http::Extensions, case: &str) -> Reply {
    lossy_cases(
        extensions.get::<Session<LossySkip>>(),
        extensions.get::<Session<LossyUntagged>>(),
        extensions.get::<Session<LossyFlatten>>(),
        case,
    )
}

/// `/lossy/CASE` over the round-trip cases' sessions, wherever the adapter keeps them.
fn lossy_cases(
    skip: Option<&Session<LossySkip>>,
    untagged: Option<&Session<LossyUntagged>>,
    flatten: Option<&Session<LossyFlatten>>,
    case: &str,
) -> Reply {
    let outcome = match case {
        "skip" | "skip-ok" => skip.map(|session| {
            let note = (case == "skip-ok").then_some(7);
            let result = session.set(LossySkip { note, count: 1 });
            (result, session.get().count)
        }),
        "untagged" => untagged.map(|session| {
            let result = session.set(LossyUntagged {
                value: Untagged::Text("x".to_owned()),
            });
            (
                result,
                u32::from(session.get().value != Untagged::Number(0)),
            )
        }),
        "flatten" => flatten.map(|session| {
            let result = session.update(|s| s.inner.count += 1);
            (result, session.get().inner.count)
        }),
        _ => None,
    };
    match outcome {
        Some((Ok(()), count)) => Reply::ok(format!("ok {count}")),
        Some((Err(error), count)) => Reply::ok(format!("{error:?} {count}")),
        None => Reply::with_status(StatusCode::NOT_FOUND, "no such case"),
    }
}

/// The hyper router: the same routes as [`axum_router`].
pub(crate) fn route(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    session: &S,
) -> Reply {
    match (method.as_str(), uri.path()) {
        // `/app`: the same, inside a cookie `Path=/app`.
        ("GET", "/" | "/app") => visit(session),
        ("GET", "/peek") => peek(session),
        ("POST", "/login") => login(session, &String::from_utf8_lossy(body)),
        ("GET", "/me") => me(session),
        ("POST", "/logout") => logout(session),
        ("POST", "/grow") => grow(session, uri.query()),
        ("GET", "/len") => len(session),
        ("GET", "/untouched") => untouched(),
        ("GET", "/cached") => cached(session),
        ("GET", "/clear") => clear(session),
        ("GET", "/id") => id(session),
        ("GET", "/noop") => noop(session),
        ("GET", "/expires") => expires(session),
        ("GET", "/debug") => debug(session),
        ("GET", "/fields") => fields(headers),
        ("GET", "/cache") => cache(session, uri.query()),
        ("GET", "/keep") => keep(session, uri.query()),
        ("GET", "/own-cookie") => own_cookie(session, uri.query()),
        ("GET", "/destroy-then") => destroy_then(session, uri.query()),
        ("GET", "/fail") => fail(session),
        ("POST", "/fail-logout") => fail_logout(session),
        ("GET", "/flip") => flip(session),
        ("POST", "/remember") => remember(session, uri.query(), &String::from_utf8_lossy(body)),
        ("POST", "/flash") => flash_set(session, &String::from_utf8_lossy(body)),
        ("GET", "/flash") => flash_get(session),
        _ => Reply::with_status(StatusCode::NOT_FOUND, "not found"),
    }
}

/// The hyper handler: what a user writes around `service_fn`.
async fn hyper_handler(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let reply = match (
        parts.uri.path().strip_prefix("/lossy/"),
        parts.extensions.get::<S>(),
    ) {
        (Some(case), _) => lossy(&parts.extensions, case),
        (None, Some(session)) => route(&parts.method, &parts.uri, &parts.headers, &body, session),
        (None, None) => Reply::with_status(StatusCode::INTERNAL_SERVER_ERROR, "no SessionLayer"),
    };
    Ok(reply.into_hyper())
}

/// The axum routes, each with the `Session<TestSession>` extractor (none on `/untouched`).
pub(crate) fn axum_router() -> Router {
    Router::new()
        .route("/", get(|s: S| async move { visit(&s) }))
        .route("/app", get(|s: S| async move { visit(&s) }))
        .route("/peek", get(|s: S| async move { peek(&s) }))
        .route(
            "/login",
            post(|s: S, body: String| async move { login(&s, &body) }),
        )
        .route("/me", get(|s: S| async move { me(&s) }))
        .route("/logout", post(|s: S| async move { logout(&s) }))
        .route(
            "/grow",
            post(|s: S, uri: Uri| async move { grow(&s, uri.query()) }),
        )
        .route("/len", get(|s: S| async move { len(&s) }))
        .route("/untouched", get(|| async { untouched() }))
        .route("/cached", get(|s: S| async move { cached(&s) }))
        .route("/clear", get(|s: S| async move { clear(&s) }))
        .route("/id", get(|s: S| async move { id(&s) }))
        .route("/noop", get(|s: S| async move { noop(&s) }))
        .route("/expires", get(|s: S| async move { expires(&s) }))
        .route("/debug", get(|s: S| async move { debug(&s) }))
        .route(
            "/fields",
            get(|headers: HeaderMap| async move { fields(&headers) }),
        )
        .route(
            "/cache",
            get(|s: S, uri: Uri| async move { cache(&s, uri.query()) }),
        )
        .route(
            "/keep",
            get(|s: S, uri: Uri| async move { keep(&s, uri.query()) }),
        )
        .route(
            "/own-cookie",
            get(|s: S, uri: Uri| async move { own_cookie(&s, uri.query()) }),
        )
        .route(
            "/destroy-then",
            get(|s: S, uri: Uri| async move { destroy_then(&s, uri.query()) }),
        )
        .route("/fail", get(|s: S| async move { fail(&s) }))
        .route("/fail-logout", post(|s: S| async move { fail_logout(&s) }))
        .route("/flip", get(|s: S| async move { flip(&s) }))
        .route(
            "/remember",
            post(|s: S, uri: Uri, body: String| async move { remember(&s, uri.query(), &body) }),
        )
        .route(
            "/flash",
            post(|s: S, body: String| async move { flash_set(&s, &body) })
                .get(|s: S| async move { flash_get(&s) }),
        )
        .route(
            "/lossy/{case}",
            get(
                |axum::extract::Path(case): axum::extract::Path<String>,
                 request: axum::extract::Request| async move {
                    lossy(request.extensions(), &case)
                },
            ),
        )
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

/// The `N` of a `visits: N` answer.
pub(crate) fn visits(resp: &Resp) -> u64 {
    assert_eq!(resp.status, 200, "{resp:?}");
    resp.body
        .strip_prefix("visits: ")
        .unwrap_or_else(|| panic!("not a visits answer: {resp:?}"))
        .parse()
        .unwrap()
}

/// A running server; dropping it stops accepting (and, for hyper, closes its connections).
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) adapter: Adapter,
    task: JoinHandle<()>,
}

impl Server {
    /// A server serving on `addr` from `task`.
    pub(crate) fn new(addr: SocketAddr, adapter: Adapter, task: JoinHandle<()>) -> Self {
        Self {
            addr,
            adapter,
            task,
        }
    }

    /// Stops the server and waits until it has stopped: the listener is closed and (hyper)
    /// every open connection dropped.
    pub(crate) async fn shutdown(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The layer every server uses: `ring`, `config`, and the injected clock.
pub(crate) fn layer(
    ring: KeyRing,
    config: SessionConfig,
    clock: &Clock,
) -> SessionLayer<TestSession> {
    let clock = clock.clone();
    SessionLayer::<TestSession>::new(ring, config)
        .with_clock(move || UNIX_EPOCH + Duration::from_secs(clock.now()))
}

/// The README's code under `heading`: the first block opening with `fence`, up to `end`, as
/// trimmed lines without hidden (`# `) and empty ones.
pub(crate) fn readme_block(heading: &str, fence: &str, end: &str) -> Vec<String> {
    let readme = include_str!("../../README.md");
    let section = readme.split(heading).nth(1).expect("the README section");
    let block = section
        .split(fence)
        .nth(1)
        .and_then(|b| b.split(end).next())
        .expect("its code block");
    block
        .lines()
        .filter(|l| !l.starts_with("# "))
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Fails unless `source` (a test file's text) holds `recipe` line for line, blank lines and
/// indentation aside: a README recipe is run verbatim, so a changed README fails here until
/// the test's copy follows.
pub(crate) fn assert_holds_verbatim(file: &str, source: &str, recipe: &[String]) {
    let source: Vec<String> = source
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    assert!(recipe.len() > 10, "{recipe:?}");
    assert!(
        source.windows(recipe.len()).any(|window| window == recipe),
        "{file} no longer holds the README recipe verbatim: {recipe:#?}"
    );
}

/// Starts a server on `127.0.0.1:0`.
pub(crate) async fn serve(
    adapter: Adapter,
    ring: KeyRing,
    config: SessionConfig,
    clock: &Clock,
) -> Server {
    serve_layer(adapter, layer(ring, config, clock)).await
}

/// Starts a server on `127.0.0.1:0` around a layer made by the test.
pub(crate) async fn serve_layer(adapter: Adapter, sessions: SessionLayer<TestSession>) -> Server {
    let lossy = LossyLayers::new(sessions.ring());
    match adapter {
        Adapter::Hyper => serve_hyper_with(sessions, lossy).await,
        Adapter::Axum => {
            serve_axum(
                axum_router()
                    .layer(lossy.skip)
                    .layer(lossy.untagged)
                    .layer(lossy.flatten)
                    .layer(sessions),
            )
            .await
        }
        #[cfg(feature = "__actix-tests")]
        Adapter::Actix => actix::serve(sessions, lossy),
    }
}

/// The layers of the round-trip cases (`/lossy/..`), each with a cookie of its own.
#[derive(Clone)]
pub(crate) struct LossyLayers {
    pub(crate) skip: SessionLayer<LossySkip>,
    pub(crate) untagged: SessionLayer<LossyUntagged>,
    pub(crate) flatten: SessionLayer<LossyFlatten>,
}

impl LossyLayers {
    fn new(ring: &KeyRing) -> Self {
        let config = |name: &str| SessionConfig::builder().cookie_name(name).build().unwrap();
        Self {
            skip: SessionLayer::new(ring.clone(), config("lossy-skip")),
            untagged: SessionLayer::new(ring.clone(), config("lossy-untagged")),
            flatten: SessionLayer::new(ring.clone(), config("lossy-flatten")),
        }
    }
}

/// A plain hyper 1 server with the test session layer only.
pub(crate) async fn serve_hyper(sessions: SessionLayer<TestSession>) -> Server {
    let lossy = LossyLayers::new(sessions.ring());
    serve_hyper_with(sessions, lossy).await
}

/// A plain hyper 1 server (HTTP/1.1, and HTTP/2 with prior knowledge) around `service_fn`.
async fn serve_hyper_with(sessions: SessionLayer<TestSession>, lossy: LossyLayers) -> Server {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let lossy = lossy.clone();
        // Owned by the accept loop: aborting the loop drops (and aborts) every connection.
        let mut connections = JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            // The whole integration: wrap the handler with the layer (and the round-trip
            // cases' layers).
            let service = sessions.layer(
                lossy.skip.layer(
                    lossy
                        .untagged
                        .layer(lossy.flatten.layer(service_fn(hyper_handler))),
                ),
            );
            connections.spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
            while connections.try_join_next().is_some() {}
        }
    });
    Server {
        addr,
        adapter: Adapter::Hyper,
        task,
    }
}

/// An axum app behind `axum::serve`.
pub(crate) async fn serve_axum(app: Router) -> Server {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server {
        addr,
        adapter: Adapter::Axum,
        task,
    }
}

/// One scenario's world: a key ring, a config, a clock and a server over them.
pub(crate) struct Env {
    pub(crate) instance: Instance,
    pub(crate) clock: Clock,
    /// The key strings the ring was built from, primary first.
    pub(crate) keys: Vec<String>,
    pub(crate) ring: KeyRing,
    pub(crate) config: SessionConfig,
    pub(crate) server: Server,
}

impl Env {
    /// The default configuration (`__Host-session`, Secure, 1 day idle, 7 days max).
    pub(crate) async fn new(instance: Instance) -> Self {
        Self::with_config(instance, SessionConfig::default()).await
    }

    pub(crate) async fn with_config(instance: Instance, config: SessionConfig) -> Self {
        let keys = vec![key_string(instance.algorithm)];
        let ring: KeyRing = keys.join(",").parse().unwrap();
        let clock = Clock::new(T0);
        let server = serve(instance.adapter, ring.clone(), config.clone(), &clock).await;
        Self {
            instance,
            clock,
            keys,
            ring,
            config,
            server,
        }
    }

    /// Another server of the same adapter over the same ring and clock.
    pub(crate) async fn also_serve(&self, config: SessionConfig) -> Server {
        serve(
            self.instance.adapter,
            self.ring.clone(),
            config,
            &self.clock,
        )
        .await
    }

    /// A keep-alive HTTP/1.1 client of this server.
    pub(crate) fn client(&self) -> Client {
        Client::new(self.server.addr)
    }

    /// The cookie name.
    pub(crate) fn name(&self) -> &str {
        self.config.cookie_name()
    }

    /// A codec equal to the server's (ring, lifetimes, schema version).
    pub(crate) fn codec(&self) -> Codec {
        codec_for(self.ring.clone(), &self.config)
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now()
    }
}

/// A codec with `config`'s lifetimes and schema version over `ring`, bound to the servers'
/// session type (wire format v3) as they are.
pub(crate) fn codec_for(ring: KeyRing, config: &SessionConfig) -> Codec {
    Codec::new(ring)
        .with_lifetimes(config.idle_timeout(), config.max_lifetime())
        .unwrap()
        .with_schema_version(config.schema_version())
        .bound_to::<TestSession>()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// HTTP version the client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    Http1,
    /// HTTP/2 over cleartext with prior knowledge (h2c).
    Http2,
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

/// A response, fully read.
#[derive(Debug, Clone)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Resp {
    /// Every raw `Set-Cookie` line.
    pub(crate) fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The one `Set-Cookie` line, if any (asserts there is at most one).
    pub(crate) fn set_cookie(&self) -> Option<String> {
        let all = self.set_cookies();
        assert!(all.len() <= 1, "more than one Set-Cookie: {all:?}");
        all.into_iter().next()
    }

    /// The one `Set-Cookie` line, parsed; panics if there is none.
    pub(crate) fn cookie(&self) -> SetCookie {
        SetCookie::parse(
            &self
                .set_cookie()
                .unwrap_or_else(|| panic!("expected a Set-Cookie, got {self:?}")),
        )
    }

    /// Every `Cache-Control` value.
    pub(crate) fn cache_control(&self) -> Vec<String> {
        self.headers
            .get_all(CACHE_CONTROL)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

/// A parsed `Set-Cookie` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetCookie {
    pub(crate) line: String,
    pub(crate) name: String,
    pub(crate) value: String,
    /// In order; `(name, None)` for flags such as `Secure`.
    pub(crate) attributes: Vec<(String, Option<String>)>,
}

impl SetCookie {
    pub(crate) fn parse(line: &str) -> Self {
        let mut parts = line.split("; ");
        let (name, value) = parts.next().unwrap().split_once('=').unwrap();
        let attributes = parts
            .map(|attribute| match attribute.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (attribute.to_owned(), None),
            })
            .collect();
        Self {
            line: line.to_owned(),
            name: name.to_owned(),
            value: value.to_owned(),
            attributes,
        }
    }

    /// The attribute's value (`Some(None)` for a flag), compared case-insensitively by name.
    pub(crate) fn attr(&self, name: &str) -> Option<Option<&str>> {
        self.attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    pub(crate) fn max_age(&self) -> u64 {
        self.attr("Max-Age").unwrap().unwrap().parse().unwrap()
    }

    pub(crate) fn is_removal(&self) -> bool {
        self.attr("Max-Age") == Some(Some("0"))
    }
}

/// A real HTTP client over TCP that keeps cookies.
pub(crate) struct Client {
    addr: SocketAddr,
    proto: Proto,
    keep_alive: bool,
    sender: Option<Sender>,
    jar: BTreeMap<String, String>,
    /// Every `Set-Cookie` line received, in order.
    pub(crate) set_cookie_log: Vec<String>,
}

impl Client {
    /// HTTP/1.1 over one kept-alive connection.
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            proto: Proto::Http1,
            keep_alive: true,
            sender: None,
            jar: BTreeMap::new(),
            set_cookie_log: Vec::new(),
        }
    }

    /// HTTP/2 with prior knowledge.
    pub(crate) fn http2(addr: SocketAddr) -> Self {
        Self {
            proto: Proto::Http2,
            ..Self::new(addr)
        }
    }

    /// A new connection for every request.
    pub(crate) fn fresh_connections(mut self) -> Self {
        self.keep_alive = false;
        self
    }

    /// Talks to another server from now on (same jar).
    pub(crate) fn retarget(&mut self, addr: SocketAddr) {
        self.addr = addr;
        self.sender = None;
    }

    /// The jar's value for `name`.
    pub(crate) fn cookie(&self, name: &str) -> Option<String> {
        self.jar.get(name).cloned()
    }

    /// Puts a cookie in the jar (for example a copy taken earlier).
    pub(crate) fn set_cookie(&mut self, name: &str, value: &str) {
        self.jar.insert(name.to_owned(), value.to_owned());
    }

    pub(crate) fn clear_jar(&mut self) {
        self.jar.clear();
    }

    /// `GET path` with the jar's cookies.
    pub(crate) async fn get(&mut self, path: &str) -> Resp {
        self.send(Method::GET, path, "", None).await
    }

    /// `POST path` with the jar's cookies.
    pub(crate) async fn post(&mut self, path: &str, body: &str) -> Resp {
        self.send(Method::POST, path, body, None).await
    }

    /// `GET path` with exactly these `Cookie` fields instead of the jar.
    pub(crate) async fn get_with(&mut self, path: &str, fields: &[&str]) -> Resp {
        self.send(Method::GET, path, "", Some(fields)).await
    }

    /// Sends a request: the jar's cookies as one `Cookie` field, or `fields` (one header field
    /// each) when given. Records and applies every `Set-Cookie` of the response.
    pub(crate) async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: &str,
        fields: Option<&[&str]>,
    ) -> Resp {
        // An actix server answers on a thread of its own: its events go to this thread's
        // subscriber (a `Logs` capture) for this request.
        #[cfg(feature = "__actix-tests")]
        actix::route_logs(self.addr);
        let mut req = Request::new(Full::new(Bytes::from(body.to_owned())));
        *req.method_mut() = method;
        *req.uri_mut() = match self.proto {
            Proto::Http1 => path.parse().unwrap(),
            Proto::Http2 => format!("http://{}{path}", self.addr).parse().unwrap(),
        };
        let headers = req.headers_mut();
        if self.proto == Proto::Http1 {
            headers.insert(HOST, self.addr.to_string().parse().unwrap());
        }
        match fields {
            Some(fields) => {
                for field in fields {
                    headers.append(COOKIE, HeaderValue::from_str(field).unwrap());
                }
            }
            None if !self.jar.is_empty() => {
                let line = self
                    .jar
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                headers.insert(COOKIE, HeaderValue::from_str(&line).unwrap());
            }
            None => {}
        }
        let response = self.roundtrip(req).await;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        let resp = Resp {
            status: parts.status.as_u16(),
            version: parts.version,
            headers: parts.headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        };
        for line in resp.set_cookies() {
            self.apply(&line);
            self.set_cookie_log.push(line);
        }
        if !self.keep_alive {
            self.sender = None;
        }
        resp
    }

    async fn roundtrip(&mut self, req: Request<Full<Bytes>>) -> Response<Incoming> {
        let reusable = match &self.sender {
            Some(Sender::H1(s)) => !s.is_closed(),
            Some(Sender::H2(s)) => !s.is_closed(),
            None => false,
        };
        if !reusable {
            self.sender = Some(self.connect().await);
        }
        match self.sender.as_mut().unwrap() {
            Sender::H1(sender) => {
                sender.ready().await.unwrap();
                sender.send_request(req).await.unwrap()
            }
            Sender::H2(sender) => {
                sender.ready().await.unwrap();
                sender.send_request(req).await.unwrap()
            }
        }
    }

    async fn connect(&self) -> Sender {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let io = TokioIo::new(stream);
        match self.proto {
            Proto::Http1 => {
                let (sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Sender::H1(sender)
            }
            Proto::Http2 => {
                let (sender, connection) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                        .await
                        .unwrap();
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Sender::H2(sender)
            }
        }
    }

    /// What a browser does with a `Set-Cookie` (name and value; `Max-Age=0` deletes).
    fn apply(&mut self, line: &str) {
        let cookie = SetCookie::parse(line);
        if cookie.is_removal() {
            self.jar.remove(&cookie.name);
        } else {
            self.jar.insert(cookie.name, cookie.value);
        }
    }
}

/// Sends `request` (raw bytes, which should say `Connection: close`) over a plain TCP socket
/// and returns every byte of the answer.
pub(crate) async fn raw_exchange(addr: SocketAddr, request: String) -> Vec<u8> {
    tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Log capture
// ---------------------------------------------------------------------------------------------

/// Captures `tracing` output (TRACE and up) on this thread while alive.
pub(crate) struct Logs {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    pub(crate) fn capture() -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter(Arc::clone(&buf));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        Self { buf, _guard: guard }
    }

    /// Everything captured so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }

    /// Everything captured since the last `take`, and forget it.
    pub(crate) fn take(&self) -> String {
        let bytes = core::mem::take(&mut *self.buf.lock().unwrap());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// The conformance suite
// ---------------------------------------------------------------------------------------------

/// Expands every scenario of [`scenario`] as a `#[tokio::test]` for one [`Instance`], in the
/// manner of aes-gcm's `tests!` and tower-sessions' `route_tests!`:
///
/// ```ignore
/// mod aes_256_gcm {
///     crate::harness::scenarios!(Adapter::Hyper, Algorithm::Aes256Gcm);
/// }
/// ```
#[allow(unused_macros)] // not every test crate runs the suite
macro_rules! scenarios {
    ($adapter:expr, $algorithm:expr) => {
        $crate::harness::scenarios!(
            @tests $crate::harness::Instance::new($adapter, $algorithm);
            smoke_counter,
            too_large_refused_and_session_kept,
            exact_limit_boundary,
            default_attributes,
            configured_attributes,
            insecure_http_escape_hatch,
            found_in_any_field_and_among_many,
            names_match_byte_exactly,
            malformed_pairs_skipped,
            authentic_beats_garbage_either_order,
            two_authentic_mean_no_session_and_a_warning,
            bounded_candidates,
            no_store_on_set_and_delete,
            handler_cache_control_kept,
            logout_deletes_but_copy_still_opens,
            login_cycles_id,
            no_reseal_before_threshold,
            rolling_always,
            uniform_failure,
            no_secret_in_logs_or_debug,
            large_cookie_header_served,
            oversize_session_cookie_refused_by_us,
            accept_only_key_reseals_under_primary,
            absolute_lifetime,
            express_resave_false,
            express_save_uninitialized,
            express_max_age_caps,
            express_clear_keeps_id,
            lazy_untouched_route,
        );
        $crate::harness::scenarios!(
            @security $crate::harness::Instance::new($adapter, $algorithm);
            planted_cookies_never_swap_or_delete,
            session_responses_are_never_shared_cacheable,
            one_event_per_request_never_warn,
            changes_after_the_response_are_errors,
            the_handlers_own_session_cookie_is_dropped,
            cycle_id_keeps_the_absolute_deadline,
            destroy_then_anything,
            values_that_do_not_round_trip_are_refused,
            a_change_undone_sends_nothing,
            server_errors_save_no_change,
            changes_outside_the_cookie_path_are_refused,
        );
        $crate::harness::scenarios!(
            @dayone $crate::harness::Instance::new($adapter, $algorithm);
            browser_session_cookies_have_no_max_age_and_expire_server_side,
            remember_me_is_persistent_and_capped_by_the_maxima,
            a_flash_is_read_once_across_a_redirect,
            every_request_refreshes_untouched_routes,
            revoked_sessions_are_refused_over_http,
        );
        $crate::harness::scenarios!(
            @lifecycle $crate::harness::Instance::new($adapter, $algorithm);
            a_pending_key_opens_and_seals_from_its_second,
            a_revoked_key_is_refused_with_its_own_reason,
            a_bad_ring_file_keeps_the_ring,
            not_before_in_the_ring_file_logs_everyone_out,
        );
        $crate::harness::scenarios!(
            @chunks $crate::harness::Instance::new($adapter, $algorithm);
            three_chunks_round_trip_and_shrink_to_one,
            bad_chunks_are_refused_and_stale_ones_deleted,
            counts_beyond_the_maximum_are_refused,
            the_size_check_holds_lines_and_the_header_budget,
        );
        #[cfg(feature = "compression")]
        $crate::harness::scenarios!(
            @chunks $crate::harness::Instance::new($adapter, $algorithm);
            compression_round_trips_and_is_off_by_default,
        );
    };
    (@chunks $instance:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $crate::harness::chunks::$name($instance).await;
            }
        )*
    };
    (@lifecycle $instance:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $crate::harness::lifecycle::$name($instance).await;
            }
        )*
    };
    (@tests $instance:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $crate::harness::scenario::$name($instance).await;
            }
        )*
    };
    (@dayone $instance:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $crate::harness::dayone::$name($instance).await;
            }
        )*
    };
    (@security $instance:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $crate::harness::security::$name($instance).await;
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use scenarios;

/// Every instance of one adapter: the scenario suite under each algorithm (modules
/// `aes_256_gcm` and `xchacha20_poly1305`), and the tests that span both algorithms.
///
/// ```ignore
/// crate::harness::instances!(Adapter::Hyper);
/// ```
#[allow(unused_macros)]
macro_rules! instances {
    ($adapter:expr) => {
        mod aes_256_gcm {
            $crate::harness::scenarios!($adapter, ::sealed_session::Algorithm::Aes256Gcm);
        }

        mod xchacha20_poly1305 {
            $crate::harness::scenarios!($adapter, ::sealed_session::Algorithm::XChaCha20Poly1305);
        }

        /// Test plan: SECURITY-TESTS.md E1.
        #[tokio::test]
        async fn rotation_to_longer_nonce_never_exceeds_limit() {
            $crate::harness::scenario::rotation_to_longer_nonce_never_exceeds_limit($adapter).await;
        }
    };
}
#[allow(unused_imports)]
pub(crate) use instances;
