//! The second security round (SECURITY-TESTS F1-F13), and the rules that came with it (5xx
//! responses, the cookie path), over every instance of the suite.

use std::time::Duration;

use sealed_session::{CacheControl, Rolling, SessionConfig, SessionError};

use super::{Env, Instance, KEPT, Logs, Resp, T0, TestSession, visits};
use crate::common::{DAY, MAX_OPENS};

fn pair(name: &str, value: &str) -> String {
    format!("{name}={value}")
}

/// A client that visited `times` times; returns its cookie value.
async fn cookie_after_visits(env: &Env, times: u64) -> String {
    let mut client = env.client();
    for _ in 0..times {
        client.get("/").await;
    }
    client.cookie(env.name()).unwrap()
}

/// `value` with its `n`th character from the end changed: the header is intact.
fn forged(value: &str, n: usize) -> String {
    let mut bytes = value.as_bytes().to_vec();
    let at = bytes.len() - 2 - n;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// The `Set-Cookie` lines of a response for the cookie `name`.
fn lines_for<'r>(resp: &'r Resp, name: &str) -> Vec<&'r str> {
    resp.headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .filter(|line| line.split('=').next() == Some(name))
        .collect()
}

/// F1: with a cookie name without `__Host-` (a session shared across subdomains), cookies an
/// attacker plants for the name (authentic ones of their own sessions, garbage, forged ones
/// with an authentic header; any number up to the size of a real `Cookie` header, before,
/// after or around the victim's) never make the request run as the attacker's session, and
/// never make the response delete or overwrite the victim's cookie.
pub(crate) async fn planted_cookies_never_swap_or_delete(instance: Instance) {
    let config = SessionConfig::builder()
        .cookie_name("sid")
        .domain("example.test")
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let name = env.name().to_owned();
    let victim = cookie_after_visits(&env, 3).await;
    let attacker = [
        cookie_after_visits(&env, 50).await,
        cookie_after_visits(&env, 60).await,
    ];
    let planted_kinds = |i: usize| -> String {
        match i % 5 {
            0 => attacker[0].clone(),
            1 => format!("garbage{i}"),
            2 => forged(&victim, i % 40),
            3 => forged(&attacker[1], i % 40),
            _ => attacker[1].clone(),
        }
    };
    let mut cases: Vec<Vec<String>> = Vec::new();
    for count in [1, 2, 3, MAX_OPENS, MAX_OPENS + 1, 12, 40] {
        // Only garbage, only attacker sessions, and mixes, from each starting kind.
        for start in 0..5 {
            let planted: Vec<String> = (0..count).map(|i| planted_kinds(start + i)).collect();
            for position in [0, count / 2, count] {
                let mut fields = planted.clone();
                fields.insert(position, victim.clone());
                cases.push(fields);
            }
        }
        let garbage: Vec<String> = (0..count).map(|i| format!("garbage{i}")).collect();
        let mut fields = garbage;
        fields.push(victim.clone());
        cases.push(fields);
    }
    let mut client = env.client();
    let mut served_victim = 0;
    for values in &cases {
        let header = values
            .iter()
            .map(|v| pair(&name, v))
            .collect::<Vec<_>>()
            .join("; ");
        // Up to the size of a real Cookie header (browsers send about 8 KiB at most).
        assert!(header.len() < 8 * 1024, "{}", header.len());
        let resp = client.get_with("/peek", &[&header]).await;
        let seen = visits(&resp);
        assert!(seen == 3 || seen == 0, "ran as another session: {seen}");
        assert!(lines_for(&resp, &name).is_empty(), "{resp:?}");
        let only_garbage = values
            .iter()
            .all(|v| v == &victim || v.starts_with("garbage"));
        if only_garbage {
            assert_eq!(seen, 3, "garbage hid the victim's cookie");
        }
        // A change: either the victim's own session goes on, or nothing is written.
        let resp = client.get_with("/", &[&header]).await;
        let lines = lines_for(&resp, &name);
        if resp.status == 200 {
            assert_eq!(visits(&resp), 4);
            served_victim += 1;
            assert_eq!(lines.len(), 1);
            assert!(!lines[0].contains("Max-Age=0"), "{lines:?}");
        } else {
            assert_eq!(resp.status, 400, "{resp:?}");
            assert!(lines.is_empty(), "{resp:?}");
        }
    }
    assert!(served_victim > 0);
}

/// Whether a response with this `Cache-Control` may not be stored by a shared cache
/// (RFC 9111 §3, §5.2.2.5, §5.2.2.7).
fn unstorable_by_shared_caches(cache_control: &[String]) -> bool {
    let directives: Vec<String> = cache_control
        .iter()
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    let private = directives.iter().any(|d| d == "no-store" || d == "private");
    let shared = directives
        .iter()
        .any(|d| d == "public" || d.starts_with("s-maxage"));
    private && !shared
}

/// F2: every response that carries a session `Set-Cookie` is unstorable by a shared cache,
/// whatever `Cache-Control` the handler set, on a change and on a rolling refresh; the
/// handler's directives for the browser's own cache are kept.
pub(crate) async fn session_responses_are_never_shared_cacheable(instance: Instance) {
    let config = SessionConfig::builder()
        .rolling(Rolling::Always)
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let mut client = env.client();
    for directives in [
        "",
        "public",
        "s-maxage=600",
        "max-age=600",
        "no-cache",
        "private",
        "no-store",
        "public,+max-age=60,+s-maxage=600",
        "PUBLIC",
        "private=!set-cookie!",
    ] {
        for route in ["/cache?", "/cache?peek,"] {
            env.clock.advance(1);
            let resp = client.get(&format!("{route}{directives}")).await;
            assert!(
                !lines_for(&resp, env.name()).is_empty(),
                "{route}{directives}"
            );
            let cache_control = resp.cache_control();
            assert!(
                unstorable_by_shared_caches(&cache_control),
                "{route}{directives}: {cache_control:?}"
            );
            if directives.contains("max-age=60") {
                assert!(
                    cache_control.concat().contains("max-age=60"),
                    "{cache_control:?}"
                );
            }
        }
    }
    // Without a session cookie the handler's choice stands.
    let resp = env.client().get("/untouched").await;
    assert!(resp.cache_control().is_empty());
    // CacheControl::Untouched is the application's own risk, and documented as such.
    let config = SessionConfig::builder()
        .cache_control(CacheControl::Untouched)
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let resp = env.client().get("/cache?public").await;
    assert_eq!(resp.cache_control(), ["public"]);
}

/// F5: at most one event per request about the cookies it carried, and none of them at
/// `warn` or above, whatever a client sends with cookies it holds itself.
pub(crate) async fn one_event_per_request_never_warn(instance: Instance) {
    let logs = Logs::capture();
    let env = Env::new(instance).await;
    let name = env.name().to_owned();
    let own = [
        cookie_after_visits(&env, 1).await,
        cookie_after_visits(&env, 2).await,
    ];
    let mut client = env.client();
    let floods: Vec<String> = vec![
        (0..30)
            .map(|i| pair(&name, &format!("g{i}")))
            .collect::<Vec<_>>()
            .join("; "),
        format!("{}; {}", pair(&name, &own[0]), pair(&name, &own[1])),
        (0..10)
            .map(|i| pair(&name, &forged(&own[0], i)))
            .collect::<Vec<_>>()
            .join("; "),
        pair(&name, &"A".repeat(5000)),
    ];
    for header in &floods {
        logs.take();
        client.get_with("/peek", &[header]).await;
        client.get_with("/", &[header]).await;
        let captured = logs.take();
        let events = captured.matches("sealed_session::open").count();
        assert!(events <= 2, "{events} events for two requests: {captured}");
        assert!(
            !captured.contains("WARN") && !captured.contains("ERROR"),
            "{captured}"
        );
    }
}

/// F6: a change made through a clone of the session after the response was written (a
/// spawned task, say) is an error, never a silent `Ok`; reading still works.
pub(crate) async fn changes_after_the_response_are_errors(instance: Instance) {
    let env = Env::new(instance).await;
    let token = format!("{:?}-{:?}", instance.adapter, instance.algorithm);
    let mut client = env.client();
    client.get("/").await;
    assert_eq!(client.get(&format!("/keep?{token}")).await.body, "kept");
    let session = KEPT.lock().unwrap().remove(&token).unwrap();
    assert_eq!(session.get().visits, 1);
    assert_eq!(
        session.set(TestSession::default()),
        Err(SessionError::ResponseSent)
    );
    assert_eq!(
        session.update(|s| s.visits += 1),
        Err(SessionError::ResponseSent)
    );
    assert_eq!(session.clear(), Err(SessionError::ResponseSent));
    assert_eq!(session.cycle_id(), Err(SessionError::ResponseSent));
    assert_eq!(session.renew(), Err(SessionError::ResponseSent));
    assert_eq!(session.destroy(), Err(SessionError::ResponseSent));
    assert_eq!(session.get().visits, 1);
    // The browser's session is as the response left it.
    assert_eq!(visits(&client.get("/peek").await), 1);
}

/// F8: the layer owns its cookie name. A handler's own `Set-Cookie` for it is dropped (with a
/// warning: a programming error, not something a client can cause); the session's own line is
/// the only one for the name, and other cookies pass.
pub(crate) async fn the_handlers_own_session_cookie_is_dropped(instance: Instance) {
    let logs = Logs::capture();
    let env = Env::new(instance).await;
    let mut client = env.client();
    let resp = client.get(&format!("/own-cookie?{}", env.name())).await;
    let lines = lines_for(&resp, env.name());
    assert_eq!(lines.len(), 1, "{resp:?}");
    assert!(!lines[0].contains("from-the-handler"), "{lines:?}");
    assert_eq!(lines_for(&resp, "other"), ["other=1; Path=/"]);
    assert!(
        logs.take()
            .contains("the handler set the session's own cookie")
    );
    assert_eq!(visits(&client.get("/peek").await), 1);
    // Even when the session itself sends nothing, the handler's line for the name is dropped.
    let resp = client
        .get_with("/own-cookie?x", &[&pair(env.name(), "garbage")])
        .await;
    assert!(lines_for(&resp, "x").len() == 1);
}

/// F9: `cycle_id()` gives a new id and never moves the absolute deadline; only `renew()`
/// (asked for explicitly) restarts it.
pub(crate) async fn cycle_id_keeps_the_absolute_deadline(instance: Instance) {
    let env = Env::new(instance).await; // 1 day idle, 7 days absolute
    let mut client = env.client();
    client.get("/").await;
    let before = env
        .codec()
        .open::<TestSession>(env.name(), &client.cookie(env.name()).unwrap(), env.now())
        .unwrap();
    // Active for six and a half days, then log in.
    for _ in 0..13 {
        env.clock.advance(DAY / 2);
        client.get("/").await;
    }
    client.post("/login", "ada").await;
    let after = env
        .codec()
        .open::<TestSession>(env.name(), &client.cookie(env.name()).unwrap(), env.now())
        .unwrap();
    assert_ne!(after.meta.id, before.meta.id);
    assert_eq!(after.meta.created, before.meta.created);
    assert!(after.expires <= T0 + 7 * DAY);
    env.clock.set(T0 + 7 * DAY);
    assert_eq!(client.get("/me").await.status, 401);
}

/// F9: after `destroy()`, the rest of the request has one outcome: every change is refused
/// with `Destroyed`, reads see an empty session, and the response deletes the cookie.
pub(crate) async fn destroy_then_anything(instance: Instance) {
    let env = Env::new(instance).await;
    for op in ["set", "update", "clear", "cycle", "renew", "destroy", "get"] {
        let mut client = env.client();
        client.get("/").await;
        let resp = client.get(&format!("/destroy-then?{op}")).await;
        let expected = match op {
            "destroy" => "ok",
            "get" => "visits: 0",
            _ => "Destroyed",
        };
        assert_eq!(resp.body, expected, "{op}");
        assert!(resp.cookie().is_removal(), "{op}: {resp:?}");
        assert_eq!(lines_for(&resp, env.name()).len(), 1);
    }
}

/// F12: a value whose postcard encoding does not decode back to itself is refused by `set` and
/// `update`; no cookie is emitted and the session is unchanged.
pub(crate) async fn values_that_do_not_round_trip_are_refused(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    for (case, expected, cookie) in [
        ("skip", "NotRoundTrip 0", "lossy-skip"),
        ("untagged", "NotRoundTrip 0", "lossy-untagged"),
        ("flatten", "Serialize 0", "lossy-flatten"),
        ("skip-ok", "ok 1", "lossy-skip"),
    ] {
        let resp = client.get(&format!("/lossy/{case}")).await;
        assert_eq!(resp.body, expected, "{case}");
        let lines = lines_for(&resp, cookie);
        assert_eq!(
            lines.len(),
            usize::from(case == "skip-ok"),
            "{case}: {resp:?}"
        );
    }
}

/// F13: a change undone in the same request is no change: a new session sends no cookie, an
/// existing one no re-seal.
pub(crate) async fn a_change_undone_sends_nothing(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    let resp = client.get("/flip").await;
    assert_eq!(visits(&resp), 0);
    assert!(resp.set_cookie().is_none(), "{resp:?}");
    client.get("/").await;
    env.clock.advance(1);
    let resp = client.get("/flip").await;
    assert_eq!(visits(&resp), 1);
    assert!(resp.set_cookie().is_none(), "{resp:?}");
}

/// A 5xx response writes no session change (the browser keeps its cookie), but an explicit
/// logout still deletes the cookie.
pub(crate) async fn server_errors_save_no_change(instance: Instance) {
    let env = Env::new(instance).await;
    let mut client = env.client();
    client.get("/").await;
    let resp = client.get("/fail").await;
    assert_eq!(resp.status, 500);
    assert!(resp.set_cookie().is_none(), "{resp:?}");
    assert_eq!(visits(&client.get("/peek").await), 1);
    // A new session changed on a 5xx: no cookie either.
    let resp = env.client().get("/fail").await;
    assert!(resp.set_cookie().is_none(), "{resp:?}");
    let resp = client.post("/fail-logout", "").await;
    assert_eq!(resp.status, 500);
    assert!(resp.cookie().is_removal(), "{resp:?}");
}

/// A change in a request outside the cookie's `Path` would be lost (the browser never sends
/// that cookie there), so it is refused with `OutsidePath` (here a 404) and nothing is sent.
pub(crate) async fn changes_outside_the_cookie_path_are_refused(instance: Instance) {
    let config = SessionConfig::builder()
        .cookie_name("sid")
        .path("/app")
        .build()
        .unwrap();
    let env = Env::with_config(instance, config).await;
    let mut client = env.client();
    let resp = client.get("/").await;
    assert_eq!(resp.status, 404, "{resp:?}");
    assert!(resp.body.contains("outside the session cookie's Path"));
    assert!(resp.set_cookie().is_none());
    assert_eq!(visits(&client.get("/app").await), 1);
    // Reading outside the path is harmless.
    assert_eq!(client.get("/peek").await.status, 200);
    let _ = Duration::ZERO;
}
