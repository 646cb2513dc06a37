//! Allocations per request through `SessionLayer`, counted with the per-thread counting
//! allocator of tests/unsafe-support: for a route that never touches the session, one that
//! reads it, and one that modifies it (read-modify-reseal), each with a valid session cookie.
//! The service is called in-process (no sockets), so only the layer's and the handler's own
//! allocations are counted; the bare handler's are printed for reference.
//!
//! ```text
//! cargo run --release -p sealed-session-bench --bin alloc_per_request
//! ```
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a measurement program: it reports on stdout and aborts loudly on setup failures"
)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response};
use sealed_session::{Algorithm, Key, KeyRing, Session, SessionConfig, SessionLayer};
use sealed_session_unsafe_support::{CountingAlloc, measure};
use serde::{Deserialize, Serialize};
use tower_layer::Layer as _;
use tower_service::Service;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[derive(Clone, Default, Serialize, Deserialize)]
struct Counter {
    visits: u64,
    user: String,
}

type Handler = fn(Request<()>) -> std::future::Ready<Result<Response<&'static str>, Infallible>>;

fn untouched(_: Request<()>) -> std::future::Ready<Result<Response<&'static str>, Infallible>> {
    std::future::ready(Ok(Response::new("hello")))
}

fn read(req: Request<()>) -> std::future::Ready<Result<Response<&'static str>, Infallible>> {
    if let Some(session) = req.extensions().get::<Session<Counter>>() {
        std::hint::black_box(session.get().visits);
    }
    std::future::ready(Ok(Response::new("hello")))
}

fn modify(req: Request<()>) -> std::future::Ready<Result<Response<&'static str>, Infallible>> {
    if let Some(session) = req.extensions().get::<Session<Counter>>() {
        let _ = session.update(|c| {
            c.visits += 1;
            if c.user.is_empty() {
                "alice@example.com".clone_into(&mut c.user);
            }
        });
    }
    std::future::ready(Ok(Response::new("hello")))
}

/// Polls a future that is ready at once (every handler here is).
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

fn request(cookie: Option<&HeaderValue>) -> Request<()> {
    let mut req = Request::get("/").body(()).unwrap();
    if let Some(cookie) = cookie {
        req.headers_mut().insert(COOKIE, cookie.clone());
    }
    req
}

fn main() {
    const CALLS: u64 = 1000;
    let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
    let layer = SessionLayer::<Counter>::new(ring, SessionConfig::default());
    // A valid cookie, as a browser would send it.
    let mut service = layer.layer(tower_service_fn(modify));
    let first = now(service.call(request(None))).unwrap();
    let set_cookie = first.headers().get(SET_COOKIE).unwrap().to_str().unwrap();
    let cookie = HeaderValue::from_str(set_cookie.split(';').next().unwrap()).unwrap();

    println!("allocations per request (mean of {CALLS}, after warm-up), valid session cookie:");
    for (name, handler) in [
        ("untouched", untouched as Handler),
        ("read-only", read as Handler),
        ("modifying", modify as Handler),
    ] {
        let mut bare = tower_service_fn(handler);
        let mut service = layer.layer(tower_service_fn(handler));
        for _ in 0..10 {
            drop(now(service.call(request(Some(&cookie)))));
        }
        let mut totals = [0u64; 4];
        for _ in 0..CALLS {
            let (req, bare_req) = (request(Some(&cookie)), request(Some(&cookie)));
            let (response, layered) = measure(|| now(service.call(req)));
            drop(response);
            let (response, unlayered) = measure(|| now(bare.call(bare_req)));
            drop(response);
            totals[0] += layered.allocations;
            totals[1] += layered.bytes;
            totals[2] += unlayered.allocations;
            totals[3] += unlayered.bytes;
        }
        println!(
            "  {name:<10} {:>5.1} allocations, {:>6.0} bytes   (bare handler: {:.1}, {:.0} bytes)",
            totals[0] as f64 / CALLS as f64,
            totals[1] as f64 / CALLS as f64,
            totals[2] as f64 / CALLS as f64,
            totals[3] as f64 / CALLS as f64,
        );
    }
}

/// `tower::service_fn`, without depending on `tower` for it.
fn tower_service_fn(handler: Handler) -> ServiceFn {
    ServiceFn(handler)
}

#[derive(Clone, Copy)]
struct ServiceFn(Handler);

impl Service<Request<()>> for ServiceFn {
    type Response = Response<&'static str>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<&'static str>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<()>) -> Self::Future {
        (self.0)(req)
    }
}
