//! Read-modify-reseal through `SessionLayer`, in process (no sockets), for three sessions:
//!
//! - `chunks/plain_1k`: 1 KiB of data in one cookie, the baseline;
//! - `chunks/three_chunks_8k`: 8 KiB of incompressible data split across three cookies
//!   (`max_chunks(3)`);
//! - `chunks/compressed_8k`: 8 KiB of repetitive data compressed into one cookie
//!   (`compression(true)`).
//!
//! Each iteration sends the same `Cookie` header and the handler bumps a counter, so every
//! request opens (joins, inflates), changes and re-seals (compresses, splits) the session.
//! Run `cargo bench -p sealed-session-bench --bench chunks -- --warm-up-time 1
//! --measurement-time 3` and compare the three in the same run.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark: setup failures should abort loudly"
)]

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response};
use rand_core::{OsRng, RngCore};
use sealed_session::{Algorithm, Key, KeyRing, Session, SessionConfig, SessionLayer};
use serde::{Deserialize, Serialize};
use tower_layer::Layer as _;
use tower_service::Service;

#[derive(Clone, Default, Serialize, Deserialize)]
struct Payload {
    visits: u64,
    data: Vec<u8>,
}

fn modify(req: Request<()>) -> std::future::Ready<Result<Response<()>, Infallible>> {
    if let Some(session) = req.extensions().get::<Session<Payload>>() {
        let _ = session.update(|p| p.visits += 1);
    }
    std::future::ready(Ok(Response::new(())))
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

/// A service over `config` and the `Cookie` header of a session holding `data`.
fn setup(
    config: SessionConfig,
    data: Vec<u8>,
) -> (
    impl Service<Request<()>, Response = Response<()>, Error = Infallible>,
    HeaderValue,
) {
    let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
    let layer = SessionLayer::<Payload>::new(ring, config);
    let mut service = layer.layer(tower_service_fn(modify));
    let seed = move |req: Request<()>| {
        if let Some(session) = req.extensions().get::<Session<Payload>>() {
            session
                .set(Payload {
                    visits: 0,
                    data: data.clone(),
                })
                .unwrap();
        }
        std::future::ready(Ok::<_, Infallible>(Response::new(())))
    };
    let mut seeder = layer.layer(tower_service_fn(seed));
    let response = now(seeder.call(Request::get("/").body(()).unwrap())).unwrap();
    let pairs: Vec<String> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|line| line.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let header = HeaderValue::try_from(pairs.join("; ")).unwrap();
    // One warm-up request: the response must re-seal into as many lines.
    let mut req = Request::get("/").body(()).unwrap();
    req.headers_mut().insert(COOKIE, header.clone());
    let lines = now(service.call(req))
        .unwrap()
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .count();
    assert_eq!(lines, pairs.len());
    (service, header)
}

/// A `tower_service::Service` from a function returning a ready future.
fn tower_service_fn<F>(f: F) -> ServiceFn<F> {
    ServiceFn(f)
}

#[derive(Clone)]
struct ServiceFn<F>(F);

impl<F, Fut> Service<Request<()>> for ServiceFn<F>
where
    F: FnMut(Request<()>) -> Fut,
    Fut: Future<Output = Result<Response<()>, Infallible>>,
{
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Fut;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<()>) -> Fut {
        (self.0)(req)
    }
}

fn random(len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    OsRng.fill_bytes(&mut data);
    data
}

fn bench(c: &mut Criterion) {
    let repetitive: Vec<u8> = b"item-0042,".iter().copied().cycle().take(8192).collect();
    let cases = [
        ("plain_1k", SessionConfig::default(), random(1024), 1),
        (
            "three_chunks_8k",
            SessionConfig::builder()
                .max_chunks(3)
                .cookie_header_budget(12 * 1024)
                .build()
                .unwrap(),
            random(8 * 1024),
            3,
        ),
        (
            "compressed_8k",
            SessionConfig::builder().compression(true).build().unwrap(),
            repetitive,
            1,
        ),
    ];
    let mut group = c.benchmark_group("chunks");
    for (name, config, data, lines) in cases {
        let (mut service, header) = setup(config, data);
        assert_eq!(
            header.to_str().unwrap().matches("; ").count() + 1,
            lines,
            "{name}"
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut req = Request::get("/").body(()).unwrap();
                req.headers_mut().insert(COOKIE, header.clone());
                black_box(now(service.call(req)).unwrap());
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
