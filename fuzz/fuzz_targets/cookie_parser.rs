//! `cookie_parser`: the `Cookie` header parser's entry point (the crate-private
//! `cookies::values`, reachable only through the middleware) with many fields, many cookies of
//! the session's name and planted authentic cookies of other sessions (SECURITY-TESTS E3, E4,
//! F1, D3).
//!
//! Input: a control byte (bit 0: the layer, `sid` or `__Host-session` on ring A; bits 1-2: the
//! handler reads the session, updates it, destroys it, or never touches it), then a small
//! bytecode that writes the `Cookie` fields, at most 8 KiB and 64 fields in all:
//!
//! - `0xF0..=0xF7`: `<name>=<pool value i>`: 0 the victim's cookie, 1 and 2 two attackers'
//!   own authentic sessions, 3 the victim's session sealed again (another value, same
//!   session), 4 an authentic cookie of the other layer's name, 5 an expired session, 6 a
//!   value under a key the ring does not hold, 7 a frozen v1 cookie (authentic for
//!   `__Host-session`, but not a `Visits`);
//! - `0xF8`: `"; "`; `0xF9`: a new field; `0xFA`: the layer's name; `0xFB..=0xFE`: pool value
//!   0..=3 alone; `0xFF`: two unrelated cookies;
//! - any other byte: itself.
//!
//! `oracle::Opener` (the documented grammar and the per-request AEAD budget) says which
//! session the request carries.
//!
//! Checks: no panic; at most one `Set-Cookie` for the session, followed only by the deletion of
//! each chunk cookie `name.1`..`name.15` the request carried (RT3-9: chunking is off here); when exactly one distinct authentic value is
//! present, the handler gets that session and never another, and its cookie is never deleted
//! (unless the handler destroys it); when two distinct authentic values are present (or more
//! candidates than the budget), the handler gets a fresh session whose changes are refused
//! with `Conflict`, and the response sends no `Set-Cookie` at all (neither a seal nor
//! `Max-Age=0`) unless the handler destroyed the session; refused cookies alone are deleted;
//! an untouched session sends nothing; an update seals the expected data under the expected id.
#![no_main]

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::LazyLock;
use std::task::{Context, Poll};

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response};
use libfuzzer_sys::fuzz_target;
use sealed_session::{
    Codec, KeyRing, Session, SessionConfig, SessionError, SessionId, SessionMeta, SessionService,
};
use sealed_session_fuzz::layers::{LayerFixture, LayerSpec, fixture};
use sealed_session_fuzz::oracle::{Expected, assert_only_stale_chunk_deletions, cookie_values};
use sealed_session_fuzz::service::{drive, set_cookie_value};
use sealed_session_fuzz::{
    COOKIE_NAME, DEFAULT_CLOCK_SKEW, NOW, OTHER_NAME, RETIRED_KEY, RING_A, V1_VECTORS, Visits, key,
    ring_a_keys,
};
use tower_layer::Layer;
use tower_service::Service;

/// What the handler does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Update,
    Destroy,
    Untouched,
}

/// What the handler saw.
#[derive(Debug)]
struct Seen {
    data: Option<Visits>,
    id: Option<SessionId>,
    is_new: bool,
    result: Result<(), SessionError>,
    final_id: Option<SessionId>,
}

#[derive(Clone)]
struct Handler(Op);

impl Service<Request<()>> for Handler {
    type Response = Response<Seen>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<()>) -> Self::Future {
        let session = Session::<Visits>::from_request(&req).expect("the layer adds the session");
        let mut seen = Seen {
            data: None,
            id: None,
            is_new: true,
            result: Ok(()),
            final_id: None,
        };
        if self.0 != Op::Untouched {
            seen.data = Some(Visits::clone(&session.get()));
            seen.id = session.id();
            seen.is_new = session.is_new();
            seen.result = match self.0 {
                Op::Update => session.update(|v| v.count = v.count.wrapping_add(1)),
                Op::Destroy => session.destroy(),
                _ => Ok(()),
            };
            seen.final_id = session.id();
        }
        ready(Ok(Response::new(seen)))
    }
}

/// A layer with its pool of cookie values.
struct Parser {
    fixture: LayerFixture,
    pool: [String; 8],
    /// `<name>=<pool value>`.
    planted: [Vec<u8>; 8],
    /// The sessions of pool values 0..=3 (victim, attacker, attacker, victim again).
    sessions: [(SessionMeta, Visits); 4],
}

fn meta(id: u8, created: u64) -> SessionMeta {
    SessionMeta {
        id: SessionId::from_bytes([id; 16]),
        created,
    }
}

fn visits(count: u64, page: &str) -> Visits {
    Visits {
        count,
        pages: vec![page.to_owned()],
    }
}

fn parser(name: &'static str, other: &'static str) -> Parser {
    let config = SessionConfig::builder()
        .cookie_name(name)
        .build()
        .expect("valid config");
    let fixture = fixture(
        &LayerSpec {
            label: name,
            ring: RING_A.clone(),
            keys: ring_a_keys(),
            config,
            clock_skew: DEFAULT_CLOCK_SKEW,
            migrate_from_v1: false,
            valid: None,
        },
        NOW,
    );
    let codec = &fixture.codec;
    let sessions = [
        (meta(1, NOW - 600), visits(1, "victim")),
        (meta(2, NOW - 60), visits(2, "attacker")),
        (meta(3, NOW - 30), visits(3, "attacker 2")),
        (meta(1, NOW - 600), visits(1, "victim")),
    ];
    let seal = |codec: &Codec, name: &str, (meta, data): &(SessionMeta, Visits), at: u64| {
        codec
            .seal(name, meta, data, at)
            .expect("the pool's sessions fit")
            .value
    };
    let retired = Codec::new(KeyRing::new(key(RETIRED_KEY)));
    let pool = [
        seal(codec, name, &sessions[0], NOW - 300),
        seal(codec, name, &sessions[1], NOW),
        seal(codec, name, &sessions[2], NOW),
        seal(codec, name, &sessions[3], NOW),
        seal(codec, other, &sessions[1], NOW),
        // Sealed 23 hours ago, created 8 days ago: in the hour window, past the lifetime.
        seal(
            codec,
            name,
            &(meta(5, NOW - 8 * 86_400), visits(5, "old")),
            NOW - 23 * 3600,
        ),
        seal(&retired, name, &sessions[1], NOW),
        V1_VECTORS[0].1.to_owned(),
    ];
    assert_ne!(pool[0], pool[3]);
    let planted = pool
        .clone()
        .map(|value| format!("{name}={value}").into_bytes());
    Parser {
        fixture,
        pool,
        planted,
        sessions,
    }
}

static PARSERS: LazyLock<[Parser; 2]> = LazyLock::new(|| {
    [
        parser(OTHER_NAME, COOKIE_NAME),
        parser(COOKIE_NAME, OTHER_NAME),
    ]
});

/// The most header bytes an input writes (a real server's default limit is about this).
const MAX_HEADER_BYTES: usize = 8 * 1024;
/// The most `Cookie` fields an input writes.
const MAX_FIELDS: usize = 64;
/// An unrelated cookie.
const FILLER: &[u8] = b"_ga=GA1.2.1234567890.1764000000; theme=dark";

/// Writes the `Cookie` fields the bytecode describes into `out`, and returns where each field
/// ends.
fn fields(code: &[u8], parser: &Parser, out: &mut Vec<u8>) -> Vec<usize> {
    let mut ends = Vec::new();
    for &op in code {
        let piece: &[u8] = match op {
            0xF0..=0xF7 => &parser.planted[usize::from(op - 0xF0)],
            0xF8 => b"; ",
            0xF9 => {
                if ends.len() + 1 < MAX_FIELDS {
                    ends.push(out.len());
                }
                continue;
            }
            0xFA => parser.fixture.config.cookie_name().as_bytes(),
            0xFB..=0xFE => parser.pool[usize::from(op - 0xFB)].as_bytes(),
            0xFF => FILLER,
            _ => std::slice::from_ref(&op),
        };
        if out.len() + piece.len() > MAX_HEADER_BYTES {
            break;
        }
        out.extend_from_slice(piece);
    }
    ends.push(out.len());
    ends
}

fuzz_target!(init: sealed_session_fuzz::init(), |data: &[u8]| {
    let Some((&control, code)) = data.split_first() else {
        return;
    };
    let parser = &PARSERS[usize::from(control & 1)];
    let op = [Op::Read, Op::Update, Op::Destroy, Op::Untouched][usize::from((control >> 1) & 3)];
    let fixture = &parser.fixture;
    let name = fixture.config.cookie_name();
    let now = fixture.now;

    let mut written = Vec::with_capacity(MAX_HEADER_BYTES);
    let ends = fields(code, parser, &mut written);
    let mut request = Request::new(());
    let mut delivered: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    for end in ends {
        let field = &written[start..end];
        start = end;
        // Only what hyper could deliver: a field that is a valid header value.
        if let Ok(value) = HeaderValue::from_bytes(field) {
            request.headers_mut().append(COOKIE, value);
            delivered.push(field);
        }
    }
    let expected = fixture
        .opener
        .expect(&cookie_values(&delivered, name.as_bytes()), now);
    // The model knows the pool: an authentic value is one of its sessions (or the fuzzer
    // found a new authentic value, which would be a finding in itself).
    if let Expected::Session { value, session } = &expected {
        let index = parser
            .pool
            .iter()
            .position(|p| p.as_bytes() == value.as_slice())
            .expect("only pool values are authentic");
        assert_eq!(
            (session.meta, &session.data),
            (parser.sessions[index].0, &parser.sessions[index].1)
        );
    }

    let mut service: SessionService<Handler, Visits> = fixture.layer.layer(Handler(op));
    let response = drive(&mut service, request);
    let seen = response.body();

    let mut lines = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|l| l.to_str().expect("visible ASCII"));
    let line = lines.next();
    // Chunking is off here: after the session's line, only stale chunks.
    let stale: Vec<&str> = lines.collect();
    assert_only_stale_chunk_deletions(line, &stale, &delivered, name);
    let value = line.map(|l| set_cookie_value(l, name).expect("names the session cookie"));
    let removal = value == Some("");

    if op == Op::Untouched {
        assert_eq!(line, None, "an untouched session sent a cookie");
        return;
    }
    match &expected {
        Expected::Session { session, .. } => {
            assert_eq!(
                seen.data.as_ref(),
                Some(&session.data),
                "another session's data (F1)"
            );
            assert_eq!(seen.id, Some(session.meta.id), "another session (F1)");
            assert!(!seen.is_new);
            if op != Op::Destroy {
                assert!(!removal, "the one authentic cookie was deleted (F1)");
            }
        }
        Expected::Ambiguous | Expected::Fresh { .. } => {
            assert_eq!(seen.data.as_ref(), Some(&Visits::default()), "{expected:?}");
            assert_eq!(seen.id, None);
            assert!(seen.is_new);
        }
    }
    let ambiguous = expected == Expected::Ambiguous;
    match op {
        Op::Destroy => {
            assert_eq!(seen.result, Ok(()));
            assert_eq!(removal, expected.had_cookie(), "{line:?}");
            assert!(line.is_none() || removal);
            return;
        }
        Op::Update if ambiguous => assert_eq!(seen.result, Err(SessionError::Conflict)),
        Op::Update => assert_eq!(seen.result, Ok(()), "an update of a small session"),
        _ => assert_eq!(seen.result, Ok(())),
    }
    if ambiguous {
        assert_eq!(line, None, "an ambiguous request sent a Set-Cookie (F1)");
        return;
    }
    match (op, &expected) {
        (Op::Read, Expected::Fresh { cookies: 0 }) => assert_eq!(line, None),
        // Only refused cookies: cleared.
        (Op::Read, Expected::Fresh { .. }) => assert!(removal, "refused cookies kept: {line:?}"),
        // Kept as it is (sealed under the primary, within its first half-idle).
        (Op::Read, _) => assert_eq!(line, None),
        (_, _) => {
            let value = value.expect("an update is saved");
            let opened = fixture
                .codec
                .open::<Visits>(name, value, now)
                .expect("the emitted cookie opens");
            let mut data = seen.data.clone().expect("read first");
            data.count = data.count.wrapping_add(1);
            assert_eq!(opened.data, data);
            assert_eq!(Some(opened.meta.id), seen.final_id);
            if let Expected::Session { session, .. } = &expected {
                assert_eq!(opened.meta, session.meta, "another session was saved over");
            }
        }
    }
});
