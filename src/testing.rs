//! A test kit for your own handlers (feature `test-util`): put a live session into a test
//! request, read what a response did to it, and move time.
//!
//! - [`MockClock`]: Unix seconds that a test sets and advances; give it to `with_clock` of
//!   [`SessionLayer`](crate::SessionLayer), [`Sessions`] or
//!   [`TowerSessionsLayer`](crate::TowerSessionsLayer), and expiry needs no sleeping.
//! - [`TestSessions`], made from the layer (or engine) the application uses, so it shares its
//!   key ring, configuration, migrations and clock: [`cookie_header`](TestSessions::cookie_header)
//!   gives the `Cookie` header of a live session holding a value (sealed by the same code as
//!   a response's), [`session`](TestSessions::session) one with a chosen lifetime, flash
//!   messages or age, and [`read`](TestSessions::read) what a response sent: [`Sent`].
//! - [`BrowserCookie`]: the session as WebDriver's "add cookie" and Playwright's
//!   `addCookies` take it, so an end-to-end browser test starts logged in.
//! - With the `tower-sessions` feature, [`TestTowerSessions`] does the same for the
//!   tower-sessions bridge, with records of JSON values.
//!
//! It works with any client: the header values go into whatever request the test builds
//! (`tower::ServiceExt::oneshot` on an axum `Router`, hyper's client, reqwest, axum-test), and
//! [`read`](TestSessions::read) takes the response's [`HeaderMap`].
//!
//! Add the feature to your dev-dependencies only:
//!
//! ```toml
//! [dev-dependencies]
//! sealed-session = { version = "0.2", features = ["test-util"] }
//! ```
//!
//! # Example: an axum handler, through `oneshot`
//!
//! ```
//! # #[cfg(feature = "axum")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//!
//! use axum::{Router, body::Body, http::Request, routing::get};
//! use sealed_session::testing::{MockClock, Sent, TestSessions};
//! use sealed_session::{Algorithm, Key, KeyRing, Session, SessionConfig, SessionLayer};
//! use tower::ServiceExt as _;
//!
//! #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
//! struct App { user: Option<String>, visits: u32 }
//!
//! async fn visit(session: Session<App>) -> String {
//!     let visits = session.update(|app| { app.visits += 1; app.visits }).unwrap_or(0);
//!     format!("{} visit {visits}", session.get().user.as_deref().unwrap_or("nobody"))
//! }
//!
//! let clock = MockClock::new(1_764_000_000);
//! let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
//! let layer = SessionLayer::<App>::new(ring, SessionConfig::default()).with_clock(clock.clone());
//! let app = Router::new().route("/", get(visit)).layer(layer.clone());
//! let kit = TestSessions::new(&layer);
//!
//! // A logged-in request, without logging in.
//! let ann = App { user: Some("ann".into()), visits: 0 };
//! let request = Request::get("/").header("cookie", kit.cookie_header(&ann)).body(Body::empty())?;
//! let response = app.clone().oneshot(request).await?;
//! match kit.read(response.headers())? {
//!     Sent::Session(opened) => assert_eq!(opened.data.visits, 1),
//!     other => panic!("expected a session, got {other:?}"),
//! }
//!
//! // A week later the same cookie is refused: a fresh session, nobody's.
//! let cookie = kit.cookie_header(&ann);
//! clock.advance(Duration::from_secs(8 * 86_400));
//! let request = Request::get("/").header("cookie", cookie).body(Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(kit.assert_session(response.headers()).data.user, None);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "axum"))]
//! # fn main() {}
//! ```

mod clock;
#[cfg(feature = "tower-sessions")]
mod tower_sessions;

use core::fmt;
use std::time::{Duration, SystemTime};

use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue};
use serde::Serialize;

use crate::codec::{Lifetime, Opened};
use crate::cookies::{self, SameSite};
use crate::engine::Sessions;
use crate::error::{OpenError, OpenErrorKind, SessionError};
use crate::session::SessionData;

pub use self::clock::MockClock;
use self::clock::unix_secs;
#[cfg(feature = "tower-sessions")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower-sessions")))]
pub use self::tower_sessions::{TestTowerSessions, TowerSessionBuilder};

/// What a response did to the session, from [`TestSessions::read`].
#[non_exhaustive]
pub enum Sent<T> {
    /// No `Set-Cookie` for the session: the browser keeps the cookie it had (if any). A
    /// response that only deletes stale chunk cookies counts here too.
    Nothing,
    /// The session cookie is deleted (`Max-Age=0`).
    Deleted,
    /// A session is set (new, changed or refreshed), and here it is, opened at the kit's clock
    /// as the next request would open it: its data, id and creation time, lifetime, expiry and
    /// pending flash messages. A session split across several cookies is read whole.
    Session(Opened<T>),
}

impl<T> fmt::Debug for Sent<T> {
    /// As [`Opened`]'s: the data and the flash messages are left out (so `T` needs no
    /// `Debug`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nothing => f.write_str("Nothing"),
            Self::Deleted => f.write_str("Deleted"),
            Self::Session(opened) => f.debug_tuple("Session").field(opened).finish(),
        }
    }
}

impl<T> Sent<T> {
    /// The session the response set, if it set one.
    #[must_use]
    pub fn into_session(self) -> Option<Opened<T>> {
        match self {
            Self::Session(opened) => Some(opened),
            Self::Nothing | Self::Deleted => None,
        }
    }

    /// Whether the response sets no cookie of the session.
    #[must_use]
    pub fn is_nothing(&self) -> bool {
        matches!(self, Self::Nothing)
    }

    /// Whether the response deletes the session cookie.
    #[must_use]
    pub fn is_deleted(&self) -> bool {
        matches!(self, Self::Deleted)
    }

    #[cfg(feature = "tower-sessions")]
    fn map<U>(self, f: impl FnOnce(Opened<T>) -> Opened<U>) -> Sent<U> {
        match self {
            Self::Nothing => Sent::Nothing,
            Self::Deleted => Sent::Deleted,
            Self::Session(opened) => Sent::Session(f(opened)),
        }
    }
}

/// Sessions for tests: made from the application's own layer or engine, so a cookie it makes
/// opens in the application and a response's cookie opens here.
///
/// It shares the key ring (rotations included), the configuration (cookie name, attributes,
/// lifetimes, size limit, chunking and compression), the migrations, the revocation check and
/// the clock. Cookies are sealed the way a response seals them, by the engine itself: a value
/// too large for the configured cookie is the same [`SessionError::TooLarge`] a handler would
/// get, and a configuration with chunking gives a session split across several cookies when
/// it needs them (the `Cookie` header carries them all).
///
/// ```
/// use sealed_session::testing::{Sent, TestSessions};
/// use sealed_session::{Algorithm, Key, KeyRing, SessionConfig, Sessions};
///
/// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// struct App { user: Option<String> }
///
/// let ring = KeyRing::new(Key::generate(Algorithm::XChaCha20Poly1305));
/// let sessions = Sessions::<App>::new(ring, SessionConfig::default());
/// let kit = TestSessions::new(&sessions);
///
/// let header = kit.cookie_header(&App { user: Some("ann".into()) });
/// assert!(header.to_str()?.starts_with("__Host-session="));
///
/// // A handler (here the engine itself) logs the user out: the response deletes the cookie.
/// let session = sessions.begin(header.to_str()?.to_owned(), "/");
/// assert_eq!(session.get().user.as_deref(), Some("ann"));
/// session.destroy()?;
/// let mut response = http::HeaderMap::new();
/// for line in session.finish(false).into_set_cookies() {
///     response.append("set-cookie", line.parse()?);
/// }
/// assert!(kit.read(&response)?.is_deleted());
/// kit.assert_deleted(&response);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TestSessions<T> {
    sessions: Sessions<T>,
}

impl<T> Clone for TestSessions<T> {
    fn clone(&self) -> Self {
        Self {
            sessions: self.sessions.clone(),
        }
    }
}

impl<T> fmt::Debug for TestSessions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestSessions")
            .field("sessions", &self.sessions)
            .finish()
    }
}

impl<T: SessionData> TestSessions<T> {
    /// A kit for the sessions of `engine`: a [`SessionLayer`](crate::SessionLayer) or a [`Sessions`] (by
    /// reference or by value).
    #[must_use]
    pub fn new(engine: impl AsRef<Sessions<T>>) -> Self {
        Self {
            sessions: engine.as_ref().clone(),
        }
    }

    /// A session holding `data`, to seal with a chosen lifetime, flash messages or age.
    #[must_use]
    pub fn session(&self, data: T) -> SessionBuilder<'_, T> {
        SessionBuilder {
            kit: self,
            data,
            lifetime: None,
            flash: Vec::new(),
            created_ago: Duration::ZERO,
            sealed_ago: Duration::ZERO,
        }
    }

    /// The `Cookie` header value of a live session holding `data`, sealed now (by the kit's
    /// clock) with the configuration's default lifetime.
    ///
    /// # Panics
    ///
    /// If the session cannot be sealed (too large for the configured cookies, or a value that
    /// does not round-trip): [`try_cookie_header`](Self::try_cookie_header) returns the error.
    #[must_use]
    pub fn cookie_header(&self, data: &T) -> HeaderValue
    where
        T: Clone,
    {
        self.session(data.clone()).cookie_header()
    }

    /// The `Cookie` header value of a live session holding `data`.
    ///
    /// # Errors
    ///
    /// What [`Session::set`](crate::Session::set) would return for `data`:
    /// [`SessionError::TooLarge`] with the same sizes, [`SessionError::NotRoundTrip`],
    /// [`SessionError::Serialize`].
    pub fn try_cookie_header(&self, data: &T) -> Result<HeaderValue, SessionError>
    where
        T: Clone,
    {
        self.session(data.clone()).try_cookie_header()
    }

    /// The session cookie holding `data` as a browser would keep it after `origin` (such as
    /// `https://app.test` or `http://127.0.0.1:8080`) set it: load it into the browser before
    /// the first page of an end-to-end test, and the test starts logged in.
    ///
    /// # Panics
    ///
    /// If the session cannot be sealed (see [`try_cookie_header`](Self::try_cookie_header)),
    /// or needs more than one cookie (a configuration with chunking): use
    /// [`SessionBuilder::try_browser_cookies`] for those.
    #[must_use]
    pub fn browser_cookie(&self, data: &T, origin: &str) -> BrowserCookie
    where
        T: Clone,
    {
        let mut cookies = self.session(data.clone()).browser_cookies(origin);
        assert!(
            cookies.len() == 1,
            "the session needs {} cookies (chunking): use `session(..).browser_cookies(origin)`",
            cookies.len()
        );
        cookies.remove(0)
    }

    /// What the response with these headers did to the session: [`Sent::Nothing`] without a
    /// `Set-Cookie` of the session's name, [`Sent::Deleted`], or [`Sent::Session`] opened (with
    /// every chunk, for a split session) at the kit's clock, as the next request would open
    /// it. Where a response sets the cookie twice, the last line counts, as in a browser.
    ///
    /// # Errors
    ///
    /// The [`OpenError`] the next request would meet, when the session set does not open:
    /// [`OpenErrorKind::Unauthentic`] for a tampered value or one sealed for another cookie
    /// name, [`OpenErrorKind::Malformed`] for a line that is not a cookie, and so on.
    pub fn read(&self, headers: &HeaderMap) -> Result<Sent<T>, OpenError> {
        let malformed = || OpenError::new(OpenErrorKind::Malformed);
        // The last line of each chunk index (0: the cookie itself), as a browser keeps them.
        let mut lines: Vec<Option<SetCookie<'_>>> = Vec::new();
        for value in headers.get_all(SET_COOKIE) {
            let Some(index) = self.index_of(value.as_bytes()) else {
                continue;
            };
            let line = value.to_str().ok().and_then(SetCookie::parse);
            let line = line.ok_or_else(malformed)?;
            if lines.len() <= index {
                lines.resize_with(index + 1, || None);
            }
            if let Some(slot) = lines.get_mut(index) {
                *slot = Some(line);
            }
        }
        let Some(Some(first)) = lines.first() else {
            return Ok(Sent::Nothing);
        };
        if first.is_removal() {
            return Ok(Sent::Deleted);
        }
        let header = lines
            .iter()
            .flatten()
            .filter(|line| !line.is_removal())
            .map(|line| line.pair)
            .collect::<Vec<_>>()
            .join("; ");
        match self.sessions.open_cookies(&header)? {
            Some(opened) => Ok(Sent::Session(opened)),
            // A line of the name always makes a candidate; kept as an error, not a panic.
            None => Err(malformed()),
        }
    }

    /// The session the response set, opened.
    ///
    /// # Panics
    ///
    /// Unless the response sets a session that opens; the message says what it did instead,
    /// and lists its `Set-Cookie` lines (values left out).
    #[must_use]
    #[allow(clippy::panic)] // an assertion helper: it panics by design (# Panics)
    #[track_caller]
    pub fn assert_session(&self, headers: &HeaderMap) -> Opened<T> {
        let name = self.sessions.config().cookie_name();
        match self.read(headers) {
            Ok(Sent::Session(opened)) => opened,
            Ok(Sent::Nothing) => panic!(
                "expected the response to set the session `{name}`, but it sets no cookie of \
                 that name; Set-Cookie lines: {}",
                describe(headers)
            ),
            Ok(Sent::Deleted) => panic!(
                "expected the response to set the session `{name}`, but it deletes it; \
                 Set-Cookie lines: {}",
                describe(headers)
            ),
            Err(error) => panic!(
                "the session `{name}` the response sets does not open ({}: {error}); \
                 Set-Cookie lines: {}",
                error.kind(),
                describe(headers)
            ),
        }
    }

    /// Asserts that the response leaves the session alone: no `Set-Cookie` of the session's
    /// name or of its chunks.
    ///
    /// # Panics
    ///
    /// If it sets or deletes one; the message lists the `Set-Cookie` lines (values left out).
    #[allow(clippy::panic)] // an assertion helper: it panics by design (# Panics)
    #[track_caller]
    pub fn assert_no_set_cookie(&self, headers: &HeaderMap) {
        let ours: Vec<String> = headers
            .get_all(SET_COOKIE)
            .iter()
            .filter(|value| self.index_of(value.as_bytes()).is_some())
            .map(|value| redacted(value.as_bytes()))
            .collect();
        assert!(
            ours.is_empty(),
            "expected no Set-Cookie for the session `{}`, found: {}",
            self.sessions.config().cookie_name(),
            ours.join(" | ")
        );
    }

    /// Asserts that the response deletes the session cookie, with the attributes of the
    /// session cookie itself (`Path`, `Domain`, `Secure`, ...): a deletion with another `Path`
    /// or `Domain` would delete another cookie and leave the session in the browser.
    ///
    /// # Panics
    ///
    /// If the response does not delete the cookie, or deletes it with other attributes; the
    /// message says which, and lists the `Set-Cookie` lines (values left out).
    #[allow(clippy::panic)] // an assertion helper: it panics by design (# Panics)
    #[track_caller]
    pub fn assert_deleted(&self, headers: &HeaderMap) {
        let config = self.sessions.config();
        let name = config.cookie_name();
        let last = headers
            .get_all(SET_COOKIE)
            .iter()
            .rfind(|value| self.index_of(value.as_bytes()) == Some(0));
        let Some(value) = last else {
            panic!(
                "expected the response to delete the session `{name}`, but it sets no cookie \
                 of that name; Set-Cookie lines: {}",
                describe(headers)
            );
        };
        let line = value.to_str().ok().and_then(SetCookie::parse);
        let Some(line) = line.filter(SetCookie::is_removal) else {
            panic!(
                "expected the response to delete the session `{name}` (Max-Age=0), but it sets \
                 it: {}",
                redacted(value.as_bytes())
            );
        };
        let expected = attributes(config.suffix());
        let found = line.attributes_except_expiry();
        assert!(
            found == expected,
            "the response deletes `{name}` with the attributes {found:?}, but the session \
             cookie has {expected:?}: the browser would keep the session"
        );
    }

    /// The chunk index of a `Set-Cookie` line of the session's cookies (0: the cookie
    /// itself), as the engine decides which lines are the session's.
    fn index_of(&self, line: &[u8]) -> Option<usize> {
        let config = self.sessions.config();
        match cookies::chunk_index(cookies::set_cookie_name(line), config.cookie_name()) {
            Some(0) => Some(0),
            Some(index) if config.max_chunks() > 1 => Some(index),
            _ => None,
        }
    }
}

/// A session to seal for a test, from [`TestSessions::session`]: a lifetime, flash messages
/// and an age, then [`cookie_header`](Self::cookie_header) or
/// [`browser_cookies`](Self::browser_cookies).
///
/// ```
/// use std::time::Duration;
/// use sealed_session::testing::{MockClock, TestSessions};
/// use sealed_session::{Algorithm, Key, KeyRing, Lifetime, SessionConfig, Sessions};
///
/// let clock = MockClock::new(1_764_000_000);
/// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
/// let sessions = Sessions::<u32>::new(ring, SessionConfig::default()).with_clock(clock.clone());
/// let kit = TestSessions::new(&sessions);
///
/// // Created six days and 23 hours ago (the default absolute lifetime is 7 days), last seen
/// // an hour ago, a browser-session cookie with a message waiting.
/// let header = kit
///     .session(7)
///     .created_ago(Duration::from_secs(6 * 86_400 + 23 * 3600))
///     .sealed_ago(Duration::from_secs(3600))
///     .lifetime(Lifetime::browser_session())
///     .flash("welcome back")
///     .cookie_header();
/// let session = sessions.begin(header.to_str()?.to_owned(), "/");
/// assert_eq!(*session.get(), 7);
/// assert_eq!(session.take_flash()?, ["welcome back"]);
///
/// // An hour later it is past its absolute lifetime: refused, a new session.
/// clock.advance(Duration::from_secs(3600));
/// assert!(sessions.begin(header.to_str()?.to_owned(), "/").is_new());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SessionBuilder<'k, T> {
    kit: &'k TestSessions<T>,
    data: T,
    lifetime: Option<Lifetime>,
    flash: Vec<String>,
    created_ago: Duration,
    sealed_ago: Duration,
}

impl<T> fmt::Debug for SessionBuilder<'_, T> {
    /// Leaves out the data and the messages, as [`Opened`]'s `Debug` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionBuilder")
            .field("lifetime", &self.lifetime)
            .field("flash", &self.flash.len())
            .field("created_ago", &self.created_ago)
            .field("sealed_ago", &self.sealed_ago)
            .finish_non_exhaustive()
    }
}

impl<T: SessionData> SessionBuilder<'_, T> {
    /// How the session expires (as [`Session::set_lifetime`](crate::Session::set_lifetime):
    /// capped by the configuration's maxima).
    #[must_use]
    pub fn lifetime(mut self, lifetime: Lifetime) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// A pending flash message (call it again for more), as
    /// [`Session::flash`](crate::Session::flash) leaves one.
    #[must_use]
    pub fn flash(mut self, message: impl Into<String>) -> Self {
        self.flash.push(message.into());
        self
    }

    /// The session was created this long ago: its absolute lifetime counts from then (a
    /// session nearly at, or past, its absolute lifetime). At least
    /// [`sealed_ago`](Self::sealed_ago).
    #[must_use]
    pub fn created_ago(mut self, age: Duration) -> Self {
        self.created_ago = age;
        self
    }

    /// The session was last sealed (by the last response that carried it) this long ago: its
    /// idle timeout counts from then (a session nearly, or already, idle too long).
    #[must_use]
    pub fn sealed_ago(mut self, ago: Duration) -> Self {
        self.sealed_ago = ago;
        self
    }

    /// The `Cookie` header value of the session (every chunk, for a split session).
    ///
    /// # Panics
    ///
    /// If it cannot be sealed: [`try_cookie_header`](Self::try_cookie_header) returns the
    /// error.
    #[must_use]
    #[allow(clippy::panic)] // an assertion helper: it panics by design (# Panics)
    #[track_caller]
    pub fn cookie_header(self) -> HeaderValue {
        self.try_cookie_header()
            .unwrap_or_else(|error| panic!("the test session cannot be sealed: {error}"))
    }

    /// The `Cookie` header value of the session (every chunk, for a split session).
    ///
    /// # Errors
    ///
    /// What the session's mutations would return for it in a handler:
    /// [`SessionError::TooLarge`] (with the same sizes), [`SessionError::NotRoundTrip`],
    /// [`SessionError::Serialize`].
    pub fn try_cookie_header(self) -> Result<HeaderValue, SessionError> {
        let lines = self.seal()?;
        let header = lines
            .iter()
            .filter_map(|line| SetCookie::parse(line))
            .map(|line| line.pair)
            .collect::<Vec<_>>()
            .join("; ");
        HeaderValue::try_from(header).map_err(|_| SessionError::Internal)
    }

    /// The session's cookies (one, or each chunk of a split session) as a browser would keep
    /// them after `origin` set them; see [`BrowserCookie`].
    ///
    /// # Panics
    ///
    /// If it cannot be sealed: [`try_browser_cookies`](Self::try_browser_cookies) returns the
    /// error.
    #[must_use]
    #[allow(clippy::panic)] // an assertion helper: it panics by design (# Panics)
    #[track_caller]
    pub fn browser_cookies(self, origin: &str) -> Vec<BrowserCookie> {
        self.try_browser_cookies(origin)
            .unwrap_or_else(|error| panic!("the test session cannot be sealed: {error}"))
    }

    /// The session's cookies as a browser would keep them after `origin` set them.
    ///
    /// # Errors
    ///
    /// As [`try_cookie_header`](Self::try_cookie_header).
    pub fn try_browser_cookies(self, origin: &str) -> Result<Vec<BrowserCookie>, SessionError> {
        let host = host_of(origin);
        let lines = self.seal()?;
        // A browser counts Max-Age from when it receives the line: its own clock.
        let received = unix_secs(SystemTime::now());
        lines
            .iter()
            .map(|line| {
                let line = SetCookie::parse(line).ok_or(SessionError::Internal)?;
                Ok(line.browser_cookie(host, received))
            })
            .collect()
    }

    /// Seals the session as a response would: the engine's own `begin`, mutations and
    /// `finish`, on a clock stopped at the sealing time.
    fn seal(self) -> Result<Vec<String>, SessionError> {
        let engine = &self.kit.sessions;
        let now = engine.now();
        let sealed_at = now.saturating_sub(self.sealed_ago.as_secs());
        let created = now
            .saturating_sub(self.created_ago.as_secs())
            .min(sealed_at);
        let stopped = engine.clone().with_clock(MockClock::new(sealed_at));
        let session = stopped.begin((), engine.config().path());
        // An identity first, so that even `T::default()` is a session that is saved.
        session.renew()?;
        session.set(self.data)?;
        if let Some(lifetime) = self.lifetime {
            session.set_lifetime(lifetime)?;
        }
        for message in self.flash {
            session.flash(message)?;
        }
        if created < sealed_at {
            session.backdate(created)?;
        }
        let lines: Vec<String> = session.finish(false).into_set_cookies().collect();
        if lines.is_empty() {
            // The seal failed after every check passed (logged by the engine).
            return Err(SessionError::Internal);
        }
        Ok(lines)
    }
}

/// A session cookie as a browser keeps it: the shape WebDriver's "add cookie" command
/// (W3C WebDriver §14.4) and Playwright's `browserContext.addCookies` take.
///
/// It serializes (serde) to WebDriver's JSON: `name`, `value`, `path`, `domain` (left out for
/// a host-only cookie, which WebDriver then gives the current page's host), `secure`,
/// `httpOnly`, `sameSite` (`"Lax"`, `"Strict"` or `"None"`) and `expiry` (Unix seconds; left
/// out for a browser-session cookie). Playwright takes the same fields, with `expires` for
/// `expiry` (`-1` for a browser-session cookie) and `domain` required: use
/// `domain.unwrap_or(host)` (a domain without a leading dot is host-only there).
///
/// Load it once the browser is on a page of the origin (WebDriver adds cookies for the
/// current page's host), then navigate: the application gets the session. A `Secure` cookie
/// (the default) needs an `https` origin, or a loopback one (`http://127.0.0.1`,
/// `http://localhost`), which browsers treat as secure.
///
/// ```
/// use sealed_session::testing::TestSessions;
/// use sealed_session::{Algorithm, Key, KeyRing, SameSite, SessionConfig, Sessions};
///
/// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
/// let kit = TestSessions::new(Sessions::<u32>::new(ring, SessionConfig::default()));
/// let cookie = kit.browser_cookie(&7, "https://app.test");
/// assert_eq!((cookie.name.as_str(), cookie.path.as_str()), ("__Host-session", "/"));
/// assert_eq!((cookie.domain.as_deref(), cookie.host.as_str()), (None, "app.test")); // host-only
/// assert!(cookie.secure && cookie.http_only && cookie.same_site == SameSite::Lax);
/// assert!(cookie.expiry.is_some()); // persistent, by default
///
/// // WebDriver: POST /session/{id}/cookie with {"cookie": <this>}.
/// let json = serde_json::to_value(&cookie)?;
/// assert_eq!(json["httpOnly"], true);
/// assert_eq!(json["sameSite"], "Lax");
/// assert!(json.get("domain").is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BrowserCookie {
    /// The cookie name (`__Host-session` by default; `name.1`, ... for chunks).
    pub name: String,
    /// The sealed value.
    pub value: String,
    /// The `Path` attribute.
    pub path: String,
    /// The `Domain` attribute, or `None` for a host-only cookie (the default, and the only
    /// kind a `__Host-` cookie may be).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The origin's host: where a host-only cookie belongs (not serialized).
    #[serde(skip)]
    pub host: String,
    /// The `Secure` attribute.
    pub secure: bool,
    /// The `HttpOnly` attribute.
    #[serde(rename = "httpOnly")]
    pub http_only: bool,
    /// The `SameSite` attribute.
    #[serde(rename = "sameSite", serialize_with = "same_site_name")]
    pub same_site: SameSite,
    /// When the browser drops the cookie, in Unix seconds by the system clock (from the
    /// `Max-Age` the browser would have received now), or `None` for a browser-session
    /// cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<u64>,
}

impl fmt::Debug for BrowserCookie {
    /// Leaves out the value (a live session).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrowserCookie")
            .field("name", &self.name)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("path", &self.path)
            .field("domain", &self.domain)
            .field("host", &self.host)
            .field("secure", &self.secure)
            .field("http_only", &self.http_only)
            .field("same_site", &self.same_site)
            .field("expiry", &self.expiry)
            .finish()
    }
}

fn same_site_name<S: serde::Serializer>(
    same_site: &SameSite,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(same_site.as_str())
}

/// The host of an origin such as `https://app.test:8443` (`app.test`), `http://[::1]:80`
/// (`[::1]`) or a bare host.
fn host_of(origin: &str) -> &str {
    let rest = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if authority.starts_with('[') {
        return authority
            .find(']')
            .and_then(|end| authority.get(..=end))
            .unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or_default()
}

/// A `Set-Cookie` line, split (RFC 6265bis §5.6: `name=value`, then `;`-separated attributes).
struct SetCookie<'a> {
    /// `name=value`, trimmed.
    pair: &'a str,
    name: &'a str,
    value: &'a str,
    /// `(name, value)`, names as written; `None` for a flag such as `Secure`.
    attributes: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> SetCookie<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let mut parts = line.split(';');
        let pair = parts.next()?.trim();
        let (name, value) = pair.split_once('=')?;
        let attributes = parts
            .map(str::trim)
            .filter(|attribute| !attribute.is_empty())
            .map(|attribute| match attribute.split_once('=') {
                Some((name, value)) => (name.trim(), Some(value.trim())),
                None => (attribute, None),
            })
            .collect();
        Some(Self {
            pair,
            name: name.trim(),
            value: value.trim(),
            attributes,
        })
    }

    /// The attribute's value (`Some(None)` for a flag); names are case-insensitive, and the
    /// last one counts (RFC 6265bis §5.6).
    fn attribute(&self, name: &str) -> Option<Option<&'a str>> {
        self.attributes
            .iter()
            .rev()
            .find(|(attribute, _)| attribute.eq_ignore_ascii_case(name))
            .map(|&(_, value)| value)
    }

    /// A non-positive `Max-Age` expires the cookie at once (RFC 6265bis §5.6.2).
    fn is_removal(&self) -> bool {
        self.attribute("Max-Age")
            .flatten()
            .and_then(|age| age.parse::<i64>().ok())
            .is_some_and(|age| age <= 0)
    }

    fn attributes_except_expiry(&self) -> Vec<(String, Option<String>)> {
        let kept = self.attributes.iter().filter(|(name, _)| {
            !name.eq_ignore_ascii_case("Max-Age") && !name.eq_ignore_ascii_case("Expires")
        });
        normalized(kept.copied())
    }

    fn browser_cookie(&self, host: &str, received: u64) -> BrowserCookie {
        let flag = |name| self.attribute(name).is_some();
        let same_site = match self.attribute("SameSite").flatten() {
            Some(v) if v.eq_ignore_ascii_case("Strict") => SameSite::Strict,
            Some(v) if v.eq_ignore_ascii_case("None") => SameSite::None,
            _ => SameSite::Lax,
        };
        let expiry = self
            .attribute("Max-Age")
            .flatten()
            .and_then(|age| age.parse::<u64>().ok())
            .map(|age| received.saturating_add(age));
        BrowserCookie {
            name: self.name.to_owned(),
            value: self.value.to_owned(),
            path: self.attribute("Path").flatten().unwrap_or("/").to_owned(),
            domain: self
                .attribute("Domain")
                .flatten()
                .map(|domain| domain.trim_start_matches('.').to_owned()),
            host: host.to_owned(),
            secure: flag("Secure"),
            http_only: flag("HttpOnly"),
            same_site,
            expiry,
        }
    }
}

/// The attributes of a configuration's rendered suffix (`; Path=/; Secure; ...`).
fn attributes(suffix: &str) -> Vec<(String, Option<String>)> {
    let parsed = suffix
        .split(';')
        .map(str::trim)
        .filter(|attribute| !attribute.is_empty())
        .map(|attribute| match attribute.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim())),
            None => (attribute, None),
        });
    normalized(parsed)
}

/// Attributes compared as a browser reads them: names in lower case, sorted.
fn normalized<'a>(
    attributes: impl Iterator<Item = (&'a str, Option<&'a str>)>,
) -> Vec<(String, Option<String>)> {
    let mut list: Vec<(String, Option<String>)> = attributes
        .map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            let value = value.map(|value| {
                if name == "samesite" {
                    value.to_ascii_lowercase()
                } else {
                    value.to_owned()
                }
            });
            (name, value)
        })
        .collect();
    list.sort();
    list
}

/// Every `Set-Cookie` line of a response, values left out.
fn describe(headers: &HeaderMap) -> String {
    let lines: Vec<String> = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| redacted(value.as_bytes()))
        .collect();
    if lines.is_empty() {
        "none".to_owned()
    } else {
        lines.join(" | ")
    }
}

/// A `Set-Cookie` line with its value replaced by its length.
fn redacted(line: &[u8]) -> String {
    let line = String::from_utf8_lossy(line);
    let (pair, attributes) = line.split_once(';').unwrap_or((&line, ""));
    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
    let attributes = if attributes.is_empty() {
        String::new()
    } else {
        format!(";{attributes}")
    };
    format!("{}=<{} bytes>{attributes}", name.trim(), value.trim().len())
}
