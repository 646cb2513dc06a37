//! Schema evolution over real servers (SECURITY-TESTS G2), through both adapters and both
//! algorithms: a cookie sealed by a layer at schema 1 (type `V1`) is read by a layer at
//! schema 2 (type `V2`, migration registered) as the converted data and re-sealed as schema 2
//! on that response; a phase-1 instance reads schema-2 cookies and writes schema 1; an
//! unregistered version gives a fresh session. Then a two-phase rollout on a two-instance
//! fleet under load, without logging anyone out.

use crate::{common, harness};

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use sealed_session::{
    Algorithm, KeyRing, Migrations, Session, SessionConfig, SessionData, SessionLayer, WireFormat,
};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tower_layer::Layer as _;

use common::{ALGORITHMS, T0, key, raw};
use harness::{Adapter, Client, Clock, Logs, Resp};

const NAME: &str = "__Host-session";

/// The session type before the change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct V1 {
    user: String,
    visits: u32,
}

/// The session type after it: a field more (postcard would misread a V1 cookie as V2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct V2 {
    user: String,
    visits: u32,
    theme: String,
}

impl From<V1> for V2 {
    fn from(v1: V1) -> Self {
        Self {
            user: v1.user,
            visits: v1.visits,
            theme: "light".to_owned(),
        }
    }
}

/// What `GET /` does to each type, and how it answers.
trait Visit: SessionData + Clone {
    fn visit(&mut self) -> String;
}

impl Visit for V1 {
    fn visit(&mut self) -> String {
        self.visits += 1;
        format!("v1 visits={}", self.visits)
    }
}

impl Visit for V2 {
    fn visit(&mut self) -> String {
        self.visits += 1;
        format!("v2 visits={} theme={}", self.visits, self.theme)
    }
}

fn answer<T: Visit>(session: Option<&Session<T>>) -> String {
    match session.map(|s| s.update(Visit::visit)) {
        Some(Ok(body)) => body,
        Some(Err(error)) => format!("error: {error}"),
        None => "no session layer".to_owned(),
    }
}

/// The instance kinds of a rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Before: V1, schema 1.
    Old,
    /// Phase 1: V2 at schema 2, reads schema 1, still writes schema 1.
    Phase1,
    /// Phase 2: V2 at schema 2, reads schema 1, writes schema 2.
    New,
    /// V2 at schema 2 with no migration registered.
    Unregistered,
}

/// Numbered schema versions, as 0.2 writes them (wire format v2).
fn config(schema: u32) -> SessionConfig {
    SessionConfig::builder()
        .schema_version(schema)
        .write_format(WireFormat::V2)
        .build()
        .unwrap()
}

fn with_clock<T: SessionData>(layer: SessionLayer<T>, clock: &Clock) -> SessionLayer<T> {
    let clock = clock.clone();
    layer.with_clock(move || UNIX_EPOCH + Duration::from_secs(clock.now()))
}

fn v2_layer(kind: Kind, ring: &KeyRing, clock: &Clock) -> SessionLayer<V2> {
    let layer = SessionLayer::<V2>::new(ring.clone(), config(2));
    let layer =
        match kind {
            Kind::Phase1 => layer
                .with_migrations(Migrations::<V2>::new().from_version::<V1>(1).write_as(
                    |v2: &V2| V1 {
                        user: v2.user.clone(),
                        visits: v2.visits,
                    },
                ))
                .unwrap(),
            Kind::New => layer
                .with_migrations(Migrations::<V2>::new().from_version::<V1>(1))
                .unwrap(),
            _ => layer,
        };
    with_clock(layer, clock)
}

async fn serve(adapter: Adapter, kind: Kind, ring: &KeyRing, clock: &Clock) -> harness::Server {
    match (adapter, kind) {
        (Adapter::Axum, Kind::Old) => {
            let layer = with_clock(SessionLayer::<V1>::new(ring.clone(), config(1)), clock);
            harness::serve_axum(
                Router::new()
                    .route("/", get(|s: Session<V1>| async move { answer(Some(&s)) }))
                    .layer(layer),
            )
            .await
        }
        (Adapter::Axum, kind) => {
            let layer = v2_layer(kind, ring, clock);
            harness::serve_axum(
                Router::new()
                    .route("/", get(|s: Session<V2>| async move { answer(Some(&s)) }))
                    .layer(layer),
            )
            .await
        }
        (Adapter::Hyper, Kind::Old) => {
            let layer = with_clock(SessionLayer::<V1>::new(ring.clone(), config(1)), clock);
            serve_hyper(layer).await
        }
        (Adapter::Hyper, kind) => serve_hyper(v2_layer(kind, ring, clock)).await,
        #[cfg(feature = "__actix-tests")]
        (Adapter::Actix, Kind::Old) => {
            let layer = with_clock(SessionLayer::<V1>::new(ring.clone(), config(1)), clock);
            let sessions = sealed_session::actix::SessionMiddleware::from(layer.sessions().clone());
            harness::actix::serve_app(move || {
                actix_web::App::new().wrap(sessions.clone()).route(
                    "/",
                    actix_web::web::get().to(|s: Session<V1>| async move { answer(Some(&s)) }),
                )
            })
        }
        #[cfg(feature = "__actix-tests")]
        (Adapter::Actix, kind) => {
            let layer = v2_layer(kind, ring, clock);
            let sessions = sealed_session::actix::SessionMiddleware::from(layer.sessions().clone());
            harness::actix::serve_app(move || {
                actix_web::App::new().wrap(sessions.clone()).route(
                    "/",
                    actix_web::web::get().to(|s: Session<V2>| async move { answer(Some(&s)) }),
                )
            })
        }
    }
}

async fn hyper_answer<T: Visit>(
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = answer(req.extensions().get::<Session<T>>());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

async fn serve_hyper<T: Visit>(layer: SessionLayer<T>) -> harness::Server {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = layer.layer(service_fn(hyper_answer::<T>));
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    harness::Server::new(addr, Adapter::Hyper, task)
}

/// The schema version in a sealed value's v2 header.
fn schema_of(resp: &Resp) -> u32 {
    let line = resp.set_cookie().expect("a Set-Cookie");
    let value = line.split(';').next().unwrap().split_once('=').unwrap().1;
    let raw = raw(value);
    assert_eq!(raw[0], 2, "wire format v2");
    u32::from_be_bytes(raw[9..13].try_into().unwrap())
}

/// Test plan: SECURITY-TESTS.md G2.
async fn migrations_over(adapter: Adapter, algorithm: Algorithm) {
    let logs = Logs::capture();
    let clock = Clock::new(T0);
    let ring = KeyRing::new(key(algorithm, 21));
    let old = serve(adapter, Kind::Old, &ring, &clock).await;
    let new = serve(adapter, Kind::New, &ring, &clock).await;
    let phase1 = serve(adapter, Kind::Phase1, &ring, &clock).await;
    let unregistered = serve(adapter, Kind::Unregistered, &ring, &clock).await;

    // Schema 1, as the old instance seals it.
    let mut client = Client::new(old.addr);
    assert_eq!(client.get("/").await.body, "v1 visits=1");
    let resp = client.get("/").await;
    assert_eq!(resp.body, "v1 visits=2");
    assert_eq!(schema_of(&resp), 1);
    let schema1 = client.cookie(NAME).unwrap();

    // The upgraded instance reads it as V2 (converted), and re-seals it as schema 2.
    logs.take();
    client.retarget(new.addr);
    let resp = client.get("/").await;
    assert_eq!(resp.body, "v2 visits=3 theme=light");
    assert_eq!(schema_of(&resp), 2);
    let captured = logs.take();
    assert_eq!(
        captured.matches("sealed_session::migrate").count(),
        1,
        "one event per old-version open: {captured}"
    );
    assert!(captured.contains("from=1"), "{captured}");
    let schema2 = client.cookie(NAME).unwrap();
    // A schema-2 cookie is current there: no event, no re-seal needed to convert.
    let resp = client.get("/").await;
    assert_eq!(resp.body, "v2 visits=4 theme=light");
    assert!(!logs.take().contains("sealed_session::migrate"));

    // Phase 1: reads schema 2 (and 1), writes schema 1.
    let mut p1 = Client::new(phase1.addr);
    p1.set_cookie(NAME, &schema2);
    let resp = p1.get("/").await;
    assert_eq!(resp.body, "v2 visits=4 theme=light");
    assert_eq!(schema_of(&resp), 1);
    let mut p1 = Client::new(phase1.addr);
    p1.set_cookie(NAME, &schema1);
    let resp = p1.get("/").await;
    assert_eq!(resp.body, "v2 visits=3 theme=light");
    assert_eq!(schema_of(&resp), 1);
    // ...which the old instance still reads.
    let written_by_phase1 = p1.cookie(NAME).unwrap();
    let mut back = Client::new(old.addr);
    back.set_cookie(NAME, &written_by_phase1);
    assert_eq!(back.get("/").await.body, "v1 visits=4");

    // Without the migration registered, a schema-1 cookie gives a fresh session.
    logs.take();
    let mut fresh = Client::new(unregistered.addr);
    fresh.set_cookie(NAME, &schema1);
    let resp = fresh.get("/").await;
    assert_eq!(resp.body, "v2 visits=1 theme=");
    assert_eq!(schema_of(&resp), 2);
    assert!(logs.take().contains("reason=\"unknown_schema\""));
}

/// Test plan: SECURITY-TESTS.md G2.
#[tokio::test]
async fn migrations_over_hyper() {
    for algorithm in ALGORITHMS {
        migrations_over(Adapter::Hyper, algorithm).await;
    }
}

/// Test plan: SECURITY-TESTS.md G2.
#[tokio::test]
async fn migrations_over_axum() {
    for algorithm in ALGORITHMS {
        migrations_over(Adapter::Axum, algorithm).await;
    }
}

/// Test plan: SECURITY-TESTS.md G2.
#[cfg(feature = "__actix-tests")]
#[tokio::test]
async fn migrations_over_actix() {
    for algorithm in ALGORITHMS {
        migrations_over(Adapter::Actix, algorithm).await;
    }
}

#[test]
fn registration_errors_name_the_version() {
    let ring = KeyRing::new(key(Algorithm::Aes256Gcm, 1));
    let twice = Migrations::<V2>::new()
        .from_version::<V1>(1)
        .from_version_with::<V1>(1, |v1| v1);
    let error = SessionLayer::<V2>::new(ring.clone(), config(2))
        .with_migrations(twice)
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("schema version 1: registered twice"),
        "{error}"
    );
    let current = Migrations::<V2>::new().from_version::<V1>(2);
    let error = SessionLayer::<V2>::new(ring.clone(), config(2))
        .with_migrations(current)
        .unwrap_err();
    assert!(
        error.to_string().contains("current schema_version"),
        "{error}"
    );
    let unknown = Migrations::<V2>::new().write_as(|v2: &V2| V1 {
        user: v2.user.clone(),
        visits: v2.visits,
    });
    let error = SessionLayer::<V2>::new(ring, config(2))
        .with_migrations(unknown)
        .unwrap_err();
    assert_eq!(error.setting(), "migrations");
}

/// A two-phase rollout on two instances under load: 16 clients, each sending every request to
/// the instance after the one it used last; the instances are replaced one at a time (old ->
/// phase 1 -> phase 2). Nobody is logged out: every client's count goes up by one on every
/// request, whichever instance answers.
async fn rollout_over(adapter: Adapter) {
    let clock = Clock::new(T0);
    let ring = KeyRing::new(key(Algorithm::Aes256Gcm, 22));
    let mut instances = [
        serve(adapter, Kind::Old, &ring, &clock).await,
        serve(adapter, Kind::Old, &ring, &clock).await,
    ];
    let mut clients: Vec<(Client, u32)> = (0..16)
        .map(|_| (Client::new(instances[0].addr), 0))
        .collect();
    let steps = [
        (0, Kind::Phase1),
        (1, Kind::Phase1),
        (0, Kind::New),
        (1, Kind::New),
    ];
    for step in 0..=steps.len() {
        // Every client at once, each alternating between the two instances.
        let addrs = [instances[0].addr, instances[1].addr];
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (mut client, mut count)) in clients.drain(..).enumerate() {
            tasks.spawn(async move {
                for request in 0..6 {
                    client.retarget(addrs[(i + request) % 2]);
                    let body = client.get("/").await.body;
                    count += 1;
                    let visits = body
                        .split(' ')
                        .find_map(|word| word.strip_prefix("visits="))
                        .unwrap_or_else(|| panic!("{body}"));
                    assert_eq!(visits.parse::<u32>().unwrap(), count, "step {step}: {body}");
                }
                (client, count)
            });
        }
        while let Some(done) = tasks.join_next().await {
            clients.push(done.unwrap());
        }
        if let Some(&(which, kind)) = steps.get(step) {
            let replacement = serve(adapter, kind, &ring, &clock).await;
            let old = core::mem::replace(&mut instances[which], replacement);
            old.shutdown().await;
        }
    }
    assert_eq!(clients.len(), 16);
    assert!(clients.iter().all(|(_, count)| *count == 6 * 5));
}

#[tokio::test]
async fn rollout_without_logouts_over_hyper() {
    rollout_over(Adapter::Hyper).await;
}

#[tokio::test]
async fn rollout_without_logouts_over_axum() {
    rollout_over(Adapter::Axum).await;
}

#[cfg(feature = "__actix-tests")]
#[tokio::test]
async fn rollout_without_logouts_over_actix() {
    rollout_over(Adapter::Actix).await;
}
