//! An axum app with sealed sessions: a visit counter, login/logout and notes.
//!
//! ```text
//! SESSION_KEYS=$(cargo run -q --example keygen) PORT=3000 \
//!     cargo run --example axum_app --features axum
//! ```
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | `visits: N` (counts this session's visits) |
//! | `GET /login` | an HTML login form |
//! | `POST /login` (form `username=NAME`) | `hello NAME`; sets the user and cycles the session id |
//! | `GET /me` | the user name, or 401 when not logged in |
//! | `POST /logout` | 200; destroys the session |
//! | `POST /notes` (text/plain body) | `notes: K`, or 413 naming the size limit |
//! | `GET /notes` | the notes, one per line |
//!
//! The key ring comes from `$SESSION_KEYS` (key strings separated by commas, the first one
//! sealing); without it a fresh key is generated, so sessions do not survive a restart.
#![allow(clippy::print_stderr)]

use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use sealed_session::{Algorithm, Key, KeyRing, Session, SessionConfig, SessionError, SessionLayer};
use serde::{Deserialize, Serialize};

/// Everything this app keeps per browser. Bump the schema version when its shape changes.
#[derive(Clone, Default, Serialize, Deserialize)]
struct AppSession {
    visits: u64,
    user: Option<String>,
    notes: Vec<String>,
}

#[derive(Deserialize)]
struct Login {
    username: String,
}

async fn index(session: Session<AppSession>) -> Response {
    match session.update(|s| {
        s.visits += 1;
        s.visits
    }) {
        Ok(visits) => format!("visits: {visits}").into_response(),
        Err(error) => too_large(&error),
    }
}

async fn login_form() -> Html<&'static str> {
    Html(
        "<!doctype html><title>log in</title>\
         <form method=post action=/login>\
         <label>user name <input name=username id=username autofocus></label>\
         <button id=submit>log in</button></form>",
    )
}

async fn login(session: Session<AppSession>, Form(login): Form<Login>) -> Response {
    let username = login.username;
    let result = session
        .update(|s| s.user = Some(username.clone()))
        // A new id on login: a cookie from before never carries the logged-in identity.
        .and_then(|()| session.cycle_id());
    match result {
        Ok(()) => format!("hello {username}").into_response(),
        Err(error) => too_large(&error),
    }
}

async fn me(session: Session<AppSession>) -> Response {
    match &session.get().user {
        Some(user) => user.clone().into_response(),
        None => (StatusCode::UNAUTHORIZED, "not logged in").into_response(),
    }
}

async fn logout(session: Session<AppSession>) -> &'static str {
    session.destroy();
    "logged out"
}

async fn add_note(session: Session<AppSession>, note: String) -> Response {
    match session.update(|s| {
        s.notes.push(note);
        s.notes.len()
    }) {
        Ok(count) => format!("notes: {count}").into_response(),
        Err(error) => too_large(&error),
    }
}

async fn notes(session: Session<AppSession>) -> String {
    session
        .get()
        .notes
        .iter()
        .map(|note| format!("{note}\n"))
        .collect()
}

fn too_large(error: &SessionError) -> Response {
    let status = match error {
        SessionError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, error.to_string()).into_response()
}

fn key_ring() -> Result<KeyRing, Box<dyn std::error::Error>> {
    match std::env::var("SESSION_KEYS") {
        Ok(keys) => Ok(keys.parse()?),
        Err(_) => {
            eprintln!(
                "warning: SESSION_KEYS is not set; using a fresh key, so sessions end when the \
                 server stops (generate one with `cargo run --example keygen`)"
            );
            Ok(KeyRing::new(Key::try_generate(Algorithm::Aes256Gcm)?))
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    let app = Router::new()
        .route("/", get(index))
        .route("/login", get(login_form).post(login))
        .route("/me", get(me))
        .route("/logout", axum::routing::post(logout))
        .route("/notes", get(notes).post(add_note))
        .layer(SessionLayer::<AppSession>::new(
            key_ring()?,
            SessionConfig::default(),
        ));
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
