//! Envelope v3 over real servers (RT3-1, SECURITY-TESTS H1; issue 18 "Prove it"; issue 19 F1):
//!
//! - two apps that share a key ring and a cookie name, with default settings, no longer open
//!   each other's cookies: app A's cookie (RT3-1's `Profile { name: "\x06", bio: "alice\x01" }`,
//!   and `Prefs { nickname: "alice", dark_mode: true }`, which has app B's exact postcard
//!   layout) gives app B (`Account { user, admin }`) a fresh session and one event naming the
//!   fix; the tower-sessions bridge does not open it as a record either. The same scenario
//!   with `write_format(WireFormat::V2)` on every app (0.2's envelope) opens `Prefs` in B as
//!   `Account { user: "alice", admin: true }`, so the assertions fail on 0.2's behaviour;
//! - a two-instance rollout: v2-writing and v3-writing instances serve 16 clients at once
//!   without logging anyone out, then all write v3, then roll back to v2, with the wire
//!   version of every cookie checked at each phase;
//! - README's "Changing the session type" recipe, verbatim, over a real server, and its fleet
//!   rollout in two phases (`from::<V1>().write_as(..)`, then `from::<V1>()`) across an
//!   instance still on the old type (without `write_as`, phase 1 logs users of the old
//!   instance out: checked).
#![cfg(all(feature = "axum", feature = "hyper", feature = "tower-sessions"))]

use crate::{common, harness};

use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use sealed_session::{
    Algorithm, KeyRing, Session, SessionConfig, SessionLayer, TowerSessionsLayer, WireFormat,
};
use serde::{Deserialize, Serialize};
use tower_sessions_core::Session as KvSession;

use common::{NAME, T0, key, raw};
use harness::{Client, Clock, Logs, Resp, serve_axum};

/// App A's session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Profile {
    name: String,
    bio: String,
}

/// App B's session: postcard encodes it as a length-prefixed string and a bool byte.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Account {
    user: String,
    admin: bool,
}

fn config(format: WireFormat) -> SessionConfig {
    SessionConfig::builder()
        .write_format(format)
        .build()
        .unwrap()
}

fn with_clock<T: sealed_session::SessionData>(
    layer: SessionLayer<T>,
    clock: &Clock,
) -> SessionLayer<T> {
    let clock = clock.clone();
    layer.with_clock(move || UNIX_EPOCH + Duration::from_secs(clock.now()))
}

/// Another app's session with exactly `Account`'s postcard layout (a string, then a bool) but
/// another meaning: 0.2 read `Prefs { nickname: "alice", dark_mode: true }` in app B as
/// `Account { user: "alice", admin: true }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Prefs {
    nickname: String,
    dark_mode: bool,
}

/// App A: `GET /save` saves `value` as its session.
async fn app_a<T: sealed_session::SessionData + Clone>(
    ring: &KeyRing,
    format: WireFormat,
    clock: &Clock,
    value: T,
) -> harness::Server {
    let layer = with_clock(SessionLayer::<T>::new(ring.clone(), config(format)), clock);
    serve_axum(
        Router::new()
            .route(
                "/save",
                get(move |s: Session<T>| async move {
                    s.set(value).unwrap();
                    "saved"
                }),
            )
            .layer(layer),
    )
    .await
}

/// The crafted profile of RT3-1.
fn crafted_profile() -> Profile {
    Profile {
        name: "\u{6}".into(),
        bio: "alice\u{1}".into(),
    }
}

fn prefs() -> Prefs {
    Prefs {
        nickname: "alice".into(),
        dark_mode: true,
    }
}

/// App B: `GET /` says who the session belongs to and whether it is new.
async fn app_b(ring: &KeyRing, format: WireFormat, clock: &Clock) -> harness::Server {
    let layer = with_clock(
        SessionLayer::<Account>::new(ring.clone(), config(format)),
        clock,
    );
    serve_axum(
        Router::new()
            .route(
                "/",
                get(|s: Session<Account>| async move {
                    let account = s.get();
                    format!(
                        "user={:?} admin={} new={}",
                        account.user,
                        account.admin,
                        s.is_new()
                    )
                }),
            )
            .layer(layer),
    )
    .await
}

/// The bridge: `GET /` lists which of the probed keys the record has.
async fn bridge(ring: &KeyRing, format: WireFormat, clock: &Clock) -> harness::Server {
    let config = SessionConfig::builder()
        .write_format(format)
        .build()
        .unwrap();
    let clock = clock.clone();
    serve_axum(
        Router::new()
            .route(
                "/",
                get(|s: KvSession| async move {
                    let mut keys: Vec<String> = Vec::new();
                    // The bridge's record is a map: 0.2 could read a typed cookie's bytes as
                    // one (key "\x06alice" for the crafted profile, say).
                    let probes = ["name", "bio", "role", "user", "admin", "nickname", "alice"];
                    for key in probes.into_iter().chain(["\u{6}alice", ""]) {
                        if s.get_value(key).await.unwrap().is_some() {
                            keys.push(key.to_owned());
                        }
                    }
                    // (`is_empty` is false for any request that carried the cookie: the
                    // bridge's store loads an empty record for a refused cookie.)
                    format!("keys={keys:?}")
                }),
            )
            .layer(
                TowerSessionsLayer::new(ring.clone(), config)
                    .with_clock(move || UNIX_EPOCH + Duration::from_secs(clock.now())),
            ),
    )
    .await
}

/// The events of target `sealed_session::open` in captured logs, and every line above INFO.
fn open_events(text: &str) -> (Vec<&str>, Vec<&str>) {
    let open = text
        .lines()
        .filter(|l| l.contains("sealed_session::open"))
        .collect();
    let loud = text
        .lines()
        .filter(|l| l.contains("ERROR") || (l.contains("WARN") && !l.contains("wrong_type")))
        .collect();
    (open, loud)
}

/// What app B and the bridge make of app A's cookie holding `value`, with every app writing
/// `format`.
async fn cross_app<T: sealed_session::SessionData + Clone>(
    algorithm: Algorithm,
    format: WireFormat,
    value: T,
) -> (String, String) {
    let logs = Logs::capture();
    let clock = Clock::new(T0);
    let ring = KeyRing::new(key(algorithm, 31));
    let a = app_a(&ring, format, &clock, value).await;
    let b = app_b(&ring, format, &clock).await;
    let kv = bridge(&ring, format, &clock).await;

    let mut client = Client::new(a.addr);
    assert_eq!(client.get("/save").await.body, "saved");
    let cookie = client.cookie(NAME).expect("app A set its cookie");
    let version = raw(&cookie)[0];
    assert_eq!(
        version,
        if format == WireFormat::V2 { 2 } else { 3 },
        "wire version"
    );
    logs.take();

    client.retarget(b.addr);
    let in_b = client.get("/").await;
    assert_eq!(in_b.status, 200, "{in_b:?}");
    let b_logs = logs.take();

    let mut client = Client::new(kv.addr);
    client.set_cookie(NAME, &cookie);
    let in_bridge = client.get("/").await;
    assert!(in_bridge.status < 500, "{in_bridge:?}");
    let bridge_logs = logs.take();
    if format == WireFormat::V3 {
        for (who, text) in [("app B", &b_logs), ("the bridge", &bridge_logs)] {
            let (open, loud) = open_events(text);
            assert_eq!(open.len(), 1, "{who}: one event about the cookie: {text}");
            let event = open[0];
            assert!(event.contains("reason=\"wrong_type\""), "{who}: {event}");
            assert!(
                event.contains(" WARN ") || event.contains(" INFO "),
                "{who}: at warn or below: {event}"
            );
            assert!(
                event.contains("Migrations::from::<Old>()") && event.contains("own cookie name"),
                "{who}: the event names the fixes: {event}"
            );
            assert!(loud.is_empty(), "{who}: nothing else above info: {loud:?}");
        }
    }
    (in_b.body, in_bridge.body)
}

/// RT3-1 over real servers, both algorithms, default settings but the shared ring: app A's
/// cookie (the crafted profile, and a type with app B's very layout) gives app B a fresh
/// session (not an admin) and the bridge an empty record, with one event each at `warn` or
/// below that names the fixes.
#[tokio::test]
async fn a_cookie_of_another_app_sharing_ring_and_name_gives_a_fresh_session() {
    for algorithm in common::ALGORITHMS {
        let (in_b, in_bridge) = cross_app(algorithm, WireFormat::V3, crafted_profile()).await;
        assert_eq!(in_b, "user=\"\" admin=false new=true", "{algorithm:?}");
        assert_eq!(in_bridge, "keys=[]", "{algorithm:?}");
        let (in_b, in_bridge) = cross_app(algorithm, WireFormat::V3, prefs()).await;
        assert_eq!(in_b, "user=\"\" admin=false new=true", "{algorithm:?}");
        assert_eq!(in_bridge, "keys=[]", "{algorithm:?}");
    }
}

/// The control: with 0.2's envelope (`write_format(WireFormat::V2)` on every app, what 0.2
/// wrote), app B opens app A's `Prefs` cookie as its own admin account: the assertions of the
/// test above fail on 0.2's behaviour. (The crafted profile's bytes do not decode as an
/// `Account`, postcard refuses a bool byte of 6, so under v2 it gives a fresh session with
/// `reason="payload"`, not a misread.)
#[tokio::test]
async fn with_the_v2_envelope_app_b_misreads_app_a_cookie_as_an_admin() {
    let (in_b, _) = cross_app(Algorithm::Aes256Gcm, WireFormat::V2, prefs()).await;
    assert_eq!(in_b, "user=\"alice\" admin=true new=false");
    let (in_b, _) = cross_app(Algorithm::Aes256Gcm, WireFormat::V2, crafted_profile()).await;
    assert_eq!(in_b, "user=\"\" admin=false new=true");
}

/// Rollout: what a client's count is, and which wire version each instance writes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Counter {
    visits: u32,
}

async fn counter(ring: &KeyRing, format: WireFormat, clock: &Clock) -> harness::Server {
    let layer = with_clock(
        SessionLayer::<Counter>::new(ring.clone(), config(format)),
        clock,
    );
    serve_axum(
        Router::new()
            .route(
                "/",
                get(|s: Session<Counter>| async move {
                    let visits = s.update(|c| {
                        c.visits += 1;
                        c.visits
                    });
                    format!("visits={}", visits.unwrap())
                }),
            )
            .layer(layer),
    )
    .await
}

fn wire_version(resp: &Resp) -> u8 {
    let line = resp.set_cookie().expect("a Set-Cookie on every visit");
    let value = line.split(';').next().unwrap().split_once('=').unwrap().1;
    raw(value)[0]
}

/// Issue 18 "Prove it": v2-writing and v3-writing instances serve the same 16 clients at once
/// (each client alternating instances on every request) with nobody logged out, then every
/// instance writes v3, then a rollback to v2 writing. Every response's cookie has the version
/// its instance writes; every count goes up by one per request.
#[tokio::test]
async fn a_fleet_rolls_out_and_back_between_v2_and_v3_without_logouts() {
    use WireFormat::{V2, V3};
    let clock = Clock::new(T0);
    let ring = KeyRing::new(key(Algorithm::XChaCha20Poly1305, 32));
    let phases = [[V2, V2], [V2, V3], [V3, V3], [V3, V2], [V2, V2]];
    let mut instances = [
        counter(&ring, V2, &clock).await,
        counter(&ring, V2, &clock).await,
    ];
    let mut clients: Vec<(Client, u32)> = (0..16)
        .map(|_| (Client::new(instances[0].addr), 0))
        .collect();
    for (phase, formats) in phases.iter().enumerate() {
        for (which, format) in formats.iter().enumerate() {
            let replacement = counter(&ring, *format, &clock).await;
            let old = core::mem::replace(&mut instances[which], replacement);
            old.shutdown().await;
        }
        let addrs = [instances[0].addr, instances[1].addr];
        let versions = formats.map(|f| if f == V2 { 2u8 } else { 3 });
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (mut client, mut count)) in clients.drain(..).enumerate() {
            tasks.spawn(async move {
                for request in 0..6 {
                    let which = (i + request) % 2;
                    client.retarget(addrs[which]);
                    let resp = client.get("/").await;
                    count += 1;
                    assert_eq!(
                        resp.body,
                        format!("visits={count}"),
                        "phase {phase}: client {i} logged out"
                    );
                    assert_eq!(
                        wire_version(&resp),
                        versions[which],
                        "phase {phase}: instance {which}"
                    );
                }
                (client, count)
            });
        }
        while let Some(done) = tasks.join_next().await {
            clients.push(done.unwrap());
        }
        clock.advance(60);
    }
    assert_eq!(clients.len(), 16);
    assert!(clients.iter().all(|(_, count)| *count == 6 * 5));
}

/// H1's residue closed: with `WireFormat::V3Only`, app B refuses a v2 cookie that app A
/// (another session type, same ring and cookie name) sealed, where with `V3` it still misreads
/// it as an admin account (the residue SECURITY.md states). The refusal is one event at
/// `info` naming `unbound`, nothing above it (the header alone decides it, before the AEAD, so
/// a client can send it). A v3 cookie of B's own keeps opening in a `V3Only` instance, and a
/// v2 one of its own starts a fresh session there (that is what switching too early costs).
#[tokio::test]
async fn v3_only_refuses_unbound_cookies_of_another_app() {
    use WireFormat::{V2, V3, V3Only};
    for algorithm in common::ALGORITHMS {
        let logs = Logs::capture();
        let clock = Clock::new(T0);
        let ring = KeyRing::new(key(algorithm, 33));
        let a = app_a(&ring, V2, &clock, prefs()).await;
        let b_open = app_b(&ring, V3, &clock).await;
        let b_strict = app_b(&ring, V3Only, &clock).await;

        let mut client = Client::new(a.addr);
        assert_eq!(client.get("/save").await.body, "saved");
        assert_eq!(raw(&client.cookie(NAME).unwrap())[0], 2, "app A writes v2");

        client.retarget(b_open.addr);
        let misread = client.get("/").await;
        assert_eq!(
            misread.body, "user=\"alice\" admin=true new=false",
            "{algorithm:?}"
        );
        logs.take();

        let mut client = Client::new(a.addr);
        assert_eq!(client.get("/save").await.body, "saved");
        client.retarget(b_strict.addr);
        let refused = client.get("/").await;
        assert_eq!(
            refused.body, "user=\"\" admin=false new=true",
            "{algorithm:?}"
        );
        let text = logs.take();
        let (open, loud) = open_events(&text);
        assert_eq!(open.len(), 1, "one event about the cookie: {text}");
        assert!(open[0].contains("reason=\"unbound\""), "{}", open[0]);
        assert!(open[0].contains(" INFO "), "at info: {}", open[0]);
        assert!(loud.is_empty(), "nothing above info: {loud:?}");

        // B's own sessions: v3 keeps opening in a `V3Only` instance; v2 does not.
        for (writer, expected) in [(V3, "visits=2"), (V2, "visits=1")] {
            let first = counter(&ring, writer, &clock).await;
            let strict = counter(&ring, V3Only, &clock).await;
            let mut client = Client::new(first.addr);
            assert_eq!(client.get("/").await.body, "visits=1");
            client.retarget(strict.addr);
            let resp = client.get("/").await;
            assert_eq!(resp.body, expected, "{algorithm:?}: sealed in {writer:?}");
            assert_eq!(wire_version(&resp), 3, "a V3Only instance writes v3");
        }
    }
}

/// The recipe below is the README's "Changing the session type", line for line (hidden lines
/// aside): if the README changes, this test fails until the copy below is updated.
#[test]
fn the_recipe_below_is_the_readme_one_verbatim() {
    let recipe = harness::readme_block("## Changing the session type", "```rust\n", "```");
    harness::assert_holds_verbatim(
        "tests/http/type_binding.rs",
        include_str!("type_binding.rs"),
        &recipe,
    );
}

/// Issue 19 F1: a user whose cookie was sealed by the app while its type was `V1` keeps the
/// session under `V2`, through the recipe's layer over a real server: the cookie opens as a
/// `V2`, is re-sealed as `V2` on that response with one `info` event of target
/// `sealed_session::migrate`, and then opens with no conversion. Without the migration (the
/// prose's other promise), the same cookie gives a fresh session and an event naming the fix.
#[tokio::test]
#[rustfmt::skip]
async fn readme_recipe_changing_the_session_type_keeps_users_logged_in()
-> Result<(), Box<dyn std::error::Error>> {
    let logs = Logs::capture();
    // ---- README.md, "Changing the session type", verbatim ----
use sealed_session::{Algorithm, Key, KeyRing, Migrations, SessionConfig, SessionLayer};

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct V1 { user: Option<String> }

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct V2 { user: Option<String>, theme: String }

impl From<V1> for V2 {
    fn from(old: V1) -> Self {
        Self { user: old.user, theme: "light".to_owned() }
    }
}

let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
let config = SessionConfig::default();
let layer = SessionLayer::<V2>::new(ring, config).with_migrations(Migrations::new().from::<V1>())?;
    // ---- end of the recipe ----

    let ring = layer.sessions().ring().clone();
    // The app before the change: logging in stores the user as a V1.
    let before = serve_axum(
        Router::new()
            .route("/login", get(|s: Session<V1>| async move {
                s.set(V1 { user: Some("ann".into()) }).unwrap();
                "logged in"
            }))
            .layer(SessionLayer::<V1>::new(ring.clone(), SessionConfig::default())),
    )
    .await;
    async fn whoami(s: Session<V2>) -> String {
        let v2 = s.get();
        format!("user={:?} theme={} new={}", v2.user, v2.theme, s.is_new())
    }
    // The app after it, with the recipe's layer; and one without the migration.
    let after = serve_axum(Router::new().route("/", get(whoami)).layer(layer)).await;
    let unregistered = serve_axum(
        Router::new()
            .route("/", get(whoami))
            .layer(SessionLayer::<V2>::new(ring.clone(), SessionConfig::default())),
    )
    .await;

    let mut client = Client::new(before.addr);
    assert_eq!(client.get("/login").await.body, "logged in");
    let v1_cookie = client.cookie(NAME).unwrap();
    assert_eq!(raw(&v1_cookie)[0], 3, "a v3 cookie bound to V1");
    logs.take();

    // Not registered: a fresh session, and the event names the fix.
    let mut stranger = Client::new(unregistered.addr);
    stranger.set_cookie(NAME, &v1_cookie);
    let resp = stranger.get("/").await;
    assert_eq!(resp.body, "user=None theme= new=true");
    let text = logs.take();
    assert!(
        text.contains("reason=\"wrong_type\"") && text.contains("Migrations::from::<Old>()"),
        "{text}"
    );

    // Registered: the user keeps the session, converted and re-sealed as V2 on this response.
    client.retarget(after.addr);
    let resp = client.get("/").await;
    assert_eq!(resp.body, "user=Some(\"ann\") theme=light new=false");
    let resealed = client.cookie(NAME).unwrap();
    assert_ne!(resealed, v1_cookie, "re-sealed on the same response");
    let (v1_raw, v2_raw) = (raw(&v1_cookie), raw(&resealed));
    assert_eq!(v2_raw[0], 3);
    assert_ne!(v1_raw[9..13], v2_raw[9..13], "now bound to V2, not V1");
    let text = logs.take();
    let migrated: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("sealed_session::migrate"))
        .collect();
    assert_eq!(migrated.len(), 1, "{text}");
    assert!(migrated[0].contains(" INFO "), "{text}");
    assert!(!text.contains("sealed_session::open"), "nothing refused: {text}");

    // The next request opens it as a V2, with no conversion.
    let resp = client.get("/").await;
    assert_eq!(resp.body, "user=Some(\"ann\") theme=light new=false");
    let text = logs.take();
    assert!(!text.contains("sealed_session::migrate"), "{text}");
    assert!(!text.contains("sealed_session::open"), "{text}");
    // And the V2 cookie is one the unregistered V2 app reads too.
    let mut other = Client::new(unregistered.addr);
    other.set_cookie(NAME, &client.cookie(NAME).unwrap());
    assert_eq!(
        other.get("/").await.body,
        "user=Some(\"ann\") theme=light new=false"
    );
    Ok(())
}

/// README's "Changing the session type", its fleet rollout in two phases with type-bound
/// migrations (format v3; tests/http/migrations.rs covers 0.2's numbered schemas): phase 1
/// reads both types and writes the old one with the README's down-conversion, so an instance
/// still on the old code keeps reading every cookie, logins included; phase 2 writes the new
/// type, which phase 1 instances read too. Nobody is logged out at any step.
#[tokio::test]
async fn readme_two_phase_rollout_with_type_bound_migrations_logs_no_one_out() {
    use axum::extract::Request;
    use sealed_session::Migrations;

    #[derive(Clone, Default, Serialize, Deserialize)]
    struct V1 {
        user: Option<String>,
    }
    #[derive(Clone, Default, Serialize, Deserialize)]
    struct V2 {
        user: Option<String>,
        theme: String,
    }
    impl From<V1> for V2 {
        fn from(old: V1) -> Self {
            Self {
                user: old.user,
                theme: "light".to_owned(),
            }
        }
    }
    /// The `NAME` of `?user=NAME`.
    fn user_of(request: &Request) -> String {
        let query = request.uri().query().unwrap_or_default();
        query.strip_prefix("user=").unwrap_or_default().to_owned()
    }

    let ring = KeyRing::new(key(Algorithm::Aes256Gcm, 1));
    let old = serve_axum(
        Router::new()
            .route(
                "/",
                get(|s: Session<V1>| async move { format!("user={:?}", s.get().user) }),
            )
            .route(
                "/login",
                get(|s: Session<V1>, request: Request| async move {
                    s.set(V1 {
                        user: Some(user_of(&request)),
                    })
                    .and_then(|()| s.cycle_id())
                    .map(|()| "logged in")
                }),
            )
            .layer(SessionLayer::<V1>::new(
                ring.clone(),
                SessionConfig::default(),
            )),
    )
    .await;
    let new_app = |layer: SessionLayer<V2>| {
        Router::new()
            .route(
                "/",
                get(|s: Session<V2>| async move { format!("user={:?}", s.get().user) }),
            )
            .route(
                "/login",
                get(|s: Session<V2>, request: Request| async move {
                    s.set(V2 {
                        user: Some(user_of(&request)),
                        theme: "light".to_owned(),
                    })
                    .and_then(|()| s.cycle_id())
                    .map(|()| "logged in")
                }),
            )
            .layer(layer)
    };
    let layer = || SessionLayer::<V2>::new(ring.clone(), SessionConfig::default());
    // Phase 1, as the README writes it.
    let phase_1 = layer()
        .with_migrations(Migrations::new().from::<V1>().write_as(|v2: &V2| V1 {
            user: v2.user.clone(),
        }))
        .unwrap();
    let phase_1 = serve_axum(new_app(phase_1)).await;
    // Phase 2: the same without `write_as`.
    let phase_2 = layer()
        .with_migrations(Migrations::new().from::<V1>())
        .unwrap();
    let phase_2 = serve_axum(new_app(phase_2)).await;
    let binding = |cookie: &str| raw(cookie)[9..13].to_vec();

    // Logged in on the old code; phase 1 reads it, and the old code still does after it.
    let mut client = Client::new(old.addr);
    assert_eq!(client.get("/login?user=ann").await.body, "logged in");
    let v1_binding = binding(&client.cookie(NAME).unwrap());
    client.retarget(phase_1.addr);
    assert_eq!(client.get("/").await.body, "user=Some(\"ann\")");
    client.retarget(old.addr);
    assert_eq!(client.get("/").await.body, "user=Some(\"ann\")");

    // Logged in on phase 1: written as V1, which the old code reads.
    client.retarget(phase_1.addr);
    assert_eq!(client.get("/login?user=bob").await.body, "logged in");
    assert_eq!(binding(&client.cookie(NAME).unwrap()), v1_binding);
    client.retarget(old.addr);
    assert_eq!(client.get("/").await.body, "user=Some(\"bob\")");

    // Phase 2 moves the cookie to V2 on its next response; phase 1 instances read it.
    client.retarget(phase_2.addr);
    assert_eq!(client.get("/").await.body, "user=Some(\"bob\")");
    let v2_cookie = client.cookie(NAME).unwrap();
    assert_ne!(
        binding(&v2_cookie),
        v1_binding,
        "re-sealed as V2 by phase 2"
    );
    client.retarget(phase_1.addr);
    assert_eq!(client.get("/").await.body, "user=Some(\"bob\")");
    // Logged in on phase 2: V2, read by phase 1.
    client.retarget(phase_2.addr);
    assert_eq!(client.get("/login?user=cy").await.body, "logged in");
    assert_ne!(binding(&client.cookie(NAME).unwrap()), v1_binding);
    client.retarget(phase_1.addr);
    assert_eq!(client.get("/").await.body, "user=Some(\"cy\")");
}
