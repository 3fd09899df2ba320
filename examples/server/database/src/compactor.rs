//! The store's background thread: compacts the log now and then. Started per
//! generation and joined when dropped, so it never outlives the code it runs.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use app_core::Store;

/// Handle of the running compaction thread; dropping it stops and joins the thread.
pub struct Compactor {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl Compactor {
    /// Starts a thread that checks every `every` whether `store` needs compacting.
    pub fn start(store: &'static Store, every: Duration) -> std::io::Result<Compactor> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = Arc::clone(&stop);
        let handle = thread::Builder::new().name("store-compactor".into()).spawn(move || {
            let (lock, cv) = &*flag;
            let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
            while !*stopped {
                stopped = cv.wait_timeout(stopped, every).unwrap_or_else(|e| e.into_inner()).0;
                if !*stopped
                    && crate::should_compact(store)
                    && let Err(e) = crate::compact(store)
                {
                    app_core::error!("compacting {}: {e}", store.path.display());
                }
            }
        })?;
        Ok(Compactor { stop, handle: Some(handle) })
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        *self.stop.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.stop.1.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
