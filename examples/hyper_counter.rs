//! A plain hyper 1 server with sealed sessions: `GET /` answers `visits: N`.
//!
//! ```text
//! SESSION_KEYS=$(cargo run -q --example keygen) PORT=3000 \
//!     cargo run --example hyper_counter --features hyper
//! ```
//!
//! The session layer wraps a `service_fn` handler in one line (`layer.layer(service_fn(..))`);
//! the handler finds its `Session<Visits>` in the request extensions.
#![allow(clippy::print_stderr)]

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sealed_session::{Algorithm, Key, KeyError, KeyRing, Session, SessionConfig, SessionLayer};
use serde::{Deserialize, Serialize};
use tower_layer::Layer;

#[derive(Clone, Default, Serialize, Deserialize)]
struct Visits {
    count: u64,
}

async fn handler(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => match req.extensions().get::<Session<Visits>>() {
            Some(session) => match session.update(|v| {
                v.count += 1;
                v.count
            }) {
                Ok(count) => (StatusCode::OK, format!("visits: {count}")),
                Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
            },
            None => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "no SessionLayer".to_owned(),
            ),
        },
        _ => (StatusCode::NOT_FOUND, "not found".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    Ok(response)
}

fn key_ring() -> Result<KeyRing, Box<dyn std::error::Error>> {
    match KeyRing::from_env("SESSION_KEYS") {
        // A ring text that does not parse is an error naming the variable and the line.
        Err(KeyError::EnvNotSet { .. }) => {
            eprintln!(
                "warning: SESSION_KEYS is not set, so sessions are sealed with a fresh key and end when \
                 the server stops; to keep them, make a key once with \
                 `cargo run -q --example keygen > session.keys` (or `keygen > session.keys` after \
                 `cargo install --path keygen`) and start with SESSION_KEYS=$(cat session.keys)"
            );
            Ok(KeyRing::new(Key::try_generate(Algorithm::Aes256Gcm)?))
        }
        ring => Ok(ring?),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    let sessions = SessionLayer::<Visits>::new(key_ring()?, SessionConfig::default());
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        // The whole integration: wrap the handler with the layer.
        let service = sessions.layer(service_fn(handler));
        tokio::spawn(async move {
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection error: {error}");
            }
        });
    }
}
