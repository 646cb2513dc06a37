//! The test kit for the tower-sessions bridge: records of JSON values in, records out.

use std::collections::HashMap;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use serde_json::Value;

use crate::codec::{Lifetime, Opened};
use crate::error::{OpenError, SessionError};
use crate::tower_sessions::{KvData, TowerSessionsLayer};

use super::{BrowserCookie, Sent, TestSessions};

/// A tower-sessions record's data: what `tower_sessions::Session::insert` keeps.
type Record = HashMap<String, Value>;

/// [`TestSessions`] for the tower-sessions bridge ([`TowerSessionsLayer`]): the `Cookie`
/// header of a session holding a record (the map of JSON values that
/// `tower_sessions::Session` keeps, such as axum-login's and axum-messages' entries), and
/// the record a response set.
///
/// ```
/// use std::collections::HashMap;
/// use sealed_session::testing::TestTowerSessions;
/// use sealed_session::{Algorithm, Key, KeyRing, SessionConfig, TowerSessionsLayer};
///
/// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
/// let layer = TowerSessionsLayer::new(ring, SessionConfig::default());
/// let kit = TestTowerSessions::new(&layer);
/// let record = HashMap::from([("user".to_owned(), serde_json::json!({ "id": 1 }))]);
/// let header = kit.cookie_header(&record);
/// assert!(header.to_str()?.starts_with("__Host-session="));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TestTowerSessions {
    kit: TestSessions<KvData>,
}

impl TestTowerSessions {
    /// A kit for the sessions of `layer` (its ring, configuration and clock).
    #[must_use]
    pub fn new(layer: &TowerSessionsLayer) -> Self {
        Self {
            kit: TestSessions::new(layer.sessions()),
        }
    }

    /// A session holding `record`, to seal with a chosen lifetime or age.
    #[must_use]
    pub fn session(&self, record: &Record) -> TowerSessionBuilder<'_> {
        TowerSessionBuilder {
            kit: &self.kit,
            data: data_of(record),
            lifetime: None,
            created_ago: Duration::ZERO,
            sealed_ago: Duration::ZERO,
        }
    }

    /// The `Cookie` header value of a live session holding `record`.
    ///
    /// # Panics
    ///
    /// If it cannot be sealed: [`try_cookie_header`](Self::try_cookie_header) returns the
    /// error.
    #[must_use]
    #[allow(clippy::panic)] // an assertion helper: it panics by design (# Panics)
    #[track_caller]
    pub fn cookie_header(&self, record: &Record) -> HeaderValue {
        self.session(record).cookie_header()
    }

    /// The `Cookie` header value of a live session holding `record`.
    ///
    /// # Errors
    ///
    /// [`SessionError::TooLarge`] as the bridge refuses such a save, and
    /// [`SessionError::Serialize`] for values it cannot keep (nested deeper than 64 levels).
    pub fn try_cookie_header(&self, record: &Record) -> Result<HeaderValue, SessionError> {
        self.session(record).try_cookie_header()
    }

    /// The session cookie holding `record` as a browser would keep it after `origin` set it
    /// (see [`TestSessions::browser_cookie`]).
    ///
    /// # Panics
    ///
    /// If it cannot be sealed, or needs more than one cookie (chunking): use
    /// [`TowerSessionBuilder::try_browser_cookies`].
    #[must_use]
    #[allow(clippy::panic)] // an assertion helper: it panics by design (# Panics)
    #[track_caller]
    pub fn browser_cookie(&self, record: &Record, origin: &str) -> BrowserCookie {
        let mut cookies = self.session(record).browser_cookies(origin);
        assert!(
            cookies.len() == 1,
            "the session needs {} cookies (chunking): use `session(..).browser_cookies(origin)`",
            cookies.len()
        );
        cookies.remove(0)
    }

    /// What the response did to the session, its record read back (see
    /// [`TestSessions::read`]).
    ///
    /// # Errors
    ///
    /// The [`OpenError`] the next request would meet, when the session set does not open.
    pub fn read(&self, headers: &HeaderMap) -> Result<Sent<Record>, OpenError> {
        Ok(self.kit.read(headers)?.map(record_of))
    }

    /// The session the response set, its record read back.
    ///
    /// # Panics
    ///
    /// Unless the response sets a session that opens (see [`TestSessions::assert_session`]).
    #[must_use]
    #[allow(clippy::panic)] // an assertion helper: it panics by design (# Panics)
    #[track_caller]
    pub fn assert_session(&self, headers: &HeaderMap) -> Opened<Record> {
        record_of(self.kit.assert_session(headers))
    }

    /// Asserts that the response sets no cookie of the session.
    ///
    /// # Panics
    ///
    /// If it sets or deletes one (see [`TestSessions::assert_no_set_cookie`]).
    #[allow(clippy::panic)] // an assertion helper: it panics by design (# Panics)
    #[track_caller]
    pub fn assert_no_set_cookie(&self, headers: &HeaderMap) {
        self.kit.assert_no_set_cookie(headers);
    }

    /// Asserts that the response deletes the session cookie, with its attributes.
    ///
    /// # Panics
    ///
    /// If it does not (see [`TestSessions::assert_deleted`]).
    #[allow(clippy::panic)] // an assertion helper: it panics by design (# Panics)
    #[track_caller]
    pub fn assert_deleted(&self, headers: &HeaderMap) {
        self.kit.assert_deleted(headers);
    }
}

/// A bridge session to seal for a test, from [`TestTowerSessions::session`] (as
/// [`SessionBuilder`](super::SessionBuilder), without flash messages: tower-sessions code
/// keeps those in the record, as axum-messages does).
#[derive(Debug)]
pub struct TowerSessionBuilder<'k> {
    kit: &'k TestSessions<KvData>,
    data: Result<KvData, SessionError>,
    lifetime: Option<Lifetime>,
    created_ago: Duration,
    sealed_ago: Duration,
}

impl<'k> TowerSessionBuilder<'k> {
    /// How the session expires (what `set_expiry` seals; capped by the configuration's
    /// maxima).
    #[must_use]
    pub fn lifetime(mut self, lifetime: Lifetime) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// The session was created this long ago (see
    /// [`SessionBuilder::created_ago`](super::SessionBuilder::created_ago)).
    #[must_use]
    pub fn created_ago(mut self, age: Duration) -> Self {
        self.created_ago = age;
        self
    }

    /// The session was last sealed this long ago (see
    /// [`SessionBuilder::sealed_ago`](super::SessionBuilder::sealed_ago)).
    #[must_use]
    pub fn sealed_ago(mut self, ago: Duration) -> Self {
        self.sealed_ago = ago;
        self
    }

    /// The `Cookie` header value of the session.
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

    /// The `Cookie` header value of the session.
    ///
    /// # Errors
    ///
    /// As [`TestTowerSessions::try_cookie_header`].
    pub fn try_cookie_header(self) -> Result<HeaderValue, SessionError> {
        self.typed()?.try_cookie_header()
    }

    /// The session's cookies as a browser would keep them after `origin` set them.
    ///
    /// # Panics
    ///
    /// If it cannot be sealed: [`try_browser_cookies`](Self::try_browser_cookies) returns
    /// the error.
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
    /// As [`TestTowerSessions::try_cookie_header`].
    pub fn try_browser_cookies(self, origin: &str) -> Result<Vec<BrowserCookie>, SessionError> {
        self.typed()?.try_browser_cookies(origin)
    }

    fn typed(self) -> Result<super::SessionBuilder<'k, KvData>, SessionError> {
        let mut builder = self
            .kit
            .session(self.data?)
            .created_ago(self.created_ago)
            .sealed_ago(self.sealed_ago);
        if let Some(lifetime) = self.lifetime {
            builder = builder.lifetime(lifetime);
        }
        Ok(builder)
    }
}

/// A record as the bridge seals it.
fn data_of(record: &Record) -> Result<KvData, SessionError> {
    KvData::from_map(record).map_err(|_| SessionError::Serialize)
}

/// An opened bridge session, its data as a record.
fn record_of(opened: Opened<KvData>) -> Opened<Record> {
    let Opened {
        meta,
        expires,
        data,
        key_id,
        by_primary,
        lifetime,
        flash,
        schema_version,
        sealed_as,
        chunks,
        packed,
    } = opened;
    Opened {
        meta,
        expires,
        data: data.to_map(),
        key_id,
        by_primary,
        lifetime,
        flash,
        schema_version,
        sealed_as,
        chunks,
        packed,
    }
}
