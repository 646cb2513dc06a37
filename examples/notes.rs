//! A notes app done right: login with "remember me" and a CSRF token, a CSRF-protected form
//! that adds a note, flash messages after each action, and a key ring file that is watched.
//!
//! ```text
//! cargo run -q --example keygen > session.keys          # once: keep this file secret
//! SESSION_KEYS_FILE=session.keys PORT=3000 cargo run --example notes
//! ```
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | HTML: the pending flash messages (each shown once), then the user's notes with an add-note form and a logout form, or a link to the login form |
//! | `GET /login` | HTML: the pending flash messages, then a login form (`username`, `remember`, the hidden `csrf` token) |
//! | `POST /login` (form `username`, optional `remember=1`, `csrf`) | `303` to `/` with the flash `welcome NAME`; a new session id; with `remember=1` a persistent cookie (30 days), else a browser-session cookie |
//! | `GET /notes` | the notes as text, one per line; `401` when not logged in |
//! | `POST /notes` (form `text`, `csrf`) | `303` to `/` with the flash `note added`; `401` when not logged in, `413` naming the limit when the session would be too large |
//! | `POST /logout` (form `csrf`) | `303` to `/login` with the flash `logged out`: the session ends, and its cookie is replaced by a new, empty session (a new id) that carries only the flash |
//!
//! Every `POST` without the session's token in its `csrf` field gets `403`. The key ring
//! comes from `$SESSION_KEYS_FILE` (a ring file, reloaded when it changes: rotate keys without
//! a restart) or `$SESSION_KEYS` (key strings separated by commas, the first one sealing);
//! without either a fresh key is generated, so sessions do not survive a restart. `$PORT`
//! defaults to 3000. `tests/notes.rs` tests it through the test kit (feature `test-util`).
#![allow(clippy::print_stderr)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use sealed_session::{
    Algorithm, CsrfToken, Key, KeyError, KeyRing, Lifetime, Session, SessionConfig, SessionError,
    SessionLayer,
};
use serde::{Deserialize, Serialize};

/// Everything the app keeps per browser.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Notes {
    /// Who is logged in.
    pub user: Option<String>,
    /// The token every form carries (made on first use, a new one on login).
    pub csrf: Option<CsrfToken>,
    /// The user's notes.
    pub notes: Vec<String>,
}

/// "Remember me" lasts 30 days; a plain login is a browser-session cookie.
pub const REMEMBER: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The sessions' configuration: the secure defaults, with room for "remember me".
///
/// # Errors
///
/// None in practice: the settings are valid.
pub fn config() -> Result<SessionConfig, sealed_session::ConfigError> {
    SessionConfig::builder()
        .idle_timeout(REMEMBER)
        .max_lifetime(REMEMBER)
        .lifetime(Lifetime::browser_session().with_idle_timeout(Duration::from_secs(24 * 3600)))
        .build()
}

/// The app's routes, inside `layer`.
pub fn app(layer: SessionLayer<Notes>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login))
        .route("/notes", get(list).post(add))
        .route("/logout", post(logout))
        .layer(layer)
}

/// The session's CSRF token, made on first use.
fn token(session: &Session<Notes>) -> Result<CsrfToken, SessionError> {
    if let Some(token) = session.get().csrf.clone() {
        return Ok(token);
    }
    let token = CsrfToken::generate()?;
    session.update(|s| s.csrf = Some(token.clone()))?;
    Ok(token)
}

/// Whether `submitted` is the session's token.
fn valid(session: &Session<Notes>, submitted: &str) -> bool {
    session
        .get()
        .csrf
        .as_ref()
        .is_some_and(|t| t.verify(submitted))
}

fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, "invalid CSRF token").into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn home(session: Session<Notes>) -> Result<Html<String>, SessionError> {
    let mut page = String::from("<!doctype html><title>notes</title>");
    for message in session.take_flash()? {
        page.push_str(&format!("<p class=flash>{}</p>", escape(&message)));
    }
    let data = session.get();
    let Some(user) = &data.user else {
        page.push_str("<a href=/login>log in</a>");
        return Ok(Html(page));
    };
    let csrf = token(&session)?;
    page.push_str(&format!("<h1>{}'s notes</h1><ul>", escape(user)));
    for note in &data.notes {
        page.push_str(&format!("<li>{}</li>", escape(note)));
    }
    page.push_str(&format!(
        "</ul><form method=post action=/notes><input type=hidden name=csrf value={csrf}>\
         <input name=text><button>add</button></form>\
         <form method=post action=/logout><input type=hidden name=csrf value={csrf}>\
         <button>log out</button></form>"
    ));
    Ok(Html(page))
}

async fn login_form(session: Session<Notes>) -> Result<Html<String>, SessionError> {
    let mut said = String::new();
    for message in session.take_flash()? {
        said.push_str(&format!("<p class=flash>{}</p>", escape(&message)));
    }
    let csrf = token(&session)?;
    Ok(Html(format!(
        "<!doctype html><title>log in</title>{said}<form method=post action=/login>\
         <input type=hidden name=csrf value={csrf}><input name=username>\
         <label><input type=checkbox name=remember value=1> remember me</label>\
         <button>log in</button></form>"
    )))
}

#[derive(Deserialize)]
struct Login {
    username: String,
    remember: Option<String>,
    csrf: String,
}

async fn login(session: Session<Notes>, Form(form): Form<Login>) -> Result<Response, SessionError> {
    if !valid(&session, &form.csrf) {
        return Ok(forbidden());
    }
    session.update(|s| {
        s.user = Some(form.username.clone());
        s.csrf = None; // a new token for the logged-in session
    })?;
    session.cycle_id()?; // session fixation: a new id on login
    session.set_lifetime(if form.remember.is_some() {
        Lifetime::persistent()
    } else {
        Lifetime::browser_session()
    })?;
    session.flash(format!("welcome {}", form.username))?;
    Ok(Redirect::to("/").into_response())
}

async fn list(session: Session<Notes>) -> Response {
    let data = session.get();
    if data.user.is_none() {
        return (StatusCode::UNAUTHORIZED, "log in first").into_response();
    }
    data.notes.join("\n").into_response()
}

#[derive(Deserialize)]
struct Note {
    text: String,
    csrf: String,
}

async fn add(session: Session<Notes>, Form(form): Form<Note>) -> Result<Response, SessionError> {
    if !valid(&session, &form.csrf) {
        return Ok(forbidden());
    }
    if session.get().user.is_none() {
        return Ok((StatusCode::UNAUTHORIZED, "log in first").into_response());
    }
    session.update(|s| s.notes.push(form.text))?;
    session.flash("note added")?;
    Ok(Redirect::to("/").into_response())
}

#[derive(Deserialize)]
struct Logout {
    csrf: String,
}

async fn logout(
    session: Session<Notes>,
    Form(form): Form<Logout>,
) -> Result<Response, SessionError> {
    if !valid(&session, &form.csrf) {
        return Ok(forbidden());
    }
    session.destroy()?;
    // After `destroy`, a flash starts a new, empty session that carries only the message: the
    // response replaces the old cookie with it.
    session.flash("logged out")?;
    Ok(Redirect::to("/login").into_response())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let mut _watcher = None;
    let ring = if let Ok(path) = std::env::var("SESSION_KEYS_FILE") {
        let ring = KeyRing::from_file(&path)?;
        _watcher = Some(ring.watch_file(path, Duration::from_secs(5)));
        ring
    } else {
        match KeyRing::from_env("SESSION_KEYS") {
            Err(KeyError::EnvNotSet { .. }) => {
                eprintln!(
                    "warning: neither SESSION_KEYS_FILE nor SESSION_KEYS is set, so sessions are \
                     sealed with a fresh key and end when the server stops; to keep them, make a \
                     ring file once with `{{ cargo run -q --example keygen; echo end; }} > \
                     session.keys` and start with SESSION_KEYS_FILE=session.keys"
                );
                KeyRing::new(Key::generate(Algorithm::Aes256Gcm))
            }
            ring => ring?,
        }
    };
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let layer = SessionLayer::<Notes>::new(ring, config()?);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    eprintln!("notes on http://{}", listener.local_addr()?);
    axum::serve(listener, app(layer)).await?;
    Ok(())
}
