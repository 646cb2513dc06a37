//! The HTTP scenario suite (SECURITY-TESTS E1-E11, B5, C1, C2, the express-session rows) on a
//! plain hyper 1 server whose `service_fn` handler is wrapped by `SessionLayer::layer`, over
//! both algorithms; plus HTTP/2 cookie crumbs and the configuration errors of E2.

use crate::harness;

use harness::{Adapter, Client, Env, Instance, T0};
use sealed_session::Algorithm;

crate::harness::instances!(crate::harness::Adapter::Hyper);

/// HTTP/2 (h2c, prior knowledge): cookie crumbs arrive as separate `Cookie` fields (RFC 9113
/// §8.2.3) and the session is found among them.
async fn http2_cookie_crumbs(algorithm: Algorithm) {
    let env = Env::new(Instance::new(Adapter::Hyper, algorithm)).await;
    let mut client = Client::http2(env.server.addr);
    let resp = client.get("/").await;
    assert_eq!(resp.version, http::Version::HTTP_2);
    assert_eq!(resp.body, "visits: 1");
    let value = client.cookie(env.name()).unwrap();
    let session = format!("{}={value}", env.name());

    let crumbs = ["a=1", "b=2", session.as_str(), "c=3"];
    let resp = client.get_with("/fields", &crumbs).await;
    assert_eq!(resp.version, http::Version::HTTP_2);
    assert_eq!(resp.body, "fields: 4", "crumbs stay separate fields");
    for position in 0..4 {
        let mut crumbs = vec!["a=1", "b=2", "c=3"];
        crumbs.insert(position.min(3), &session);
        let resp = client.get_with("/peek", &crumbs).await;
        assert_eq!(resp.version, http::Version::HTTP_2);
        assert_eq!(resp.body, "visits: 1", "{crumbs:?}");
        assert!(resp.set_cookie().is_none());
    }
    // Counting on through crumbs, and the jar over the same h2 connection.
    let resp = client.get_with("/", &["x=y", &session]).await;
    assert_eq!(resp.body, "visits: 2");
    assert_eq!(client.get("/").await.body, "visits: 3");
    // The same cookie over HTTP/1.1 continues the session.
    let mut h1 = Client::new(env.server.addr);
    h1.set_cookie(env.name(), &client.cookie(env.name()).unwrap());
    let resp = h1.get("/peek").await;
    assert_eq!(resp.version, http::Version::HTTP_11);
    assert_eq!(resp.body, "visits: 3");
    assert_eq!(env.now(), T0);
}

#[tokio::test]
async fn http2_cookie_crumbs_aes_256_gcm() {
    http2_cookie_crumbs(Algorithm::Aes256Gcm).await;
}

#[tokio::test]
async fn http2_cookie_crumbs_xchacha20_poly1305() {
    http2_cookie_crumbs(Algorithm::XChaCha20Poly1305).await;
}

/// The handler in the test below is the README's "Quick start: hyper 1" up to `main`, line
/// for line: if the README changes, this test fails until the copy is updated.
#[test]
fn the_quick_start_below_is_the_readme_one_verbatim() {
    let recipe = harness::readme_block(
        "## Quick start: hyper 1",
        "```rust,no_run\n",
        "#[tokio::main]",
    );
    assert!(recipe.len() > 20, "{recipe:?}");
    harness::assert_holds_verbatim("tests/http/hyper.rs", include_str!("hyper.rs"), &recipe);
}

/// The README's hyper quick start over a real server: the handler takes the session as an
/// owned handle, then consumes the request to read the form, and logs the user in with data
/// built afresh under a new id (what its comment promises); a `GET` reads who is logged in.
#[cfg(feature = "test-util")]
#[tokio::test]
#[rustfmt::skip]
async fn readme_quick_start_hyper_logs_in_under_a_new_id() {
    // ---- README.md, "Quick start: hyper 1", verbatim up to `main` ----
use std::convert::Infallible;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use sealed_session::{KeyRing, Session, SessionConfig, SessionLayer};
use tower_layer::Layer;

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Login {
    user: Option<String>,
}

async fn handler(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(session) = Session::<Login>::from_request(&req) else {
        return Ok(Response::new(Full::from("no SessionLayer")));
    };
    let body = if req.method() == Method::POST && req.uri().path() == "/login" {
        // The request is ours to consume: read the form `user=NAME`.
        let form = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let user = String::from_utf8_lossy(&form).strip_prefix("user=").unwrap_or("").to_owned();
        // The logged-in session starts fresh (see "Logins"), under a new id: a cookie from
        // before the login never carries the logged-in identity.
        match session.set(Login { user: Some(user.clone()) }).and_then(|()| session.cycle_id()) {
            Ok(()) => format!("hello {user}"),
            Err(error) => error.to_string(),
        }
    } else {
        format!("user: {:?}", session.get().user)
    };
    Ok(Response::new(Full::from(body)))
}
    // ---- end of the README's code ----

    let ring = KeyRing::new(crate::common::key(Algorithm::Aes256Gcm, 1));
    let sessions = SessionLayer::<Login>::new(ring, SessionConfig::default());
    let kit = sealed_session::testing::TestSessions::new(sessions.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = sessions.layer(service_fn(handler));
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    let mut client = Client::new(addr);
    assert_eq!(client.get("/").await.body, "user: None");

    let resp = client.post("/login", "user=ada").await;
    assert_eq!(resp.body, "hello ada");
    let ada = kit.assert_session(&resp.headers);
    assert_eq!(ada.data.user.as_deref(), Some("ada"));
    assert_eq!(client.get("/").await.body, "user: Some(\"ada\")");

    // A second login, from the session of the first: a new id, the new user only.
    let resp = client.post("/login", "user=bob").await;
    assert_eq!(resp.body, "hello bob");
    let bob = kit.assert_session(&resp.headers);
    assert_eq!(bob.data.user.as_deref(), Some("bob"));
    assert_ne!(bob.meta.id, ada.meta.id, "a login keeps the id of the session before it");
    assert_eq!(client.get("/").await.body, "user: Some(\"bob\")");

    // Another path: read, not a login.
    assert_eq!(client.post("/elsewhere", "user=eve").await.body, "user: Some(\"bob\")");
}

/// E2: every contradictory cookie configuration is refused when built, with a message that
/// says how to fix it; the same configuration without the contradiction builds.
mod config_errors {
    use sealed_session::{ConfigError, SameSite, SessionConfig};

    use crate::common::MAX_ATTRIBUTE_LEN;

    fn refused(builder: sealed_session::SessionConfigBuilder, hint: &str) {
        let error = builder.build().unwrap_err();
        assert!(matches!(error, ConfigError::Attribute { .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains(hint),
            "{message:?} should mention {hint:?}"
        );
        assert!(!message.ends_with('.'), "{message:?}");
    }

    #[test]
    fn same_site_none_requires_secure() {
        refused(
            SessionConfig::builder()
                .cookie_name("sid")
                .same_site(SameSite::None)
                .secure(false),
            "SameSite=None requires Secure",
        );
        SessionConfig::builder()
            .cookie_name("sid")
            .same_site(SameSite::None)
            .build()
            .unwrap();
    }

    #[test]
    fn host_prefix_refuses_domain() {
        refused(SessionConfig::builder().domain("example.com"), "Domain");
        for name in ["__Host-session", "__host-x", "__HOST-x", "__hOsT-x"] {
            refused(
                SessionConfig::builder()
                    .cookie_name(name)
                    .domain("example.com"),
                "__Host-",
            );
        }
        SessionConfig::builder()
            .cookie_name("session")
            .domain("example.com")
            .build()
            .unwrap();
    }

    #[test]
    fn host_prefix_requires_root_path() {
        for path in ["/app", "/app/", "//"] {
            refused(SessionConfig::builder().path(path), "Path=/");
            refused(
                SessionConfig::builder().cookie_name("__HOST-s").path(path),
                "Path=/",
            );
        }
        SessionConfig::builder().path("/").build().unwrap();
        SessionConfig::builder()
            .cookie_name("session")
            .path("/app")
            .build()
            .unwrap();
    }

    #[test]
    fn prefixes_in_any_case_require_secure() {
        for name in [
            "__Host-session",
            "__host-session",
            "__HOST-SESSION",
            "__Secure-session",
            "__secure-session",
            "__SECURE-session",
            "__sEcUrE-s",
        ] {
            refused(
                SessionConfig::builder().cookie_name(name).secure(false),
                "Secure",
            );
            SessionConfig::builder().cookie_name(name).build().unwrap();
        }
        // Not a prefix: no such requirement.
        for name in ["_Host-session", "Host-session", "__Hostsession", "__Secure"] {
            SessionConfig::builder()
                .cookie_name(name)
                .secure(false)
                .build()
                .unwrap();
        }
    }

    #[test]
    fn partitioned_requires_secure() {
        refused(
            SessionConfig::builder()
                .cookie_name("sid")
                .partitioned(true)
                .secure(false),
            "Partitioned requires Secure",
        );
        SessionConfig::builder()
            .cookie_name("sid")
            .partitioned(true)
            .build()
            .unwrap();
    }

    #[test]
    fn attribute_values_at_most_1024_bytes() {
        assert_eq!(MAX_ATTRIBUTE_LEN, 1024);
        let long_path = format!("/{}", "a".repeat(MAX_ATTRIBUTE_LEN));
        refused(
            SessionConfig::builder().cookie_name("sid").path(long_path),
            "1024",
        );
        let path = format!("/{}", "a".repeat(MAX_ATTRIBUTE_LEN - 1));
        SessionConfig::builder()
            .cookie_name("sid")
            .path(path)
            .build()
            .unwrap();

        let long_domain = format!("{}.example", "d".repeat(MAX_ATTRIBUTE_LEN - 7));
        assert_eq!(long_domain.len(), MAX_ATTRIBUTE_LEN + 1);
        refused(
            SessionConfig::builder()
                .cookie_name("sid")
                .domain(long_domain),
            "1024",
        );
        let domain = format!("{}.example", "d".repeat(MAX_ATTRIBUTE_LEN - 8));
        SessionConfig::builder()
            .cookie_name("sid")
            .domain(domain)
            .build()
            .unwrap();
    }

    #[test]
    fn attribute_values_without_separators() {
        refused(
            SessionConfig::builder().cookie_name("sid").path("/a;b"),
            "';'",
        );
        refused(
            SessionConfig::builder()
                .cookie_name("sid")
                .domain("a.example; Secure"),
            "';'",
        );
        refused(
            SessionConfig::builder().cookie_name("sid").domain(""),
            "non-empty",
        );
    }

    #[test]
    fn cookie_names_are_tokens() {
        for name in ["", "a b", "a=b", "a;b", "s\u{e9}ssion", "a\tb", "(x)"] {
            let error = SessionConfig::builder()
                .cookie_name(name)
                .build()
                .unwrap_err();
            assert_eq!(error, ConfigError::CookieName, "{name:?}");
        }
    }

    #[test]
    fn size_limit_must_hold_an_empty_session() {
        let error = SessionConfig::builder()
            .max_cookie_size(64)
            .build()
            .unwrap_err();
        let ConfigError::CookieSize { min, limit, .. } = error else {
            panic!("{error:?}");
        };
        assert_eq!(limit, 64);
        SessionConfig::builder()
            .max_cookie_size(min)
            .build()
            .unwrap();
        assert!(
            SessionConfig::builder()
                .max_cookie_size(min - 1)
                .build()
                .is_err()
        );
    }
}

/// F6 without a response: when the handler fails, or the response future is dropped before it
/// finishes (a client that went away), a change made later through a clone of the session is
/// an error, not an `Ok` that nothing saves.
#[tokio::test]
async fn changes_after_a_failed_or_dropped_response_are_errors() {
    use std::future::{Future as _, poll_fn};
    use std::sync::{Arc, Mutex};
    use std::task::Poll;

    use bytes::Bytes;
    use http::{Request, Response};
    use http_body_util::Empty;
    use hyper::service::{Service as _, service_fn};
    use sealed_session::{Key, KeyRing, Session, SessionConfig, SessionError, SessionLayer};
    use tower_layer::Layer as _;

    type Kept = Arc<Mutex<Option<Session<u64>>>>;
    let layer = SessionLayer::<u64>::new(
        KeyRing::new(Key::generate(Algorithm::Aes256Gcm)),
        SessionConfig::default(),
    );
    // A handler that changes the session, keeps a clone, then fails or never finishes.
    let handler = |kept: &Kept, finish: bool| {
        let kept = Arc::clone(kept);
        service_fn(move |req: Request<Empty<Bytes>>| {
            let kept = Arc::clone(&kept);
            async move {
                let session = Session::<u64>::from_request(&req).unwrap();
                session.set(1).unwrap();
                *kept.lock().unwrap() = Some(session);
                if !finish {
                    std::future::pending::<()>().await;
                }
                Err::<Response<Empty<Bytes>>, _>(std::io::Error::other("handler failed"))
            }
        })
    };

    let kept = Kept::default();
    let failing = layer.layer(handler(&kept, true));
    assert!(failing.call(Request::new(Empty::new())).await.is_err());
    let session = kept.lock().unwrap().take().unwrap();
    assert_eq!(session.set(2), Err(SessionError::ResponseSent));
    assert_eq!(*session.get(), 1);

    let hanging = layer.layer(handler(&kept, false));
    let mut response = Box::pin(hanging.call(Request::new(Empty::new())));
    poll_fn(|cx| {
        assert!(response.as_mut().poll(cx).is_pending());
        Poll::Ready(())
    })
    .await;
    let session = kept.lock().unwrap().take().unwrap();
    // Still in flight: changes work.
    assert_eq!(session.set(3), Ok(()));
    drop(response);
    assert_eq!(session.set(4), Err(SessionError::ResponseSent));
    assert_eq!(session.update(|n| *n += 1), Err(SessionError::ResponseSent));
}
