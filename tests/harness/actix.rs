//! The actix-web 4 instance of the harness: the same routes as the hyper and axum servers
//! (one catch-all handler over [`super::route`]), behind `HttpServer` with
//! `sealed_session::actix::SessionMiddleware` around it.
//!
//! actix-web serves from worker threads of its own (each an actix runtime), so a server runs on
//! a thread of its own with one worker; dropping the [`Server`] stops it and joins the thread.
//! The scenarios capture logs on the test's thread ([`super::Logs`]): the client names that
//! thread's subscriber for the server's port before each request ([`route_logs`]), and an
//! outermost middleware runs the request under it, so the adapter's events land in the test's
//! capture as the other adapters' do.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, Service as _, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpMessage as _, HttpRequest, HttpResponse, HttpServer, web};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use sealed_session::Session;
use sealed_session::actix::SessionMiddleware;
use tracing::instrument::WithSubscriber as _;

use super::{
    Adapter, LossyFlatten, LossyLayers, LossySkip, LossyUntagged, Reply, S, Server, TestSession,
    lossy_cases, route,
};

/// The subscriber each server port's requests run under, as the client last named it.
static LOG_ROUTES: Mutex<BTreeMap<u16, tracing::Dispatch>> = Mutex::new(BTreeMap::new());

/// Runs the next requests to `addr` (if an actix server answers there) under this thread's
/// current subscriber.
pub(crate) fn route_logs(addr: SocketAddr) {
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    LOG_ROUTES.lock().unwrap().insert(addr.port(), dispatch);
}

fn dispatch_for(port: u16) -> tracing::Dispatch {
    LOG_ROUTES
        .lock()
        .unwrap()
        .get(&port)
        .cloned()
        .unwrap_or_default()
}

/// Stops the server and joins its thread when dropped.
struct Stop {
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Stop {
    fn drop(&mut self) {
        // The command is sent at once; the future only waits for its completion.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts an actix-web server on `127.0.0.1:0` with the test session middleware (from the
/// same engine as `sessions`) and the round-trip cases' middlewares.
pub(crate) fn serve(sessions: super::SessionLayer<TestSession>, lossy: LossyLayers) -> Server {
    serve_middleware(SessionMiddleware::from(sessions.sessions().clone()), &lossy)
}

/// Starts an actix-web server on `127.0.0.1:0` around `sessions`.
pub(crate) fn serve_middleware(
    sessions: SessionMiddleware<TestSession>,
    lossy: &LossyLayers,
) -> Server {
    let skip = SessionMiddleware::<LossySkip>::from(lossy.skip.sessions().clone());
    let untagged = SessionMiddleware::<LossyUntagged>::from(lossy.untagged.sessions().clone());
    let flatten = SessionMiddleware::<LossyFlatten>::from(lossy.flatten.sessions().clone());
    serve_app(move || {
        App::new()
            .default_service(web::to(handler))
            .wrap(flatten.clone())
            .wrap(untagged.clone())
            .wrap(skip.clone())
            .wrap(sessions.clone())
    })
}

/// Starts an actix-web server on `127.0.0.1:0` for the apps `factory` builds (one worker), with
/// the log routing middleware outermost.
pub(crate) fn serve_app<F, A, B>(factory: F) -> Server
where
    F: Fn() -> App<A> + Send + Clone + 'static,
    A: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                factory().wrap_fn(|req, service| {
                    let dispatch = dispatch_for(req.app_config().local_addr().port());
                    let call = tracing::dispatcher::with_default(&dispatch, || service.call(req));
                    call.with_subscriber(dispatch)
                })
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(0)
            .listen(listener)
            .unwrap()
            .run();
            sender.send(server.handle()).unwrap();
            let _ = server.await;
        });
    });
    let handle = receiver.recv().unwrap();
    let task = tokio::spawn(async move {
        let _stop = Stop {
            handle,
            thread: Some(thread),
        };
        std::future::pending::<()>().await;
    });
    Server::new(addr, Adapter::Actix, task)
}

/// Every route: the session from the `Session<TestSession>` extractor's extension, the routes
/// of [`route`], and the round-trip cases.
async fn handler(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let reply = if let Some(case) = req.path().strip_prefix("/lossy/") {
        let extensions = req.extensions();
        lossy_cases(
            extensions.get::<Session<LossySkip>>(),
            extensions.get::<Session<LossyUntagged>>(),
            extensions.get::<Session<LossyFlatten>>(),
            case,
        )
    } else {
        let session = req.extensions().get::<S>().cloned();
        match session {
            Some(session) => {
                let method = Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
                let uri: Uri = req.uri().to_string().parse().unwrap();
                let mut headers = HeaderMap::new();
                for (name, value) in req.headers() {
                    headers.append(
                        HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
                        HeaderValue::from_bytes(value.as_bytes()).unwrap(),
                    );
                }
                route(&method, &uri, &headers, &body, &session)
            }
            None => Reply::with_status(StatusCode::INTERNAL_SERVER_ERROR, "no SessionMiddleware"),
        }
    };
    into_actix(reply)
}

/// The reply as an actix response (the content type axum gives a `String`).
pub(crate) fn into_actix(reply: Reply) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(reply.status.as_u16()).unwrap();
    let mut response = HttpResponse::build(status);
    response.insert_header(("content-type", "text/plain; charset=utf-8"));
    if let Some(value) = reply.cache_control {
        response.insert_header(("cache-control", value));
    }
    for line in reply.set_cookies {
        response.append_header(("set-cookie", line));
    }
    if let Some(location) = reply.location {
        response.insert_header(("location", location));
    }
    response.body(reply.body)
}
