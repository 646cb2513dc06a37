//! The HTTP scenario suite (SECURITY-TESTS E1-E11, B5, C1, C2, the express-session rows) on an
//! axum 0.8 app behind `axum::serve`, with `Session<T>` as the extractor, over both
//! algorithms; plus the extractor's loud failure when the layer is missing.

use crate::harness;

use axum::Router;
use axum::routing::get;
use harness::{Adapter, Client, Env, Instance, TestSession, serve_axum};
use sealed_session::{Algorithm, Session, SessionConfig, SessionError, SessionLayer};

crate::harness::instances!(crate::harness::Adapter::Axum);

async fn count(session: Session<TestSession>) -> String {
    match session.update(|s| {
        s.visits += 1;
        s.visits
    }) {
        Ok(visits) => format!("visits: {visits}"),
        Err(error) => error.to_string(),
    }
}

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Other {
    n: u8,
}

/// A route that extracts `Session<T>` without a `SessionLayer<T>` is a 500 whose body names
/// the missing layer, never a silent 200 with a throwaway session.
#[tokio::test]
async fn missing_layer_is_a_500_naming_it() {
    let server = serve_axum(Router::new().route("/", get(count))).await;
    let mut client = Client::new(server.addr);
    let resp = client.get("/").await;
    assert_eq!(resp.status, 500, "{resp:?}");
    assert!(resp.body.contains("missing SessionLayer<"), "{}", resp.body);
    assert!(resp.body.contains("TestSession"), "{}", resp.body);
    assert!(resp.set_cookie().is_none());

    // A layer for another session type does not count.
    let env = Env::new(Instance::new(Adapter::Axum, Algorithm::Aes256Gcm)).await;
    let wrong = Router::new()
        .route("/", get(count))
        .layer(SessionLayer::<Other>::new(
            env.ring.clone(),
            SessionConfig::default(),
        ));
    let server = serve_axum(wrong).await;
    let resp = Client::new(server.addr).get("/").await;
    assert_eq!(resp.status, 500);
    assert!(resp.body.contains("TestSession"), "{}", resp.body);

    // Control: with the layer, the same handler counts.
    let right = Router::new()
        .route("/", get(count))
        .layer(SessionLayer::<TestSession>::new(
            env.ring.clone(),
            SessionConfig::default(),
        ));
    let server = serve_axum(right).await;
    let mut client = Client::new(server.addr);
    assert_eq!(client.get("/").await.body, "visits: 1");
    assert_eq!(client.get("/").await.body, "visits: 2");
}

/// Two layers with different cookie names and session types compose on one router.
#[tokio::test]
async fn two_layers_compose() {
    let env = Env::new(Instance::new(Adapter::Axum, Algorithm::Aes256Gcm)).await;
    let other_config = SessionConfig::builder()
        .cookie_name("__Host-other")
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/",
            get(|a: Session<TestSession>, b: Session<Other>| async move {
                let visits = a.update(|s| {
                    s.visits += 1;
                    s.visits
                });
                let n = b.update(|o| {
                    o.n += 2;
                    o.n
                });
                format!("{} {}", visits.unwrap(), n.unwrap())
            }),
        )
        .layer(SessionLayer::<TestSession>::new(
            env.ring.clone(),
            SessionConfig::default(),
        ))
        .layer(SessionLayer::<Other>::new(env.ring.clone(), other_config));
    let server = serve_axum(app).await;
    let mut client = Client::new(server.addr);
    let resp = client.get("/").await;
    assert_eq!(resp.body, "1 2");
    assert_eq!(resp.set_cookies().len(), 2);
    assert_eq!(client.get("/").await.body, "2 4");
    assert!(client.cookie("__Host-session").is_some());
    assert!(client.cookie("__Host-other").is_some());
}

/// `SessionError` is a response: `TooLarge` a 413 naming the limit, `Conflict` a 400, the rest
/// a 500 with a generic body and one `error` event. Routed through `?` in real handlers.
#[tokio::test]
async fn session_errors_are_responses() {
    let logs = harness::Logs::capture();
    let env = Env::new(Instance::new(Adapter::Axum, Algorithm::Aes256Gcm)).await;
    async fn grow(session: Session<TestSession>) -> Result<String, SessionError> {
        let len = session.update(|s| {
            s.blob.push_str(&"x".repeat(5000));
            s.blob.len()
        })?;
        Ok(format!("len: {len}"))
    }
    async fn after_logout(session: Session<TestSession>) -> Result<&'static str, SessionError> {
        session.destroy()?;
        session.update(|s| s.visits += 1)?;
        Ok("unreachable")
    }
    async fn visit(session: Session<TestSession>) -> Result<String, SessionError> {
        let visits = session.update(|s| {
            s.visits += 1;
            s.visits
        })?;
        Ok(format!("visits: {visits}"))
    }
    let app = Router::new()
        .route("/grow", get(grow))
        .route("/after-logout", get(after_logout))
        .route("/", get(visit))
        .layer(SessionLayer::<TestSession>::new(
            env.ring.clone(),
            SessionConfig::default(),
        ));
    let server = serve_axum(app).await;
    let mut client = Client::new(server.addr);
    let resp = client.get("/grow").await;
    assert_eq!(resp.status, 413, "{resp:?}");
    assert!(
        resp.body.contains("over the 4096-byte cookie limit"),
        "{}",
        resp.body
    );
    assert!(resp.set_cookie().is_none());
    logs.take();
    let resp = client.get("/after-logout").await;
    assert_eq!(resp.status, 500);
    assert_eq!(resp.body, "internal server error");
    let captured = logs.take();
    assert!(
        captured.contains("ERROR") && captured.contains("destroyed"),
        "{captured}"
    );
    // Two authentic cookies of the name: the request's fault, a 400.
    let one = Client::new(server.addr)
        .get("/")
        .await
        .set_cookie()
        .unwrap();
    let two = Client::new(server.addr)
        .get("/")
        .await
        .set_cookie()
        .unwrap();
    let pairs = format!(
        "{}; {}",
        one.split(';').next().unwrap(),
        two.split(';').next().unwrap()
    );
    let resp = client.get_with("/", &[&pairs]).await;
    assert_eq!(resp.status, 400, "{resp:?}");
}
