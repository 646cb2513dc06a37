//! `Session<T>`: the per-request handle, its state machine and size-checked mutation.
//!
//! Framework-neutral: the adapters hand it the request's raw `Cookie` fields and `now`, and
//! take an [`Outcome`] (the `Set-Cookie` lines to send, and what to log) when the response is
//! ready. It calls down into `cookies` (parsing, lines) and `codec` (opening, encoding,
//! sealing), and nothing calls back up.

use core::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{self, Codec, Data, Opened, Refusal, SessionId, SessionMeta};
use crate::config::{Rolling, SessionConfig};
use crate::cookies::{self, CookieFields};
use crate::error::{OpenErrorKind, SessionError};
use crate::ring::KeyRing;

/// At most this many cookies of the session's name are authenticated per request
/// (SECURITY-TESTS D3, F1): every candidate gets the cheap checks (length, base64url, version,
/// key id, hour window), and only those that pass them cost an AEAD open.
pub(crate) const MAX_OPENS: usize = 4;

/// What a session type needs: postcard-serializable, a default for new sessions, and shareable
/// across the threads a request may move between.
pub trait SessionData: Serialize + DeserializeOwned + Default + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Default + Send + Sync + 'static> SessionData for T {}

/// A source of the current time (the system clock unless a layer was given another).
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The settings a layer shares with every session it creates.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) config: SessionConfig,
    pub(crate) codec: Codec,
    /// `None`: the system clock.
    pub(crate) clock: Option<Clock>,
}

impl Settings {
    pub(crate) fn new(ring: KeyRing, config: SessionConfig) -> Self {
        let codec = config.codec(ring);
        Self {
            config,
            codec,
            clock: None,
        }
    }

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
/// # mod demo {
/// use sealed_session::Session;
///
/// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// struct Visits { count: u32 }
///
/// // An axum handler: `Session<Visits>` is the extractor.
/// async fn count(session: Session<Visits>) -> Result<String, sealed_session::SessionError> {
///     let count = session.update(|v| { v.count += 1; v.count })?;
///     Ok(format!("visits: {count}"))
/// }
/// # }
/// ```
pub struct Session<T> {
    shared: Arc<Shared<T, dyn CookieFields>>,
}

/// One allocation per request: the state and, unsized at the end, the request's `Cookie`
/// fields as the adapter holds them.
struct Shared<T, C: ?Sized> {
    settings: Arc<Settings>,
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
    /// Two different authentic cookies, or more candidates than could be authenticated: one
    /// of them may be the user's own, so the session is neither used, saved nor deleted.
    pub(crate) ambiguous: bool,
}

struct Loaded<T> {
    data: Arc<T>,
    /// `None` for a new session that has not been given an identity yet.
    meta: Option<SessionMeta>,
    /// The expiry sealed in the incoming cookie.
    expires: Option<u64>,
    from_cookie: bool,
    by_primary: bool,
    /// The data as loaded, to detect changes (a change back to it is no change).
    original: Arc<T>,
    /// The encoding of the data, when a change made it: the seal reuses it.
    encoded: Option<Vec<u8>>,
    data_changed: bool,
    id_changed: bool,
}

impl<T> Clone for Session<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
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
                .field("modified", &(loaded.data_changed || loaded.id_changed)),
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
    /// A session for one request: its raw `Cookie` fields, its path and its time.
    pub(crate) fn new(
        settings: Arc<Settings>,
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
    /// [`Destroyed`](SessionError::Destroyed), [`ResponseSent`](SessionError::ResponseSent)
    /// or [`Conflict`](SessionError::Conflict) when no change can take effect. On error the
    /// session is unchanged.
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
        let meta = loaded.meta.unwrap_or_else(|| provisional_meta(now));
        let encoded =
            settings
                .codec
                .encode_data(&data, &meta, now, settings.config.line_shape())?;
        let changed = !Codec::encodes_to(&*loaded.original, &encoded);
        if changed && loaded.meta.is_none() {
            loaded.meta = Some(SessionMeta::new(now)?);
        }
        if !changed && !loaded.from_cookie && !loaded.id_changed {
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
    /// opening until it expires, unless a revocation check refuses it (see the crate docs).
    pub fn destroy(&self) -> Result<(), SessionError> {
        let mut state = self.shared.lock();
        if state.phase == Phase::Sent {
            return Err(SessionError::ResponseSent);
        }
        if state.loaded.is_none() {
            // Whether there is a cookie to delete; nothing needs opening.
            let name = self.shared.settings.config.cookie_name();
            state.found.cookies = cookies::values(&self.shared.cookies, name).count();
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
        self.new_identity(false)
    }

    /// Gives the session a new id and a fresh absolute lifetime, keeping its data: the session
    /// is then as new as one created now.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    pub fn renew(&self) -> Result<(), SessionError> {
        self.new_identity(true)
    }

    fn new_identity(&self, restart: bool) -> Result<(), SessionError> {
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        state.writable(settings, &self.shared.cookies)?;
        let now = state.now(settings);
        let loaded = state.load(settings, &self.shared.cookies);
        let mut meta = SessionMeta::new(now)?;
        if let (false, Some(old)) = (restart, loaded.meta) {
            // SECURITY-TESTS F9: a new id never extends the absolute deadline.
            meta.created = old.created;
        }
        let data_len = match &loaded.encoded {
            Some(encoded) => encoded.len(),
            None => Codec::encoded_len(&*loaded.data).ok_or(SessionError::Serialize)?,
        };
        settings
            .codec
            .check_line(&meta, data_len, now, settings.config.line_shape())?;
        loaded.meta = Some(meta);
        loaded.id_changed = true;
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
                let loaded = state.loaded.as_ref()?;
                let now = state.time();
                let created = loaded.meta.map_or(now, |meta| meta.created);
                settings.codec.expires_at(created, now)
            }
            Plan::Keep => state.loaded.as_ref()?.expires?,
            Plan::Remove | Plan::Nothing => return None,
        };
        UNIX_EPOCH.checked_add(Duration::from_secs(expires))
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

    /// Decides what the response carries; later calls get an empty outcome and later changes
    /// an error. `server_error`: the response has a 5xx status (changes are not saved).
    pub(crate) fn finish(&self, server_error: bool) -> Outcome {
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        if state.phase == Phase::Sent {
            return Outcome::default();
        }
        if settings.config.save_uninitialized() && state.phase == Phase::Open {
            state.load(settings, &self.shared.cookies);
        }
        let plan = state.plan(settings, server_error);
        state.phase = Phase::Sent;
        let mut outcome = Outcome {
            set_cookie: None,
            found: state.found,
            seal_error: None,
        };
        match plan {
            Plan::Nothing | Plan::Keep => {}
            Plan::Remove => {
                let config = &settings.config;
                outcome.set_cookie =
                    Some(cookies::removal_line(config.cookie_name(), config.suffix()));
            }
            Plan::Seal => match state.seal(settings) {
                Ok(line) => outcome.set_cookie = Some(line),
                Err(error) => outcome.seal_error = Some(error),
            },
        }
        outcome
    }
}

/// A meta for sizing a new session before it has an id: the id's length is fixed.
fn provisional_meta(now: u64) -> SessionMeta {
    SessionMeta {
        id: SessionId::from_bytes([0; crate::codec::SESSION_ID_LEN]),
        created: now,
    }
}

/// What the response must carry and what the adapter should log.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) set_cookie: Option<String>,
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
    pub(crate) by_primary: bool,
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
            || (self.from_cookie && (!self.by_primary || self.refresh_due))
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
    fn now(&mut self, settings: &Settings) -> u64 {
        *self.now.get_or_insert_with(|| settings.now())
    }

    /// The request's time once read (every path that needs it loads the session first).
    fn time(&self) -> u64 {
        self.now.unwrap_or_default()
    }

    fn load(&mut self, settings: &Settings, cookies: &dyn CookieFields) -> &mut Loaded<T> {
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
        settings: &Settings,
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

    fn facts(&self, settings: &Settings, server_error: bool) -> Facts {
        let loaded = self.loaded.as_ref();
        Facts {
            loaded: loaded.is_some(),
            destroyed: self.phase == Phase::Destroyed,
            had_cookie: self.found.cookies > 0,
            ambiguous: self.found.ambiguous,
            from_cookie: loaded.is_some_and(|l| l.from_cookie),
            changed: loaded.is_some_and(|l| l.data_changed || l.id_changed),
            by_primary: loaded.is_none_or(|l| l.by_primary),
            refresh_due: loaded.is_some_and(|l| self.refresh_due(settings, l)),
            save_uninitialized: settings.config.save_uninitialized(),
            server_error,
        }
    }

    fn plan(&self, settings: &Settings, server_error: bool) -> Plan {
        self.facts(settings, server_error).plan()
    }

    /// Whether re-sealing an unchanged session is due to push its idle expiry forward.
    fn refresh_due(&self, settings: &Settings, loaded: &Loaded<T>) -> bool {
        let (Some(meta), Some(expires)) = (loaded.meta, loaded.expires) else {
            return false;
        };
        let codec = &settings.codec;
        // Near the absolute lifetime a re-seal cannot extend anything.
        let now = self.time();
        if codec.expires_at(meta.created, now) <= expires {
            return false;
        }
        match settings.config.rolling() {
            Rolling::Always => true,
            // Sealed at expires - idle; due once more than half the idle timeout has passed.
            Rolling::HalfIdle => expires.saturating_sub(now) < codec.idle_timeout().as_secs() / 2,
        }
    }

    fn seal(&mut self, settings: &Settings) -> Result<String, SessionError> {
        let now = self.now(settings);
        let loaded = self.loaded.as_mut().ok_or(SessionError::Serialize)?;
        let meta = match loaded.meta {
            Some(meta) => meta,
            None => *loaded.meta.insert(SessionMeta::new(now)?),
        };
        let data = match &loaded.encoded {
            Some(encoded) => Data::Encoded(encoded),
            None => Data::Value(&*loaded.data),
        };
        let config = &settings.config;
        let codec = &settings.codec;
        let data_len = match data {
            Data::Encoded(encoded) => Some(encoded.len()),
            Data::Value(value) => Codec::encoded_len(value),
        };
        let value_len = data_len.map_or(0, |len| codec.sealed_value_len(&meta, len, now));
        let max_age = codec.expires_at(meta.created, now).saturating_sub(now);
        let mut line = cookies::begin_line(
            config.cookie_name(),
            config.suffix(),
            value_len,
            Some(codec::decimal_digits(max_age)),
        );
        let expires = codec.seal_into(&mut line, config.cookie_name(), &meta, data, now)?;
        cookies::finish_line(
            &mut line,
            Some(expires.saturating_sub(now)),
            config.suffix(),
        );
        // Mutations were size-checked, but a re-seal under a primary with a longer nonce
        // (rotation AES-256-GCM -> XChaCha20-Poly1305) grows the line: never send one over
        // the limit; the old cookie keeps opening while its key is accepted.
        let limit = config.max_cookie_size();
        if line.len() > limit {
            return Err(SessionError::TooLarge {
                size: line.len(),
                limit,
            });
        }
        Ok(line)
    }
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
    settings: &Settings,
    now: u64,
) -> (Loaded<T>, Found) {
    let name = settings.config.cookie_name();
    let codec = &settings.codec;
    let mut found = Found::default();
    // The values authenticated (or refused by the AEAD) so far: a repeat costs nothing.
    let mut attempted: [&[u8]; MAX_OPENS] = [&[]; MAX_OPENS];
    let mut budget = MAX_OPENS;
    let mut authentic: Option<Opened<T>> = None;
    let refuse = |found: &mut Found, kind: OpenErrorKind| {
        found.refused += 1;
        // The log names one reason: the first that is not routine, else the first.
        let routine = |kind| matches!(kind, OpenErrorKind::Expired | OpenErrorKind::OutsideWindow);
        if found
            .first_reason
            .is_none_or(|first| routine(first) && !routine(kind))
        {
            found.first_reason = Some(kind);
        }
    };
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
        let result = codec.open_chunks::<T>(name, core::iter::once(value), now, &mut budget);
        if budget < before {
            if let Some(slot) = attempted.get_mut(seen) {
                *slot = value;
            }
        }
        match result {
            Ok(opened) => match &authentic {
                None => authentic = Some(opened),
                Some(_) => found.ambiguous = true,
            },
            Err(Refusal::Refused(error)) => refuse(&mut found, error.kind()),
            // More candidates than can be authenticated: one of the rest may be the user's.
            Err(Refusal::OverBudget) => found.ambiguous = true,
        }
    }
    let loaded = match authentic {
        Some(opened) if !found.ambiguous => {
            let data = Arc::new(opened.data);
            Loaded {
                original: Arc::clone(&data),
                data,
                meta: Some(opened.meta),
                expires: Some(opened.expires),
                from_cookie: true,
                by_primary: opened.by_primary,
                encoded: None,
                data_changed: false,
                id_changed: false,
            }
        }
        _ => Loaded::fresh(),
    };
    (loaded, found)
}

impl<T: Default> Loaded<T> {
    fn fresh() -> Self {
        let data = Arc::new(T::default());
        Self {
            original: Arc::clone(&data),
            data,
            meta: None,
            expires: None,
            from_cookie: false,
            by_primary: true,
            encoded: None,
            data_changed: false,
            id_changed: false,
        }
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
                by_primary: bit(6),
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
                || (facts.from_cookie && (!facts.by_primary || facts.refresh_due))
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
        // The named rows of the issue, spelled out.
        let base = Facts {
            loaded: true,
            destroyed: false,
            had_cookie: true,
            ambiguous: false,
            from_cookie: true,
            changed: false,
            by_primary: true,
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
                by_primary: false,
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
}
