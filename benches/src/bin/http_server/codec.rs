//! The `hyper-codec` and `axum-codec` modes: the crate's wire format without its engine and
//! without a layer. The handler does the inline limit's read-modify-reseal through the public
//! [`Codec`] (open, bump, seal) and writes the line the layer writes (`__Host-session`,
//! `Max-Age`, `Path=/; Secure; HttpOnly; SameSite=Lax`, and `Cache-Control: no-store`).
//!
//! Read against the inline limit, this row is what the format and the codec cost (the v3
//! header and head, the hourly message keys, the key ring); a session row less this row and
//! less its stack's handle floor is what the engine (change detection, the check before
//! sealing, lifetimes, the plan) and the layer's own work add.

use std::error::Error;
use std::sync::OnceLock;

use http::{HeaderMap, HeaderValue};
use sealed_session::{Codec, KeyRing, SessionMeta};

use super::inline::{ATTRIBUTES, NAME, now, session_cookie};
use super::{Counter, bump};

static CODEC: OnceLock<Codec> = OnceLock::new();

/// Makes the codec the handler uses: `ring`, bound to [`Counter`] as the layer binds it.
pub(super) fn install(ring: KeyRing) -> Result<(), Box<dyn Error>> {
    let codec = Codec::new(ring).bound_to::<Counter>()?;
    CODEC
        .set(codec)
        .map_err(|_| "the codec is installed once")?;
    Ok(())
}

/// Opens the request's session cookie (or starts a session), bumps the counter and re-seals.
pub(super) fn visit(headers: &HeaderMap) -> (Option<HeaderValue>, u64) {
    let Some(codec) = CODEC.get() else {
        return (None, 0);
    };
    let now = now();
    let opened =
        session_cookie(headers).and_then(|value| codec.open::<Counter>(NAME, value, now).ok());
    let (meta, mut data) = match opened {
        Some(opened) => (opened.meta, opened.data),
        None => match SessionMeta::new(now) {
            Ok(meta) => (meta, Counter::default()),
            Err(_) => return (None, 0),
        },
    };
    let visits = bump(&mut data);
    let Ok(sealed) = codec.seal(NAME, &meta, &data, now) else {
        return (None, visits);
    };
    let mut line =
        String::with_capacity(NAME.len() + 1 + sealed.value.len() + 30 + ATTRIBUTES.len());
    line.push_str(NAME);
    line.push('=');
    line.push_str(&sealed.value);
    line.push_str("; Max-Age=");
    line.push_str(&sealed.expires.saturating_sub(now).to_string());
    line.push_str(ATTRIBUTES);
    (HeaderValue::from_str(&line).ok(), visits)
}
