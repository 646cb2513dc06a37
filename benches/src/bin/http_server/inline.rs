//! The inline limit: the read-modify-reseal a handler does when it writes the session work
//! out by hand, with nothing a library adds. postcard, an AES-256-GCM cipher built once, a
//! ChaCha20 CSPRNG seeded once per thread (no fork check), base64url, one `Set-Cookie` line.
//!
//! The cookie has the same shape as sealed-session's (wire format v1 header, a 12-byte nonce,
//! the plaintext `(id, created, expires, data)`, the tag; AAD = header || name || schema), so
//! the AEAD, base64 and the headers move as many bytes; it checks the expiry the way the crate
//! does. It leaves out what only a library needs: a key ring, per-hour message keys, lifetime
//! configuration, change detection, zeroizing, and the request extension.

use std::cell::RefCell;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore, SeedableRng};

use super::{Counter, bump};

pub(super) const NAME: &str = "__Host-session";
pub(super) const ATTRIBUTES: &str = "; Path=/; Secure; HttpOnly; SameSite=Lax";
const IDLE: u64 = 24 * 3600;
const HEADER_LEN: usize = 9;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

struct Sealer {
    cipher: Aes256Gcm,
    rng: ChaCha20Rng,
    buf: Vec<u8>,
}

thread_local! {
    static SEALER: RefCell<Sealer> = RefCell::new(Sealer {
        cipher: Aes256Gcm::new(GenericArray::from_slice(&[0x17; 32])),
        rng: ChaCha20Rng::from_rng(OsRng).unwrap_or_else(|_| ChaCha20Rng::seed_from_u64(7)),
        buf: Vec::new(),
    });
}

pub(super) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn header(hour: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0] = 1;
    header[1..5].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    header[5..9].copy_from_slice(&hour.to_be_bytes());
    header
}

fn aad(header: &[u8]) -> [u8; HEADER_LEN + NAME.len() + 4] {
    let mut aad = [0u8; HEADER_LEN + NAME.len() + 4];
    aad[..HEADER_LEN].copy_from_slice(header);
    aad[HEADER_LEN..HEADER_LEN + NAME.len()].copy_from_slice(NAME.as_bytes());
    aad
}

type Plain = ([u8; 16], u64, u64, Counter);

impl Sealer {
    fn open(&mut self, value: &str, now: u64) -> Option<Plain> {
        self.buf.clear();
        URL_SAFE_NO_PAD.decode_vec(value, &mut self.buf).ok()?;
        if self.buf.len() < HEADER_LEN + NONCE_LEN + TAG_LEN {
            return None;
        }
        let (header, rest) = self.buf.split_at_mut(HEADER_LEN);
        let (nonce, rest) = rest.split_at_mut(NONCE_LEN);
        let (body, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
        self.cipher
            .decrypt_in_place_detached(
                GenericArray::from_slice(nonce),
                &aad(header),
                body,
                GenericArray::from_slice(tag),
            )
            .ok()?;
        let plain: Plain = postcard::from_bytes(body).ok()?;
        (now < plain.2).then_some(plain)
    }

    fn seal(&mut self, plain: &Plain, now: u64) -> String {
        let header = header(u32::try_from(now / 3600).unwrap_or(u32::MAX));
        self.buf.clear();
        self.buf.extend_from_slice(&header);
        self.buf.resize(HEADER_LEN + NONCE_LEN, 0);
        self.rng.fill_bytes(&mut self.buf[HEADER_LEN..]);
        let mut buf =
            postcard::to_extend(plain, core::mem::take(&mut self.buf)).unwrap_or_default();
        let (head, body) = buf.split_at_mut(HEADER_LEN + NONCE_LEN);
        let tag = self
            .cipher
            .encrypt_in_place_detached(
                GenericArray::from_slice(&head[HEADER_LEN..]),
                &aad(&header),
                body,
            )
            .unwrap_or_default();
        buf.extend_from_slice(&tag);
        let mut line =
            String::with_capacity(NAME.len() + 1 + buf.len() * 4 / 3 + 4 + 20 + ATTRIBUTES.len());
        line.push_str(NAME);
        line.push('=');
        URL_SAFE_NO_PAD.encode_string(&buf, &mut line);
        line.push_str("; Max-Age=");
        line.push_str(&(plain.2 - now).to_string());
        line.push_str(ATTRIBUTES);
        self.buf = buf;
        line
    }
}

/// Opens the request's session cookie (or starts a session), bumps the counter and re-seals.
pub(super) fn visit(headers: &HeaderMap) -> (Option<HeaderValue>, u64) {
    let now = now();
    let value = session_cookie(headers);
    SEALER.with(|sealer| {
        let mut sealer = sealer.borrow_mut();
        let (id, created, _, mut data) = value
            .and_then(|value| sealer.open(value, now))
            .unwrap_or_else(|| {
                let mut id = [0u8; 16];
                sealer.rng.fill_bytes(&mut id);
                (id, now, 0, Counter::default())
            });
        let visits = bump(&mut data);
        let line = sealer.seal(&(id, created, now + IDLE, data), now);
        (HeaderValue::from_str(&line).ok(), visits)
    })
}

/// The value of the request's session cookie, if it sent one.
pub(super) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|field| field.to_str().ok())
        .flat_map(|field| field.split(';'))
        .find_map(|pair| pair.trim_start().strip_prefix(NAME)?.strip_prefix('='))
}

/// Adds the `Set-Cookie` line and keeps the response out of shared caches, as the layer does.
pub(super) fn finish(headers: &mut HeaderMap, set_cookie: Option<HeaderValue>) {
    if let Some(line) = set_cookie {
        headers.append(SET_COOKIE, line);
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
