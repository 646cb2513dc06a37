//! actix-web 4: [`SessionMiddleware<T>`], [`Session<T>`] as an extractor, and
//! [`SessionError`] as a response.
//!
//! The same engine as the tower layer ([`Sessions<T>`]), so the same rules, limits, events and
//! cache headers: this file only moves headers. The middleware hands the engine the request's
//! `Cookie` values (as bytes, kept as actix's own header values: nothing is copied) and the
//! path the browser sent, puts the [`Session<T>`] into the request's extensions, and writes
//! what the [`Outcome`] says when the response is ready.
//!
//! ```
//! use actix_web::{App, web};
//! use sealed_session::actix::SessionMiddleware;
//! use sealed_session::{Algorithm, Key, KeyRing, Session, SessionConfig, SessionError};
//!
//! #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
//! struct Visits { count: u64 }
//!
//! // `SessionError` is a response: a change too large for the cookie is a 413 naming the limit.
//! async fn index(session: Session<Visits>) -> Result<String, SessionError> {
//!     let count = session.update(|v| { v.count += 1; v.count })?;
//!     Ok(format!("visits: {count}"))
//! }
//!
//! let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
//! let sessions = SessionMiddleware::<Visits>::new(ring, SessionConfig::default());
//! // In `HttpServer::new(move || ...)`: every worker gets a clone (they share the ring).
//! let app = App::new()
//!     .wrap(sessions.clone())
//!     .route("/", web::get().to(index));
//! # drop(app);
//! ```

use core::fmt;
use core::future::{Future, Ready, ready};
use core::pin::Pin;
use core::task::{Context, Poll};
use std::borrow::Cow;

use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, COOKIE, HeaderMap, HeaderValue, SET_COOKIE};
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use pin_project_lite::pin_project;

use crate::cookies::CookieFields;
use crate::engine::{Outcome, Sessions};
use crate::error::{MissingSession, SessionError};
use crate::session::{Session, SessionData};

/// An actix-web middleware (a [`Transform`]) that gives every request a [`Session<T>`]:
/// `App::new().wrap(SessionMiddleware::<T>::new(ring, config))`.
///
/// Build it once, outside `HttpServer::new`'s factory, and clone it into each worker's `App`:
/// cloning is cheap and every clone shares the key ring (rotate it through any clone). Several
/// middlewares with different cookie names and session types compose: each request extension
/// is keyed by its `Session<T>` type, so give each its own `T`.
///
/// # Example
///
/// ```no_run
/// use actix_web::{App, HttpServer, web};
/// use sealed_session::actix::SessionMiddleware;
/// use sealed_session::{KeyRing, Session, SessionConfig, SessionError};
///
/// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// struct Login { user: Option<String> }
///
/// async fn me(session: Session<Login>) -> String {
///     session.get().user.clone().unwrap_or_default()
/// }
///
/// async fn login(session: Session<Login>, name: String) -> Result<String, SessionError> {
///     session.update(|s| s.user = Some(name.clone()))?;
///     session.cycle_id()?; // a new id on login
///     Ok(format!("hello {name}"))
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let ring = KeyRing::from_env("SESSION_KEYS")?;
/// let sessions = SessionMiddleware::<Login>::new(ring, SessionConfig::default());
/// HttpServer::new(move || {
///     App::new()
///         .wrap(sessions.clone())
///         .route("/me", web::get().to(me))
///         .route("/login", web::post().to(login))
/// })
/// .bind(("127.0.0.1", 3000))?
/// .run()
/// .await?;
/// # Ok(())
/// # }
/// ```
pub struct SessionMiddleware<T> {
    sessions: Sessions<T>,
}

crate::engine::sessions_wrapper!(
    SessionMiddleware,
    "middleware",
    "sealed_session::actix::SessionMiddleware"
);

impl<S, B, T> Transform<S, ServiceRequest> for SessionMiddleware<T>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    T: SessionData,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = SessionMiddlewareService<S, T>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, inner: S) -> Self::Future {
        ready(Ok(SessionMiddlewareService {
            inner,
            sessions: self.sessions.clone(),
        }))
    }
}

/// The service of a [`SessionMiddleware`], around the next service of the app.
pub struct SessionMiddlewareService<S, T> {
    inner: S,
    sessions: Sessions<T>,
}

impl<S, T> SessionMiddlewareService<S, T> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: fmt::Debug, T> fmt::Debug for SessionMiddlewareService<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddlewareService")
            .field("inner", &self.inner)
            .field("config", self.sessions.config())
            .finish()
    }
}

impl<S, B, T> Service<ServiceRequest> for SessionMiddlewareService<S, T>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    T: SessionData,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = ResponseFuture<S::Future, T>;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&self, req: ServiceRequest) -> Self::Future {
        // The session, not yet opened: the `Cookie` fields are kept (reference-counted, not
        // copied) and parsed on first access. actix keeps the URI as the browser sent it
        // (scopes match on it without stripping a prefix), so its path is what the cookie's
        // `Path` is matched against.
        let mut fields = req.headers().get_all(COOKIE).cloned();
        let cookies = HeaderFields {
            first: fields.next(),
            rest: fields.collect(),
        };
        let session = self.sessions.begin(cookies, req.path());
        req.extensions_mut().insert(session.clone());
        ResponseFuture {
            inner: self.inner.call(req),
            session: Some(session),
        }
    }
}

/// A request's `Cookie` fields, kept as actix's header values (reference-counted, not
/// copied); a `Vec` only for requests that send several.
struct HeaderFields {
    first: Option<HeaderValue>,
    rest: Vec<HeaderValue>,
}

impl CookieFields for HeaderFields {
    fn field(&self, index: usize) -> Option<&[u8]> {
        match index.checked_sub(1) {
            None => self.first.as_ref(),
            Some(rest) => self.rest.get(rest),
        }
        .map(HeaderValue::as_bytes)
    }
}

pin_project! {
    /// The response future of [`SessionMiddlewareService`]: writes `Set-Cookie` when the
    /// inner response is ready.
    pub struct ResponseFuture<F, T> {
        #[pin]
        inner: F,
        session: Option<Session<T>>,
    }

    impl<F, T> PinnedDrop for ResponseFuture<F, T> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before the response (a client that went away): nothing will be saved.
            if let Some(session) = this.project().session.take() {
                session.abandon();
            }
        }
    }
}

impl<F, T> fmt::Debug for ResponseFuture<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, T, B> Future for ResponseFuture<F, T>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    T: SessionData,
{
    type Output = Result<ServiceResponse<B>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.inner.poll(cx) {
            Poll::Ready(result) => result,
            Poll::Pending => return Poll::Pending,
        };
        let session = this.session.take();
        match result {
            Ok(mut response) => {
                if let Some(session) = session {
                    let server_error = response.status().is_server_error();
                    apply(&session.finish(server_error), response.headers_mut());
                }
                Poll::Ready(Ok(response))
            }
            Err(error) => {
                // No response to carry the cookie: later changes must not return Ok.
                if let Some(session) = session {
                    session.abandon();
                }
                Poll::Ready(Err(error))
            }
        }
    }
}

/// Writes the session's outcome into the response headers.
fn apply(outcome: &Outcome, headers: &mut HeaderMap) {
    if headers.contains_key(SET_COOKIE) {
        drop_handler_cookies(headers, outcome);
    }
    if outcome.is_empty() {
        return;
    }
    let cache_control = outcome.cache_control(joined(headers).as_deref());
    for line in outcome.set_cookie_bytes() {
        // Lines are built from a validated name, base64url and validated attributes.
        match HeaderValue::from_bytes(line) {
            Ok(value) => headers.append(SET_COOKIE, value),
            Err(_) => {
                tracing::error!(target: "sealed_session::seal", "Set-Cookie value is not a valid header value");
            }
        }
    }
    if let Some(value) = cache_control {
        let value = match value {
            Cow::Borrowed(value) => crate::engine::fixed_cache_control!(HeaderValue, value),
            Cow::Owned(value) => HeaderValue::try_from(value)
                .unwrap_or_else(|_| HeaderValue::from_static("no-store")),
        };
        headers.insert(CACHE_CONTROL, value);
    }
}

/// The handler's `Cache-Control` values joined with `, ` (`None` without one; a value that is
/// not text becomes a character the engine replaces).
fn joined(headers: &HeaderMap) -> Option<Cow<'_, str>> {
    fn text(value: &HeaderValue) -> &str {
        value.to_str().unwrap_or("\u{7f}")
    }
    let mut values = headers.get_all(CACHE_CONTROL);
    let first = values.next()?;
    match values.next() {
        None => Some(text(first).into()),
        Some(second) => {
            let mut all = format!("{}, {}", text(first), text(second));
            for value in values {
                all.push_str(", ");
                all.push_str(text(value));
            }
            Some(all.into())
        }
    }
}

/// Drops the handler's own `Set-Cookie` lines for the session's cookie (the engine's rule:
/// [`Outcome::owns_handler_cookie`], asked once per line since it logs the ones it owns).
fn drop_handler_cookies(headers: &mut HeaderMap, outcome: &Outcome) {
    let lines: Vec<(HeaderValue, bool)> = headers
        .get_all(SET_COOKIE)
        .map(|line| (line.clone(), outcome.owns_handler_cookie(line.as_bytes())))
        .collect();
    if !lines.iter().any(|(_, ours)| *ours) {
        return;
    }
    headers.remove(SET_COOKIE);
    for (line, ours) in lines {
        if !ours {
            headers.append(SET_COOKIE, line);
        }
    }
}

/// The request's session: the extractor finds the one [`SessionMiddleware<T>`] put into the
/// request's extensions (a cheap clone: every clone is the same session).
///
/// Without a `SessionMiddleware<T>` around the route, it fails with a [`SessionRejection`]
/// (a 500 naming the missing middleware): a misconfiguration must be loud, never a silent 200
/// with a throwaway session. The same handle is in `req.extensions()` for code that has the
/// `HttpRequest` (a guard, another middleware).
impl<T: SessionData> FromRequest for Session<T> {
    type Error = SessionRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let missing = || {
            SessionRejection(MissingSession::new::<T>(
                "SessionMiddleware",
                "app wrapped in .wrap",
            ))
        };
        ready(req.extensions().get::<Self>().cloned().ok_or_else(missing))
    }
}

/// The [`Session<T>`] extractor found no session: no [`SessionMiddleware<T>`] wraps the route
/// (or it was built for another `T`).
///
/// Responds `500 Internal Server Error` with a body that names the missing middleware (the
/// engine's [`MissingSession`], which it wraps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRejection(MissingSession);

impl SessionRejection {
    /// The status code: `500`, since this is a server misconfiguration.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        status(self.0.status_code())
    }

    /// The response body: names the missing middleware and how to add it.
    #[must_use]
    pub fn body_text(&self) -> String {
        self.0.to_string()
    }
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SessionRejection {}

impl ResponseError for SessionRejection {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        text_response(self.status(), self.body_text())
    }
}

/// A handler can return `Result<_, SessionError>` and `?` the session's changes: the same
/// answers as axum's, from the engine's [`SessionError::respond`].
///
/// - `TooLarge` is `413 Payload Too Large`, with the message (which names the size and the
///   limit): the client sent more than the session can hold.
/// - `Conflict` is `400 Bad Request`: the request carried conflicting cookies of the session's
///   name (planted ones, say); never a 5xx for what a client sent.
/// - Everything else is a server-side error: `500 Internal Server Error` with a generic body,
///   and one `error` event (target `sealed_session::seal`) with the details.
///
/// ```
/// use actix_web::{App, web};
/// use sealed_session::{Session, SessionError};
///
/// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// struct Notes { notes: Vec<String> }
///
/// async fn add(session: Session<Notes>, note: String) -> Result<String, SessionError> {
///     let count = session.update(|s| { s.notes.push(note); s.notes.len() })?;
///     Ok(format!("notes: {count}"))
/// }
///
/// let app = App::new().route("/notes", web::post().to(add));
/// # drop(app);
/// ```
impl ResponseError for SessionError {
    fn status_code(&self) -> StatusCode {
        status(SessionError::status_code(self))
    }

    fn error_response(&self) -> HttpResponse {
        let (code, body) = self.respond();
        text_response(status(code), body)
    }
}

/// The engine's status code as actix's.
fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A plain-text response (the content type axum gives a `String`, so both adapters answer
/// alike).
fn text_response(status: StatusCode, body: impl Into<Cow<'static, str>>) -> HttpResponse {
    let body: Cow<'static, str> = body.into();
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body.into_owned())
}
