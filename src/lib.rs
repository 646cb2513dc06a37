//! Stateless, encrypted cookie sessions.
//!
//! The whole session lives in the cookie: serialized with [postcard], sealed with an AEAD
//! (AES-256-GCM by default, XChaCha20-Poly1305 for CPUs without AES instructions) under a
//! [`KeyRing`] that rotates at runtime, with message keys derived per hour so the random-nonce
//! budget never runs out, and base64url-encoded. There is no store to run, so any number of
//! instances that share the key ring can serve any request.
//!
//! # The codec alone
//!
//! ```
//! use sealed_session::{Algorithm, Codec, Key, KeyRing, SessionMeta};
//!
//! let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
//! let codec = Codec::new(ring);
//! let now = 1_764_000_000;
//!
//! let meta = SessionMeta::new(now)?;
//! let sealed = codec.seal("session", &meta, &("ada", 7u32), now)?;
//! let opened = codec.open::<(String, u32)>("session", &sealed.value, now + 1).expect("authentic");
//! assert_eq!(opened.data, ("ada".to_string(), 7));
//! # Ok::<(), sealed_session::SessionError>(())
//! ```
//!
//! # What stateless sessions cannot do
//!
//! A sealed cookie stays valid until it expires: logging out deletes it from this browser, but
//! a copy taken earlier still opens until its idle or absolute lifetime runs out. Keep
//! lifetimes short, and rotate (then retire) keys to invalidate every session at once.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
mod axum;
mod codec;
#[cfg(feature = "tower")]
mod config;
mod envelope;
mod error;
mod key;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
mod middleware;
mod ring;
mod rng;
#[cfg(feature = "tower")]
mod session;

pub use codec::{
    Codec, DEFAULT_CLOCK_SKEW, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_LIFETIME, DEFAULT_MAX_VALUE_LEN,
    MAX_CLOCK_SKEW, MAX_LIFETIME_LIMIT, MAX_VALUE_LEN_LIMIT, Opened, SESSION_ID_LEN, Sealed,
    SessionId, SessionMeta,
};
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use config::{
    CacheControl, DEFAULT_COOKIE_NAME, MAX_ATTRIBUTE_LEN, MAX_COOKIE_NAME_LEN, MAX_COOKIE_SIZE,
    Rolling, SameSite, SessionConfig, SessionConfigBuilder,
};
pub use envelope::{
    AES_GCM_NONCE_LEN, FORMAT_VERSION, HEADER_LEN, MAX_NONCE_LEN, MIN_ENVELOPE_LEN,
    SECONDS_PER_HOUR, TAG_LEN, XCHACHA_NONCE_LEN, encoded_len,
};
pub use error::{ConfigError, KeyError, OpenError, OpenErrorKind, SessionError};
pub use key::{Algorithm, KEY_LEN, Key, KeyId, MIN_MASTER_LEN};
pub use ring::{KeyRing, MAX_RING_KEYS, MESSAGE_KEY_CACHE_LEN};
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use session::{MAX_CANDIDATES, Session, SessionData};

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use crate::axum::SessionRejection;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use middleware::{OPEN_EVENT_TARGET, ResponseFuture, SessionLayer, SessionService};
