//! axum-login and axum-messages on sealed cookies, with no session store: axum-login's
//! minimal pattern, an axum-messages flash, and [`TowerSessionsLayer`] where tower-sessions'
//! `SessionManagerLayer` and store would be.
//!
//! ```text
//! cargo run -q --example keygen > session.keys          # once: keep this file secret
//! SESSION_KEYS=$(cat session.keys) cargo run --example axum_login --features tower-sessions
//! ```
//!
//! | route | answer |
//! |---|---|
//! | `POST /login` (form `username`, `password`) | `hello ferris` and the flash message `logged in`; 401 for wrong credentials |
//! | `GET /protected` | `user: ferris`, then each pending flash message on a line of its own (each shown once); 401 when not logged in |
//! | `POST /logout` | 200; the cookie is deleted, and `/protected` answers 401 |
//!
//! One user lives in memory: `ferris`, password `hunter42`. Try:
//!
//! ```text
//! curl -s -c jar -b jar -d 'username=ferris&password=hunter42' http://127.0.0.1:3000/login
//! curl -s -c jar -b jar http://127.0.0.1:3000/protected     # user: ferris / logged in
//! curl -s -c jar -b jar -X POST http://127.0.0.1:3000/logout
//! ```
//!
//! axum-login's `AuthManagerLayerBuilder` only accepts tower-sessions' own layer, so the
//! example builds its `AuthManager` with `layer_fn` inside ours (the one other line that
//! differs from axum-login's documentation). The password is compared as axum-login's
//! examples do it for brevity; store password hashes in a real application, and return the
//! hash from `session_auth_hash`: changing a password then logs that user out everywhere,
//! even with stateless cookies.
#![allow(clippy::print_stderr)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_login::{AuthManager, AuthUser, AuthnBackend, UserId, login_required};
use axum_messages::{Messages, MessagesManagerLayer};
use sealed_session::{Algorithm, Key, KeyError, KeyRing, SessionConfig, TowerSessionsLayer};
use serde::Deserialize;

// The items the app is built from are `pub(crate)` because tests/tower_sessions.rs runs this
// file as a module of its own.

#[derive(Debug, Clone)]
pub(crate) struct User {
    id: u64,
    username: String,
    pub(crate) password: String,
}

impl AuthUser for User {
    type Id = u64;

    fn id(&self) -> u64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.password.as_bytes()
    }
}

#[derive(Clone, Deserialize)]
pub(crate) struct Credentials {
    username: String,
    password: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Backend {
    pub(crate) users: HashMap<u64, User>,
}

#[derive(Debug)]
pub(crate) struct NoError;

impl std::fmt::Display for NoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("backend error")
    }
}

impl std::error::Error for NoError {}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = NoError;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<User>, NoError> {
        Ok(self
            .users
            .values()
            .find(|user| user.username == creds.username && user.password == creds.password)
            .cloned())
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, NoError> {
        Ok(self.users.get(id).cloned())
    }
}

type AuthSession = axum_login::AuthSession<Backend>;

async fn login(
    mut auth: AuthSession,
    messages: Messages,
    Form(creds): Form<Credentials>,
) -> Response {
    let user = match auth.authenticate(creds).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            return (StatusCode::UNAUTHORIZED, "wrong user name or password").into_response();
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    // `login` gives the session a new id (session fixation) before it stores the user.
    if auth.login(&user).await.is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    messages.success("logged in");
    format!("hello {}", user.username).into_response()
}

async fn protected(auth: AuthSession, messages: Messages) -> Response {
    let Some(user) = auth.user else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let lines: Vec<String> = core::iter::once(format!("user: {}", user.username))
        .chain(messages.into_iter().map(|message| message.to_string()))
        .collect();
    lines.join("\n").into_response()
}

async fn logout(mut auth: AuthSession) -> Response {
    match auth.logout().await {
        Ok(_) => "logged out".into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn ring_from_env() -> Result<KeyRing, Box<dyn std::error::Error>> {
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

/// The one user, in memory.
pub(crate) fn backend() -> Backend {
    let ferris = User {
        id: 1,
        username: "ferris".to_owned(),
        password: "hunter42".to_owned(),
    };
    Backend {
        users: HashMap::from([(ferris.id, ferris)]),
    }
}

/// axum-login's routes and layers over `session_layer`, with `more` routes beside them
/// (none here; the tests add some) that need no login.
pub(crate) fn app(backend: Backend, session_layer: TowerSessionsLayer, more: Router) -> Router {
    let auth_layer = tower_layer::layer_fn(move |inner| {
        AuthManager::new(inner, backend.clone(), "axum-login.data")
    });
    Router::new()
        .route("/protected", get(protected))
        .route_layer(login_required!(Backend))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .merge(more)
        .layer(MessagesManagerLayer)
        .layer(auth_layer)
        .layer(session_layer)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    // Where axum-login's documentation has `SessionManagerLayer::new(MemoryStore::default())`.
    let session_layer = TowerSessionsLayer::new(ring_from_env()?, SessionConfig::default());
    let app = app(backend(), session_layer, Router::new());

    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
