//! The `handle-hyper` and `handle-axum` modes: the least a layer that hands its handler a
//! per-request handle must do, and nothing else. It puts a shared flag (one `Arc`) into the
//! request's extensions and looks at it when the response is ready; the handler never touches
//! it. This is what any session layer built on `http::Extensions` (this crate's, and
//! tower-sessions') pays on a route that never uses the session, so the untouched rows are
//! read against it as well as against the bare server.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;

/// What the handler would find in the request's extensions (and set to ask for work on the
/// response; the measured route never does).
#[derive(Clone)]
struct Handle(Arc<AtomicBool>);

/// The layer of the handle modes.
#[derive(Clone, Copy)]
pub(crate) struct HandleLayer;

impl<S> tower_layer::Layer<S> for HandleLayer {
    type Service = HandleService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HandleService { inner }
    }
}

/// The service of [`HandleLayer`].
#[derive(Clone)]
pub(crate) struct HandleService<S> {
    inner: S,
}

fn start<B, F>(mut req: Request<B>, inner: impl FnOnce(Request<B>) -> F) -> HandleFuture<F> {
    let handle = Handle(Arc::new(AtomicBool::new(false)));
    req.extensions_mut().insert(handle.clone());
    HandleFuture {
        inner: inner(req),
        handle: Some(handle),
    }
}

impl<S, B, R> tower_service::Service<Request<B>> for HandleService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = HandleFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let inner = &mut self.inner;
        start(req, |req| inner.call(req))
    }
}

impl<S, B, R> hyper::service::Service<Request<B>> for HandleService<S>
where
    S: hyper::service::Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = HandleFuture<S::Future>;

    fn call(&self, req: Request<B>) -> Self::Future {
        start(req, |req| self.inner.call(req))
    }
}

pin_project! {
    /// The response future of [`HandleService`].
    pub(crate) struct HandleFuture<F> {
        #[pin]
        inner: F,
        handle: Option<Handle>,
    }
}

impl<F, R, E> Future for HandleFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut result = ready!(this.inner.poll(cx));
        if let (Some(handle), Ok(response)) = (this.handle.take(), &mut result) {
            if handle.0.load(Ordering::Relaxed) {
                response.headers_mut().insert(
                    http::header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                );
            }
        }
        Poll::Ready(result)
    }
}
