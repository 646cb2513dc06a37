//! Session configuration: cookie attributes, lifetimes, rolling policy, size limit.
//!
//! Everything is validated when the configuration is built, with a [`ConfigError`] that says
//! how to fix the problem; nothing is checked at request time.

use core::fmt;
use core::time::Duration;

use crate::codec::{
    self, Codec, DEFAULT_CLOCK_SKEW, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_LIFETIME, Lifetime,
    MAX_VALUE_LEN_LIMIT, WireFormat,
};
use crate::cookies::{self, Attributes, LineLimits, SameSite};
use crate::envelope::MAX_CHUNKS;
use crate::error::ConfigError;
use crate::ring::KeyRing;

/// The default cookie name. The `__Host-` prefix makes browsers refuse the cookie unless it is
/// `Secure`, has `Path=/` and no `Domain`, so a sibling subdomain cannot set or shadow it
/// (RFC 6265bis §4.1.3.2).
pub(crate) const DEFAULT_COOKIE_NAME: &str = "__Host-session";

/// The default limit on the whole `Set-Cookie` value (`name=value` plus attributes), in
/// bytes. Browsers keep cookies up to 4096 bytes of name, value and attributes (RFC 6265 §6.1;
/// RFC 6265bis §5.6 counts name + value only), so 4096 for the whole line satisfies both
/// readings and a session can never grow into a cookie the browser silently drops.
pub const MAX_COOKIE_SIZE: usize = 4096;

/// The longest `Path` or `Domain` attribute value browsers accept (RFC 6265bis §5.6).
pub(crate) const MAX_ATTRIBUTE_LEN: usize = 1024;

/// The longest cookie name accepted, in bytes.
pub(crate) const MAX_COOKIE_NAME_LEN: usize = 256;

/// The default limit on what the session's cookies add to a request's `Cookie` header: many
/// servers and proxies refuse request header lines over 8 KiB (nginx's
/// `large_client_header_buffers`, for one), and this leaves 2 KiB of that to other cookies.
pub(crate) const DEFAULT_COOKIE_HEADER_BUDGET: usize = 6 * 1024;

const _: () = assert!(MAX_COOKIE_SIZE <= MAX_VALUE_LEN_LIMIT);
const _: () = assert!(MAX_COOKIE_SIZE <= DEFAULT_COOKIE_HEADER_BUDGET);
const _: () = assert!(DEFAULT_COOKIE_HEADER_BUDGET <= MAX_VALUE_LEN_LIMIT);

/// When a session that was read but not modified is sealed again to push its idle expiry
/// forward (express-session's `rolling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Rolling {
    /// Once more than half of the idle timeout has passed since the session was last sealed.
    /// An active user is never logged out by the idle timeout, and most responses carry no
    /// `Set-Cookie`.
    #[default]
    HalfIdle,
    /// On every response that reads the session (express-session's `rolling: true`), whenever
    /// that moves the expiry forward (not twice within one second, nor once the absolute
    /// lifetime caps it).
    Always,
    /// As `Always`, and the session is opened on every request, even on routes whose handler
    /// never touches it (actix-session's `OnEveryRequest`): any request keeps the session
    /// alive.
    ///
    /// # Cost
    ///
    /// Every request that carries the cookie pays an open (base64url, one AEAD, postcard) and,
    /// about once a second of activity, a seal: on the reference machine about 1.5 µs per
    /// request for a small uncompressed session, where the lazy default costs nothing on
    /// untouched routes. With [`compression`](SessionConfigBuilder::compression), opening a
    /// compressed cookie also inflates it (into a 16 KiB buffer): tens of microseconds per
    /// request (57 µs measured on 0.2, whose re-seals also compressed again; a re-seal of an
    /// unchanged session now reuses the compressed form).
    EveryRequest,
}

/// What the middleware does to the `Cache-Control` of responses that set or delete the
/// session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CacheControl {
    /// Make them unstorable by shared caches (SECURITY-TESTS F2), so that no shared cache
    /// hands one user's cookie to another: `no-store` when the handler set no
    /// `Cache-Control`; otherwise the handler's directives stay for the browser's own cache,
    /// `public` and `s-maxage` go and `private` is added (unless it already says `no-store`
    /// or `private`).
    #[default]
    NoStoreUnlessSet,
    /// Leave `Cache-Control` to the application.
    ///
    /// # Security
    ///
    /// A shared cache that stores a response carrying `Set-Cookie` hands that session to the
    /// next user who gets the cached response.
    Untouched,
}

/// A validated session configuration. Build one with [`SessionConfig::builder`];
/// [`SessionConfig::default`] is the secure default.
///
/// The settings follow express-session's (the crate documentation's
/// [table](crate#from-express-session) maps them one by one); every default is the secure one.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use sealed_session::{Rolling, SameSite, SessionConfig};
///
/// let config = SessionConfig::builder()
///     .idle_timeout(Duration::from_secs(30 * 60))
///     .max_lifetime(Duration::from_secs(12 * 3600))
///     .same_site(SameSite::Strict)
///     .rolling(Rolling::Always)
///     .build()?;
/// assert_eq!(config.cookie_name(), "__Host-session");
///
/// // Contradictions are refused when the configuration is built, with a fix-it message.
/// let error = SessionConfig::builder().domain("example.com").build().unwrap_err();
/// assert!(error.to_string().contains("__Host-"));
/// # Ok::<(), sealed_session::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SessionConfig {
    cookie_name: String,
    /// `; Path=/; Secure; HttpOnly; SameSite=Lax...`: every attribute after `Max-Age`.
    suffix: String,
    /// The `Path` attribute, for the path-match of incoming requests.
    path: String,
    policy: Policy,
}

/// The settings that the builder passes through to the configuration unchanged (lifetimes
/// are normalised to whole seconds on build).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Policy {
    idle_timeout: Duration,
    max_lifetime: Duration,
    clock_skew: Duration,
    rolling: Rolling,
    lifetime: Lifetime,
    save_uninitialized: bool,
    max_cookie_size: usize,
    schema_version: u32,
    write_format: WireFormat,
    type_context: Option<String>,
    cache_control: CacheControl,
    insecure_http: bool,
    max_chunks: usize,
    cookie_header_budget: usize,
    compression: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            clock_skew: DEFAULT_CLOCK_SKEW,
            rolling: Rolling::HalfIdle,
            lifetime: Lifetime::persistent(),
            save_uninitialized: false,
            max_cookie_size: MAX_COOKIE_SIZE,
            schema_version: 0,
            write_format: WireFormat::V3,
            type_context: None,
            cache_control: CacheControl::NoStoreUnlessSet,
            insecure_http: false,
            max_chunks: 1,
            cookie_header_budget: DEFAULT_COOKIE_HEADER_BUDGET,
            compression: false,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        let cookie = Attributes::default();
        Self {
            cookie_name: DEFAULT_COOKIE_NAME.to_owned(),
            suffix: cookie.render(),
            path: cookie.path,
            policy: Policy::default(),
        }
    }
}

impl SessionConfig {
    /// A builder starting from the secure defaults.
    pub fn builder() -> SessionConfigBuilder {
        SessionConfigBuilder::default()
    }

    /// The cookie name.
    #[must_use]
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// The idle timeout.
    #[must_use]
    pub fn idle_timeout(&self) -> Duration {
        self.policy.idle_timeout
    }

    /// The absolute lifetime.
    #[must_use]
    pub fn max_lifetime(&self) -> Duration {
        self.policy.max_lifetime
    }

    /// The rolling policy.
    #[must_use]
    pub fn rolling(&self) -> Rolling {
        self.policy.rolling
    }

    /// Whether a new session that the handler never modified is saved.
    #[must_use]
    pub fn save_uninitialized(&self) -> bool {
        self.policy.save_uninitialized
    }

    /// The limit on the whole `Set-Cookie` value, in bytes.
    #[must_use]
    pub fn max_cookie_size(&self) -> usize {
        self.policy.max_cookie_size
    }

    /// The `Cache-Control` behaviour.
    #[must_use]
    pub fn cache_control(&self) -> CacheControl {
        self.policy.cache_control
    }

    /// Whether the development-only plain-HTTP escape hatch is on (see
    /// [`SessionConfigBuilder::insecure_http`]).
    #[must_use]
    pub fn is_insecure_http(&self) -> bool {
        self.policy.insecure_http
    }

    /// The schema version authenticated with every value.
    #[must_use]
    pub fn schema_version(&self) -> u32 {
        self.policy.schema_version
    }

    /// The wire format sessions are sealed in.
    #[must_use]
    pub fn write_format(&self) -> WireFormat {
        self.policy.write_format
    }

    /// The application-chosen context sessions are bound to, if set (see
    /// [`SessionConfigBuilder::type_context`]).
    #[must_use]
    pub fn type_context(&self) -> Option<&str> {
        self.policy.type_context.as_deref()
    }

    /// This configuration bound to `context` unless it names a context of its own.
    #[cfg(feature = "tower-sessions")]
    pub(crate) fn with_default_type_context(mut self, context: &str) -> Self {
        self.policy
            .type_context
            .get_or_insert_with(|| context.to_owned());
        self
    }

    /// The attributes after the value, as rendered once.
    pub(crate) fn suffix(&self) -> &str {
        &self.suffix
    }

    /// The `Path` attribute.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Whether the cookie's `Path` is `/`, inside which every request path lies (so the path
    /// a request was sent to never needs looking up).
    pub(crate) fn covers_every_path(&self) -> bool {
        self.path == "/"
    }

    /// The most cookies one session is split across (1: no chunking).
    #[must_use]
    pub fn max_chunks(&self) -> usize {
        self.policy.max_chunks
    }

    /// The most the session's cookies may add to a request's `Cookie` header, in bytes.
    #[must_use]
    pub fn cookie_header_budget(&self) -> usize {
        self.policy.cookie_header_budget
    }

    /// Whether session data is compressed (feature `compression`).
    #[must_use]
    pub fn compression(&self) -> bool {
        self.policy.compression
    }

    /// What bounds the session's lines, for the size check.
    pub(crate) fn line_limits(&self) -> LineLimits<'_> {
        LineLimits {
            name: &self.cookie_name,
            suffix: &self.suffix,
            line_limit: self.policy.max_cookie_size,
            header_budget: self.policy.cookie_header_budget,
            max_chunks: self.policy.max_chunks,
        }
    }

    /// The default lifetime of sessions that do not choose their own.
    #[must_use]
    pub fn lifetime(&self) -> Lifetime {
        self.policy.lifetime
    }

    /// The longest value this configuration could ever emit, all chunks together: one line's
    /// limit minus its fixed part (a browser-session line, which has no Max-Age, holds the
    /// longest value), or with chunking the `Cookie` header budget. The line layout checks
    /// each session's exact line at mutation; this bound only must not be stricter, or a seal
    /// would refuse what the check allowed. A longer incoming value is not ours and is
    /// refused before decoding.
    fn max_value_len(&self) -> usize {
        let one_line = self
            .policy
            .max_cookie_size
            .saturating_sub(cookies::fixed_line_len(
                &self.cookie_name,
                0,
                &self.suffix,
                false,
            ));
        if self.policy.max_chunks == 1 {
            one_line
        } else {
            one_line.max(self.policy.cookie_header_budget.min(MAX_VALUE_LEN_LIMIT))
        }
    }

    /// The codec for these (validated) settings over `ring`.
    pub(crate) fn codec(&self, ring: KeyRing) -> Codec {
        Codec::from_validated(
            ring,
            (self.policy.idle_timeout, self.policy.max_lifetime),
            self.policy.clock_skew,
            self.policy.schema_version,
            self.max_value_len(),
        )
        .with_chunking(self.policy.max_chunks, self.policy.compression)
    }
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("cookie_name", &self.cookie_name)
            .field("attributes", &self.suffix)
            .field("policy", &self.policy)
            .finish()
    }
}

/// Builds a [`SessionConfig`]; every setter takes and returns the builder, and
/// [`build`](Self::build) validates the whole.
#[derive(Debug, Clone)]
#[must_use]
pub struct SessionConfigBuilder {
    cookie_name: String,
    cookie: Attributes,
    policy: Policy,
}

impl Default for SessionConfigBuilder {
    fn default() -> Self {
        Self {
            cookie_name: DEFAULT_COOKIE_NAME.to_owned(),
            cookie: Attributes::default(),
            policy: Policy::default(),
        }
    }
}

impl SessionConfigBuilder {
    /// The cookie name (default `__Host-session`). A `__Host-` name requires `Secure`,
    /// `Path=/` and no `Domain`; a `__Secure-` name requires `Secure`.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// The `Path` attribute (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.cookie.path = path.into();
        self
    }

    /// The `Domain` attribute (default none: the cookie goes to this host only).
    ///
    /// # Security
    ///
    /// With a `Domain`, every subdomain receives the session and can set a cookie of the same
    /// name. It requires a name without the `__Host-` prefix.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.cookie.domain = Some(domain.into());
        self
    }

    /// The `Secure` attribute (default `true`).
    ///
    /// # Security
    ///
    /// Without it the cookie is also sent over plain HTTP, where anyone on the path can copy
    /// it. For local development over http, use [`insecure_http`](Self::insecure_http).
    pub fn secure(mut self, secure: bool) -> Self {
        self.cookie.secure = secure;
        self
    }

    /// The `HttpOnly` attribute (default `true`).
    ///
    /// # Security
    ///
    /// Without it, any script on the page (including an XSS payload) can read the session
    /// cookie and replay it elsewhere.
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.cookie.http_only = http_only;
        self
    }

    /// The `SameSite` attribute (default [`SameSite::Lax`]).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.cookie.same_site = same_site;
        self
    }

    /// The `Partitioned` attribute (CHIPS; default off). Requires `Secure`.
    pub fn partitioned(mut self, partitioned: bool) -> Self {
        self.cookie.partitioned = partitioned;
        self
    }

    /// The idle timeout (default 1 day): a session not used for this long expires.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.policy.idle_timeout = idle;
        self
    }

    /// The absolute lifetime (default 7 days): a session expires this long after it was
    /// created (or [renewed](crate::Session::renew)), however active. At most 400 days.
    ///
    /// With [`idle_timeout`](Self::idle_timeout) it is also the longest lifetime a session
    /// can choose for itself ([`Session::set_lifetime`](crate::Session::set_lifetime)).
    pub fn max_lifetime(mut self, max: Duration) -> Self {
        self.policy.max_lifetime = max;
        self
    }

    /// The lifetime of sessions that do not choose their own (default
    /// [`Lifetime::persistent`]: a `Max-Age` cookie with the idle timeout and absolute lifetime
    /// above). [`Lifetime::browser_session`] sends no `Max-Age`, so the browser forgets the
    /// session when it closes; the server enforces the bounds either way.
    pub fn lifetime(mut self, lifetime: Lifetime) -> Self {
        self.policy.lifetime = lifetime;
        self
    }

    /// The clock skew tolerated between instances (default 60 s).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.policy.clock_skew = skew;
        self
    }

    /// When an unmodified session is re-sealed to extend its idle expiry (default
    /// [`Rolling::HalfIdle`]).
    pub fn rolling(mut self, rolling: Rolling) -> Self {
        self.policy.rolling = rolling;
        self
    }

    /// Whether a new session the handler never modified is saved (default `false`, as
    /// express-session's `saveUninitialized: false`: no cookie until there is something to
    /// keep, which also keeps you out of cookie-consent territory).
    pub fn save_uninitialized(mut self, save: bool) -> Self {
        self.policy.save_uninitialized = save;
        self
    }

    /// The limit on the whole `Set-Cookie` value in bytes (default [`MAX_COOKIE_SIZE`]).
    /// `set` and `update` refuse changes that would exceed it.
    pub fn max_cookie_size(mut self, size: usize) -> Self {
        self.policy.max_cookie_size = size;
        self
    }

    /// The schema version number of the session type (default 0), which format v2 cookies
    /// carry in their header. Format v3 cookies (the default) carry the type's shape instead,
    /// so a change of the type needs no number; a fleet that still writes format v2
    /// ([`write_format`](Self::write_format)) bumps it whenever the type changes.
    pub fn schema_version(mut self, version: u32) -> Self {
        self.policy.schema_version = version;
        self
    }

    /// The wire format sessions are sealed in (default [`WireFormat::V3`], which binds each
    /// cookie to its session type). Every format opens whatever is written; set
    /// [`WireFormat::V2`] while a fleet is upgraded from 0.2, whose instances cannot read v3,
    /// and [`WireFormat::V3Only`] once the whole fleet writes v3 and its older cookies have
    /// been re-sealed or have expired, to refuse cookies without a type binding (v1, v2).
    pub fn write_format(mut self, format: WireFormat) -> Self {
        self.policy.write_format = format;
        self
    }

    /// Binds sessions to `context` instead of the session type's traced shape (wire format
    /// v3). Needed for a type whose shape cannot be traced (its `Deserialize` calls
    /// `deserialize_any`, as `serde_json::Value` does, or it recurses through a struct; without
    /// a context the engine logs a warning at start-up and writes format v2), and to tell apart
    /// two applications sharing a key ring and cookie name whose session types have the same
    /// shape. Choose a context unique to the application and type (`"billing/session v1"`),
    /// and change it whenever the type's encoding changes.
    pub fn type_context(mut self, context: impl Into<String>) -> Self {
        self.policy.type_context = Some(context.into());
        self
    }

    /// Splits sessions too large for one cookie across up to `max` cookies (default 1: no
    /// chunking; at most 16): `name`, `name.1`, `name.2`, ... with the same attributes. The
    /// count is sealed in the authenticated header, so the reader joins exactly that many;
    /// missing, extra, reordered or foreign chunks are refused, and chunks a shrinking session
    /// no longer needs are deleted on the same response (also after chunking is turned off:
    /// any response that writes the session deletes the `name.1`, `name.2`, ... the request
    /// carried). Mutations that would need more
    /// cookies, or more than [`cookie_header_budget`](Self::cookie_header_budget), are refused
    /// with [`SessionError::TooLarge`](crate::SessionError::TooLarge).
    ///
    /// Every request then carries the whole session: keep sessions small where you can.
    pub fn max_chunks(mut self, max: usize) -> Self {
        self.policy.max_chunks = max;
        self
    }

    /// The most the session's cookies may add to a request's `Cookie` header, `name=value`
    /// pairs and separators, in bytes (default 6144, at most 16384). Many servers and proxies
    /// refuse request header lines over 8 KiB, and a browser sends the application's other
    /// cookies in the same header.
    pub fn cookie_header_budget(mut self, bytes: usize) -> Self {
        self.policy.cookie_header_budget = bytes;
        self
    }

    /// Compresses session data (raw DEFLATE) when that makes it shorter (default off; data
    /// under 256 bytes is never compressed). Compressed data inflates to at most 16 KiB.
    ///
    /// # Security
    ///
    /// Compression makes the cookie's length depend on the content. If a session holds a
    /// secret (a CSRF token, say) next to data an attacker can influence (a search term, a
    /// cart item name) and the attacker can watch cookie sizes, they can guess the secret
    /// piece by piece (as in CRIME and BREACH). This is not theoretical: against a real
    /// server with compression on, a 24-hex-digit secret in the session was recovered in
    /// about 1,550 requests by an attacker who could add text to the session and read the
    /// `Set-Cookie` length (security review of 0.2, RT3-6). Keep it off for any session that
    /// holds a secret next to data someone else can influence.
    ///
    /// # Cost
    ///
    /// A change to compressible data costs one compression at DEFLATE level 1 (tens of
    /// microseconds for a few KiB; the compressor's state, about 310 KB, is made once per
    /// thread and wiped after every use), and a second one at level 6 when level 1's form does
    /// not fit the cookies (what fitted under 0.2's level 6 still fits). A re-seal of an
    /// unchanged session (a refresh, a key upgrade) reuses the form the data came in and never
    /// compresses; opening a compressed cookie inflates it into one 16 KiB buffer.
    #[cfg(feature = "compression")]
    #[cfg_attr(docsrs, doc(cfg(feature = "compression")))]
    pub fn compression(mut self, on: bool) -> Self {
        self.policy.compression = on;
        self
    }

    /// Whether responses that set or delete the cookie get `Cache-Control: no-store` (default
    /// [`CacheControl::NoStoreUnlessSet`]).
    pub fn cache_control(mut self, cache_control: CacheControl) -> Self {
        self.policy.cache_control = cache_control;
        self
    }

    /// **Development only**: drops `Secure` and the `__Host-`/`__Secure-` name prefix so the
    /// cookie works over plain `http://localhost` in browsers that refuse `Secure` cookies
    /// there (Safari). The middleware logs a warning when it is built with this on.
    ///
    /// # Security
    ///
    /// Never in production: the session cookie would travel in clear text over any plain-HTTP
    /// request to the host.
    pub fn insecure_http(mut self, insecure: bool) -> Self {
        self.policy.insecure_http = insecure;
        self
    }

    /// Validates the settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the contradiction and how to fix it: a `__Host-` name with a
    /// `Domain`, a `Path` other than `/` or without `Secure`; a `__Secure-` name, `SameSite=None`
    /// or `Partitioned` without `Secure`; an invalid cookie name; a `Path` or `Domain` over
    /// 1024 bytes or with characters a cookie attribute cannot hold; an idle timeout beyond the
    /// absolute lifetime; lifetimes over 400 days; a size limit that cannot hold an empty
    /// session.
    pub fn build(self) -> Result<SessionConfig, ConfigError> {
        let Self {
            cookie_name: mut name,
            mut cookie,
            mut policy,
        } = self;
        if policy.insecure_http {
            cookie.secure = false;
            strip_secure_prefixes(&mut name);
        }
        validate_name(&name)?;
        validate_attributes(&cookie)?;
        validate_prefixes(&name, &cookie)?;
        validate_secure_only(&cookie)?;
        // The codec's own rules, so they live in one place.
        (policy.idle_timeout, policy.max_lifetime) =
            codec::lifetimes(policy.idle_timeout, policy.max_lifetime)?;
        policy.clock_skew = codec::clock_skew(policy.clock_skew)?;
        let config = SessionConfig {
            cookie_name: name,
            suffix: cookie.render(),
            path: cookie.path,
            policy,
        };
        validate_chunking(&config.policy)?;
        validate_size(&config)?;
        Ok(config)
    }
}

/// Drops the `__Host-`/`__Secure-` prefixes for plain-HTTP development.
fn strip_secure_prefixes(name: &mut String) {
    for prefix in ["__Host-", "__Secure-"] {
        if has_prefix_ignore_case(name, prefix) {
            name.drain(..prefix.len());
        }
    }
}

/// Path and Domain: length, characters, and the path starting with `/`.
fn validate_attributes(cookie: &Attributes) -> Result<(), ConfigError> {
    validate_attribute("path", &cookie.path)?;
    if !cookie.path.starts_with('/') {
        return attribute_error("path", "the path must start with '/'");
    }
    if let Some(domain) = &cookie.domain {
        validate_attribute("domain", domain)?;
    }
    Ok(())
}

/// RFC 6265bis §4.1.3: browsers match the `__Host-` and `__Secure-` prefixes
/// case-insensitively and refuse cookies that break their rules.
fn validate_prefixes(name: &str, cookie: &Attributes) -> Result<(), ConfigError> {
    if has_prefix_ignore_case(name, "__Host-") {
        if !cookie.secure {
            return attribute_error(
                "secure",
                "a __Host- cookie must be Secure; keep secure(true) or rename the cookie",
            );
        }
        if cookie.domain.is_some() {
            return attribute_error(
                "domain",
                "a __Host- cookie cannot have a Domain; remove domain(..) or rename the cookie without the __Host- prefix",
            );
        }
        if cookie.path != "/" {
            return attribute_error(
                "path",
                "a __Host- cookie must have Path=/; remove path(..) or rename the cookie without the __Host- prefix",
            );
        }
    }
    if has_prefix_ignore_case(name, "__Secure-") && !cookie.secure {
        return attribute_error(
            "secure",
            "a __Secure- cookie must be Secure; keep secure(true) or rename the cookie",
        );
    }
    Ok(())
}

/// Attributes that browsers accept only on `Secure` cookies.
fn validate_secure_only(cookie: &Attributes) -> Result<(), ConfigError> {
    if cookie.same_site == SameSite::None && !cookie.secure {
        return attribute_error(
            "same_site",
            "SameSite=None requires Secure (browsers reject it otherwise); use SameSite::Lax or keep secure(true)",
        );
    }
    if cookie.partitioned && !cookie.secure {
        return attribute_error(
            "partitioned",
            "Partitioned requires Secure; keep secure(true) or turn partitioned off",
        );
    }
    Ok(())
}

/// The chunk count fits the header's flags; the budget holds the smallest session and stays
/// within what the codec opens.
// The message below names the smallest sealed value's length.
const _: () = assert!(codec::MIN_SEALED_LEN == 103);

fn validate_chunking(policy: &Policy) -> Result<(), ConfigError> {
    if !(1..=MAX_CHUNKS).contains(&policy.max_chunks) {
        return Err(ConfigError::Chunking {
            setting: "max_chunks",
            reason: "must be from 1 (no chunking) to 16",
        });
    }
    if !(codec::MIN_SEALED_LEN..=MAX_VALUE_LEN_LIMIT).contains(&policy.cookie_header_budget) {
        return Err(ConfigError::Chunking {
            setting: "cookie_header_budget",
            reason: "must be from 103 (the smallest sealed value) to 16384 bytes",
        });
    }
    Ok(())
}

/// The smallest session must fit, and the limit stays within what the codec accepts.
fn validate_size(config: &SessionConfig) -> Result<(), ConfigError> {
    if codec::check_value_len_from(config.max_value_len(), codec::MIN_SEALED_LEN).is_err() {
        let fixed = cookies::fixed_line_len(&config.cookie_name, 0, &config.suffix, false);
        return Err(ConfigError::CookieSize {
            min: codec::MIN_SEALED_LEN + fixed,
            max: MAX_VALUE_LEN_LIMIT + fixed,
            limit: config.policy.max_cookie_size,
        });
    }
    Ok(())
}

fn attribute_error<T>(setting: &'static str, reason: &'static str) -> Result<T, ConfigError> {
    Err(ConfigError::Attribute { setting, reason })
}

fn has_prefix_ignore_case(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// A cookie name is an RFC 9110 token (RFC 6265 §4.1.1).
fn validate_name(name: &str) -> Result<(), ConfigError> {
    let is_token_char = |b: u8| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b);
    if name.is_empty() || name.len() > MAX_COOKIE_NAME_LEN || !name.bytes().all(is_token_char) {
        return Err(ConfigError::CookieName);
    }
    Ok(())
}

/// Attribute values: at most 1024 bytes (RFC 6265bis §5.6), no `;` and no control characters.
fn validate_attribute(which: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.len() > MAX_ATTRIBUTE_LEN {
        return attribute_error(
            which,
            if which == "path" {
                "the path must be at most 1024 bytes (RFC 6265bis)"
            } else {
                "the domain must be at most 1024 bytes (RFC 6265bis)"
            },
        );
    }
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b';')
    {
        return attribute_error(
            which,
            if which == "path" {
                "the path must be non-empty visible ASCII without ';'"
            } else {
                "the domain must be non-empty visible ASCII without ';'"
            },
        );
    }
    Ok(())
}
