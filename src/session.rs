//! `Session<T>`: the per-request handle, its state machine and size-checked mutation.
//!
//! Framework-neutral: the adapters hand it the request's raw `Cookie` fields, and take an
//! [`Outcome`] (the `Set-Cookie` line to send, and what to log) when the response is ready.
//! It calls down into `cookies` (parsing, lines) and `codec` (opening, encoding, sealing), and
//! nothing calls back up.

use core::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{
    self, Codec, Data, Encoding, Format, Head, Lifetime, Opened, Refusal, Schema, SessionId,
    SessionMeta,
};
use crate::config::{Rolling, SessionConfig};
use crate::cookies::{self, CookieFields, Layout};
use crate::envelope::{self, Flags};
use crate::error::{OpenErrorKind, SessionError};
use crate::key::KeyId;
use crate::ring::KeyRing;

/// At most this many cookies of the session's name are authenticated per request
/// (SECURITY-TESTS D3, F1): every candidate gets the cheap checks (length, base64url, version,
/// key id, hour window), and only those that pass them cost an AEAD open.
pub(crate) const MAX_OPENS: usize = 4;

/// The most flash messages a session holds; older ones are dropped first.
const MAX_FLASH: usize = 16;

/// What a session type needs: postcard-serializable, a default for new sessions, and shareable
/// across the threads a request may move between.
pub trait SessionData: Serialize + DeserializeOwned + Default + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Default + Send + Sync + 'static> SessionData for T {}

/// A source of the current time (the system clock unless a layer was given another).
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// An application's check that a live, authentic session is still valid (revocation): `false`
/// refuses it.
pub(crate) type Validator<T> = Arc<dyn Fn(&SessionMeta, &T) -> bool + Send + Sync>;

/// The settings a layer shares with every session it creates.
pub(crate) struct Settings<T> {
    pub(crate) config: SessionConfig,
    pub(crate) codec: Codec,
    pub(crate) schema: Arc<Schema<T>>,
    /// `None`: the system clock.
    pub(crate) clock: Option<Clock>,
    pub(crate) validator: Option<Validator<T>>,
}

impl<T> Clone for Settings<T> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            codec: self.codec.clone(),
            schema: Arc::clone(&self.schema),
            clock: self.clock.clone(),
            validator: self.validator.clone(),
        }
    }
}

impl<T: SessionData> Settings<T> {
    pub(crate) fn new(ring: KeyRing, config: SessionConfig) -> Self {
        let codec = config.codec(ring);
        let schema = Arc::new(Schema::current(config.schema_version()));
        Self {
            config,
            codec,
            schema,
            clock: None,
            validator: None,
        }
    }
}

impl<T> Settings<T> {
    /// The current time in Unix seconds (0 for a clock set before 1970).
    pub(crate) fn now(&self) -> u64 {
        let now = self
            .clock
            .as_ref()
            .map_or_else(SystemTime::now, |clock| clock());
        now.duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    }
}

/// A session handle: cheap to clone, every clone is the same session.
///
/// The middleware puts one in each request's extensions (with axum it is also the
/// extractor). The cookie is opened lazily, on first access; a route that never touches the
/// session pays nothing but a header lookup. A missing, malformed, tampered, expired or
/// unknown-key cookie gives a fresh empty session, never an error.
///
/// Changes are size-checked: [`set`](Self::set) and [`update`](Self::update) refuse with
/// [`SessionError::TooLarge`] a change whose `Set-Cookie` would exceed the limit, and leave
/// the session as it was. A change is detected by comparing encodings, so an update that
/// changes nothing (or changes something and changes it back) sends no cookie.
///
/// # Which changes of `T` need a new schema version
///
/// postcard is not self-describing: a cookie holds `T`'s fields in order, without names. Any
/// change of the fields' order, count or types (adding a field, even with
/// `#[serde(default)]`; removing, renaming with a reorder or retyping one) makes old cookies
/// unreadable, so it needs a new schema version (`SessionConfigBuilder::schema_version`).
/// Renaming a field in place or changing only methods does not. Attributes that postcard cannot
/// round-trip (`skip_serializing_if`, `untagged`, `flatten`, `skip_serializing` without
/// `skip_deserializing`) are refused by `set`/`update` with [`SessionError::NotRoundTrip`],
/// never sealed into a cookie that would not open.
///
/// # Lifetimes and flash messages
///
/// A session expires as its [`Lifetime`] says: the configuration's default, or one chosen
/// with [`set_lifetime`](Self::set_lifetime) ("remember me" on login: a persistent cookie; a
/// browser-session cookie otherwise), capped by the configuration's maxima and sealed with the
/// session, so every instance enforces it. [`flash`](Self::flash) leaves a message for the
/// next request that reads [`take_flash`](Self::take_flash) (or this one), across a redirect.
///
/// # Lifecycle within a request
///
/// - After [`destroy`](Self::destroy), the session reads as new and empty for the rest of the
///   request, the response deletes the cookie, and every other change returns
///   [`SessionError::Destroyed`].
/// - After the response was written (a clone kept by a spawned task, say), every change returns
///   [`SessionError::ResponseSent`]: it could never reach the browser.
/// - A response with a 5xx status writes no session change (as tower-sessions and Django): the
///   browser keeps the cookie it had. Deleting the cookie ([`destroy`](Self::destroy), or a
///   refused cookie) still happens.
///
/// # Concurrency
///
/// As with every cookie session, the last response to reach the browser wins: two tabs that
/// change the session at once each send their own version, and the later one stays.
///
/// # Example
///
/// ```
/// # #[cfg(feature = "axum")]
/// # fn demo() -> axum::Router {
/// use axum::{Router, routing::get};
/// use sealed_session::{
///     Algorithm, Key, KeyRing, Session, SessionConfig, SessionError, SessionLayer,
/// };
///
/// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// struct Visits { count: u32 }
///
/// // An axum handler: `Session<Visits>` is the extractor, and `SessionError` a response
/// // (413 when the session would be too large).
/// async fn count(session: Session<Visits>) -> Result<String, SessionError> {
///     let count = session.update(|v| { v.count += 1; v.count })?;
///     Ok(format!("visits: {count}"))
/// }
///
/// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
/// Router::new()
///     .route("/", get(count))
///     .layer(SessionLayer::<Visits>::new(ring, SessionConfig::default()))
/// # }
/// ```
pub struct Session<T> {
    shared: Arc<Shared<T, dyn CookieFields>>,
}

/// One allocation per request: the state and, unsized at the end, the request's `Cookie`
/// fields as the adapter holds them.
struct Shared<T, C: ?Sized> {
    settings: Arc<Settings<T>>,
    state: Mutex<State<T>>,
    cookies: C,
}

struct State<T> {
    /// The request's time, read from the clock on first access (a route that never touches
    /// the session never reads it); sealing uses it too, so the size predicted on mutation is
    /// the size sent.
    now: Option<u64>,
    /// The request's path is outside the cookie's `Path`: the browser neither sent the cookie
    /// nor would send one set here back, so changes are refused.
    outside_path: bool,
    phase: Phase,
    /// Opened on first access.
    loaded: Option<Loaded<T>>,
    /// What opening found, for the plan and the log.
    found: Found,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    Destroyed,
    /// The outcome was taken: the response is on its way.
    Sent,
}

/// What the request's cookies of the session's name held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Found {
    /// Cookies of the name in the request.
    pub(crate) cookies: usize,
    /// Refused ones, and the reason to log: the first that is not routine (expiry), else the
    /// first.
    pub(crate) refused: usize,
    pub(crate) first_reason: Option<OpenErrorKind>,
    /// The key id the logged refusal named, if its header was read (a revoked key, say).
    pub(crate) first_key: Option<KeyId>,
    /// Two different authentic cookies, or more candidates than could be authenticated: one
    /// of them may be the user's own, so the session is neither used, saved nor deleted.
    pub(crate) ambiguous: bool,
    /// The session was sealed as another schema version than the one written: (from, to).
    pub(crate) migrated: Option<(u32, u32)>,
    /// Bit `k`: the request carried a chunk cookie `name.k` (read only with chunking on).
    pub(crate) chunks_seen: u16,
}

struct Loaded<T> {
    data: Arc<T>,
    /// The data as loaded, to detect changes (a change back to it is no change).
    original: Arc<T>,
    /// `None` for a new session that has not been given an identity yet.
    meta: Option<SessionMeta>,
    /// The expiry sealed in the incoming cookie.
    expires: Option<u64>,
    /// `None`: the configuration's default.
    lifetime: Option<Lifetime>,
    flash: Vec<String>,
    from_cookie: bool,
    by_primary: bool,
    /// Sealed as an older schema version than the one written: re-seal.
    outdated: bool,
    /// The encoding of the data, once made (by a change, or a size check): the seal reuses
    /// it.
    encoded: Option<Encoded>,
    /// How many cookies the incoming session was split across (1 for a new session).
    chunks: usize,
    data_changed: bool,
    /// The id, the lifetime or the flash messages changed.
    head_changed: bool,
}

/// The data's encoding, and its compressed form when compression makes it shorter: what is
/// sealed, and what the size check counts.
struct Encoded {
    plain: Vec<u8>,
    packed: Option<Vec<u8>>,
}

impl Encoded {
    fn new(plain: Vec<u8>, codec: &Codec) -> Self {
        let packed = codec.pack(&plain);
        Self { plain, packed }
    }

    /// The bytes sealed, and whether they are compressed.
    fn sealed(&self) -> (&[u8], bool) {
        match &self.packed {
            Some(packed) => (packed, true),
            None => (&self.plain, false),
        }
    }
}

impl<T> Clone for Session<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Session<T> {
    /// Ends the request without a response to write to (the handler failed, or the response
    /// future was dropped): later changes get [`SessionError::ResponseSent`] instead of an
    /// `Ok` that nothing would save (SECURITY-TESTS F6).
    pub(crate) fn abandon(&self) {
        self.shared.lock().phase = Phase::Sent;
    }
}

impl<T> fmt::Debug for Session<T> {
    /// Shows the state, never the data, the id or the cookie.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        let mut debug = f.debug_struct("Session");
        debug.field("cookie_name", &self.shared.settings.config.cookie_name());
        match &state.loaded {
            None => debug.field("loaded", &false),
            Some(loaded) => debug
                .field("from_cookie", &loaded.from_cookie)
                .field("modified", &(loaded.data_changed || loaded.head_changed)),
        };
        debug.field("phase", &state.phase).finish_non_exhaustive()
    }
}

impl<T, C: ?Sized> Shared<T, C> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every mutation is prepared outside the lock or applied in one step, so a panic in
        // another holder cannot leave the state half-changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: SessionData> Session<T> {
    /// A session for one request: its raw `Cookie` fields and its path.
    pub(crate) fn new(
        settings: Arc<Settings<T>>,
        cookies: impl CookieFields + 'static,
        request_path: &str,
    ) -> Self {
        let cookie_path = settings.config.path();
        let outside_path = cookie_path != "/" && !cookies::path_matches(request_path, cookie_path);
        Self {
            shared: Arc::new(Shared {
                settings,
                cookies,
                state: Mutex::new(State {
                    now: None,
                    outside_path,
                    phase: Phase::Open,
                    loaded: None,
                    found: Found::default(),
                }),
            }),
        }
    }

    /// The session data: a cheap shared snapshot (the session itself is not locked while
    /// you hold it).
    #[must_use]
    pub fn get(&self) -> Arc<T> {
        let mut state = self.shared.lock();
        Arc::clone(&state.load(&self.shared.settings, &self.shared.cookies).data)
    }

    /// Replaces the data.
    ///
    /// # Errors
    ///
    /// [`SessionError::TooLarge`] if the sealed session's `Set-Cookie` would exceed the size
    /// limit (the sizes count the whole `Set-Cookie` line), [`SessionError::NotRoundTrip`] if
    /// its encoding would not open again, [`SessionError::Serialize`] if the value cannot be
    /// serialized, [`SessionError::Rng`] if a new session's id cannot be drawn, and
    /// [`Destroyed`](SessionError::Destroyed), [`ResponseSent`](SessionError::ResponseSent),
    /// [`Conflict`](SessionError::Conflict) or [`OutsidePath`](SessionError::OutsidePath)
    /// when no change can take effect. On error the session is unchanged.
    pub fn set(&self, value: T) -> Result<(), SessionError> {
        self.replace(value)
    }

    /// Changes the data through `f`, which works on a copy: if the result cannot be saved, the
    /// session stays as it was.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R, SessionError>
    where
        T: Clone,
    {
        self.writable()?;
        // `f` runs without the lock held, so it may use the session itself.
        let mut data = T::clone(&self.get());
        let result = f(&mut data);
        self.replace(data)?;
        Ok(result)
    }

    /// Fails fast when no change can take effect, before any work.
    fn writable(&self) -> Result<(), SessionError> {
        let mut state = self.shared.lock();
        state.writable(&self.shared.settings, &self.shared.cookies)
    }

    fn replace(&self, data: T) -> Result<(), SessionError> {
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        state.writable(settings, &self.shared.cookies)?;
        let now = state.now(settings);
        let loaded = state.load(settings, &self.shared.cookies);
        let head = loaded.head(settings, provisional_meta(now));
        let encoded = encode_fitting(settings, &data, &head, now)?;
        let changed = !settings.schema.encodes_to(&loaded.original, &encoded.plain);
        if changed && loaded.meta.is_none() {
            loaded.meta = Some(SessionMeta::new(now)?);
        }
        if !changed && !loaded.from_cookie && !loaded.head_changed {
            // Back to what a new session holds: nothing to save (and no identity yet).
            loaded.meta = None;
        }
        loaded.data = Arc::new(data);
        loaded.encoded = Some(encoded);
        loaded.data_changed = changed;
        Ok(())
    }

    /// Resets the data to `T::default()`, keeping the session id.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set): the default value must fit and round-trip too.
    pub fn clear(&self) -> Result<(), SessionError> {
        self.replace(T::default())
    }

    /// Ends the session: the response deletes the cookie (`Max-Age=0`, same name, path and
    /// domain) and the handle reads as a new, empty session for the rest of the request;
    /// other changes then return [`SessionError::Destroyed`].
    ///
    /// # Errors
    ///
    /// [`SessionError::ResponseSent`] if the response was already written.
    ///
    /// # Security
    ///
    /// This deletes the cookie from this browser only. A copy of the cookie taken earlier keeps
    /// opening until it expires, unless a revocation check refuses it (see SECURITY.md).
    pub fn destroy(&self) -> Result<(), SessionError> {
        let mut state = self.shared.lock();
        if state.phase == Phase::Sent {
            return Err(SessionError::ResponseSent);
        }
        if state.loaded.is_none() {
            // Whether there are cookies to delete; nothing needs opening.
            let config = &self.shared.settings.config;
            let name = config.cookie_name();
            state.found.cookies = cookies::values(&self.shared.cookies, name).count();
            if config.max_chunks() > 1 {
                state.found.chunks_seen = chunks_seen(&self.shared.cookies, name);
            }
        }
        state.phase = Phase::Destroyed;
        state.loaded = Some(Loaded::fresh());
        Ok(())
    }

    /// Gives the session a new id, keeping its data and its absolute deadline. Call it on
    /// login (and on any privilege change) so that a cookie from before the login never
    /// carries the logged-in identity (session fixation). [`renew`](Self::renew) also
    /// restarts the absolute lifetime.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    pub fn cycle_id(&self) -> Result<(), SessionError> {
        self.change_head(|head, now| {
            // SECURITY-TESTS F9: a new id never extends the absolute deadline.
            let created = head.meta.map_or(now, |meta| meta.created);
            head.meta = Some(SessionMeta::new(now).map(|meta| SessionMeta { created, ..meta })?);
            Ok(())
        })
    }

    /// Gives the session a new id and a fresh absolute lifetime, keeping its data: the session
    /// is then as new as one created now.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    pub fn renew(&self) -> Result<(), SessionError> {
        self.change_head(|head, now| {
            head.meta = Some(SessionMeta::new(now)?);
            Ok(())
        })
    }

    /// Sets how this session expires (for example a persistent cookie on a "remember me"
    /// login, a browser-session cookie otherwise), capped by the configuration's maxima.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    pub fn set_lifetime(&self, lifetime: Lifetime) -> Result<(), SessionError> {
        self.change_head(|head, now| {
            head.lifetime = Some(lifetime);
            if head.meta.is_none() {
                head.meta = Some(SessionMeta::new(now)?);
            }
            Ok(())
        })
    }

    /// How this session expires: its own lifetime, or the configuration's default, with both
    /// bounds resolved against the configuration's maxima.
    #[must_use]
    pub fn lifetime(&self) -> Lifetime {
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        let loaded = state.load(settings, &self.shared.cookies);
        let lifetime = loaded.lifetime.unwrap_or(settings.config.lifetime());
        settings.codec.resolved(lifetime)
    }

    /// Leaves a message for the next request that reads [`take_flash`](Self::take_flash) (or
    /// for this one): set before a redirect, shown after it. Counted in the size check; at most
    /// 16 are kept, the oldest dropped first.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    pub fn flash(&self, message: impl Into<String>) -> Result<(), SessionError> {
        let message = message.into();
        self.change_head(move |head, now| {
            if head.flash.len() >= MAX_FLASH {
                head.flash.remove(0);
            }
            head.flash.push(message);
            if head.meta.is_none() {
                head.meta = Some(SessionMeta::new(now)?);
            }
            Ok(())
        })
    }

    /// Takes the pending flash messages, oldest first: they are shown once, and the response
    /// removes them from the cookie.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set): a message read where its removal cannot be saved would show
    /// again.
    pub fn take_flash(&self) -> Result<Vec<String>, SessionError> {
        let mut taken = Vec::new();
        let empty = {
            let mut state = self.shared.lock();
            state
                .load(&self.shared.settings, &self.shared.cookies)
                .flash
                .is_empty()
        };
        if empty {
            return Ok(taken);
        }
        self.change_head(|head, _| {
            taken = core::mem::take(&mut head.flash);
            Ok(())
        })?;
        Ok(taken)
    }

    /// Applies a change to the sealed head (id, lifetime, flash) on a copy, size-checks the
    /// result, and keeps it only if it fits.
    fn change_head(
        &self,
        change: impl FnOnce(&mut HeadChange, u64) -> Result<(), SessionError>,
    ) -> Result<(), SessionError> {
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        state.writable(settings, &self.shared.cookies)?;
        let now = state.now(settings);
        let loaded = state.load(settings, &self.shared.cookies);
        let mut next = HeadChange {
            meta: loaded.meta,
            lifetime: loaded.lifetime,
            flash: loaded.flash.clone(),
        };
        change(&mut next, now)?;
        let meta = next.meta.unwrap_or_else(|| provisional_meta(now));
        let head = Head {
            meta,
            lifetime: next.lifetime.unwrap_or(settings.config.lifetime()),
            flash: &next.flash,
        };
        let data_len = loaded.encoded(settings)?.sealed().0.len();
        fit(settings, &head, data_len, now)?;
        loaded.meta = next.meta;
        loaded.lifetime = next.lifetime;
        loaded.flash = next.flash;
        loaded.head_changed = true;
        Ok(())
    }

    /// The session id, or `None` for a new session that has not been saved yet.
    #[must_use]
    pub fn id(&self) -> Option<SessionId> {
        let mut state = self.shared.lock();
        state
            .load(&self.shared.settings, &self.shared.cookies)
            .meta
            .map(|meta| meta.id)
    }

    /// When the session expires after this response, or `None` if there will be no session
    /// (new and unsaved, or destroyed).
    #[must_use]
    pub fn expires_at(&self) -> Option<SystemTime> {
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        state.load(settings, &self.shared.cookies);
        let expires = match state.plan(settings, false) {
            Plan::Seal => {
                let now = state.time();
                let loaded = state.loaded.as_ref()?;
                let created = loaded.meta.map_or(now, |meta| meta.created);
                let lifetime = loaded.lifetime.unwrap_or(settings.config.lifetime());
                settings
                    .codec
                    .expiry(settings.codec.bounds(lifetime), created, now)
            }
            Plan::Keep => state.loaded.as_ref()?.expires?,
            Plan::Remove | Plan::Nothing => return None,
        };
        UNIX_EPOCH.checked_add(Duration::from_secs(expires))
    }

    /// Sets the data, the lifetime and (with `new_id`) a new id in one step, for the
    /// tower-sessions bridge's save: the whole change is size-checked before any of it takes
    /// effect, so a save that fails leaves the session as it was.
    #[cfg(feature = "tower-sessions")]
    pub(crate) fn save_record(
        &self,
        data: T,
        lifetime: Lifetime,
        new_id: bool,
    ) -> Result<(), SessionError> {
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        state.writable(settings, &self.shared.cookies)?;
        let now = state.now(settings);
        let loaded = state.load(settings, &self.shared.cookies);
        let head_changed =
            new_id || lifetime != loaded.lifetime.unwrap_or(settings.config.lifetime());
        let meta = match loaded.meta {
            // SECURITY-TESTS F9: a new id never extends the absolute deadline.
            Some(meta) if new_id => Some(SessionMeta {
                created: meta.created,
                ..SessionMeta::new(now)?
            }),
            Some(meta) => Some(meta),
            None if head_changed => Some(SessionMeta::new(now)?),
            None => None,
        };
        let head = Head {
            meta: meta.unwrap_or_else(|| provisional_meta(now)),
            lifetime,
            flash: &loaded.flash,
        };
        let encoded = encode_fitting(settings, &data, &head, now)?;
        let changed = !settings.schema.encodes_to(&loaded.original, &encoded.plain);
        let meta = match meta {
            None if changed => Some(SessionMeta::new(now)?),
            meta => meta,
        };
        loaded.meta = meta;
        if head_changed {
            loaded.lifetime = Some(lifetime);
            loaded.head_changed = true;
        }
        loaded.data = Arc::new(data);
        loaded.encoded = Some(encoded);
        loaded.data_changed = changed;
        Ok(())
    }

    /// The session's creation time (`None` for a new one) and the request's time, in Unix
    /// seconds (for the tower-sessions bridge's absolute expiry).
    #[cfg(feature = "tower-sessions")]
    pub(crate) fn created_and_now(&self) -> (Option<u64>, u64) {
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        let now = state.now(settings);
        let created = state
            .load(settings, &self.shared.cookies)
            .meta
            .map(|meta| meta.created);
        (created, now)
    }

    /// Whether this is a new session (no valid cookie came with the request).
    #[must_use]
    pub fn is_new(&self) -> bool {
        let mut state = self.shared.lock();
        !state
            .load(&self.shared.settings, &self.shared.cookies)
            .from_cookie
    }

    pub(crate) fn config(&self) -> &SessionConfig {
        &self.shared.settings.config
    }

    /// Opens the session now (the `Rolling::EveryRequest` policy), so that the response
    /// refreshes it even if the handler never touched it.
    pub(crate) fn touch(&self) {
        let mut state = self.shared.lock();
        if state.phase == Phase::Open {
            state.load(&self.shared.settings, &self.shared.cookies);
        }
    }

    /// Decides what the response carries; later calls get an empty outcome and later changes
    /// an error. `server_error`: the response has a 5xx status (changes are not saved).
    pub(crate) fn finish(&self, server_error: bool) -> Outcome {
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        if state.phase == Phase::Sent {
            return Outcome::default();
        }
        let eager = settings.config.save_uninitialized()
            || settings.config.rolling() == Rolling::EveryRequest;
        if eager && state.phase == Phase::Open {
            state.load(settings, &self.shared.cookies);
        }
        let plan = state.plan(settings, server_error);
        state.phase = Phase::Sent;
        let config = &settings.config;
        let mut outcome = Outcome {
            found: state.found,
            ..Outcome::default()
        };
        // The chunks the response leaves in place: any others the request carried are stale.
        let from_cookie = state
            .loaded
            .as_ref()
            .map_or(1, |l| if l.from_cookie { l.chunks } else { 1 });
        let kept = match plan {
            // A session never split, or planted chunks that may be the user's (F1): leave them.
            Plan::Nothing if state.found.ambiguous => envelope::MAX_CHUNKS,
            Plan::Nothing | Plan::Keep => from_cookie,
            Plan::Remove => {
                outcome.set_cookie = Some(cookies::removal_line(
                    config.cookie_name(),
                    0,
                    config.suffix(),
                ));
                0
            }
            Plan::Seal => match state.seal(settings) {
                Ok((first, more)) => {
                    outcome.set_cookie = Some(first);
                    outcome.more_lines = more;
                    outcome.more_lines.len() + 1
                }
                Err(error) => {
                    outcome.seal_error = Some(error);
                    from_cookie
                }
            },
        };
        for index in 1..envelope::MAX_CHUNKS {
            if index >= kept && state.found.chunks_seen & (1 << index) != 0 {
                outcome.more_lines.push(cookies::removal_line(
                    config.cookie_name(),
                    index,
                    config.suffix(),
                ));
            }
        }
        outcome
    }
}

/// The sealed head being changed, on a copy.
struct HeadChange {
    meta: Option<SessionMeta>,
    lifetime: Option<Lifetime>,
    flash: Vec<String>,
}

/// The encoding of new data for a session sealed with `head`, refused unless the whole
/// response (every line, the header budget) fits.
fn encode_fitting<T: SessionData>(
    settings: &Settings<T>,
    data: &T,
    head: &Head<'_>,
    now: u64,
) -> Result<Encoded, SessionError> {
    let encoded = match settings.codec.encode_data(data, &settings.schema) {
        Ok(plain) => Encoded::new(plain, &settings.codec),
        Err(Encoding::OverLimit { len }) => {
            // Over the data limit: the layout says by how much, in the units it checks.
            fit(settings, head, len, now)?;
            return Err(SessionError::TooLarge {
                size: len,
                limit: settings.codec.data_limit(),
            });
        }
        Err(Encoding::Refused(error)) => return Err(error),
    };
    fit(settings, head, encoded.sealed().0.len(), now)?;
    Ok(encoded)
}

/// A meta for sizing a new session before it has an id: the id's length is fixed.
fn provisional_meta(now: u64) -> SessionMeta {
    SessionMeta {
        id: SessionId::from_bytes([0; codec::SESSION_ID_LEN]),
        created: now,
    }
}

/// What the response must carry and what the adapter should log.
/// (No `Debug`: its lines carry the sealed cookie.)
#[derive(Default)]
pub(crate) struct Outcome {
    /// The session cookie's line (the first chunk's, with chunking).
    pub(crate) set_cookie: Option<String>,
    /// The other chunks' lines, and deletions of stale chunks.
    pub(crate) more_lines: Vec<String>,
    pub(crate) found: Found,
    pub(crate) seal_error: Option<SessionError>,
}

/// What the response does with the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// No cookie line: nothing to save or remove, or the session was never touched.
    Nothing,
    /// A valid cookie that needs no re-seal.
    Keep,
    Seal,
    Remove,
}

/// The facts the plan depends on, apart so that the decision is a pure function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    pub(crate) loaded: bool,
    pub(crate) destroyed: bool,
    pub(crate) had_cookie: bool,
    pub(crate) ambiguous: bool,
    pub(crate) from_cookie: bool,
    pub(crate) changed: bool,
    /// Sealed under a key that is not the primary, or as an older schema version: re-seal.
    pub(crate) upgrade: bool,
    pub(crate) refresh_due: bool,
    pub(crate) save_uninitialized: bool,
    pub(crate) server_error: bool,
}

impl Facts {
    /// The decision table (tested exhaustively in `tests::plan_table`).
    pub(crate) fn plan(self) -> Plan {
        if self.destroyed {
            // An explicit logout deletes the cookie, also on a 5xx and with planted cookies
            // around (the user asked for it).
            return if self.had_cookie {
                Plan::Remove
            } else {
                Plan::Nothing
            };
        }
        if !self.loaded {
            return Plan::Nothing;
        }
        if self.ambiguous {
            // SECURITY-TESTS F1: one of the cookies may be the user's own; never overwrite
            // or delete it on the strength of the others.
            return Plan::Nothing;
        }
        let wants_seal = self.changed
            || (self.from_cookie && (self.upgrade || self.refresh_due))
            || (!self.from_cookie && self.save_uninitialized);
        if wants_seal {
            return if self.server_error {
                Plan::Nothing
            } else {
                Plan::Seal
            };
        }
        if self.from_cookie {
            Plan::Keep
        } else if self.had_cookie {
            // Only refused cookies of the name: clear them.
            Plan::Remove
        } else {
            Plan::Nothing
        }
    }
}

impl<T: SessionData> State<T> {
    /// The request's time, read from the clock on first use.
    fn now(&mut self, settings: &Settings<T>) -> u64 {
        *self.now.get_or_insert_with(|| settings.now())
    }

    /// The request's time once read (every path that needs it loads the session first).
    fn time(&self) -> u64 {
        self.now.unwrap_or_default()
    }

    fn load(&mut self, settings: &Settings<T>, cookies: &dyn CookieFields) -> &mut Loaded<T> {
        if self.loaded.is_none() {
            let now = self.now(settings);
            let (loaded, found) = open_request(cookies, settings, now);
            self.found = found;
            self.loaded = Some(loaded);
        }
        self.loaded.get_or_insert_with(Loaded::fresh)
    }

    /// Whether a change can take effect now.
    fn writable(
        &mut self,
        settings: &Settings<T>,
        cookies: &dyn CookieFields,
    ) -> Result<(), SessionError> {
        match self.phase {
            Phase::Sent => return Err(SessionError::ResponseSent),
            Phase::Destroyed => return Err(SessionError::Destroyed),
            Phase::Open => {}
        }
        if self.outside_path {
            return Err(SessionError::OutsidePath);
        }
        self.load(settings, cookies);
        if self.found.ambiguous {
            return Err(SessionError::Conflict);
        }
        Ok(())
    }

    fn facts(&self, settings: &Settings<T>, server_error: bool) -> Facts {
        let loaded = self.loaded.as_ref();
        Facts {
            loaded: loaded.is_some(),
            destroyed: self.phase == Phase::Destroyed,
            had_cookie: self.found.cookies > 0,
            ambiguous: self.found.ambiguous,
            from_cookie: loaded.is_some_and(|l| l.from_cookie),
            changed: loaded.is_some_and(|l| l.data_changed || l.head_changed),
            upgrade: loaded.is_some_and(|l| !l.by_primary || l.outdated),
            refresh_due: loaded.is_some_and(|l| self.refresh_due(settings, l)),
            save_uninitialized: settings.config.save_uninitialized(),
            server_error,
        }
    }

    fn plan(&self, settings: &Settings<T>, server_error: bool) -> Plan {
        self.facts(settings, server_error).plan()
    }

    /// Whether re-sealing an unchanged session is due to push its idle expiry forward.
    fn refresh_due(&self, settings: &Settings<T>, loaded: &Loaded<T>) -> bool {
        let (Some(meta), Some(expires)) = (loaded.meta, loaded.expires) else {
            return false;
        };
        let codec = &settings.codec;
        let now = self.time();
        let bounds = codec.bounds(loaded.lifetime.unwrap_or(settings.config.lifetime()));
        // Near the absolute lifetime a re-seal cannot extend anything.
        if codec.expiry(bounds, meta.created, now) <= expires {
            return false;
        }
        match settings.config.rolling() {
            Rolling::Always | Rolling::EveryRequest => true,
            // Sealed at expires - idle; due once more than half the idle timeout has passed.
            Rolling::HalfIdle => expires.saturating_sub(now) < bounds.idle / 2,
        }
    }

    /// Seals the session into its `Set-Cookie` lines: the first, and the other chunks'.
    fn seal(&mut self, settings: &Settings<T>) -> Result<(String, Vec<String>), SessionError> {
        let now = self.now(settings);
        let loaded = self.loaded.as_mut().ok_or(SessionError::Serialize)?;
        if loaded.meta.is_none() {
            loaded.meta = Some(SessionMeta::new(now)?);
        }
        // An unchanged session (a refresh, a key or schema upgrade) is encoded here.
        loaded.encoded(settings)?;
        let Some(encoded) = &loaded.encoded else {
            return Err(SessionError::Serialize);
        };
        let (bytes, compressed) = encoded.sealed();
        let head = loaded.head(settings, provisional_meta(now));
        let config = &settings.config;
        let codec = &settings.codec;
        let value_len = codec.sealed_value_len(&head, bytes.len(), now);
        let max_age = codec.max_age(&head, now);
        let digits = max_age.map(codec::decimal_digits);
        // Checked at every mutation, but a re-seal under a primary with a longer nonce
        // (rotation AES-256-GCM -> XChaCha20-Poly1305) grows the value: never send one over
        // the limits; the old cookie keeps opening while its key is accepted.
        let layout = config.line_limits().layout(value_len, digits)?;
        let flags = Flags::new(layout.count(), compressed).ok_or(SessionError::Serialize)?;
        let name = config.cookie_name();
        let seal = |out: &mut String| {
            codec.seal_into(
                out,
                name,
                &head,
                Data::<T>::Encoded(bytes),
                Format {
                    schema_version: settings.schema.write_version(),
                    flags,
                },
                now,
            )
        };
        if layout.count() == 1 {
            // The value goes straight into the line.
            let mut line = cookies::begin_line(name, 0, config.suffix(), value_len, digits);
            seal(&mut line)?;
            cookies::finish_line(&mut line, max_age, config.suffix());
            return Ok((line, Vec::new()));
        }
        let mut value = String::with_capacity(value_len);
        seal(&mut value)?;
        let mut lines = envelope::split_chunks(&value, layout.lens())
            .enumerate()
            .map(|(index, chunk)| {
                let mut line =
                    cookies::begin_line(name, index, config.suffix(), chunk.len(), digits);
                line.push_str(chunk);
                cookies::finish_line(&mut line, max_age, config.suffix());
                line
            });
        let first = lines.next().unwrap_or_default();
        Ok((first, lines.collect()))
    }
}

/// Checks that a session with this head and `data_len` bytes of sealed data fits the
/// configuration's cookies, and says how it splits across them.
fn fit<T>(
    settings: &Settings<T>,
    head: &Head<'_>,
    data_len: usize,
    now: u64,
) -> Result<Layout, SessionError> {
    let codec = &settings.codec;
    let value_len = codec.sealed_value_len(head, data_len, now);
    let digits = codec.max_age(head, now).map(codec::decimal_digits);
    settings.config.line_limits().layout(value_len, digits)
}

/// Bit `k` set for each chunk cookie `name.k` the request carries.
fn chunks_seen(cookies: &dyn CookieFields, name: &str) -> u16 {
    cookies::chunk_values(cookies, name).fold(0, |seen, (index, _)| seen | 1 << index)
}

/// Opens the request's cookies of the session's name.
///
/// Every candidate gets the cheap checks; those that pass are authenticated, at most
/// [`MAX_OPENS`] distinct values per request (a repeated value costs nothing). One authentic
/// cookie is the session. Two different authentic ones, or a candidate left unauthenticated
/// because the budget ran out, make the request ambiguous: an attacker who can plant cookies
/// for the name (a sibling subdomain, longer paths) must never get the request to run as
/// their session, nor make the response overwrite or delete the user's own cookie
/// (SECURITY-TESTS F1).
fn open_request<T: SessionData>(
    cookies: &dyn CookieFields,
    settings: &Settings<T>,
    now: u64,
) -> (Loaded<T>, Found) {
    let name = settings.config.cookie_name();
    let codec = &settings.codec;
    let mut found = Found::default();
    // With chunking, the distinct values of each chunk name, read in one pass (nothing is
    // allocated for a request that has none).
    let chunks = if settings.config.max_chunks() > 1 {
        ChunkOptions::collect(cookies, name)
    } else {
        ChunkOptions::default()
    };
    found.chunks_seen = chunks.seen;
    let mut combinations = MAX_COMBINATIONS;
    // The values authenticated (or refused by the AEAD) so far: a repeat costs nothing.
    let mut attempted: [&[u8]; MAX_OPENS] = [&[]; MAX_OPENS];
    let mut budget = MAX_OPENS;
    let mut authentic: Option<Opened<T>> = None;
    for value in cookies::values(cookies, name) {
        found.cookies += 1;
        let seen = MAX_OPENS - budget;
        if attempted
            .get(..seen)
            .is_some_and(|done| done.contains(&value))
        {
            continue;
        }
        let before = budget;
        let count = if chunks.seen == 0 {
            1
        } else {
            codec.chunk_count(value)
        };
        let result = if count == 1 {
            open_one(settings, core::iter::once(value), now, &mut budget)
        } else {
            let mut spend = Spend {
                aead: &mut budget,
                combinations: &mut combinations,
            };
            open_chunked(settings, value, count, &chunks, now, &mut spend)
        };
        if budget < before
            && let Some(slot) = attempted.get_mut(seen)
        {
            *slot = value;
        }
        match result {
            Ok(opened) => match &authentic {
                None => authentic = Some(opened),
                Some(_) => found.ambiguous = true,
            },
            Err(Refusal::Refused(error)) => found.refuse(error.kind(), error.key_id()),
            // More candidates than can be authenticated: one of the rest may be the user's.
            Err(Refusal::OverBudget) => found.ambiguous = true,
        }
    }
    let loaded = match authentic {
        Some(opened) if !found.ambiguous => {
            let outdated = settings.schema.is_outdated(opened.schema_version);
            if outdated {
                found.migrated = Some((opened.schema_version, settings.schema.write_version()));
            }
            Loaded::opened(opened, outdated)
        }
        _ => Loaded::fresh(),
    };
    (loaded, found)
}

/// Opens one candidate from its chunks, and applies the application's revocation check.
fn open_one<'v, T: SessionData>(
    settings: &Settings<T>,
    chunks: impl Iterator<Item = &'v [u8]> + Clone,
    now: u64,
    budget: &mut usize,
) -> Result<Opened<T>, Refusal> {
    let name = settings.config.cookie_name();
    let opened = settings
        .codec
        .open_chunks::<T>(name, chunks, now, budget, &settings.schema)?;
    match &settings.validator {
        Some(valid) if !valid(&opened.meta, &opened.data) => Err(Refusal::Refused(
            crate::error::OpenError::new(OpenErrorKind::SessionRevoked).with_key_id(opened.key_id),
        )),
        _ => Ok(opened),
    }
}

/// At most this many combinations of chunk values are tried per request, whether or not
/// they reach the AEAD: planted chunk cookies must not multiply the work (SECURITY-TESTS F1).
/// A combination that fails before the AEAD costs a base64url decode of the value.
const MAX_COMBINATIONS: usize = 16;

/// The distinct values of the request's chunk cookies `name.1` to `name.15`.
#[derive(Default)]
struct ChunkOptions<'c> {
    values: [Vec<&'c [u8]>; envelope::MAX_CHUNKS],
    /// Bit `k` set when the request carries `name.k`.
    seen: u16,
    /// Bit `k` set when `name.k` has more distinct values than could be authenticated.
    crowded: u16,
}

impl<'c> ChunkOptions<'c> {
    fn collect(cookies: &'c dyn CookieFields, name: &'c str) -> Self {
        let mut options = Self::default();
        for (index, value) in cookies::chunk_values(cookies, name) {
            options.seen |= 1 << index;
            let Some(values) = options.values.get_mut(index) else {
                continue;
            };
            if values.contains(&value) {
                continue;
            }
            if values.len() == MAX_OPENS {
                options.crowded |= 1 << index;
            } else {
                values.push(value);
            }
        }
        options
    }
}

/// What opening chunked candidates may still spend in this request.
struct Spend<'b> {
    aead: &'b mut usize,
    combinations: &'b mut usize,
}

/// Opens a candidate whose header says it is split across `count` cookies: its chunks are
/// taken by name (`name.1`, ...), so their order in the request does not matter. A chunk
/// missing is refused at once; where a chunk name repeats (a planted or stale copy), each
/// combination is tried, one AEAD each, within the request's budgets, once the first chunk's
/// header has passed the checks it decides alone.
fn open_chunked<T: SessionData>(
    settings: &Settings<T>,
    first: &[u8],
    count: usize,
    chunks: &ChunkOptions<'_>,
    now: u64,
    spend: &mut Spend<'_>,
) -> Result<Opened<T>, Refusal> {
    let options = match chunks.values.get(1..count) {
        Some(options) if count <= settings.config.max_chunks() => options,
        // The codec refuses the header's count, before any AEAD.
        _ => return open_one(settings, core::iter::once(first), now, spend.aead),
    };
    if options.iter().any(Vec::is_empty) {
        return Err(Refusal::Refused(crate::error::OpenError::new(
            OpenErrorKind::Unauthentic,
        )));
    }
    let needed: u32 = (1 << count) - 2;
    if u32::from(chunks.crowded) & needed != 0 {
        // More copies of a chunk than could be authenticated: one of the rest may be the user's.
        return Err(Refusal::OverBudget);
    }
    settings
        .codec
        .check_first_chunk(first, now, &settings.schema)
        .map_err(Refusal::Refused)?;
    // Every combination, as a mixed-radix counter, until one opens or a budget runs out.
    let mut pick = vec![0usize; count - 1];
    let mut refusal = None;
    loop {
        let Some(left) = spend.combinations.checked_sub(1) else {
            return Err(Refusal::OverBudget);
        };
        *spend.combinations = left;
        let chunks = core::iter::once(first).chain(
            options
                .iter()
                .zip(&pick)
                .map(|(values, &at)| values.get(at).copied().unwrap_or_default()),
        );
        match open_one(settings, chunks, now, spend.aead) {
            Ok(opened) => return Ok(opened),
            Err(Refusal::OverBudget) => return Err(Refusal::OverBudget),
            Err(error) => refusal = refusal.or(Some(error)),
        }
        let mut position = 0;
        loop {
            let (Some(at), Some(values)) = (pick.get_mut(position), options.get(position)) else {
                return Err(refusal.unwrap_or(Refusal::OverBudget));
            };
            *at += 1;
            if *at < values.len() {
                break;
            }
            *at = 0;
            position += 1;
        }
    }
}

impl Found {
    fn refuse(&mut self, kind: OpenErrorKind, key: Option<KeyId>) {
        self.refused += 1;
        // The log names one reason: the first that is not routine, else the first.
        let routine = |kind| matches!(kind, OpenErrorKind::Expired | OpenErrorKind::OutsideWindow);
        if self
            .first_reason
            .is_none_or(|first| routine(first) && !routine(kind))
        {
            self.first_reason = Some(kind);
            self.first_key = key;
        }
    }
}

impl<T: Default> Loaded<T> {
    fn fresh() -> Self {
        let data = Arc::new(T::default());
        Self {
            original: Arc::clone(&data),
            data,
            meta: None,
            expires: None,
            lifetime: None,
            flash: Vec::new(),
            from_cookie: false,
            by_primary: true,
            outdated: false,
            encoded: None,
            chunks: 1,
            data_changed: false,
            head_changed: false,
        }
    }

    fn opened(opened: Opened<T>, outdated: bool) -> Self {
        let data = Arc::new(opened.data);
        Self {
            original: Arc::clone(&data),
            data,
            meta: Some(opened.meta),
            expires: Some(opened.expires),
            lifetime: Some(opened.lifetime),
            flash: opened.flash,
            from_cookie: true,
            by_primary: opened.by_primary,
            outdated,
            encoded: None,
            chunks: opened.chunks,
            data_changed: false,
            head_changed: false,
        }
    }
}

impl<T: SessionData> Loaded<T> {
    /// The sealed head: the session's meta (or `provisional` for a new one), lifetime and
    /// flash messages.
    fn head<'a>(&'a self, settings: &Settings<T>, provisional: SessionMeta) -> Head<'a> {
        Head {
            meta: self.meta.unwrap_or(provisional),
            lifetime: self.lifetime.unwrap_or(settings.config.lifetime()),
            flash: &self.flash,
        }
    }

    /// The data's encoding as the schema writes it (and its compressed form), made once.
    fn encoded(&mut self, settings: &Settings<T>) -> Result<&Encoded, SessionError> {
        if self.encoded.is_none() {
            let mut plain = Vec::new();
            settings
                .schema
                .encode(&self.data, &mut plain, settings.codec.data_limit())
                .map_err(|error| match error {
                    // Loaded data over today's limit (a limit lowered since it was sealed).
                    Encoding::OverLimit { len } => SessionError::TooLarge {
                        size: len,
                        limit: settings.codec.data_limit(),
                    },
                    Encoding::Refused(error) => error,
                })?;
            self.encoded = Some(Encoded::new(plain, &settings.codec));
        }
        self.encoded.as_ref().ok_or(SessionError::Serialize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SECURITY-TESTS E8, F1, F13 and the 5xx rule: every combination of the facts.
    #[test]
    fn plan_table() {
        let mut rows = 0;
        for bits in 0u16..(1 << 10) {
            let bit = |i: u16| bits & (1 << i) != 0;
            let facts = Facts {
                loaded: bit(0),
                destroyed: bit(1),
                had_cookie: bit(2),
                ambiguous: bit(3),
                from_cookie: bit(4),
                changed: bit(5),
                upgrade: bit(6),
                refresh_due: bit(7),
                save_uninitialized: bit(8),
                server_error: bit(9),
            };
            // Impossible combinations: a session from a cookie had a cookie, and an
            // ambiguous request had cookies but did not load one.
            if (facts.from_cookie && !facts.had_cookie)
                || (facts.ambiguous && (facts.from_cookie || !facts.had_cookie))
            {
                continue;
            }
            rows += 1;
            let expected = if facts.destroyed {
                if facts.had_cookie {
                    Plan::Remove
                } else {
                    Plan::Nothing
                }
            } else if !facts.loaded || facts.ambiguous {
                Plan::Nothing
            } else if facts.changed
                || (facts.from_cookie && (facts.upgrade || facts.refresh_due))
                || (!facts.from_cookie && facts.save_uninitialized)
            {
                if facts.server_error {
                    Plan::Nothing
                } else {
                    Plan::Seal
                }
            } else if facts.from_cookie {
                Plan::Keep
            } else if facts.had_cookie {
                Plan::Remove
            } else {
                Plan::Nothing
            };
            assert_eq!(facts.plan(), expected, "{facts:?}");
        }
        assert!(rows > 300, "{rows}");
        // The rows SECURITY.md names (F1, F13, E8 and the 5xx rule), spelled out.
        let base = Facts {
            loaded: true,
            destroyed: false,
            had_cookie: true,
            ambiguous: false,
            from_cookie: true,
            changed: false,
            upgrade: false,
            refresh_due: false,
            save_uninitialized: false,
            server_error: false,
        };
        assert_eq!(base.plan(), Plan::Keep);
        assert_eq!(
            Facts {
                changed: true,
                ..base
            }
            .plan(),
            Plan::Seal
        );
        assert_eq!(
            Facts {
                upgrade: true,
                ..base
            }
            .plan(),
            Plan::Seal
        );
        assert_eq!(
            Facts {
                refresh_due: true,
                ..base
            }
            .plan(),
            Plan::Seal
        );
        assert_eq!(
            Facts {
                changed: true,
                server_error: true,
                ..base
            }
            .plan(),
            Plan::Nothing
        );
        assert_eq!(
            Facts {
                destroyed: true,
                ..base
            }
            .plan(),
            Plan::Remove
        );
        assert_eq!(
            Facts {
                from_cookie: false,
                ..base
            }
            .plan(),
            Plan::Remove
        );
        assert_eq!(
            Facts {
                from_cookie: false,
                ambiguous: true,
                changed: true,
                ..base
            }
            .plan(),
            Plan::Nothing
        );
        assert_eq!(
            Facts {
                loaded: false,
                ..base
            }
            .plan(),
            Plan::Nothing
        );
        assert_eq!(
            Facts {
                from_cookie: false,
                had_cookie: false,
                ..base
            }
            .plan(),
            Plan::Nothing
        );
    }

    /// A request's `Cookie` header, for sessions built without a server.
    struct Header(String);

    impl CookieFields for Header {
        fn field(&self, index: usize) -> Option<&[u8]> {
            (index == 0).then_some(self.0.as_bytes())
        }
    }

    /// Session data of `len` bytes: runs of one byte (compressible) and pseudo-random ones.
    fn data(len: usize, seed: &mut u64) -> Vec<u8> {
        (0..len)
            .map(|i| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                if (i / 64) % 2 == 0 {
                    b'a'
                } else {
                    seed.to_le_bytes()[3]
                }
            })
            .collect()
    }

    /// Planted chunk cookies cannot multiply a request's work (SECURITY-TESTS F1): a first
    /// chunk whose header decides the refusal costs no combination however many copies of
    /// the other chunks there are; otherwise at most `MAX_COMBINATIONS` are tried, AEAD or
    /// not; and more copies of a chunk than could be authenticated end the search at once.
    #[test]
    fn planted_chunk_cookies_cost_a_bounded_number_of_combinations() {
        use base64::Engine as _;
        let key = crate::Key::generate(crate::Algorithm::Aes256Gcm);
        let known = key.id();
        let config = SessionConfig::builder()
            .cookie_name("sid")
            .max_chunks(4)
            .build()
            .unwrap();
        let settings = Settings::<Vec<u8>>::new(KeyRing::new(key), config);
        let now = 1_764_000_000;
        // A first chunk of four: a v2 header for `key_id`, then 40 bytes where the nonce and
        // the ciphertext would be (54 bytes: 72 characters, a whole number of groups).
        let first = |key_id: KeyId| {
            let flags = Flags::new(4, false).unwrap();
            let (bytes, len) =
                envelope::Header::v2(key_id, envelope::hour_of(now), 0, flags).encode();
            let mut raw = bytes[..len].to_vec();
            raw.extend([7u8; 40]);
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        };
        // Four distinct values for each of `sid.1` to `sid.3`: 64 combinations. The middle
        // ones are three characters, not a whole group, so every combination is malformed.
        let planted: Vec<String> = (0..4u8)
            .map(|i| format!("AA{}", char::from(b'A' + i)))
            .collect();
        let mut options = ChunkOptions::default();
        for index in 1..4 {
            options.values[index] = planted.iter().map(String::as_bytes).collect();
            options.seen |= 1 << index;
        }
        let run = |first: &str, options: &ChunkOptions<'_>| {
            let (mut aead, mut combinations) = (MAX_OPENS, MAX_COMBINATIONS);
            let result = open_chunked(
                &settings,
                first.as_bytes(),
                4,
                options,
                now,
                &mut Spend {
                    aead: &mut aead,
                    combinations: &mut combinations,
                },
            );
            let kind = match result {
                Ok(_) => panic!("a forged value opened"),
                Err(Refusal::Refused(error)) => Some(error.kind()),
                Err(Refusal::OverBudget) => None,
            };
            (kind, MAX_OPENS - aead, MAX_COMBINATIONS - combinations)
        };

        let unknown = first(KeyId::new(0xdead_beef));
        assert_eq!(
            run(&unknown, &options),
            (Some(OpenErrorKind::UnknownKey), 0, 0)
        );
        let forged = first(known);
        assert_eq!(run(&forged, &options), (None, 0, MAX_COMBINATIONS));
        options.crowded = 1 << 2;
        assert_eq!(run(&forged, &options), (None, 0, 0));
    }

    fn settings(
        algorithm: crate::Algorithm,
        max_chunks: usize,
        budget: usize,
        compression: bool,
    ) -> Arc<Settings<Vec<u8>>> {
        let builder = SessionConfig::builder()
            .max_chunks(max_chunks)
            .cookie_header_budget(budget);
        #[cfg(feature = "compression")]
        let builder = builder.compression(compression);
        let _ = compression;
        let ring = KeyRing::new(crate::Key::generate(algorithm));
        Arc::new(Settings::new(ring, builder.build().unwrap()))
    }

    /// A lifetime of zero seconds is a second: `set_lifetime` with a zero idle timeout still
    /// seals a session that opens (before, it sealed one that was dead on arrival, and a
    /// re-seal of a cookie sealed with a zero idle timeout killed it; found by fuzzing).
    #[test]
    fn a_zero_idle_timeout_still_seals_a_live_session() {
        let config = SessionConfig::builder().build().unwrap();
        let mut settings = Settings::<Vec<u8>>::new(
            KeyRing::new(crate::Key::generate(crate::Algorithm::Aes256Gcm)),
            config,
        );
        let now = UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        settings.clock = Some(Arc::new(move || now));
        let settings = Arc::new(settings);
        for lifetime in [
            Lifetime::persistent().with_idle_timeout(Duration::ZERO),
            Lifetime::browser_session().with_max_lifetime(Duration::ZERO),
        ] {
            let session = Session::new(Arc::clone(&settings), (), "/");
            session.set_lifetime(lifetime).unwrap();
            session.set(vec![1, 2, 3]).unwrap();
            let line = session.finish(false).set_cookie.unwrap();
            let header = Header(line.split(';').next().unwrap().to_owned());
            let reopened = Session::new(Arc::clone(&settings), header, "/");
            assert!(!reopened.is_new(), "{lifetime:?}: {line}");
            assert_eq!(*reopened.get(), [1, 2, 3]);
        }
    }

    /// Near the line limit, a browser-session cookie (no Max-Age) holds a longer value than a
    /// persistent one: whatever `set` accepts, the response seals, for both kinds (the
    /// `cookie_header` fuzz target found browser-session values the codec's bound refused at
    /// the seal after `set` had returned `Ok`).
    #[test]
    fn every_accepted_size_is_sealed_for_both_kinds_of_cookie() {
        for algorithm in [
            crate::Algorithm::Aes256Gcm,
            crate::Algorithm::XChaCha20Poly1305,
        ] {
            let settings = settings(algorithm, 1, 6144, false);
            for lifetime in [Lifetime::browser_session(), Lifetime::persistent()] {
                let (mut accepted, mut refused) = (0, 0);
                for len in 2_700..3_200 {
                    let mut seed = u64::try_from(len).unwrap() | 1;
                    let session = Session::new(Arc::clone(&settings), (), "/");
                    session.set_lifetime(lifetime).unwrap();
                    match session.set(data(len, &mut seed)) {
                        Ok(()) => {
                            accepted += 1;
                            let outcome = session.finish(false);
                            assert_eq!(outcome.seal_error, None, "{len} bytes, {lifetime:?}");
                            let line = outcome.set_cookie.unwrap();
                            assert!(line.len() <= settings.config.max_cookie_size());
                        }
                        Err(SessionError::TooLarge { .. }) => refused += 1,
                        Err(other) => panic!("{other}"),
                    }
                }
                assert!(
                    accepted > 0 && refused > 0,
                    "{accepted} / {refused}: widen the range"
                );
            }
        }
    }

    /// Issue "chunking and compression": predicted = emitted, over chunk counts, both
    /// algorithms, compressed or not. Every line is exactly as long as the capacity reserved
    /// from the prediction, the lines reopen to the data, and a refusal's size is what a
    /// configuration with room emits for the same data.
    #[test]
    fn predicted_sizes_are_the_emitted_sizes() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut cases = 0;
        for algorithm in [
            crate::Algorithm::Aes256Gcm,
            crate::Algorithm::XChaCha20Poly1305,
        ] {
            for compression in [false, cfg!(feature = "compression")] {
                let roomy = settings(algorithm, 16, 16 * 1024, compression);
                for max_chunks in [1, 2, 3, 5] {
                    let settings = settings(algorithm, max_chunks, 9 * 1024, compression);
                    for _ in 0..24 {
                        let len = usize::try_from(seed % 9_000).unwrap();
                        let value = data(len, &mut seed);
                        let session = Session::new(Arc::clone(&settings), (), "/");
                        match session.set(value.clone()) {
                            Ok(()) => {
                                let outcome = session.finish(false);
                                let lines: Vec<String> = outcome
                                    .set_cookie
                                    .into_iter()
                                    .chain(outcome.more_lines)
                                    .collect();
                                assert!((1..=max_chunks).contains(&lines.len()));
                                let mut pairs = Vec::new();
                                for line in &lines {
                                    assert_eq!(line.len(), line.capacity(), "predicted = emitted");
                                    assert!(line.len() <= settings.config.max_cookie_size());
                                    pairs.push(line.split(';').next().unwrap().to_owned());
                                }
                                let header = Header(pairs.join("; "));
                                assert!(header.0.len() <= settings.config.cookie_header_budget());
                                let reopened = Session::new(Arc::clone(&settings), header, "/");
                                assert_eq!(*reopened.get(), value, "{len} bytes round trip");
                            }
                            Err(SessionError::TooLarge { size, limit }) => {
                                assert!(size > limit);
                                // The same data where it fits: the size it takes is the size
                                // reported.
                                let wide = Session::new(Arc::clone(&roomy), (), "/");
                                wide.set(value).unwrap();
                                let outcome = wide.finish(false);
                                let lines: Vec<String> = outcome
                                    .set_cookie
                                    .into_iter()
                                    .chain(outcome.more_lines)
                                    .collect();
                                let emitted = if max_chunks == 1 && lines.len() == 1 {
                                    lines[0].len()
                                } else {
                                    lines
                                        .iter()
                                        .map(|l| l.split(';').next().unwrap().to_owned())
                                        .collect::<Vec<_>>()
                                        .join("; ")
                                        .len()
                                };
                                if max_chunks > 1 || lines.len() == 1 {
                                    assert_eq!(size, emitted, "{len} bytes, {max_chunks} chunks");
                                }
                            }
                            Err(other) => panic!("{other}"),
                        }
                        cases += 1;
                    }
                }
            }
        }
        assert_eq!(cases, 2 * 2 * 4 * 24);
    }
}
