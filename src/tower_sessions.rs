//! The tower-sessions bridge (feature `tower-sessions`): a key-value
//! [`tower_sessions::Session`](tower_sessions_core::Session) in every request, backed by a sealed
//! cookie of this crate, so that axum-login, axum-messages and other code written against
//! tower-sessions run with no store.
//!
//! It is an adapter over [`SessionLayer`]: a per-request [`SessionStore`] turns tower-sessions'
//! `load`, `create` and `save` into the typed session's `get`, `cycle_id` and `set`, so the key
//! ring and its rotation, the configuration (secure defaults, size limit, rolling refresh,
//! chunking), the envelope and every check are those of the crate.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use serde::Serialize;
use tower_layer::Layer;
use tower_service::Service;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{self, SessionStore};
use tower_sessions_core::{Expiry, Session as KvSession};

use crate::codec::{Lifetime, SessionId};
use crate::config::SessionConfig;
use crate::error::SessionError;
use crate::middleware::{SessionLayer, SessionService};
use crate::ring::KeyRing;
use crate::session::{Clock, Session};

/// The `tracing` target of the bridge's events.
const BRIDGE_EVENT_TARGET: &str = "sealed_session::tower_sessions";

/// The deepest JSON value a session may hold (serde_json itself parses at most 128 levels).
const MAX_JSON_DEPTH: usize = 64;

/// What the bridge's cookies are bound to (wire format v3): records of JSON values have no
/// shape to trace, and every bridge reads every other's records. A configuration's own
/// `type_context` takes precedence (two bridge apps sharing a ring and a cookie name).
const TYPE_CONTEXT: &str = "sealed-session/tower-sessions record";

/// A [`tower_layer::Layer`] that gives every request a
/// [`tower_sessions::Session`](tower_sessions_core::Session) (tower-sessions-core 0.14, the
/// version axum-login 0.18 and axum-messages 0.8 use) kept in a sealed cookie.
///
/// Everything the crate does for a typed session holds here: the same key ring (rotate it
/// through any clone, and sessions move to the new key on their next response), the same
/// [`SessionConfig`], the same envelope, size check and `Cache-Control` rules. What
/// tower-sessions documents holds too: `insert` of an equal value changes nothing,
/// `cycle_id` gives the session a new id (keeping its data and its absolute deadline),
/// `flush` and an emptied session delete the cookie (same name, `Path`, `Domain` and
/// prefix), `set_expiry` sets the cookie's lifetime (and is sealed with it, so it lasts
/// beyond the request), and a 5xx response saves nothing.
///
/// A session too large for the configured cookies is refused at save: `session.save()`
/// called by a handler returns
/// `Err(tower_sessions::session::Error::Store(session_store::Error::Encode(..)))`, and when
/// the layer saves after the handler, the response becomes an empty `500` (as with
/// tower-sessions' own layer) with an `error` event, and no cookie is sent. A save refused
/// because the client sent conflicting cookies of the session's name (planted ones, say) is
/// an empty `400` with no event beyond the `info` one about the cookies, as the typed API
/// answers it.
///
/// The cookie is opened only when tower-sessions loads the session (the first time a handler
/// reads or writes it): a route that never touches it costs no AEAD, but more than the typed
/// API's header lookup: a keyed hash of the cookie (the placeholder id below), a check of its
/// header (base64url of its first characters, key id, hour window; an unreadable one is
/// deleted) and a few allocations. A layer that loads the session on every request (axum-login's
/// `AuthManager` does) makes every request open the cookie. Until then,
/// `Session::id()` is a fingerprint of the cookie the request carried (the sealed id is only
/// known once the cookie is opened); it changes whenever the cookie is re-sealed.
///
/// # Lifetimes: "remember me"
///
/// `session.set_expiry(Some(Expiry::OnInactivity(d)))` seals a persistent cookie with idle
/// timeout `d`, and `Expiry::AtDateTime` one that ends then; both are capped by the
/// configuration's maxima (a capped lifetime is logged once, at `debug`, target
/// `sealed_session::lifetime`). The defaults are a day idle and a week in all, so a 30-day
/// "remember me" needs them raised:
///
/// ```
/// # use std::time::Duration;
/// # use sealed_session::{Algorithm, Key, KeyRing, SessionConfig, TowerSessionsLayer};
/// let config = SessionConfig::builder()
///     .idle_timeout(Duration::from_secs(30 * 86_400))
///     .max_lifetime(Duration::from_secs(30 * 86_400))
///     .build()?;
/// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
/// let layer = TowerSessionsLayer::new(ring, config);
/// # drop(layer);
/// # Ok::<(), sealed_session::ConfigError>(())
/// ```
///
/// # Example: axum-login
///
/// `AuthManagerLayerBuilder` only takes tower-sessions' own layer, so build axum-login's
/// `AuthManager` directly inside this one:
///
/// ```ignore
/// let auth = tower::layer::layer_fn(move |inner| {
///     axum_login::AuthManager::new(inner, backend.clone(), "axum-login.data")
/// });
/// let app = Router::new()
///     .route("/protected", get(protected))
///     .route_layer(login_required!(Backend))
///     .route("/login", post(login))
///     .layer(MessagesManagerLayer)
///     .layer(auth)
///     .layer(TowerSessionsLayer::new(ring, SessionConfig::default()));
/// ```
///
/// `examples/axum_login.rs` is the whole program.
#[derive(Clone)]
pub struct TowerSessionsLayer {
    sessions: SessionLayer<KvData>,
}

impl TowerSessionsLayer {
    /// A layer sealing with `ring` under `config`.
    #[must_use]
    pub fn new(ring: KeyRing, config: SessionConfig) -> Self {
        Self {
            sessions: SessionLayer::new(ring, config.with_default_type_context(TYPE_CONTEXT)),
        }
    }

    /// Reads the time from `clock` (a closure, or any [`Clock`]) instead of the system clock
    /// (see [`SessionLayer::with_clock`]).
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        Self {
            sessions: self.sessions.with_clock(clock),
        }
    }

    /// The key ring; rotating it (through any clone) takes effect on the next request.
    #[must_use]
    pub fn ring(&self) -> &KeyRing {
        self.sessions.ring()
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SessionConfig {
        self.sessions.config()
    }

    /// The engine this layer calls (for the test kit).
    #[cfg(feature = "test-util")]
    pub(crate) fn sessions(&self) -> &crate::engine::Sessions<KvData> {
        self.sessions.sessions()
    }
}

impl fmt::Debug for TowerSessionsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TowerSessionsLayer")
            .field("sessions", &self.sessions)
            .finish()
    }
}

impl<S> Layer<S> for TowerSessionsLayer {
    type Service = TowerSessionsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TowerSessionsService {
            sessions: self.sessions.layer(Bridge { inner }),
        }
    }
}

/// The service of a [`TowerSessionsLayer`].
pub struct TowerSessionsService<S> {
    sessions: SessionService<Bridge<S>, KvData>,
}

impl<S: Clone> Clone for TowerSessionsService<S> {
    fn clone(&self) -> Self {
        Self {
            sessions: self.sessions.clone(),
        }
    }
}

impl<S> fmt::Debug for TowerSessionsService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TowerSessionsService")
            .finish_non_exhaustive()
    }
}

/// The response future of the bridge (boxed: tower-sessions' API is `async`).
type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for TowerSessionsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Response<ResBody>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.sessions.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        Box::pin(self.sessions.call(req))
    }
}

/// Between the typed session and the inner service: puts a tower-sessions `Session` over the
/// typed one into the request, and saves it after the handler.
#[derive(Clone)]
struct Bridge<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Bridge<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Response<ResBody>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready handles this request (the tower idiom).
        let clone = self.inner.clone();
        let mut inner = core::mem::replace(&mut self.inner, clone);
        let typed = req.extensions().get::<Session<KvData>>().cloned();
        Box::pin(async move {
            let Some(typed) = typed else {
                return inner.call(req).await;
            };
            let store = Arc::new(RequestStore {
                typed: typed.clone(),
                expiry: Mutex::new(None),
                loaded: AtomicBool::new(false),
                failure: Mutex::new(None),
            });
            // tower-sessions loads a session lazily, by id; the id is sealed in the cookie, so
            // a fingerprint of the cookie stands in for it until then, and the cookie is opened
            // only when a handler touches the session (`RequestStore::load`).
            let placeholder = typed
                .cookie_fingerprint()
                .map(|print| Id(i128::from_ne_bytes(print.to_ne_bytes())));
            let session = KvSession::new(placeholder, Arc::clone(&store), None);
            req.extensions_mut().insert(session.clone());
            let mut response = inner.call(req).await?;
            if !store.loaded.load(Ordering::Acquire) && !session.is_modified() {
                // Never touched: nothing is opened; only a cookie that cannot open on its
                // header alone is deleted (as tower-sessions deletes one that is no id).
                typed.discard_unreadable();
                return Ok(response);
            }
            if session.is_empty().await && typed.id().is_some() {
                // Flushed or logged out: delete the cookie. (A cookie that did not open is
                // deleted by the typed session alone, and planted ones are left in place.)
                let _ = typed.destroy();
            } else if session.is_modified() && !response.status().is_server_error() {
                *lock(&store.expiry) = session.expiry();
                if typed.is_conflicted() {
                    // The client's own conflicting cookies (planted ones, say), already logged
                    // at `info` when the session was opened: what the typed API answers. Not
                    // through `save`, which tower-sessions logs as an `error` when it fails.
                    response = Response::default();
                    *response.status_mut() = StatusCode::BAD_REQUEST;
                } else if session.save().await.is_err() {
                    let failure = lock(&store.failure)
                        .take()
                        .unwrap_or(SessionError::Internal);
                    response = Response::default();
                    *response.status_mut() = if failure == SessionError::Conflict {
                        // The client's own conflicting cookies, already logged at `info` when
                        // the session was opened: what the typed API answers.
                        StatusCode::BAD_REQUEST
                    } else {
                        tracing::error!(target: BRIDGE_EVENT_TARGET, error = %failure, "tower-sessions session not saved; answering 500");
                        StatusCode::INTERNAL_SERVER_ERROR
                    };
                }
            }
            Ok(response)
        })
    }
}

/// A lock that a panic elsewhere does not poison (every value is written in one step).
fn lock<V>(mutex: &Mutex<V>) -> std::sync::MutexGuard<'_, V> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S> fmt::Debug for Bridge<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bridge").finish_non_exhaustive()
    }
}

/// One request's view of the typed session, as a tower-sessions store.
struct RequestStore {
    typed: Session<KvData>,
    /// The expiry to seal at the next `create` or `save`; `None`: the session's own lifetime.
    expiry: Mutex<Option<Expiry>>,
    /// tower-sessions asked for the record (the cookie was opened).
    loaded: AtomicBool,
    /// Why the last write failed, for the status of the response.
    failure: Mutex<Option<SessionError>>,
}

impl fmt::Debug for RequestStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestStore").finish_non_exhaustive()
    }
}

impl RequestStore {
    /// Writes a record's data and the expiry (and with `new_id` a new id) into the typed
    /// session, all or nothing.
    fn write(&self, record: &Record, new_id: bool) -> session_store::Result<()> {
        let data = KvData::from_record(record)?;
        let current = self.typed.lifetime();
        let lifetime = match *lock(&self.expiry) {
            Some(expiry) => lifetime_of(expiry, current, self.typed.created_and_now()),
            None => current,
        };
        self.typed
            .save_record(data, lifetime, new_id)
            .map_err(|error| {
                let message = error.to_string();
                *lock(&self.failure) = Some(error);
                session_store::Error::Encode(message)
            })
    }
}

#[async_trait::async_trait]
impl SessionStore for RequestStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A new session, or (after `cycle_id` or `flush`) a new id for this one.
        self.write(record, self.typed.id().is_some())?;
        if let Some(id) = self.typed.id() {
            record.id = id_of(id);
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.write(record, false)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.loaded.store(true, Ordering::Release);
        // The id asked for is the cookie's stand-in: the record is whatever the cookie holds
        // (an empty one for a cookie that did not open, as for a new session).
        let expiry_date = self
            .typed
            .expires_at()
            .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|since| i64::try_from(since.as_secs()).ok())
            .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Ok(Some(Record {
            id: self.typed.id().map_or(*id, id_of),
            data: self.typed.get().to_map(),
            expiry_date,
        }))
    }

    async fn delete(&self, _: &Id) -> session_store::Result<()> {
        // Nothing is stored: an emptied session's cookie is deleted by the layer.
        Ok(())
    }
}

/// The tower-sessions id of a session id (the same 128 bits).
fn id_of(id: SessionId) -> Id {
    Id(i128::from_le_bytes(*id.as_bytes()))
}

/// The lifetime that implements `expiry` for a session whose lifetime is `current`, created
/// at `created` and sealed at `now`: an absolute time becomes an idle timeout and absolute
/// lifetime ending then; the configuration's maxima still cap both.
fn lifetime_of(expiry: Expiry, current: Lifetime, (created, now): (Option<u64>, u64)) -> Lifetime {
    let secs = |d: time::Duration| {
        Duration::from_secs(u64::try_from(d.whole_seconds()).unwrap_or(0).max(1))
    };
    match expiry {
        Expiry::OnSessionEnd => {
            let mut lifetime = Lifetime::browser_session();
            if let Some(idle) = current.idle_timeout() {
                lifetime = lifetime.with_idle_timeout(idle);
            }
            if let Some(max) = current.max_lifetime() {
                lifetime = lifetime.with_max_lifetime(max);
            }
            lifetime
        }
        Expiry::OnInactivity(idle) => {
            let lifetime = Lifetime::persistent().with_idle_timeout(secs(idle));
            match current.max_lifetime() {
                Some(max) => lifetime.with_max_lifetime(max),
                None => lifetime,
            }
        }
        Expiry::AtDateTime(at) => {
            let created = created.unwrap_or(now);
            let until = u64::try_from(at.unix_timestamp()).unwrap_or(0);
            let span = Duration::from_secs(until.saturating_sub(created).max(1));
            let idle = Duration::from_secs(until.saturating_sub(now).max(1));
            Lifetime::persistent()
                .with_idle_timeout(idle)
                .with_max_lifetime(span)
        }
    }
}

/// tower-sessions' data (a map of `serde_json::Value`s) as sealed: the entries sorted by key,
/// so that equal maps encode alike, each value in [`Json`] (postcard cannot deserialize
/// `serde_json::Value`, which needs a self-describing format).
///
/// Serialized as derived; deserialized by [`depth_bounded`], which refuses a value nesting
/// deeper than [`MAX_JSON_DEPTH`] (what [`Json::from_value`] refuses to save) before it
/// recurses any further (SECURITY-TESTS H2).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct KvData {
    entries: Vec<(String, Json)>,
}

/// A JSON value in a form postcard reads back: one tag byte, then varints, IEEE doubles and
/// length-prefixed strings: a login record with a flash message takes 255 bytes this way
/// against 345 as JSON text.
///
/// Its variants' order is the wire format: [`depth_bounded`] reads the tags by number.
#[derive(Debug, Clone, PartialEq, Serialize)]
enum Json {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl KvData {
    fn from_record(record: &Record) -> session_store::Result<Self> {
        Self::from_map(&record.data)
    }

    /// A record's data as sealed (the test kit seals records too).
    pub(crate) fn from_map(
        data: &std::collections::HashMap<String, serde_json::Value>,
    ) -> session_store::Result<Self> {
        let mut entries: Vec<(String, Json)> = data
            .iter()
            .map(|(key, value)| Ok((key.clone(), Json::from_value(value, 0)?)))
            .collect::<session_store::Result<_>>()?;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Self { entries })
    }

    pub(crate) fn to_map(&self) -> std::collections::HashMap<String, serde_json::Value> {
        self.entries
            .iter()
            .map(|(key, value)| (key.clone(), value.to_value()))
            .collect()
    }
}

impl Json {
    fn from_value(value: &serde_json::Value, depth: usize) -> session_store::Result<Self> {
        use serde_json::Value;
        if depth > MAX_JSON_DEPTH {
            return Err(session_store::Error::Encode(format!(
                "session values nest deeper than {MAX_JSON_DEPTH} levels"
            )));
        }
        Ok(match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => Self::Unsigned(u),
                (None, Some(i), _) => Self::Signed(i),
                (None, None, Some(f)) => Self::Float(f),
                (None, None, None) => {
                    return Err(session_store::Error::Encode(
                        "a number outside u64, i64 and f64".to_owned(),
                    ));
                }
            },
            Value::String(s) => Self::String(s.clone()),
            Value::Array(items) => Self::Array(
                items
                    .iter()
                    .map(|item| Self::from_value(item, depth + 1))
                    .collect::<session_store::Result<_>>()?,
            ),
            Value::Object(map) => Self::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Self::from_value(v, depth + 1)?)))
                    .collect::<session_store::Result<_>>()?,
            ),
        })
    }

    fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Unsigned(u) => Value::from(*u),
            Self::Signed(i) => Value::from(*i),
            Self::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Self::String(s) => Value::String(s.clone()),
            Self::Array(items) => Value::Array(items.iter().map(Self::to_value).collect()),
            Self::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// The bridge's [`Deserialize`](serde::Deserialize) for [`KvData`]: the derived one's wire
/// format (postcard: the entry count, then each key and value; a value is its variant's tag,
/// then its content), with the depth of every value counted as it is read. A value deeper
/// than [`MAX_JSON_DEPTH`] is an error at once, so reading, converting, comparing and dropping
/// a decoded record recurse at most that deep, whatever the cookie holds (0.2 recursed once per
/// level: 8,170 levels in a 178-byte compressed cookie overflowed a release build's stack).
mod depth_bounded {
    use core::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, SeqAccess, VariantAccess};

    use super::{Json, KvData, MAX_JSON_DEPTH};

    /// The variant names of [`Json`], in order (for serde's messages).
    const VARIANTS: &[&str] = &[
        "Null", "Bool", "Unsigned", "Signed", "Float", "String", "Array", "Object",
    ];

    /// Elements reserved ahead from a length the input claims (the rest grow as they come).
    const MAX_RESERVED: usize = 16;

    impl<'de> serde::Deserialize<'de> for KvData {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_struct("KvData", &["entries"], RecordVisitor)
        }
    }

    struct RecordVisitor;

    impl<'de> de::Visitor<'de> for RecordVisitor {
        type Value = KvData;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a tower-sessions record")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KvData, A::Error> {
            let entries = seq
                .next_element_seed(Entries { depth: 0 })?
                .ok_or_else(|| de::Error::invalid_length(0, &self))?;
            Ok(KvData { entries })
        }
    }

    /// A list of `(key, value)` entries whose values sit at `depth`.
    #[derive(Clone, Copy)]
    struct Entries {
        depth: usize,
    }

    impl<'de> DeserializeSeed<'de> for Entries {
        type Value = Vec<(String, Json)>;

        fn deserialize<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_seq(self)
        }
    }

    impl<'de> de::Visitor<'de> for Entries {
        type Value = Vec<(String, Json)>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of entries")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_RESERVED));
            while let Some(entry) = seq.next_element_seed(Entry { depth: self.depth })? {
                entries.push(entry);
            }
            Ok(entries)
        }
    }

    /// One `(key, value)` entry whose value sits at `depth`.
    #[derive(Clone, Copy)]
    struct Entry {
        depth: usize,
    }

    impl<'de> DeserializeSeed<'de> for Entry {
        type Value = (String, Json);

        fn deserialize<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_tuple(2, self)
        }
    }

    impl<'de> de::Visitor<'de> for Entry {
        type Value = (String, Json);

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a key and a value")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let key: String = seq
                .next_element()?
                .ok_or_else(|| de::Error::invalid_length(0, &self))?;
            let value = seq
                .next_element_seed(Value { depth: self.depth })?
                .ok_or_else(|| de::Error::invalid_length(1, &self))?;
            Ok((key, value))
        }
    }

    /// A value at `depth` (a record's values are at 0), refused past [`MAX_JSON_DEPTH`].
    #[derive(Clone, Copy)]
    struct Value {
        depth: usize,
    }

    impl<'de> DeserializeSeed<'de> for Value {
        type Value = Json;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
            if self.depth > MAX_JSON_DEPTH {
                return Err(de::Error::custom(format_args!(
                    "session values nest deeper than {MAX_JSON_DEPTH} levels"
                )));
            }
            deserializer.deserialize_enum("Json", VARIANTS, self)
        }
    }

    impl<'de> de::Visitor<'de> for Value {
        type Value = Json;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }

        fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Json, A::Error> {
            let (tag, variant): (u32, _) = data.variant()?;
            let inner = Items {
                depth: self.depth.saturating_add(1),
            };
            Ok(match tag {
                0 => {
                    variant.unit_variant()?;
                    Json::Null
                }
                1 => Json::Bool(variant.newtype_variant()?),
                2 => Json::Unsigned(variant.newtype_variant()?),
                3 => Json::Signed(variant.newtype_variant()?),
                4 => Json::Float(variant.newtype_variant()?),
                5 => Json::String(variant.newtype_variant()?),
                6 => Json::Array(variant.newtype_variant_seed(inner)?),
                7 => Json::Object(variant.newtype_variant_seed(Entries { depth: inner.depth })?),
                _ => {
                    return Err(de::Error::invalid_value(
                        de::Unexpected::Unsigned(u64::from(tag)),
                        &"a variant index 0 to 7",
                    ));
                }
            })
        }
    }

    /// The items of an array, each at `depth`.
    #[derive(Clone, Copy)]
    struct Items {
        depth: usize,
    }

    impl<'de> DeserializeSeed<'de> for Items {
        type Value = Vec<Json>;

        fn deserialize<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_seq(self)
        }
    }

    impl<'de> de::Visitor<'de> for Items {
        type Value = Vec<Json>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of values")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_RESERVED));
            while let Some(item) = seq.next_element_seed(Value { depth: self.depth })? {
                items.push(item);
            }
            Ok(items)
        }
    }
}

/// The bridge's record codec, for the fuzz targets only (`--cfg fuzzing`, which cargo-fuzz
/// sets): not part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use std::collections::HashMap;

    use tower_sessions_core::session::{Id, Record};

    use super::KvData;

    /// The deepest a value in a record may sit (a record's own values are at depth 0).
    pub const MAX_DEPTH: usize = super::MAX_JSON_DEPTH;

    /// A session's data encoding (the authentic plaintext after its head) read as the bridge
    /// reads it, and converted to tower-sessions' map.
    ///
    /// # Errors
    ///
    /// The decoder's message when the bytes are not a record (with nothing left over).
    pub fn decode_record(bytes: &[u8]) -> Result<HashMap<String, serde_json::Value>, String> {
        postcard::from_bytes::<KvData>(bytes)
            .map(|data| data.to_map())
            .map_err(|error| error.to_string())
    }

    /// The encoding the bridge seals for `data`.
    ///
    /// # Errors
    ///
    /// The bridge's message when it refuses to save `data` (too deep, a number it cannot
    /// hold), or the encoder's.
    pub fn encode_record(data: &HashMap<String, serde_json::Value>) -> Result<Vec<u8>, String> {
        let record = Record {
            id: Id(0),
            data: data.clone(),
            expiry_date: time::OffsetDateTime::UNIX_EPOCH,
        };
        let data = KvData::from_record(&record).map_err(|error| error.to_string())?;
        postcard::to_allocvec(&data).map_err(|error| error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The record axum-login and axum-messages keep after a login with one flash message, and
    /// a CSRF token: sealed as [`KvData`] it is smaller than the same map as JSON text.
    #[test]
    fn records_round_trip_and_are_smaller_than_json_text() {
        let data: std::collections::HashMap<String, serde_json::Value> = serde_json::from_str(
            r#"{
                "axum-login.data": {"user_id": 1, "auth_hash": [104,117,110,116,101,114,52,50,104,117,110,116,101,114,52,50,104,117,110,116,101,114,52,50,104,117,110,116,101,114,52,50]},
                "axum-messages.data": {"pending_messages": [{"l": "Success", "m": "logged in", "d": null}], "messages": []},
                "csrf": "3q2-7wAAAAD-3q2-7wAAAAD-3q2-7wAAAAD-3q0",
                "n": -5, "ratio": 0.25, "ok": true
            }"#,
        )
        .unwrap();
        let record = Record {
            id: Id(7),
            data: data.clone(),
            expiry_date: time::OffsetDateTime::UNIX_EPOCH,
        };
        let sealed = KvData::from_record(&record).unwrap();
        assert_eq!(sealed.to_map(), data);
        let bytes = postcard::to_allocvec(&sealed).unwrap();
        let back: KvData = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, sealed);
        let text = serde_json::to_vec(&data).unwrap();
        assert!(
            bytes.len() * 10 < text.len() * 8,
            "{} vs {}",
            bytes.len(),
            text.len()
        );
        // Too deep is refused, not overflowed.
        let mut deep = serde_json::Value::Null;
        for _ in 0..100 {
            deep = serde_json::Value::Array(vec![deep]);
        }
        let record = Record {
            data: [("deep".to_owned(), deep)].into_iter().collect(),
            ..record
        };
        assert!(KvData::from_record(&record).is_err());
    }

    /// The record encoding of one entry `deep`: `levels` containers (arrays, or objects of one
    /// entry `k`, alternating from `object_first`) of one element around a `null`.
    fn nested(levels: usize, object_first: bool) -> Vec<u8> {
        let mut bytes = vec![1, 4, b'd', b'e', b'e', b'p'];
        for level in 0..levels {
            if (level % 2 == 0) == object_first {
                bytes.extend_from_slice(&[7, 1, 1, b'k']);
            } else {
                bytes.extend_from_slice(&[6, 1]);
            }
        }
        bytes.push(0);
        bytes
    }

    /// SECURITY-TESTS H2 (RT3-2): the decoder refuses a value deeper than the save side
    /// accepts, as an error, however deep (0.2 recursed once per level and overflowed the
    /// stack); what the save side accepts decodes, to the same bytes.
    #[test]
    fn decoding_is_bounded_by_the_depth_the_save_side_accepts() {
        for object_first in [false, true] {
            let fits = nested(MAX_JSON_DEPTH, object_first);
            let data: KvData = postcard::from_bytes(&fits).unwrap();
            let record = Record {
                id: Id(1),
                data: data.to_map(),
                expiry_date: time::OffsetDateTime::UNIX_EPOCH,
            };
            let saved = KvData::from_record(&record).unwrap();
            assert_eq!(postcard::to_allocvec(&saved).unwrap(), fits);

            for levels in [MAX_JSON_DEPTH + 1, 1_000, 1_000_000] {
                let error = postcard::from_bytes::<KvData>(&nested(levels, object_first));
                assert!(error.is_err(), "{levels} levels decoded");
            }
        }
        // One level more is refused by the save side too.
        let mut deep = serde_json::Value::Null;
        for _ in 0..=MAX_JSON_DEPTH {
            deep = serde_json::Value::Array(vec![deep]);
        }
        let record = Record {
            id: Id(1),
            data: [("deep".to_owned(), deep)].into_iter().collect(),
            expiry_date: time::OffsetDateTime::UNIX_EPOCH,
        };
        assert!(KvData::from_record(&record).is_err());
        // Not a variant, and a claimed length the input does not hold (the codec refuses
        // trailing bytes itself).
        assert!(postcard::from_bytes::<KvData>(&[1, 1, b'k', 8]).is_err());
        assert!(postcard::from_bytes::<KvData>(&[1, 1, b'k', 6, 0xff, 0xff, 0xff, 0x7f]).is_err());
    }
}
