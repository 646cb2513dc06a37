//! The server half of `benches/http.sh`: one HTTP/1.1 server on 127.0.0.1, on a
//! current-thread tokio runtime (the script pins it to one core), in one of eight modes.
//!
//! ```text
//! http_server MODE [ALGORITHM] PORT
//!
//!   bare-hyper                    hyper 1 `service_fn` answering "hello, world"
//!   hyper-session   aes|xchacha   the same stack behind SessionLayer; every request opens
//!                                 the session, bumps a counter and re-seals it
//!   hyper-session   aes-chunked   as hyper-session aes, with an 8 KiB string of random
//!                                 characters more in the session, split across three cookies
//!                                 (`max_chunks(3)`)
//!   hyper-session   aes-compressed
//!                                 as hyper-session aes, with an 8 KiB repetitive string more
//!                                 in the session, compressed into one cookie
//!                                 (`compression(true)`)
//!   hyper-untouched aes|xchacha   behind SessionLayer, a handler that never touches the session
//!   handle-hyper                  bare-hyper behind a layer that only hands the handler a
//!                                 shared handle through the request's extensions (see
//!                                 handle.rs): the floor of any Extensions-based layer on a
//!                                 route that never uses it
//!   hyper-inline                  no layer: the handler does the same read-modify-reseal
//!                                 inline (postcard + a cached AES-256-GCM + base64url + a
//!                                 user-space ChaCha20 nonce): the limit any layer can reach
//!   bare-axum                     axum Router with a handler answering "hello, world"
//!   axum-session    ALGORITHM     as hyper-session (any of its algorithms), with the
//!                                 `Session<T>` extractor
//!   axum-untouched  aes|xchacha   as hyper-untouched, through axum
//!   handle-axum                   as handle-hyper, through axum
//!   axum-inline                   as hyper-inline, in an axum handler
//!   hyper-codec     aes           no layer: the handler does the read-modify-reseal through
//!                                 the public `Codec` and writes the layer's line (see
//!                                 codec.rs): the crate's format without its engine
//!   axum-codec      aes           as hyper-codec, in an axum handler
//!   bare-actix                    actix-web `HttpServer` (one worker) answering "hello, world"
//!   actix-session   aes|xchacha   as hyper-session, behind `sealed_session::actix::
//!                                 SessionMiddleware` with the `Session<T>` extractor
//!   actix-untouched aes|xchacha   as hyper-untouched, through actix-web
//!   actix-session-store private   actix-session 0.11's `CookieSessionStore` (encrypted
//!                                 cookie, its default), the same counter and user in its
//!                                 string map: read, bump, insert (a re-seal every request)
//! ```
//!
//! actix-web serves from a worker thread beside its main and accept threads: benches/http.sh
//! counts the CPU time of every thread of the server.
//!
//! In every mode `GET /start` touches the session (where there is one) so that the script can
//! take a valid cookie from its `Set-Cookie`; `GET /` is the measured route. Each server makes
//! a fresh key at start-up. Without a mode (as under `cargo bench`) it prints the usage and
//! exits: the measurement is `benches/http.sh`.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::indexing_slicing,
    reason = "a benchmark server: it reports on stdout and indexes fixed-size headers"
)]

use std::convert::Infallible;
use std::error::Error;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sealed_session::{Algorithm, Key, KeyRing, Session, SessionConfig, SessionData, SessionLayer};

mod actix;
mod codec;
mod handle;
mod inline;
use serde::{Deserialize, Serialize};
use tower_layer::Layer as _;

/// The session data: a counter and a short string, like a typical logged-in session.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Counter {
    visits: u64,
    user: String,
}

/// Session data the measured route changes: `bump` counts a visit (and fills the rest on the
/// first one) and returns the count.
trait Visits: SessionData + Clone {
    fn bump(&mut self) -> u64;
}

impl Visits for Counter {
    fn bump(&mut self) -> u64 {
        bump(self)
    }
}

/// A [`Counter`] with 8 KiB more: random characters (the chunked session) or a repeated short
/// string (the compressed one). A `String`, not the `Vec<u8>` of benches/benches/chunks.rs:
/// serde moves a `Vec<u8>` byte by byte, which would be most of the cost, and the crate's own.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Bulk<const REPETITIVE: bool> {
    counter: Counter,
    data: String,
}

const BULK_LEN: usize = 8 * 1024;

impl<const REPETITIVE: bool> Visits for Bulk<REPETITIVE> {
    fn bump(&mut self) -> u64 {
        if self.data.is_empty() {
            self.data = if REPETITIVE {
                "item-0042,".chars().cycle().take(BULK_LEN).collect()
            } else {
                // xorshift64* over 64 characters: fixed, and 6 bits of entropy per byte.
                const ALPHABET: &[u8; 64] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                let mut state = 0x9E37_79B9_7F4A_7C15_u64;
                (0..BULK_LEN)
                    .map(|_| {
                        state ^= state >> 12;
                        state ^= state << 25;
                        state ^= state >> 27;
                        let index = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 58;
                        char::from(ALPHABET[usize::try_from(index).unwrap_or(0)])
                    })
                    .collect()
            };
        }
        bump(&mut self.counter)
    }
}

/// What the session holds, and the configuration that goes with it.
#[derive(Clone, Copy)]
enum Shape {
    /// [`Counter`], the default configuration.
    Plain,
    /// [`Bulk`] of random characters, `max_chunks(3)`.
    Chunked,
    /// [`Bulk`] of repetitive data, `compression(true)`.
    Compressed,
}

const HELLO: &str = "hello, world\n";

type Body = Full<Bytes>;

const USAGE: &str = "usage: http_server MODE [ALG] PORT
modes: bare-hyper, hyper-session ALG, hyper-untouched ALG, handle-hyper, hyper-inline,
       bare-axum, axum-session ALG, axum-untouched ALG, handle-axum, axum-inline,
       hyper-codec aes, axum-codec aes,
       bare-actix, actix-session ALG, actix-untouched ALG, actix-session-store private
ALG: aes, xchacha, aes-chunked (8 KiB more in three cookies),
     aes-compressed (8 KiB more, compressed)
(run benches/http.sh for the measurement)";

#[derive(Clone, Copy)]
enum Stack {
    Hyper,
    Axum,
    Actix,
}

#[derive(Clone, Copy)]
enum Route {
    /// No session layer at all.
    Bare,
    /// `GET /` opens, updates and re-seals the session.
    Session,
    /// `GET /` never touches the session; the layer still runs.
    Untouched,
    /// No layer; `GET /` does the session work inline.
    Inline,
    /// [`handle::HandleLayer`]; `GET /` never touches the handle.
    Handle,
    /// No layer; `GET /` does the session work through the public `Codec`.
    Codec,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (stack, route, algorithm, port) = match args.as_slice() {
        ["bare-hyper", port] => (Stack::Hyper, Route::Bare, None, port),
        ["bare-axum", port] => (Stack::Axum, Route::Bare, None, port),
        ["handle-hyper", port] => (Stack::Hyper, Route::Handle, None, port),
        ["handle-axum", port] => (Stack::Axum, Route::Handle, None, port),
        ["hyper-inline", port] => (Stack::Hyper, Route::Inline, None, port),
        ["axum-inline", port] => (Stack::Axum, Route::Inline, None, port),
        ["bare-actix", port] => (Stack::Actix, Route::Bare, None, port),
        ["actix-session-store", "private", port] => return actix::serve_store(port.parse()?),
        [mode, algorithm, port] => {
            let (stack, route) = match *mode {
                "hyper-session" => (Stack::Hyper, Route::Session),
                "hyper-untouched" => (Stack::Hyper, Route::Untouched),
                "axum-session" => (Stack::Axum, Route::Session),
                "axum-untouched" => (Stack::Axum, Route::Untouched),
                "actix-session" => (Stack::Actix, Route::Session),
                "actix-untouched" => (Stack::Actix, Route::Untouched),
                "hyper-codec" => (Stack::Hyper, Route::Codec),
                "axum-codec" => (Stack::Axum, Route::Codec),
                _ => return Err(format!("unknown mode {mode:?}\n{USAGE}").into()),
            };
            let algorithm = match *algorithm {
                "aes" => (Algorithm::Aes256Gcm, Shape::Plain),
                "xchacha" => (Algorithm::XChaCha20Poly1305, Shape::Plain),
                "aes-chunked" => (Algorithm::Aes256Gcm, Shape::Chunked),
                "aes-compressed" => (Algorithm::Aes256Gcm, Shape::Compressed),
                _ => return Err(format!("unknown algorithm {algorithm:?}\n{USAGE}").into()),
            };
            (stack, route, Some(algorithm), port)
        }
        // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing.
        _ => {
            println!("{USAGE}");
            return Ok(());
        }
    };
    let port: u16 = port.parse()?;
    let Some((algorithm, shape)) = algorithm else {
        return serve::<Counter>(stack, route, None, port);
    };
    // A fixed ring from a key string made at start-up, as a deployment would load it.
    let key_string = Key::try_generate(algorithm)?.to_string();
    let ring: KeyRing = key_string.parse()?;
    if let (Route::Codec, Shape::Plain) = (route, shape) {
        codec::install(ring)?;
        return serve::<Counter>(stack, route, None, port);
    }
    match shape {
        Shape::Plain => serve(
            stack,
            route,
            Some(SessionLayer::<Counter>::new(ring, SessionConfig::default())),
            port,
        ),
        Shape::Chunked => {
            let config = SessionConfig::builder()
                .max_chunks(3)
                .cookie_header_budget(12 * 1024)
                .build()?;
            serve(
                stack,
                route,
                Some(SessionLayer::<Bulk<false>>::new(ring, config)),
                port,
            )
        }
        Shape::Compressed => {
            let config = SessionConfig::builder().compression(true).build()?;
            serve(
                stack,
                route,
                Some(SessionLayer::<Bulk<true>>::new(ring, config)),
                port,
            )
        }
    }
}

fn serve<T: Visits>(
    stack: Stack,
    route: Route,
    layer: Option<SessionLayer<T>>,
    port: u16,
) -> Result<(), Box<dyn Error>> {
    if let Stack::Actix = stack {
        return actix::serve(route, layer, port);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        match stack {
            Stack::Hyper => serve_hyper(listener, route, layer).await,
            Stack::Axum => serve_axum(listener, route, layer).await,
            Stack::Actix => Err("actix is served by actix::serve".into()),
        }
    })
}

// ---- plain hyper 1 -------------------------------------------------------------------------

async fn hello(_req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        HELLO.as_bytes(),
    ))))
}

async fn visit<T: Visits>(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let Some(session) = req.extensions().get::<Session<T>>() else {
        return Ok(Response::new(Full::new(Bytes::from_static(
            HELLO.as_bytes(),
        ))));
    };
    let (status, body) = match session.update(T::bump) {
        Ok(visits) => (StatusCode::OK, format!("visits: {visits}\n")),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    Ok(response)
}

async fn hello_or_start<T: Visits>(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    if req.uri().path() == "/start" {
        visit::<T>(req).await
    } else {
        hello(req).await
    }
}

fn bump(counter: &mut Counter) -> u64 {
    counter.visits += 1;
    if counter.user.is_empty() {
        "alice@example.com".clone_into(&mut counter.user);
    }
    counter.visits
}

async fn serve_hyper<T: Visits>(
    listener: tokio::net::TcpListener,
    route: Route,
    layer: Option<SessionLayer<T>>,
) -> Result<(), Box<dyn Error>> {
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let io = TokioIo::new(stream);
        let builder = http1::Builder::new();
        // Each arm names its own service type; the connection futures are spawned unboxed.
        match (route, &layer) {
            (Route::Inline, _) => {
                let connection = builder.serve_connection(io, service_fn(inline_visit));
                tokio::spawn(async move { drop(connection.await) });
            }
            (Route::Codec, _) => {
                let connection = builder.serve_connection(io, service_fn(codec_visit));
                tokio::spawn(async move { drop(connection.await) });
            }
            (Route::Handle, _) => {
                let service = handle::HandleLayer.layer(service_fn(hello_or_start::<T>));
                let connection = builder.serve_connection(io, service);
                tokio::spawn(async move { drop(connection.await) });
            }
            (Route::Session, Some(layer)) => {
                let connection = builder.serve_connection(io, layer.layer(service_fn(visit::<T>)));
                tokio::spawn(async move { drop(connection.await) });
            }
            (Route::Untouched, Some(layer)) => {
                let service = layer.layer(service_fn(hello_or_start::<T>));
                let connection = builder.serve_connection(io, service);
                tokio::spawn(async move { drop(connection.await) });
            }
            _ => {
                let connection = builder.serve_connection(io, service_fn(hello_or_start::<T>));
                tokio::spawn(async move { drop(connection.await) });
            }
        }
    }
}

// ---- axum ----------------------------------------------------------------------------------

async fn axum_hello() -> &'static str {
    HELLO
}

async fn axum_visit<T: Visits>(session: Session<T>) -> (StatusCode, String) {
    match session.update(T::bump) {
        Ok(visits) => (StatusCode::OK, format!("visits: {visits}\n")),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

async fn serve_axum<T: Visits>(
    listener: tokio::net::TcpListener,
    route: Route,
    layer: Option<SessionLayer<T>>,
) -> Result<(), Box<dyn Error>> {
    let router = match (route, layer) {
        (Route::Inline, _) => Router::new()
            .route("/", get(axum_inline))
            .route("/start", get(axum_inline)),
        (Route::Codec, _) => Router::new()
            .route("/", get(axum_codec))
            .route("/start", get(axum_codec)),
        (Route::Handle, _) => Router::new()
            .route("/", get(axum_hello))
            .route("/start", get(axum_hello))
            .layer(handle::HandleLayer),
        (Route::Session, Some(layer)) => Router::new()
            .route("/", get(axum_visit::<T>))
            .route("/start", get(axum_visit::<T>))
            .layer(layer),
        (Route::Untouched, Some(layer)) => Router::new()
            .route("/", get(axum_hello))
            .route("/start", get(axum_visit::<T>))
            .layer(layer),
        _ => Router::new()
            .route("/", get(axum_hello))
            .route("/start", get(axum_hello)),
    };
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            eprintln!("set_nodelay: {error}");
        }
    });
    axum::serve(listener, router).await?;
    Ok(())
}

// ---- the inline limit, and the format without the engine ----------------------------------

async fn inline_visit(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(hyper_answer(inline::visit(req.headers())))
}

async fn axum_inline(headers: http::HeaderMap) -> axum::response::Response {
    axum_answer(inline::visit(&headers))
}

async fn codec_visit(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(hyper_answer(codec::visit(req.headers())))
}

async fn axum_codec(headers: http::HeaderMap) -> axum::response::Response {
    axum_answer(codec::visit(&headers))
}

/// The answer to a visit done in the handler: the count, the `Set-Cookie` line and
/// `Cache-Control`.
#[inline(always)] // the limit is measured as written in the handler: no call
fn hyper_answer((set_cookie, visits): (Option<http::HeaderValue>, u64)) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(format!("visits: {visits}\n"))));
    inline::finish(response.headers_mut(), set_cookie);
    response
}

/// [`hyper_answer`], as axum's response.
#[inline(always)] // the limit is measured as written in the handler: no call
fn axum_answer((set_cookie, visits): (Option<http::HeaderValue>, u64)) -> axum::response::Response {
    let mut response = axum::response::IntoResponse::into_response(format!("visits: {visits}\n"));
    inline::finish(response.headers_mut(), set_cookie);
    response
}
