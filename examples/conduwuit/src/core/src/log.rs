//! The tracing subscriber (a registry, the filter, and a formatter to stderr) and the
//! handle that changes the filter while the server runs (the admin command `log-filter`).
//!
//! Two ways to change the filter, chosen by `Config::log_reload`:
//! - `dynamic` (default): the filter reports every callsite as "sometimes" interesting and
//!   decides per event, so a change is a swap under a lock and nothing else.
//! - `layer`: tracing-subscriber's `reload::Layer`, the usual way. A change calls
//!   `tracing_core::callsite::rebuild_interest_cache()`, which walks every callsite ever
//!   registered. Callsites are statics of the crate that logged; tracing-core keeps them
//!   in an intrusive list and has no way to remove one, so once a reloaded crate has been
//!   unloaded the walk reads unmapped memory: SIGSEGV under `hotgen dev` (README).

use std::sync::{Arc, Mutex, RwLock};

use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::{Registry, fmt, reload};

/// How `Log::set_filter` changes the filter (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogReload {
    /// Decided per event; never walks tracing's callsite registry.
    Dynamic,
    /// tracing-subscriber's reload layer; rebuilds tracing's interest cache.
    Layer,
}

enum Handle {
    Dynamic(Arc<RwLock<Targets>>),
    Layer(reload::Handle<Targets, Registry>),
}

/// The installed subscriber's filter, changeable at run time. Directives are
/// `target=level` pairs and a default level, comma-separated (e.g. `info,hyper=warn`).
pub struct Log {
    handle: Handle,
    current: Mutex<String>,
}

/// The `dynamic` filter: interest "sometimes" for every callsite, `enabled` asks the
/// current directives, and no level hint (a hint is only re-read by a cache rebuild).
struct DynamicFilter(Arc<RwLock<Targets>>);

impl<S: Subscriber> Layer<S> for DynamicFilter {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        self.0.read().unwrap_or_else(|e| e.into_inner()).would_enable(meta.target(), meta.level())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        None
    }
}

fn parse(directives: &str) -> Result<Targets, String> {
    directives.parse().map_err(|e| format!("log filter `{directives}`: {e}"))
}

impl Log {
    /// Installs the process's global subscriber with `directives` as its filter.
    /// Errors: bad directives, or a global subscriber is already installed.
    pub fn init(directives: &str, mode: LogReload) -> Result<Log, String> {
        let filter = parse(directives)?;
        let installed = match mode {
            LogReload::Dynamic => {
                let shared = Arc::new(RwLock::new(filter));
                let subscriber = tracing_subscriber::registry()
                    .with(DynamicFilter(shared.clone()))
                    .with(fmt::layer().with_writer(std::io::stderr));
                tracing::subscriber::set_global_default(subscriber).map(|()| Handle::Dynamic(shared))
            }
            LogReload::Layer => {
                let (filter, handle) = reload::Layer::new(filter);
                let subscriber =
                    tracing_subscriber::registry().with(filter).with(fmt::layer().with_writer(std::io::stderr));
                tracing::subscriber::set_global_default(subscriber).map(|()| Handle::Layer(handle))
            }
        };
        let handle = installed.map_err(|e| format!("cannot install the subscriber: {e}"))?;
        tracing::info!(filter = directives, ?mode, "tracing started");
        Ok(Log { handle, current: Mutex::new(directives.to_string()) })
    }

    /// The filter's directives as last set.
    pub fn filter(&self) -> String {
        self.current.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the filter; returns the previous directives.
    pub fn set_filter(&self, directives: &str) -> Result<String, String> {
        let filter = parse(directives)?;
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match &self.handle {
            Handle::Dynamic(shared) => *shared.write().unwrap_or_else(|e| e.into_inner()) = filter,
            Handle::Layer(handle) => handle.reload(filter).map_err(|e| format!("cannot change the log filter: {e}"))?,
        }
        tracing::info!(from = %current, to = directives, "log filter changed");
        Ok(std::mem::replace(&mut *current, directives.to_string()))
    }
}
