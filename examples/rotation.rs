//! Rotating the key ring of a running server without logging anyone out: by API, by a schedule
//! in a ring file, and "log everyone out" with a not-before time.
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
//! session lifetime has passed since it stopped being primary (see the rotation runbook in the
//! README), and do steps on a fleet as insert → promote → retire.
//!
//! # A scheduled rotation, with no admin call
//!
//! With `RING_FILE=path` the ring comes from that file (the text form in [`KeyRing`]'s docs,
//! ending with a line `end`) and is reloaded within a second of each change. Every instance
//! that reads the same file promotes a scheduled key at the same second, without talking to
//! the others. The first key that is neither revoked nor pending seals, so a scheduled key goes
//! on top; the new file is written next to the old one and renamed over it (atomic):
//!
//! ```text
//! { cargo run -q --example keygen; echo end; } > ring.keys
//! RING_FILE=ring.keys cargo run --example rotation --features axum &
//! curl -s -c jar -b jar http://127.0.0.1:3000/            # visits: 1
//! cargo run -q --example keygen -- --activate $(( $(date +%s) + 30 )) > ring.keys.new
//! cat ring.keys >> ring.keys.new && mv ring.keys.new ring.keys
//! curl -s http://127.0.0.1:3000/admin/ring                # ..., pending [X until ...]
//! sleep 30
//! curl -s -c jar -b jar http://127.0.0.1:3000/            # visits: 2, re-sealed under X
//! ```
//!
//! Without a ring file, `SCHEDULE_IN_SECS=N` schedules a new key N seconds after start-up, and
//! `ROTATE_EVERY_SECS=N` rotates on a timer.
//!
//! # Logging everyone out
//!
//! A not-before time refuses every session created before it, on every instance, without
//! rotating keys: add `not-before=$(date +%s)` as a line of the ring file, or (one instance)
//! `curl -s -X POST http://127.0.0.1:3000/admin/logout-everyone`. The next request of each
//! user gets a fresh session.
//!
//! `GET /admin/ring` shows the ring (primary first). The admin routes are here for the
//! demonstration: in a real service put them behind authentication or on an internal listener.
#![allow(clippy::print_stderr)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use sealed_session::{Algorithm, Key, KeyRing, KeyStatus, Session, SessionConfig, SessionLayer};
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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn describe(ring: &KeyRing) -> String {
    let now = unix_now();
    let (mut accept_only, mut pending, mut primary) = (Vec::new(), Vec::new(), None);
    for id in ring.ids() {
        match ring.status_at(id, now) {
            Some(KeyStatus::Primary) => primary = Some(id),
            Some(status @ KeyStatus::Pending { .. }) => pending.push(format!("{id} {status}")),
            Some(_) => accept_only.push(id.to_string()),
            None => {}
        }
    }
    let mut line = format!(
        "primary {}, accept-only [{}]",
        primary.unwrap_or_else(|| ring.primary_id()),
        accept_only.join(", ")
    );
    if !pending.is_empty() {
        line += &format!(", pending [{}]", pending.join(", "));
    }
    if let Some(not_before) = ring.not_before() {
        line += &format!(", not-before {not_before}");
    }
    line + "\n"
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

/// Retires the accept-only keys; pending ones stay.
async fn retire(State(ring): State<KeyRing>) -> String {
    let now = unix_now();
    for id in ring.ids() {
        if ring.status_at(id, now) == Some(KeyStatus::AcceptOnly) {
            if let Err(error) = ring.retire(id) {
                return format!("retire failed: {error}\n");
            }
        }
    }
    let line = describe(&ring);
    eprint!("ring: {line}");
    line
}

async fn logout_everyone(State(ring): State<KeyRing>) -> String {
    ring.set_not_before(Some(unix_now()));
    let line = describe(&ring);
    eprint!("ring: {line}");
    line
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Ring reloads and refused ring files are reported as `info` and `error` events.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    // Keep the watcher for as long as the server runs: dropping it stops the reloads.
    let (ring, _watcher) = match std::env::var_os("RING_FILE") {
        Some(path) => {
            let ring = KeyRing::from_file(&path).map_err(|error| {
                format!(
                    "RING_FILE {}: {error}",
                    std::path::Path::new(&path).display()
                )
            })?;
            let watcher = ring.watch_file(path, Duration::from_secs(1))?;
            (ring, Some(watcher))
        }
        None => (KeyRing::new(Key::try_generate(Algorithm::Aes256Gcm)?), None),
    };

    if let Ok(secs) = std::env::var("SCHEDULE_IN_SECS") {
        let at = unix_now() + secs.parse::<u64>()?;
        ring.schedule(Key::try_generate(Algorithm::Aes256Gcm)?, at)?;
    }
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
        .route("/admin/logout-everyone", post(logout_everyone))
        .with_state(ring)
        .layer(sessions);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
