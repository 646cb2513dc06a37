//! The actix-web servers of `http_server`: bare, behind this crate's `SessionMiddleware`, and
//! behind actix-session's cookie store.

use std::error::Error;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};

use actix_web::cookie::Key as CookieKey;
use actix_web::{App, HttpResponse, HttpServer, web};
use sealed_session::actix::SessionMiddleware;
use sealed_session::{Session, SessionLayer};

use super::{HELLO, Route, Visits};

/// Binds the port (`println!`s the address, as the other servers do) for one worker.
fn listener(port: u16) -> Result<std::net::TcpListener, Box<dyn Error>> {
    let listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    Ok(listener)
}

async fn hello() -> &'static str {
    HELLO
}

async fn visit<T: Visits>(session: Session<T>) -> HttpResponse {
    match session.update(T::bump) {
        Ok(visits) => HttpResponse::Ok().body(format!("visits: {visits}\n")),
        Err(error) => HttpResponse::InternalServerError().body(error.to_string()),
    }
}

/// `route` on actix-web, behind `SessionMiddleware` (from the same engine as `layer`) when
/// there is one.
pub(super) fn serve<T: Visits>(
    route: Route,
    layer: Option<SessionLayer<T>>,
    port: u16,
) -> Result<(), Box<dyn Error>> {
    let listener = listener(port)?;
    let sessions = layer.map(|layer| SessionMiddleware::<T>::from(layer.sessions().clone()));
    actix_web::rt::System::new().block_on(async move {
        let server = match (route, sessions) {
            (Route::Session, Some(sessions)) => HttpServer::new(move || {
                App::new()
                    .wrap(sessions.clone())
                    .route("/", web::get().to(visit::<T>))
                    .route("/start", web::get().to(visit::<T>))
            })
            .workers(1)
            .listen(listener)?
            .run(),
            (Route::Untouched, Some(sessions)) => HttpServer::new(move || {
                App::new()
                    .wrap(sessions.clone())
                    .route("/", web::get().to(hello))
                    .route("/start", web::get().to(visit::<T>))
            })
            .workers(1)
            .listen(listener)?
            .run(),
            _ => HttpServer::new(|| {
                App::new()
                    .route("/", web::get().to(hello))
                    .route("/start", web::get().to(hello))
            })
            .workers(1)
            .listen(listener)?
            .run(),
        };
        server.await?;
        Ok(())
    })
}

/// actix-session's read-modify-reseal: the same counter and user as [`super::Counter`], in its
/// string map.
async fn store_visit(session: actix_session::Session) -> HttpResponse {
    let visits = session.get::<u64>("visits").ok().flatten().unwrap_or(0) + 1;
    if session.get::<String>("user").ok().flatten().is_none()
        && session.insert("user", "alice@example.com").is_err()
    {
        return HttpResponse::InternalServerError().finish();
    }
    match session.insert("visits", visits) {
        Ok(()) => HttpResponse::Ok().body(format!("visits: {visits}\n")),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// actix-session 0.11's cookie store with its defaults (an encrypted cookie named `id`), a
/// fresh key at start-up.
pub(super) fn serve_store(port: u16) -> Result<(), Box<dyn Error>> {
    use actix_session::SessionMiddleware as StoreMiddleware;
    use actix_session::storage::CookieSessionStore;
    let listener = listener(port)?;
    let key = CookieKey::generate();
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new()
                .wrap(StoreMiddleware::new(
                    CookieSessionStore::default(),
                    key.clone(),
                ))
                .route("/", web::get().to(store_visit))
                .route("/start", web::get().to(store_visit))
        })
        .workers(1)
        .listen(listener)?
        .run()
        .await?;
        Ok(())
    })
}
