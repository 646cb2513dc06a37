//! Load, fleet and restart tests (issue 4; SECURITY-TESTS B5 through HTTP), bounded in count
//! and time, on 127.0.0.1 only.
//!
//! - 64 concurrent clients x 200 requests, each with its own cookie, while the key ring is
//!   rotated twice mid-run: no failed request, no lost update, every final cookie under the
//!   newest key.
//! - Two instances built from the same key ring strings serve one session alternately.
//! - Three-phase fleet rotation with staggered rings (insert everywhere, promote everywhere,
//!   retire): no in-lifetime session lost in phases 1-2, retired-key cookies refused after 3.
//! - Restarts: a cookie from before a restart opens after it (same ring strings); one sealed
//!   under a key retired across the restart does not.
//!
//! Nothing sleeps: rotations are triggered by request counts, time by the injected clock.

use crate::{common, harness};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use harness::{
    Adapter, Client, Clock, T0, TestSession, codec_for, key_id, key_string, sealed_key_id, serve,
    visits,
};
use sealed_session::{Algorithm, KeyId, KeyRing, SessionConfig};
use tokio::sync::watch;

const NAME: &str = "__Host-session";

fn ring(keys: &[&str]) -> KeyRing {
    keys.join(",").parse().unwrap()
}

/// Opens `value` with a codec whose ring holds only `key` (so: sealed under that key).
fn open_with(key: &str, value: &str, now: u64) -> TestSession {
    codec_for(ring(&[key]), &SessionConfig::default())
        .open::<TestSession>(NAME, value, now)
        .unwrap()
        .data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_64_clients_200_requests_two_rotations() {
    const CLIENTS: u64 = 64;
    const REQUESTS: u64 = 200;
    const TOTAL: u64 = CLIENTS * REQUESTS;
    // The second rotation moves to another algorithm, the third back: a migration mid-run.
    let keys = [
        key_string(Algorithm::Aes256Gcm),
        key_string(Algorithm::XChaCha20Poly1305),
        key_string(Algorithm::Aes256Gcm),
    ];
    let ring = ring(&[&keys[0]]);
    let clock = Clock::new(T0);
    let server = serve(
        Adapter::Hyper,
        ring.clone(),
        SessionConfig::default(),
        &clock,
    )
    .await;

    let completed = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    // How many rotations have happened; each client's last request waits for both, so that
    // every client makes at least one request under the newest key.
    let (rotated_tx, rotated_rx) = watch::channel(0u32);
    let rotated_tx = Arc::new(rotated_tx);
    let keys = Arc::new(keys);

    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let addr = server.addr;
        let (completed, failures) = (Arc::clone(&completed), Arc::clone(&failures));
        let (ring, keys) = (ring.clone(), Arc::clone(&keys));
        let (rotated_tx, mut rotated_rx) = (Arc::clone(&rotated_tx), rotated_rx.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(addr);
            for i in 1..=REQUESTS {
                if i == REQUESTS {
                    rotated_rx.wait_for(|&n| n == 2).await.unwrap();
                }
                let resp = client.get("/").await;
                if resp.status != 200 || resp.body != format!("visits: {i}") {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
                // Rotations happen exactly at one third and two thirds of all requests, while
                // the other clients' requests are in flight.
                let done = completed.fetch_add(1, Ordering::SeqCst) + 1;
                if done == TOTAL / 3 || done == 2 * TOTAL / 3 {
                    let next = if done == TOTAL / 3 { 1 } else { 2 };
                    ring.rotate(keys[next].parse().unwrap()).unwrap();
                    rotated_tx.send_modify(|n| *n += 1);
                }
            }
            client.cookie(NAME).unwrap()
        }));
    }
    let mut finals = Vec::new();
    for task in tasks {
        finals.push(task.await.unwrap());
    }
    assert_eq!(failures.load(Ordering::SeqCst), 0, "failed or lost updates");
    assert_eq!(completed.load(Ordering::SeqCst), TOTAL);
    assert_eq!(*rotated_rx.borrow(), 2);
    assert_eq!(ring.primary_id(), KeyId::new(key_id(&keys[2])));
    for value in &finals {
        assert_eq!(sealed_key_id(value), key_id(&keys[2]));
        assert_eq!(open_with(&keys[2], value, clock.now()).visits, REQUESTS);
    }
    let distinct: std::collections::HashSet<_> = finals.iter().collect();
    assert_eq!(distinct.len() as u64, CLIENTS, "each client its own cookie");
}

/// Two instances (a hyper server and an axum app) built from the same key ring strings: one
/// session continues across them.
#[tokio::test]
async fn two_instances_share_sessions() {
    let keys = [
        key_string(Algorithm::Aes256Gcm),
        key_string(Algorithm::XChaCha20Poly1305),
    ];
    let keys = [keys[0].as_str(), keys[1].as_str()];
    let clock = Clock::new(T0);
    let config = SessionConfig::default();
    let a = serve(Adapter::Hyper, ring(&keys), config.clone(), &clock).await;
    let b = serve(Adapter::Axum, ring(&keys), config.clone(), &clock).await;

    let mut client = Client::new(a.addr);
    assert_eq!(client.post("/login", "ada").await.body, "hello ada");
    for i in 1..=20 {
        client.retarget(if i % 2 == 0 { a.addr } else { b.addr });
        assert_eq!(visits(&client.get("/").await), i);
        assert_eq!(client.get("/me").await.body, "ada");
    }
    // A third instance that lacks the keys does not know the session.
    let stranger = serve(
        Adapter::Hyper,
        ring(&[&key_string(Algorithm::Aes256Gcm)]),
        config,
        &clock,
    )
    .await;
    client.retarget(stranger.addr);
    assert_eq!(client.get("/me").await.status, 401);
}

/// One client of the fleet: its jar, and what its counter must read.
struct Browser {
    client: Client,
    visits: u64,
}

impl Browser {
    /// One increment on `addr`: the session must continue.
    async fn visit(&mut self, addr: std::net::SocketAddr) -> String {
        self.client.retarget(addr);
        let resp = self.client.get("/").await;
        self.visits += 1;
        assert_eq!(visits(&resp), self.visits, "session lost");
        self.client.cookie(NAME).unwrap()
    }
}

/// Every browser visits both instances once (in alternating order); returns the key id of
/// each cookie it got back.
async fn round(browsers: &mut [Browser], addrs: [std::net::SocketAddr; 2]) -> Vec<u32> {
    let mut sealed_by = Vec::new();
    for (i, browser) in browsers.iter_mut().enumerate() {
        for step in 0..2 {
            let value = browser.visit(addrs[(i + step) % 2]).await;
            sealed_by.push(sealed_key_id(&value));
        }
    }
    sealed_by
}

/// The three-phase fleet rotation with staggered rings (SECURITY.md's runbook): insert the new
/// key everywhere, then promote it everywhere, then retire the old one.
#[tokio::test]
async fn three_phase_fleet_rotation() {
    let old = key_string(Algorithm::Aes256Gcm);
    let new = key_string(Algorithm::Aes256Gcm);
    let (old_id, new_id) = (key_id(&old), key_id(&new));
    let clock = Clock::new(T0);
    let config = SessionConfig::default();
    // Each instance has its own ring, built from the same strings: they change one by one.
    let rings = [ring(&[&old]), ring(&[&old])];
    let a = serve(Adapter::Hyper, rings[0].clone(), config.clone(), &clock).await;
    let b = serve(Adapter::Axum, rings[1].clone(), config.clone(), &clock).await;
    let addrs = [a.addr, b.addr];

    let mut browsers = Vec::new();
    let mut old_copies = Vec::new();
    for i in 0..16 {
        let mut browser = Browser {
            client: Client::new(addrs[i % 2]),
            visits: 0,
        };
        let value = browser.visit(addrs[i % 2]).await;
        assert_eq!(sealed_key_id(&value), old_id);
        old_copies.push(value);
        browsers.push(browser);
    }
    // Phase 1: insert the new key, accept-only, instance by instance.
    rings[0].insert(new.parse().unwrap()).unwrap();
    clock.advance(600);
    let sealed_by = round(&mut browsers, addrs).await;
    assert!(
        sealed_by.iter().all(|&id| id == old_id),
        "nobody seals with it yet"
    );
    rings[1].insert(new.parse().unwrap()).unwrap();
    clock.advance(600);
    let sealed_by = round(&mut browsers, addrs).await;
    assert!(sealed_by.iter().all(|&id| id == old_id));

    // Phase 2: promote it, instance by instance. While staggered, each instance opens what
    // the other sealed, and seals under its own primary.
    rings[0].promote(KeyId::new(new_id)).unwrap();
    clock.advance(600);
    let sealed_by = round(&mut browsers, addrs).await;
    assert!(sealed_by.contains(&old_id) && sealed_by.contains(&new_id));
    // A copy sealed by B, still on the old primary, in phase 2.
    let staggered_old_copy = browsers[0].visit(b.addr).await;
    assert_eq!(sealed_key_id(&staggered_old_copy), old_id);
    old_copies.push(staggered_old_copy.clone());
    rings[1].promote(KeyId::new(new_id)).unwrap();
    clock.advance(600);
    let sealed_by = round(&mut browsers, addrs).await;
    assert!(
        sealed_by.iter().all(|&id| id == new_id),
        "all on the new key"
    );
    // An old-key cookie from phase 2 still opens on both, and is moved to the new key.
    for addr in addrs {
        let mut late = Client::new(addr);
        let resp = late
            .get_with("/peek", &[&format!("{NAME}={staggered_old_copy}")])
            .await;
        assert!(visits(&resp) > 0);
        assert_eq!(sealed_key_id(&resp.cookie().value), new_id);
    }

    // Phase 3: retire the old key everywhere (after the longest lifetime, in production).
    for ring in &rings {
        ring.retire(KeyId::new(old_id)).unwrap();
    }
    clock.advance(600);
    let sealed_by = round(&mut browsers, addrs).await;
    assert!(
        sealed_by.iter().all(|&id| id == new_id),
        "live sessions continue"
    );
    // Every old-key cookie, though within its lifetime, is refused on every instance.
    for value in &old_copies {
        assert!(
            codec_for(ring(&[&old]), &config)
                .open::<TestSession>(NAME, value, clock.now())
                .is_ok(),
            "still within its lifetime"
        );
        for addr in addrs {
            let mut stale = Client::new(addr);
            let resp = stale.get_with("/peek", &[&format!("{NAME}={value}")]).await;
            assert_eq!(visits(&resp), 0);
            assert!(resp.cookie().is_removal());
        }
    }
}

/// A cookie issued before a restart opens after it (same ring strings); one sealed under a key
/// retired across the restart does not.
#[tokio::test]
async fn restarts_keep_sessions_unless_the_key_is_retired() {
    let k1 = key_string(Algorithm::XChaCha20Poly1305);
    let k2 = key_string(Algorithm::Aes256Gcm);
    let clock = Clock::new(T0);
    let config = SessionConfig::default();

    let first = serve(Adapter::Hyper, ring(&[&k1]), config.clone(), &clock).await;
    let mut client = Client::new(first.addr);
    client.post("/login", "ada").await;
    assert_eq!(visits(&client.get("/").await), 1);
    let old_addr = first.addr;
    first.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(old_addr).await.is_err(),
        "the first server is gone"
    );

    // Restart with the same ring strings.
    clock.advance(3600);
    let second = serve(Adapter::Hyper, ring(&[&k1]), config.clone(), &clock).await;
    client.retarget(second.addr);
    assert_eq!(client.get("/me").await.body, "ada");
    assert_eq!(visits(&client.get("/").await), 2);
    let under_k1 = client.cookie(NAME).unwrap();
    assert_eq!(sealed_key_id(&under_k1), key_id(&k1));
    second.shutdown().await;

    // Restart rotated: k2 primary, k1 accept-only. The session moves to k2.
    clock.advance(3600);
    let third = serve(Adapter::Axum, ring(&[&k2, &k1]), config.clone(), &clock).await;
    client.retarget(third.addr);
    assert_eq!(visits(&client.get("/").await), 3);
    let under_k2 = client.cookie(NAME).unwrap();
    assert_eq!(sealed_key_id(&under_k2), key_id(&k2));
    third.shutdown().await;

    // Restart with k1 retired: the k2 cookie opens, the k1 copy does not.
    clock.advance(3600);
    let fourth = serve(Adapter::Hyper, ring(&[&k2]), config.clone(), &clock).await;
    client.retarget(fourth.addr);
    assert_eq!(client.get("/me").await.body, "ada");
    assert_eq!(visits(&client.get("/").await), 4);
    let mut stale = Client::new(fourth.addr);
    let resp = stale
        .get_with("/me", &[&format!("{NAME}={under_k1}")])
        .await;
    assert_eq!(resp.status, 401);
    assert!(resp.cookie().is_removal());
    // A restart with k1 still present would have opened it: the refusal is the retirement.
    let control = serve(Adapter::Hyper, ring(&[&k2, &k1]), config, &clock).await;
    let mut check = Client::new(control.addr);
    let resp = check
        .get_with("/me", &[&format!("{NAME}={under_k1}")])
        .await;
    assert_eq!(resp.body, "ada");
}

/// The ring-file fleet (issue "fleet operations"): three instances (both adapters) with rings
/// of their own loaded from one file; 32 clients hop between them while the file gains a
/// scheduled key, the instances reload it at staggered moments, and the activation second
/// passes mid-run. No request fails, no session loses a visit, every response from the
/// activation second on is sealed under the new key. Then a `not-before` line logs out, on all
/// three, the sessions created before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_file_fleet_scheduled_rotation_then_not_before() {
    const CLIENTS: usize = 32;
    const REQUESTS: usize = 48;
    let dir = harness::lifecycle::TempDir::new();
    let path = dir.path().join("session.keys");
    let old = key_string(Algorithm::Aes256Gcm);
    let new = key_string(Algorithm::XChaCha20Poly1305);
    let (old_id, new_id) = (key_id(&old), key_id(&new));
    std::fs::write(&path, format!("# the fleet's ring\n{old}\nend\n")).unwrap();
    let clock = Clock::new(T0);
    let activation = T0 + 3600;
    let config = SessionConfig::default();
    let rings: Vec<KeyRing> = (0..3).map(|_| KeyRing::from_file(&path).unwrap()).collect();
    let mut servers = Vec::new();
    for (i, ring) in rings.iter().enumerate() {
        let adapter = if i == 1 {
            Adapter::Axum
        } else {
            Adapter::Hyper
        };
        servers.push(serve(adapter, ring.clone(), config.clone(), &clock).await);
    }
    let addrs: Arc<Vec<_>> = Arc::new(servers.iter().map(|s| s.addr).collect());

    // The operator's steps, taken by whichever client's request crosses each count, in order.
    let steps = Arc::new(std::sync::Mutex::new(0_usize));
    let done = Arc::new(AtomicU64::new(0));
    let step = {
        let (path, rings, clock) = (path.clone(), rings.clone(), clock.clone());
        let (old, new) = (old.clone(), new.clone());
        move |count: u64, steps: &mut usize| match (*steps, count) {
            (0, 200..) => {
                let text = format!("{new} activate={activation}\n{old}\nend\n");
                std::fs::write(&path, text).unwrap();
                *steps = 1;
            }
            (n @ 1..=3, c) if c >= 200 + 150 * n as u64 => {
                rings[n - 1].reload_file(&path, clock.now()).unwrap();
                *steps = n + 1;
            }
            (4, 900..) => {
                clock.set(activation);
                *steps = 5;
            }
            _ => {}
        }
    };
    let step = Arc::new(step);
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (addrs, clock, steps, done, step) = (
            Arc::clone(&addrs),
            clock.clone(),
            Arc::clone(&steps),
            Arc::clone(&done),
            Arc::clone(&step),
        );
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(addrs[i % 3]);
            for j in 0..REQUESTS {
                client.retarget(addrs[(i + j) % 3]);
                let started = clock.now();
                let resp = client.get("/").await;
                let ended = clock.now();
                assert_eq!(visits(&resp), j as u64 + 1, "client {i} lost a visit");
                let sealed = sealed_key_id(&resp.cookie().value);
                if started >= activation {
                    assert_eq!(sealed, new_id, "sealed under the old key after activation");
                }
                if ended < activation {
                    assert_eq!(sealed, old_id, "a pending key sealed");
                }
                let count = done.fetch_add(1, Ordering::SeqCst) + 1;
                step(count, &mut steps.lock().unwrap());
            }
            client
        }));
    }
    let mut clients = Vec::new();
    for task in tasks {
        clients.push(task.await.unwrap());
    }
    assert_eq!(*steps.lock().unwrap(), 5, "every step was taken mid-run");
    for client in &clients {
        assert_eq!(sealed_key_id(&client.cookie(NAME).unwrap()), new_id);
    }

    // Log everyone out who logged in before the cutoff; sessions from after it stay.
    clock.advance(60);
    let cutoff = clock.now();
    let mut late = Client::new(addrs[0]);
    assert_eq!(visits(&late.get("/").await), 1);
    std::fs::write(
        &path,
        format!("{new} activate={activation}\n{old}\nnot-before={cutoff}\nend\n"),
    )
    .unwrap();
    for ring in &rings {
        ring.reload_file(&path, clock.now()).unwrap();
    }
    let late = late.cookie(NAME).unwrap();
    for addr in addrs.iter() {
        for client in &clients {
            let mut copy = Client::new(*addr);
            copy.set_cookie(NAME, &client.cookie(NAME).unwrap());
            assert_eq!(visits(&copy.get("/").await), 1, "logged out on {addr}");
        }
        let mut copy = Client::new(*addr);
        copy.set_cookie(NAME, &late);
        assert!(visits(&copy.get("/").await) > 1, "kept on {addr}");
    }
}

/// Corrupt and empty ring files arriving under load, through the watcher: no request fails,
/// the ring stays as it was, one error event per bad file; a good file afterwards loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ring_files_under_load_keep_the_ring() {
    let dir = harness::lifecycle::TempDir::new();
    let path = dir.path().join("session.keys");
    let key = key_string(Algorithm::Aes256Gcm);
    std::fs::write(&path, format!("{key}\nend\n")).unwrap();
    let ring = KeyRing::from_file(&path).unwrap();
    let logs = harness::Logs::capture();
    let watcher = ring
        .watch_file(&path, std::time::Duration::from_millis(5))
        .unwrap();
    let clock = Clock::new(T0);
    let server = serve(
        Adapter::Hyper,
        ring.clone(),
        SessionConfig::default(),
        &clock,
    )
    .await;
    let (stop_tx, stop) = watch::channel(false);
    let served = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (mut stop, served) = (stop.clone(), Arc::clone(&served));
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(addr);
            let mut expected = 0;
            while !*stop.borrow_and_update() {
                expected += 1;
                assert_eq!(visits(&client.get("/").await), expected);
                served.fetch_add(1, Ordering::SeqCst);
            }
            expected
        }));
    }
    // Under load: every client is under way before the first bad file arrives.
    while served.load(Ordering::SeqCst) < 64 {
        tokio::task::yield_now().await;
    }
    // Replace the file atomically, as the runbook says, and wait for the watcher to see it.
    let replace = |text: &str| {
        let staged = dir.path().join("staged");
        std::fs::write(&staged, text).unwrap();
        std::fs::rename(&staged, &path).unwrap();
    };
    let errors = |text: &str| text.matches("key ring file refused").count();
    for (n, bad) in ["ssk1-garbage\n", ""].into_iter().enumerate() {
        replace(bad);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while errors(&logs.text()) <= n {
            assert!(std::time::Instant::now() < deadline, "no error event");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(ring.ids(), vec![KeyId::new(key_id(&key))]);
    }
    // A good file (a second key, accept-only) loads.
    let second = key_string(Algorithm::XChaCha20Poly1305);
    replace(&format!("{key}\n{second}\nend\n"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while ring.ids().len() != 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the good file never loaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop_tx.send(true).unwrap();
    for task in tasks {
        assert!(task.await.unwrap() > 0);
    }
    drop(watcher);
    let text = logs.text();
    assert_eq!(errors(&text), 2, "one error event per bad file: {text}");
    assert_eq!(text.matches("key ring reloaded").count(), 1, "{text}");
    assert!(!text.contains(&key[4..]), "no key material in the events");
}

/// A cookie holding `visits`, created at `created`, sealed at `T0` under `key` alone.
fn sealed_under(key: &str, visits: u64, created: u64) -> String {
    let data = TestSession {
        visits,
        ..TestSession::default()
    };
    codec_for(ring(&[key]), &SessionConfig::default())
        .seal(NAME, &common::meta(created), &data, T0)
        .unwrap()
        .value
}

/// Waits (polling the logs, the way the watcher polls the file) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// RT3-4 (f), H4: three instances (hyper, axum, hyper), each with its own ring and watcher
/// on one ring file, while a writer rewrites the file in place (truncate, then pieces with
/// pauses: not atomically), alternating between two good versions, and clients send requests:
/// ordinary sessions, a leaked cookie under the revoked key, a cookie from before the
/// not-before time. No request fails, no visit is lost, the revoked key's cookie and the old
/// session never open, the pending key never seals, and every instance's ring keeps its
/// strength at every check. Every rewrite is caught torn at least once by a watcher (the
/// writer waits for a refusal after its first piece), and refused. On 0.2 (files without the
/// `end` line) the torn copies loaded: the leaked cookie opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_ring_file_writes_under_load_never_weaken_a_ring() {
    const REWRITES: usize = 12;
    let dir = harness::lifecycle::TempDir::new();
    let path = dir.path().join("session.keys");
    let pending = key_string(Algorithm::Aes256Gcm);
    let primary = key_string(Algorithm::XChaCha20Poly1305);
    let revoked = key_string(Algorithm::Aes256Gcm);
    let extra = key_string(Algorithm::XChaCha20Poly1305);
    let not_before = T0 - 3600;
    // Far in the future by the test clock and by the system clock the watchers read.
    let activation = 4_102_444_800_u64;
    let versions = [
        format!(
            "# the fleet's ring\n{pending} activate={activation}\n{primary}\n{revoked} revoked\nnot-before={not_before}\nend\n"
        ),
        format!(
            "# the fleet's ring, one more accept-only key\n{pending} activate={activation}\n{primary}\n{extra}\n{revoked} revoked\nnot-before={not_before}\nend\n"
        ),
    ];
    std::fs::write(&path, &versions[0]).unwrap();
    let logs = harness::Logs::capture();
    let clock = Clock::new(T0);
    let mut rings = Vec::new();
    let mut watchers = Vec::new();
    let mut servers = Vec::new();
    for adapter in [Adapter::Hyper, Adapter::Axum, Adapter::Hyper] {
        let ring = KeyRing::from_file(&path).unwrap();
        watchers.push(
            ring.watch_file(&path, std::time::Duration::from_millis(1))
                .unwrap(),
        );
        servers.push(serve(adapter, ring.clone(), SessionConfig::default(), &clock).await);
        rings.push(ring);
    }
    let addrs: Arc<Vec<_>> = Arc::new(servers.iter().map(|s| s.addr).collect());
    let rings = Arc::new(rings);
    let (primary_id, pending_id, revoked_id) = (
        KeyId::new(key_id(&primary)),
        KeyId::new(key_id(&pending)),
        KeyId::new(key_id(&revoked)),
    );
    // Each instance's ring keeps its strength.
    let strong = {
        let rings = Arc::clone(&rings);
        move || {
            for ring in rings.iter() {
                assert!(!ring.contains(revoked_id), "the revoked key opens");
                assert_eq!(ring.not_before(), Some(not_before), "not-before moved");
                assert_eq!(ring.primary_id_at(T0), primary_id, "another key seals");
                assert!(ring.contains(pending_id));
            }
        }
    };
    let leaked = sealed_under(&revoked, 50, T0 - 60);
    let logged_out = sealed_under(&primary, 70, T0 - 7200);

    let (stop_tx, stop) = watch::channel(false);
    let served = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (mut stop, served, addrs, strong) = (
            stop.clone(),
            Arc::clone(&served),
            Arc::clone(&addrs),
            strong.clone(),
        );
        let (leaked, logged_out) = (leaked.clone(), logged_out.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(addrs[i % 3]);
            let mut expected = 0;
            let mut round = 0;
            while !*stop.borrow_and_update() {
                round += 1;
                let addr = addrs[(i + round) % 3];
                client.retarget(addr);
                expected += 1;
                let resp = client.get("/").await;
                assert_eq!(visits(&resp), expected, "client {i} lost a visit");
                assert_eq!(
                    KeyId::new(sealed_key_id(&resp.cookie().value)),
                    primary_id,
                    "sealed under another key than the primary"
                );
                for (cookie, what) in [
                    (&leaked, "the revoked key's"),
                    (&logged_out, "a logged-out"),
                ] {
                    let mut other = Client::new(addr);
                    other.set_cookie(NAME, cookie);
                    assert_eq!(
                        visits(&other.get("/").await),
                        1,
                        "{what} cookie opened on {addr}"
                    );
                }
                strong();
                served.fetch_add(1, Ordering::SeqCst);
            }
            expected
        }));
    }
    while served.load(Ordering::SeqCst) < 24 {
        tokio::task::yield_now().await;
    }

    let refused = |text: &str| text.matches("key ring file refused").count();
    let reloaded = |text: &str| text.matches("key ring reloaded").count();
    for n in 0..REWRITES {
        let text = versions[(n + 1) % 2].as_bytes().to_vec();
        let seen = refused(&logs.text());
        // In place: truncate, then write in pieces, as a careless editor or `cat > file` does.
        let mut file = std::fs::File::create(&path).unwrap();
        let mut pieces = text.chunks(40);
        std::io::Write::write_all(&mut file, pieces.next().unwrap()).unwrap();
        // Wait until a watcher has caught the file torn (and refused it).
        until("a torn file was refused", || refused(&logs.text()) > seen).await;
        for piece in pieces {
            std::io::Write::write_all(&mut file, piece).unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        drop(file);
        // Every instance loads the whole file before the next rewrite.
        let want = 3 * (n + 1);
        until("every instance reloaded the whole file", || {
            reloaded(&logs.text()) >= want
        })
        .await;
        strong();
    }
    stop_tx.send(true).unwrap();
    for task in tasks {
        assert!(task.await.unwrap() > 0);
    }
    strong();
    let extra_id = KeyId::new(key_id(&extra));
    for ring in rings.iter() {
        // The last version written is versions[REWRITES % 2].
        assert_eq!(ring.contains(extra_id), REWRITES % 2 == 1);
    }
    drop(watchers);
    let text = logs.text();
    assert_eq!(reloaded(&text), 3 * REWRITES, "{text}");
    assert!(!text.contains(&revoked[4..]) && !text.contains(&primary[4..]));
}

/// F5, F10: the watcher logs (at `info`) a change of the primary key, on a reload and when an
/// activation time passes, and logs that it stopped when dropped (0.2 logged neither: a hand
/// rotation that did nothing, or a `let _ = ring.watch_file(..)`, went unseen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_logs_primary_changes_and_its_stop() {
    let dir = harness::lifecycle::TempDir::new();
    let path = dir.path().join("session.keys");
    let (a, b, c) = (
        key_string(Algorithm::Aes256Gcm),
        key_string(Algorithm::Aes256Gcm),
        key_string(Algorithm::Aes256Gcm),
    );
    std::fs::write(&path, format!("{a}\nend\n")).unwrap();
    let ring = KeyRing::from_file(&path).unwrap();
    let logs = harness::Logs::capture();
    let watcher = ring
        .watch_file(&path, std::time::Duration::from_millis(2))
        .unwrap();
    let changes = |text: &str, cause: &str| {
        text.lines()
            .filter(|l| l.contains("primary key changed") && l.contains(cause))
            .count()
    };
    // A hand rotation: a new key on the first line, replaced atomically.
    let staged = dir.path().join("session.keys.new");
    std::fs::write(&staged, format!("{b}\n{a}\nend\n")).unwrap();
    std::fs::rename(&staged, &path).unwrap();
    until("the reload's primary change", || {
        changes(&logs.text(), "ring file reloaded") == 1
    })
    .await;
    assert_eq!(ring.primary_id(), KeyId::new(key_id(&b)));
    // A scheduled key whose time comes (by the system clock) a second from now.
    let soon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    std::fs::write(&staged, format!("{c} activate={soon}\n{b}\n{a}\nend\n")).unwrap();
    std::fs::rename(&staged, &path).unwrap();
    until("the activation's primary change", || {
        changes(&logs.text(), "activation time passed") == 1
    })
    .await;
    assert_eq!(ring.primary_id(), KeyId::new(key_id(&c)));
    assert!(!logs.text().contains("watcher stopped"));
    drop(watcher);
    let text = logs.text();
    assert_eq!(
        text.matches("key ring watcher stopped").count(),
        1,
        "{text}"
    );
    assert!(text.contains("session.keys"), "{text}");
}

/// F6, H4: a watcher started on a file it cannot read (over 64 KiB here) says so at once, in
/// one `error` event naming the path, and not again on every poll; it loads the file once it
/// is good, and says so again when the file becomes unreadable once more (until this test,
/// nothing was logged for a file unreadable at the start: a wrong path went unseen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_says_once_that_its_file_cannot_be_read() {
    let dir = harness::lifecycle::TempDir::new();
    let path = dir.path().join("session.keys");
    let (a, b) = (
        key_string(Algorithm::Aes256Gcm),
        key_string(Algorithm::Aes256Gcm),
    );
    let too_large = format!("{b}\n#{}\nend\n", "x".repeat(64 * 1024));
    std::fs::write(&path, &too_large).unwrap();
    let ring: KeyRing = a.parse().unwrap();
    let logs = harness::Logs::capture();
    let polls = std::time::Duration::from_millis(1);
    let watcher = ring.watch_file(&path, polls).unwrap();
    let unreadable = |text: &str| text.matches("key ring file unreadable").count();
    until("the event for the file it cannot read", || {
        unreadable(&logs.text()) == 1
    })
    .await;
    // Many polls of the same unreadable file: no more events.
    tokio::time::sleep(polls * 50).await;
    let text = logs.text();
    assert_eq!(unreadable(&text), 1, "{text}");
    assert!(text.contains("session.keys"), "{text}");
    assert_eq!(ring.ids(), vec![KeyId::new(key_id(&a))]);

    // Good now (replaced atomically): loaded.
    let staged = dir.path().join("session.keys.new");
    std::fs::write(&staged, format!("{b}\n{a}\nend\n")).unwrap();
    std::fs::rename(&staged, &path).unwrap();
    until("the reload", || logs.text().contains("key ring reloaded")).await;
    assert_eq!(ring.primary_id(), KeyId::new(key_id(&b)));

    // Unreadable again: said once more, and the ring is kept.
    std::fs::write(&staged, &too_large).unwrap();
    std::fs::rename(&staged, &path).unwrap();
    until("the second event", || unreadable(&logs.text()) == 2).await;
    tokio::time::sleep(polls * 50).await;
    let text = logs.text();
    assert_eq!(unreadable(&text), 2, "{text}");
    assert_eq!(ring.primary_id(), KeyId::new(key_id(&b)));
    drop(watcher);
}
