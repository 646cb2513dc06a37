//! Tower and hyper middleware: `HeaderMap` plumbing around the engine.
//!
//! [`SessionLayer`] wraps a service; [`SessionService`] puts a [`Session`] (from
//! [`Sessions::begin`]) into every request's extensions and its [`ResponseFuture`] writes what
//! the session's [`Outcome`](crate::Outcome) says when the response is ready. It implements
//! both `tower::Service` (axum, tower stacks) and, with the `hyper` feature,
//! `hyper::service::Service` (a plain hyper 1 server around a `service_fn`). Every rule lives
//! in the engine; this file only moves headers.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::borrow::Cow;

use http::header::{CACHE_CONTROL, COOKIE, Entry, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Request, Response};
use pin_project_lite::pin_project;

use crate::config::SessionConfig;
use crate::cookies::HeaderFields;
use crate::engine::{Outcome, Sessions};
use crate::ring::KeyRing;
use crate::session::{Session, SessionData};

/// A [`tower_layer::Layer`] that gives every request a [`Session<T>`].
///
/// Build it once from a [`KeyRing`] and a [`SessionConfig`]; cloning is cheap. Several layers
/// with different cookie names and session types compose: each request extension is keyed by
/// its `Session<T>` type, so give each layer its own `T`.
///
/// # Example: axum
///
/// ```
/// # #[cfg(feature = "axum")]
/// # fn demo() -> axum::Router {
/// use axum::{Router, routing::get};
/// use sealed_session::{Algorithm, Key, KeyRing, Session, SessionConfig, SessionLayer};
///
/// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// struct Visits { count: u32 }
///
/// async fn count(session: Session<Visits>) -> String {
///     match session.update(|v| { v.count += 1; v.count }) {
///         Ok(count) => format!("visits: {count}"),
///         Err(error) => error.to_string(),
///     }
/// }
///
/// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
/// Router::new()
///     .route("/", get(count))
///     .layer(SessionLayer::<Visits>::new(ring, SessionConfig::default()))
/// # }
/// ```
///
/// # Example: plain hyper 1
///
/// ```
/// # #[cfg(feature = "hyper")]
/// # mod demo {
/// use std::convert::Infallible;
/// use hyper::{Request, Response, body::Incoming, service::service_fn};
/// use sealed_session::{Session, SessionLayer};
/// use tower_layer::Layer;
///
/// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// struct Visits { count: u32 }
///
/// async fn handler(req: Request<Incoming>) -> Result<Response<String>, Infallible> {
///     let session = req.extensions().get::<Session<Visits>>().expect("SessionLayer");
///     let count = session.update(|v| { v.count += 1; v.count }).unwrap_or(0);
///     Ok(Response::new(format!("visits: {count}")))
/// }
///
/// # fn serve(layer: SessionLayer<Visits>, io: hyper_util::rt::TokioIo<tokio::net::TcpStream>) {
/// // Wrap the handler: the result is a hyper Service, ready for serve_connection.
/// let service = layer.layer(service_fn(handler));
/// let _connection = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
/// # }
/// # }
/// ```
pub struct SessionLayer<T> {
    sessions: Sessions<T>,
}

crate::engine::sessions_wrapper!(SessionLayer, "layer", "sealed_session::SessionLayer");

impl<S, T> tower_layer::Layer<S> for SessionLayer<T> {
    type Service = SessionService<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            sessions: self.sessions.clone(),
        }
    }
}

/// The service of a [`SessionLayer`]: a `tower::Service`, and with the `hyper` feature a
/// `hyper::service::Service` too.
pub struct SessionService<S, T> {
    inner: S,
    sessions: Sessions<T>,
}

impl<S, T: SessionData> SessionService<S, T> {
    /// Wraps `inner` like [`SessionLayer::new`] would.
    #[must_use]
    pub fn new(inner: S, ring: KeyRing, config: SessionConfig) -> Self {
        tower_layer::Layer::layer(&SessionLayer::<T>::new(ring, config), inner)
    }

    /// A layer that builds this service: the same as [`SessionLayer::new`].
    #[must_use]
    pub fn layer(ring: KeyRing, config: SessionConfig) -> SessionLayer<T> {
        SessionLayer::new(ring, config)
    }
}

impl<S, T> SessionService<S, T> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, T> Clone for SessionService<S, T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            sessions: self.sessions.clone(),
        }
    }
}

impl<S: fmt::Debug, T> fmt::Debug for SessionService<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .field("config", self.sessions.config())
            .finish()
    }
}

/// Attaches a session (not yet opened) to the request and calls the inner service: the
/// `Cookie` fields are kept (reference-counted, not copied) and parsed on first access.
fn start<T: SessionData, F, B>(
    sessions: &Sessions<T>,
    mut req: Request<B>,
    inner: impl FnOnce(Request<B>) -> F,
) -> ResponseFuture<F, T> {
    let cookies = HeaderFields::collect(req.headers().get_all(COOKIE).iter().cloned());
    // Under `Path=/` (the default) the path is not read: no need to look for axum's original
    // URI.
    let path = if sessions.config().covers_every_path() {
        "/"
    } else {
        browser_path(&req)
    };
    let session = sessions.begin(cookies, path);
    req.extensions_mut().insert(session.clone());
    ResponseFuture {
        inner: inner(req),
        session: Some(session),
    }
}

/// The request's path as the browser sent it: behind axum's `Router::nest` the router strips
/// the prefix from the URI and keeps the original in `OriginalUri`, and the cookie's `Path` is
/// matched against what the browser sent.
fn browser_path<B>(req: &Request<B>) -> &str {
    #[cfg(feature = "axum")]
    if let Some(original) = req.extensions().get::<::axum::extract::OriginalUri>() {
        return original.0.path();
    }
    req.uri().path()
}

impl<T: SessionData> Session<T> {
    /// The request's session, as an owned handle (a clone: every clone is the same session),
    /// so that the request can be consumed afterwards (its body read, say); `None` without a
    /// [`SessionLayer<T>`] around the service.
    ///
    /// ```
    /// # #[cfg(feature = "hyper")]
    /// # mod demo {
    /// use std::convert::Infallible;
    /// use http_body_util::BodyExt as _;
    /// use hyper::{Request, Response, body::Incoming};
    /// use sealed_session::Session;
    ///
    /// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
    /// struct Login { user: Option<String> }
    ///
    /// async fn login(req: Request<Incoming>) -> Result<Response<String>, Infallible> {
    ///     let Some(session) = Session::<Login>::from_request(&req) else {
    ///         return Ok(Response::new("no session layer".to_owned()));
    ///     };
    ///     // The request is ours again: read its body.
    ///     let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    ///     let user = String::from_utf8_lossy(&body).trim_start_matches("username=").to_owned();
    ///     let reply = match session.set(Login { user: Some(user.clone()) }) {
    ///         Ok(()) => format!("hello {user}"),
    ///         Err(error) => error.to_string(),
    ///     };
    ///     Ok(Response::new(reply))
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn from_request<B>(req: &Request<B>) -> Option<Self> {
        req.extensions().get::<Self>().cloned()
    }
}

impl<S, T, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for SessionService<S, T>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    T: SessionData,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, T>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let inner = &mut self.inner;
        start(&self.sessions, req, |req| inner.call(req))
    }
}

#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
impl<S, T, ReqBody, ResBody> hyper::service::Service<Request<ReqBody>> for SessionService<S, T>
where
    S: hyper::service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    T: SessionData,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, T>;

    fn call(&self, req: Request<ReqBody>) -> Self::Future {
        start(&self.sessions, req, |req| self.inner.call(req))
    }
}

pin_project! {
    /// The response future of [`SessionService`]: writes `Set-Cookie` when the inner response
    /// is ready.
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

impl<F, T, ResBody, E> Future for ResponseFuture<F, T>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    T: SessionData,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut result = ready!(this.inner.poll(cx));
        if let Some(session) = this.session.take() {
            match &mut result {
                Ok(response) => apply(&session, response),
                // No response to carry the cookie: later changes must not return Ok.
                Err(_) => session.abandon(),
            }
        }
        Poll::Ready(result)
    }
}

/// Writes the session's outcome into the response headers.
fn apply<T: SessionData, B>(session: &Session<T>, response: &mut Response<B>) {
    let outcome = session.finish(response.status().is_server_error());
    let headers = response.headers_mut();
    if outcome.is_empty() {
        if headers.contains_key(SET_COOKIE) {
            drop_owned_handler_cookies(&outcome, headers);
        }
        return;
    }
    let values = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .map(HeaderValue::as_bytes);
    let cache_control = outcome.cache_control_of(values);
    // One lookup of `Set-Cookie` when the handler set none (nearly every response).
    match headers.entry(SET_COOKIE) {
        Entry::Vacant(vacant) => {
            let mut lines = header_values(outcome);
            if let Some(first) = lines.next() {
                let mut entry = vacant.insert_entry(first);
                lines.for_each(|line| entry.append(line));
            }
        }
        Entry::Occupied(_) => {
            drop_owned_handler_cookies(&outcome, headers);
            for line in header_values(outcome) {
                headers.append(SET_COOKIE, line);
            }
        }
    }
    let value = match cache_control {
        None => return,
        Some(Cow::Borrowed(value)) => crate::engine::fixed_cache_control!(HeaderValue, value),
        Some(Cow::Owned(value)) => {
            HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("no-store"))
        }
    };
    headers.insert(CACHE_CONTROL, value);
}

/// SECURITY-TESTS F8: the handler's own `Set-Cookie` lines for the session's cookie go.
fn drop_owned_handler_cookies(outcome: &Outcome, headers: &mut HeaderMap) {
    let lines = headers.get_all(SET_COOKIE);
    let kept = outcome.kept_handler_cookies(&lines);
    if let Some(kept) = kept.map(|kept| kept.into_iter().cloned().collect::<Vec<_>>()) {
        headers.remove(SET_COOKIE);
        for line in kept {
            headers.append(SET_COOKIE, line);
        }
    }
}

/// The outcome's `Set-Cookie` values as header values.
fn header_values(outcome: Outcome) -> impl Iterator<Item = HeaderValue> {
    // Lines are built from a validated name, base64url and validated attributes.
    outcome
        .into_set_cookie_bytes()
        .filter_map(|line| match HeaderValue::try_from(line) {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::error!(target: "sealed_session::seal", "Set-Cookie value is not a valid header value");
                None
            }
        })
}
