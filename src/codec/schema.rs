//! Schema evolution: which versions of the session type a codec reads, and which one it
//! writes.
//!
//! postcard is not self-describing, so a cookie sealed for one shape of `T` cannot be read as
//! another. Wire format v2 puts the schema version in the authenticated header; an
//! application registers its older versions with their types and a conversion to the next
//! one, and the opener picks the decoder with one lookup (no trial decryption).

use core::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{SameBytes, check_round_trip, encoded_len, write_capped};
use crate::error::{ConfigError, SessionError};

/// Decodes the data of one older schema version and converts it to the current type.
type Reader<T> = Box<dyn Fn(&[u8]) -> Option<T> + Send + Sync>;
/// Encodes current data as an older schema version (phase 1 of a rollout), capped, checked for
/// a round trip of the older type.
type Writer<T> = Box<dyn Fn(&T, &mut Vec<u8>, usize) -> Result<(), Encoding> + Send + Sync>;

/// The older schema versions a session type can be read from, and (during a rollout) the
/// version it is written as.
///
/// Register versions from the newest older one back: each `from::<Old>(version)` names the
/// type of that version and converts it, with `From`, into the one registered just before it
/// (the current type for the first), so a chain v1 → v2 → v3 reads v1 cookies through both
/// conversions. `from_with` takes a function instead of `From`.
///
/// A cookie of a registered version opens, converts, and is re-sealed on that response as the
/// version written (the current one, or during a rollout the one [`write_as`](Self::write_as)
/// names); one `tracing` event per such open (target `sealed_session::migrate`) shows
/// when an old version can be dropped. A version that is not registered gives a fresh
/// session, as before.
///
/// # Rolling out a new version on a fleet
///
/// The two-phase runbook is in the README ("Changing the session type"): phase 1 deploys the
/// new type everywhere with [`write_as`](Self::write_as) the previous version, so that every
/// instance reads both and still writes the old one; phase 2 drops `write_as`.
///
/// # Example
///
/// ```
/// use sealed_session::Migrations;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct V1 { user: String }
///
/// #[derive(Serialize, Deserialize)]
/// struct V2 { user: String, visits: u32 }
///
/// #[derive(Default, Serialize, Deserialize)]
/// struct V3 { user: String, visits: u32, theme: Option<String> }
///
/// impl From<V1> for V2 {
///     fn from(v1: V1) -> Self { V2 { user: v1.user, visits: 0 } }
/// }
/// impl From<V2> for V3 {
///     fn from(v2: V2) -> Self { V3 { user: v2.user, visits: v2.visits, theme: None } }
/// }
///
/// // The current version (3) is the configuration's `schema_version`.
/// let migrations = Migrations::<V3>::new()
///     .from::<V2>(2) // V3: From<V2>
///     .from::<V1>(1); // V2: From<V1>, so a v1 cookie goes V1 -> V2 -> V3
/// # let _ = migrations;
/// ```
pub struct Migrations<T, Next = T> {
    readers: Vec<(u32, Reader<T>)>,
    writer: Option<(u32, Writer<T>)>,
    /// Converts the type registered last into the current one.
    to_current: Arc<dyn Fn(Next) -> T + Send + Sync>,
    /// The first registration error, reported when the migrations are attached.
    error: Option<ConfigError>,
}

impl<T: 'static> Migrations<T> {
    /// No older versions yet.
    #[must_use]
    pub fn new() -> Self {
        Self {
            readers: Vec::new(),
            writer: None,
            to_current: Arc::new(|current| current),
            error: None,
        }
    }
}

impl<T: 'static> Default for Migrations<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: 'static, Next: 'static> Migrations<T, Next> {
    /// Registers schema `version` as type `Old`, converted with `From` into the type registered
    /// before it (the current type for the first registration).
    #[must_use]
    pub fn from<Old>(self, version: u32) -> Migrations<T, Old>
    where
        Old: DeserializeOwned + 'static,
        Next: From<Old>,
    {
        self.from_with(version, Next::from)
    }

    /// Registers schema `version` as type `Old`, converted by `convert` into the type
    /// registered before it (the current type for the first registration).
    #[must_use]
    pub fn from_with<Old>(
        self,
        version: u32,
        convert: impl Fn(Old) -> Next + Send + Sync + 'static,
    ) -> Migrations<T, Old>
    where
        Old: DeserializeOwned + 'static,
    {
        let Self {
            mut readers,
            writer,
            to_current,
            mut error,
        } = self;
        if error.is_none() && readers.iter().any(|(v, _)| *v == version) {
            error = Some(ConfigError::Migration {
                version,
                reason: "registered twice",
            });
        }
        let convert: Arc<dyn Fn(Old) -> T + Send + Sync> = {
            let to_current = Arc::clone(&to_current);
            Arc::new(move |old| to_current(convert(old)))
        };
        let read = Arc::clone(&convert);
        readers.push((
            version,
            Box::new(move |bytes| decode_exact::<Old>(bytes).map(|old| read(old))),
        ));
        Migrations {
            readers,
            writer,
            to_current: convert,
            error,
        }
    }

    /// Phase 1 of a rollout: write sessions as the registered older `version`, converting the
    /// current data down with `down`, so that instances that do not know the current version
    /// yet keep reading every cookie. Remove it in phase 2.
    #[must_use]
    pub fn write_as<Old>(
        mut self,
        version: u32,
        down: impl Fn(&T) -> Old + Send + Sync + 'static,
    ) -> Self
    where
        Old: Serialize + DeserializeOwned + 'static,
    {
        if self.error.is_none() && !self.readers.iter().any(|(v, _)| *v == version) {
            self.error = Some(ConfigError::Migration {
                version,
                reason: "write_as names a version that is not registered with from",
            });
        }
        self.writer = Some((
            version,
            Box::new(move |data, out, limit| encode_as(&down(data), out, limit)),
        ));
        self
    }
}

impl<T, Next> fmt::Debug for Migrations<T, Next> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<u32> = self.readers.iter().map(|(v, _)| *v).collect();
        f.debug_struct("Migrations")
            .field("from", &versions)
            .field("write_as", &self.writer.as_ref().map(|(v, _)| *v))
            .finish()
    }
}

/// How a session type is read and written: the current version, the registered older ones,
/// and the version written.
pub(crate) struct Schema<T> {
    current: u32,
    readers: Vec<(u32, Reader<T>)>,
    writer: Option<(u32, Writer<T>)>,
}

impl<T: DeserializeOwned> Schema<T> {
    /// The current version only.
    pub(crate) fn current(version: u32) -> Self {
        Self {
            current: version,
            readers: Vec::new(),
            writer: None,
        }
    }

    /// The current version and the registered older ones.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Migration`] for a version registered twice or as the current one, or a
    /// `write_as` version that is not registered.
    pub(crate) fn with_migrations<Next>(
        current: u32,
        migrations: Migrations<T, Next>,
    ) -> Result<Self, ConfigError> {
        if let Some(error) = migrations.error {
            return Err(error);
        }
        if migrations.readers.iter().any(|(v, _)| *v == current) {
            return Err(ConfigError::Migration {
                version: current,
                reason: "is the current schema_version; register only older versions",
            });
        }
        Ok(Self {
            current,
            readers: migrations.readers,
            writer: migrations.writer,
        })
    }

    /// Whether values of this version can be read.
    pub(crate) fn reads(&self, version: u32) -> bool {
        version == self.current || self.readers.iter().any(|(v, _)| *v == version)
    }

    /// The version sealed values are written as.
    pub(crate) fn write_version(&self) -> u32 {
        self.writer.as_ref().map_or(self.current, |(v, _)| *v)
    }

    /// Whether this version is older than the one written (its values are re-sealed).
    pub(crate) fn is_outdated(&self, version: u32) -> bool {
        version != self.write_version()
    }

    /// The data of a value of `version`, converted to the current type; `None` if the bytes
    /// are not exactly one value of that version's type.
    pub(crate) fn decode(&self, version: u32, bytes: &[u8]) -> Option<T> {
        if version == self.current {
            return decode_exact(bytes);
        }
        let (_, read) = self.readers.iter().find(|(v, _)| *v == version)?;
        read(bytes)
    }
}

impl<T: Serialize + DeserializeOwned> Schema<T> {
    /// Appends the encoding of `data` as the written version to `out`, at most `limit` bytes
    /// in all, refused unless it decodes back to itself.
    pub(crate) fn encode(&self, data: &T, out: &mut Vec<u8>, limit: usize) -> Result<(), Encoding> {
        match &self.writer {
            Some((_, write)) => write(data, out, limit),
            None => encode_as(data, out, limit),
        }
    }

    /// Whether `encoded` (the encoding of `data` as the written version) reads back as `data`:
    /// always, unless a rollout writes an older version that lacks part of it.
    pub(crate) fn holds(&self, data: &T, encoded: &[u8]) -> bool {
        let Some((version, _)) = &self.writer else {
            return true;
        };
        let Some(back) = self.decode(*version, encoded) else {
            return false;
        };
        match (postcard::to_allocvec(data), postcard::to_allocvec(&back)) {
            (Ok(data), Ok(back)) => data == back,
            _ => false,
        }
    }

    /// Whether `data`, encoded as the written version, is exactly `encoded`.
    pub(crate) fn encodes_to(&self, data: &T, encoded: &[u8]) -> bool {
        match &self.writer {
            Some((_, write)) => {
                let mut buf = Vec::with_capacity(encoded.len());
                write(data, &mut buf, encoded.len()).is_ok() && buf == encoded
            }
            None => postcard::serialize_with_flavor(
                data,
                SameBytes {
                    expected: encoded,
                    at: 0,
                },
            )
            .is_ok(),
        }
    }
}

/// Why data could not be encoded.
#[derive(Debug)]
pub(crate) enum Encoding {
    /// Longer than the limit: the exact length, counted without allocating.
    OverLimit {
        len: usize,
    },
    Refused(SessionError),
}

/// Appends the encoding of `value` to `out` (at most `limit` bytes in all), refused unless it
/// decodes back to itself.
fn encode_as<V: Serialize + DeserializeOwned>(
    value: &V,
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), Encoding> {
    let start = out.len();
    match write_capped(out, limit, value) {
        Ok(()) => {}
        Err(postcard::Error::SerializeBufferFull) => {
            out.truncate(start);
            let len = encoded_len(value).ok_or(Encoding::Refused(SessionError::Serialize))?;
            return Err(Encoding::OverLimit { len });
        }
        Err(_) => return Err(Encoding::Refused(SessionError::Serialize)),
    }
    check_round_trip::<V>(out.get(start..).unwrap_or_default()).map_err(Encoding::Refused)
}

/// Exactly one postcard value of type `V`, nothing after it.
fn decode_exact<V: DeserializeOwned>(bytes: &[u8]) -> Option<V> {
    match postcard::take_from_bytes::<V>(bytes) {
        Ok((value, [])) => Some(value),
        _ => None,
    }
}
