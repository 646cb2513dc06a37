//! Driving a real `SessionService` without a runtime, and the re-seal check the `open` and
//! `roundtrip` targets share: a value the codec opened goes through a `SessionLayer` whose
//! handler forces a re-seal, and the emitted cookie must open to the same session, lifetime,
//! flash messages and schema version (what `Codec::seal` cannot write: only the middleware
//! seals lifetimes and flash messages).

use std::any::Any;
use std::cell::RefCell;
use std::convert::Infallible;
use std::fmt::Debug;
use std::future::{Future, Ready, ready};
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response};
use sealed_session::{
    Codec, KeyRing, Lifetime, Opened, Session, SessionConfig, SessionData, SessionError, SessionId,
    SessionLayer, SessionService,
};
use tower_layer::Layer;
use tower_service::Service;

use crate::MAX_VALUE_LEN_LIMIT;

/// Runs `service` on `request` to completion with a no-op waker: the handlers here are
/// `Ready` futures, so one poll must finish the response (the minimal executor).
///
/// # Panics
///
/// If the response future is pending over a ready inner future.
pub fn drive<S>(service: &mut S, request: Request<()>) -> S::Response
where
    S: Service<Request<()>, Error = Infallible>,
{
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = pin!(service.call(request));
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(response)) => response,
        Poll::Ready(Err(never)) => match never {},
        Poll::Pending => panic!("ResponseFuture pending over a ready inner future"),
    }
}

/// The clock of a layer at `now` (Unix seconds); `None` beyond what `SystemTime` holds.
#[must_use]
pub fn clock_at(now: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_secs(now))
}

/// The value of the session's `Set-Cookie` line (`name=value; ...`), if it names `name`.
#[must_use]
pub fn set_cookie_value<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split(';')
        .next()?
        .strip_prefix(name)?
        .strip_prefix('=')
}

/// Marks `session` to be sealed again unchanged. Asking for the lifetime a session has is no
/// change, so this asks for the other kind and then for its own: the head stays marked
/// changed, and is sealed as it was.
///
/// # Errors
///
/// What `set_lifetime` answers (outside the cookie's path, for one).
pub fn force_reseal<T: SessionData>(session: &Session<T>) -> Result<(), SessionError> {
    let lifetime = session.lifetime();
    let other = if lifetime.is_persistent() {
        Lifetime::browser_session()
    } else {
        Lifetime::persistent()
    };
    session
        .set_lifetime(other)
        .and_then(|()| session.set_lifetime(lifetime))
}

/// What the re-sealing handler saw.
#[derive(Debug)]
pub struct Resealed<T> {
    /// The session came from the cookie.
    pub from_cookie: bool,
    pub data: T,
    pub id: Option<SessionId>,
    pub lifetime: Lifetime,
    /// The outcome of forcing the re-seal (`set_lifetime` with the session's own lifetime).
    pub forced: Result<(), SessionError>,
}

/// A handler that reads the session and re-seals it unchanged: `set_lifetime` with another
/// lifetime and then its own (resolved) one marks the sealed head changed without changing
/// anything in it.
struct ResealHandler<T>(PhantomData<fn() -> T>);

impl<T: SessionData + Clone> Service<Request<()>> for ResealHandler<T> {
    type Response = Response<Resealed<T>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<()>) -> Self::Future {
        let session = Session::<T>::from_request(&req).expect("the layer adds the session");
        let data = T::clone(&session.get());
        let lifetime = session.lifetime();
        let forced = force_reseal(&session);
        ready(Ok(Response::new(Resealed {
            from_cookie: !session.is_new(),
            data,
            id: session.id(),
            lifetime,
            forced,
        })))
    }
}

/// Re-seals `value` (which `codec` opened as `opened` at `now` for `name`) through a
/// `SessionLayer` with the codec's settings, and checks that the layer read the same session
/// and that its new cookie opens with `codec` to the same data, id, creation time, lifetime,
/// flash messages and schema version, under the ring's primary key.
///
/// # Panics
///
/// On any difference (that is the check).
pub fn check_reseal<T>(
    ring_label: &'static str,
    codec: &Codec,
    clock_skew: u64,
    name: &str,
    value: &str,
    opened: &Opened<T>,
    now: u64,
) where
    T: SessionData + Clone + PartialEq + Debug,
{
    if clock_at(now).is_none() {
        return; // beyond SystemTime: no layer can run at this clock
    }
    with_resealer::<T, _>(ring_label, codec, clock_skew, name, |resealer| {
        check_with(resealer, codec, name, value, opened, now);
    });
}

/// The clock of every cached re-sealing layer, in Unix seconds: set before each request (the
/// layers are built once per process, the targets' clocks change per input).
static RESEAL_NOW: AtomicU64 = AtomicU64::new(0);

/// A re-sealing layer's service and the codec that opens what it seals, built once per
/// session type, ring, cookie name and codec settings: building a layer traces the type's
/// shape and builds its configuration, which cost more than the request itself.
struct Resealer<T: SessionData> {
    ring_label: &'static str,
    name: String,
    clock_skew: u64,
    settings: (u64, u64, u32),
    service: SessionService<ResealHandler<T>, T>,
    /// The codec's ring and lifetimes, the largest value limit, bound to `T`.
    reopen: Codec,
}

thread_local! {
    static RESEALERS: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `check` with the cached resealer for `T` and these settings, building it if needed.
fn with_resealer<T, R>(
    ring_label: &'static str,
    codec: &Codec,
    clock_skew: u64,
    name: &str,
    check: impl FnOnce(&mut Resealer<T>) -> R,
) -> R
where
    T: SessionData + Clone,
{
    let settings = (
        codec.idle_timeout().as_secs(),
        codec.max_lifetime().as_secs(),
        codec.schema_version(),
    );
    RESEALERS.with_borrow_mut(|resealers| {
        let found = resealers.iter().position(|entry| {
            entry.downcast_ref::<Resealer<T>>().is_some_and(|r| {
                r.ring_label == ring_label
                    && r.name == name
                    && r.clock_skew == clock_skew
                    && r.settings == settings
            })
        });
        let index = found.unwrap_or_else(|| {
            resealers.push(Box::new(resealer::<T>(ring_label, codec, clock_skew, name)));
            resealers.len() - 1
        });
        let resealer = resealers[index]
            .downcast_mut::<Resealer<T>>()
            .expect("found by its type");
        check(resealer)
    })
}

fn resealer<T: SessionData + Clone>(
    ring_label: &'static str,
    codec: &Codec,
    clock_skew: u64,
    name: &str,
) -> Resealer<T> {
    // The largest line limit, so that every value the codec opens fits the layer's too (the
    // layer's value limit is the line limit minus the line's fixed part).
    let config = SessionConfig::builder()
        .cookie_name(name)
        .idle_timeout(codec.idle_timeout())
        .max_lifetime(codec.max_lifetime())
        .clock_skew(Duration::from_secs(clock_skew))
        .schema_version(codec.schema_version())
        .max_cookie_size(MAX_VALUE_LEN_LIMIT)
        .build()
        .expect("the codec's settings are a valid configuration");
    let ring: KeyRing = codec.ring().clone();
    let layer = SessionLayer::<T>::new(ring, config).with_clock(|| {
        clock_at(RESEAL_NOW.load(Ordering::Relaxed)).expect("set to a clock that fits")
    });
    // The layer seals format v3, bound to `T`.
    let reopen = Codec::clone(codec)
        .with_max_value_len(MAX_VALUE_LEN_LIMIT)
        .expect("the largest limit is valid")
        .bound_to::<T>()
        .expect("the fuzzed session types have traceable shapes");
    Resealer {
        ring_label,
        name: name.to_owned(),
        clock_skew,
        settings: (
            codec.idle_timeout().as_secs(),
            codec.max_lifetime().as_secs(),
            codec.schema_version(),
        ),
        service: layer.layer(ResealHandler(PhantomData)),
        reopen,
    }
}

fn check_with<T>(
    resealer: &mut Resealer<T>,
    codec: &Codec,
    name: &str,
    value: &str,
    opened: &Opened<T>,
    now: u64,
) where
    T: SessionData + Clone + PartialEq + Debug,
{
    // The cache is keyed by the ring's label: the same label must mean the same ring.
    assert_eq!(
        resealer.reopen.ring().primary_id_at(now),
        codec.ring().primary_id_at(now),
        "two rings under the label {}",
        resealer.ring_label
    );
    RESEAL_NOW.store(now, Ordering::Relaxed);
    let mut request = Request::new(());
    let header = HeaderValue::try_from(format!("{name}={value}")).expect("base64url is a header");
    request.headers_mut().insert(COOKIE, header);
    let response = drive(&mut resealer.service, request);
    let seen = response.body();
    // A line limit of 16 KiB leaves at least 16 KiB - 300 bytes for the value.
    if !seen.from_cookie {
        assert!(
            value.len() > MAX_VALUE_LEN_LIMIT - 300,
            "the layer refused a value its codec opened"
        );
        return;
    }
    assert_eq!(seen.data, opened.data, "the layer read other data");
    assert_eq!(seen.id, Some(opened.meta.id), "the layer read another id");
    assert_eq!(
        seen.lifetime, opened.lifetime,
        "the layer read another lifetime"
    );
    match &seen.forced {
        Ok(()) => {}
        // A v1 value, or one re-sealed under a longer nonce, grows.
        Err(SessionError::TooLarge { .. }) => return,
        Err(error) => panic!("re-seal refused: {error:?}"),
    }
    let mut lines = response.headers().get_all(SET_COOKIE).iter();
    let line = lines.next().expect("a forced re-seal sends a cookie");
    assert!(lines.next().is_none(), "more than one Set-Cookie");
    let line = line.to_str().expect("Set-Cookie is visible ASCII");
    assert!(line.len() <= MAX_VALUE_LEN_LIMIT, "{} bytes", line.len());
    let again = set_cookie_value(line, name).expect("the line names the cookie");
    let reopened = resealer
        .reopen
        .open::<T>(name, again, now)
        .expect("the re-sealed cookie opens");
    assert_eq!(reopened.data, opened.data);
    assert_eq!(reopened.meta, opened.meta);
    assert_eq!(reopened.lifetime, opened.lifetime, "the lifetime changed");
    assert_eq!(reopened.flash, opened.flash, "the flash messages changed");
    assert_eq!(reopened.schema_version, codec.schema_version());
    assert_eq!(reopened.key_id, codec.ring().primary_id_at(now));
    assert!(reopened.by_primary);
    assert!(reopened.expires > now);
    // A persistent cookie says how long it lives; a browser-session one does not.
    let max_age = line
        .split("; ")
        .find_map(|attribute| attribute.strip_prefix("Max-Age="));
    if opened.lifetime.is_persistent() {
        let max_age: u64 = max_age
            .expect("a persistent cookie has a Max-Age")
            .parse()
            .expect("Max-Age is a number");
        assert_eq!(max_age, reopened.expires - now, "{line}");
    } else {
        assert_eq!(
            max_age, None,
            "a browser-session cookie with a Max-Age: {line}"
        );
    }
}
