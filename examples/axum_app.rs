//! An axum app with sealed sessions: a visit counter, login (with "remember me") and logout,
//! flash messages and notes.
//!
//! ```text
//! cargo run -q --example keygen > session.keys          # once: keep this file secret
//! SESSION_KEYS=$(cat session.keys) PORT=3000 cargo run --example axum_app
//! ```
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | `visits: N` (counts this session's visits) |
//! | `GET /login` | an HTML login form |
//! | `POST /login` (form `username=NAME`, optional `remember=1`) | `hello NAME`; sets the user, gives the session a new id and the flash message `welcome NAME`. With `remember=1` the session is a persistent cookie of the longest lifetime (30 days); without it, a browser-session cookie (forgotten when the browser closes; 1 day idle, 7 days at most) |
//! | `GET /me` | the user name, or 401 when not logged in |
//! | `GET /flash` | the pending flash messages, one per line (each shown once; empty when none) |
//! | `POST /logout` | 200; destroys the session |
//! | `POST /notes` (text/plain body) | `notes: K`, or 413 naming the size limit |
//! | `GET /notes` | the notes, one per line |
//!
//! The key ring comes from `$SESSION_KEYS` (key strings separated by commas, the first one
//! sealing); without it a fresh key is generated, so sessions do not survive a restart.
//! `SESSION_INSECURE_HTTP=1` turns on `insecure_http` (development only: the cookie is
//! `session`, without `Secure`), for Safari and other WebKit browsers, which refuse `Secure`
//! cookies over `http://localhost` (tests/browser.rs, module `webkit`).
//! Warnings and refused cookies are logged to stderr (`RUST_LOG=sealed_session=debug` shows
//! more).
#![allow(clippy::print_stderr)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use sealed_session::{
    Algorithm, Key, KeyError, KeyRing, Lifetime, Session, SessionConfig, SessionError, SessionLayer,
};
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
    /// `1` when the "remember me" box is ticked.
    remember: Option<String>,
}

/// A day, as the default idle timeout; a plain login's session lasts a week at most.
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

async fn index(session: Session<AppSession>) -> Response {
    match session.update(|s| {
        s.visits += 1;
        s.visits
    }) {
        Ok(visits) => format!("visits: {visits}").into_response(),
        Err(error) => too_large(error),
    }
}

async fn login_form() -> Html<&'static str> {
    Html(
        "<!doctype html><title>log in</title>\
         <form method=post action=/login>\
         <label>user name <input name=username id=username autofocus></label>\
         <label><input type=checkbox name=remember id=remember value=1> remember me</label>\
         <button id=submit>log in</button></form>",
    )
}

async fn login(
    session: Session<AppSession>,
    Form(login): Form<Login>,
) -> Result<String, SessionError> {
    let username = login.username;
    // "Remember me": a persistent cookie of the configuration's longest lifetime; otherwise
    // one the browser forgets when it closes (the server still ends it after a day idle).
    let lifetime = if login.remember.as_deref() == Some("1") {
        Lifetime::persistent()
    } else {
        Lifetime::browser_session()
            .with_idle_timeout(DAY)
            .with_max_lifetime(7 * DAY)
    };
    // The logged-in session starts fresh, built from the fields chosen to carry over (the
    // visit count and the notes: nothing secret, nothing that grants anything), never
    // `update`d from the anonymous one: that may be a session a sibling subdomain planted,
    // and a secret in it (a CSRF token the attacker knows) would survive the login.
    let before = session.get();
    session.set(AppSession {
        visits: before.visits,
        user: Some(username.clone()),
        notes: before.notes.clone(),
    })?;
    // A new id and a fresh lifetime on login: a cookie from before never carries the
    // logged-in identity.
    session.renew()?;
    session.set_lifetime(lifetime)?;
    session.flash(format!("welcome {username}"))?;
    Ok(format!("hello {username}"))
}

async fn flash(session: Session<AppSession>) -> Result<String, SessionError> {
    let messages = session.take_flash()?;
    Ok(messages.iter().map(|m| format!("{m}\n")).collect())
}

async fn me(session: Session<AppSession>) -> Response {
    match &session.get().user {
        Some(user) => user.clone().into_response(),
        None => (StatusCode::UNAUTHORIZED, "not logged in").into_response(),
    }
}

async fn logout(session: Session<AppSession>) -> Result<&'static str, SessionError> {
    session.destroy()?;
    Ok("logged out")
}

async fn add_note(session: Session<AppSession>, note: String) -> Response {
    match session.update(|s| {
        s.notes.push(note);
        s.notes.len()
    }) {
        Ok(count) => format!("notes: {count}").into_response(),
        Err(error) => too_large(error),
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

fn too_large(error: SessionError) -> Response {
    // SessionError is a response: 413 naming the limit for TooLarge, 500 otherwise.
    error.into_response()
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

/// Events at `info` and above on stderr (or as `RUST_LOG` says, e.g.
/// `RUST_LOG=sealed_session=debug`): the session layer's warnings show where they happen.
fn install_logging() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .init();
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    install_logging();
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    // Anonymous visits keep the defaults (a day idle, a week at most); "remember me" may ask
    // for up to the maxima: 30 days.
    let config = SessionConfig::builder()
        .idle_timeout(30 * DAY)
        .max_lifetime(30 * DAY)
        .lifetime(
            Lifetime::persistent()
                .with_idle_timeout(DAY)
                .with_max_lifetime(7 * DAY),
        )
        .insecure_http(std::env::var("SESSION_INSECURE_HTTP").is_ok_and(|value| value == "1"))
        .build()?;
    let app = Router::new()
        .route("/", get(index))
        .route("/login", get(login_form).post(login))
        .route("/me", get(me))
        .route("/flash", get(flash))
        .route("/logout", axum::routing::post(logout))
        .route("/notes", get(notes).post(add_note))
        .layer(SessionLayer::<AppSession>::new(key_ring()?, config));
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
