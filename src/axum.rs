//! axum: [`Session<T>`] as an extractor.
//!
//! Depends on `axum-core` only. A handler that extracts `Session<T>` on a route without a
//! [`SessionLayer<T>`](crate::SessionLayer) gets a 500 whose body names the missing layer:
//! a misconfiguration must be loud, never a silent 200 with a throwaway session.

use core::fmt;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::error::{MissingSession, SessionError};
use crate::session::{Session, SessionData};

impl<S, T> FromRequestParts<S> for Session<T>
where
    S: Send + Sync,
    T: SessionData,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let missing = || {
            SessionRejection(MissingSession::new::<T>(
                "SessionLayer",
                "route wrapped in .layer",
            ))
        };
        parts.extensions.get::<Self>().cloned().ok_or_else(missing)
    }
}

/// The [`Session<T>`] extractor found no session: no [`SessionLayer<T>`](crate::SessionLayer)
/// wraps the route (or it was built for another `T`).
///
/// Responds `500 Internal Server Error` with a body that names the missing layer (the engine's
/// [`MissingSession`], which it wraps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRejection(MissingSession);

impl SessionRejection {
    /// The status code: `500`, since this is a server misconfiguration.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        status(self.0.status_code())
    }

    /// The response body: names the missing layer and how to add it.
    #[must_use]
    pub fn body_text(&self) -> String {
        self.0.to_string()
    }
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SessionRejection {}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        (self.status(), self.body_text()).into_response()
    }
}

/// A handler can return `Result<_, SessionError>` and `?` the session's changes (the answer is
/// the engine's [`SessionError::respond`], as in every adapter).
///
/// - `TooLarge` is `413 Payload Too Large`, with the message (which names the size and the
///   limit): the client sent more than the session can hold.
/// - `Conflict` is `400 Bad Request`: the request carried conflicting cookies of the session's
///   name (planted ones, say); never a 5xx for what a client sent.
/// - Everything else is a server-side error: `500 Internal Server Error` with a generic body,
///   and one `error` event (target `sealed_session::seal`) with the details.
///
/// ```
/// use axum::{Router, routing::post};
/// use sealed_session::{Session, SessionError};
///
/// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// struct Notes { notes: Vec<String> }
///
/// async fn add(session: Session<Notes>, note: String) -> Result<String, SessionError> {
///     let count = session.update(|s| { s.notes.push(note); s.notes.len() })?;
///     Ok(format!("notes: {count}"))
/// }
///
/// let app: Router = Router::new().route("/notes", post(add));
/// # drop(app);
/// ```
impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        let (code, body) = self.respond();
        (status(code), body).into_response()
    }
}

/// The engine's status code as `http`'s.
fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
