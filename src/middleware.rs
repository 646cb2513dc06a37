//! Tower and hyper middleware: `Cookie` header candidates in, `Set-Cookie` out.
//!
//! [`SessionLayer`] wraps a service; [`SessionService`] puts a [`Session`] into every request's
//! extensions and its [`ResponseFuture`] writes `Set-Cookie` (and `Cache-Control: no-store`)
//! when the response is ready. It implements both `tower::Service` (axum, tower stacks) and,
//! with the `hyper` feature, `hyper::service::Service` (a plain hyper 1 server around a
//! `service_fn`).

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::sync::Arc;
use std::time::SystemTime;

use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Request, Response};
use pin_project_lite::pin_project;

use crate::codec::{Migrations, Schema, SessionMeta};
use crate::config::Rolling;
use crate::config::{CacheControl, SessionConfig};
use crate::cookies::{self, CookieFields};
use crate::error::ConfigError;
use crate::error::OpenErrorKind;
use crate::ring::KeyRing;
use crate::session::{Found, Session, SessionData, Settings};

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
    settings: Arc<Settings<T>>,
}

impl<T: SessionData> SessionLayer<T> {
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
        }
    }

    /// Reads sessions sealed as the registered older schema versions too, converting them to
    /// `T` and re-sealing them as the current version (or, during a rollout, the version
    /// [`Migrations::write_as`] names) on the same response.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Migration`] if a version is registered twice or as the configuration's
    /// current `schema_version`, or `write_as` names a version that is not registered.
    pub fn with_migrations<Next>(
        mut self,
        migrations: Migrations<T, Next>,
    ) -> Result<Self, ConfigError> {
        let schema = Schema::with_migrations(self.settings.config.schema_version(), migrations)?;
        let mut settings = Settings::clone(&self.settings);
        settings.schema = Arc::new(schema);
        self.settings = Arc::new(settings);
        Ok(self)
    }

    /// Refuses live, authentic sessions for which `is_valid` returns `false` (they give a fresh
    /// session, as a revoked one), checked once per request when the session is opened.
    ///
    /// This is revocation without a store: keep in the session what identifies the grant (a
    /// user id and a per-user epoch, or a fingerprint of the password hash, as axum-login
    /// does), keep the current values in memory, and compare. A password change or a "log out
    /// everywhere" then bumps the epoch, and every older session of that user stops opening,
    /// on every instance that sees the new value. The check runs on the request path: keep it
    /// to a lookup in memory (the cost is yours; a hash map lookup is tens of nanoseconds).
    ///
    /// ```
    /// # use std::collections::HashMap;
    /// # use std::sync::{Arc, RwLock};
    /// # use sealed_session::{Algorithm, Key, KeyRing, SessionConfig, SessionLayer};
    /// #[derive(Default, serde::Serialize, serde::Deserialize)]
    /// struct Login { user: Option<u64>, epoch: u32 }
    ///
    /// // The current epoch of each user, bumped on a password change.
    /// let epochs: Arc<RwLock<HashMap<u64, u32>>> = Arc::default();
    /// let current = Arc::clone(&epochs);
    /// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
    /// let layer = SessionLayer::<Login>::new(ring, SessionConfig::default())
    ///     .with_revocation_check(move |_meta, login| match login.user {
    ///         None => true,
    ///         Some(user) => current.read().map_or(false, |epochs| {
    ///             epochs.get(&user).copied().unwrap_or(0) == login.epoch
    ///         }),
    ///     });
    /// # drop(layer);
    /// ```
    #[must_use]
    pub fn with_revocation_check(
        mut self,
        is_valid: impl Fn(&SessionMeta, &T) -> bool + Send + Sync + 'static,
    ) -> Self {
        let mut settings = Settings::clone(&self.settings);
        settings.validator = Some(Arc::new(is_valid));
        self.settings = Arc::new(settings);
        self
    }
}

impl<T> SessionLayer<T> {
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
        }
    }
}

/// The service of a [`SessionLayer`]: a `tower::Service`, and with the `hyper` feature a
/// `hyper::service::Service` too.
pub struct SessionService<S, T> {
    inner: S,
    settings: Arc<Settings<T>>,
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
            settings: Arc::clone(&self.settings),
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
    /// Attaches a session (not yet opened) to the request: the `Cookie` fields are kept
    /// (reference-counted, not copied) and parsed on first access.
    fn start<B>(&self, req: &mut Request<B>) -> Session<T> {
        let mut fields = req.headers().get_all(COOKIE).iter().cloned();
        let cookies = HeaderFields {
            first: fields.next(),
            rest: fields.collect(),
        };
        let session = Session::new(Arc::clone(&self.settings), cookies, req.uri().path());
        if self.settings.config.rolling() == Rolling::EveryRequest {
            session.touch();
        }
        req.extensions_mut().insert(session.clone());
        session
    }
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

/// A request's `Cookie` fields, kept as header values (reference-counted, not copied); a
/// `Vec` only for HTTP/2 requests that send several.
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
        let result = ready!(this.inner.poll(cx));
        let session = this.session.take();
        match result {
            Ok(mut response) => {
                if let Some(session) = session {
                    apply(&session, &mut response);
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

/// Writes the session's outcome into the response headers and logs what was refused.
fn apply<T: SessionData, B>(session: &Session<T>, response: &mut Response<B>) {
    let outcome = session.finish(response.status().is_server_error());
    let config = session.config();
    log_found(outcome.found);
    if let Some((from, to)) = outcome.found.migrated {
        tracing::info!(
            target: MIGRATE_EVENT_TARGET,
            from,
            to,
            "session sealed as another schema version than the one written: converted and re-sealed"
        );
    }
    if let Some(error) = outcome.seal_error {
        tracing::error!(target: SEAL_EVENT_TARGET, %error, "session not saved");
    }
    let headers = response.headers_mut();
    if headers.contains_key(SET_COOKIE) {
        drop_handler_cookies(headers, config);
    }
    if outcome.set_cookie.is_none() && outcome.more_lines.is_empty() {
        return;
    }
    for line in outcome.set_cookie.into_iter().chain(outcome.more_lines) {
        // Lines are built from a validated name, base64url and validated attributes.
        match HeaderValue::try_from(line) {
            Ok(value) => {
                headers.append(SET_COOKIE, value);
            }
            Err(_) => {
                tracing::error!(target: SEAL_EVENT_TARGET, "Set-Cookie value is not a valid header value");
            }
        }
    }
    if config.cache_control() == CacheControl::NoStoreUnlessSet {
        keep_from_shared_caches(headers);
    }
}

/// The target of events about sessions that could not be saved.
const SEAL_EVENT_TARGET: &str = "sealed_session::seal";

/// The target of the event logged for each session opened from another schema version than
/// the one written (count them to see when an old version can be dropped).
const MIGRATE_EVENT_TARGET: &str = "sealed_session::migrate";

/// SECURITY-TESTS F8: the layer owns its cookie name (and, with chunking, its chunks'). A
/// handler's own `Set-Cookie` for it would race the session's line (or resurrect a deleted
/// session), so it is dropped, with a warning: a programming error, not something a client can
/// cause.
fn drop_handler_cookies(headers: &mut HeaderMap, config: &SessionConfig) {
    let name = config.cookie_name();
    let chunked = config.max_chunks() > 1;
    let ours = |value: &HeaderValue| {
        let cookie = cookies::set_cookie_name(value.as_bytes());
        match cookies::chunk_index(cookie, name) {
            Some(0) => true,
            Some(_) => chunked,
            None => false,
        }
    };
    if !headers.get_all(SET_COOKIE).iter().any(ours) {
        return;
    }
    let lines: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    headers.remove(SET_COOKIE);
    for line in lines {
        if ours(&line) {
            tracing::warn!(
                target: SEAL_EVENT_TARGET,
                cookie = name,
                "the handler set the session's own cookie; its Set-Cookie was dropped (use the Session)"
            );
        } else {
            headers.append(SET_COOKIE, line);
        }
    }
}

/// SECURITY-TESTS F2: a response that carries a session cookie must not be stored by a
/// shared cache, whatever the handler said (RFC 9111 §5.2.2.5, §5.2.2.7). `no-store` and an
/// unqualified `private` already ensure it; otherwise `public` and `s-maxage` go, `private` is
/// added, and the rest (`max-age` for the browser's own cache, say) is kept. Without a
/// `Cache-Control` the response gets `no-store`.
fn keep_from_shared_caches(headers: &mut HeaderMap) {
    if let http::header::Entry::Vacant(entry) = headers.entry(CACHE_CONTROL) {
        entry.insert(HeaderValue::from_static("no-store"));
        return;
    }
    let mut directives: Vec<&str> = Vec::new();
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(text) = value.to_str() else {
            // Not even visible ASCII: not a Cache-Control a cache can obey; replace it.
            directives.clear();
            break;
        };
        directives.extend(text.split(',').map(str::trim).filter(|d| !d.is_empty()));
    }
    let safe = directives
        .iter()
        .any(|d| d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("private"));
    if safe {
        return;
    }
    let shared_only = |directive: &&str| {
        let name = directive.split('=').next().unwrap_or_default().trim();
        ["public", "s-maxage", "private"]
            .iter()
            .any(|shared| name.eq_ignore_ascii_case(shared))
    };
    let mut value = String::from("private");
    for directive in directives.into_iter().filter(|d| !shared_only(d)) {
        value.push_str(", ");
        value.push_str(directive);
    }
    let value =
        HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("no-store"));
    headers.insert(CACHE_CONTROL, value);
}

/// SECURITY-TESTS F5: at most one event per request about the cookies it carried, and never
/// above `info`: a client can send any cookies it likes, and must not fill the logs.
fn log_found(found: Found) {
    if found.ambiguous {
        tracing::info!(
            target: OPEN_EVENT_TARGET,
            cookies = found.cookies,
            refused = found.refused,
            "conflicting session cookies (planted, or from an old path or domain): the session is neither used, saved nor deleted"
        );
        return;
    }
    let Some(reason) = found.first_reason else {
        return;
    };
    let key_id = found.first_key.map(tracing::field::display);
    match reason {
        // Routine: browsers keep cookies a little past the server-side expiry.
        OpenErrorKind::Expired | OpenErrorKind::OutsideWindow => {
            tracing::debug!(target: OPEN_EVENT_TARGET, reason = reason.as_str(), key_id, refused = found.refused, "session cookie refused");
        }
        _ => {
            tracing::info!(target: OPEN_EVENT_TARGET, reason = reason.as_str(), key_id, refused = found.refused, "session cookie refused");
        }
    }
}
