//! `Session<T>`: the per-request handle, its state machine and size-checked mutation.
//!
//! Framework-neutral: the adapters hand it the candidate cookie values and `now`, and take a
//! [`Outcome`] (the `Set-Cookie` value to send, and what to log) when the response is ready.

use core::fmt;
use core::hash::{BuildHasher, Hasher};
use std::collections::hash_map::RandomState;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postcard::ser_flavors::Flavor;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{self, Codec, Data, SessionId, SessionMeta};
use crate::config::{Rolling, SessionConfig};
use crate::error::{OpenErrorKind, SessionError};
use crate::ring::KeyRing;

/// At most this many cookies of the session's name are examined per request
/// (SECURITY-TESTS D3): enough for a stale path-shadowed copy next to the real one, and a
/// bound on the work a client can ask for.
pub const MAX_CANDIDATES: usize = 4;

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

/// The session's cookie values found in a request, not yet opened.
#[derive(Default)]
pub(crate) struct Candidates {
    /// Values joined by `\n`, which no header value can contain.
    joined: String,
    count: usize,
    /// Values refused for their length alone, without being copied.
    too_long: usize,
}

impl Candidates {
    /// Records one value of the session's cookie. Returns `false` once [`MAX_CANDIDATES`]
    /// were recorded: the caller may stop looking.
    pub(crate) fn push(&mut self, value: &str, max_value_len: usize) -> bool {
        if self.count + self.too_long >= MAX_CANDIDATES {
            return false;
        }
        if value.len() > max_value_len || value.contains('\n') {
            self.too_long += 1;
        } else {
            if self.count > 0 {
                self.joined.push('\n');
            }
            self.joined.push_str(value);
            self.count += 1;
        }
        true
    }

    fn is_empty(&self) -> bool {
        self.count + self.too_long == 0
    }

    fn values(&self) -> impl Iterator<Item = &str> {
        self.joined.split('\n').take(self.count)
    }
}

/// The raw `Cookie` fields of a request, parsed into [`Candidates`] on first access (cookie
/// name, longest value).
pub(crate) type PendingCandidates = Box<dyn FnOnce(&str, usize) -> Candidates + Send>;

enum Source {
    Parsed(Candidates),
    Pending(PendingCandidates),
}

static NO_CANDIDATES: Candidates = Candidates {
    joined: String::new(),
    count: 0,
    too_long: 0,
};

/// A session handle: cheap to clone, every clone is the same session.
///
/// The middleware puts one in each request's extensions (with axum it is also the
/// extractor). The cookie is opened lazily, on first access; a route that never touches the
/// session pays nothing but a header lookup. A missing, malformed, tampered, expired or
/// unknown-key cookie gives a fresh empty session, never an error.
///
/// Changes are size-checked: [`set`](Self::set) and [`update`](Self::update) refuse with
/// [`SessionError::TooLarge`] a change whose `Set-Cookie` would exceed the limit, and leave
/// the session as it was. A change is detected by comparing serializations, so an update that
/// changes nothing sends no cookie.
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
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    settings: Arc<Settings>,
    state: Mutex<State<T>>,
}

struct State<T> {
    source: Source,
    /// The request's time; sealing uses it too, so the size predicted on mutation is the size
    /// sent.
    now: u64,
    loaded: Option<Loaded<T>>,
    destroyed: bool,
    finished: bool,
    refused: Vec<OpenErrorKind>,
    conflict: bool,
}

struct Loaded<T> {
    data: Arc<T>,
    /// `None` for a new session that has not been given an identity yet.
    meta: Option<SessionMeta>,
    /// The expiry sealed in the incoming cookie.
    expires: Option<u64>,
    from_cookie: bool,
    by_primary: bool,
    /// The data or the id changed: seal on the response.
    dirty: bool,
    /// Of `data`, computed on first comparison.
    fingerprint: Option<Fingerprint>,
    /// The postcard encoding of `data`, when a change made it: the seal reuses it.
    postcard: Option<Vec<u8>>,
}

impl<T> Clone for Session<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> fmt::Debug for Session<T> {
    /// Shows the state, never the data or the cookie.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        let mut debug = f.debug_struct("Session");
        debug.field("cookie_name", &self.shared.settings.config.cookie_name());
        match &state.loaded {
            None => debug.field("loaded", &false),
            Some(loaded) => debug
                .field("id", &loaded.meta.map(|m| m.id))
                .field("from_cookie", &loaded.from_cookie)
                .field("modified", &loaded.dirty),
        };
        debug
            .field("destroyed", &state.destroyed)
            .finish_non_exhaustive()
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every mutation is prepared outside the lock and applied in one step, so a panic in
        // another holder cannot leave the state half-changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: SessionData> Session<T> {
    pub(crate) fn new(
        settings: Arc<Settings>,
        pending: Option<PendingCandidates>,
        now: u64,
    ) -> Self {
        let source = match pending {
            Some(pending) => Source::Pending(pending),
            None => Source::Parsed(Candidates::default()),
        };
        Self {
            shared: Arc::new(Shared {
                settings,
                state: Mutex::new(State {
                    source,
                    now,
                    loaded: None,
                    destroyed: false,
                    finished: false,
                    refused: Vec::new(),
                    conflict: false,
                }),
            }),
        }
    }

    /// The session data: a cheap shared snapshot (the session itself is not locked while
    /// you hold it).
    #[must_use]
    pub fn get(&self) -> Arc<T> {
        let mut state = self.shared.lock();
        Arc::clone(&self.loaded(&mut state).data)
    }

    /// Replaces the data.
    ///
    /// # Errors
    ///
    /// [`SessionError::TooLarge`] if the sealed session's `Set-Cookie` would exceed the size
    /// limit (the sizes count the whole `Set-Cookie` value), [`SessionError::Serialize`] if
    /// the value cannot be serialized, [`SessionError::Random`] if a new session's id cannot
    /// be drawn. On error the session is unchanged.
    pub fn set(&self, value: T) -> Result<(), SessionError> {
        self.replace(value)
    }

    /// Changes the data through `f`, which works on a copy: if the result is too large, the
    /// session stays as it was.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R, SessionError>
    where
        T: Clone,
    {
        // `f` runs without the lock held, so it may use the session itself.
        let mut data = T::clone(&self.get());
        let result = f(&mut data);
        self.replace(data)?;
        Ok(result)
    }

    fn replace(&self, data: T) -> Result<(), SessionError> {
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        let now = state.now;
        if state.destroyed {
            // A change after `destroy` starts a new session (with a new id).
            state.destroyed = false;
            state.loaded = Some(Loaded::fresh());
        }
        let loaded = self.loaded(&mut state);
        // Serialized once: for the change check, the size check and the seal.
        let postcard = settings.serialize(&data, now, loaded.meta)?;
        let new_fingerprint = Fingerprint::of_postcard(&postcard);
        if loaded.fingerprint()? == new_fingerprint {
            return Ok(());
        }
        let meta = match loaded.meta {
            Some(meta) => meta,
            None => SessionMeta::new(now)?,
        };
        settings.check_size(&meta, postcard.len(), now)?;
        loaded.meta = Some(meta);
        loaded.data = Arc::new(data);
        loaded.fingerprint = Some(new_fingerprint);
        loaded.postcard = Some(postcard);
        loaded.dirty = true;
        Ok(())
    }

    /// Resets the data to `T::default()`, keeping the session id.
    pub fn clear(&self) {
        let mut state = self.shared.lock();
        let loaded = self.loaded(&mut state);
        let data = T::default();
        let fingerprint = Fingerprint::of(&data).ok();
        let changed = fingerprint.is_none() || loaded.fingerprint().ok() != fingerprint;
        // A session without an id was never saved: clearing it leaves nothing to send.
        loaded.dirty |= changed && loaded.meta.is_some();
        loaded.data = Arc::new(data);
        loaded.fingerprint = fingerprint;
        loaded.postcard = None;
    }

    /// Ends the session: the response deletes the cookie (`Max-Age=0`, same name, path and
    /// domain) and the handle reads as a new, empty session.
    ///
    /// # Security
    ///
    /// This deletes the cookie from this browser only. A copy of the cookie taken earlier keeps
    /// opening until it expires: stateless sessions cannot be revoked one by one (see the
    /// crate docs).
    pub fn destroy(&self) {
        let mut state = self.shared.lock();
        state.destroyed = true;
        state.loaded = Some(Loaded::fresh());
    }

    /// Gives the session a new id, keeping its data, and restarts its absolute lifetime. Call
    /// it on login (and on any privilege change) so that a cookie from before the login never
    /// carries the logged-in identity (session fixation).
    ///
    /// # Errors
    ///
    /// [`SessionError::Random`] if the id cannot be drawn; the session is then unchanged.
    pub fn cycle_id(&self) -> Result<(), SessionError> {
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        let now = state.now;
        state.destroyed = false;
        let loaded = self.loaded(&mut state);
        let meta = SessionMeta::new(now)?;
        let data_len = match &loaded.postcard {
            Some(postcard) => postcard.len(),
            None => settings.serialize(&*loaded.data, now, Some(meta))?.len(),
        };
        settings.check_size(&meta, data_len, now)?;
        loaded.meta = Some(meta);
        loaded.dirty = true;
        Ok(())
    }

    /// The session id, or `None` for a new session that has not been saved yet.
    #[must_use]
    pub fn id(&self) -> Option<SessionId> {
        let mut state = self.shared.lock();
        self.loaded(&mut state).meta.map(|meta| meta.id)
    }

    /// When the session expires after this response, or `None` if there will be no session
    /// (new and unsaved, or destroyed).
    #[must_use]
    pub fn expires_at(&self) -> Option<SystemTime> {
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        self.loaded(&mut state);
        state.parse_candidates(settings);
        let expires = match state.plan(settings) {
            Plan::Seal => {
                let loaded = state.loaded.as_ref()?;
                let created = loaded.meta.map_or(state.now, |meta| meta.created);
                settings.codec.expires_at(created, state.now)
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
        !self.loaded(&mut state).from_cookie
    }

    pub(crate) fn config(&self) -> &SessionConfig {
        &self.shared.settings.config
    }

    /// Opens the candidates on first access.
    fn loaded<'s>(&self, state: &'s mut State<T>) -> &'s mut Loaded<T> {
        state.load(&self.shared.settings)
    }

    /// Decides what the response carries. Called once by the adapter.
    pub(crate) fn finish(&self) -> Outcome {
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        if state.finished {
            return Outcome::default();
        }
        state.finished = true;
        if settings.config.save_uninitialized() && !state.destroyed {
            state.load(settings);
        }
        if state.loaded.is_some() {
            state.parse_candidates(settings);
        }
        let mut outcome = Outcome {
            set_cookie: None,
            refused: core::mem::take(&mut state.refused),
            conflict: state.conflict,
            seal_error: None,
        };
        match state.plan(settings) {
            Plan::Nothing | Plan::Keep => {}
            Plan::Remove => outcome.set_cookie = Some(settings.config.removal_cookie()),
            Plan::Seal => match state.seal(settings) {
                Ok(line) => outcome.set_cookie = Some(line),
                Err(error) => outcome.seal_error = Some(error),
            },
        }
        outcome
    }
}

/// What the response must carry and what the adapter should log.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) set_cookie: Option<String>,
    pub(crate) refused: Vec<OpenErrorKind>,
    pub(crate) conflict: bool,
    pub(crate) seal_error: Option<SessionError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// No session and no cookie to remove, or never accessed.
    Nothing,
    /// A valid cookie that needs no re-seal.
    Keep,
    Seal,
    Remove,
}

impl<T: SessionData> State<T> {
    fn load(&mut self, settings: &Settings) -> &mut Loaded<T> {
        if self.loaded.is_none() {
            self.loaded = Some(self.open_candidates(settings));
        }
        self.loaded.get_or_insert_with(Loaded::fresh)
    }

    fn parse_candidates(&mut self, settings: &Settings) {
        if matches!(self.source, Source::Pending(_)) {
            let empty = Source::Parsed(Candidates::default());
            if let Source::Pending(parse) = core::mem::replace(&mut self.source, empty) {
                self.source = Source::Parsed(parse(
                    settings.config.cookie_name(),
                    settings.codec.max_value_len(),
                ));
            }
        }
    }

    fn candidates(&self) -> &Candidates {
        match &self.source {
            Source::Parsed(candidates) => candidates,
            Source::Pending(_) => &NO_CANDIDATES,
        }
    }

    fn open_candidates(&mut self, settings: &Settings) -> Loaded<T> {
        self.parse_candidates(settings);
        let candidates = match &self.source {
            Source::Parsed(candidates) => candidates,
            Source::Pending(_) => &NO_CANDIDATES,
        };
        self.refused.extend(core::iter::repeat_n(
            OpenErrorKind::TooLong,
            candidates.too_long,
        ));
        let name = settings.config.cookie_name();
        let mut found: Option<(crate::codec::Opened<T>, &str)> = None;
        for value in candidates.values() {
            match settings.codec.open::<T>(name, value, self.now) {
                Ok(opened) => match &found {
                    None => found = Some((opened, value)),
                    Some((_, first)) if *first == value => {}
                    // Two different authentic cookies: one was planted (cookie tossing from a
                    // sibling domain, or a shadowing path). Trust neither.
                    Some(_) => self.conflict = true,
                },
                Err(error) => self.refused.push(error.kind()),
            }
        }
        match found {
            Some((opened, _)) if !self.conflict => Loaded {
                data: Arc::new(opened.data),
                meta: Some(opened.meta),
                expires: Some(opened.expires),
                from_cookie: true,
                by_primary: opened.by_primary,
                dirty: false,
                fingerprint: None,
                postcard: None,
            },
            _ => Loaded::fresh(),
        }
    }

    fn plan(&self, settings: &Settings) -> Plan {
        let Some(loaded) = &self.loaded else {
            return Plan::Nothing;
        };
        let had_cookie = !self.candidates().is_empty();
        if self.destroyed {
            return if had_cookie {
                Plan::Remove
            } else {
                Plan::Nothing
            };
        }
        if loaded.dirty {
            return Plan::Seal;
        }
        if loaded.from_cookie {
            return if !loaded.by_primary || self.refresh_due(settings, loaded) {
                Plan::Seal
            } else {
                Plan::Keep
            };
        }
        if settings.config.save_uninitialized() {
            Plan::Seal
        } else if had_cookie {
            // Invalid, expired or conflicting cookies: clear them.
            Plan::Remove
        } else {
            Plan::Nothing
        }
    }

    /// Whether re-sealing an unchanged session is due to push its idle expiry forward.
    fn refresh_due(&self, settings: &Settings, loaded: &Loaded<T>) -> bool {
        let (Some(meta), Some(expires)) = (loaded.meta, loaded.expires) else {
            return false;
        };
        // Near the absolute lifetime a re-seal cannot extend anything.
        if settings.codec.expires_at(meta.created, self.now) <= expires {
            return false;
        }
        match settings.config.rolling() {
            Rolling::Always => true,
            // Sealed at expires - idle; due once more than half the idle timeout has passed.
            Rolling::HalfIdle => {
                expires.saturating_sub(self.now) < settings.codec.idle_timeout() / 2
            }
        }
    }

    fn seal(&mut self, settings: &Settings) -> Result<String, SessionError> {
        let now = self.now;
        let loaded = self.loaded.as_mut().ok_or(SessionError::Serialize)?;
        let meta = match loaded.meta {
            Some(meta) => meta,
            None => *loaded.meta.insert(SessionMeta::new(now)?),
        };
        let data = match &loaded.postcard {
            Some(postcard) => Data::Postcard(postcard),
            None => Data::Value(&*loaded.data),
        };
        let codec = &settings.codec;
        let value_len_hint = match data {
            Data::Postcard(postcard) => {
                codec.sealed_len_for_postcard_len(&meta, postcard.len(), now)
            }
            Data::Value(_) => 0,
        };
        let line = settings.config.set_cookie(value_len_hint, |line| {
            let expires = codec.seal_into(line, settings.config.cookie_name(), &meta, data, now)?;
            Ok::<_, SessionError>(expires.saturating_sub(now))
        })?;
        // Mutations were size-checked, but a re-seal under a primary with a longer nonce
        // (rotation AES-256-GCM -> XChaCha20-Poly1305) grows the line: never send one over
        // the limit; the old cookie keeps opening while its key is accepted.
        let limit = settings.config.max_cookie_size();
        if line.len() > limit {
            return Err(SessionError::TooLarge {
                size: line.len(),
                limit,
            });
        }
        Ok(line)
    }
}

impl Settings {
    /// Refuses a session whose `Set-Cookie` value would exceed the limit, given the length of
    /// its data's postcard encoding.
    fn check_size(
        &self,
        meta: &SessionMeta,
        data_len: usize,
        now: u64,
    ) -> Result<(), SessionError> {
        let value_len = self.codec.sealed_len_for_postcard_len(meta, data_len, now);
        let max_age = self.codec.expires_at(meta.created, now).saturating_sub(now);
        let size = self.config.fixed_cookie_len() + value_len + decimal_digits(max_age);
        let limit = self.config.max_cookie_size();
        if size > limit {
            return Err(SessionError::TooLarge { size, limit });
        }
        Ok(())
    }

    /// The postcard encoding of session data, refused with the exact `TooLarge` size (counted,
    /// not allocated) once it cannot fit in a cookie value: a huge value is never copied.
    fn serialize<T: Serialize + ?Sized>(
        &self,
        data: &T,
        now: u64,
        meta: Option<SessionMeta>,
    ) -> Result<Vec<u8>, SessionError> {
        let limit = self.codec.max_value_len();
        match codec::to_capped_vec(data, limit) {
            Ok(postcard) => Ok(postcard),
            Err(postcard::Error::SerializeBufferFull) => {
                let data_len = Fingerprint::of(data)?.len;
                let meta = meta.unwrap_or(SessionMeta {
                    id: SessionId::from_bytes([0; crate::codec::SESSION_ID_LEN]),
                    created: now,
                });
                self.check_size(&meta, data_len, now)?;
                // Fits after all (cannot happen: the value alone is over the limit).
                Err(SessionError::TooLarge {
                    size: data_len,
                    limit: self.config.max_cookie_size(),
                })
            }
            Err(_) => Err(SessionError::Serialize),
        }
    }
}

impl<T: Default> Loaded<T> {
    fn fresh() -> Self {
        Self {
            data: Arc::new(T::default()),
            meta: None,
            expires: None,
            from_cookie: false,
            by_primary: true,
            dirty: false,
            fingerprint: None,
            postcard: None,
        }
    }
}

impl<T: Serialize> Loaded<T> {
    fn fingerprint(&mut self) -> Result<Fingerprint, SessionError> {
        match self.fingerprint {
            Some(fingerprint) => Ok(fingerprint),
            None => {
                let fingerprint = Fingerprint::of(&*self.data)?;
                self.fingerprint = Some(fingerprint);
                Ok(fingerprint)
            }
        }
    }
}

fn decimal_digits(mut n: u64) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// The length and a keyed hash of a value's postcard serialization, computed without
/// allocating: how a change is detected (express-session hashes its JSON the same way).
/// SipHash under a per-process random key is a PRF, so a client who controls part of the
/// data cannot craft a change that hashes the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: usize,
    hash: u64,
}

static FINGERPRINT_KEY: LazyLock<RandomState> = LazyLock::new(RandomState::new);

impl Fingerprint {
    /// Of postcard bytes: equal to [`Fingerprint::of`] the value they encode.
    fn of_postcard(postcard: &[u8]) -> Self {
        let mut hasher = FINGERPRINT_KEY.build_hasher();
        hasher.write(postcard);
        Self {
            len: postcard.len(),
            hash: hasher.finish(),
        }
    }

    fn of<T: Serialize + ?Sized>(value: &T) -> Result<Self, SessionError> {
        let hasher = FingerprintHasher {
            hasher: FINGERPRINT_KEY.build_hasher(),
            len: 0,
        };
        postcard::serialize_with_flavor(value, hasher).map_err(|_| SessionError::Serialize)
    }
}

struct FingerprintHasher<H> {
    hasher: H,
    len: usize,
}

impl<H: Hasher> Flavor for FingerprintHasher<H> {
    type Output = Fingerprint;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.try_extend(&[byte])
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.hasher.write(data);
        self.len = self.len.saturating_add(data.len());
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Fingerprint> {
        Ok(Fingerprint {
            len: self.len,
            hash: self.hasher.finish(),
        })
    }
}
