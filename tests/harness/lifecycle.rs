//! Key lifecycle and revocation over HTTP (issue "fleet operations", SECURITY-TESTS G5, G6):
//! pending keys, activation at the second, revoked keys, ring files that do not load, and a
//! ring-wide not-before time applied by several instances from one ring file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sealed_session::{KeyId, KeyRing, KeyStatus, SessionMeta};

use super::{
    Client, Env, Instance, Logs, TestSession, codec_for, key_id, key_string, sealed_key_id, serve,
    visits,
};
use crate::common::{meta, raw};

/// A directory of its own under the system's temporary directory, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "sealed-session-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn id_of(key: &str) -> KeyId {
    KeyId::new(key_id(key))
}

/// A cookie value of `env`'s name for `TestSession { visits }`, sealed under `key` alone.
fn sealed_under(env: &Env, key: &str, visits: u64) -> String {
    let ring: KeyRing = key.parse().unwrap();
    let session = TestSession {
        visits,
        ..TestSession::default()
    };
    let meta: SessionMeta = meta(env.now());
    codec_for(ring, &env.config)
        .seal(env.name(), &meta, &session, env.now())
        .unwrap()
        .value
}

/// G5: a pending key opens at once and does not seal; from its activation second on, it seals
/// every response (the very second, not one later), and cookies under the old key move to it.
pub(crate) async fn a_pending_key_opens_and_seals_from_its_second(instance: Instance) {
    let env = Env::new(instance).await;
    let old = &env.keys[0];
    let pending = key_string(instance.algorithm);
    let activation = env.now() + 600;
    env.ring
        .schedule(pending.parse().unwrap(), activation)
        .unwrap();
    assert_eq!(
        env.ring.status_at(id_of(&pending), env.now()),
        Some(KeyStatus::Pending {
            activates_at: activation
        })
    );

    let mut client = env.client();
    assert_eq!(visits(&client.get("/").await), 1);
    let cookie = client.cookie(env.name()).unwrap();
    assert_eq!(
        sealed_key_id(&cookie),
        key_id(old),
        "a pending key does not seal"
    );

    // A cookie sealed under the pending key (by an instance whose clock is ahead) opens, and
    // is re-sealed under the key that seals here.
    let mut early = env.client();
    early.set_cookie(env.name(), &sealed_under(&env, &pending, 7));
    let resp = early.get("/").await;
    assert_eq!(visits(&resp), 8, "a pending key opens");
    assert_eq!(sealed_key_id(&resp.cookie().value), key_id(old));

    env.clock.set(activation - 1);
    assert_eq!(visits(&client.get("/").await), 2);
    assert_eq!(
        sealed_key_id(&client.cookie(env.name()).unwrap()),
        key_id(old)
    );
    env.clock.set(activation);
    let resp = client.get("/").await;
    assert_eq!(visits(&resp), 3, "the session survives the activation");
    assert_eq!(
        sealed_key_id(&resp.cookie().value),
        key_id(&pending),
        "re-sealed under the new key at its activation second"
    );
    let mut fresh = env.client();
    fresh.get("/").await;
    assert_eq!(
        sealed_key_id(&fresh.cookie(env.name()).unwrap()),
        key_id(&pending)
    );
}

/// G5: a revoked key is refused with its own reason, named in the one log event, while forged
/// values under its id stay "unauthentic" (the reason is only given for real cookies).
pub(crate) async fn a_revoked_key_is_refused_with_its_own_reason(instance: Instance) {
    let env = Env::new(instance).await;
    let stolen = key_string(instance.algorithm);
    env.ring.insert(stolen.parse().unwrap()).unwrap();
    let mut victim = env.client();
    victim.set_cookie(env.name(), &sealed_under(&env, &stolen, 41));
    let kept = victim.cookie(env.name()).unwrap();
    assert_eq!(
        visits(&victim.get("/peek").await),
        41,
        "opens before revocation"
    );

    env.ring.revoke(id_of(&stolen)).unwrap();
    assert_eq!(
        env.ring.status_at(id_of(&stolen), env.now()),
        Some(KeyStatus::Revoked)
    );
    let logs = Logs::capture();
    let mut thief = env.client();
    thief.set_cookie(env.name(), &kept);
    assert_eq!(visits(&thief.get("/").await), 1, "a fresh session instead");
    let events = logs.take();
    assert_eq!(
        events.matches("session cookie refused").count(),
        1,
        "{events}"
    );
    assert!(events.contains("reason=\"key_revoked\""), "{events}");
    assert!(
        events.contains(&format!("{:08x}", key_id(&stolen))),
        "the key is named: {events}"
    );

    // The same header with a broken tag: unauthentic, not "revoked".
    let mut forged = raw(&kept);
    if let Some(last) = forged.last_mut() {
        *last ^= 1;
    }
    let mut forger = env.client();
    forger.set_cookie(env.name(), &URL_SAFE_NO_PAD.encode(&forged));
    assert_eq!(visits(&forger.get("/").await), 1);
    let events = logs.take();
    assert!(events.contains("reason=\"unauthentic\""), "{events}");
}

/// G5: ring files that do not parse, are empty, or name no key that can seal now, are refused
/// with an error and leave the ring (and every session under it) as it was.
pub(crate) async fn a_bad_ring_file_keeps_the_ring(instance: Instance) {
    let env = Env::new(instance).await;
    let dir = TempDir::new();
    let path = dir.path().join("ring.keys");
    let mut client = env.client();
    assert_eq!(visits(&client.get("/").await), 1);
    let primary = env.ring.primary_id_at(env.now());
    let far = env.now() + 86_400;
    let bad = [
        String::new(),
        "# only a comment\n".to_owned(),
        "ssk1:not-a-key\n".to_owned(),
        format!("{} activate=tomorrow\nend\n", env.keys[0]),
        format!("{} activate={far}\nend\n", key_string(instance.algorithm)),
        format!(
            "{}\n{}\nend\n",
            env.keys[0],
            env.keys[0].replace("ssk", "ssx")
        ),
        // Cut short: no `end` line.
        format!("{}\n", env.keys[0]),
    ];
    for text in &bad {
        std::fs::write(&path, text).unwrap();
        assert!(
            env.ring.reload_file(&path, env.now()).is_err(),
            "refused: {text:?}"
        );
        assert_eq!(env.ring.primary_id_at(env.now()), primary);
        assert_eq!(env.ring.ids(), vec![primary]);
    }
    assert!(
        env.ring
            .reload_file(dir.path().join("missing"), env.now())
            .is_err()
    );
    assert_eq!(visits(&client.get("/").await), 2, "nobody was logged out");
}

/// G6: a not-before time in the ring file refuses sessions created before it, on every
/// instance that loads the file, and no session created at or after it.
pub(crate) async fn not_before_in_the_ring_file_logs_everyone_out(instance: Instance) {
    let dir = TempDir::new();
    let path = dir.path().join("ring.keys");
    let key = key_string(instance.algorithm);
    std::fs::write(&path, format!("{key}\nend\n")).unwrap();
    let env = Env::new(instance).await;
    let rings: Vec<KeyRing> = (0..2).map(|_| KeyRing::from_file(&path).unwrap()).collect();
    let mut servers = Vec::new();
    for ring in &rings {
        servers.push(
            serve(
                instance.adapter,
                ring.clone(),
                env.config.clone(),
                &env.clock,
            )
            .await,
        );
    }
    let mut before = Client::new(servers[0].addr);
    assert_eq!(visits(&before.get("/").await), 1);
    env.clock.advance(60);
    let cutoff = env.now();
    let mut after = Client::new(servers[1].addr);
    assert_eq!(visits(&after.get("/").await), 1);
    // Both sessions move freely between the instances.
    for server in &servers {
        before.retarget(server.addr);
        after.retarget(server.addr);
        before.get("/").await;
        after.get("/").await;
    }
    assert_eq!(visits(&before.get("/").await), 4);

    std::fs::write(&path, format!("{key}\nnot-before={cutoff}\nend\n")).unwrap();
    for ring in &rings {
        ring.reload_file(&path, env.now()).unwrap();
        assert_eq!(ring.not_before(), Some(cutoff));
    }
    let (before, after) = (
        before.cookie(env.name()).unwrap(),
        after.cookie(env.name()).unwrap(),
    );
    let logs = Logs::capture();
    for server in &servers {
        let (mut old, mut new) = (Client::new(server.addr), Client::new(server.addr));
        old.set_cookie(env.name(), &before);
        new.set_cookie(env.name(), &after);
        assert_eq!(visits(&old.get("/").await), 1, "logged out on {server:?}");
        assert!(visits(&new.get("/").await) > 1, "kept on {server:?}");
    }
    assert_eq!(
        logs.take().matches("reason=\"session_revoked\"").count(),
        2,
        "one refusal per instance"
    );
}
