//! The tests' independent implementation of the wire formats v1, v2 and v3: the reference
//! crate `sealed-session-wire-reference` (tests/wire-reference), written from DESIGN.md and
//! SECURITY.md alone and shared with the bridge's tests and the fuzz targets. It calls no
//! crate internals, only the RustCrypto primitives, postcard and base64. The vectors
//! (tests/vectors*.rs) are recomputed with it byte for byte, and the envelope tests
//! (tests/codec.rs, tests/rotation.rs) build hand-made envelopes with it. Only [`crate_key`],
//! which builds the crate's own `Key`, lives here.
#![allow(dead_code, unreachable_pub, unused_imports)]

pub(crate) use sealed_session_wire_reference::*;

use sealed_session::{Algorithm, Key};

/// The crate's key for a frozen key string. The file keeps 0.1's spelling, which wrote an
/// explicitly set id like a derived one; 0.2 marks explicit ids with `=` (SECURITY-TESTS F10),
/// so the loader rebuilds such keys with `with_id`.
pub(crate) fn crate_key(text: &str) -> Key {
    let material = KeyMaterial::parse(text);
    let algorithm = match material.alg {
        Alg::Aes => Algorithm::Aes256Gcm,
        Alg::XChaCha => Algorithm::XChaCha20Poly1305,
    };
    let key = Key::from_bytes(algorithm, &material.bytes).unwrap();
    if key.id().get() == material.id {
        assert_eq!(text.parse::<Key>().unwrap(), key);
        key
    } else {
        key.with_id(sealed_session::KeyId::new(material.id))
    }
}
