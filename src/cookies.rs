//! The cookie grammar, as bytes: the session's values among a request's `Cookie` fields (one
//! parser, one entry point, run on demand), and `Set-Cookie` lines out (attributes rendered
//! once, when the configuration is built).
//!
//! The `cookie` crate is not used on purpose: a request's cookie names must match byte for
//! byte (it trims them, so `__Host-session ` would pass for `__Host-session`), and the
//! attribute suffix is rendered once per configuration rather than per response.

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
    const fn as_str(self) -> &'static str {
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

/// Every byte of a line but the value and the Max-Age digits (`max_age`: whether the line
/// has a Max-Age at all).
pub(crate) fn fixed_line_len(name: &str, suffix: &str, max_age: bool) -> usize {
    name.len() + "=".len() + if max_age { MAX_AGE.len() } else { 0 } + suffix.len()
}

/// Starts a line: `name=`, with room for exactly a value of `value_len` bytes and a Max-Age of
/// `max_age_digits` (an exact capacity lets the header value take the buffer without a copy);
/// the value is then appended in place, and [`finish_line`] adds the rest.
pub(crate) fn begin_line(
    name: &str,
    suffix: &str,
    value_len: usize,
    max_age_digits: Option<usize>,
) -> String {
    let capacity = fixed_line_len(name, suffix, max_age_digits.is_some())
        + value_len
        + max_age_digits.unwrap_or(0);
    let mut line = String::with_capacity(capacity);
    line.push_str(name);
    line.push('=');
    line
}

/// Ends a line: `; Max-Age=N` (none for a browser-session cookie) and the attributes.
pub(crate) fn finish_line(line: &mut String, max_age: Option<u64>, suffix: &str) {
    if let Some(max_age) = max_age {
        line.push_str(MAX_AGE);
        push_decimal(line, max_age);
    }
    line.push_str(suffix);
}

/// Appends `n` in decimal: `write!` costs several times as much on this path.
fn push_decimal(line: &mut String, mut n: u64) {
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
    for &digit in digits.get(start..).unwrap_or_default() {
        line.push(char::from(digit));
    }
}

/// The deletion line: same name, path and domain, empty value, `Max-Age=0` (RFC 6265bis
/// §5.6.2: a non-positive Max-Age expires the cookie at once).
pub(crate) fn removal_line(name: &str, suffix: &str) -> String {
    let mut line = begin_line(name, suffix, 0, Some(1));
    finish_line(&mut line, Some(0), suffix);
    line
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

/// A request's raw `Cookie` fields, as the adapter holds them (its own header values,
/// reference-counted, not copied), read when the session is first touched.
pub(crate) trait CookieFields: Send + Sync {
    /// The `index`th `Cookie` field, in request order (HTTP/2 sends one field per cookie,
    /// RFC 9113 §8.2.3).
    fn field(&self, index: usize) -> Option<&[u8]>;
}

/// No `Cookie` field at all.
impl CookieFields for () {
    fn field(&self, _: usize) -> Option<&[u8]> {
        None
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
        fields,
        name: name.as_bytes(),
        next_field: 0,
        rest: &[],
    }
}

/// The iterator of [`values`]: a hand-written scan, about a third of the instructions of a
/// `split`/`filter_map` chain on a typical header.
#[derive(Clone)]
pub(crate) struct Values<'a> {
    fields: &'a dyn CookieFields,
    name: &'a [u8],
    next_field: usize,
    /// What is left of the current field.
    rest: &'a [u8],
}

impl<'a> Iterator for Values<'a> {
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
            let value = pair
                .trim_ascii_start()
                .strip_prefix(self.name)
                .and_then(|rest| rest.strip_prefix(b"="));
            if value.is_some() {
                return value;
            }
        }
    }
}

/// The first `;` in `bytes`, eight bytes at a time (SWAR: a lane is zero after the XOR exactly
/// where the byte was `;`, and the borrow trick flags it), with no `unsafe`.
fn find_semicolon(bytes: &[u8]) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const SEMICOLONS: u64 = LOW * b';' as u64;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or_default());
        let x = word ^ SEMICOLONS;
        if x.wrapping_sub(LOW) & !x & HIGH != 0 {
            return chunk.iter().position(|&b| b == b';').map(|at| offset + at);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b';')
        .map(|at| offset + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl CookieFields for Vec<&'static [u8]> {
        fn field(&self, index: usize) -> Option<&[u8]> {
            self.get(index).copied()
        }
    }

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
        let mut line = begin_line("n", &suffix, 3, Some(2));
        let capacity = line.capacity();
        line.push_str("abc");
        finish_line(&mut line, Some(60), &suffix);
        assert_eq!(line.capacity(), capacity);
        assert_eq!(
            line,
            "n=abc; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(line.len(), fixed_line_len("n", &suffix, true) + 3 + 2);
        let mut session = begin_line("n", &suffix, 3, None);
        session.push_str("abc");
        finish_line(&mut session, None, &suffix);
        assert_eq!(session.len(), fixed_line_len("n", &suffix, false) + 3);
        assert_eq!(session.len(), session.capacity());
        assert_eq!(
            removal_line("n", &suffix),
            "n=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(set_cookie_name(b" n =v; Path=/"), b"n");
        for n in [0, 7, 10, 86_400, u64::MAX] {
            let mut text = String::new();
            push_decimal(&mut text, n);
            assert_eq!(text, n.to_string());
        }
        assert_eq!(set_cookie_name(b"novalue"), b"novalue");
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
