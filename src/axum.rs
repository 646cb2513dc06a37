//! axum: [`Session<T>`] as an extractor.
//!
//! Depends on `axum-core` only. A handler that extracts `Session<T>` on a route without a
//! [`SessionLayer<T>`](crate::SessionLayer) gets a 500 whose body names the missing layer:
//! a misconfiguration must be loud, never a silent 200 with a throwaway session.

use core::any::type_name;
use core::fmt;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::session::{Session, SessionData};

impl<S, T> FromRequestParts<S> for Session<T>
where
    S: Send + Sync,
    T: SessionData,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or(SessionRejection {
                session_type: type_name::<T>(),
            })
    }
}

/// The [`Session<T>`] extractor found no session: no [`SessionLayer<T>`](crate::SessionLayer)
/// wraps the route (or it was built for another `T`).
///
/// Responds `500 Internal Server Error` with a body that names the missing layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRejection {
    session_type: &'static str,
}

impl SessionRejection {
    /// The status code: `500`, since this is a server misconfiguration.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The response body: names the missing layer and how to add it.
    #[must_use]
    pub fn body_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "missing SessionLayer<{t}>: the Session<{t}> extractor needs the route wrapped in \
             .layer(SessionLayer::<{t}>::new(ring, config))",
            t = self.session_type
        )
    }
}

impl std::error::Error for SessionRejection {}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        (self.status(), self.body_text()).into_response()
    }
}
