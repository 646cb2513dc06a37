//! Tower and hyper middleware: `Cookie` header candidates in, `Set-Cookie` out.
//!
//! [`SessionLayer`] wraps a service; [`SessionService`] puts a [`Session`] into every request's
//! extensions and its [`ResponseFuture`] writes `Set-Cookie` (and `Cache-Control: no-store`)
//! when the response is ready. It implements both `tower::Service` (axum, tower stacks) and,
//! with the `hyper` feature, `hyper::service::Service` (a plain hyper 1 server around a
//! `service_fn`).

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::sync::Arc;
use std::time::SystemTime;

use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Request, Response};
use pin_project_lite::pin_project;

use crate::config::{CacheControl, SessionConfig};
use crate::error::OpenErrorKind;
use crate::ring::KeyRing;
use crate::session::{Candidates, PendingCandidates, Session, SessionData, Settings};

/// The `tracing` target of the events about refused cookies.
pub const OPEN_EVENT_TARGET: &str = "sealed_session::open";

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
    settings: Arc<Settings>,
    _session: PhantomData<fn() -> T>,
}

impl<T> SessionLayer<T> {
    /// A layer sealing with `ring` under `config`.
    ///
    /// Logs a warning (target `sealed_session`) when `config` has the development-only
    /// [`insecure_http`](crate::SessionConfigBuilder::insecure_http) switch on.
    #[must_use]
    pub fn new(ring: KeyRing, config: SessionConfig) -> Self {
        if config.is_insecure_http() {
            tracing::warn!(
                target: "sealed_session",
                cookie = config.cookie_name(),
                "insecure_http is on: the session cookie is not Secure and travels over plain HTTP; development only"
            );
        }
        Self {
            settings: Arc::new(Settings::new(ring, config)),
            _session: PhantomData,
        }
    }

    /// Reads the time from `clock` instead of the system clock: for tests and simulations
    /// that need expiry and refresh without waiting.
    ///
    /// ```
    /// # use std::time::{Duration, SystemTime};
    /// # use sealed_session::{Algorithm, Key, KeyRing, SessionConfig, SessionLayer};
    /// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
    /// let tomorrow = SystemTime::now() + Duration::from_secs(86_400);
    /// let layer = SessionLayer::<u32>::new(ring, SessionConfig::default())
    ///     .with_clock(move || tomorrow);
    /// # drop(layer);
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        let mut settings = Settings::clone(&self.settings);
        settings.clock = Some(Arc::new(clock));
        self.settings = Arc::new(settings);
        self
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SessionConfig {
        &self.settings.config
    }

    /// The key ring; rotating it (through any clone) takes effect on the next request.
    #[must_use]
    pub fn ring(&self) -> &KeyRing {
        self.settings.codec.ring()
    }
}

impl<T> Clone for SessionLayer<T> {
    fn clone(&self) -> Self {
        Self {
            settings: Arc::clone(&self.settings),
            _session: PhantomData,
        }
    }
}

impl<T> fmt::Debug for SessionLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("config", &self.settings.config)
            .field("ring", self.ring())
            .finish()
    }
}

impl<S, T> tower_layer::Layer<S> for SessionLayer<T> {
    type Service = SessionService<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            settings: Arc::clone(&self.settings),
            _session: PhantomData,
        }
    }
}

/// The service of a [`SessionLayer`]: a `tower::Service`, and with the `hyper` feature a
/// `hyper::service::Service` too.
pub struct SessionService<S, T> {
    inner: S,
    settings: Arc<Settings>,
    _session: PhantomData<fn() -> T>,
}

impl<S, T> SessionService<S, T> {
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
            settings: Arc::clone(&self.settings),
            _session: PhantomData,
        }
    }
}

impl<S: fmt::Debug, T> fmt::Debug for SessionService<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .field("config", &self.settings.config)
            .finish()
    }
}

impl<S, T: SessionData> SessionService<S, T> {
    /// Attaches a session (not yet opened) to the request.
    fn start<B>(&self, req: &mut Request<B>) -> Session<T> {
        // The fields are kept (reference-counted, not copied) and parsed on first access.
        let mut fields = req.headers().get_all(COOKIE).iter();
        let pending = fields.next().map(|first| {
            let first = first.clone();
            let rest: Vec<HeaderValue> = fields.cloned().collect();
            Box::new(move |name: &str, max_value_len: usize| {
                session_cookies(core::iter::once(&first).chain(&rest), name, max_value_len)
            }) as PendingCandidates
        });
        let now = self.settings.now();
        let session = Session::new(Arc::clone(&self.settings), pending, now);
        req.extensions_mut().insert(session.clone());
        session
    }
}

/// Finds the values of the session cookie in every `Cookie` field (HTTP/2 sends one field per
/// cookie, RFC 9113 §8.2.3), stopping after [`MAX_CANDIDATES`](crate::MAX_CANDIDATES).
///
/// Names match byte for byte: `__host-session`, `__Host-session ` (trailing space), look-alike
/// Unicode and percent-encoded names are other cookies. Malformed pairs are skipped.
fn session_cookies<'h>(
    fields: impl Iterator<Item = &'h HeaderValue>,
    name: &str,
    max_value_len: usize,
) -> Candidates {
    let mut candidates = Candidates::default();
    for field in fields {
        for pair in field.as_bytes().split(|&b| b == b';') {
            // Separators are "; " (RFC 6265 §4.2.1); tolerate extra leading whitespace only.
            let pair = pair.trim_ascii_start();
            let Some(rest) = pair.strip_prefix(name.as_bytes()) else {
                continue;
            };
            let Some(value) = rest.strip_prefix(b"=") else {
                continue;
            };
            // Sealed values are base64url; anything else cannot be ours but must still be
            // refused like any other bad cookie, so it becomes a candidate that fails to open.
            let value = core::str::from_utf8(value).unwrap_or("\u{fffd}");
            if !candidates.push(value, max_value_len) {
                return candidates;
            }
        }
    }
    candidates
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

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let session = self.start(&mut req);
        ResponseFuture {
            inner: self.inner.call(req),
            session: Some(session),
        }
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

    fn call(&self, mut req: Request<ReqBody>) -> Self::Future {
        let session = self.start(&mut req);
        ResponseFuture {
            inner: self.inner.call(req),
            session: Some(session),
        }
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
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(session) = this.session.take() {
            apply(&session, response.headers_mut());
        }
        Poll::Ready(Ok(response))
    }
}

/// Writes the session's outcome into the response headers and logs what was refused.
fn apply<T: SessionData>(session: &Session<T>, headers: &mut HeaderMap) {
    let outcome = session.finish();
    for kind in outcome.refused {
        log_refused(kind);
    }
    if outcome.conflict {
        tracing::warn!(
            target: OPEN_EVENT_TARGET,
            "two different authentic session cookies in one request; one was planted (cookie tossing?): using neither"
        );
    }
    if let Some(error) = outcome.seal_error {
        tracing::error!(target: "sealed_session::seal", %error, "session not saved");
    }
    let Some(line) = outcome.set_cookie else {
        return;
    };
    // The line is built from a validated name, base64url and validated attributes.
    let Ok(value) = HeaderValue::try_from(line) else {
        tracing::error!(target: "sealed_session::seal", "Set-Cookie value is not a valid header value");
        return;
    };
    headers.append(SET_COOKIE, value);
    let config = session.config();
    if config.cache_control() == CacheControl::NoStoreUnlessSet
        && !headers.contains_key(CACHE_CONTROL)
    {
        // A shared cache must never hand this response (and its cookie) to someone else.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

fn log_refused(kind: OpenErrorKind) {
    match kind {
        // Routine: browsers keep cookies a little past the server-side expiry.
        OpenErrorKind::Expired | OpenErrorKind::OutsideWindow => {
            tracing::debug!(target: OPEN_EVENT_TARGET, reason = kind.as_str(), "session cookie refused");
        }
        _ => {
            tracing::info!(target: OPEN_EVENT_TARGET, reason = kind.as_str(), "session cookie refused");
        }
    }
}
