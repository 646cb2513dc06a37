//! The cookie grammar, as bytes: the session's values among a request's `Cookie` fields (one
//! parser, one entry point, run on demand), and `Set-Cookie` lines out (attributes rendered
//! once, when the configuration is built).
//!
//! The `cookie` crate is not used on purpose: a request's cookie names must match byte for
//! byte (it trims them, so `__Host-session ` would pass for `__Host-session`), and the
//! attribute suffix is rendered once per configuration rather than per response.

use crate::envelope::{CHUNK_ALIGN, MAX_CHUNKS};
use crate::error::SessionError;

/// The `SameSite` cookie attribute (RFC 6265bis §4.1.2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SameSite {
    /// Sent only on same-site requests.
    Strict,
    /// Sent on same-site requests and top-level cross-site navigations. The default: it blocks
    /// most CSRF while keeping links from other sites logged in.
    #[default]
    Lax,
    /// Sent on every request, including cross-site ones. Requires `Secure`.
    ///
    /// # Security
    ///
    /// The session then rides along with cross-site requests: protect every state-changing
    /// route against CSRF.
    None,
}

impl SameSite {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

/// The cookie attributes after the value, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attributes {
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    pub(crate) partitioned: bool,
}

impl Default for Attributes {
    fn default() -> Self {
        Self {
            path: "/".to_owned(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            partitioned: false,
        }
    }
}

impl Attributes {
    /// `; Path=..; Domain=..; Secure; HttpOnly; SameSite=..; Partitioned`, in that order: the
    /// suffix of every line, rendered once.
    pub(crate) fn render(&self) -> String {
        let mut suffix = String::new();
        suffix.push_str("; Path=");
        suffix.push_str(&self.path);
        if let Some(domain) = &self.domain {
            suffix.push_str("; Domain=");
            suffix.push_str(domain);
        }
        if self.secure {
            suffix.push_str("; Secure");
        }
        if self.http_only {
            suffix.push_str("; HttpOnly");
        }
        suffix.push_str("; SameSite=");
        suffix.push_str(self.same_site.as_str());
        if self.partitioned {
            suffix.push_str("; Partitioned");
        }
        suffix
    }
}

const MAX_AGE: &str = "; Max-Age=";

/// The length of the name of chunk `index` of the cookie `name`: `name`, then `name.1`,
/// `name.2`, ... (a `__Host-` name keeps its prefix on every chunk).
pub(crate) fn chunk_name_len(name: &str, index: usize) -> usize {
    if index == 0 {
        name.len()
    } else {
        name.len() + ".".len() + decimal_len(index)
    }
}

fn decimal_len(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// Every byte of the line of chunk `index` but the value and the Max-Age digits (`max_age`:
/// whether the line has a Max-Age at all).
pub(crate) fn fixed_line_len(name: &str, index: usize, suffix: &str, max_age: bool) -> usize {
    chunk_name_len(name, index) + "=".len() + if max_age { MAX_AGE.len() } else { 0 } + suffix.len()
}

/// Starts the line of chunk `index` (0: the cookie itself): `name=`, with room for exactly a
/// value of `value_len` bytes and a Max-Age of `max_age_digits` (an exact capacity lets the
/// header value take the buffer without a copy); the value is then appended in place, and
/// [`finish_line`] adds the rest.
pub(crate) fn begin_line(
    name: &str,
    index: usize,
    suffix: &str,
    value_len: usize,
    max_age_digits: Option<usize>,
) -> Vec<u8> {
    let capacity = fixed_line_len(name, index, suffix, max_age_digits.is_some())
        + value_len
        + max_age_digits.unwrap_or(0);
    let mut line = Vec::with_capacity(capacity);
    line.extend_from_slice(name.as_bytes());
    if index > 0 {
        line.push(b'.');
        push_decimal(&mut line, index as u64);
    }
    line.push(b'=');
    line
}

/// Ends a line: `; Max-Age=N` (none for a browser-session cookie) and the attributes.
pub(crate) fn finish_line(line: &mut Vec<u8>, max_age: Option<u64>, suffix: &str) {
    if let Some(max_age) = max_age {
        line.extend_from_slice(MAX_AGE.as_bytes());
        push_decimal(line, max_age);
    }
    line.extend_from_slice(suffix.as_bytes());
}

/// What bounds the session's cookies, from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineLimits<'a> {
    pub(crate) name: &'a str,
    pub(crate) suffix: &'a str,
    /// The longest `Set-Cookie` line.
    pub(crate) line_limit: usize,
    /// The most the session's cookies may add to a request's `Cookie` header.
    pub(crate) header_budget: usize,
    /// 1: no chunking.
    pub(crate) max_chunks: usize,
}

/// How a sealed value is split across cookies: the length of each chunk, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    lens: [usize; MAX_CHUNKS],
    count: usize,
}

impl Layout {
    /// The number of cookies.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// The length of each chunk.
    pub(crate) fn lens(&self) -> &[usize] {
        self.lens.get(..self.count).unwrap_or_default()
    }
}

/// A greedy split: every chunk as long as its line allows (a multiple of four characters, so
/// that each decodes alone), the last one what is left.
struct Walk {
    lens: [usize; MAX_CHUNKS],
    count: usize,
    /// The bytes the cookies add to a `Cookie` header: `name=value` pairs and `; ` between.
    header_len: usize,
    /// The value bytes that did not fit.
    left: usize,
}

impl LineLimits<'_> {
    /// Splits a sealed value of `value_len` bytes whose lines carry a Max-Age of
    /// `max_age_digits` digits (`None`: no Max-Age).
    ///
    /// # Errors
    ///
    /// [`SessionError::TooLarge`]: without chunking, with the size of the line (or of the
    /// `Cookie` header pair) and its limit; with chunking, in bytes of the request's `Cookie`
    /// header, the session's need and the most it may take (the budget, or `max_chunks` full
    /// chunks).
    pub(crate) fn layout(
        &self,
        value_len: usize,
        max_age_digits: Option<usize>,
    ) -> Result<Layout, SessionError> {
        let extra = max_age_digits.map_or(0, |digits| MAX_AGE.len() + digits);
        if self.max_chunks == 1 && value_len > 0 {
            // One cookie (chunking off): the line and the header pair, without a walk.
            let line = fixed_line_len(self.name, 0, self.suffix, false) + extra + value_len;
            if line > self.line_limit {
                return Err(SessionError::TooLarge {
                    size: line,
                    limit: self.line_limit,
                });
            }
            let pair = chunk_name_len(self.name, 0) + "=".len() + value_len;
            if pair > self.header_budget {
                return Err(SessionError::TooLarge {
                    size: pair,
                    limit: self.header_budget,
                });
            }
            let mut lens = [0; MAX_CHUNKS];
            lens[0] = value_len;
            return Ok(Layout { lens, count: 1 });
        }
        let walk = self.walk(value_len, extra, self.max_chunks);
        // With chunking (an empty value walks to nothing and fits).
        if walk.left > 0 || walk.header_len > self.header_budget {
            let need = self.walk(value_len, extra, usize::MAX).header_len;
            let full = self.walk(usize::MAX, extra, self.max_chunks).header_len;
            return Err(SessionError::TooLarge {
                size: need,
                limit: full.min(self.header_budget),
            });
        }
        Ok(Layout {
            lens: walk.lens,
            count: walk.count,
        })
    }

    fn walk(&self, value_len: usize, extra: usize, max_chunks: usize) -> Walk {
        let mut walk = Walk {
            lens: [0; MAX_CHUNKS],
            count: 0,
            header_len: 0,
            left: value_len,
        };
        let mut index = 0;
        while walk.left > 0 && index < max_chunks {
            let room = self
                .line_limit
                .saturating_sub(fixed_line_len(self.name, index, self.suffix, false) + extra);
            let len = if walk.left <= room {
                walk.left
            } else {
                room - room % CHUNK_ALIGN
            };
            if len == 0 {
                walk.header_len = usize::MAX;
                break;
            }
            if let Some(slot) = walk.lens.get_mut(index) {
                *slot = len;
            }
            let separator = if index == 0 { 0 } else { "; ".len() };
            walk.header_len = walk
                .header_len
                .saturating_add(separator + chunk_name_len(self.name, index) + "=".len() + len);
            walk.left -= len;
            index += 1;
            walk.count = index;
        }
        walk
    }
}

/// Appends `n` in decimal: `write!` costs several times as much on this path.
fn push_decimal(line: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(digit) = digits.get_mut(start) {
            // n % 10 < 10: the cast cannot truncate.
            *digit = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    // One copy instead of a push per digit.
    line.extend_from_slice(digits.get(start..).unwrap_or_default());
}

/// The deletion line of chunk `index`: same name, path and domain, empty value, `Max-Age=0`
/// (RFC 6265bis §5.6.2: a non-positive Max-Age expires the cookie at once).
pub(crate) fn removal_line(name: &str, index: usize, suffix: &str) -> Vec<u8> {
    let mut line = begin_line(name, index, suffix, 0, Some(1));
    finish_line(&mut line, Some(0), suffix);
    line
}

/// The chunk index of a cookie named `cookie` for the session cookie `name`: 0 for the name
/// itself, `k` for `name.k` (1 to 15, canonical decimal), `None` for other cookies.
pub(crate) fn chunk_index(cookie: &[u8], name: &str) -> Option<usize> {
    chunk_suffix(cookie.strip_prefix(name.as_bytes())?)
}

/// The chunk index a cookie name's `rest` after the session's name says: 0 for nothing, `k`
/// for `.k` (1 to 15, canonical decimal), `None` for anything else.
fn chunk_suffix(rest: &[u8]) -> Option<usize> {
    if rest.is_empty() {
        return Some(0);
    }
    let digits = rest.strip_prefix(b".")?;
    let index = match digits {
        [d @ b'1'..=b'9'] => usize::from(d - b'0'),
        [b'1', d @ b'0'..=b'9'] => 10 + usize::from(d - b'0'),
        _ => return None,
    };
    (index < MAX_CHUNKS).then_some(index)
}

/// The name of the cookie a `Set-Cookie` line sets: the bytes before the first `=`, without
/// surrounding whitespace (RFC 6265 §5.2 step 5).
pub(crate) fn set_cookie_name(line: &[u8]) -> &[u8] {
    let pair = line.split(|&b| b == b';').next().unwrap_or_default();
    let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
    name.trim_ascii()
}

/// RFC 6265 §5.1.4 path-match: whether a cookie with `cookie_path` is sent with a request for
/// `request_path`.
pub(crate) fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    match request_path.strip_prefix(cookie_path) {
        None => false,
        Some(rest) => rest.is_empty() || cookie_path.ends_with('/') || rest.starts_with('/'),
    }
}

/// A request's raw `Cookie` header values, as an adapter holds them: read when the session is
/// first touched, never copied.
///
/// Implemented for a single value (`String`, `Box<[u8]>`, `&'static str`), for a
/// list of them (HTTP/2 sends one field per cookie, RFC 9113 §8.2.3), and for `()` (no
/// `Cookie` header). An adapter can implement it for its framework's own header values, so
/// that nothing is copied.
pub trait CookieFields: Send + Sync {
    /// The `index`th `Cookie` header value, in request order; `None` past the last.
    fn field(&self, index: usize) -> Option<&[u8]>;
}

/// A request's `Cookie` fields as an adapter holds them (its framework's header values,
/// reference-counted rather than copied): a list only for requests that send several (HTTP/2).
#[cfg(feature = "tower")]
pub(crate) struct HeaderFields<V> {
    first: Option<V>,
    rest: Vec<V>,
}

#[cfg(feature = "tower")]
impl<V> HeaderFields<V> {
    pub(crate) fn collect(mut fields: impl Iterator<Item = V>) -> Self {
        let first = fields.next();
        // Nearly every request has one `Cookie` field: no list is built for it.
        let rest = match fields.next() {
            None => Vec::new(),
            Some(second) => core::iter::once(second).chain(fields).collect(),
        };
        Self { first, rest }
    }
}

#[cfg(feature = "tower")]
impl<V: AsRef<[u8]> + Send + Sync> CookieFields for HeaderFields<V> {
    fn field(&self, index: usize) -> Option<&[u8]> {
        match index.checked_sub(1) {
            None => self.first.as_ref(),
            Some(rest) => self.rest.get(rest),
        }
        .map(AsRef::as_ref)
    }
}

/// No `Cookie` field at all.
impl CookieFields for () {
    fn field(&self, _: usize) -> Option<&[u8]> {
        None
    }
}

/// One `Cookie` header value.
impl CookieFields for String {
    fn field(&self, index: usize) -> Option<&[u8]> {
        (index == 0).then_some(self.as_bytes())
    }
}

/// One `Cookie` header value.
impl CookieFields for Box<[u8]> {
    fn field(&self, index: usize) -> Option<&[u8]> {
        (index == 0).then_some(&**self)
    }
}

/// One `Cookie` header value.
impl CookieFields for &'static str {
    fn field(&self, index: usize) -> Option<&[u8]> {
        (index == 0).then_some(self.as_bytes())
    }
}

/// Several `Cookie` header values, in request order.
impl<V: AsRef<[u8]> + Send + Sync> CookieFields for Vec<V> {
    fn field(&self, index: usize) -> Option<&[u8]> {
        self.get(index).map(AsRef::as_ref)
    }
}

/// The values of every cookie named exactly `name`, in request order: one pass over the
/// fields, linear in their length.
///
/// Names match byte for byte: `__host-session`, `__Host-session ` (trailing space),
/// look-alike Unicode and percent-encoded names are other cookies. Malformed pairs are
/// skipped. Values are raw bytes: whatever is not base64url fails to open, and counts as a bad
/// cookie.
pub(crate) fn values<'a>(fields: &'a dyn CookieFields, name: &'a str) -> Values<'a> {
    Values {
        pairs: Pairs {
            fields,
            next_field: 0,
            rest: &[],
        },
        name: name.as_bytes(),
    }
}

/// The chunk cookies `name.1` to `name.15` of a request, as (index, value), in request order;
/// the same pass as [`values`].
#[cfg(test)]
pub(crate) fn chunk_values<'a>(
    fields: &'a dyn CookieFields,
    name: &'a str,
) -> impl Iterator<Item = (usize, &'a [u8])> + 'a {
    session_cookies(fields, name).filter(|&(index, _)| index != 0)
}

/// Every cookie of the session: `name` (index 0) and its chunks `name.1` to `name.15`, as
/// (index, value), in request order: one pass over the fields for all of them.
pub(crate) fn session_cookies<'a>(
    fields: &'a dyn CookieFields,
    name: &'a str,
) -> impl Iterator<Item = (usize, &'a [u8])> + 'a {
    let pairs = Pairs {
        fields,
        next_field: 0,
        rest: &[],
    };
    pairs.filter_map(move |pair| {
        let rest = pair.strip_prefix(name.as_bytes())?;
        if let Some(value) = rest.strip_prefix(b"=") {
            return Some((0, value));
        }
        let at = rest.iter().position(|&b| b == b'=')?;
        let (suffix, value) = rest.split_at(at);
        match chunk_suffix(suffix)? {
            0 => None,
            index => Some((index, value.get(1..).unwrap_or_default())),
        }
    })
}

/// The `name=value` pairs of a request's `Cookie` fields, leading whitespace trimmed: a
/// hand-written scan, about a third of the instructions of a `split`/`filter_map` chain on a
/// typical header.
#[derive(Clone)]
struct Pairs<'a> {
    fields: &'a dyn CookieFields,
    next_field: usize,
    /// What is left of the current field.
    rest: &'a [u8],
}

impl<'a> Iterator for Pairs<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.rest.is_empty() {
                self.rest = self.fields.field(self.next_field)?;
                self.next_field += 1;
                continue;
            }
            let end = find_semicolon(self.rest).unwrap_or(self.rest.len());
            let (pair, rest) = self.rest.split_at(end);
            self.rest = rest.get(1..).unwrap_or_default();
            // Separators are "; " (RFC 6265 §4.2.1); tolerate extra leading whitespace.
            return Some(pair.trim_ascii_start());
        }
    }
}

/// The iterator of [`values`].
#[derive(Clone)]
pub(crate) struct Values<'a> {
    pairs: Pairs<'a>,
    name: &'a [u8],
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let value = self
                .pairs
                .next()?
                .strip_prefix(self.name)
                .and_then(|rest| rest.strip_prefix(b"="));
            if value.is_some() {
                return value;
            }
        }
    }
}

/// The first `;` in `bytes`.
fn find_semicolon(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b';', bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_names_byte_for_byte_across_fields() {
        let request: Vec<&'static [u8]> = vec![
            b"a=1; s=one;s=two; __host-s=no; s =no; s",
            b"x=y;  s=three",
            b"s=\xff",
        ];
        let found: Vec<&[u8]> = values(&request, "s").collect();
        assert_eq!(found, [&b"one"[..], b"two", b"three", b"\xff"]);
        for len in 0..40 {
            for at in 0..=len {
                let mut text = vec![b'a'; len];
                if at < len {
                    text[at] = b';';
                }
                let expected = text.iter().position(|&b| b == b';');
                assert_eq!(find_semicolon(&text), expected, "{len} {at}");
            }
        }
        assert_eq!(values(&request, "nope").count(), 0);
        assert_eq!(values(&(), "s").count(), 0);
    }

    #[test]
    fn lines_render_attributes_once() {
        let suffix = Attributes::default().render();
        assert_eq!(suffix, "; Path=/; Secure; HttpOnly; SameSite=Lax");
        let mut line = begin_line("n", 0, &suffix, 3, Some(2));
        let capacity = line.capacity();
        line.extend_from_slice(b"abc");
        finish_line(&mut line, Some(60), &suffix);
        assert_eq!(line.capacity(), capacity);
        assert_eq!(
            line,
            b"n=abc; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(line.len(), fixed_line_len("n", 0, &suffix, true) + 3 + 2);
        let mut session = begin_line("n", 0, &suffix, 3, None);
        session.extend_from_slice(b"abc");
        finish_line(&mut session, None, &suffix);
        assert_eq!(session.len(), fixed_line_len("n", 0, &suffix, false) + 3);
        assert_eq!(session.len(), session.capacity());
        assert_eq!(
            removal_line("n", 0, &suffix),
            b"n=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            removal_line("__Host-n", 12, &suffix),
            b"__Host-n.12=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        let mut chunk = begin_line("n", 3, &suffix, 2, None);
        chunk.extend_from_slice(b"ab");
        finish_line(&mut chunk, None, &suffix);
        assert_eq!(chunk.len(), fixed_line_len("n", 3, &suffix, false) + 2);
        assert!(chunk.starts_with(b"n.3=ab; Path=/"));
        assert_eq!(set_cookie_name(b" n =v; Path=/"), b"n");
        for n in [0, 7, 10, 86_400, u64::MAX] {
            let mut text = Vec::new();
            push_decimal(&mut text, n);
            assert_eq!(text, n.to_string().as_bytes());
        }
        assert_eq!(set_cookie_name(b"novalue"), b"novalue");
    }

    #[test]
    fn chunk_names_are_canonical_and_found_in_one_pass() {
        assert_eq!(chunk_index(b"s", "s"), Some(0));
        assert_eq!(chunk_index(b"s.1", "s"), Some(1));
        assert_eq!(chunk_index(b"s.15", "s"), Some(15));
        for other in [
            &b"s.0"[..],
            b"s.01",
            b"s.16",
            b"s.1x",
            b"s.",
            b"s1",
            b"S.1",
            b"s.-1",
        ] {
            assert_eq!(chunk_index(other, "s"), None, "{other:?}");
        }
        let request: Vec<&'static [u8]> = vec![b"s.2=two; s=main; s.1=one; s.16=no", b"s.2=dup"];
        let chunks: Vec<(usize, &[u8])> = chunk_values(&request, "s").collect();
        assert_eq!(
            chunks,
            [(2, &b"two"[..]), (1, b"one"), (2, b"dup")],
            "the main cookie and out-of-range names are not chunks"
        );
        assert_eq!(values(&request, "s").collect::<Vec<_>>(), [&b"main"[..]]);
    }

    /// Without chunking, the layout is worked out without a walk: the same lines and the same
    /// refusals as the walk's.
    #[test]
    fn unchunked_layouts_are_the_walks() {
        let suffix = Attributes::default().render();
        for (line_limit, header_budget) in [(200, 6144), (200, 150), (60, 6144), (10, 4)] {
            let one = LineLimits {
                name: "__Host-s",
                suffix: &suffix,
                line_limit,
                header_budget,
                max_chunks: 1,
            };
            for value_len in 1..260 {
                for digits in [None, Some(1), Some(7)] {
                    let extra = digits.map_or(0, |d| MAX_AGE.len() + d);
                    let walk = one.walk(value_len, extra, 1);
                    let expected = if walk.left > 0 {
                        let line =
                            fixed_line_len("__Host-s", 0, &suffix, false) + extra + value_len;
                        Err(SessionError::TooLarge {
                            size: line,
                            limit: line_limit,
                        })
                    } else if walk.header_len > header_budget {
                        Err(SessionError::TooLarge {
                            size: walk.header_len,
                            limit: header_budget,
                        })
                    } else {
                        Ok(Layout {
                            lens: walk.lens,
                            count: walk.count,
                        })
                    };
                    assert_eq!(one.layout(value_len, digits), expected, "{value_len}");
                }
            }
        }
    }

    #[test]
    fn layouts_fill_lines_in_whole_bytes_and_respect_both_limits() {
        let suffix = Attributes::default().render();
        let limits = |max_chunks, header_budget| LineLimits {
            name: "__Host-s",
            suffix: &suffix,
            line_limit: 200,
            header_budget,
            max_chunks,
        };
        let room0 = 200 - fixed_line_len("__Host-s", 0, &suffix, false);
        // Unchunked: exactly the line limit fits; one byte more names the line size.
        let one = limits(1, 6144);
        assert_eq!(one.layout(room0, None).unwrap().lens(), [room0]);
        assert_eq!(
            one.layout(room0 + 1, None),
            Err(SessionError::TooLarge {
                size: 201,
                limit: 200
            })
        );
        // Chunked: full chunks are multiples of four, the last takes the rest.
        let three = limits(3, 6144);
        let layout = three.layout(room0 + 10, None).unwrap();
        assert_eq!(layout.count(), 2);
        assert_eq!(layout.lens()[0], room0 - room0 % 4);
        assert_eq!(layout.lens().iter().sum::<usize>(), room0 + 10);
        for (index, len) in layout.lens().iter().enumerate() {
            assert!(fixed_line_len("__Host-s", index, &suffix, false) + len <= 200);
        }
        // Max-Age digits count on every line.
        let with_age = three.layout(room0 + 10, Some(6)).unwrap();
        assert!(with_age.lens()[0] <= room0 - 16);
        // More than three chunks' worth, or more than the header budget: refused, in Cookie
        // header bytes.
        let Err(SessionError::TooLarge { size, limit }) = three.layout(4 * room0, None) else {
            panic!("over three chunks");
        };
        assert!(size > limit);
        let tight = limits(3, 300);
        let Err(SessionError::TooLarge { limit, .. }) = tight.layout(room0 + 200, None) else {
            panic!("over the budget");
        };
        assert_eq!(limit, 300);
        let fits = tight.layout(room0 + 100, None).unwrap();
        let header: usize = fits
            .lens()
            .iter()
            .enumerate()
            .map(|(i, len)| chunk_name_len("__Host-s", i) + 1 + len + if i > 0 { 2 } else { 0 })
            .sum();
        assert!(header <= 300);
    }

    #[test]
    fn path_match_follows_rfc_6265() {
        assert!(path_matches("/", "/"));
        assert!(path_matches("/app", "/app"));
        assert!(path_matches("/app/x", "/app"));
        assert!(path_matches("/app/x", "/app/"));
        assert!(!path_matches("/apple", "/app"));
        assert!(!path_matches("/", "/app"));
        assert!(path_matches("/anything", "/"));
    }
}
