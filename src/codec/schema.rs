//! Schema evolution: which types a codec reads a session as, and which one it writes.
//!
//! postcard is not self-describing, so a cookie sealed for one shape of `T` cannot be read as
//! another. The authenticated header names the type: format v2 by a schema version number,
//! format v3 by a binding to the type's shape. An application registers its older types with
//! a conversion to the next one, and the opener picks the decoder with one lookup (no trial
//! decryption).

use core::any::TypeId;
use core::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::canonical::canonical_form;
use super::{SameBytes, check_round_trip, encoded_len, shape, write_capped};
pub(crate) use crate::envelope::SealedAs;
use crate::error::{ConfigError, SessionError};

/// Decodes the data of one older type and converts it to the current type.
type ReadFn<T> = Box<dyn Fn(&[u8]) -> Option<T> + Send + Sync>;
/// Encodes current data as an older type (phase 1 of a rollout), capped, checked for a round
/// trip of the older type.
type WriteFn<T> = Box<dyn Fn(&T, &mut Vec<u8>, usize) -> Result<(), Encoding> + Send + Sync>;

/// The wire format sessions are sealed in. Every format opens; this picks the one written.
///
/// - [`WireFormat::V3`] (the default from 0.3 on) binds each cookie to its session type: the
///   header carries a fingerprint of the type's serde shape (or of the configured
///   [`type_context`](crate::SessionConfigBuilder::type_context)), so a cookie of one type
///   never opens as a type of another shape, even when two applications share a key ring and
///   a cookie name (two types of the same shape need different contexts).
/// - [`WireFormat::V2`] is what 0.2 writes and reads. Keep writing it while a fleet is
///   upgraded from 0.2 (0.2 instances cannot read v3), and switch to v3 once every instance
///   runs 0.3; switching back (a rollback) logs no one out either, since 0.3 reads both and
///   re-seals a session in the format written when it opens one of the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WireFormat {
    /// Format v2: the schema version number in the header, no type binding.
    V2,
    /// Format v3: the type binding in the header.
    #[default]
    V3,
    /// Format v3 written, and cookies in formats v1 and v2 refused
    /// ([`OpenErrorKind::Unbound`](crate::OpenErrorKind::Unbound)): they carry no type
    /// binding, so while they are accepted a v2 cookie that another application sharing the
    /// key ring and cookie name sealed opens as this type (SECURITY.md, H1). Switch to it once
    /// every instance writes v3 and the sessions written before have been re-sealed or have
    /// expired: an unchanged session is re-sealed in v3 whenever it is opened, so after the
    /// idle timeout since every instance writes v3, only sessions that were not used since
    /// are logged out. No effect for a type written in v2 because its shape cannot be traced
    /// (set a [`type_context`](crate::SessionConfigBuilder::type_context)).
    V3Only,
}

impl WireFormat {
    /// Whether this format binds cookies to their session type (writes v3).
    fn binds(self) -> bool {
        matches!(self, Self::V3 | Self::V3Only)
    }
}

/// One older type: how its cookies are recognised, and how it converts to the current type.
struct Reader<T> {
    /// Its schema version number (v2 cookies), if registered with one.
    version: Option<u32>,
    /// Its type binding (v3 cookies), if its shape could be traced.
    binding: Option<u32>,
    type_id: TypeId,
    type_name: &'static str,
    read: ReadFn<T>,
}

/// The older session types a session type can be read from, and (during a rollout) the type
/// it is written as.
///
/// Register types from the newest older one back: each `from::<Old>()` names an older type and
/// converts it, with `From`, into the one registered just before it (the current type for the
/// first), so a chain V1 → V2 → V3 reads V1 cookies through both conversions. `from_with`
/// takes a function instead of `From`.
///
/// Cookies sealed in format v3 name their type by its shape (field names and types, enum
/// variants), so an older type needs no number: `from::<Old>()` reads the cookies sealed while
/// `Old` was the session type. Cookies of format v2 (0.2) name a schema version number instead:
/// register the types they hold with [`from_version`](Self::from_version).
///
/// A cookie of a registered type opens, converts, and is re-sealed on that response as the
/// type written (the current one, or during a rollout the one [`write_as`](Self::write_as)
/// names); one `tracing` event per such open (target `sealed_session::migrate`) shows when an
/// old type can be dropped. A cookie of a type that is not registered gives a fresh session,
/// with a warning that names the fix.
///
/// # Rolling out a new type on a fleet
///
/// The two-phase runbook is in the README ("Changing the session type"): phase 1 deploys the
/// new type everywhere with [`write_as`](Self::write_as) the previous type, so that every
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
/// // V3 is the session type.
/// let migrations = Migrations::<V3>::new()
///     .from::<V2>() // V3: From<V2>
///     .from::<V1>(); // V2: From<V1>, so a V1 cookie goes V1 -> V2 -> V3
/// # let _ = migrations;
/// ```
pub struct Migrations<T, Next = T> {
    readers: Vec<Reader<T>>,
    writer: Option<(TypeId, &'static str, WriteFn<T>)>,
    /// Converts the type registered last into the current one.
    to_current: Arc<dyn Fn(Next) -> T + Send + Sync>,
    /// The first registration error, reported when the migrations are attached.
    error: Option<ConfigError>,
}

impl<T: 'static> Migrations<T> {
    /// No older types yet.
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
    /// Registers the older type `Old` (known by its shape), converted with `From` into the type
    /// registered before it (the current type for the first registration).
    ///
    /// A type whose shape cannot be traced (it needs `deserialize_any`, or recurses through a
    /// struct) is a [`ConfigError::Migration`] when the migrations are attached: register it
    /// with [`from_version`](Self::from_version) and its number instead.
    #[must_use]
    pub fn from<Old>(self) -> Migrations<T, Old>
    where
        Old: DeserializeOwned + 'static,
        Next: From<Old>,
    {
        self.register(None, Next::from)
    }

    /// As [`from`](Self::from), converted by `convert` instead of `From`.
    #[must_use]
    pub fn from_with<Old>(
        self,
        convert: impl Fn(Old) -> Next + Send + Sync + 'static,
    ) -> Migrations<T, Old>
    where
        Old: DeserializeOwned + 'static,
    {
        self.register(None, convert)
    }

    /// Registers the older type `Old` as schema `version` too: what format v2 cookies (sealed
    /// by 0.2, or with [`WireFormat::V2`]) name it by. Its format v3 cookies open as well when
    /// its shape can be traced.
    #[must_use]
    pub fn from_version<Old>(self, version: u32) -> Migrations<T, Old>
    where
        Old: DeserializeOwned + 'static,
        Next: From<Old>,
    {
        self.register(Some(version), Next::from)
    }

    /// As [`from_version`](Self::from_version), converted by `convert` instead of `From`.
    #[must_use]
    pub fn from_version_with<Old>(
        self,
        version: u32,
        convert: impl Fn(Old) -> Next + Send + Sync + 'static,
    ) -> Migrations<T, Old>
    where
        Old: DeserializeOwned + 'static,
    {
        self.register(Some(version), convert)
    }

    fn register<Old>(
        self,
        version: Option<u32>,
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
        let type_name = core::any::type_name::<Old>();
        let binding = match (shape::binding_of::<Old>(), version) {
            (Ok(binding), _) => Some(binding),
            (Err(_), Some(_)) => None,
            (Err(why), None) => {
                error.get_or_insert(ConfigError::Migration {
                    type_name,
                    reason: format!(
                        "its shape cannot be traced ({why}): register it with from_version"
                    ),
                });
                None
            }
        };
        let twice = readers.iter().any(|r| {
            (version.is_some() && r.version == version)
                || (binding.is_some() && r.binding == binding)
        });
        if twice {
            error.get_or_insert(ConfigError::Migration {
                type_name,
                reason: match version {
                    Some(version) => format!(
                        "schema version {version}: registered twice (or the same shape as \
                         another registered type)"
                    ),
                    None => "registered twice (the same shape as another registered type)".into(),
                },
            });
        }
        let convert: Arc<dyn Fn(Old) -> T + Send + Sync> = {
            let to_current = Arc::clone(&to_current);
            Arc::new(move |old| to_current(convert(old)))
        };
        let read = Arc::clone(&convert);
        readers.push(Reader {
            version,
            binding,
            type_id: TypeId::of::<Old>(),
            type_name,
            read: Box::new(move |bytes| decode_exact::<Old>(bytes).map(|old| read(old))),
        });
        Migrations {
            readers,
            writer,
            to_current: convert,
            error,
        }
    }

    /// Phase 1 of a rollout: write sessions as the registered older type `Old`, converting the
    /// current data down with `down`, so that instances that do not know the current type
    /// yet keep reading every cookie. Remove it in phase 2.
    ///
    /// A change that `Old` cannot hold is refused with
    /// [`SessionError::Unwritable`](crate::SessionError::Unwritable): each change is written as
    /// `Old`, read back as `T` and compared with the change as serde data, with the entries of
    /// every map compared in any order (a `HashMap` reads back in another order of its own).
    /// Two consequences of serde's data model, which knows maps and sequences but not which
    /// collection made them:
    /// - a sequence's order is compared, so a `HashSet` of two entries or more, which reads
    ///   back in an order of its own, may have its changes refused, at random. While a rollout
    ///   runs, hold sets as `BTreeSet` (postcard writes both kinds alike, and the type binding
    ///   of format v3 does not tell them apart, so the swap needs no migration of its own);
    /// - a map's order is not compared, so a change that only reorders an ordered map
    ///   (`IndexMap`) is not refused when `Old` cannot keep the order: it returns `Ok` and
    ///   the cookie keeps the order `Old` gives it.
    #[must_use]
    pub fn write_as<Old>(mut self, down: impl Fn(&T) -> Old + Send + Sync + 'static) -> Self
    where
        Old: Serialize + DeserializeOwned + 'static,
    {
        self.writer = Some((
            TypeId::of::<Old>(),
            core::any::type_name::<Old>(),
            Box::new(move |data, out, limit| encode_as(&down(data), out, limit)),
        ));
        self
    }
}

impl<T, Next> fmt::Debug for Migrations<T, Next> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let types: Vec<&str> = self.readers.iter().map(|r| r.type_name).collect();
        f.debug_struct("Migrations")
            .field("from", &types)
            .field("write_as", &self.writer.as_ref().map(|(_, name, _)| *name))
            .finish()
    }
}

/// How a session type is read and written: the current type, the registered older ones, and
/// what is written.
pub(crate) struct Schema<T> {
    version: u32,
    /// The current type's binding: `None` if its shape cannot be traced and no context is set
    /// (it is then written in format v2).
    binding: Option<u32>,
    readers: Vec<Reader<T>>,
    writer: Option<WriteFn<T>>,
    sealed_as: SealedAs,
    /// Cookies in formats v1 and v2 are refused ([`WireFormat::V3Only`], for a type written
    /// in v3).
    refuse_unbound: bool,
}

impl<T: DeserializeOwned> Schema<T> {
    /// The current type only.
    pub(crate) fn current(version: u32, binding: Option<u32>, format: WireFormat) -> Self {
        let sealed_as = match binding {
            Some(binding) if format.binds() => SealedAs::Binding(binding),
            _ => SealedAs::Version(version),
        };
        Self {
            version,
            binding,
            readers: Vec::new(),
            writer: None,
            sealed_as,
            refuse_unbound: format == WireFormat::V3Only
                && matches!(sealed_as, SealedAs::Binding(_)),
        }
    }

    /// The current type and the registered older ones.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Migration`] for a type registered twice or with the current type's
    /// schema version or shape, a type that cannot be traced without a number, or a
    /// `write_as` type that is not registered (or has no number while format v2 is written).
    pub(crate) fn with_migrations<Next>(
        version: u32,
        binding: Option<u32>,
        format: WireFormat,
        migrations: Migrations<T, Next>,
    ) -> Result<Self, ConfigError> {
        if let Some(error) = migrations.error {
            return Err(error);
        }
        if let Some(clash) = migrations
            .readers
            .iter()
            .find(|r| r.version == Some(version) || (binding.is_some() && r.binding == binding))
        {
            return Err(ConfigError::Migration {
                type_name: clash.type_name,
                reason: format!(
                    "is the current schema_version ({version}) or has the current type's shape; \
                     register only older types"
                ),
            });
        }
        let mut schema = Self::current(version, binding, format);
        if let Some((type_id, type_name, write)) = migrations.writer {
            let Some(at) = migrations.readers.iter().position(|r| r.type_id == type_id) else {
                return Err(ConfigError::Migration {
                    type_name,
                    reason: "write_as names a type that is not registered with from".into(),
                });
            };
            let reader = migrations.readers.get(at);
            schema.sealed_as = match (
                format.binds(),
                reader.and_then(|r| r.binding),
                reader.and_then(|r| r.version),
            ) {
                (true, Some(binding), _) => SealedAs::Binding(binding),
                (_, _, Some(version)) => SealedAs::Version(version),
                _ => {
                    return Err(ConfigError::Migration {
                        type_name,
                        reason: "written in format v2, which names types by number: register \
                                 it with from_version"
                            .into(),
                    });
                }
            };
            schema.writer = Some(write);
            // An older type written in v2 (a rollout): its own cookies must keep opening.
            schema.refuse_unbound &= matches!(schema.sealed_as, SealedAs::Binding(_));
        }
        schema.readers = migrations.readers;
        Ok(schema)
    }

    /// The current type's binding, if it has one.
    pub(crate) fn binding(&self) -> Option<u32> {
        self.binding
    }

    /// Whether cookies in formats v1 and v2 (no type binding) are refused.
    pub(crate) fn refuses_unbound(&self) -> bool {
        self.refuse_unbound
    }

    /// Whether values sealed as `sealed_as` can be read.
    pub(crate) fn reads(&self, sealed_as: SealedAs) -> bool {
        self.is_current(sealed_as) || self.reader(sealed_as).is_some()
    }

    fn is_current(&self, sealed_as: SealedAs) -> bool {
        match sealed_as {
            SealedAs::Version(version) => version == self.version,
            SealedAs::Binding(binding) => self.binding == Some(binding),
        }
    }

    fn reader(&self, sealed_as: SealedAs) -> Option<&Reader<T>> {
        self.readers.iter().find(|r| match sealed_as {
            SealedAs::Version(version) => r.version == Some(version),
            SealedAs::Binding(binding) => r.binding == Some(binding),
        })
    }

    /// What sealed values are written as.
    pub(crate) fn sealed_as(&self) -> SealedAs {
        self.sealed_as
    }

    /// Whether a value sealed as `sealed_as` is re-sealed when opened: it holds another type,
    /// or the same in the other format.
    pub(crate) fn is_outdated(&self, sealed_as: SealedAs) -> bool {
        sealed_as != self.sealed_as
    }

    /// The schema version number of the type sealed as `sealed_as` (0 for an older type
    /// registered without one).
    pub(crate) fn version_of(&self, sealed_as: SealedAs) -> u32 {
        if self.is_current(sealed_as) {
            return self.version;
        }
        self.reader(sealed_as)
            .and_then(|r| r.version)
            .unwrap_or_default()
    }

    /// The data of a value sealed as `sealed_as`, converted to the current type; `None` if
    /// the bytes are not exactly one value of that type.
    pub(crate) fn decode(&self, sealed_as: SealedAs, bytes: &[u8]) -> Option<T> {
        if self.is_current(sealed_as) {
            return decode_exact(bytes);
        }
        (self.reader(sealed_as)?.read)(bytes)
    }
}

impl<T: Serialize + DeserializeOwned> Schema<T> {
    /// Appends the encoding of `data` as the written type to `out`, at most `limit` bytes
    /// in all, refused unless it reads back (see `check_round_trip`).
    pub(crate) fn encode(&self, data: &T, out: &mut Vec<u8>, limit: usize) -> Result<(), Encoding> {
        match &self.writer {
            Some(write) => write(data, out, limit),
            None => encode_as(data, out, limit),
        }
    }

    /// Whether `encoded` (the encoding of `data` as the written type) reads back as `data`:
    /// always, unless a rollout writes an older type that lacks part of it. Compared by
    /// their canonical forms, in which a map's entries may come back in any order (a
    /// `HashMap` read back has a hasher of its own); a sequence's order is data.
    pub(crate) fn holds(&self, data: &T, encoded: &[u8]) -> bool {
        if self.writer.is_none() {
            return true;
        }
        let Some(back) = self.decode(self.sealed_as, encoded) else {
            return false;
        };
        // Both forms are session data: written into buffers wiped on drop (RT3-7).
        match (canonical_form(data), canonical_form(&back)) {
            (Some(data), Some(back)) => data == back,
            _ => false,
        }
    }

    /// Whether `data`, encoded as the written type, is exactly `encoded`.
    pub(crate) fn encodes_to(&self, data: &T, encoded: &[u8]) -> bool {
        match &self.writer {
            Some(write) => {
                let mut buf = super::Wiped::with_capacity(encoded.len());
                write(data, &mut buf, encoded.len()).is_ok() && buf.as_slice() == encoded
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
/// reads back (see `check_round_trip`).
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
