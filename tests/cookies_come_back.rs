//! Issue 19 F11: over plain http on a host other than localhost, the browser drops the `Secure`
//! session cookie and sessions never stick. The engine sees the symptom (responses set a session
//! cookie, no request sends one back) and says so once, at `warn`, with the fix. A test binary of
//! its own: the check is process-wide, and any other test's returning cookie would disarm it.
#![cfg(feature = "engine")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use sealed_session::{Algorithm, Key, KeyRing, SessionConfig, Sessions};

#[derive(Clone)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn cookies_never_sent_back_are_said_once_with_the_fix() {
    let buf = Captured(Arc::default());
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let sessions = Sessions::<u32>::new(
        KeyRing::new(Key::generate(Algorithm::Aes256Gcm)),
        SessionConfig::default(),
    );
    let warnings = || {
        String::from_utf8_lossy(&buf.0.lock().unwrap())
            .lines()
            .filter(|line| line.contains(" WARN ") && line.contains("never sent back"))
            .count()
    };
    // A browser that drops every Secure cookie: each request logs in afresh.
    for request in 1..=25 {
        let session = sessions.begin(Vec::<Vec<u8>>::new(), "/");
        session.set(request).unwrap();
        assert!(!session.finish(false).is_empty());
        assert_eq!(
            warnings(),
            usize::from(request >= 10),
            "after {request} responses"
        );
    }
    let said = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    assert!(
        said.contains("insecure_http(true)") && said.contains("localhost"),
        "{said}"
    );
}
