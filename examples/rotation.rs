//! Rotating the key ring of a running server without logging anyone out.
//!
//! ```text
//! cargo run --example rotation --features axum          # listens on 127.0.0.1:3000 ($PORT)
//! ```
//!
//! Then, in another terminal, watch a session survive two rotations and a retirement:
//!
//! ```text
//! curl -s -c jar -b jar http://127.0.0.1:3000/            # visits: 1   (sealed under key A)
//! curl -s -X POST http://127.0.0.1:3000/admin/rotate      # primary B, accept-only A
//! curl -s -c jar -b jar http://127.0.0.1:3000/            # visits: 2   (opened with A, re-sealed under B)
//! curl -s -X POST http://127.0.0.1:3000/admin/rotate      # primary C, accept-only B, A
//! curl -s -X POST http://127.0.0.1:3000/admin/retire      # retires every accept-only key
//! curl -s -c jar -b jar http://127.0.0.1:3000/            # visits: 1   (was under B: retired)
//! ```
//!
//! The last request shows what retiring does: the cookie was sealed under B, which is gone, so
//! the server hands out a fresh session. In production, retire a key only after the longest
//! session lifetime has passed since it stopped being primary (see the rotation runbook in
//! SECURITY.md), and do steps on a fleet as insert → promote → retire.
//!
//! `GET /admin/ring` shows the ring (primary first). With `ROTATE_EVERY_SECS=N` the server also
//! rotates on a timer. The admin routes are here for the demonstration: in a real service put
//! them behind authentication or on an internal listener.
#![allow(clippy::print_stderr)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use sealed_session::{Algorithm, Key, KeyRing, Session, SessionConfig, SessionLayer};
use serde::{Deserialize, Serialize};

#[derive(Clone, Default, Serialize, Deserialize)]
struct Visits {
    count: u64,
}

async fn index(session: Session<Visits>) -> String {
    match session.update(|v| {
        v.count += 1;
        v.count
    }) {
        Ok(count) => format!("visits: {count}\n"),
        Err(error) => format!("{error}\n"),
    }
}

fn describe(ring: &KeyRing) -> String {
    let ids = ring.ids();
    let accept_only: Vec<String> = ids.iter().skip(1).map(ToString::to_string).collect();
    format!(
        "primary {}, accept-only [{}]\n",
        ring.primary_id(),
        accept_only.join(", ")
    )
}

async fn show(State(ring): State<KeyRing>) -> String {
    describe(&ring)
}

fn rotate_now(ring: &KeyRing) -> String {
    let line = match Key::try_generate(Algorithm::Aes256Gcm).map(|key| ring.rotate(key)) {
        Ok(Ok(())) => describe(ring),
        Ok(Err(error)) | Err(error) => format!("rotation failed: {error}\n"),
    };
    eprint!("ring: {line}");
    line
}

async fn rotate(State(ring): State<KeyRing>) -> String {
    rotate_now(&ring)
}

async fn retire(State(ring): State<KeyRing>) -> String {
    for id in ring.ids().into_iter().skip(1) {
        if let Err(error) = ring.retire(id) {
            return format!("retire failed: {error}\n");
        }
    }
    let line = describe(&ring);
    eprint!("ring: {line}");
    line
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    let ring = KeyRing::new(Key::try_generate(Algorithm::Aes256Gcm)?);
    eprint!("ring: {}", describe(&ring));

    if let Ok(every) = std::env::var("ROTATE_EVERY_SECS") {
        let period = Duration::from_secs(every.parse::<u64>()?.max(1));
        let ring = ring.clone();
        tokio::spawn(async move {
            let mut timer = tokio::time::interval(period);
            timer.tick().await; // the first tick is immediate
            loop {
                timer.tick().await;
                rotate_now(&ring);
            }
        });
    }

    // The layer and the admin routes hold clones of one ring: a rotation through either is
    // seen by the next request.
    let sessions = SessionLayer::<Visits>::new(ring.clone(), SessionConfig::default());
    let app = Router::new()
        .route("/", get(index))
        .route("/admin/ring", get(show))
        .route("/admin/rotate", post(rotate))
        .route("/admin/retire", post(retire))
        .with_state(ring)
        .layer(sessions);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
