//! The app of `examples/axum_app.rs` on actix-web 4: the same routes, answers, statuses and
//! environment, so the same black-box tests pass against both.
//!
//! ```text
//! cargo run -q --example keygen > session.keys          # once: keep this file secret
//! SESSION_KEYS=$(cat session.keys) PORT=3000 cargo run --example actix_app --features actix
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
//! Where axum answers on its own (an unknown path, a method a route does not have, a form or
//! body it cannot read), this app answers as axum 0.8 does: the same status, `Allow` header and
//! body text, so that a client cannot tell the two apart.
//!
//! The key ring comes from `$SESSION_KEYS` (key strings separated by commas, the first one
//! sealing); without it a fresh key is generated, so sessions do not survive a restart.
//! Warnings and refused cookies are logged to stderr (`RUST_LOG=sealed_session=debug` shows
//! more).
#![allow(clippy::print_stderr)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, guard, web};
use sealed_session::actix::SessionMiddleware;
use sealed_session::{
    Algorithm, Key, KeyError, KeyRing, Lifetime, Session, SessionConfig, SessionError,
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

/// The largest request body read, as axum's default `DefaultBodyLimit` (2 MiB).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

async fn index(session: Session<AppSession>) -> Result<String, SessionError> {
    let visits = session.update(|s| {
        s.visits += 1;
        s.visits
    })?;
    Ok(format!("visits: {visits}"))
}

async fn login_form() -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::html()).body(
        "<!doctype html><title>log in</title>\
         <form method=post action=/login>\
         <label>user name <input name=username id=username autofocus></label>\
         <label><input type=checkbox name=remember id=remember value=1> remember me</label>\
         <button id=submit>log in</button></form>",
    )
}

async fn login(
    session: Session<AppSession>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, SessionError> {
    let login = match read_form(&req, body).await {
        Ok(login) => login,
        Err(rejection) => return Ok(rejection),
    };
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
    Ok(text(StatusCode::OK, format!("hello {username}")))
}

async fn flash(session: Session<AppSession>) -> Result<String, SessionError> {
    let messages = session.take_flash()?;
    Ok(messages.iter().map(|m| format!("{m}\n")).collect())
}

async fn me(session: Session<AppSession>) -> HttpResponse {
    match &session.get().user {
        Some(user) => text(StatusCode::OK, user.clone()),
        None => text(StatusCode::UNAUTHORIZED, "not logged in"),
    }
}

async fn logout(session: Session<AppSession>) -> Result<&'static str, SessionError> {
    session.destroy()?;
    Ok("logged out")
}

async fn add_note(
    session: Session<AppSession>,
    body: web::Payload,
) -> Result<HttpResponse, SessionError> {
    let note = match read_text(body).await {
        Ok(note) => note,
        Err(rejection) => return Ok(rejection),
    };
    // SessionError is a response: 413 naming the limit for TooLarge, 500 otherwise.
    let count = session.update(|s| {
        s.notes.push(note);
        s.notes.len()
    })?;
    Ok(text(StatusCode::OK, format!("notes: {count}")))
}

async fn notes(session: Session<AppSession>) -> String {
    session
        .get()
        .notes
        .iter()
        .map(|note| format!("{note}\n"))
        .collect()
}

/// A plain-text answer, as axum gives a `String` or a `&str`.
fn text(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::plaintext())
        .body(body.into())
}

/// The body, at most [`BODY_LIMIT`] bytes (axum's `Bytes` rejection past it).
async fn read_body(body: web::Payload) -> Result<web::Bytes, HttpResponse> {
    match body.to_bytes_limited(BODY_LIMIT).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(text(
            StatusCode::BAD_REQUEST,
            "Failed to buffer the request body",
        )),
        Err(_) => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Failed to buffer the request body: length limit exceeded",
        )),
    }
}

/// A UTF-8 body, as axum's `String` extractor reads it.
async fn read_text(body: web::Payload) -> Result<String, HttpResponse> {
    let bytes = read_body(body).await?;
    String::from_utf8(bytes.to_vec()).map_err(|error| {
        text(
            StatusCode::BAD_REQUEST,
            format!(
                "Request body didn't contain valid UTF-8: {}",
                error.utf8_error()
            ),
        )
    })
}

/// A url-encoded form, as axum's `Form` extractor reads a POST body.
async fn read_form(req: &HttpRequest, body: web::Payload) -> Result<Login, HttpResponse> {
    // Read first, whatever the content type: actix closes a connection whose request body is
    // left unread, where axum keeps it open.
    let bytes = read_body(body).await?;
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Form requests must have `Content-Type: application/x-www-form-urlencoded`",
        ));
    }
    serde_urlencoded::from_bytes(&bytes).map_err(|error| {
        text(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Failed to deserialize form body: {error}"),
        )
    })
}

/// A method the route does not have: 405 with the `Allow` header axum sends (and no body).
fn not_allowed(allow: &'static str) -> impl Fn() -> std::future::Ready<HttpResponse> + Clone {
    move || {
        std::future::ready(
            HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, allow))
                .finish(),
        )
    }
}

/// `GET` routes answer `HEAD` too, as axum's `get` does.
fn get_or_head() -> guard::AnyGuard {
    guard::Any(guard::Get()).or(guard::Head())
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
/// `RUST_LOG=sealed_session=debug`): the session middleware's warnings show where they happen.
fn install_logging() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse().ok())
        .unwrap_or_else(|| {
            // actix-server's start-up and shutdown lines are not the app's: it prints what
            // axum_app prints.
            Targets::new()
                .with_default(tracing::Level::INFO)
                .with_target("actix_server", tracing::Level::WARN)
        });
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .init();
}

// What `#[actix_web::main]` expands to, without actix-web's `macros` feature (and its
// proc-macro tree) in the crate's build.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    actix_web::rt::System::new().block_on(serve())
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
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
        .build()?;
    // Built once: every worker's App gets a clone (the same ring).
    let sessions = SessionMiddleware::<AppSession>::new(key_ring()?, config);
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    let addr = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .service(
                web::resource("/")
                    .route(web::route().guard(get_or_head()).to(index))
                    .default_service(web::to(not_allowed("GET,HEAD"))),
            )
            .service(
                web::resource("/login")
                    .route(web::route().guard(get_or_head()).to(login_form))
                    .route(web::post().to(login))
                    .default_service(web::to(not_allowed("GET,HEAD,POST"))),
            )
            .service(
                web::resource("/me")
                    .route(web::route().guard(get_or_head()).to(me))
                    .default_service(web::to(not_allowed("GET,HEAD"))),
            )
            .service(
                web::resource("/flash")
                    .route(web::route().guard(get_or_head()).to(flash))
                    .default_service(web::to(not_allowed("GET,HEAD"))),
            )
            .service(
                web::resource("/logout")
                    .route(web::post().to(logout))
                    .default_service(web::to(not_allowed("POST"))),
            )
            .service(
                web::resource("/notes")
                    .route(web::route().guard(get_or_head()).to(notes))
                    .route(web::post().to(add_note))
                    .default_service(web::to(not_allowed("GET,HEAD,POST"))),
            )
            .wrap(sessions.clone())
    })
    // SIGINT and SIGTERM end the process at once, as they end axum_app (actix would otherwise
    // wait up to 30 s for open connections).
    .disable_signals()
    .listen(listener)?
    .run();
    eprintln!("listening on http://{addr}");
    server.await?;
    Ok(())
}
