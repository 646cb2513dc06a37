#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The README (the crate docs) and a few core items link to the middleware's items, which a
// core-only build does not have.
#![cfg_attr(not(feature = "tower"), allow(rustdoc::broken_intra_doc_links))]

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;
#[cfg(feature = "axum")]
mod axum;
// Chunking, migrations and the size check serve the engine: a core-only build leaves them
// unused.
#[cfg_attr(not(feature = "engine"), allow(dead_code, unused_imports))]
mod codec;
#[cfg(feature = "engine")]
mod config;
#[cfg(feature = "engine")]
mod cookies;
#[cfg(feature = "engine")]
mod csrf;
#[cfg(feature = "engine")]
mod engine;
#[cfg_attr(not(feature = "engine"), allow(dead_code))]
mod envelope;
mod error;
mod key;
#[cfg(feature = "tower")]
mod middleware;
mod ring;
mod rng;
#[cfg(feature = "engine")]
mod session;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;
#[cfg(feature = "tower-sessions")]
mod tower_sessions;
#[cfg(feature = "engine")]
mod watch;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use crate::axum::SessionRejection;
pub use codec::{Codec, Lifetime, Migrations, Opened, Sealed, SessionId, SessionMeta, WireFormat};
#[cfg(feature = "engine")]
#[cfg_attr(docsrs, doc(cfg(feature = "engine")))]
pub use config::{CacheControl, MAX_COOKIE_SIZE, Rolling, SessionConfig, SessionConfigBuilder};
#[cfg(feature = "engine")]
#[cfg_attr(docsrs, doc(cfg(feature = "engine")))]
pub use cookies::{CookieFields, SameSite};
#[cfg(feature = "engine")]
#[cfg_attr(docsrs, doc(cfg(feature = "engine")))]
pub use csrf::CsrfToken;
#[cfg(feature = "engine")]
#[cfg_attr(docsrs, doc(cfg(feature = "engine")))]
pub use engine::{OPEN_EVENT_TARGET, Outcome, Sessions};
pub use error::{ConfigError, KeyError, MissingSession, OpenError, OpenErrorKind, SessionError};
pub use key::{Algorithm, KEY_LEN, Key, KeyId};
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use middleware::{ResponseFuture, SessionLayer, SessionService};
pub use ring::{KeyRing, KeyStatus};
pub use rng::reseed_nonces;
#[cfg(feature = "engine")]
#[cfg_attr(docsrs, doc(cfg(feature = "engine")))]
pub use session::{Clock, Session, SessionData};
#[cfg(feature = "tower-sessions")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower-sessions")))]
pub use tower_sessions::{TowerSessionsLayer, TowerSessionsService};
// The fuzz targets' way in to the bridge's record codec (fuzz/fuzz_targets/bridge_record.rs).
#[cfg(all(fuzzing, feature = "tower-sessions"))]
#[doc(hidden)]
pub use tower_sessions::fuzzing as __fuzzing_tower_sessions;
#[cfg(feature = "engine")]
#[cfg_attr(docsrs, doc(cfg(feature = "engine")))]
pub use watch::RingWatcher;
