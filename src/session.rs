//! `Session<T>`: the per-request handle, its state machine and size-checked mutation.
//!
//! Framework-neutral: an adapter (through [`Sessions`](crate::Sessions)) hands it the
//! request's raw `Cookie` fields and path, and takes what the response must carry when it is
//! ready. Which cookies form the session is decided in `open`, which lines carry it in `seal`,
//! and what the response does in `plan`; each rule sits in one of them, once.

mod open;
mod plan;
mod seal;
mod settings;
mod state;

pub use self::settings::{Clock, SessionData};
pub(crate) use self::settings::{ConfigSource, Settings};

use core::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::codec::{Head, Lifetime, SealedAs, SessionId, SessionMeta};
use crate::config::{Rolling, SessionConfig};
use crate::cookies::{self, CookieFields};
use crate::error::{OpenErrorKind, SessionError};
use crate::key::KeyId;
use crate::ring::RingView;

use self::plan::Plan;
pub(crate) use self::plan::{Finished, Lines};
use self::seal::{Encoded, Fitted};

/// The most flash messages a session holds; older ones are dropped first.
const MAX_FLASH: usize = 16;

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
/// # Which changes of `T` need a migration
///
/// postcard is not self-describing: a cookie holds `T`'s fields in order, without names, so
/// each cookie is bound to the shape of the type it was sealed for (wire format v3: field
/// names and types in order, enum variants; not the names of structs). Any change of that
/// shape (adding a field, even with `#[serde(default)]`; removing, renaming, reordering or
/// retyping one) makes older cookies open as a fresh session, unless the old type is
/// registered ([`Migrations::from`](crate::Migrations::from)). Renaming the struct or changing
/// only methods does not. Attributes that postcard cannot round-trip (`skip_serializing_if`,
/// `untagged`, `flatten`, `skip_serializing` or `skip_deserializing` without the other) have
/// no place in a session type: a value they make unreadable, or readable as other data, is
/// refused by `set`/`update` with [`SessionError::NotRoundTrip`] instead of being sealed, as
/// far as a check can tell (a misreading whose value re-encodes as long as the bytes read
/// cannot be told from a map read back in another order, hence the rule).
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
///   [`SessionError::Destroyed`], except [`flash`](Self::flash): a flash after `destroy` (a
///   "logged out" message) starts a new, empty session with a new id that carries only the
///   flash, and the response sets its cookie in place of the deletion (the old cookie is
///   replaced, so it is gone all the same; on a 5xx response, or if the new cookie cannot be
///   sealed, the cookie is deleted as without the flash).
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
    /// the size sent (under the same primary key: see `ring`).
    now: Option<u64>,
    /// The ring as of the request's first use of it: the open and every size check see the
    /// same keys. The seal takes the ring as of the response instead (a key revoked while the
    /// handler ran seals nothing), and the response lets go of this one, so that a handle kept
    /// past the response (a spawned task) does not keep retired keys in memory. The price: a
    /// change sized under one primary key is sealed under the next one if the ring rotates in
    /// between; a longer nonce (AES-256-GCM to XChaCha20-Poly1305) can then make it too large,
    /// and the seal, which checks the limits again, sends nothing and logs the error.
    ring: Option<RingView>,
    /// The request's path is outside the cookie's `Path`: the browser neither sent the cookie
    /// nor would send one set here back, so changes are refused and nothing is sent.
    outside_path: bool,
    phase: Phase,
    /// Opened on first access.
    loaded: Option<Loaded<T>>,
    /// What opening found, for the plan and the log.
    found: Found,
    /// A lifetime asked for more than the configuration's maxima allow (said once, in the log).
    capped: bool,
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
    /// The logged refusal came from the application's revocation check (routine), not from
    /// the ring's not-before time (a server-side mass logout).
    pub(crate) first_by_check: bool,
    /// Two different authentic cookies, or more candidates than could be authenticated: one
    /// of them may be the user's own, so the session is neither used, saved nor deleted.
    pub(crate) ambiguous: bool,
    /// The session was sealed as another schema version than the one written: (from, to).
    pub(crate) migrated: Option<(SealedAs, SealedAs)>,
    /// Bit `k`: the request carried a chunk cookie `name.k` (read only with chunking on).
    pub(crate) chunks_seen: u16,
    /// With chunking off, the chunk cookies `name.k` the request carried (stale ones a
    /// response that writes the session deletes), if the cookies were read.
    pub(crate) unchunked: Option<u16>,
}

impl Found {
    fn refuse(&mut self, kind: OpenErrorKind, key: Option<KeyId>, by_check: bool) {
        self.refused += 1;
        // The log names one reason: the first that is not routine, else the first.
        let routine = |kind| matches!(kind, OpenErrorKind::Expired | OpenErrorKind::OutsideWindow);
        if self
            .first_reason
            .is_none_or(|first| routine(first) && !routine(kind))
        {
            self.first_reason = Some(kind);
            self.first_key = key;
            self.first_by_check = by_check;
        }
    }
}

struct Loaded<T> {
    data: Slot<T>,
    /// The data as loaded, to detect changes (a change back to it is no change); `None` while
    /// `data` is still the data as loaded.
    original: Option<Slot<T>>,
    /// The id, creation time, lifetime and flash messages the response seals.
    head: HeadState,
    /// The expiry sealed in the incoming cookie.
    expires: Option<u64>,
    from_cookie: bool,
    by_primary: bool,
    /// Sealed as an older schema version than the one written: re-seal.
    outdated: bool,
    /// The encoding of the data, once made (by a change, or a size check): the seal reuses
    /// it.
    encoded: Option<Encoded>,
    /// The last change's size check, made for `encoded` and `head` as they are: the seal
    /// reuses it.
    fitted: Option<Fitted>,
    /// How many cookies the incoming session was split across (1 for a new session).
    chunks: usize,
    data_changed: bool,
    /// The id, the lifetime or the flash messages changed.
    head_changed: bool,
}

/// Session data as a session holds it: owned, until a handler asks for a snapshot
/// ([`Session::get`]), which shares it (a request that only updates allocates no `Arc`).
enum Slot<T> {
    Owned(T),
    Shared(Arc<T>),
}

impl<T: Default> Slot<T> {
    fn get(&self) -> &T {
        match self {
            Self::Owned(data) => data,
            Self::Shared(data) => data,
        }
    }

    /// A shared snapshot, made once.
    fn share(&mut self) -> Arc<T> {
        match self {
            Self::Shared(data) => Arc::clone(data),
            Self::Owned(data) => {
                let shared = Arc::new(core::mem::take(data));
                *self = Self::Shared(Arc::clone(&shared));
                shared
            }
        }
    }
}

/// A change of the head, for [`Session::commit_in`]'s type when there is none.
type HeadEdit = fn(&mut HeadState, u64) -> Result<(), SessionError>;

/// The sealed head as the session holds it (a change works on a copy).
#[derive(Clone, PartialEq)]
struct HeadState {
    /// `None` for a new session that has not been given an identity yet.
    meta: Option<SessionMeta>,
    /// `None`: the configuration's default.
    lifetime: Option<Lifetime>,
    flash: Vec<String>,
}

impl HeadState {
    /// The head to seal (or size): `provisional` stands in for a new session's meta.
    fn head<'a, T>(&'a self, settings: &Settings<T>, provisional: SessionMeta) -> Head<'a> {
        Head {
            meta: self.meta.unwrap_or(provisional),
            lifetime: self.lifetime.unwrap_or(settings.config.lifetime()),
            flash: &self.flash,
        }
    }

    /// Whether `other` seals differently: a lifetime counts as resolved against the maxima,
    /// so asking again for the lifetime a session has is no change.
    fn differs<T>(&self, other: &Self, settings: &Settings<T>) -> bool {
        let resolved = |head: &Self| {
            settings
                .codec
                .resolved(head.lifetime.unwrap_or(settings.config.lifetime()))
        };
        self.meta != other.meta || self.flash != other.flash || resolved(self) != resolved(other)
    }

    /// SECURITY-TESTS F9: a new id (for this session, or for a new one) never extends the
    /// absolute deadline; only [`Session::renew`] starts a fresh one.
    fn cycle_id(&mut self, now: u64) -> Result<(), SessionError> {
        let created = self.meta.map_or(now, |meta| meta.created);
        self.meta = Some(SessionMeta {
            created,
            ..SessionMeta::new(now)?
        });
        Ok(())
    }
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

impl<T> Session<T> {
    /// Ends the request without a response to write to (the handler failed, or the response
    /// future was dropped): later changes get [`SessionError::ResponseSent`] instead of an
    /// `Ok` that nothing would save (SECURITY-TESTS F6).
    ///
    /// An adapter calls this (or [`finish`](Self::finish)) once per request.
    pub fn abandon(&self) {
        self.shared.lock().phase = Phase::Sent;
    }
}

impl<T: SessionData> Session<T> {
    /// A session for one request: its raw `Cookie` fields and the path the browser sent.
    pub(crate) fn new(
        settings: Arc<Settings<T>>,
        cookies: impl CookieFields + 'static,
        request_path: &str,
    ) -> Self {
        let cookie_path = settings.config.path();
        let outside_path = !settings.config.covers_every_path()
            && !cookies::path_matches(request_path, cookie_path);
        let eager = settings.config.rolling() == Rolling::EveryRequest;
        let session = Self {
            shared: Arc::new(Shared {
                settings,
                cookies,
                state: Mutex::new(State {
                    now: None,
                    ring: None,
                    outside_path,
                    phase: Phase::Open,
                    loaded: None,
                    found: Found::default(),
                    capped: false,
                }),
            }),
        };
        if eager && !outside_path {
            // Rolling::EveryRequest: the response refreshes the session even if the handler
            // never touches it.
            session.with_loaded(|_| ());
        }
        session
    }

    /// Runs `f` on the loaded session (opening the cookie on first access).
    fn with_loaded<R>(&self, f: impl FnOnce(&mut Loaded<T>) -> R) -> R {
        let shared = &*self.shared;
        let mut state = shared.lock();
        f(state.load(&shared.settings, &shared.cookies))
    }

    /// The session data: a cheap shared snapshot (the session itself is not locked while
    /// you hold it).
    #[must_use]
    pub fn get(&self) -> Arc<T> {
        self.with_loaded(|loaded| loaded.data.share())
    }

    /// Replaces the data.
    ///
    /// # Errors
    ///
    /// [`SessionError::TooLarge`] if the sealed session's `Set-Cookie` would exceed the size
    /// limit (the sizes count the whole `Set-Cookie` line), [`SessionError::NotRoundTrip`] if
    /// its encoding would not open again, [`SessionError::Unwritable`] if the schema version
    /// written during a rollout cannot hold it, [`SessionError::Serialize`] if the value
    /// cannot be serialized, [`SessionError::Rng`] if a new session's id cannot be drawn, and
    /// [`Destroyed`](SessionError::Destroyed), [`ResponseSent`](SessionError::ResponseSent),
    /// [`Conflict`](SessionError::Conflict) or [`OutsidePath`](SessionError::OutsidePath)
    /// when no change can take effect. On error the session is unchanged.
    pub fn set(&self, value: T) -> Result<(), SessionError> {
        self.commit_in(Some(value), false, None::<HeadEdit>)
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
        // Fails fast when no change can take effect, before any work; `f` runs without the
        // lock held, so it may use the session itself.
        let mut data = {
            let shared = &*self.shared;
            let mut state = shared.lock();
            state.writable(&shared.settings, &shared.cookies)?;
            T::clone(state.load(&shared.settings, &shared.cookies).data.get())
        };
        let result = f(&mut data);
        self.set(data)?;
        Ok(result)
    }

    /// Resets the data to `T::default()`, keeping the session id.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set): the default value must fit and round-trip too.
    pub fn clear(&self) -> Result<(), SessionError> {
        self.set(T::default())
    }

    /// Ends the session: the response deletes the cookie (`Max-Age=0`, same name, path and
    /// domain) and the handle reads as a new, empty session for the rest of the request;
    /// other changes then return [`SessionError::Destroyed`], except [`flash`](Self::flash),
    /// which starts a new, empty session holding only the message (see "Lifecycle within a
    /// request" above).
    ///
    /// # Errors
    ///
    /// [`SessionError::ResponseSent`] if the response was already written, and
    /// [`SessionError::OutsidePath`] outside the cookie's `Path` (the browser did not send the
    /// session there, and a deletion would delete another cookie).
    ///
    /// # Security
    ///
    /// This deletes the cookie from this browser only. A copy of the cookie taken earlier keeps
    /// opening until it expires, unless a revocation check refuses it (see SECURITY.md).
    pub fn destroy(&self) -> Result<(), SessionError> {
        let shared = &*self.shared;
        let mut state = shared.lock();
        if state.phase == Phase::Sent {
            return Err(SessionError::ResponseSent);
        }
        if state.outside_path {
            return Err(SessionError::OutsidePath);
        }
        if state.loaded.is_none() {
            // Whether there are cookies to delete; nothing needs opening.
            let config = &shared.settings.config;
            let name = config.cookie_name();
            state.found.cookies = cookies::values(&shared.cookies, name).count();
            if config.max_chunks() > 1 {
                state.found.chunks_seen = open::chunks_seen(&shared.cookies, name);
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
    /// # Security
    ///
    /// A new id does not make the data new. On login, also replace the data with a value
    /// built from the fields you choose to carry over ([`set`](Self::set), not
    /// [`update`](Self::update)), and rotate any secret it holds (a [`CsrfToken`]): the
    /// session before the login may not be this user's (with a cookie name other than
    /// `__Host-`, a sibling subdomain can plant its own), and what it holds would survive the
    /// login. The README's "Logins" section has the recipe.
    ///
    /// [`CsrfToken`]: crate::CsrfToken
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    pub fn cycle_id(&self) -> Result<(), SessionError> {
        self.commit(None, |head, now| head.cycle_id(now))
    }

    /// Gives the session a new id and a fresh absolute lifetime, keeping its data: the session
    /// is then as new as one created now.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    pub fn renew(&self) -> Result<(), SessionError> {
        self.commit(None, |head, now| {
            head.meta = Some(SessionMeta::new(now)?);
            Ok(())
        })
    }

    /// Sets how this session expires (for example a persistent cookie on a "remember me"
    /// login, a browser-session cookie otherwise), capped by the configuration's maxima
    /// (a capped lifetime is said once per request, by a `debug` event with target
    /// `sealed_session::lifetime`; raise `SessionConfigBuilder::idle_timeout` and
    /// `max_lifetime` to allow more). Asking for the lifetime the session already has changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    pub fn set_lifetime(&self, lifetime: Lifetime) -> Result<(), SessionError> {
        self.commit(None, |head, _| {
            head.lifetime = Some(lifetime);
            Ok(())
        })
    }

    /// How this session expires: its own lifetime, or the configuration's default, with both
    /// bounds resolved against the configuration's maxima.
    #[must_use]
    pub fn lifetime(&self) -> Lifetime {
        let settings = &self.shared.settings;
        let lifetime = self.with_loaded(|loaded| loaded.head.lifetime);
        settings
            .codec
            .resolved(lifetime.unwrap_or(settings.config.lifetime()))
    }

    /// Leaves a message for the next request that reads [`take_flash`](Self::take_flash) (or
    /// for this one): set before a redirect, shown after it. Counted in the size check; at most
    /// 16 are kept, the oldest dropped first.
    ///
    /// After [`destroy`](Self::destroy) it starts a new, empty session (a new id, the default
    /// lifetime) that carries only the flash: the way to say "logged out" on the next page.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set) (but not [`SessionError::Destroyed`]).
    pub fn flash(&self, message: impl Into<String>) -> Result<(), SessionError> {
        let message = message.into();
        self.commit_in(
            None,
            true,
            Some(move |head: &mut HeadState, _| {
                if head.flash.len() >= MAX_FLASH {
                    head.flash.remove(0);
                }
                head.flash.push(message);
                Ok(())
            }),
        )
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
        if self.with_loaded(|loaded| loaded.head.flash.is_empty()) {
            return Ok(taken);
        }
        self.commit(None, |head, _| {
            taken = core::mem::take(&mut head.flash);
            Ok(())
        })?;
        Ok(taken)
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
        self.commit(Some(data), |head, now| {
            head.lifetime = Some(lifetime);
            if new_id && head.meta.is_some() {
                head.cycle_id(now)?;
            }
            Ok(())
        })
    }

    /// The one path every change takes: `edit` changes a copy of the head, `data` (if any)
    /// replaces the data; the result is encoded and size-checked as a whole, and applied only
    /// if all of it fits. A change that seals nothing new (the same data, the same lifetime)
    /// is no change.
    fn commit(
        &self,
        data: Option<T>,
        edit: impl FnOnce(&mut HeadState, u64) -> Result<(), SessionError>,
    ) -> Result<(), SessionError> {
        self.commit_in(data, false, Some(edit))
    }

    /// As [`commit`](Self::commit); `after_destroy`: the change may start the new, empty
    /// session a destroyed one reads as (a flash), which the response then seals. Without an
    /// `edit` (a change of the data alone) the head is neither copied nor compared.
    fn commit_in(
        &self,
        data: Option<T>,
        after_destroy: bool,
        edit: Option<impl FnOnce(&mut HeadState, u64) -> Result<(), SessionError>>,
    ) -> Result<(), SessionError> {
        let shared = &*self.shared;
        let settings = &*shared.settings;
        let mut state = shared.lock();
        if !(after_destroy && state.phase == Phase::Destroyed) {
            state.writable(settings, &shared.cookies)?;
        }
        let now = state.now(settings);
        let (loaded, ring) = state.load_for_change(settings, &shared.cookies);
        let edited = match edit {
            Some(edit) => {
                let mut next = loaded.head.clone();
                edit(&mut next, now)?;
                Some(next)
            }
            None => None,
        };
        let next = edited.as_ref().unwrap_or(&loaded.head);
        let head_changed = edited.is_some() && next.differs(&loaded.head, settings);
        let capped = next.lifetime != loaded.head.lifetime
            && next.lifetime.is_some_and(|l| settings.caps(l));
        let provisional = seal::provisional_meta(now);
        // An unchanged session's encoding, made here to size a change of its head alone.
        let mut fresh_encoding = None;
        let (data, encoded, fitted, data_changed) = match data {
            Some(data) => {
                let (encoded, fitted) = seal::encode_fitting(
                    settings,
                    ring,
                    &data,
                    &next.head(settings, provisional),
                    now,
                )?;
                if !settings.schema.holds(&data, &encoded.plain) {
                    return Err(SessionError::Unwritable {
                        version: settings.schema.version_of(settings.schema.sealed_as()),
                    });
                }
                let original = loaded.original.as_ref().unwrap_or(&loaded.data);
                let changed = !settings.schema.encodes_to(original.get(), &encoded.plain);
                (Some(data), Some(encoded), Some(fitted), changed)
            }
            None => {
                let mut fitted = None;
                if head_changed {
                    let head = next.head(settings, provisional);
                    let data_len = match &loaded.encoded {
                        Some(encoded) => encoded.sealed().0.len(),
                        None => {
                            let compress = loaded.compresses_on_reseal();
                            let encoded =
                                seal::encode_loaded(settings, loaded.data.get(), compress)?;
                            let len = encoded.sealed().0.len();
                            fresh_encoding = Some(encoded);
                            len
                        }
                    };
                    fitted = Some(seal::fit(settings, ring, &head, data_len, now)?);
                }
                (None, fresh_encoding.take(), fitted, loaded.data_changed)
            }
        };
        let head_changed = head_changed || loaded.head_changed;
        let mut meta = next.meta;
        if meta.is_none() && (data_changed || head_changed) {
            meta = Some(SessionMeta::new(now)?);
        }
        if !data_changed && !head_changed && !loaded.from_cookie {
            // Back to what a new session holds: nothing to save (and no identity yet).
            meta = None;
        }
        // Everything is checked: apply it in one step.
        if let Some(next) = edited {
            loaded.head = next;
        }
        loaded.head.meta = meta;
        match (data, encoded) {
            (Some(data), Some(encoded)) => {
                let before = core::mem::replace(&mut loaded.data, Slot::Owned(data));
                loaded.original.get_or_insert(before);
                loaded.encoded = Some(encoded);
            }
            (None, Some(encoded)) => loaded.encoded = Some(encoded),
            _ => {}
        }
        // A change that was size-checked replaces the check (with `None` when the seal cannot
        // reuse it).
        if let Some(fitted) = fitted {
            loaded.fitted = fitted;
        }
        loaded.data_changed = data_changed;
        loaded.head_changed = head_changed;
        state.capped |= capped;
        Ok(())
    }

    /// The session id, or `None` for a new session that has not been saved yet.
    #[must_use]
    pub fn id(&self) -> Option<SessionId> {
        self.with_loaded(|loaded| loaded.head.meta.map(|meta| meta.id))
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
                let created = loaded.head.meta.map_or(now, |meta| meta.created);
                let lifetime = loaded.head.lifetime.unwrap_or(settings.config.lifetime());
                settings
                    .codec
                    .expiry(settings.codec.bounds(lifetime), created, now)
            }
            Plan::Keep => state.loaded.as_ref()?.expires?,
            Plan::Remove | Plan::Nothing => return None,
        };
        UNIX_EPOCH.checked_add(Duration::from_secs(expires))
    }

    /// The session's creation time (`None` for a new one) and the request's time, in Unix
    /// seconds (for the tower-sessions bridge's absolute expiry).
    #[cfg(feature = "tower-sessions")]
    pub(crate) fn created_and_now(&self) -> (Option<u64>, u64) {
        let shared = &*self.shared;
        let mut state = shared.lock();
        let now = state.now(&shared.settings);
        let created = state
            .load(&shared.settings, &shared.cookies)
            .head
            .meta
            .map(|meta| meta.created);
        (created, now)
    }

    /// Sets the session's creation time to `created` (Unix seconds; its absolute lifetime
    /// counts from then), keeping its data: for the test kit's aged sessions.
    #[cfg(feature = "test-util")]
    pub(crate) fn backdate(&self, created: u64) -> Result<(), SessionError> {
        self.commit(None, |head, now| {
            head.meta = Some(SessionMeta {
                created,
                ..SessionMeta::new(now)?
            });
            Ok(())
        })
    }

    /// A fingerprint of the request's cookies of the session's name, read without opening
    /// them (`None` without any): the tower-sessions bridge's stand-in for an id it can only
    /// learn by opening the cookie.
    #[cfg(feature = "tower-sessions")]
    pub(crate) fn cookie_fingerprint(&self) -> Option<u128> {
        use core::hash::{BuildHasher, Hash, Hasher};
        // Keyed at random once per process: stable for a cookie while this process runs, and
        // no fingerprint a log could tie to the cookie elsewhere.
        static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> =
            std::sync::OnceLock::new();
        let keys = KEYS.get_or_init(std::collections::hash_map::RandomState::new);
        let shared = &*self.shared;
        let name = shared.settings.config.cookie_name();
        let mut values = cookies::values(&shared.cookies, name).peekable();
        values.peek()?;
        let (mut low, mut high) = (keys.build_hasher(), keys.build_hasher());
        high.write_u8(1);
        for value in values {
            value.hash(&mut low);
            value.hash(&mut high);
        }
        Some(u128::from(high.finish()) << 64 | u128::from(low.finish()))
    }

    /// Whether the request carried conflicting cookies of the session's name, so that no
    /// change can be saved ([`SessionError::Conflict`]); opens the cookies if they were not.
    /// The tower-sessions bridge asks before saving: tower-sessions logs every failed save as
    /// an `error` event, and a client's planted cookies must not raise one (SECURITY-TESTS F5).
    #[cfg(feature = "tower-sessions")]
    pub(crate) fn is_conflicted(&self) -> bool {
        let shared = &*self.shared;
        let mut state = shared.lock();
        matches!(
            state.writable(&shared.settings, &shared.cookies),
            Err(SessionError::Conflict)
        )
    }

    /// Deletes the request's cookies of the session's name if none could open on its header
    /// alone (malformed, an unknown key, outside the hour window), without opening any: the
    /// tower-sessions bridge's rule for a session no handler loaded, as tower-sessions deletes
    /// a cookie that is not an id. A well-formed cookie is left as it is.
    #[cfg(feature = "tower-sessions")]
    pub(crate) fn discard_unreadable(&self) {
        let shared = &*self.shared;
        let settings = &*shared.settings;
        let mut state = shared.lock();
        if state.loaded.is_some() || state.phase != Phase::Open || state.outside_path {
            return;
        }
        let now = state.now(settings);
        let name = settings.config.cookie_name();
        let mut values = cookies::values(&shared.cookies, name).peekable();
        let chunks =
            settings.config.max_chunks() > 1 && open::chunks_seen(&shared.cookies, name) != 0;
        if values.peek().is_none() && !chunks {
            return;
        }
        let ring = settings.codec.ring().view();
        let readable = values.any(|value| {
            settings
                .codec
                .check_first_chunk(&ring, value, now, &settings.schema)
                .is_ok()
        });
        if !readable {
            drop(state);
            let _ = self.destroy();
        }
    }

    /// Whether this is a new session (no valid cookie came with the request).
    #[must_use]
    pub fn is_new(&self) -> bool {
        !self.with_loaded(|loaded| loaded.from_cookie)
    }

    /// The engine's settings, shared.
    pub(crate) fn settings(&self) -> Arc<Settings<T>> {
        Arc::clone(&self.shared.settings)
    }

    /// The configuration of the engine that made this session.
    #[must_use]
    pub fn config(&self) -> &SessionConfig {
        &self.shared.settings.config
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A request's `Cookie` header, for sessions built without a server.
    pub(crate) struct Header(pub(crate) String);

    impl CookieFields for Header {
        fn field(&self, index: usize) -> Option<&[u8]> {
            (index == 0).then_some(self.0.as_bytes())
        }
    }
}
