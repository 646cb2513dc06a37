//! `SessionLayer<Visits>` fixtures for the `cookie_header` and `cookie_parser` targets, each
//! with the model's view of it: a `Codec` with the same settings (ring, name, lifetimes, skew,
//! schema version, value limit) that opens what the layer seals, and an [`Opener`] that finds
//! the session among a request's cookies as the layer must (migrations and revocation check
//! included).

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response};
use sealed_session::{
    Codec, KeyRing, Lifetime, Migrations, OpenErrorKind, Opened, Rolling, Session, SessionConfig,
    SessionLayer, SessionMeta, SessionService,
};
use tower_layer::Layer;
use tower_service::Service;

use crate::oracle::{Authentic, Opener};
use crate::service::{clock_at, drive};
use crate::wire::{CheapModel, KeyInfo};
use crate::{
    DEFAULT_CLOCK_SKEW, OTHER_NAME, RING_A, RING_B, RING_C, Visits, VisitsV1, ring_a_keys,
    ring_b_keys, ring_c_keys,
};

/// The schema version of the migration fixture's [`Visits`]; [`VisitsV1`] is schema 1.
pub const MIGRATION_SCHEMA: u32 = 2;

/// How to build one layer.
pub struct LayerSpec {
    pub label: &'static str,
    pub ring: KeyRing,
    pub keys: Vec<KeyInfo>,
    pub config: SessionConfig,
    /// The configuration's clock skew (the config does not expose it), in seconds.
    pub clock_skew: u64,
    /// Reads schema 1 as [`VisitsV1`] (`with_migrations`); the config's schema must be
    /// [`MIGRATION_SCHEMA`].
    pub migrate_from_v1: bool,
    /// `with_revocation_check`.
    pub valid: Option<fn(&SessionMeta, &Visits) -> bool>,
}

/// A layer at a fixed clock, with its model.
pub struct LayerFixture {
    pub label: &'static str,
    pub layer: SessionLayer<Visits>,
    pub config: SessionConfig,
    /// Opens what the layer seals (its current schema version).
    pub codec: Codec,
    pub opener: Opener<Visits>,
    pub now: u64,
}

impl LayerFixture {
    /// The longest value the layer reads or writes: its line limit minus the fixed part of a
    /// line without Max-Age (name, `=`, attributes).
    #[must_use]
    pub fn max_value_len(&self) -> usize {
        self.opener.cheap.max_value_len
    }
}

/// A handler that destroys the session: its response carries the deletion line, whose length
/// gives the line's fixed part.
struct Destroy;

impl Service<Request<()>> for Destroy {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<()>) -> Self::Future {
        let session = Session::<Visits>::from_request(&req).expect("the layer adds the session");
        session.destroy().expect("the response is not written yet");
        ready(Ok(Response::new(())))
    }
}

/// The layer's value limit, from its deletion line `name=; Max-Age=0<attributes>`: the longest
/// value is a browser-session line's, which has no `; Max-Age=` part at all.
fn value_limit(layer: &SessionLayer<Visits>) -> usize {
    let name = layer.config().cookie_name();
    let mut service: SessionService<Destroy, Visits> = layer.layer(Destroy);
    let mut request = Request::new(());
    let cookie = HeaderValue::try_from(format!("{name}=x")).expect("a valid header");
    request.headers_mut().insert(COOKIE, cookie);
    let response = drive(&mut service, request);
    let line = response
        .headers()
        .get(SET_COOKIE)
        .expect("a destroyed session with a cookie is deleted");
    let line = line.to_str().expect("visible ASCII");
    assert!(line.starts_with(&format!("{name}=; Max-Age=0")), "{line}");
    layer.config().max_cookie_size() - (line.len() - "; Max-Age=0".len())
}

fn authentic<T>(opened: Opened<T>) -> Authentic<T> {
    Authentic {
        meta: opened.meta,
        expires: opened.expires,
        data: opened.data,
        lifetime: opened.lifetime,
        flash: opened.flash,
        schema_version: opened.schema_version,
        by_primary: opened.by_primary,
    }
}

/// Builds the layer of `spec` at clock `now`, and its model.
///
/// # Panics
///
/// If the spec is inconsistent (a bug in the fixtures).
#[must_use]
pub fn fixture(spec: &LayerSpec, now: u64) -> LayerFixture {
    let config = spec.config.clone();
    let at = clock_at(now).expect("fixture clocks fit SystemTime");
    let mut layer = SessionLayer::<Visits>::new(spec.ring.clone(), config.clone());
    if spec.migrate_from_v1 {
        assert_eq!(config.schema_version(), MIGRATION_SCHEMA);
        layer = layer
            .with_migrations(Migrations::<Visits>::new().from_version::<VisitsV1>(1))
            .expect("one registered older version");
    }
    if let Some(valid) = spec.valid {
        layer = layer.with_revocation_check(valid);
    }
    let layer = layer.with_clock(move || at);
    let max_value_len = value_limit(&layer);
    let codec = Codec::new(spec.ring.clone())
        .with_lifetimes(config.idle_timeout(), config.max_lifetime())
        .and_then(|c| c.with_clock_skew(Duration::from_secs(spec.clock_skew)))
        .and_then(|c| c.with_max_value_len(max_value_len))
        .expect("the layer's settings are valid codec settings")
        .with_schema_version(config.schema_version());
    // Cookies of the older type are format v2 (as 0.2 sealed them); the current type's, bound
    // to `Visits` as the layer's are (format v3).
    let unbound = codec.clone();
    let codec = codec
        .bound_to::<Visits>()
        .expect("Visits has a traceable shape");
    let mut readable = vec![config.schema_version()];
    let name = config.cookie_name().to_owned();
    let current = codec.clone();
    let open: Box<crate::oracle::OpenFn<Visits>> = if spec.migrate_from_v1 {
        readable.push(1);
        let old = unbound.with_schema_version(1);
        Box::new(
            move |value, now| match current.open::<Visits>(&name, value, now) {
                Err(error) if error.kind() == OpenErrorKind::UnknownSchema => {
                    old.open::<VisitsV1>(&name, value, now).map(|opened| {
                        let old = authentic(opened);
                        Authentic {
                            meta: old.meta,
                            expires: old.expires,
                            data: Visits::from(old.data),
                            lifetime: old.lifetime,
                            flash: old.flash,
                            schema_version: old.schema_version,
                            by_primary: old.by_primary,
                        }
                    })
                }
                other => other.map(authentic),
            },
        )
    } else {
        Box::new(move |value, now| current.open::<Visits>(&name, value, now).map(authentic))
    };
    for info in &spec.keys {
        let id = sealed_session::KeyId::new(info.id);
        assert_eq!(
            spec.ring.contains(id),
            !info.revoked,
            "{}: {id}",
            spec.label
        );
    }
    LayerFixture {
        label: spec.label,
        layer,
        config,
        codec: codec.clone(),
        opener: Opener::new(
            CheapModel {
                max_value_len,
                current_schema: codec.schema_version(),
                readable,
                keys: spec.keys.clone(),
                idle_timeout: codec.idle_timeout().as_secs(),
                clock_skew: spec.clock_skew,
            },
            open,
            spec.valid,
        ),
        now,
    }
}

/// Sessions whose count is 3 modulo 7 are revoked (the revocation-check configuration).
pub fn not_revoked(_meta: &SessionMeta, visits: &Visits) -> bool {
    visits.count % 7 != 3
}

/// The `cookie_header` target's six configurations (the seed generator seals for them too):
/// the defaults; another name with `Rolling::Always` and `save_uninitialized`; a 512-byte
/// limit; ring C with short browser-session lifetimes, schema 3, no skew and
/// `Rolling::EveryRequest`; a migration layer (schema 2, reads [`VisitsV1`] as schema 1); a
/// revocation check on ring B.
#[must_use]
pub fn cookie_header_specs() -> Vec<LayerSpec> {
    let hour = Duration::from_secs(3600);
    let specs = [
        LayerSpec {
            label: "default",
            ring: RING_A.clone(),
            keys: ring_a_keys(),
            config: SessionConfig::default(),
            clock_skew: DEFAULT_CLOCK_SKEW,
            migrate_from_v1: false,
            valid: None,
        },
        LayerSpec {
            label: "always",
            ring: RING_A.clone(),
            keys: ring_a_keys(),
            config: SessionConfig::builder()
                .cookie_name(OTHER_NAME)
                .rolling(Rolling::Always)
                .save_uninitialized(true)
                .build()
                .expect("valid config"),
            clock_skew: DEFAULT_CLOCK_SKEW,
            migrate_from_v1: false,
            valid: None,
        },
        LayerSpec {
            label: "small",
            ring: RING_A.clone(),
            keys: ring_a_keys(),
            config: SessionConfig::builder()
                .max_cookie_size(512)
                .build()
                .expect("valid config"),
            clock_skew: DEFAULT_CLOCK_SKEW,
            migrate_from_v1: false,
            valid: None,
        },
        LayerSpec {
            label: "lifecycle",
            ring: RING_C.clone(),
            keys: ring_c_keys(),
            config: SessionConfig::builder()
                .idle_timeout(hour)
                .max_lifetime(2 * hour)
                .lifetime(Lifetime::browser_session())
                .clock_skew(Duration::ZERO)
                .schema_version(3)
                .rolling(Rolling::EveryRequest)
                .build()
                .expect("valid config"),
            clock_skew: 0,
            migrate_from_v1: false,
            valid: None,
        },
        LayerSpec {
            label: "migration",
            ring: RING_A.clone(),
            keys: ring_a_keys(),
            config: SessionConfig::builder()
                .schema_version(MIGRATION_SCHEMA)
                .build()
                .expect("valid config"),
            clock_skew: DEFAULT_CLOCK_SKEW,
            migrate_from_v1: true,
            valid: None,
        },
        LayerSpec {
            label: "revocation",
            ring: RING_B.clone(),
            keys: ring_b_keys(),
            config: SessionConfig::builder()
                .cookie_name(OTHER_NAME)
                .build()
                .expect("valid config"),
            clock_skew: DEFAULT_CLOCK_SKEW,
            migrate_from_v1: false,
            valid: Some(not_revoked),
        },
    ];
    specs.into()
}

/// `lifetime` with both bounds resolved against `codec`'s maxima (the documented capping:
/// unset bounds are the maxima, longer ones are capped, the idle timeout never exceeds the
/// absolute lifetime).
#[must_use]
pub fn resolve(codec: &Codec, lifetime: Lifetime) -> Lifetime {
    let max_cap = codec.max_lifetime().as_secs();
    let max = lifetime
        .max_lifetime()
        .map_or(max_cap, |d| d.as_secs())
        .min(max_cap)
        .max(1);
    let idle_cap = codec.idle_timeout().as_secs();
    let idle = lifetime
        .idle_timeout()
        .map_or(idle_cap, |d| d.as_secs())
        .min(idle_cap)
        .min(max)
        .max(1);
    let base = if lifetime.is_persistent() {
        Lifetime::persistent()
    } else {
        Lifetime::browser_session()
    };
    base.with_idle_timeout(Duration::from_secs(idle))
        .with_max_lifetime(Duration::from_secs(max))
}
