//! The scenario bodies that [`scenarios!`](super::scenarios) expands for every instance.
//!
//! Each takes the [`Instance`] (adapter and algorithm), starts its own server(s) on
//! `127.0.0.1:0` and drives them with a real client. Ids refer to SECURITY-TESTS.md.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sealed_session::{
    Algorithm, CacheControl, Codec, ConfigError, Key, KeyRing, OpenErrorKind, Rolling, SameSite,
    SessionConfig, SessionError, SessionMeta,
};

use crate::common::MAX_OPENS;

use super::{
    Client, Env, Instance, Logs, Resp, SetCookie, T0, TestSession, codec_for, key_id, key_string,
    layer, raw_exchange, sealed_key_id, visits,
};

const DAY: u64 = 86_400;
const DEFAULT_NAME: &str = "__Host-session";

/// The `K` of a `len: K` answer.
fn blob_len(resp: &Resp) -> usize {
    assert_eq!(resp.status, 200, "{resp:?}");
    resp.body.strip_prefix("len: ").unwrap().parse().unwrap()
}

/// `(size, limit)` from a 413 carrying `SessionError::TooLarge`'s message.
fn too_large(resp: &Resp) -> (usize, usize) {
    assert_eq!(resp.status, 413, "{resp:?}");
    let size = resp
        .body
        .split("would be ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap();
    let limit = resp
        .body
        .split("over the ")
        .nth(1)
        .and_then(|rest| rest.split('-').next())
        .unwrap();
    (size.parse().unwrap(), limit.parse().unwrap())
}

fn pair(name: &str, value: &str) -> String {
    format!("{name}={value}")
}

/// A session cookie value from a fresh client that visited `times` times.
async fn session_after_visits(env: &Env, times: u64) -> String {
    let mut client = env.client();
    for _ in 0..times {
        client.get("/").await;
    }
    client.cookie(env.name()).unwrap()
}

/// `value` with one base64url character changed (still valid base64url, now unauthentic).
fn tampered(value: &str) -> String {
    let mut bytes = value.as_bytes().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// Re-encodes `value` after `edit` on its raw bytes.
fn edit_raw(value: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut raw = URL_SAFE_NO_PAD.decode(value).unwrap();
    edit(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

fn other_algorithm(algorithm: Algorithm) -> Algorithm {
    match algorithm {
        Algorithm::Aes256Gcm => Algorithm::XChaCha20Poly1305,
        _ => Algorithm::Aes256Gcm,
    }
}

/// Smoke: a counter across requests, on one connection and on a new one per request.
pub(crate) async fn smoke_counter(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    for expected in 1..=3 {
        let resp = client.get("/").await;
        assert_eq!(visits(&resp), expected);
        assert!(resp.set_cookie().is_some());
    }
    let mut fresh = env.client().fresh_connections();
    fresh.set_cookie(env.name(), &client.cookie(env.name()).unwrap());
    assert_eq!(visits(&fresh.get("/").await), 4);
    assert_eq!(visits(&fresh.get("/").await), 5);
}

/// Grows a new session by one byte at a time from `start` bytes until the server refuses.
/// Returns the `Set-Cookie` length for each accepted blob length, and the refusal.
async fn grow_until_refused(client: &mut Client, start: usize) -> (BTreeMap<usize, usize>, Resp) {
    let mut sizes = BTreeMap::new();
    let resp = client.post(&format!("/grow?n={start}"), "").await;
    assert_eq!(blob_len(&resp), start);
    sizes.insert(start, resp.set_cookie().unwrap().len());
    for step in 1.. {
        assert!(step < 1000, "never refused");
        let resp = client.post("/grow?n=1", "").await;
        if resp.status == 413 {
            return (sizes, resp);
        }
        assert_eq!(blob_len(&resp), start + step);
        sizes.insert(start + step, resp.set_cookie().unwrap().len());
    }
    unreachable!()
}

/// E1: a change whose `Set-Cookie` would exceed 4096 bytes is a 413 with the `TooLarge`
/// message, sends no cookie and leaves the session as it was; the predicted size is the
/// emitted one.
pub(crate) async fn too_large_refused_and_session_kept(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    let (sizes, refused) = grow_until_refused(&mut client, 2900).await;
    let (&last_len, &last_size) = sizes.last_key_value().unwrap();
    assert!(sizes.values().all(|&size| size <= 4096), "{sizes:?}");
    let (size, limit) = too_large(&refused);
    assert_eq!(limit, 4096);
    assert!(size > 4096);
    // Growing one byte adds one or two base64 characters: the limit is used up to the byte.
    assert!(size - last_size <= 2, "{last_size} then {size}");
    assert!(refused.set_cookie().is_none(), "{refused:?}");
    assert!(refused.body.contains("4096"));
    // The session stays as it was.
    let resp = client.get("/len").await;
    assert_eq!(blob_len(&resp), last_len);
    assert!(resp.set_cookie().is_none());
    assert_eq!(visits(&client.get("/").await), 1);

    // Predicted == emitted: a server with room to spare emits exactly the refused size.
    let roomy = env
        .also_serve(
            SessionConfig::builder()
                .max_cookie_size(8192)
                .build()
                .unwrap(),
        )
        .await;
    let mut client = Client::new(roomy.addr);
    let resp = client.post(&format!("/grow?n={}", last_len + 1), "").await;
    assert_eq!(blob_len(&resp), last_len + 1);
    assert_eq!(resp.set_cookie().unwrap().len(), size);
}

/// E1 at a reachable boundary: with `max_cookie_size` = s where s and s + 1 are both
/// reachable sizes, a `Set-Cookie` of exactly s bytes is sent and s + 1 is refused.
pub(crate) async fn exact_limit_boundary(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    let (sizes, _) = grow_until_refused(&mut client, 2900).await;
    // The largest blob length k whose next byte adds exactly one character.
    let (k, s) = sizes
        .iter()
        .rev()
        .find_map(|(&k, &s)| (sizes.get(&(k + 1)) == Some(&(s + 1))).then_some((k, s)))
        .unwrap();

    let exact = env
        .also_serve(SessionConfig::builder().max_cookie_size(s).build().unwrap())
        .await;
    let mut client = Client::new(exact.addr);
    let resp = client.post(&format!("/grow?n={k}"), "").await;
    assert_eq!(blob_len(&resp), k);
    assert_eq!(
        resp.set_cookie().unwrap().len(),
        s,
        "exactly the limit is accepted"
    );
    let resp = client.post("/grow?n=1", "").await;
    assert_eq!(too_large(&resp), (s + 1, s), "limit + 1 is refused");
    assert!(resp.set_cookie().is_none());
    assert_eq!(blob_len(&client.get("/len").await), k);

    // One byte less of room and the same session is refused, predicted at s.
    let tight = env
        .also_serve(
            SessionConfig::builder()
                .max_cookie_size(s - 1)
                .build()
                .unwrap(),
        )
        .await;
    let mut client = Client::new(tight.addr);
    let resp = client.post(&format!("/grow?n={k}"), "").await;
    assert_eq!(too_large(&resp), (s, s - 1));
}

/// E2: the default `Set-Cookie`.
pub(crate) async fn default_attributes(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    let cookie = client.get("/").await.cookie();
    assert_eq!(cookie.name, DEFAULT_NAME);
    assert!(
        cookie
            .value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "base64url: {}",
        cookie.value
    );
    let mut attributes = cookie.attributes.clone();
    attributes.sort();
    let expected = [
        ("HttpOnly", None),
        ("Max-Age", Some("86400")),
        ("Path", Some("/")),
        ("SameSite", Some("Lax")),
        ("Secure", None),
    ]
    .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)));
    assert_eq!(attributes, expected, "{}", cookie.line);
    assert_eq!(cookie.attr("Domain"), None);
}

/// E2 / express-session `cookie.secure/httpOnly/sameSite/path/domain`: as configured.
pub(crate) async fn configured_attributes(instance: Instance) {
    let config = SessionConfig::builder()
        .cookie_name("sid")
        .secure(false)
        .http_only(false)
        .same_site(SameSite::Strict)
        .path("/app")
        .domain("example.test")
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let mut client = env.client();
    // Inside the cookie's Path (a change outside it would be lost: see e2_outside_path).
    let cookie = client.get("/app").await.cookie();
    assert_eq!(cookie.name, "sid");
    assert_eq!(cookie.attr("Path"), Some(Some("/app")));
    assert_eq!(cookie.attr("Domain"), Some(Some("example.test")));
    assert_eq!(cookie.attr("SameSite"), Some(Some("Strict")));
    assert_eq!(cookie.attr("Secure"), None);
    assert_eq!(cookie.attr("HttpOnly"), None);
    assert_eq!(cookie.attr("Partitioned"), None);
    assert_eq!(visits(&client.get("/app").await), 2);

    let config = SessionConfig::builder()
        .cookie_name("__Secure-sid")
        .same_site(SameSite::None)
        .partitioned(true)
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let mut client = env.client();
    let cookie = client.get("/").await.cookie();
    assert_eq!(cookie.name, "__Secure-sid");
    for flag in ["Secure", "HttpOnly", "Partitioned"] {
        assert_eq!(cookie.attr(flag), Some(None), "{flag}: {}", cookie.line);
    }
    assert_eq!(cookie.attr("SameSite"), Some(Some("None")));
    assert_eq!(cookie.attr("Path"), Some(Some("/")));
    assert_eq!(visits(&client.get("/").await), 2);
}

/// The `insecure_http` escape hatch drops Secure and the `__Host-` prefix, and says so loudly.
/// Test plan: SECURITY-TESTS.md E2.
pub(crate) async fn insecure_http_escape_hatch(instance: Instance) {
    let logs = Logs::capture();
    let config = SessionConfig::builder()
        .insecure_http(true)
        .build()
        .unwrap();
    assert!(config.is_insecure_http());
    let env = Env::with_config(instance, config).await;
    assert!(logs.text().contains("insecure_http"), "{}", logs.text());
    let mut client = env.client();
    let cookie = client.get("/").await.cookie();
    assert_eq!(cookie.name, "session");
    assert_eq!(cookie.attr("Secure"), None);
    assert_eq!(cookie.attr("HttpOnly"), Some(None));
    assert_eq!(visits(&client.get("/").await), 2);
}

/// E3: the session is found in any of several `Cookie` fields and among 50 other cookies.
pub(crate) async fn found_in_any_field_and_among_many(instance: Instance) {
    let env = Env::new(instance).await;
    let value = session_after_visits(&env, 1).await;
    let session = pair(env.name(), &value);
    let mut client = env.client();

    let first = format!("{session}; a=1");
    let last = format!("a=1; b=2; {session}");
    let cases: Vec<Vec<&str>> = vec![
        vec![&session],
        vec![&first, "c=3", "d=4"],
        vec!["a=1", &session, "b=2"],
        vec!["a=1; b=2", "c=3", &last],
    ];
    for fields in &cases {
        let resp = client.get_with("/peek", fields).await;
        assert_eq!(visits(&resp), 1, "{fields:?}");
        assert!(resp.set_cookie().is_none(), "{fields:?}");
    }

    let others: Vec<String> = (0..50).map(|i| format!("other{i}=v{i}")).collect();
    let (before, after) = others.split_at(25);
    let one_field = format!("{}; {session}; {}", before.join("; "), after.join("; "));
    assert_eq!(visits(&client.get_with("/peek", &[&one_field]).await), 1);
    let at_end = format!("{}; {session}", others.join("; "));
    assert_eq!(visits(&client.get_with("/peek", &[&at_end]).await), 1);
    let mut many_fields: Vec<&str> = others.iter().map(String::as_str).collect();
    many_fields.insert(37, &session);
    assert_eq!(visits(&client.get_with("/peek", &many_fields).await), 1);
}

/// E3: names match byte for byte; look-alikes are other cookies (not even refused ones).
pub(crate) async fn names_match_byte_exactly(instance: Instance) {
    let logs = Logs::capture();
    let env = Env::new(instance).await;
    let value = session_after_visits(&env, 1).await;
    let mut client = env.client();
    let look_alikes = [
        format!("__host-session={value}"),
        format!("__HOST-SESSION={value}"),
        format!("__Host-session ={value}"),
        format!("__Host-session\t={value}"),
        format!("__\u{397}ost-session={value}"), // Greek capital eta
        format!("__Host\u{2010}session={value}"), // Unicode hyphen
        format!("__Host-sessi\u{43e}n={value}"), // Cyrillic o
        format!("__Host%2Dsession={value}"),
        format!("%5F%5FHost-session={value}"),
        format!("x__Host-session={value}"),
        format!("__Host-sessionx={value}"),
        format!("__Host-session\u{200b}={value}"), // zero-width space
        format!("={value}"),
        value.clone(),
        format!("a={value}"),
    ];
    logs.take();
    for field in &look_alikes {
        let resp = client.get_with("/peek", &[field]).await;
        assert_eq!(visits(&resp), 0, "{field}");
        // Not ours, so nothing to refuse or delete.
        assert!(resp.set_cookie().is_none(), "{field}: {resp:?}");
    }
    assert!(!logs.take().contains("refused"));
    // Control: the exact name, and leading whitespace after the separator.
    let exact = pair(env.name(), &value);
    assert_eq!(visits(&client.get_with("/peek", &[&exact]).await), 1);
    let spaced = format!("a=1;  {exact}");
    assert_eq!(visits(&client.get_with("/peek", &[&spaced]).await), 1);
}

/// E3: malformed pairs around the session cookie are skipped, not fatal.
pub(crate) async fn malformed_pairs_skipped(instance: Instance) {
    let env = Env::new(instance).await;
    let value = session_after_visits(&env, 1).await;
    let session = pair(env.name(), &value);
    let mut client = env.client();
    let messy = [
        format!("garbage; ;;=; ==; a; {session}; =x; b==; ;"),
        format!(";;;{session};;;"),
        format!("{}; {session}", env.name()),
        format!("\"quoted\"=\"x\"; {session}; trailing"),
        format!("a=\u{e9}\u{0301}; {session}"),
    ];
    for field in &messy {
        let resp = client.get_with("/peek", &[field]).await;
        assert_eq!(visits(&resp), 1, "{field}");
    }
    let fields = ["=;=;=", "junk", session.as_str(), ";"];
    assert_eq!(visits(&client.get_with("/peek", &fields).await), 1);
}

/// E4: one authentic and one garbage cookie of the name, either order: the authentic one.
pub(crate) async fn authentic_beats_garbage_either_order(instance: Instance) {
    let env = Env::new(instance).await;
    let value = session_after_visits(&env, 2).await;
    let name = env.name();
    let mut client = env.client();
    for garbage in [tampered(&value), "garbage".to_owned(), "AAAA".repeat(30)] {
        let authentic = pair(name, &value);
        let bad = pair(name, &garbage);
        let one_field_a = format!("{authentic}; {bad}");
        let one_field_b = format!("{bad}; {authentic}");
        let cases: [Vec<&str>; 4] = [
            vec![&one_field_a],
            vec![&one_field_b],
            vec![&authentic, &bad],
            vec![&bad, &authentic],
        ];
        for fields in &cases {
            let resp = client.get_with("/peek", fields).await;
            assert_eq!(visits(&resp), 2, "{fields:?}");
            assert!(resp.set_cookie().is_none(), "{fields:?}");
        }
        // And it keeps counting from the authentic one.
        let resp = client.get_with("/", &[&one_field_b]).await;
        assert_eq!(visits(&resp), 3);
    }
}

/// E4, F1, F5: two distinct authentic cookies of the name: no session, and one `info` event;
/// the response neither overwrites nor deletes either cookie (one may be the user's own), and
/// a change in that request is refused with `Conflict` (a 400 here, never a 5xx).
pub(crate) async fn two_authentic_mean_no_session_and_a_warning(instance: Instance) {
    let logs = Logs::capture();
    let env = Env::new(instance).await;
    let first = pair(env.name(), &session_after_visits(&env, 1).await);
    let second = pair(env.name(), &session_after_visits(&env, 2).await);
    let mut client = env.client();
    logs.take();

    let one_field = format!("{first}; {second}");
    let cases: [Vec<&str>; 3] = [
        vec![&one_field],
        vec![&second, &first],
        vec!["a=1", &first, "b=2", &second],
    ];
    for fields in &cases {
        let resp = client.get_with("/peek", fields).await;
        assert_eq!(visits(&resp), 0, "{fields:?}");
        assert!(resp.set_cookie().is_none(), "{resp:?}");
        let captured = logs.take();
        assert_eq!(
            captured.matches("conflicting session cookies").count(),
            1,
            "{captured}"
        );
        assert!(!captured.contains("WARN"), "{captured}");
        let resp = client.get_with("/", fields).await;
        assert_eq!(resp.status, 400, "{resp:?}");
        assert!(resp.set_cookie().is_none(), "{resp:?}");
        logs.take();
    }
    // The same authentic cookie twice is one session, without an event.
    let twice = format!("{first}; {first}");
    let resp = client.get_with("/peek", &[&twice]).await;
    assert_eq!(visits(&resp), 1);
    assert!(resp.set_cookie().is_none());
    assert!(!logs.take().contains("conflicting"));
}

/// `value` with its `n`th character from the end changed: the header is intact, so it passes
/// every check but the AEAD.
fn forged(value: &str, n: usize) -> String {
    let mut bytes = value.as_bytes().to_vec();
    let at = bytes.len() - 2 - n;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// D3, F1 through HTTP: every cookie of the name gets the cheap checks, and at most
/// `MAX_OPENS` distinct values per request are authenticated. Garbage that fails the cheap
/// checks costs no AEAD work however much of it there is, so the authentic cookie is found
/// behind it; forged values with an authentic header each cost an open, and past the budget
/// the request is ambiguous: no session, and no `Set-Cookie` at all.
pub(crate) async fn bounded_candidates(instance: Instance) {
    let logs = Logs::capture();
    let env = Env::new(instance).await;
    let value = session_after_visits(&env, 1).await;
    let authentic = pair(env.name(), &value);
    let mut client = env.client();
    for garbage_count in [0, 1, MAX_OPENS, MAX_OPENS + 1, 60] {
        let mut fields: Vec<String> = (0..garbage_count)
            .map(|i| pair(env.name(), &format!("garbage{i}")))
            .collect();
        fields.push(authentic.clone());
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        logs.take();
        let resp = client.get_with("/peek", &fields).await;
        assert_eq!(visits(&resp), 1, "{garbage_count}");
        assert!(resp.set_cookie().is_none(), "{garbage_count}");
        let captured = logs.take();
        let events = captured.matches("session cookie refused").count();
        assert_eq!(events, usize::from(garbage_count > 0), "{captured}");
        if garbage_count > 0 {
            assert!(
                captured.contains(&format!("refused={garbage_count}")),
                "{captured}"
            );
        }
    }
    for forged_count in 1..=MAX_OPENS + 2 {
        let mut fields: Vec<String> = (0..forged_count)
            .map(|i| pair(env.name(), &forged(&value, i)))
            .collect();
        fields.push(authentic.clone());
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        logs.take();
        let resp = client.get_with("/peek", &fields).await;
        let captured = logs.take();
        if forged_count < MAX_OPENS {
            assert_eq!(visits(&resp), 1, "{forged_count}");
            assert!(
                captured.contains(&format!("refused={forged_count}")),
                "{captured}"
            );
        } else {
            assert_eq!(visits(&resp), 0, "{forged_count}");
            assert!(
                captured.contains("conflicting session cookies"),
                "{captured}"
            );
        }
        assert!(resp.set_cookie().is_none(), "{forged_count}: {resp:?}");
    }
}

/// E5: responses that set or delete the cookie carry `Cache-Control: no-store`.
pub(crate) async fn no_store_on_set_and_delete(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    let resp = client.get("/").await;
    assert!(resp.set_cookie().is_some());
    assert_eq!(resp.cache_control(), ["no-store"]);
    let resp = client.get("/peek").await;
    assert!(resp.set_cookie().is_none());
    assert!(resp.cache_control().is_empty(), "{resp:?}");
    let resp = client.post("/logout", "").await;
    assert!(resp.cookie().is_removal());
    assert_eq!(resp.cache_control(), ["no-store"]);
    // Clearing a refused cookie is a deletion too.
    let resp = client.get_with("/peek", &["__Host-session=garbage"]).await;
    assert!(resp.cookie().is_removal());
    assert_eq!(resp.cache_control(), ["no-store"]);

    // CacheControl::Untouched leaves it to the application.
    let config = SessionConfig::builder()
        .cache_control(CacheControl::Untouched)
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let resp = env.client().get("/").await;
    assert!(resp.set_cookie().is_some());
    assert!(resp.cache_control().is_empty(), "{resp:?}");
}

/// E5, F2: a handler's own `Cache-Control` is kept for the browser (and not doubled), but a
/// response with a session cookie is made private, so no shared cache stores it.
pub(crate) async fn handler_cache_control_kept(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    let resp = client.get("/cached").await;
    assert_eq!(visits(&resp), 1);
    assert!(resp.set_cookie().is_some());
    assert_eq!(resp.cache_control(), ["private, max-age=60"]);
    let resp = client.get("/cached").await;
    assert_eq!(visits(&resp), 2);
    assert_eq!(resp.cache_control(), ["private, max-age=60"]);
}

/// E6 / express-session `destroy`: the deletion cookie, and a copy taken before logout still
/// opens (what stateless sessions cannot do).
pub(crate) async fn logout_deletes_but_copy_still_opens(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    let resp = client.post("/login", "ada").await;
    assert_eq!(resp.body, "hello ada");
    let copy = client.cookie(env.name()).unwrap();
    assert_eq!(client.get("/me").await.body, "ada");

    let resp = client.post("/logout", "").await;
    assert_eq!(resp.status, 200);
    let cookie = resp.cookie();
    assert_eq!(cookie.name, DEFAULT_NAME);
    assert_eq!(cookie.value, "");
    assert_eq!(cookie.attr("Max-Age"), Some(Some("0")));
    assert_eq!(cookie.attr("Path"), Some(Some("/")));
    assert_eq!(cookie.attr("Secure"), Some(None));
    assert_eq!(cookie.attr("Domain"), None);
    assert_eq!(
        client.cookie(env.name()),
        None,
        "the jar applied the deletion"
    );

    let resp = client.get("/me").await;
    assert_eq!(resp.status, 401);
    assert!(resp.set_cookie().is_none());

    // The copy taken before logout still opens until it expires.
    let resp = client.get_with("/me", &[&pair(env.name(), &copy)]).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, "ada");
}

/// E7 / express-session `regenerate`: login cycles the id, the ciphertext changes, and the
/// pre-login cookie never shows the user.
pub(crate) async fn login_cycles_id(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    client.get("/").await;
    let before = client.cookie(env.name()).unwrap();
    let id_before = client.get("/id").await.body;
    assert_eq!(id_before.len(), 32, "{id_before}");

    let resp = client.post("/login", "ada").await;
    let after = resp.cookie().value;
    assert_ne!(after, before);
    let id_after = client.get("/id").await.body;
    assert_eq!(id_after.len(), 32);
    assert_ne!(id_after, id_before);
    assert_eq!(client.get("/me").await.body, "ada");
    assert_eq!(visits(&client.get("/peek").await), 1, "data kept");

    // Replaying the pre-login cookie.
    let old = pair(env.name(), &before);
    for _ in 0..3 {
        let resp = client.get_with("/me", &[&old]).await;
        assert_eq!(resp.status, 401);
        assert_eq!(client.get_with("/id", &[&old]).await.body, id_before);
    }
    // Even after the old session moves on, it never carries the user.
    let resp = client.get_with("/", &[&old]).await;
    assert_eq!(visits(&resp), 2);
    let moved_on = pair(env.name(), &resp.cookie().value);
    assert_eq!(client.get_with("/me", &[&moved_on]).await.status, 401);
}

/// E8 / C2 / express-session `rolling` (default): no re-seal before half the idle timeout,
/// a re-seal on read after it; valid 1 s before the idle expiry, refused at it.
pub(crate) async fn no_reseal_before_threshold(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    client.get("/").await;
    let original = client.cookie(env.name()).unwrap();
    for path in ["/peek", "/me", "/id", "/len", "/untouched", "/noop"] {
        let resp = client.get(path).await;
        assert!(resp.set_cookie().is_none(), "{path}: {resp:?}");
    }
    env.clock.advance(DAY / 2);
    let resp = client.get("/peek").await;
    assert_eq!(visits(&resp), 1);
    assert!(resp.set_cookie().is_none(), "exactly half: not yet");
    env.clock.advance(1);
    assert!(client.get("/untouched").await.set_cookie().is_none());
    let resp = client.get("/peek").await;
    assert_eq!(visits(&resp), 1);
    let cookie = resp.cookie();
    assert_eq!(cookie.max_age(), DAY);
    let opened = env
        .codec()
        .open::<TestSession>(env.name(), &cookie.value, env.now())
        .unwrap();
    assert_eq!(opened.meta.created, T0, "a refresh never moves created");
    assert_eq!(opened.expires, env.now() + DAY);
    assert!(client.get("/peek").await.set_cookie().is_none());

    // C2 through HTTP: the original copy is valid 1 s before its idle expiry, refused at it.
    let original = pair(env.name(), &original);
    let mut other_browser = env.client();
    env.clock.set(T0 + DAY - 1);
    assert_eq!(
        visits(&other_browser.get_with("/peek", &[&original]).await),
        1
    );
    env.clock.set(T0 + DAY);
    let resp = other_browser.get_with("/peek", &[&original]).await;
    assert_eq!(visits(&resp), 0);
    assert!(resp.cookie().is_removal());
    // The refreshed one lives on.
    assert_eq!(visits(&client.get("/peek").await), 1);
}

/// E8 / express-session `rolling: true`: `Rolling::Always` re-issues on every read (whenever
/// the clock has moved, so that there is something to extend), never on untouched routes.
pub(crate) async fn rolling_always(instance: Instance) {
    let config = SessionConfig::builder()
        .rolling(Rolling::Always)
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let mut client = env.client();
    client.get("/").await;
    for _ in 0..3 {
        env.clock.advance(1);
        let resp = client.get("/peek").await;
        assert_eq!(visits(&resp), 1);
        let cookie = resp.cookie();
        assert_eq!(cookie.max_age(), DAY);
        let opened = env
            .codec()
            .open::<TestSession>(env.name(), &cookie.value, env.now())
            .unwrap();
        assert_eq!(opened.expires, env.now() + DAY);
        assert!(client.get("/untouched").await.set_cookie().is_none());
    }
}

/// E9: every rejection class gives a byte-identical response apart from `Date`.
pub(crate) async fn uniform_failure(instance: Instance) {
    let logs = Logs::capture();
    let env = Env::new(instance).await;
    let name = env.name().to_owned();
    let now = env.now();
    let codec = env.codec();
    let meta = SessionMeta::new(now).unwrap();
    let data = TestSession {
        visits: 7,
        ..TestSession::default()
    };
    let valid = codec.seal(&name, &meta, &data, now).unwrap().value;
    let idle = env.config.idle_timeout().as_secs();
    let foreign = codec_for(
        key_string(env.instance.algorithm).parse().unwrap(),
        &env.config,
    );
    let future = SessionMeta {
        created: now + 3600,
        ..meta
    };
    // An unbound codec writes format v2, whose header names a schema version.
    let other_schema = Codec::new(env.ring.clone()).with_schema_version(1);
    // A bound one writes format v3, whose header names the type.
    let other_type = Codec::new(env.ring.clone()).with_type_context("another application");

    let mut bad_base64 = valid.clone().into_bytes();
    bad_base64[20] = b'*';
    let cases: Vec<(&str, String)> = vec![
        ("malformed", String::from_utf8(bad_base64).unwrap()),
        ("too_long", "A".repeat(5000)),
        ("malformed", "AAAA".to_owned()),
        ("unsupported_version", edit_raw(&valid, |raw| raw[0] = 4)),
        (
            "unknown_key",
            foreign.seal(&name, &meta, &data, now).unwrap().value,
        ),
        (
            "unauthentic",
            edit_raw(&valid, |raw| *raw.last_mut().unwrap() ^= 1),
        ),
        (
            "expired",
            codec.seal(&name, &meta, &data, now - idle).unwrap().value,
        ),
        (
            "future_dated",
            codec.seal(&name, &future, &data, now).unwrap().value,
        ),
        // Wire format v2: the schema version is in the authenticated header, so another one
        // is refused before any AEAD work.
        (
            "unknown_schema",
            other_schema.seal(&name, &meta, &data, now).unwrap().value,
        ),
        (
            "wrong_type",
            other_type.seal(&name, &meta, &data, now).unwrap().value,
        ),
        (
            "payload",
            codec.seal(&name, &meta, &(0u64, 2u8), now).unwrap().value,
        ),
    ];
    // Control: the valid value opens.
    let mut client = env.client();
    assert_eq!(
        visits(&client.get_with("/peek", &[&pair(&name, &valid)]).await),
        7
    );

    let mut answers = Vec::new();
    for (reason, value) in &cases {
        logs.take();
        let request = format!(
            "GET /peek HTTP/1.1\r\nHost: {}\r\nCookie: a=1; {name}={value}; b=2\r\nConnection: close\r\n\r\n",
            env.server.addr
        );
        let answer = raw_exchange(env.server.addr, request).await;
        let text = String::from_utf8(answer).unwrap();
        let without_date: Vec<&str> = text
            .split("\r\n")
            .filter(|line| !line.to_ascii_lowercase().starts_with("date:"))
            .collect();
        let without_date = without_date.join("\r\n");
        assert!(without_date.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(without_date.ends_with("visits: 0"), "{text}");
        assert!(without_date.contains("Max-Age=0"), "{text}");
        let captured = logs.take();
        assert!(
            captured.contains(&format!("reason=\"{reason}\"")),
            "{reason}: {captured}"
        );
        answers.push((reason, without_date));
    }
    let (_, first) = &answers[0];
    for (reason, answer) in &answers {
        assert_eq!(answer, first, "{reason}");
    }
}

/// E10: no cookie value, key bytes or session data in logs (TRACE) or in any `Debug`.
pub(crate) async fn no_secret_in_logs_or_debug(instance: Instance) {
    let logs = Logs::capture();
    let key_bytes = *b"CANARYKEY-0123456789-abcdefghijk";
    let key = Key::from_bytes(instance.algorithm, &key_bytes).unwrap();
    let key_string = key.to_string();
    let secret_part = key_string.rsplit('.').next().unwrap().to_owned();
    let key_hex: String = key_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let data_canary = "CANARY-DATA-e10-7f3a";

    let mut env = Env::new(instance).await;
    env.ring = KeyRing::new(key_string.parse().unwrap());
    env.keys = vec![key_string.clone()];
    env.server = super::serve(
        instance.adapter,
        env.ring.clone(),
        env.config.clone(),
        &env.clock,
    )
    .await;

    let mut client = env.client();
    assert_eq!(
        client.post("/login", data_canary).await.body,
        format!("hello {data_canary}")
    );
    assert_eq!(client.get("/me").await.body, data_canary);
    let session_debug = client.get("/debug").await.body;
    assert!(session_debug.contains("Session"), "{session_debug}");
    let value = client.cookie(env.name()).unwrap();
    let other = session_after_visits(&env, 1).await;
    // Refusals of every sort, a conflict, a too-large change, an expiry, a logout.
    for field in [
        pair(env.name(), &tampered(&value)),
        pair(env.name(), "garbage"),
        pair(env.name(), &"A".repeat(5000)),
        format!("{}; {}", pair(env.name(), &value), pair(env.name(), &other)),
    ] {
        client.get_with("/peek", &[&field]).await;
    }
    let refused = client.post("/grow?n=5000", "").await;
    assert_eq!(refused.status, 413);
    env.clock.advance(DAY);
    client.get_with("/peek", &[&pair(env.name(), &value)]).await;
    env.clock.set(T0);
    client.post("/logout", "").await;

    let captured = logs.text();
    assert!(captured.contains("session cookie refused"), "{captured}");
    assert!(
        captured.contains("conflicting session cookies"),
        "{captured}"
    );

    let codec = env.codec();
    let open_error = codec
        .open::<TestSession>(env.name(), &tampered(&value), env.now())
        .unwrap_err();
    assert_eq!(open_error.kind(), OpenErrorKind::Unauthentic);
    let key_error = format!("ssk1.aes-256-gcm.00000000.{secret_part}x")
        .parse::<Key>()
        .unwrap_err();
    let config_error = SessionConfig::builder()
        .domain(data_canary)
        .build()
        .unwrap_err();
    let too_large = SessionError::TooLarge {
        size: 5000,
        limit: 4096,
    };
    let debugs = [
        ("logs", captured),
        ("Session", session_debug),
        (
            "SessionLayer",
            format!(
                "{:?}",
                layer(env.ring.clone(), env.config.clone(), &env.clock)
            ),
        ),
        ("SessionConfig", format!("{:?}", env.config)),
        ("KeyRing", format!("{:?}", env.ring)),
        ("Key", format!("{:?}", key_string.parse::<Key>().unwrap())),
        ("Codec", format!("{codec:?}")),
        ("OpenError", format!("{open_error:?} {open_error}")),
        ("KeyError", format!("{key_error:?} {key_error}")),
        ("ConfigError", format!("{config_error:?} {config_error}")),
        ("SessionError", format!("{too_large:?} {too_large}")),
        ("413 body", refused.body.clone()),
    ];
    let mut secrets = vec![
        ("key canary", "CANARYKEY".to_owned()),
        ("key string", secret_part.clone()),
        ("key hex", key_hex),
        ("data canary", data_canary.to_owned()),
        ("data canary (hex)", hex_of(data_canary)),
    ];
    for line in &client.set_cookie_log {
        let value = SetCookie::parse(line).value;
        if !value.is_empty() {
            secrets.push(("cookie value", value.clone()));
            secrets.push(("cookie value prefix", value[..24].to_owned()));
        }
    }
    secrets.push(("other cookie value", other));
    for (what, text) in &debugs {
        for (secret_name, secret) in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{what} leaks the {secret_name}: {text}"
            );
        }
    }
}

fn hex_of(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// E11: an 8 KiB `Cookie` header of other cookies with the session among them is served.
pub(crate) async fn large_cookie_header_served(instance: Instance) {
    let env = Env::new(instance).await;
    let value = session_after_visits(&env, 1).await;
    let others: Vec<String> = (0..100)
        .map(|i| format!("c{i:03}={}", "v".repeat(76)))
        .collect();
    let (before, after) = others.split_at(60);
    let field = format!(
        "{}; {}; {}",
        before.join("; "),
        pair(env.name(), &value),
        after.join("; ")
    );
    assert!(field.len() >= 8 * 1024, "{}", field.len());
    let mut client = env.client();
    let resp = client.get_with("/peek", &[&field]).await;
    assert_eq!(visits(&resp), 1);
    let resp = client.get_with("/", &[&field]).await;
    assert_eq!(visits(&resp), 2);
}

/// E11: a session cookie value over the limit is refused by our own check (fresh session,
/// `too_long`), with a 200, not a 431 from the server's header limits.
pub(crate) async fn oversize_session_cookie_refused_by_us(instance: Instance) {
    let logs = Logs::capture();
    let env = Env::new(instance).await;
    let value = session_after_visits(&env, 1).await;
    let mut client = env.client();
    for len in [4097, 5000, 16 * 1024] {
        logs.take();
        let huge = pair(env.name(), &"A".repeat(len));
        let resp = client.get_with("/peek", &[&huge]).await;
        assert_eq!(visits(&resp), 0, "{len}");
        assert!(resp.cookie().is_removal());
        let captured = logs.take();
        assert!(captured.contains("reason=\"too_long\""), "{captured}");
        // Next to an authentic one, the oversize copy is skipped.
        let both = format!("{huge}; {}", pair(env.name(), &value));
        assert_eq!(visits(&client.get_with("/peek", &[&both]).await), 1);
    }
}

/// B5 (middleware side): a cookie sealed under an accept-only key opens and the response
/// re-seals it under the primary.
pub(crate) async fn accept_only_key_reseals_under_primary(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    client.get("/").await;
    let old = client.cookie(env.name()).unwrap();
    assert_eq!(sealed_key_id(&old), key_id(&env.keys[0]));

    let new_key = key_string(other_algorithm(instance.algorithm));
    env.ring.rotate(new_key.parse().unwrap()).unwrap();
    // Lazy: a route that never touches the session does not re-seal.
    assert!(client.get("/untouched").await.set_cookie().is_none());
    let resp = client.get("/peek").await;
    assert_eq!(visits(&resp), 1);
    let resealed = resp.cookie().value;
    assert_eq!(sealed_key_id(&resealed), key_id(&new_key));
    let only_new = codec_for(new_key.parse().unwrap(), &env.config);
    let opened = only_new
        .open::<TestSession>(env.name(), &resealed, env.now())
        .unwrap();
    assert_eq!(opened.data.visits, 1);
    assert!(opened.by_primary);
    assert!(
        only_new
            .open::<TestSession>(env.name(), &old, env.now())
            .is_err()
    );
    // Once under the primary, no more re-seals.
    assert!(client.get("/peek").await.set_cookie().is_none());
    // The old cookie still opens (accept-only), and is re-sealed again.
    let resp = client.get_with("/peek", &[&pair(env.name(), &old)]).await;
    assert_eq!(visits(&resp), 1);
    assert_eq!(sealed_key_id(&resp.cookie().value), key_id(&new_key));
}

/// C1 / express-session `cookie.maxAge`: idle refreshes never move `created`; the session is
/// valid 1 s before `created + max_lifetime` and refused at it; Max-Age never exceeds the
/// remaining lifetime.
pub(crate) async fn absolute_lifetime(instance: Instance) {
    let (idle, max) = (3600, 3 * 3600);
    let config = SessionConfig::builder()
        .idle_timeout(Duration::from_secs(idle))
        .max_lifetime(Duration::from_secs(max))
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let mut client = env.client();
    assert_eq!(client.get("/").await.cookie().max_age(), idle);
    let mut refreshes = 0;
    while env.now() + idle / 2 + 1 < T0 + max {
        env.clock.advance(idle / 2 + 1);
        let resp = client.get("/peek").await;
        assert_eq!(visits(&resp), 1);
        let Some(line) = resp.set_cookie() else {
            // Near the end a re-seal would extend nothing.
            assert!(env.now() + idle >= T0 + max);
            continue;
        };
        refreshes += 1;
        let cookie = SetCookie::parse(&line);
        let opened = env
            .codec()
            .open::<TestSession>(env.name(), &cookie.value, env.now())
            .unwrap();
        assert_eq!(opened.meta.created, T0);
        let remaining = T0 + max - env.now();
        assert_eq!(cookie.max_age(), idle.min(remaining));
        assert_eq!(opened.expires, env.now() + idle.min(remaining));
    }
    assert!(refreshes >= 3, "{refreshes}");
    env.clock.set(T0 + max - 1);
    assert_eq!(visits(&client.get("/peek").await), 1);
    env.clock.set(T0 + max);
    let resp = client.get("/peek").await;
    assert_eq!(visits(&resp), 0);
    assert!(resp.cookie().is_removal());

    // The server enforces its own max_lifetime from the sealed `created`, whatever the
    // sealed expiry says: a cookie sealed under a longer lifetime (before the configuration
    // was tightened) with an expiry beyond created + max is refused at created + max.
    let lenient = env
        .codec()
        .with_lifetimes(Duration::from_secs(DAY), Duration::from_secs(7 * DAY))
        .unwrap();
    let meta = SessionMeta::new(T0).unwrap();
    let data = TestSession {
        visits: 9,
        ..TestSession::default()
    };
    let sealed = lenient
        .seal(env.name(), &meta, &data, T0 + max - 100)
        .unwrap();
    assert!(sealed.expires > T0 + max);
    let lenient_cookie = pair(env.name(), &sealed.value);
    let mut other_browser = env.client();
    env.clock.set(T0 + max - 1);
    let resp = other_browser.get_with("/peek", &[&lenient_cookie]).await;
    assert_eq!(visits(&resp), 9);
    assert!(resp.set_cookie().is_none(), "nothing left to extend");
    env.clock.set(T0 + max);
    let resp = other_browser.get_with("/peek", &[&lenient_cookie]).await;
    assert_eq!(visits(&resp), 0);
    assert!(resp.cookie().is_removal());
}

/// E1 under rotation: re-sealing a session near the limit under a primary key whose
/// algorithm has a longer nonce (AES-256-GCM -> XChaCha20-Poly1305: 16 more characters)
/// never emits a `Set-Cookie` over the limit. The old cookie keeps working while its key is
/// accepted, and a change that no longer fits is a 413.
pub(crate) async fn rotation_to_longer_nonce_never_exceeds_limit(adapter: super::Adapter) {
    let logs = Logs::capture();
    let env = Env::new(Instance::new(adapter, Algorithm::Aes256Gcm)).await;
    let mut client = env.client();
    let mut resp = client.post("/grow?n=2900", "").await;
    let mut line = resp.set_cookie().unwrap().len();
    while line < 4096 - 15 {
        resp = client.post("/grow?n=1", "").await;
        line = resp.set_cookie().unwrap().len();
    }
    let len = blob_len(&resp);
    assert!(line + 16 > 4096 && line <= 4096, "{line}");
    let before = client.cookie(env.name()).unwrap();

    env.ring
        .rotate(key_string(Algorithm::XChaCha20Poly1305).parse().unwrap())
        .unwrap();
    logs.take();
    // The key upgrade would need 16 more characters: it must not produce an oversize cookie.
    let resp = client.get("/len").await;
    assert_eq!(blob_len(&resp), len);
    for line in resp.set_cookies() {
        assert!(line.len() <= 4096, "{} bytes: {line}", line.len());
    }
    // The client's own cookie, which the server cannot re-seal: said once, at `info` (RT3-12).
    let text = logs.take();
    assert!(
        text.contains(" INFO ") && text.contains("session cookie not re-sealed"),
        "{text}"
    );
    assert!(
        !text.contains(" ERROR ") && !text.contains(" WARN "),
        "{text}"
    );
    assert_eq!(client.cookie(env.name()).unwrap(), before);
    // The session goes on under the accept-only key; a change that cannot fit is refused.
    let resp = client.get("/").await;
    let (size, limit) = too_large(&resp);
    assert_eq!((size, limit), (line + 16, 4096));
    assert_eq!(blob_len(&client.get("/len").await), len);
}

/// express-session `resave: false`: an unchanged session sends no `Set-Cookie`, including
/// after an update that changes nothing.
pub(crate) async fn express_resave_false(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    client.post("/login", "ada").await;
    client.get("/").await;
    for path in ["/peek", "/noop", "/me", "/id", "/expires", "/noop"] {
        let resp = client.get(path).await;
        assert_eq!(resp.status, 200, "{path}");
        assert!(resp.set_cookie().is_none(), "{path}: {resp:?}");
    }
    assert_eq!(client.get("/expires").await.body, (T0 + DAY).to_string());
    // A real change is sent.
    assert!(client.get("/").await.set_cookie().is_some());
}

/// express-session `saveUninitialized`: off by default (an untouched new session sets no
/// cookie); on, a new session that was only read is saved.
pub(crate) async fn express_save_uninitialized(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    for path in [
        "/peek",
        "/id",
        "/me",
        "/noop",
        "/clear",
        "/expires",
        "/untouched",
    ] {
        let resp = client.get(path).await;
        assert!(resp.set_cookie().is_none(), "{path}: {resp:?}");
    }
    assert_eq!(client.get("/id").await.body, "none");
    assert_eq!(client.get("/expires").await.body, "none");

    let config = SessionConfig::builder()
        .save_uninitialized(true)
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let mut client = env.client();
    let resp = client.get("/peek").await;
    assert_eq!(visits(&resp), 0);
    assert!(resp.set_cookie().is_some());
    let id = client.get("/id").await;
    assert_eq!(id.body.len(), 32, "{id:?}");
    assert!(id.set_cookie().is_none(), "saved once, then kept");
    assert_eq!(client.get("/id").await.body, id.body);
}

/// express-session `cookie.maxAge`: Max-Age never exceeds 400 days nor the remaining lifetime;
/// longer lifetimes are configuration errors.
pub(crate) async fn express_max_age_caps(instance: Instance) {
    let cap = Duration::from_secs(400 * DAY);
    let config = SessionConfig::builder()
        .idle_timeout(cap)
        .max_lifetime(cap)
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let mut client = env.client();
    assert_eq!(client.get("/").await.cookie().max_age(), 400 * DAY);
    env.clock.advance(399 * DAY);
    assert_eq!(client.get("/").await.cookie().max_age(), DAY);
    env.clock.advance(DAY - 10);
    assert_eq!(client.get("/").await.cookie().max_age(), 10);

    let too_long = Duration::from_secs(401 * DAY);
    let error = SessionConfig::builder()
        .max_lifetime(too_long)
        .build()
        .unwrap_err();
    assert!(matches!(error, ConfigError::Lifetime { .. }), "{error}");
    assert!(error.to_string().contains("400 days"));
    let error = SessionConfig::builder()
        .idle_timeout(Duration::from_secs(2 * DAY))
        .max_lifetime(Duration::from_secs(DAY))
        .build()
        .unwrap_err();
    assert!(matches!(error, ConfigError::Lifetime { .. }), "{error}");
}

/// express-session `regenerate` (data part): `clear()` resets the data and keeps the id.
pub(crate) async fn express_clear_keeps_id(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    client.post("/login", "ada").await;
    client.get("/").await;
    let id = client.get("/id").await.body;
    let resp = client.get("/clear").await;
    assert!(resp.set_cookie().is_some());
    assert_eq!(client.get("/id").await.body, id);
    assert_eq!(client.get("/me").await.status, 401);
    assert_eq!(visits(&client.get("/peek").await), 0);
    // Clearing an already empty session sends nothing.
    assert!(client.get("/clear").await.set_cookie().is_none());
}

/// Lazy: a route that never touches the session neither opens nor answers a cookie, whatever
/// comes in.
pub(crate) async fn lazy_untouched_route(instance: Instance) {
    let logs = Logs::capture();
    let env = Env::new(instance).await;
    let value = session_after_visits(&env, 1).await;
    let expired_later = pair(env.name(), &value);
    let mut client = env.client();
    logs.take();
    for field in [
        pair(env.name(), "garbage"),
        pair(env.name(), &tampered(&value)),
        pair(env.name(), &"A".repeat(5000)),
        pair(env.name(), &value),
    ] {
        let resp = client.get_with("/untouched", &[&field]).await;
        assert_eq!(resp.body, "untouched");
        assert!(resp.set_cookie().is_none(), "{field}: {resp:?}");
        assert!(resp.cache_control().is_empty());
    }
    env.clock.advance(DAY);
    let resp = client.get_with("/untouched", &[&expired_later]).await;
    assert!(resp.set_cookie().is_none());
    assert!(!logs.take().contains("refused"), "nothing was opened");
    // Control: a route that reads the session refuses the garbage and clears it.
    let resp = client
        .get_with("/peek", &[&pair(env.name(), "garbage")])
        .await;
    assert!(resp.cookie().is_removal());
    assert!(logs.take().contains("refused"));
}
