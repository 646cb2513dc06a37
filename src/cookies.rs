//! The cookie grammar, as bytes: the session's values among a request's `Cookie` fields (one
//! parser, one entry point, run on demand), and `Set-Cookie` lines out (attributes rendered
//! once, when the configuration is built).
//!
//! The `cookie` crate is not used on purpose: a request's cookie names must match byte for
//! byte (it trims them, so `__Host-session ` would pass for `__Host-session`), and the
//! attribute suffix is rendered once per configuration rather than per response.

use core::fmt::Write as _;

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

/// Starts a line: `name=`, with room for a value of about `value_len` bytes; the value is
/// then appended in place, and [`finish_line`] adds the rest.
pub(crate) fn begin_line(name: &str, suffix: &str, value_len: usize) -> String {
    let mut line = String::with_capacity(fixed_line_len(name, suffix, true) + value_len + 20);
    line.push_str(name);
    line.push('=');
    line
}

/// Ends a line: `; Max-Age=N` (none for a browser-session cookie) and the attributes.
pub(crate) fn finish_line(line: &mut String, max_age: Option<u64>, suffix: &str) {
    if let Some(max_age) = max_age {
        line.push_str(MAX_AGE);
        // Writing to a String cannot fail.
        let _ = write!(line, "{max_age}");
    }
    line.push_str(suffix);
}

/// The deletion line: same name, path and domain, empty value, `Max-Age=0` (RFC 6265bis
/// §5.6.2: a non-positive Max-Age expires the cookie at once).
pub(crate) fn removal_line(name: &str, suffix: &str) -> String {
    let mut line = begin_line(name, suffix, 0);
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

/// A request's raw `Cookie` fields, kept (not copied: the adapter's own header values, which
/// are reference-counted) until the session is first touched.
#[derive(Default)]
pub(crate) struct RequestCookies {
    fields: Fields,
}

/// One `Cookie` field, as the adapter's header value type.
pub(crate) type Field = Box<dyn AsRef<[u8]> + Send + Sync>;

#[derive(Default)]
enum Fields {
    #[default]
    None,
    One(Field),
    Many(Vec<Field>),
}

impl RequestCookies {
    /// The `Cookie` fields of a request, in order (HTTP/2 sends one field per cookie, RFC 9113
    /// §8.2.3).
    pub(crate) fn new(fields: impl IntoIterator<Item = Field>) -> Self {
        let mut fields = fields.into_iter();
        let Some(first) = fields.next() else {
            return Self::default();
        };
        let fields = match fields.next() {
            None => Fields::One(first),
            Some(second) => {
                let mut all = vec![first, second];
                all.extend(fields);
                Fields::Many(all)
            }
        };
        Self { fields }
    }

    fn fields(&self) -> &[Field] {
        match &self.fields {
            Fields::None => &[],
            Fields::One(field) => core::slice::from_ref(field),
            Fields::Many(fields) => fields,
        }
    }

    /// The values of every cookie named exactly `name`, in request order: one pass over the
    /// fields, linear in their length.
    ///
    /// Names match byte for byte: `__host-session`, `__Host-session ` (trailing space),
    /// look-alike Unicode and percent-encoded names are other cookies. Malformed pairs are
    /// skipped. A value that is not UTF-8 cannot be a sealed value (base64url) and is
    /// returned as a string that fails to open, so that it still counts as a bad cookie.
    pub(crate) fn values<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a str> + Clone + 'a {
        self.fields()
            .iter()
            .flat_map(|field| (**field).as_ref().split(|&b| b == b';'))
            .filter_map(move |pair| {
                // Separators are "; " (RFC 6265 §4.2.1); tolerate extra leading whitespace.
                let value = pair
                    .trim_ascii_start()
                    .strip_prefix(name.as_bytes())?
                    .strip_prefix(b"=")?;
                Some(core::str::from_utf8(value).unwrap_or("\u{fffd}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(fields: &[&'static [u8]]) -> RequestCookies {
        RequestCookies::new(fields.iter().map(|f| Box::new(*f) as Field))
    }

    #[test]
    fn values_match_names_byte_for_byte_across_fields() {
        let request = cookies(&[
            b"a=1; s=one;s=two; __host-s=no; s =no; s",
            b"x=y;  s=three",
            b"s=\xff",
        ]);
        let values: Vec<&str> = request.values("s").collect();
        assert_eq!(values, ["one", "two", "three", "\u{fffd}"]);
        assert_eq!(request.values("nope").count(), 0);
        assert_eq!(cookies(&[]).values("s").count(), 0);
    }

    #[test]
    fn lines_render_attributes_once() {
        let suffix = Attributes::default().render();
        assert_eq!(suffix, "; Path=/; Secure; HttpOnly; SameSite=Lax");
        let mut line = begin_line("n", &suffix, 3);
        line.push_str("abc");
        finish_line(&mut line, Some(60), &suffix);
        assert_eq!(
            line,
            "n=abc; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(line.len(), fixed_line_len("n", &suffix, true) + 3 + 2);
        let mut session = begin_line("n", &suffix, 3);
        session.push_str("abc");
        finish_line(&mut session, None, &suffix);
        assert_eq!(session.len(), fixed_line_len("n", &suffix, false) + 3);
        assert_eq!(
            removal_line("n", &suffix),
            "n=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(set_cookie_name(b" n =v; Path=/"), b"n");
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
