//! Stateless, encrypted cookie sessions.
//!
//! The whole session lives in the cookie: serialized with [postcard], sealed with an AEAD
//! (AES-256-GCM by default, XChaCha20-Poly1305 for CPUs without AES instructions) under a
//! [`KeyRing`] that rotates at runtime, with message keys derived per hour so the random-nonce
//! budget never runs out, and base64url-encoded. There is no store to run, so any number of
//! instances that share the key ring can serve any request.
//!
//! | layer | items |
//! |---|---|
//! | keys | [`Key`], [`Algorithm`], [`KeyId`], key strings (`Display`/`FromStr`) |
//! | key ring | [`KeyRing`]: one sealing key, accept-only keys, runtime rotation |
//! | codec | [`Codec`]: data + id + timestamps <-> sealed string; exact size prediction |
//! | session | `SessionConfig`, `Session<T>` (feature `tower`) |
//! | adapters | `SessionLayer<T>` / `SessionService<S, T>` (features `tower`, `hyper`), the axum extractor (feature `axum`) |
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | *(none)* | keys, key ring, envelope, [`Codec`] |
//! | `tower` | `SessionConfig`, `Session<T>`, `SessionLayer<T>`, `SessionService<S, T>` |
//! | `hyper` | `SessionService` also implements `hyper::service::Service` (wrap a `service_fn`) |
//! | `axum` | `Session<T>` is an axum extractor (depends on `axum-core` only) |
//!
//! # Quick start: axum
//!
//! ```
//! # #[cfg(feature = "axum")]
//! # mod demo {
//! use axum::{Router, routing::get};
//! use sealed_session::{KeyRing, Session, SessionConfig, SessionLayer};
//!
//! #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
//! struct Visits { count: u64 }
//!
//! async fn index(session: Session<Visits>) -> String {
//!     match session.update(|v| { v.count += 1; v.count }) {
//!         Ok(count) => format!("visits: {count}"),
//!         Err(too_large) => too_large.to_string(),
//!     }
//! }
//!
//! pub fn app(keys: &str) -> Result<Router, sealed_session::KeyError> {
//!     // "primary, accept-only, ...": key strings from `cargo run --example keygen`.
//!     let ring: KeyRing = keys.parse()?;
//!     Ok(Router::new()
//!         .route("/", get(index))
//!         .layer(SessionLayer::<Visits>::new(ring, SessionConfig::default())))
//! }
//! # }
//! ```
//!
//! # Quick start: hyper 1
//!
//! The layer wraps a `service_fn` handler; the handler finds its session in the request
//! extensions.
//!
//! ```
//! # #[cfg(feature = "hyper")]
//! # mod demo {
//! use std::convert::Infallible;
//! use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
//! use hyper_util::rt::TokioIo;
//! use sealed_session::{Session, SessionLayer};
//! use tower_layer::Layer;
//!
//! #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
//! struct Visits { count: u64 }
//!
//! async fn handler(req: Request<Incoming>) -> Result<Response<String>, Infallible> {
//!     let session = req.extensions().get::<Session<Visits>>().expect("SessionLayer is installed");
//!     let count = session.update(|v| { v.count += 1; v.count }).unwrap_or_default();
//!     Ok(Response::new(format!("visits: {count}")))
//! }
//!
//! pub async fn serve(
//!     listener: tokio::net::TcpListener,
//!     sessions: SessionLayer<Visits>,
//! ) -> std::io::Result<()> {
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         let service = sessions.layer(service_fn(handler)); // the whole integration
//!         tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
//!     }
//! }
//! # }
//! ```
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
//! # Logging a user in
//!
//! Store the user in the session and call `cycle_id()`: the session gets a new id, so a cookie
//! that existed before the login (planted by an attacker, say) never carries the logged-in
//! identity. `destroy()` logs out: the response deletes the cookie.
//!
//! # Choosing an algorithm
//!
//! [`Algorithm::Aes256Gcm`] (the default) is the fastest AEAD on every x86-64 server and most
//! ARM server CPUs, which have AES instructions: a seal or open of a small session costs well
//! under a microsecond. Choose [`Algorithm::XChaCha20Poly1305`] for CPUs without AES
//! instructions (some ARM boards, WASM), where software AES is slow and not constant-time. The
//! algorithm belongs to each key, so a ring can move from one to the other by rotation.
//!
//! On x86-64, a default build of XChaCha20-Poly1305 (chacha20 0.9, poly1305 0.8) takes about
//! 1.8 µs per seal or open of a small session, because the AVX2 backends are not inlined;
//! building the application with `RUSTFLAGS="--cfg poly1305_force_soft --cfg
//! chacha20_force_sse2"` brought it to about 0.6 µs on the reference machine. AES-256-GCM
//! needs no such flags.
//!
//! Both use random nonces. AES-GCM's 96-bit nonce allows 2^32 random nonces per key (NIST
//! SP 800-38D §8.3); sealing under a message key derived per hour makes that budget per hour
//! (about 1.2 million seals a second across a fleet), not per key lifetime.
//!
//! # Deploying on several instances
//!
//! Give every instance the same ring (for example the `SESSION_KEYS` environment variable from
//! your secret manager, parsed with `str::parse::<KeyRing>`); nothing else is shared. Rotate
//! in three steps so no instance meets a cookie sealed under a key it does not know:
//!
//! 1. [`KeyRing::insert`] the new key everywhere (it opens, it does not seal yet);
//! 2. [`KeyRing::promote`] it everywhere (it seals; sessions move to it on their next
//!    response);
//! 3. after the longest session lifetime, [`KeyRing::retire`] the old key.
//!
//! # Sizing your session
//!
//! Browsers keep about 4096 bytes per cookie and drop larger ones silently. `Session::set` and
//! `Session::update` compute the exact `Set-Cookie` size and return
//! [`SessionError::TooLarge`] (leaving the session unchanged) rather than exceed
//! `max_cookie_size`. Sealing adds about 60 bytes plus a third (base64) to the postcard size of
//! your data: keep ids, flags and small preferences in the session and anything that grows
//! server-side.
//!
//! # From express-session
//!
//! | express-session | sealed-session |
//! |---|---|
//! | `secret` | a [`KeyRing`] ([`Key::derive`] from a master secret, never a password) |
//! | `resave: false` | always: an unchanged session sends no `Set-Cookie` |
//! | `saveUninitialized: false` | `save_uninitialized(false)`, the default |
//! | `rolling` | `Rolling::HalfIdle` (default) or `Rolling::Always` |
//! | `cookie.maxAge` | `idle_timeout` and `max_lifetime` |
//! | `cookie.secure/httpOnly/sameSite/path/domain` | same; secure defaults, `__Host-session` |
//! | `req.session.regenerate` | `cycle_id()` (on login) and `clear()` |
//! | `req.session.destroy` | `destroy()` |
//!
//! # What stateless sessions cannot do
//!
//! A sealed cookie stays valid until it expires: logging out deletes it from this browser, but
//! a copy taken earlier still opens until its idle or absolute lifetime runs out. Keep
//! lifetimes short, and rotate (then retire) keys to invalidate every session at once. The
//! cookie's length reveals the approximate size of the data, and across tabs the last
//! response wins.
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
#[cfg(all(doctest, feature = "axum", feature = "hyper"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

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
