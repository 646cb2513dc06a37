//! The request's state: the clock read once, the cookie opened once, the plan and the seal.

use super::plan::{Facts, Plan};
use super::seal::{self, Encoded};
use super::{HeadState, Lines, Loaded, Phase, SessionData, Settings, Slot, State, open};
use crate::codec::{Opened, SessionMeta};
use crate::config::Rolling;
use crate::cookies::CookieFields;
use crate::error::SessionError;
use crate::ring::RingView;

impl<T: SessionData> State<T> {
    /// The request's time, read from the clock on first use.
    pub(super) fn now(&mut self, settings: &Settings<T>) -> u64 {
        *self.now.get_or_insert_with(|| settings.now())
    }

    /// The request's time once read (every path that needs it loads the session first).
    pub(super) fn time(&self) -> u64 {
        self.now.unwrap_or_default()
    }

    pub(super) fn load(
        &mut self,
        settings: &Settings<T>,
        cookies: &dyn CookieFields,
    ) -> &mut Loaded<T> {
        if self.loaded.is_none() {
            let now = self.now(settings);
            let after_response;
            let ring = if self.phase == Phase::Sent {
                // A read after the response (a spawned task): no snapshot kept for it.
                after_response = settings.codec.ring().view();
                &after_response
            } else {
                self.ring
                    .get_or_insert_with(|| settings.codec.ring().view())
            };
            let (opened, found) = open::open_request(cookies, settings, ring, now);
            self.found = found;
            self.loaded = Some(opened.map_or_else(Loaded::fresh, |opened| {
                let outdated = settings.schema.is_outdated(opened.sealed_as);
                Loaded::opened(opened, outdated)
            }));
        }
        self.loaded.get_or_insert_with(Loaded::fresh)
    }

    /// The session, loaded, and the ring its changes are sized against (the open's).
    pub(super) fn load_for_change(
        &mut self,
        settings: &Settings<T>,
        cookies: &dyn CookieFields,
    ) -> (&mut Loaded<T>, &RingView) {
        self.load(settings, cookies);
        let ring = self
            .ring
            .get_or_insert_with(|| settings.codec.ring().view());
        (self.loaded.get_or_insert_with(Loaded::fresh), ring)
    }

    /// Whether a change can take effect now.
    pub(super) fn writable(
        &mut self,
        settings: &Settings<T>,
        cookies: &dyn CookieFields,
    ) -> Result<(), SessionError> {
        match self.phase {
            Phase::Sent => return Err(SessionError::ResponseSent),
            Phase::Destroyed => return Err(SessionError::Destroyed),
            Phase::Open => {}
        }
        if self.outside_path {
            return Err(SessionError::OutsidePath);
        }
        self.load(settings, cookies);
        if self.found.ambiguous {
            return Err(SessionError::Conflict);
        }
        Ok(())
    }

    pub(super) fn facts(&self, settings: &Settings<T>, server_error: bool) -> Facts {
        let loaded = self.loaded.as_ref();
        Facts {
            outside_path: self.outside_path,
            loaded: loaded.is_some(),
            destroyed: self.phase == Phase::Destroyed,
            had_cookie: self.found.cookies > 0,
            ambiguous: self.found.ambiguous,
            from_cookie: loaded.is_some_and(|l| l.from_cookie),
            changed: loaded.is_some_and(|l| l.data_changed || l.head_changed),
            upgrade: loaded.is_some_and(|l| !l.by_primary || l.outdated),
            refresh_due: loaded.is_some_and(|l| self.refresh_due(settings, l)),
            save_uninitialized: settings.config.save_uninitialized(),
            server_error,
        }
    }

    pub(super) fn plan(&self, settings: &Settings<T>, server_error: bool) -> Plan {
        self.facts(settings, server_error).plan()
    }

    /// Whether re-sealing an unchanged session is due to push its idle expiry forward.
    pub(super) fn refresh_due(&self, settings: &Settings<T>, loaded: &Loaded<T>) -> bool {
        let (Some(meta), Some(expires)) = (loaded.head.meta, loaded.expires) else {
            return false;
        };
        let codec = &settings.codec;
        let now = self.time();
        let bounds = codec.bounds(loaded.head.lifetime.unwrap_or(settings.config.lifetime()));
        // Near the absolute lifetime a re-seal cannot extend anything.
        if codec.expiry(bounds, meta.created, now) <= expires {
            return false;
        }
        match settings.config.rolling() {
            Rolling::Always | Rolling::EveryRequest => true,
            // Sealed at expires - idle; due once more than half the idle timeout has passed.
            Rolling::HalfIdle => expires.saturating_sub(now) < bounds.idle / 2,
        }
    }

    /// Seals the session into its `Set-Cookie` lines.
    pub(super) fn seal(
        &mut self,
        settings: &Settings<T>,
        lines: &mut Lines,
    ) -> Result<(), SessionError> {
        let now = self.now(settings);
        // The ring as of the response, for the plan and the seal alike (see `State::ring`).
        let ring = settings.codec.ring().view();
        let loaded = self.loaded.as_mut().ok_or(SessionError::Internal)?;
        if loaded.head.meta.is_none() {
            loaded.head.meta = Some(SessionMeta::new(now)?);
        }
        // An unchanged session (a refresh, a key or schema upgrade) is encoded here.
        loaded.encoded(settings)?;
        let Some(encoded) = &loaded.encoded else {
            return Err(SessionError::Internal);
        };
        let head = loaded.head.head(settings, seal::provisional_meta(now));
        seal::seal_lines(
            settings,
            &ring,
            &head,
            encoded,
            loaded.fitted.as_ref(),
            now,
            lines,
        )
    }
}

impl<T: Default> Loaded<T> {
    pub(super) fn fresh() -> Self {
        Self {
            data: Slot::Owned(T::default()),
            original: None,
            head: HeadState {
                meta: None,
                lifetime: None,
                flash: Vec::new(),
            },
            expires: None,
            from_cookie: false,
            by_primary: true,
            outdated: false,
            encoded: None,
            fitted: None,
            chunks: 1,
            data_changed: false,
            head_changed: false,
        }
    }

    pub(super) fn opened(opened: Opened<T>, outdated: bool) -> Self {
        Self {
            data: Slot::Owned(opened.data),
            original: None,
            head: HeadState {
                meta: Some(opened.meta),
                lifetime: Some(opened.lifetime),
                flash: opened.flash,
            },
            expires: Some(opened.expires),
            from_cookie: true,
            by_primary: opened.by_primary,
            outdated,
            // The compressed data as it came, for a re-seal of the unchanged session: not
            // compressed again (RT3-5). Not when it was converted from another type.
            encoded: opened
                .packed
                .filter(|_| !outdated)
                .map(seal::Encoded::reused),
            fitted: None,
            chunks: opened.chunks,
            data_changed: false,
            head_changed: false,
        }
    }
}

impl<T: SessionData> Loaded<T> {
    /// The data's encoding as the schema writes it (and its compressed form), made once.
    ///
    /// The data of a cookie, unchanged, keeps the form it came in (RT3-5): compressed data was
    /// kept as it came (see [`Loaded::opened`]), and data that came uncompressed is not
    /// compressed now (it did not shrink, or was sealed before compression was turned on), so
    /// no request with an unchanged session compresses, whatever cookie the client replays.
    pub(super) fn encoded(&mut self, settings: &Settings<T>) -> Result<&Encoded, SessionError> {
        if self.encoded.is_none() {
            let compress = self.compresses_on_reseal();
            self.encoded = Some(seal::encode_loaded(settings, self.data.get(), compress)?);
        }
        self.encoded.as_ref().ok_or(SessionError::Internal)
    }

    /// Whether re-sealing the data as it is compresses it: not the data of a current cookie
    /// (see [`encoded`](Self::encoded)).
    pub(super) fn compresses_on_reseal(&self) -> bool {
        !(self.from_cookie && !self.outdated && !self.data_changed)
    }
}
