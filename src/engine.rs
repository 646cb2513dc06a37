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
use crate::codec::{self, Migrations, Schema, SessionMeta};
use crate::config::{CacheControl, SessionConfig};
use crate::cookies::{self, CookieFields};
#[cfg(feature = "test-util")]
use crate::error::OpenError;
use crate::error::{ConfigError, OpenErrorKind};
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
    /// above `info` but for a `warn` at most once a minute about authentic cookies of another
    /// session type, SECURITY-TESTS F5). Later calls get an empty outcome, and later changes
    /// [`SessionError::ResponseSent`](crate::SessionError::ResponseSent).
    ///
    /// `server_error`: the response has a 5xx status (or the handler failed in a way the
    /// framework answers with one): changes are not saved, as tower-sessions and Django do;
    /// deletions still happen.
    #[must_use = "the outcome's Set-Cookie values must be written to the response"]
    pub fn finish(&self, server_error: bool) -> Outcome {
        let finished = self.conclude(server_error);
        log(&finished);
        Outcome {
            finished,
            config: self.settings(),
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
        self.finished.lines.iter()
    }

    /// The `Set-Cookie` header values, owned (no copy).
    pub fn into_set_cookies(self) -> impl Iterator<Item = String> {
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

/// The request's events: what its cookies gave (at most one, never above `info` but a rate-limited `wrong_type` warning), a
/// migration, a capped lifetime, a session that could not be saved.
fn log(finished: &Finished) {
    log_found(finished.found);
    if let Some((from, to)) = finished.found.migrated {
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
            tracing::info!(target: SEAL_EVENT_TARGET, %error, "session cookie not re-sealed (refresh or key upgrade): it no longer fits the configuration, and is kept as sent");
        } else {
            tracing::error!(target: SEAL_EVENT_TARGET, %error, "session not saved");
        }
    }
}

/// What a `wrong_type` refusal says: what happened and the two fixes.
const WRONG_TYPE_FIX: &str = "session cookie refused: sealed for another session type (its shape or type context differs from this one's); if the session type changed, register the old type with `Migrations::from::<Old>()`; if another app shares this key ring and cookie name, give each app its own cookie name or key ring";

/// When the last `warn` about a `wrong_type` refusal was logged (Unix seconds; 0: never).
static WRONG_TYPE_WARNED: AtomicU64 = AtomicU64::new(0);

/// Whether a rate-limited `warn` is due (at most one a minute per reason), and if so marks it
/// logged now.
fn warn_due(last: &AtomicU64) -> bool {
    const PERIOD_SECS: u64 = 60;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let before = last.load(Ordering::Relaxed);
    if before != 0 && now < before.saturating_add(PERIOD_SECS) {
        return false;
    }
    // One thread wins the minute; the others log at `info`.
    last.compare_exchange(before, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
}

/// SECURITY-TESTS F5: at most one event per request about the cookies it carried, and never
/// above `info`: a client can send any cookies it likes, and must not fill the logs. The one
/// exception is an authentic cookie of another session type (issue 19 F2): `warn`, at most
/// once a minute.
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
        // Only an authentic cookie is refused with this kind (it is decided after the AEAD):
        // the server's type or configuration changed, or two apps share a ring and a name.
        // That ends sessions for a server-side reason, so operators must see it: `warn`, at
        // most once a minute (a client replaying such a cookie cannot fill the logs), `info`
        // in between; both name the fix.
        OpenErrorKind::WrongType if warn_due(&WRONG_TYPE_WARNED) => {
            tracing::warn!(target: OPEN_EVENT_TARGET, reason = reason.as_str(), key_id, refused = found.refused, "{WRONG_TYPE_FIX}");
        }
        OpenErrorKind::WrongType => {
            tracing::info!(target: OPEN_EVENT_TARGET, reason = reason.as_str(), key_id, refused = found.refused, "{WRONG_TYPE_FIX}");
        }
        // Routine: browsers keep cookies a little past the server-side expiry.
        OpenErrorKind::Expired | OpenErrorKind::OutsideWindow => {
            tracing::debug!(target: OPEN_EVENT_TARGET, reason = reason.as_str(), key_id, refused = found.refused, "session cookie refused");
        }
        _ => {
            tracing::info!(target: OPEN_EVENT_TARGET, reason = reason.as_str(), key_id, refused = found.refused, "session cookie refused");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limited_warning_is_due_once_a_minute() {
        let last = AtomicU64::new(0);
        assert!(warn_due(&last), "the first is due");
        assert!(!warn_due(&last), "not again within the minute");
        let logged = last.load(Ordering::Relaxed);
        last.store(logged - 59, Ordering::Relaxed);
        assert!(!warn_due(&last), "59 s later");
        last.store(logged - 60, Ordering::Relaxed);
        assert!(warn_due(&last), "60 s later");
        assert!(!warn_due(&last));
    }

    #[test]
    fn the_wrong_type_event_names_both_fixes() {
        assert!(WRONG_TYPE_FIX.contains("Migrations::from::<Old>()"));
        assert!(WRONG_TYPE_FIX.contains("own cookie name or key ring"));
    }
}
