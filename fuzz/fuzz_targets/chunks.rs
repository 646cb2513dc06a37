//! `chunks`: chunk reassembly and decompression through a real `SessionService` with
//! `max_chunks(4)` and compression on (issue "Sessions larger than one cookie", SECURITY-TESTS
//! G3, G4), or with compression turned off beside cookies sealed compressed.
//!
//! Lines are limited to 1 KiB (`max_cookie_size`) and the session's cookies to 3 KiB of the
//! `Cookie` header, a quarter of what browsers allow, and every session below is a quarter of
//! the size it would need at 4 KB: chunking, reassembly, refusals and inflation take the same
//! paths on a quarter of the bytes (base64, AES-GCM and DEFLATE under ASan are most of a
//! request's cost). Chunks at the browsers' sizes are tested over HTTP for every adapter
//! (tests/harness/chunks.rs) and in three browsers (tests/browser.rs).
//!
//! The pool: sessions the layer sealed itself (the victim in three chunks, sealed twice with
//! different nonces; an attacker's own session in two chunks; a compressed one in one chunk),
//! and one value sealed per input by the reference sealer (tests/wire-reference) with an
//! authentic header whose flags (chunk count, compression, an unassigned bit) and plaintext
//! come from the input: raw bytes, a raw byte stream flagged compressed, a real DEFLATE stream of a
//! session (at the crate's level) truncated anywhere, or the same stream of a repeated session
//! (for a payload over about 200 bytes, a bomb past the 16 KiB inflation limit, of at most
//! twice it), split at 4-aligned places into as many chunks as the header says. The crafted
//! value is made only for an input whose request can carry it (its program takes a value
//! from it, or puts under `sid` a value that agrees with its header and nonce, which the
//! input fixes), and kept by what it is made from for the next inputs that make the same.
//!
//! Input: a control byte (bits 0-1: the handler reads, updates, destroys or never touches the
//! session; bits 2-3: the crafted value's mode; bit 4: an unassigned flag bit; bits 5-6: what
//! an update adds: nothing, 751 incompressible bytes, 2250 compressible bytes; bit 7: the
//! request goes through the layer with compression off, where the victim's update and any
//! update of the compressed session no longer fit), the crafted chunk count - 1 (low 4 bits),
//! the crafted payload's length (u16 LE, at most 2048) and bytes, then the `Cookie` program,
//! one pair per op byte: bits 5-7 the name (`sid`, `sid.1` to `sid.4`, `sid.15`, and two names
//! that are not chunk names: `sid.16`, `sid.01`), bits 0-4 the value (pool set `v >> 2`, its
//! chunk `v & 3`; 20 and up: a pool chunk with one byte changed, or literal base64url bytes,
//! each taking operand bytes).
//!
//! The model: a set of chunks is a candidate when its first value is under `sid` and each of
//! its other chunks under its own name; a request is clean for a set when its chunk names
//! carry that set's values and no others (stale names past its count carry anything).
//!
//! Checks: no panic; status is the handler's; every `Set-Cookie` names `sid` or a chunk name,
//! at most once each, within the line limit; the handler sees a fresh session or exactly a
//! candidate that is authentic (for a crafted value: when the count is at most 4, no
//! unassigned bit is set and a reference decoder inflates and decodes the payload within
//! the limit) and never anything else; on a clean request it sees exactly that set; a read of a
//! clean set never deletes one of its chunks; a response that seals `m` chunks writes `sid`
//! and `sid.1` to `sid.(m-1)` and deletes every other chunk name the request carried, and
//! those lines, sent back to the layer's engine (`SessionLayer::sessions`, what its service
//! hands the `Cookie` header to), open to exactly what the handler left.
#![no_main]

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::task::{Context, Poll};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::{Bytes, BytesMut};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response};
use libfuzzer_sys::fuzz_target;
use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress, create_comp_flags_from_zip_params,
};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, inflate_flags};
use sealed_session::{
    Session, SessionConfig, SessionError, SessionId, SessionLayer, SessionService,
};
use sealed_session_fuzz::service::{clock_at, drive, force_reseal};
use sealed_session_fuzz::wire::{self, Bounds, Header, KeyMaterial};
use sealed_session_fuzz::{AES_KEY, NOW, OTHER_NAME, RING_A, Visits};
use tower_layer::Layer;
use tower_service::Service;

/// The layer's cookie name (no `__Host-` prefix: planted chunks are possible).
const NAME: &str = OTHER_NAME;
const MAX_CHUNKS: usize = 4;
/// Room for the victim's three chunks in the `Cookie` header.
const HEADER_BUDGET: usize = 3 * 1024;
/// `max_cookie_size`: a quarter of the browsers' 4 KB (see the module's doc).
const LINE_LIMIT: usize = 1024;
/// The crate's inflation limit (16 KiB).
const MAX_INFLATED: usize = 16 * 1024;
/// The longest crafted payload.
const MAX_PAYLOAD: usize = 2048;
const MAX_PAIRS: usize = 48;

/// The names the program writes: five chunk indexes, then two names that are not chunks.
const NAMES: [(&str, Option<usize>); 8] = [
    ("", Some(0)),
    (".1", Some(1)),
    (".2", Some(2)),
    (".3", Some(3)),
    (".4", Some(4)),
    (".15", Some(15)),
    (".16", None),
    (".01", None),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Update(usize),
    Destroy,
    Untouched,
}

/// What a handler saw and left.
#[derive(Debug)]
struct Seen {
    from_cookie: bool,
    /// The session's data as the handler found it (shared, not copied: a change replaces it).
    data: Arc<Visits>,
    id: Option<SessionId>,
    result: Result<(), SessionError>,
    /// What the session holds when the handler returns.
    left: Arc<Visits>,
    left_id: Option<SessionId>,
}

#[derive(Clone)]
enum Handler {
    Run(Op),
    /// Seeds the pool: sets the data, or re-seals what the cookie holds.
    Seal(Option<Visits>),
}

impl Service<Request<()>> for Handler {
    type Response = Response<Seen>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<()>) -> Self::Future {
        let session = Session::<Visits>::from_request(&req).expect("the layer adds the session");
        let touched = !matches!(self, Self::Run(Op::Untouched));
        let data = if touched {
            session.get()
        } else {
            Arc::default()
        };
        // `id()` and `is_new()` read the session too: an untouched handler calls neither.
        let (from_cookie, id) = if touched {
            (!session.is_new(), session.id())
        } else {
            (false, None)
        };
        let result = match self {
            Self::Run(Op::Update(extra)) => session.update(|v| {
                v.count = v.count.wrapping_add(1);
                if *extra > 0 {
                    v.pages.push(filler(*extra, v.count));
                }
            }),
            Self::Run(Op::Destroy) => session.destroy(),
            Self::Run(_) => Ok(()),
            Self::Seal(Some(data)) => session.set(data.clone()),
            Self::Seal(None) => force_reseal(&session),
        };
        let left = if touched {
            session.get()
        } else {
            Arc::default()
        };
        ready(Ok(Response::new(Seen {
            from_cookie,
            data,
            id,
            result,
            left,
            left_id: if touched { session.id() } else { None },
        })))
    }
}

/// `len` bytes of text: for an odd length, pseudo-random base64url characters that DEFLATE
/// cannot shrink below a chunk; for an even one, a repeated word.
fn filler(len: usize, seed: u64) -> String {
    if len % 2 == 1 {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        [usize::try_from(state % 64).unwrap_or_default()],
                )
            })
            .collect()
    } else {
        "page ".repeat(len / 5)
    }
}

/// A set of chunk values, in order, and the session they carry if authentic.
#[derive(Debug, Clone, PartialEq)]
struct ChunkSet<'a> {
    values: Vec<&'a str>,
    session: Option<(SessionId, &'a Visits)>,
}

struct Fixture {
    layer: SessionLayer<Visits>,
    /// The same layer with compression off: what an operator's change leaves running beside
    /// cookies the compressing one sealed.
    plain: SessionLayer<Visits>,
    /// The victim (three chunks), the victim sealed again, an attacker (two chunks), a
    /// compressed session (one chunk); made once, for the life of the process.
    pool: [ChunkSet<'static>; 4],
    key: KeyMaterial,
    config: SessionConfig,
}

fn config(compress: bool) -> SessionConfig {
    SessionConfig::builder()
        .cookie_name(NAME)
        .max_chunks(MAX_CHUNKS)
        .cookie_header_budget(HEADER_BUDGET)
        .max_cookie_size(LINE_LIMIT)
        .compression(compress)
        .build()
        .expect("valid config")
}

fn layer(compress: bool) -> SessionLayer<Visits> {
    let at = clock_at(NOW).expect("the clock fits");
    SessionLayer::<Visits>::new(RING_A.clone(), config(compress)).with_clock(move || at)
}

/// A `Set-Cookie` line: its name, its value, and whether it deletes the cookie.
type Line = (String, String, bool);

/// The `Set-Cookie` lines of a response.
fn set_cookies(response: &Response<Seen>) -> Vec<Line> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|line| {
            let line = line.to_str().expect("Set-Cookie is visible ASCII");
            assert!(
                line.len() <= LINE_LIMIT,
                "line over the limit: {}",
                line.len()
            );
            let pair = line.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').expect("name=value");
            (
                name.to_owned(),
                value.to_owned(),
                line.contains("; Max-Age=0"),
            )
        })
        .collect()
}

fn request(cookie: Bytes) -> Option<Request<()>> {
    let mut request = Request::new(());
    if !cookie.is_empty() {
        // Shared, not copied: the header can hold 48 values of 1 KB.
        request
            .headers_mut()
            .insert(COOKIE, HeaderValue::from_maybe_shared(cookie).ok()?);
    }
    Some(request)
}

fn run(layer: &SessionLayer<Visits>, handler: Handler, cookie: Bytes) -> Option<(Seen, Vec<Line>)> {
    let mut service: SessionService<Handler, Visits> = layer.layer(handler);
    let response = drive(&mut service, request(cookie)?);
    assert_eq!(response.status(), 200);
    let lines = set_cookies(&response);
    Some((response.into_body(), lines))
}

/// The sealed lines as a set, in chunk order, and the `Cookie` header sending them back.
fn sealed(lines: &[Line]) -> (Vec<String>, String) {
    let mut by_index = BTreeMap::new();
    for (name, value, deletion) in lines {
        if !deletion && let Some(index) = chunk_index(name) {
            by_index.insert(index, value.clone());
        }
    }
    let header = by_index
        .iter()
        .map(|(&index, value)| format!("{}={value}", chunk_name(index)))
        .collect::<Vec<_>>()
        .join("; ");
    (by_index.into_values().collect(), header)
}

fn chunk_name(index: usize) -> String {
    if index == 0 {
        NAME.to_owned()
    } else {
        format!("{NAME}.{index}")
    }
}

/// The chunk index `name` stands for (`chunk_name(index) == name`), without allocating.
fn chunk_index(name: &str) -> Option<usize> {
    let suffix = name.strip_prefix(NAME)?;
    if suffix.is_empty() {
        return Some(0);
    }
    let digits = suffix.strip_prefix('.')?;
    let index: usize = digits.parse().ok()?;
    // Only the canonical spelling (no sign, no leading zero) of 1 to 15.
    ((1..16).contains(&index) && digits.len() == if index < 10 { 1 } else { 2 }).then_some(index)
}

fn seal_set(layer: &SessionLayer<Visits>, handler: Handler, cookie: &str) -> ChunkSet<'static> {
    let (seen, lines) =
        run(layer, handler, Bytes::copy_from_slice(cookie.as_bytes())).expect("a valid header");
    seen.result.expect("the pool's sessions fit");
    let (values, _) = sealed(&lines);
    // Kept for the life of the process, so the inputs borrow them without a copy.
    let session: &'static Visits = Box::leak(Box::new(Visits::clone(&seen.left)));
    ChunkSet {
        values: values
            .into_iter()
            .map(|value| &*Box::leak(value.into_boxed_str()))
            .collect(),
        session: Some((seen.left_id.expect("a sealed session has an id"), session)),
    }
}

fn flags(value: &str) -> u8 {
    let raw = URL_SAFE_NO_PAD
        .decode(value.get(..20).unwrap_or_default())
        .unwrap_or_default();
    raw.get(13).copied().unwrap_or_default()
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let plain = layer(false);
    let victim = Visits {
        count: 1,
        pages: vec![filler(1501, 1)],
    };
    let victim_set = seal_set(&plain, Handler::Seal(Some(victim)), "");
    assert_eq!(victim_set.values.len(), 3, "the victim is in three chunks");
    let cookie = sealed(
        &victim_set
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| (chunk_name(i), (*v).to_owned(), false))
            .collect::<Vec<_>>(),
    )
    .1;
    let again = seal_set(&plain, Handler::Seal(None), &cookie);
    assert_eq!(again.values.len(), 3);
    assert_ne!(again.values, victim_set.values);
    assert_eq!(again.session, victim_set.session);
    let attacker = Visits {
        count: 2,
        pages: vec![filler(751, 2)],
    };
    let attacker_set = seal_set(&plain, Handler::Seal(Some(attacker)), "");
    assert_eq!(attacker_set.values.len(), 2);
    let compressing = layer(true);
    let roomy = Visits {
        count: 3,
        pages: vec![filler(3000, 3)],
    };
    let compressed = seal_set(&compressing, Handler::Seal(Some(roomy)), "");
    assert_eq!(compressed.values.len(), 1);
    assert_eq!(flags(compressed.values[0]) & 0x10, 0x10, "compressed");
    Fixture {
        layer: compressing,
        plain,
        pool: [victim_set, again, attacker_set, compressed],
        key: wire::fixture_key(AES_KEY),
        config: config(true),
    }
});

thread_local! {
    /// The reference inflater's state and output, reused: a new one allocates and clears
    /// 11 KB of tables, and its output grows by doubling up to the limit.
    static INFLATER: RefCell<(Box<DecompressorOxide>, Vec<u8>)> =
        RefCell::new((Box::default(), vec![0; MAX_INFLATED]));
}

/// The reference decoder: the postcard encoding of the data a crafted plaintext's payload
/// carries, if it is one ([`decode`] reads it). A compressed payload must be a whole raw
/// DEFLATE stream that inflates to at most [`MAX_INFLATED`] bytes (what
/// `miniz_oxide::inflate::decompress_to_vec_with_limit(payload, MAX_INFLATED)` accepts).
fn reference_decode(payload: &[u8], compressed: bool) -> Option<Vec<u8>> {
    if !compressed {
        return decode(payload).map(|_| payload.to_vec());
    }
    INFLATER.with_borrow_mut(|(state, out)| {
        state.init();
        let (status, _, len) = miniz_oxide::inflate::core::decompress(
            state,
            payload,
            out,
            0,
            inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
        );
        let bytes = out.get(..len).filter(|_| status == TINFLStatus::Done)?;
        decode(bytes).map(|_| bytes.to_vec())
    })
}

/// The session a postcard encoding holds, with nothing left over.
fn decode(bytes: &[u8]) -> Option<Visits> {
    match postcard::take_from_bytes::<Visits>(bytes) {
        Ok((data, [])) => Some(data),
        _ => None,
    }
}

/// The crafted streams' DEFLATE level: the crate's (src/codec/compress.rs), so that a crafted
/// stream is one the crate itself could have written.
const LEVEL: u8 = 1;

thread_local! {
    /// The fuzz side's compressor, reset per stream: a new one allocates and clears about
    /// 300 KB of tables, which would cost more than the rest of an input.
    static DEFLATER: RefCell<CompressorOxide> = RefCell::new(CompressorOxide::new(
        create_comp_flags_from_zip_params(LEVEL.into(), 0, 0),
    ));
}

/// Raw DEFLATE at [`LEVEL`]: what `miniz_oxide::deflate::compress_to_vec(data, LEVEL)` writes.
fn deflate(mut data: &[u8]) -> Vec<u8> {
    DEFLATER.with_borrow_mut(|compressor| {
        compressor.reset();
        let mut out = vec![0; (data.len() / 2).max(64)];
        let mut at = 0;
        loop {
            let (status, read, written) =
                compress(compressor, data, &mut out[at..], TDEFLFlush::Finish);
            at += written;
            data = data.get(read..).unwrap_or_default();
            match status {
                TDEFLStatus::Done => {
                    out.truncate(at);
                    return out;
                }
                TDEFLStatus::Okay => {
                    if out.len() - at < 30 {
                        out.resize(out.len() * 2, 0);
                    }
                }
                other => panic!("deflate failed: {other:?}"),
            }
        }
    })
}

/// The value sealed by the fuzz side from the input's header fields and payload.
struct Crafted {
    value: String,
    /// Where each chunk ends in `value`.
    ends: Vec<usize>,
    /// The postcard encoding of the session it carries, if authentic.
    data: Option<Vec<u8>>,
}

/// The crafted value's id.
const CRAFTED_ID: [u8; 16] = [0x5A; 16];

/// The control byte's bits that [`crafted`] reads: the mode and the unassigned flag.
const CRAFTING_BITS: u8 = 0x1C;

/// The header and nonce of the value [`crafted`] seals from these fields (the payload does
/// not change them).
fn crafted_head(fixture: &Fixture, control: u8, count_byte: u8) -> (Header, Vec<u8>) {
    let count = count_byte & 0x0F;
    let compressed = (control >> 2) & 3 != 0;
    let unassigned = if control & 0x10 != 0 { 0x20 } else { 0 };
    let mut header = Header::v2(
        &fixture.key,
        wire::hour_of(NOW),
        fixture.config.schema_version(),
    );
    header.flags = count | if compressed { 0x10 } else { 0 } | unassigned;
    (header, wire::nonce(&fixture.key, count_byte))
}

/// The characters every value [`crafted`] seals from these fields starts with: the base64url
/// of its header and nonce (whole groups of three bytes).
fn crafted_prefix(fixture: &Fixture, control: u8, count_byte: u8) -> String {
    let (header, nonce) = crafted_head(fixture, control, count_byte);
    let mut raw = header.bytes();
    raw.extend_from_slice(&nonce);
    raw.truncate(raw.len() / 3 * 3);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The value sealed by the fuzz side from the input's header fields and payload.
fn crafted(fixture: &Fixture, control: u8, count_byte: u8, payload: &[u8]) -> Crafted {
    let count = usize::from(count_byte & 0x0F) + 1;
    let mode = (control >> 2) & 3;
    let session = || Visits {
        count: 9,
        pages: vec![String::from_utf8_lossy(payload).into_owned()],
    };
    let (compressed, stream) = match mode {
        0 => (false, payload.to_vec()),
        1 => (true, payload.to_vec()),
        2 => {
            let stream = deflate(&postcard::to_allocvec(&session()).expect("serializes"));
            let cut = payload
                .first()
                .map_or(stream.len(), |&b| stream.len() * usize::from(b) / 255);
            (true, stream.get(..cut).unwrap_or_default().to_vec())
        }
        _ => {
            let repeats = payload.first().map_or(1, |&b| usize::from(b) + 1);
            let mut big = postcard::to_allocvec(&session()).expect("serializes");
            // At most twice the inflation limit (and one copy more): both inflaters stop at the
            // limit, so a longer bomb only costs the fuzz side its compression (up to 390 KB
            // for a long payload of invalid UTF-8, each byte of which becomes three).
            let len = big.len().max(1);
            big = big.repeat(repeats.min(4096 / len + 64).min(2 * MAX_INFLATED / len + 1));
            (true, deflate(&big))
        }
    };
    let (header, nonce) = crafted_head(fixture, control, count_byte);
    let unassigned = header.flags & 0x20;
    let id = CRAFTED_ID;
    let bounds = Bounds {
        persistent: false,
        idle: fixture.config.idle_timeout().as_secs(),
        max: fixture.config.max_lifetime().as_secs(),
    };
    let no_flash: Vec<String> = Vec::new();
    let mut plaintext = postcard::to_allocvec(&(id, NOW - 60, NOW + 600, bounds, no_flash))
        .expect("the head serializes");
    plaintext.extend_from_slice(&stream);
    let value = wire::seal(&fixture.key, &header, NAME, &nonce, &plaintext);
    // Split at 4-aligned places, every chunk non-empty (a value is at least 64 characters).
    let step = (value.len() / count) / 4 * 4;
    let ends = (1..=count)
        .map(|i| if i == count { value.len() } else { i * step })
        .collect();
    let authentic = count <= MAX_CHUNKS && unassigned == 0;
    let data = authentic
        .then(|| reference_decode(&stream, compressed))
        .flatten();
    Crafted { value, ends, data }
}

/// How many crafted values [`Cache`] keeps: sets of [`WAYS`] slots, chosen by a hash of
/// what the values are made from. Most inputs are mutations of a corpus entry's `Cookie`
/// program that leave its header fields and payload as they were: their value is found here,
/// not made again (its DEFLATE, seal and reference inflation cost more than a third of the
/// input).
const CACHE_SETS: usize = 1024;
/// The slots of a set; a new value replaces the one used least recently.
const WAYS: usize = 4;
/// The bytes a slot holds when made: enough for most values and their sessions.
const SLOT_CAPACITY: usize = 1024;
/// The most a slot holds: a larger value (a long payload, a session inflated to 16 KiB) is
/// made in the one spare slot each time, so the cache stays under 40 MB.
const SLOT_MAX: usize = 8 * 1024;

/// A crafted value as [`Cache`] keeps it: what [`crafted`] made, from the same arguments.
struct Slot {
    /// What it was made from (the control byte's [`CRAFTING_BITS`], the count byte and the
    /// payload), then the value, then the postcard encoding of its session if authentic. One
    /// buffer, written over in place: filling a slot allocates nothing (libFuzzer runs an
    /// input that leaves more allocations than it frees again, looking for a leak).
    bytes: Vec<u8>,
    key_end: usize,
    value_end: usize,
    /// Where each chunk ends, counted from the start of the value.
    ends: [usize; 16],
    count: usize,
    authentic: bool,
    /// When it was last used (the cache's count of lookups).
    used: u64,
}

impl Slot {
    fn new() -> Self {
        Self {
            bytes: Vec::with_capacity(SLOT_CAPACITY),
            key_end: 0,
            value_end: 0,
            ends: [0; 16],
            count: 0,
            authentic: false,
            used: 0,
        }
    }

    fn len(head: [u8; 2], payload: &[u8], made: &Crafted) -> usize {
        head.len() + payload.len() + made.value.len() + made.data.as_ref().map_or(0, Vec::len)
    }

    fn holds(&self, head: [u8; 2], payload: &[u8]) -> bool {
        self.bytes.get(..2) == Some(&head[..]) && self.bytes.get(2..self.key_end) == Some(payload)
    }

    fn fill(&mut self, head: [u8; 2], payload: &[u8], made: &Crafted) {
        self.bytes.clear();
        self.bytes.extend_from_slice(&head);
        self.bytes.extend_from_slice(payload);
        self.key_end = self.bytes.len();
        self.bytes.extend_from_slice(made.value.as_bytes());
        self.value_end = self.bytes.len();
        self.count = made.ends.len();
        self.ends = [0; 16];
        self.ends[..self.count].copy_from_slice(&made.ends);
        self.authentic = made.data.is_some();
        self.bytes
            .extend_from_slice(made.data.as_deref().unwrap_or_default());
    }

    fn values(&self) -> Vec<&str> {
        let value = std::str::from_utf8(&self.bytes[self.key_end..self.value_end])
            .expect("a sealed value is base64url");
        let mut start = 0;
        self.ends[..self.count]
            .iter()
            .map(|&end| {
                let chunk = value.get(start..end).unwrap_or_default();
                start = end;
                chunk
            })
            .collect()
    }

    /// The session's encoding, if authentic.
    fn data(&self) -> Option<&[u8]> {
        self.authentic.then(|| &self.bytes[self.value_end..])
    }
}

/// Crafted values by what they are made from: exactly what [`crafted`] returns for the same
/// arguments (a crafted value's nonce comes from its count byte, so sealing is deterministic).
struct Cache {
    slots: Vec<Slot>,
    /// Where a value over [`SLOT_MAX`] is made.
    spare: Slot,
    lookups: u64,
}

impl Cache {
    fn new() -> Self {
        Self {
            slots: (0..CACHE_SETS * WAYS).map(|_| Slot::new()).collect(),
            spare: Slot::new(),
            lookups: 0,
        }
    }

    /// The value [`crafted`] makes from these arguments.
    fn get(&mut self, fixture: &Fixture, control: u8, count_byte: u8, payload: &[u8]) -> &Slot {
        use std::hash::{DefaultHasher, Hash, Hasher};
        self.lookups += 1;
        let head = [control & CRAFTING_BITS, count_byte];
        let mut hasher = DefaultHasher::new();
        head.hash(&mut hasher);
        payload.hash(&mut hasher);
        let set = usize::try_from(hasher.finish() % CACHE_SETS as u64).unwrap_or_default();
        let ways = &mut self.slots[set * WAYS..(set + 1) * WAYS];
        let index = match ways.iter().position(|slot| slot.holds(head, payload)) {
            Some(found) => found,
            None => {
                let made = crafted(fixture, control, count_byte, payload);
                if Slot::len(head, payload, &made) > SLOT_MAX {
                    self.spare.fill(head, payload, &made);
                    return &self.spare;
                }
                let oldest = (0..WAYS)
                    .min_by_key(|&way| ways[way].used)
                    .unwrap_or_default();
                ways[oldest].fill(head, payload, &made);
                oldest
            }
        };
        ways[index].used = self.lookups;
        &ways[index]
    }
}

/// The longest `Cookie` header a program writes: 48 pairs of a name and a value of at most
/// 1 KB (a literal is shorter).
const MAX_COOKIE: usize = MAX_PAIRS * (LINE_LIMIT + 16);

/// What the inputs reuse: the crafted values, and the `Cookie` header's buffer (up to 50 KB:
/// one made per input would be mapped, faulted in page by page and unmapped each time).
struct Scratch {
    cache: Cache,
    cookie: BytesMut,
}

static SCRATCH: LazyLock<Mutex<Scratch>> = LazyLock::new(|| {
    Mutex::new(Scratch {
        cache: Cache::new(),
        cookie: BytesMut::with_capacity(MAX_COOKIE),
    })
});

/// Whether to print each sealing input's request and response (`DEBUG_CHUNKS` set).
static DEBUG: LazyLock<bool> = LazyLock::new(|| std::env::var_os("DEBUG_CHUNKS").is_some());

/// Where a pair's value comes from: chunk `.1` of set `.0` (the pool's four, then the crafted
/// one at 4 and past the end), that chunk with one character changed (at `.1`, to `.2`), or
/// literal base64url text.
enum Source {
    Chunk(usize, usize),
    Changed(usize, u8, u8),
    Literal(String),
}

/// The value `source` gives unless it is the crafted set's (`None`).
fn pool_value<'a>(fixture: &'static Fixture, source: &'a Source) -> Option<Cow<'a, str>> {
    match source {
        Source::Chunk(set, chunk) => fixture
            .pool
            .get(*set)
            .map(|set| Cow::Borrowed(set.values.get(*chunk).copied().unwrap_or_default())),
        Source::Changed(set, at, with) => fixture
            .pool
            .get(*set)
            .map(|set| Cow::Owned(changed(&set.values, *at, *with))),
        Source::Literal(text) => Some(Cow::Borrowed(text.as_str())),
    }
}

/// Chunk `at & 3` of `values` with the character at `(at >> 2) * 97` (modulo its length)
/// made `BASE64URL[with & 63]`.
fn changed(values: &[&str], at: u8, with: u8) -> String {
    let mut chars = values
        .get(usize::from(at & 3))
        .map_or_else(Vec::new, |value| value.as_bytes().to_vec());
    if let Some(len) = std::num::NonZeroUsize::new(chars.len()) {
        let position = usize::from(at >> 2) * 97 % len.get();
        chars[position] = BASE64URL[usize::from(with & 63)];
    }
    String::from_utf8(chars).expect("base64url")
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fuzz_target!(init: sealed_session_fuzz::init(), |input: &[u8]| {
    let fixture = &*FIXTURE;
    let [control, count_byte, len_lo, len_hi, rest @ ..] = input else {
        return;
    };
    let len = usize::from(u16::from_le_bytes([*len_lo, *len_hi])).min(MAX_PAYLOAD);
    let (payload, mut program) = rest.split_at(len.min(rest.len()));
    let op = match control & 3 {
        0 => Op::Read,
        1 => Op::Update([0, 751, 2250, 0][usize::from((control >> 5) & 3)]),
        2 => Op::Destroy,
        _ => Op::Untouched,
    };
    let mut scratch = SCRATCH.lock().unwrap_or_else(PoisonError::into_inner);
    let Scratch { cache, cookie } = &mut *scratch;

    // The program's pairs, by name index. A value from the crafted set waits for it: the
    // crafted value is only made (sealed, its stream deflated and inflated) when the request
    // can carry it.
    let mut ops: Vec<(usize, Source)> = Vec::new();
    while let [byte, tail @ ..] = program {
        program = tail;
        if ops.len() == MAX_PAIRS {
            break;
        }
        let name = usize::from(byte >> 5);
        let pick = usize::from(byte & 0x1F);
        let source = if pick < 20 {
            Source::Chunk(pick >> 2, pick & 3)
        } else if pick < 26 {
            // A pool chunk with one character changed.
            let [at, with, tail @ ..] = program else {
                break;
            };
            program = tail;
            Source::Changed(pick - 20, *at, *with)
        } else {
            let [n, tail @ ..] = program else {
                break;
            };
            let take = usize::from(*n).min(tail.len());
            let (literal, tail) = tail.split_at(take);
            program = tail;
            Source::Literal(
                literal
                    .iter()
                    .map(|&b| char::from(BASE64URL[usize::from(b & 63)]))
                    .collect(),
            )
        };
        ops.push((name, source));
    }
    // Each pair's value, but those of the crafted set (`None`), which is made only when the
    // request can carry it: when the program takes a value from it, or a value under `sid`
    // could be its first chunk (it agrees with the crafted header and nonce as far as both
    // go). Otherwise no request carries it whole and no check reads it, so making it (a seal,
    // and a DEFLATE and an inflation of its stream) would check nothing.
    let known: Vec<(usize, Option<Cow<'_, str>>)> = ops
        .iter()
        .map(|(name, source)| (*name, pool_value(fixture, source)))
        .collect();
    let needed = known.iter().any(|(_, value)| value.is_none()) || {
        let firsts = known
            .iter()
            .filter_map(|(name, value)| value.as_ref().filter(|_| NAMES[*name].1 == Some(0)));
        let mut firsts = firsts.peekable();
        firsts.peek().is_some() && {
            let prefix = crafted_prefix(fixture, *control, *count_byte);
            firsts.any(|value| value.bytes().zip(prefix.bytes()).all(|(a, b)| a == b))
        }
    };
    let slot = needed.then(|| cache.get(fixture, *control, *count_byte, payload));
    let crafted_data = slot
        .and_then(Slot::data)
        .map(|bytes| decode(bytes).expect("the reference decoder read it"));
    let crafted = slot.map(|slot| ChunkSet {
        values: slot.values(),
        session: crafted_data
            .as_ref()
            .map(|data| (SessionId::from_bytes(CRAFTED_ID), data)),
    });
    let sets: Vec<&ChunkSet<'_>> = fixture.pool.iter().chain(&crafted).collect();

    // The request's pairs; a pool value is borrowed.
    let crafted_values = crafted.as_ref().map_or(&[][..], |set| &set.values[..]);
    let pairs: Vec<(usize, Cow<'_, str>)> = known
        .into_iter()
        .zip(&ops)
        .map(|((name, value), (_, source))| {
            let value = value.unwrap_or_else(|| match source {
                Source::Chunk(_, chunk) => {
                    Cow::Borrowed(crafted_values.get(*chunk).copied().unwrap_or_default())
                }
                Source::Changed(_, at, with) => Cow::Owned(changed(crafted_values, *at, *with)),
                Source::Literal(_) => unreachable!("a literal is not the crafted set's"),
            });
            (name, value)
        })
        .collect();
    // `name=value` pairs joined by "; ", written into the reused buffer (taken, handed to
    // `http` without a copy, and taken back once the request is done).
    let mut header = std::mem::take(cookie);
    header.clear();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            header.extend_from_slice(b"; ");
        }
        header.extend_from_slice(NAME.as_bytes());
        header.extend_from_slice(NAMES[*name].0.as_bytes());
        header.extend_from_slice(b"=");
        header.extend_from_slice(value.as_bytes());
    }
    // The distinct values under each chunk index.
    let mut by_index: BTreeMap<usize, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in &pairs {
        if let Some(index) = NAMES[*name].1 {
            by_index.entry(index).or_default().insert(value.as_ref());
        }
    }
    let carries = |set: &ChunkSet<'_>| {
        set.values
            .iter()
            .enumerate()
            .all(|(i, v)| by_index.get(&i).is_some_and(|values| values.contains(v)))
    };
    let clean = |set: &ChunkSet<'_>| {
        set.values.iter().enumerate().all(|(i, v)| {
            by_index
                .get(&i)
                .is_some_and(|values| values.len() == 1 && values.contains(v))
        })
    };

    let header = header.freeze();
    let sent = DEBUG.then(|| String::from_utf8_lossy(&header).into_owned());
    let layer = if control & 0x80 != 0 {
        &fixture.plain
    } else {
        &fixture.layer
    };
    let outcome = run(layer, Handler::Run(op), header.clone());
    // Nothing else holds it now: the buffer goes back with its capacity.
    *cookie = header.try_into_mut().unwrap_or_default();
    let Some((seen, lines)) = outcome else {
        return;
    };

    // Every line names the session's cookie or a chunk of it, once.
    let mut names = BTreeSet::new();
    for (name, _, _) in &lines {
        assert!(chunk_index(name).is_some(), "a foreign Set-Cookie: {name}");
        assert!(names.insert(name.clone()), "{name} set twice");
    }

    let (written, replay) = sealed(&lines);

    // The session seen is fresh or an authentic candidate, and on a clean request that one.
    if seen.from_cookie {
        let found = (seen.id.expect("an opened session has an id"), &*seen.data);
        assert!(
            sets.iter()
                .any(|set| carries(set) && set.session == Some(found)),
            "the handler got a session the request does not carry whole"
        );
    }
    let touched = op != Op::Untouched;
    if let Some(set) = sets.iter().find(|set| clean(set)) {
        if touched {
            let expected = set.session;
            let got = seen
                .from_cookie
                .then(|| (seen.id.expect("opened sessions have ids"), &*seen.data));
            assert_eq!(
                got,
                expected,
                "a clean request of {} chunks",
                set.values.len()
            );
        }
        // A read that does not re-seal (a re-seal may need fewer chunks) leaves them all.
        if set.session.is_some() && matches!(op, Op::Read | Op::Untouched) && written.is_empty() {
            for (name, _, deletion) in &lines {
                let index = chunk_index(name).unwrap_or_default();
                assert!(
                    !(*deletion && index < set.values.len()),
                    "a read deleted the session's own {name}"
                );
            }
        }
    }

    // A seal writes its chunks in order, deletes the stale ones, and opens to what was left.
    if !written.is_empty() {
        let m = written.len();
        assert!(m <= MAX_CHUNKS);
        for index in 0..m {
            assert!(
                lines
                    .iter()
                    .any(|(name, _, deletion)| !deletion && chunk_index(name) == Some(index)),
                "chunk {index} of {m} missing"
            );
        }
        for (&index, _) in by_index.range(m..) {
            assert!(
                lines
                    .iter()
                    .any(|(name, _, deletion)| *deletion && chunk_index(name) == Some(index)),
                "stale chunk {index} kept after a seal of {m}"
            );
        }
        if *DEBUG {
            eprintln!(
                "op {op:?} seen {seen:?}\nlines {lines:?}\ncookie {}",
                sent.as_deref().unwrap_or_default()
            );
        }
        // Sent back to the layer's own engine (what its service hands the request's `Cookie`
        // header to): the same ring, configuration and clock, without a second request.
        let back = fixture.layer.sessions().begin(replay, "/");
        assert!(!back.is_new(), "a sealed session did not open");
        assert_eq!(*back.get(), *seen.left);
        assert_eq!(back.id(), seen.left_id);
        back.abandon();
    } else if let Op::Update(_) = op
        && seen.result.is_ok()
    {
        panic!("an update returned Ok but nothing was sealed");
    }
});
