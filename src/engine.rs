//! The engine: [`Sessions<T>`], the framework-neutral entry points every adapter calls.
//!
//! An adapter's whole job is header plumbing: at the start of a request it hands
//! [`Sessions::begin`] the raw `Cookie` header values and the path the browser sent, and puts
//! the [`Session`] where handlers find it; when the response is ready it calls
//! [`Session::finish`] and writes what the [`Outcome`] says. Every rule (which cookies form the
//! session, what the response sends, the `Cache-Control` of a response that carries a session,
//! a handler's own cookie of the session's name, what is logged) is decided here or below,
//! once, so every adapter behaves alike.

use core::fmt;
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "test-util")]
use crate::codec::Opened;
use crate::codec::{self, Migrations, Schema, SessionMeta, WireFormat};
use crate::config::{CacheControl, SessionConfig};
use crate::cookies::{self, CookieFields};
#[cfg(feature = "test-util")]
use crate::error::OpenError;
use crate::error::{ConfigError, OpenErrorKind, SessionError};
use crate::ring::KeyRing;
use crate::session::{Clock, ConfigSource, Finished, Found, Session, SessionData, Settings};

/// The `tracing` target of the events about refused cookies.
pub const OPEN_EVENT_TARGET: &str = "sealed_session::open";

/// The target of events about sessions that could not be saved, and handler cookies dropped.
const SEAL_EVENT_TARGET: &str = "sealed_session::seal";

/// The target of the event logged for each session opened from another schema version than
/// the one written (count them to see when an old version can be dropped).
const MIGRATE_EVENT_TARGET: &str = "sealed_session::migrate";

/// The target of the event saying a lifetime was capped by the configuration's maxima.
const LIFETIME_EVENT_TARGET: &str = "sealed_session::lifetime";

/// Sealed sessions of type `T` under one key ring and configuration: what every adapter
/// (the tower layer, the axum extractor, the tower-sessions bridge, your own) is a thin
/// shell around.
///
/// Build it once; cloning is cheap and every clone shares the ring (rotate it through any
/// clone). For each request, [`begin`](Self::begin) gives the [`Session`] that handlers use,
/// and [`Session::finish`] the [`Outcome`] the response carries. No HTTP crate appears in its
/// signatures: `Cookie` header values go in as bytes, `Set-Cookie` values come out as text.
///
/// # Example: an adapter for any framework
///
/// ```
/// use sealed_session::{Algorithm, Key, KeyRing, SessionConfig, Sessions};
///
/// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// struct Visits { count: u32 }
///
/// let sessions = Sessions::<Visits>::new(
///     KeyRing::new(Key::generate(Algorithm::Aes256Gcm)),
///     SessionConfig::default(),
/// );
///
/// // A request without a cookie: the handler counts a visit.
/// let session = sessions.begin(Vec::<Vec<u8>>::new(), "/");
/// session.update(|v| v.count += 1)?;
/// let outcome = session.finish(false);
/// let set_cookie: Vec<&str> = outcome.set_cookies().collect();
/// assert_eq!(set_cookie.len(), 1);
/// assert_eq!(outcome.cache_control(None).as_deref(), Some("no-store"));
///
/// // The browser sends the cookie back.
/// let pair = set_cookie[0].split(';').next().unwrap_or_default().to_owned();
/// let session = sessions.begin(pair, "/");
/// assert_eq!(session.get().count, 1);
/// # Ok::<(), sealed_session::SessionError>(())
/// ```
pub struct Sessions<T> {
    settings: Arc<Settings<T>>,
}

impl<T: SessionData> Sessions<T> {
    /// Sessions sealed with `ring` under `config`.
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
        let binding = type_binding::<T>(&config);
        if binding.is_none() && config.write_format() == WireFormat::V3Only {
            tracing::warn!(
                target: "sealed_session",
                session_type = core::any::type_name::<T>(),
                "write_format(WireFormat::V3Only) has no effect for this type: it is written in format v2, whose cookies must keep opening; set SessionConfigBuilder::type_context"
            );
        }
        Self {
            settings: Arc::new(Settings::new(ring, config, binding)),
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
        self,
        migrations: Migrations<T, Next>,
    ) -> Result<Self, ConfigError> {
        let config = &self.settings.config;
        let schema = Schema::with_migrations(
            config.schema_version(),
            self.settings.schema.binding(),
            config.write_format(),
            migrations,
        )?;
        Ok(self.with_settings(|settings| settings.schema = Arc::new(schema)))
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
    /// # use sealed_session::{Algorithm, Key, KeyRing, SessionConfig, Sessions};
    /// #[derive(Default, serde::Serialize, serde::Deserialize)]
    /// struct Login { user: Option<u64>, epoch: u32 }
    ///
    /// // The current epoch of each user, bumped on a password change.
    /// let epochs: Arc<RwLock<HashMap<u64, u32>>> = Arc::default();
    /// let current = Arc::clone(&epochs);
    /// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
    /// let sessions = Sessions::<Login>::new(ring, SessionConfig::default())
    ///     .with_revocation_check(move |_meta, login| match login.user {
    ///         None => true,
    ///         Some(user) => current.read().map_or(false, |epochs| {
    ///             epochs.get(&user).copied().unwrap_or(0) == login.epoch
    ///         }),
    ///     });
    /// # drop(sessions);
    /// ```
    #[must_use]
    pub fn with_revocation_check(
        self,
        is_valid: impl Fn(&SessionMeta, &T) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.with_settings(|settings| settings.validator = Some(Arc::new(is_valid)))
    }

    /// The session of one request, from its `Cookie` header values (as bytes: one value, or
    /// one per field when a request, such as an HTTP/2 one, sends several) and the request's
    /// path as the browser sent it (before any prefix was stripped by a router: the cookie's
    /// `Path` is matched against it).
    ///
    /// Nothing is parsed or opened until a handler touches the session (except with
    /// [`Rolling::EveryRequest`](crate::Rolling::EveryRequest), which refreshes every
    /// session). End the request with [`Session::finish`] (or [`Session::abandon`] when there
    /// is no response).
    #[must_use]
    pub fn begin(&self, cookies: impl CookieFields + 'static, request_path: &str) -> Session<T> {
        Session::new(Arc::clone(&self.settings), cookies, request_path)
    }

    /// Opens `cookies` (`Cookie` header values) as a request would, at the engine's current
    /// time, saying why they were refused (for the test kit).
    #[cfg(feature = "test-util")]
    pub(crate) fn open_cookies(
        &self,
        cookies: &dyn CookieFields,
    ) -> Result<Option<Opened<T>>, OpenError> {
        self.settings.open_cookies(cookies)
    }
}

impl<T> Sessions<T> {
    /// Reads the time from `clock` (a closure, or any [`Clock`]) instead of the system clock:
    /// for tests and simulations that need expiry and refresh without waiting.
    ///
    /// ```
    /// # use std::time::{Duration, SystemTime};
    /// # use sealed_session::{Algorithm, Key, KeyRing, SessionConfig, Sessions};
    /// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
    /// let tomorrow = SystemTime::now() + Duration::from_secs(86_400);
    /// let sessions = Sessions::<u32>::new(ring, SessionConfig::default())
    ///     .with_clock(move || tomorrow);
    /// # drop(sessions);
    /// ```
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        self.with_settings(|settings| settings.clock = Some(Arc::new(clock)))
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SessionConfig {
        &self.settings.config
    }

    /// The engine's current time in Unix seconds (its clock, or the system clock).
    #[cfg(feature = "test-util")]
    pub(crate) fn now(&self) -> u64 {
        self.settings.now()
    }

    /// The key ring; rotating it (through any clone) takes effect on the next request.
    #[must_use]
    pub fn ring(&self) -> &KeyRing {
        self.settings.codec.ring()
    }

    fn with_settings(mut self, change: impl FnOnce(&mut Settings<T>)) -> Self {
        let mut settings = Settings::clone(&self.settings);
        change(&mut settings);
        self.settings = Arc::new(settings);
        self
    }
}

impl<T> AsRef<Self> for Sessions<T> {
    fn as_ref(&self) -> &Self {
        self
    }
}

impl<T> Clone for Sessions<T> {
    fn clone(&self) -> Self {
        Self {
            settings: Arc::clone(&self.settings),
        }
    }
}

impl<T> fmt::Debug for Sessions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("config", &self.settings.config)
            .field("ring", self.ring())
            .finish()
    }
}

impl<T: SessionData> Session<T> {
    /// Ends the request: decides what the response carries, and logs what the request's
    /// cookies and the seal gave (at most one event about the cookies a client sent, never
    /// above `info` but for the rate-limited `warn` of a server-side refusal, SECURITY-TESTS
    /// F5). Later calls get an empty outcome, and later changes
    /// [`SessionError::ResponseSent`](crate::SessionError::ResponseSent).
    ///
    /// `server_error`: the response has a 5xx status (or the handler failed in a way the
    /// framework answers with one): changes are not saved, as tower-sessions and Django do;
    /// deletions still happen.
    #[must_use = "the outcome's Set-Cookie values must be written to the response"]
    pub fn finish(&self, server_error: bool) -> Outcome {
        let finished = self.conclude(server_error);
        let settings = self.settings();
        log(&finished, || settings.now());
        COOKIES_COME_BACK.note(&finished, &settings.config);
        Outcome {
            finished,
            config: settings,
        }
    }
}

/// What a response must carry for its session: the `Set-Cookie` values, the `Cache-Control`
/// to apply, and which of the handler's own `Set-Cookie` lines to drop. From
/// [`Session::finish`].
///
/// (No `Debug`: its lines carry the sealed cookie.)
pub struct Outcome {
    finished: Finished,
    /// The engine's settings (for the configuration the rules read).
    config: Arc<dyn ConfigSource>,
}

impl Outcome {
    /// The `Set-Cookie` header values to append, in order (the session, its chunks, deletions
    /// of stale chunks); none when the response leaves the browser's cookie as it is.
    pub fn set_cookies(&self) -> impl Iterator<Item = &str> {
        self.set_cookie_bytes()
            .filter_map(|line| core::str::from_utf8(line).ok())
    }

    /// The `Set-Cookie` header values, owned (no copy).
    pub fn into_set_cookies(self) -> impl Iterator<Item = String> {
        self.into_set_cookie_bytes()
            .filter_map(|line| String::from_utf8(line).ok())
    }

    /// [`set_cookies`](Self::set_cookies) as bytes (ASCII by construction), for adapters
    /// whose header values take bytes.
    pub(crate) fn set_cookie_bytes(&self) -> impl Iterator<Item = &[u8]> {
        self.finished.lines.iter()
    }

    /// [`into_set_cookies`](Self::into_set_cookies) as bytes, owned.
    pub(crate) fn into_set_cookie_bytes(self) -> impl Iterator<Item = Vec<u8>> {
        self.finished.lines.into_iter()
    }

    /// Whether the response carries no `Set-Cookie` for the session.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.finished.lines.is_empty()
    }

    /// The `Cache-Control` value the response must carry instead of the handler's
    /// (`handler`: its `Cache-Control` values joined with `, `, or `None` without one), or
    /// `None` to leave it as it is.
    ///
    /// SECURITY-TESTS F2: a response that carries a session cookie must not be stored by a
    /// shared cache (RFC 9111 §5.2.2.5, §5.2.2.7). `no-store` and an unqualified `private`
    /// already ensure it; otherwise `public` and `s-maxage` go, `private` is added, and the
    /// rest (`max-age` for the browser's own cache, say) is kept. Without a `Cache-Control`
    /// the response gets `no-store`. With [`CacheControl::Untouched`] it is left to the
    /// application.
    #[must_use]
    pub fn cache_control(&self, handler: Option<&str>) -> Option<Cow<'static, str>> {
        if self.is_empty() || self.config.config().cache_control() != CacheControl::NoStoreUnlessSet
        {
            return None;
        }
        let Some(handler) = handler else {
            return Some(Cow::Borrowed("no-store"));
        };
        if !handler
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
        {
            // Not visible ASCII: not a Cache-Control a cache can obey; replace it.
            return Some(Cow::Borrowed("private"));
        }
        let directives = handler.split(',').map(str::trim).filter(|d| !d.is_empty());
        let safe = directives
            .clone()
            .any(|d| d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("private"));
        if safe {
            return None;
        }
        let shared_only = |directive: &&str| {
            let name = directive.split('=').next().unwrap_or_default().trim();
            ["public", "s-maxage", "private"]
                .iter()
                .any(|shared| name.eq_ignore_ascii_case(shared))
        };
        let mut value = String::from("private");
        for directive in directives.filter(|d| !shared_only(d)) {
            value.push_str(", ");
            value.push_str(directive);
        }
        Some(Cow::Owned(value))
    }

    /// [`cache_control`](Self::cache_control) for the handler's `Cache-Control` values as an
    /// adapter holds them (bytes; a value that is not text is replaced as unreadable).
    #[cfg(feature = "tower")]
    pub(crate) fn cache_control_of<'v>(
        &self,
        handler: impl IntoIterator<Item = &'v [u8]>,
    ) -> Option<Cow<'static, str>> {
        let mut values = handler.into_iter();
        let text = |value: &'v [u8]| core::str::from_utf8(value).unwrap_or("\u{7f}");
        let Some(first) = values.next() else {
            return self.cache_control(None);
        };
        let Some(second) = values.next() else {
            return self.cache_control(Some(text(first)));
        };
        let mut all = format!("{}, {}", text(first), text(second));
        for value in values {
            all.push_str(", ");
            all.push_str(text(value));
        }
        self.cache_control(Some(&all))
    }

    /// Which of the handler's own `Set-Cookie` lines to keep: `None` to keep them all (the
    /// common case, decided without a copy), otherwise those that do not set the session's
    /// cookie (see [`owns_handler_cookie`](Self::owns_handler_cookie)).
    #[cfg(feature = "tower")]
    pub(crate) fn kept_handler_cookies<V: AsRef<[u8]>>(
        &self,
        lines: impl IntoIterator<Item = V> + Clone,
    ) -> Option<Vec<V>> {
        if !lines
            .clone()
            .into_iter()
            .any(|line| self.is_session_cookie(line.as_ref()))
        {
            return None;
        }
        Some(
            lines
                .into_iter()
                .filter(|line| !self.owns_handler_cookie(line.as_ref()))
                .collect(),
        )
    }

    /// Whether a `Set-Cookie` line the handler wrote sets the session's own cookie (or, with
    /// chunking, one of its chunks): the adapter drops it, since it would race the session's
    /// line or resurrect a deleted session (SECURITY-TESTS F8). Logs a warning when it does:
    /// a programming error, not something a client can cause.
    #[must_use]
    pub fn owns_handler_cookie(&self, set_cookie: &[u8]) -> bool {
        let ours = self.is_session_cookie(set_cookie);
        if ours {
            tracing::warn!(
                target: SEAL_EVENT_TARGET,
                cookie = self.config.config().cookie_name(),
                "the handler set the session's own cookie; its Set-Cookie was dropped (use the Session)"
            );
        }
        ours
    }

    /// Whether a `Set-Cookie` line sets the session's cookie or one of its chunks.
    pub(crate) fn is_session_cookie(&self, set_cookie: &[u8]) -> bool {
        let config = self.config.config();
        let cookie = cookies::set_cookie_name(set_cookie);
        match cookies::chunk_index(cookie, config.cookie_name()) {
            Some(0) => true,
            Some(_) => config.max_chunks() > 1,
            None => false,
        }
    }
}

/// The binding of `T`'s sessions: the configured context's, else the traced shape's; `None`
/// (format v2 is written, with a warning) for a type whose shape cannot be traced.
fn type_binding<T: SessionData>(config: &SessionConfig) -> Option<u32> {
    if let Some(context) = config.type_context() {
        return Some(codec::binding_of_context(context));
    }
    match codec::binding_of::<T>() {
        Ok(binding) => Some(binding),
        Err(why) => {
            tracing::warn!(
                target: "sealed_session",
                session_type = core::any::type_name::<T>(),
                %why,
                "the session type's shape cannot be traced, so its cookies are not bound to it (format v2 is written): set SessionConfigBuilder::type_context"
            );
            None
        }
    }
}

/// The request's events: what its cookies gave (at most one, never above `info` but for the
/// rate-limited `warn` of [`log_found`]), a migration, a capped lifetime, a session that could
/// not be saved.
fn log(finished: &Finished, now: impl FnOnce() -> u64) {
    log_found(finished.found, now);
    // A migrated cookie whose re-seal failed was not converted: the seal's event below says so
    // (one event, not two: SECURITY.md's boundary table).
    if let (Some((from, to)), None) = (finished.found.migrated, &finished.seal_error) {
        tracing::info!(
            target: MIGRATE_EVENT_TARGET,
            %from,
            %to,
            "session sealed as another type or format than the one written: converted and re-sealed"
        );
    }
    if finished.capped {
        tracing::debug!(
            target: LIFETIME_EVENT_TARGET,
            "a session lifetime was capped by the configuration's maxima; raise SessionConfigBuilder::idle_timeout and max_lifetime to allow it"
        );
    }
    if let Some(error) = &finished.seal_error {
        if finished.reseal_only {
            // The client's own valid cookie under a configuration changed since (compression
            // or chunking turned off, a smaller limit): nothing a client sends logs above
            // `info` (SECURITY-TESTS F5, H3), and the cookie stays as it was sent.
            tracing::info!(target: SEAL_EVENT_TARGET, %error, "session cookie not re-sealed (refresh, key upgrade or migration): it no longer fits the configuration, and is kept as sent");
        } else {
            tracing::error!(target: SEAL_EVENT_TARGET, %error, "session not saved");
        }
    }
}

/// SECURITY-TESTS F5: at most one event per request about the cookies it carried, and never
/// above `info`: a client can send any cookies it likes, and must not fill the logs. The one
/// exception is a refusal that ends sessions for a server-side reason ([`server_side`]): a
/// `warn` naming the fix, at most once per reason per minute (the rest stay at `info`), so that
/// a production `WARN` filter shows a mass logout and a client can add at most one line per
/// reason a minute (six in all).
fn log_found(found: Found, now: impl FnOnce() -> u64) {
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
    if let Some((slot, fix)) = server_side(reason, found.first_by_check) {
        if let Some(suppressed) = WARNINGS.claim(slot, now()) {
            tracing::warn!(target: OPEN_EVENT_TARGET, reason = reason.as_str(), key_id, refused = found.refused, suppressed, fix, "session cookie refused: existing sessions end (logged once a minute per reason)");
        } else {
            // Between the warnings, still naming the fix (the event a `debug` or `info` filter
            // shows).
            tracing::info!(target: OPEN_EVENT_TARGET, reason = reason.as_str(), key_id, refused = found.refused, fix, "session cookie refused");
        }
        return;
    }
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

/// The refusals that end users' existing sessions for a reason on the server's side (a deploy
/// changed the session type or the ring, a revocation): their slot in [`WARNINGS`] and the fix
/// the warning names. `None` for what a client's own input causes (tampering, garbage,
/// expiry) and for the application's own revocation check (routine).
fn server_side(reason: OpenErrorKind, by_check: bool) -> Option<(usize, &'static str)> {
    let fix = match reason {
        OpenErrorKind::Payload => {
            "an authentic cookie does not decode as the session type: its fields changed without a migration; register the old type with Migrations::from (see the README's \"Changing the session type\")"
        }
        OpenErrorKind::WrongType => {
            "an authentic cookie was sealed for another session type: register the old type with Migrations::from::<Old>(), or give each application sharing the key ring its own cookie name or type context"
        }
        OpenErrorKind::UnknownSchema => {
            "the cookie's schema version is not registered: register it with Migrations::from_version (a rollback needs the new version registered too)"
        }
        OpenErrorKind::UnknownKey => {
            "no key in the ring has the cookie's key id: after a deploy or rotation, keep the previous keys in the ring (accept-only) until the session lifetime has passed; a client can also send such a cookie"
        }
        OpenErrorKind::KeyRevoked => {
            "the cookie's key is revoked in the ring: expected after revoking a key; otherwise remove the word revoked from that key's line in the ring file"
        }
        OpenErrorKind::SessionRevoked if !by_check => {
            "the session was created before the ring's not-before time: expected after logging everyone out; otherwise remove or move back the ring file's not-before= line"
        }
        _ => return None,
    };
    let slot = match reason {
        OpenErrorKind::Payload => 0,
        OpenErrorKind::WrongType => 1,
        OpenErrorKind::UnknownSchema => 2,
        OpenErrorKind::UnknownKey => 3,
        OpenErrorKind::KeyRevoked => 4,
        _ => 5,
    };
    Some((slot, fix))
}

/// The process's rate limit of [`server_side`] warnings: once per reason per minute.
static WARNINGS: Warnings = Warnings::new();

/// Per reason: when its warning was last logged (Unix seconds + 1; 0 for never), and how many
/// refusals of it were not warned about since.
struct Warnings {
    last: [AtomicU64; 6],
    suppressed: [AtomicU64; 6],
}

impl Warnings {
    /// The interval between two warnings of one reason.
    const INTERVAL_SECS: u64 = 60;

    const fn new() -> Self {
        Self {
            last: [const { AtomicU64::new(0) }; 6],
            suppressed: [const { AtomicU64::new(0) }; 6],
        }
    }

    /// Whether a warning of `slot` may be logged at `now`: if so, the refusals suppressed since
    /// the last one; otherwise `None`, and this one is counted.
    fn claim(&self, slot: usize, now: u64) -> Option<u64> {
        let (last, suppressed) = (self.last.get(slot)?, self.suppressed.get(slot)?);
        let previous = last.load(Ordering::Relaxed);
        // A clock that went back (another engine's test clock) starts a new interval too.
        let due = previous == 0
            || now.saturating_add(1) < previous
            || now.saturating_add(1) >= previous.saturating_add(Self::INTERVAL_SECS);
        if due
            && last
                .compare_exchange(
                    previous,
                    now.saturating_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            return Some(suppressed.swap(0, Ordering::Relaxed));
        }
        suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

/// Issue 19 F11: over plain `http://` on a host other than localhost, the browser drops the
/// `Secure` session cookie, so sessions never stick and nothing says why. The engine cannot see
/// the scheme (behind a TLS proxy, plain http to the server is normal) nor tell clients apart,
/// but it can see the symptom: responses keep setting a new session cookie, and no request ever
/// sends one back. After [`CookiesComeBack::WARN_AFTER`] such responses, with no request of the
/// process having carried a session cookie, one `warn` says so and how to fix it; the first
/// request that carries one disarms it for good. Process-wide, so a client can cause at most
/// one line.
static COOKIES_COME_BACK: CookiesComeBack = CookiesComeBack(AtomicU64::new(0));

/// Responses that set a new session cookie while no request has sent one back, or `u64::MAX`
/// once a request did (or the warning was logged).
struct CookiesComeBack(AtomicU64);

impl CookiesComeBack {
    const WARN_AFTER: u64 = 10;

    fn note(&self, finished: &Finished, config: &SessionConfig) {
        if finished.found.cookies > 0 {
            self.0.store(u64::MAX, Ordering::Relaxed);
            return;
        }
        if finished.lines.is_empty() || finished.found.chunks_seen != 0 || config.is_insecure_http()
        {
            return;
        }
        let counted = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                // `u64::MAX` (disarmed) must not be incremented.
                if n < Self::WARN_AFTER {
                    Some(n + 1)
                } else {
                    None
                }
            });
        if counted == Ok(Self::WARN_AFTER - 1) {
            self.0.store(u64::MAX, Ordering::Relaxed);
            tracing::warn!(
                target: "sealed_session",
                cookie = config.cookie_name(),
                responses = Self::WARN_AFTER,
                "session cookies are set but never sent back: if browsers reach this server over plain http on a host other than localhost, they drop the Secure cookie; serve https, use localhost, or in development turn on SessionConfigBuilder::insecure_http(true) (clients without a cookie jar, such as curl, look the same)"
            );
        }
    }
}

impl SessionError {
    /// The answer an adapter gives for this error, as a response of its framework: the
    /// [`status_code`](Self::status_code) and the [`response_body`](Self::response_body),
    /// after one `error` event (target `sealed_session::seal`) with the details when the
    /// server, not the client, caused it. Every adapter answers through it, so that all of
    /// them answer alike (`413` naming the limit, `400` for a conflict, `500` otherwise).
    ///
    /// ```
    /// use sealed_session::SessionError;
    ///
    /// let (status, body) = SessionError::TooLarge { size: 5000, limit: 4096 }.respond();
    /// assert_eq!(status, 413);
    /// assert!(body.contains("4096"));
    /// ```
    #[must_use]
    pub fn respond(&self) -> (u16, Cow<'static, str>) {
        if !self.is_client_caused() {
            tracing::error!(target: SEAL_EVENT_TARGET, error = %self, "session change failed");
        }
        (self.status_code(), self.response_body())
    }
}

/// The constructors and accessors of an adapter's middleware type around its `Sessions<T>`
/// (a struct `$wrapper<T> { sessions: Sessions<T> }`): `new`, `with_migrations`,
/// `with_revocation_check`, `with_clock`, `config`, `ring`, `sessions`, and `From`, `AsRef`,
/// `Clone`, `Debug`. One definition for [`SessionLayer`](crate::SessionLayer) and actix's
/// `SessionMiddleware`, so that they cannot drift apart: each call forwards to the engine.
/// `$path` is the type's path from outside the crate (for the examples in its docs).
#[cfg(any(feature = "tower", feature = "actix"))]
macro_rules! sessions_wrapper {
    ($wrapper:ident, $noun:literal, $path:literal) => {
        impl<T: $crate::session::SessionData> $wrapper<T> {
            #[doc = concat!("A ", $noun, " sealing with `ring` under `config` (the same as")]
            #[doc = concat!("`", stringify!($wrapper), "::from(Sessions::new(ring, config))`).")]
            ///
            /// Logs a warning (target `sealed_session`) when `config` has the development-only
            /// [`insecure_http`](crate::SessionConfigBuilder::insecure_http) switch on.
            #[must_use]
            pub fn new(ring: $crate::ring::KeyRing, config: $crate::config::SessionConfig) -> Self {
                Self::from($crate::engine::Sessions::new(ring, config))
            }

            /// Reads sessions sealed as the registered older schema versions too (see
            /// [`Sessions::with_migrations`](crate::Sessions::with_migrations)).
            ///
            /// # Errors
            ///
            /// [`ConfigError::Migration`](crate::ConfigError::Migration) if a version is
            /// registered twice or as the configuration's current `schema_version`, or
            /// `write_as` names a version that is not registered.
            pub fn with_migrations<Next>(
                self,
                migrations: $crate::codec::Migrations<T, Next>,
            ) -> Result<Self, $crate::error::ConfigError> {
                self.sessions.with_migrations(migrations).map(Self::from)
            }

            /// Refuses live, authentic sessions for which `is_valid` returns `false` (see
            /// [`Sessions::with_revocation_check`](crate::Sessions::with_revocation_check),
            /// which shows an example).
            #[must_use]
            pub fn with_revocation_check(
                self,
                is_valid: impl Fn(&$crate::codec::SessionMeta, &T) -> bool + Send + Sync + 'static,
            ) -> Self {
                Self::from(self.sessions.with_revocation_check(is_valid))
            }
        }

        impl<T> $wrapper<T> {
            /// Reads the time from `clock` (a closure, or any [`Clock`](crate::Clock)) instead
            /// of the system clock: for tests and simulations that need expiry and refresh
            /// without waiting.
            ///
            /// ```
            /// # use std::time::{Duration, SystemTime};
            /// # use sealed_session::{Algorithm, Key, KeyRing, SessionConfig};
            #[doc = concat!("use ", $path, ";")]
            ///
            /// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
            /// let tomorrow = SystemTime::now() + Duration::from_secs(86_400);
            #[doc = concat!("let wrapper = ", stringify!($wrapper), "::<u32>::new(ring, SessionConfig::default())")]
            ///     .with_clock(move || tomorrow);
            /// # drop(wrapper);
            /// ```
            #[must_use]
            pub fn with_clock(self, clock: impl $crate::session::Clock) -> Self {
                Self::from(self.sessions.with_clock(clock))
            }

            /// The configuration.
            #[must_use]
            pub fn config(&self) -> &$crate::config::SessionConfig {
                self.sessions.config()
            }

            /// The key ring; rotating it (through any clone) takes effect on the next request.
            #[must_use]
            pub fn ring(&self) -> &$crate::ring::KeyRing {
                self.sessions.ring()
            }

            #[doc = concat!("The engine this ", $noun, " calls.")]
            #[must_use]
            pub fn sessions(&self) -> &$crate::engine::Sessions<T> {
                &self.sessions
            }
        }

        impl<T> AsRef<$crate::engine::Sessions<T>> for $wrapper<T> {
            fn as_ref(&self) -> &$crate::engine::Sessions<T> {
                &self.sessions
            }
        }

        impl<T> From<$crate::engine::Sessions<T>> for $wrapper<T> {
            fn from(sessions: $crate::engine::Sessions<T>) -> Self {
                Self { sessions }
            }
        }

        impl<T> Clone for $wrapper<T> {
            fn clone(&self) -> Self {
                Self {
                    sessions: self.sessions.clone(),
                }
            }
        }

        impl<T> core::fmt::Debug for $wrapper<T> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($wrapper))
                    .field("config", self.config())
                    .field("ring", self.ring())
                    .finish()
            }
        }
    };
}
#[cfg(any(feature = "tower", feature = "actix"))]
pub(crate) use sessions_wrapper;

/// One of [`Outcome::cache_control`]'s fixed answers as an adapter's header value type:
/// `fixed_cache_control!(HeaderValue, value)`. The two fixed answers are constants, because
/// `from_static` checks each byte when it runs outside a constant (about 90 instructions for
/// `no-store`, on every response that carries the session's cookie).
#[cfg(any(feature = "tower", feature = "actix"))]
macro_rules! fixed_cache_control {
    ($header_value:ty, $value:expr) => {
        match $value {
            "no-store" => const { <$header_value>::from_static("no-store") },
            "private" => const { <$header_value>::from_static("private") },
            other => <$header_value>::from_static(other),
        }
    };
}
#[cfg(any(feature = "tower", feature = "actix"))]
pub(crate) use fixed_cache_control;
