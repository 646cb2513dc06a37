//! `cookie_header`: arbitrary `Cookie` header fields through the real `SessionService`.
//!
//! Input: one control byte, then 1..=4 `Cookie` field values separated by `\n` (which no
//! header value can hold; fields that are not valid header values are skipped, as hyper would
//! never deliver them). The control byte picks the layer (configuration and clock), what the
//! handler does with the session, and the status it answers with.
//!
//! The handler reads `Session<Visits>` from the request extensions, calls `get()`, maybe
//! `update`, `cycle_id` or `destroy`, and returns its view of the session as the response
//! body. The response future is driven with a no-op waker (the handler is immediately ready).
//!
//! Checks: no panic; the status is the handler's; at most one `Set-Cookie`, visible ASCII,
//! for the layer's cookie name, within the size limit, with `Cache-Control: no-store`; a
//! non-empty value opens (same ring, name, clock) to exactly the handler's view; a successful
//! change is always saved; a deletion is `Max-Age=0` with an empty value.
#![no_main]

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, UNIX_EPOCH};

use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use libfuzzer_sys::fuzz_target;
use sealed_session::{Codec, Rolling, Session, SessionConfig, SessionLayer, SessionService};
use sealed_session_fuzz::{NOW, OTHER_NAME, RING_A, Visits};
use tower_layer::Layer;
use tower_service::Service;

/// What the handler does, from the control byte.
#[derive(Clone, Copy)]
struct Plan {
    op: u8,
    cycle: bool,
    status: StatusCode,
    page_len: usize,
}

/// The handler's view of the session after its work: `None` once destroyed.
type View = Option<Visits>;

/// The handler: a hand-written `tower_service::Service`, as `service_fn` would build.
#[derive(Clone)]
struct Handler(Plan);

impl Service<Request<()>> for Handler {
    type Response = Response<(View, bool)>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<()>) -> Self::Future {
        let plan = self.0;
        let session = req
            .extensions()
            .get::<Session<Visits>>()
            .expect("SessionService puts the session in the extensions")
            .clone();
        let _ = session.get();
        let mut changed = false;
        let mut destroyed = false;
        match plan.op {
            0 => {}
            1 => changed = session.update(|v| v.count += 1).is_ok(),
            2 => {
                // Grows towards (and past) the size limit: refused changes leave it as it was.
                changed = session
                    .update(|v| v.pages.push("p".repeat(plan.page_len)))
                    .is_ok();
            }
            _ => {
                session.destroy();
                destroyed = true;
            }
        }
        if plan.cycle {
            changed |= session.cycle_id().is_ok();
            destroyed = false;
        }
        let view = (!destroyed).then(|| Visits::clone(&session.get()));
        let mut response = Response::new((view, changed));
        *response.status_mut() = plan.status;
        ready(Ok(response))
    }
}

struct Fixture {
    layer: SessionLayer<Visits>,
    /// Opens what the layer seals: same ring, name, lifetimes and clock.
    codec: Codec,
    now: u64,
}

fn fixture(config: SessionConfig, now: u64) -> Fixture {
    let codec = Codec::new(RING_A.clone())
        .with_lifetimes(config.idle_timeout(), config.max_lifetime())
        .expect("valid lifetimes")
        .with_schema_version(config.schema_version());
    let at = UNIX_EPOCH + Duration::from_secs(now);
    let layer = SessionLayer::new(RING_A.clone(), config).with_clock(move || at);
    Fixture { layer, codec, now }
}

/// Layers 0..8: three configurations, at [`NOW`] and 20 hours later (past the half-idle
/// refresh point of a value sealed at `NOW`).
static FIXTURES: LazyLock<Vec<Fixture>> = LazyLock::new(|| {
    let configs = [
        SessionConfig::default(),
        SessionConfig::builder()
            .cookie_name(OTHER_NAME)
            .rolling(Rolling::Always)
            .save_uninitialized(true)
            .build()
            .expect("valid config"),
        SessionConfig::builder()
            .max_cookie_size(512)
            .build()
            .expect("valid config"),
        SessionConfig::builder()
            .idle_timeout(Duration::from_secs(3600))
            .max_lifetime(Duration::from_secs(2 * 3600))
            .schema_version(3)
            .build()
            .expect("valid config"),
    ];
    configs
        .into_iter()
        .flat_map(|config| {
            [
                fixture(config.clone(), NOW),
                fixture(config, NOW + 20 * 3600),
            ]
        })
        .collect()
});

const STATUSES: [StatusCode; 4] = [
    StatusCode::OK,
    StatusCode::NO_CONTENT,
    StatusCode::FOUND,
    StatusCode::INTERNAL_SERVER_ERROR,
];

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let fixture = &FIXTURES[usize::from(control & 7)];
    let plan = Plan {
        op: (control >> 3) & 3,
        cycle: control & 0x20 != 0,
        status: STATUSES[usize::from(control >> 6)],
        // Sized from the input so the fuzzer can walk up to the limit.
        page_len: rest.len().min(4096) * 8 % 4096,
    };

    let mut request = Request::new(());
    for field in rest.split(|&b| b == b'\n').take(4) {
        if let Ok(value) = HeaderValue::from_bytes(field) {
            request.headers_mut().append(COOKIE, value);
        }
    }

    let mut service: SessionService<Handler, Visits> = fixture.layer.layer(Handler(plan));
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = pin!(service.call(request));
    // The inner future is `Ready`, so one poll must finish the response: the minimal executor.
    let response = match future.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(response)) => response,
        Poll::Ready(Err(never)) => match never {},
        Poll::Pending => panic!("ResponseFuture pending over a ready inner future"),
    };

    assert_eq!(response.status(), plan.status);
    let (view, changed) = response.body();
    let config = fixture.layer.config();
    let mut set_cookies = response.headers().get_all(SET_COOKIE).iter();
    let Some(line) = set_cookies.next() else {
        // A successful change is always saved.
        assert!(!changed, "a changed session sent no Set-Cookie");
        return;
    };
    assert!(set_cookies.next().is_none(), "more than one Set-Cookie");
    let line = line.to_str().expect("Set-Cookie is visible ASCII");
    assert!(
        line.len() <= config.max_cookie_size(),
        "{} bytes",
        line.len()
    );
    assert_eq!(
        response
            .headers()
            .get(CACHE_CONTROL)
            .map(HeaderValue::as_bytes),
        Some(&b"no-store"[..])
    );
    let pair = line.split(';').next().unwrap_or_default();
    let value = pair
        .strip_prefix(config.cookie_name())
        .and_then(|rest| rest.strip_prefix('='))
        .expect("Set-Cookie names the session cookie");
    if value.is_empty() {
        assert!(line.contains("; Max-Age=0;"), "{line}");
        assert!(view.is_none() || !changed, "a changed session was deleted");
        return;
    }
    let opened = fixture
        .codec
        .open::<Visits>(config.cookie_name(), value, fixture.now)
        .expect("the emitted cookie opens");
    assert_eq!(
        Some(&opened.data),
        view.as_ref(),
        "the cookie holds the handler's view"
    );
    assert!(line.contains("; Max-Age="), "{line}");
});
