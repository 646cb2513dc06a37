//! [`CsrfToken`]: a per-session random token for forms, compared in constant time.

use core::fmt;

use base64_simd::{Out, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::error::SessionError;
use crate::rng;

/// The token's length in bytes.
const TOKEN_LEN: usize = 32;
/// Its base64url length in characters.
const TOKEN_B64_LEN: usize = 43;
const _: () = assert!(TOKEN_B64_LEN == (TOKEN_LEN * 4).div_ceil(3));

/// A random token against cross-site request forgery: 32 bytes from the crate's CSPRNG, kept in
/// the session, put in each form, and compared in constant time when the form comes back.
///
/// `SameSite=Lax` (the default) already keeps the session cookie off cross-site `POST`s in
/// current browsers; the token is the defence for older browsers, `SameSite=None`
/// configurations and same-site attackers (a sibling subdomain).
///
/// # The login-form recipe
///
/// ```
/// use sealed_session::{CsrfToken, Session, SessionError};
///
/// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// struct App { user: Option<String>, csrf: Option<CsrfToken> }
///
/// /// GET /login: the form carries the session's token (made on first use).
/// fn login_form(session: &Session<App>) -> Result<String, SessionError> {
///     let token = match session.get().csrf.clone() {
///         Some(token) => token,
///         None => {
///             let token = CsrfToken::generate()?;
///             session.update(|app| app.csrf = Some(token.clone()))?;
///             token
///         }
///     };
///     Ok(format!(
///         "<form method=post><input type=hidden name=csrf value={token}>...</form>"
///     ))
/// }
///
/// /// POST /login: refuse unless the form's token is the session's; then a fresh session,
/// /// so that nothing of a planted pre-login session (its token, say) survives login
/// /// (README "Logins", SECURITY.md H9).
/// fn login(session: &Session<App>, form_csrf: &str, user: &str) -> Result<bool, SessionError> {
///     let valid = session.get().csrf.as_ref().is_some_and(|t| t.verify(form_csrf));
///     if !valid {
///         return Ok(false); // answer 403
///     }
///     // `csrf: None`: the logged-in session makes its own token on first use.
///     session.set(App { user: Some(user.to_owned()), csrf: None })?;
///     session.renew()?;
///     Ok(true)
/// }
/// # let _ = (login_form, login);
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct CsrfToken([u8; TOKEN_LEN]);

impl CsrfToken {
    /// A new random token.
    ///
    /// # Errors
    ///
    /// [`SessionError::Rng`] if the operating system's random number generator fails.
    pub fn generate() -> Result<Self, SessionError> {
        let mut bytes = [0u8; TOKEN_LEN];
        rng::fill(&mut bytes).map_err(|_| SessionError::Rng)?;
        Ok(Self(bytes))
    }

    /// Whether `submitted` (the form field, as [`Display`](fmt::Display) wrote it) is this
    /// token, in constant time with respect to its bytes.
    #[must_use]
    pub fn verify(&self, submitted: &str) -> bool {
        if submitted.len() != TOKEN_B64_LEN {
            return false;
        }
        // `TOKEN_B64_LEN` characters decode to `TOKEN_LEN` bytes at most: the room fits.
        let mut decoded = [0u8; TOKEN_LEN];
        match URL_SAFE_NO_PAD.decode(submitted.as_bytes(), Out::from_slice(&mut decoded)) {
            Ok(bytes) => bytes.len() == TOKEN_LEN && bool::from(bytes.ct_eq(&self.0)),
            Err(_) => false,
        }
    }
}

/// The token for a form field: 43 base64url characters.
impl fmt::Display for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `TOKEN_B64_LEN` is the encoded length of `TOKEN_LEN` bytes: the room fits.
        let mut text = [0u8; TOKEN_B64_LEN];
        f.write_str(URL_SAFE_NO_PAD.encode_as_str(&self.0, Out::from_slice(&mut text)))
    }
}

impl fmt::Debug for CsrfToken {
    /// Redacted: the token is as good as a password for the forms of this session.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_their_own_text_only() {
        let token = CsrfToken::generate().unwrap();
        let text = token.to_string();
        assert_eq!(text.len(), TOKEN_B64_LEN);
        assert!(token.verify(&text));
        let other = CsrfToken::generate().unwrap();
        assert!(!other.verify(&text));
        assert!(!token.verify(""));
        assert!(!token.verify(&text[..42]));
        assert!(!token.verify(&format!("{text}A")));
        let mut flipped = text.clone().into_bytes();
        flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
        assert!(!token.verify(core::str::from_utf8(&flipped).unwrap()));
        assert_eq!(format!("{token:?}"), "CsrfToken(..)");
        // It survives the session's encoding.
        let encoded = postcard::to_allocvec(&token).unwrap();
        let decoded: CsrfToken = postcard::from_bytes(&encoded).unwrap();
        assert!(decoded.verify(&text));
    }
}
