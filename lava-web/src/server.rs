//! The service: configuration, the router, limits, and running it.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{any, post};
use axum::Router;
use lava_scheduler::SqlStore;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::error::WebError;

/// The LAVA API level this service answers as (`system.version`): lavacli
/// turns on its newest calls for it, and those calls are all served here.
pub const API_VERSION: &str = "2026.07";

/// The largest request body accepted (a job definition, an XML-RPC call):
/// anything bigger is refused with 413 before it is read.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The most rows one list answer holds (`limit` above it is lowered).
pub const MAX_PAGE: i64 = 100;

/// How long one request may take (not the streamed bodies of logs).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the service listens and what it serves.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// `HOST:PORT` to listen on.
    pub bind: String,
    /// The master's jobs directory (`output.yaml` of each job).
    pub jobs_dir: PathBuf,
    /// Device-type template directories (`installed`/`template` in
    /// device-type lists).
    pub device_types: Vec<PathBuf>,
    /// Threads for store calls (each holds a database connection while it
    /// works).
    pub blocking_threads: usize,
    /// How long a connection may take to send a request's headers.
    pub header_timeout: Duration,
    /// How submissions are checked beyond LAVA's validation (the methods
    /// the lab's dispatchers implement).
    pub submit: lava_scheduler::submit::SubmitOptions,
    /// How long one rendering of `/metrics` is served again (default
    /// 5 s; docs/metrics.md, "Cost").
    pub metrics_cache: Duration,
}

impl ServiceConfig {
    /// Listen on `bind`, read job output under `jobs_dir`.
    pub fn new(bind: impl Into<String>, jobs_dir: impl Into<PathBuf>) -> ServiceConfig {
        ServiceConfig {
            bind: bind.into(),
            jobs_dir: jobs_dir.into(),
            device_types: Vec::new(),
            blocking_threads: 16,
            header_timeout: Duration::from_secs(10),
            submit: Default::default(),
            metrics_cache: lava_scheduler::metrics::CACHE_TTL,
        }
    }
}

/// What every request handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: SqlStore,
    pub jobs_dir: Arc<PathBuf>,
    pub device_types: Arc<Vec<PathBuf>>,
    /// The web UI's templates, compiled in.
    pub templates: Arc<minijinja::Environment<'static>>,
    /// The live logs being followed.
    pub live: Arc<crate::live::LogHub>,
    /// Bumped on every store change (jobs ending, for live logs).
    pub store_changes: tokio::sync::watch::Receiver<u64>,
    /// How submissions are checked.
    pub submit_options: Arc<lava_scheduler::submit::SubmitOptions>,
    /// The last `/metrics` text, computed by one request at a time.
    pub metrics: Arc<crate::metrics::MetricsCache>,
}

impl AppState {
    /// Validate and store a job submitted by `submitter` (every way in:
    /// XML-RPC, REST, the web form, resubmission); a multinode submission
    /// makes its whole group (docs/multinode.md).
    pub fn submit(
        &self,
        text: &str,
        submitter: &str,
    ) -> Result<lava_scheduler::submit::Submitted, lava_scheduler::submit::SubmitError> {
        lava_scheduler::submit::submit_jobs(&self.store, text, submitter, &self.submit_options)
    }

    /// Run store work off the async threads.
    pub async fn blocking<T, F>(&self, f: F) -> T
    where
        F: FnOnce(&AppState) -> T + Send + 'static,
        T: Send + 'static,
    {
        let state = self.clone();
        match tokio::task::spawn_blocking(move || f(&state)).await {
            Ok(value) => value,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

/// The HTTP service, bound and ready to run.
pub struct Service {
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    router: Router,
    address: SocketAddr,
    header_timeout: Duration,
    /// Feeds `store_changes` while the service runs.
    _changes: lava_scheduler::db::Watcher,
}

/// Accept connections and serve each on its own task until `stop`. Each
/// connection must send its request headers within `header_timeout` or it
/// is closed, so connections that never finish a request cannot pile up
/// (axum's own `serve` sets no timer, and hyper then applies none).
async fn accept_loop(
    listener: tokio::net::TcpListener,
    router: Router,
    header_timeout: Duration,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // out of file descriptors and the like: wait, go on
                    log::warn!("[HTTP] cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                router.clone().oneshot(request.map(axum::body::Body::new))
            },
        );
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                log::debug!("[HTTP] connection from {peer} ended: {e}");
            }
        });
    }
    drop(listener);
    // requests in progress finish; idle and slow connections do not hold
    // the stop for long
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/RPC2", post(crate::rpc::handle))
        .route("/RPC2/", post(crate::rpc::handle))
        .route("/metrics", axum::routing::get(crate::metrics::handle))
        .nest("/api/v0.2", crate::rest::routes())
        .merge(crate::ui::routes())
        .fallback(any(not_found))
        .with_state(state)
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
}

async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    crate::ui::error_page(
        axum::http::StatusCode::NOT_FOUND,
        &format!("{} is not here.", uri.path()),
    )
}

impl Service {
    /// Bind the listening socket; nothing is served until [`Service::run`].
    pub fn bind(store: SqlStore, config: ServiceConfig) -> Result<Service, WebError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("lava-web")
            .max_blocking_threads(config.blocking_threads.max(1))
            .build()
            .map_err(WebError::Serve)?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(&config.bind))
            .map_err(|source| WebError::Bind {
                address: config.bind.clone(),
                source,
            })?;
        let address = listener.local_addr().map_err(WebError::Serve)?;
        let header_timeout = config.header_timeout;
        let (changed, store_changes) = tokio::sync::watch::channel(0u64);
        let changes = store
            .database()
            .watch_changes(Box::new(move || {
                changed.send_modify(|n| *n = n.wrapping_add(1));
            }))
            .map_err(WebError::Store)?;
        let state = AppState {
            store,
            jobs_dir: Arc::new(config.jobs_dir),
            device_types: Arc::new(config.device_types),
            templates: Arc::new(crate::ui::templates()),
            live: Arc::new(crate::live::LogHub::default()),
            store_changes,
            submit_options: Arc::new(config.submit),
            metrics: Arc::new(crate::metrics::MetricsCache::new(config.metrics_cache)),
        };
        Ok(Service {
            runtime,
            listener,
            router: router(state),
            address,
            header_timeout,
            _changes: changes,
        })
    }

    /// The address it listens on (the port when `:0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Serve until `stop` completes; requests in progress are finished
    /// (for at most a few seconds).
    pub fn run(self, stop: impl Future<Output = ()> + Send + 'static) -> Result<(), WebError> {
        let Service {
            runtime,
            listener,
            router,
            address,
            header_timeout,
            _changes,
        } = self;
        log::info!("[HTTP] serving on http://{address}/");
        let result = runtime.block_on(accept_loop(listener, router, header_timeout, stop));
        // Streams of slow clients are not waited for.
        runtime.shutdown_timeout(Duration::from_secs(1));
        log::info!("[HTTP] stopped");
        result
    }

    /// Serve until `flag` becomes true (checked every 100 ms): for programs
    /// that already have a stop flag, such as `lava-lab`.
    pub fn run_until(self, flag: Arc<AtomicBool>) -> Result<(), WebError> {
        self.run(async move {
            while !flag.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    }

    /// Serve until SIGINT or SIGTERM.
    pub fn run_until_signal(self) -> Result<(), WebError> {
        let _guard = self.runtime.enter();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(WebError::Serve)?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .map_err(WebError::Serve)?;
        drop(_guard);
        self.run(async move {
            tokio::select! {
                _ = term.recv() => log::info!("[HTTP] SIGTERM: stopping"),
                _ = int.recv() => log::info!("[HTTP] SIGINT: stopping"),
            }
        })
    }
}
