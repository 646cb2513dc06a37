//! Opening: one straight sequence per candidate value, every client-controlled check before
//! any key derivation or AEAD work.

use core::borrow::Borrow;

use serde::de::DeserializeOwned;

use super::{
    Codec, Lifetime, Opened, Packed, ReadHead, Refusal, Schema, SealedAs, SessionId, SessionMeta,
    WireFormat,
};
use crate::envelope::{self, Header, Opening};
use crate::error::{OpenError, OpenErrorKind};
use crate::ring::{OpeningKey, RingView};

#[cfg(feature = "compression")]
use super::compress;

impl Codec {
    /// Opens a value sealed for `cookie_name`, at time `now` (Unix seconds), as the codec's
    /// schema version (older versions are refused; the middleware reads registered ones).
    ///
    /// # Errors
    ///
    /// An [`OpenError`] whose [kind](OpenError::kind) says why: for server logs, never for the
    /// client, who should just get a fresh session.
    pub fn open<T: DeserializeOwned>(
        &self,
        cookie_name: &str,
        value: &str,
        now: u64,
    ) -> Result<Opened<T>, OpenError> {
        let mut unlimited = usize::MAX;
        let schema = Schema::current(self.schema_version, self.binding, WireFormat::V3);
        self.open_chunks(
            || self.ring.view(),
            cookie_name,
            core::iter::once(value.as_bytes()),
            now,
            &mut unlimited,
            &schema,
        )
        .map_err(|refusal| match refusal {
            Refusal::Refused(error) | Refusal::Checked(error) => error,
            // An unlimited budget never runs out.
            Refusal::OverBudget => OpenError::new(OpenErrorKind::Unauthentic),
        })
    }

    /// Opens a value given as its chunks, in order. One straight sequence: length and base64url,
    /// the header, the hour window, the key, the AEAD, the plaintext, the lifetimes. Everything
    /// a client controls is checked before any key derivation or AEAD work, and each value costs
    /// at most one AEAD open (no trial decryption), taken from `aead_budget`: with none left, a
    /// value that passed every cheap check is [`Refusal::OverBudget`]. `ring` gives the
    /// snapshot of the ring to open under, asked for only by a value that decoded (an oversize
    /// or garbled one costs no snapshot, whose first use on a thread may allocate).
    pub(crate) fn open_chunks<'v, T: DeserializeOwned, R: Borrow<RingView>>(
        &self,
        ring: impl FnOnce() -> R,
        cookie_name: &str,
        chunks: impl Iterator<Item = &'v [u8]> + Clone,
        now: u64,
        aead_budget: &mut usize,
        schema: &Schema<T>,
    ) -> Result<Opened<T>, Refusal> {
        let supplied = chunks.clone().count();
        let mut opening = Opening::decode(chunks, self.max_value_len, self.schema_version)
            .map_err(OpenError::new)?;
        let header = *opening.header();
        let fail = |kind| Refusal::Refused(OpenError::new(kind).with_key_id(header.key_id));
        let sealed_as = header.sealed_as();
        // What the header alone decides, before any AEAD (a forged header costs nothing).
        if let Some(kind @ (OpenErrorKind::UnknownSchema | OpenErrorKind::Unbound)) =
            unread(schema, sealed_as)
        {
            return Err(fail(kind));
        }
        let ring = ring();
        let ring = ring.borrow();
        let key = self.check_header(ring, &header, now)?;
        if supplied != header.flags.chunks() {
            // Chunks missing or extra: what the AEAD would refuse, refused without it.
            return Err(fail(OpenErrorKind::Unauthentic));
        }
        let Some(left) = aead_budget.checked_sub(1) else {
            return Err(Refusal::OverBudget);
        };
        *aead_budget = left;
        let cipher = key.key.opening_cipher(header.hour);
        let plaintext = opening.open(&cipher, cookie_name).map_err(fail)?;
        if key.revoked {
            return Err(fail(OpenErrorKind::KeyRevoked));
        }
        // After the AEAD, as a revoked key: a value reported as of another type is authentic
        // (a forged header cannot raise the warning this kind is logged with).
        if let Some(kind) = unread(schema, sealed_as) {
            key.key.remember(cipher);
            return Err(fail(kind));
        }
        let decoded = self.decode_plaintext(&header, plaintext, schema);
        key.key.remember(cipher);
        let (head, data, packed) = decoded.ok_or_else(|| fail(OpenErrorKind::Payload))?;
        let (id, created, expires, bounds, flash) = head;
        // The sealed lifetime, capped by this codec's maxima (they may have shrunk since) and
        // floored as at the seal: the bounds checked here are the bounds reported and re-sealed.
        let bounds = self.bounds(Lifetime {
            persistent: bounds.persistent,
            idle: Some(bounds.idle),
            max: Some(bounds.max),
        });
        if created > now.saturating_add(self.clock_skew) {
            return Err(fail(OpenErrorKind::FutureDated));
        }
        if now >= created.saturating_add(bounds.max) || now >= expires {
            return Err(fail(OpenErrorKind::Expired));
        }
        if ring
            .not_before()
            .is_some_and(|not_before| created < not_before)
        {
            return Err(fail(OpenErrorKind::SessionRevoked));
        }
        Ok(Opened {
            meta: SessionMeta { id, created },
            expires,
            data,
            key_id: header.key_id,
            by_primary: key.is_primary,
            lifetime: bounds.lifetime(),
            flash,
            schema_version: schema.version_of(sealed_as),
            sealed_as,
            chunks: header.flags.chunks(),
            packed,
        })
    }

    /// The plaintext's head and data: v1 is `(id, created, expires, data)` with the codec's
    /// default lifetime; v2 adds the lifetime and the flash slot, and its data is read as the
    /// header's schema version. Nothing may follow the data.
    fn decode_plaintext<T: DeserializeOwned>(
        &self,
        header: &Header,
        plaintext: &[u8],
        schema: &Schema<T>,
    ) -> Option<(ReadHead, T, Option<Packed>)> {
        if header.version == envelope::V1 {
            let ((id, created, expires), rest) =
                postcard::take_from_bytes::<(SessionId, u64, u64)>(plaintext).ok()?;
            let data = schema.decode(header.sealed_as(), rest)?;
            let bounds = self.bounds(Lifetime::persistent());
            return Some(((id, created, expires, bounds, Vec::new()), data, None));
        }
        let (head, rest) = super::head::read(plaintext)?;
        #[cfg(feature = "compression")]
        if header.flags.compressed() {
            let inflated = compress::inflate(rest)?;
            let data = schema.decode(header.sealed_as(), &inflated)?;
            // Kept for a re-seal of the unchanged session (a refresh, a key upgrade), so that
            // a client replaying a refresh-due cookie cannot make every request compress
            // (RT3-5). Only when this codec still compresses (an operator may have turned it
            // off to stop the length leak).
            let packed = self.compress.then(|| Packed::from(rest.to_vec()));
            return Some((head, data, packed));
        }
        let data = schema.decode(header.sealed_as(), rest)?;
        Some((head, data, None))
    }

    /// What a chunked value's header decides, read from its first chunk alone: checked once,
    /// before any combination of its other chunks is joined and decoded.
    pub(crate) fn check_first_chunk<T: DeserializeOwned>(
        &self,
        ring: &RingView,
        first: &[u8],
        now: u64,
        schema: &Schema<T>,
    ) -> Result<(), OpenError> {
        let header = envelope::peek_header(first, self.schema_version).map_err(OpenError::new)?;
        if let Some(kind @ (OpenErrorKind::UnknownSchema | OpenErrorKind::Unbound)) =
            unread(schema, header.sealed_as())
        {
            return Err(OpenError::new(kind).with_key_id(header.key_id));
        }
        self.check_header(ring, &header, now).map(|_| ())
    }

    /// The header checks: v2 flags this codec reads, a known key (revoked ones too: they are
    /// refused after the AEAD, so that only authentic values are logged as revoked) and an
    /// hour inside the window.
    fn check_header<'r>(
        &self,
        ring: &'r RingView,
        header: &Header,
        now: u64,
    ) -> Result<OpeningKey<'r>, OpenError> {
        let fail = |kind| OpenError::new(kind).with_key_id(header.key_id);
        if header.flags.chunks() > self.max_chunks
            || (header.flags.compressed() && !cfg!(feature = "compression"))
        {
            return Err(fail(OpenErrorKind::Flags));
        }
        let key = ring
            .opening_key(header.key_id, now)
            .ok_or_else(|| fail(OpenErrorKind::UnknownKey))?;
        // A value sealed at time t expires by t + idle timeout, so only hours from then up to
        // now (plus the skew between instances) can hold an authentic, live value; any other
        // hour is refused before key derivation, so a client cannot make the server derive
        // keys for hours of its choosing.
        let first = envelope::hour_of(now.saturating_sub(self.idle_timeout));
        let last = envelope::hour_of(now.saturating_add(self.clock_skew));
        if header.hour < first || header.hour > last {
            return Err(fail(OpenErrorKind::OutsideWindow));
        }
        Ok(key)
    }
}

/// Why a value sealed as `sealed_as` cannot be read as `schema`'s type, if it cannot.
fn unread<T: DeserializeOwned>(schema: &Schema<T>, sealed_as: SealedAs) -> Option<OpenErrorKind> {
    match sealed_as {
        SealedAs::Version(_) if schema.refuses_unbound() => Some(OpenErrorKind::Unbound),
        _ if schema.reads(sealed_as) => None,
        SealedAs::Version(_) => Some(OpenErrorKind::UnknownSchema),
        SealedAs::Binding(_) => Some(OpenErrorKind::WrongType),
    }
}
