//! A worker pool: threads that run jobs, growing up to a bound while every thread is busy.
//!
//! Create one per generation and drop it before the generation returns: dropping waits
//! for the queued jobs and joins every thread. A thread that outlived its generation
//! would later run thread-local destructors whose code was already unloaded.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long a thread above `min` stays idle before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(10);

struct Queue {
    jobs: VecDeque<Job>,
    idle: usize,
    threads: usize,
    closing: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// Threads named `<name>-<n>` that run submitted jobs; joined on drop.
pub struct WorkerPool {
    name: String,
    min: usize,
    max: usize,
    next_id: usize,
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    /// Starts `min` threads; up to `max` run at once when every thread is busy.
    pub fn new(name: &str, min: usize, max: usize) -> std::io::Result<WorkerPool> {
        let mut pool = WorkerPool {
            name: name.to_string(),
            min: min.max(1),
            max: max.max(min.max(1)),
            next_id: 0,
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue { jobs: VecDeque::new(), idle: 0, threads: 0, closing: false }),
                wake: Condvar::new(),
            }),
            handles: Vec::new(),
        };
        for _ in 0..pool.min {
            pool.spawn()?;
        }
        Ok(pool)
    }

    /// Queues `job`; starts another thread when none is idle and the bound allows it.
    /// A panicking job is logged and does not end its thread.
    pub fn execute<F: FnOnce() + Send + 'static>(&mut self, job: F) -> std::io::Result<()> {
        let grow = {
            let mut q = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.jobs.push_back(Box::new(job));
            q.idle < q.jobs.len() && q.threads < self.max
        };
        self.shared.wake.notify_one();
        if grow {
            self.reap();
            self.spawn()?;
        }
        Ok(())
    }

    /// Threads currently alive.
    pub fn threads(&self) -> usize {
        self.shared.queue.lock().unwrap_or_else(|e| e.into_inner()).threads
    }

    /// Joins threads that ended while idle. Joining (not just dropping the handle) also
    /// waits for their thread-local destructors, which run after the main function.
    fn reap(&mut self) {
        let (done, alive): (Vec<_>, Vec<_>) = self.handles.drain(..).partition(|h| h.is_finished());
        self.handles = alive;
        for h in done {
            let _ = h.join();
        }
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        self.next_id += 1;
        let shared = Arc::clone(&self.shared);
        let min = self.min;
        shared.queue.lock().unwrap_or_else(|e| e.into_inner()).threads += 1;
        let spawned =
            thread::Builder::new().name(format!("{}-{}", self.name, self.next_id)).spawn(move || work(&shared, min));
        match spawned {
            Ok(h) => {
                self.handles.push(h);
                Ok(())
            }
            Err(e) => {
                self.shared.queue.lock().unwrap_or_else(|e| e.into_inner()).threads -= 1;
                Err(e)
            }
        }
    }
}

fn work(shared: &Shared, min: usize) {
    let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = q.jobs.pop_front() {
            drop(q);
            if catch_unwind(AssertUnwindSafe(job)).is_err() {
                crate::error!("a job panicked; the worker goes on");
            }
            q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        if q.closing {
            break;
        }
        q.idle += 1;
        let (guard, timeout) = shared.wake.wait_timeout(q, IDLE_EXIT).unwrap_or_else(|e| e.into_inner());
        q = guard;
        q.idle -= 1;
        if timeout.timed_out() && q.jobs.is_empty() && !q.closing && q.threads > min {
            break;
        }
    }
    q.threads -= 1;
}

impl Drop for WorkerPool {
    /// Lets the threads finish every queued job, then joins them all.
    fn drop(&mut self) {
        self.shared.queue.lock().unwrap_or_else(|e| e.into_inner()).closing = true;
        self.shared.wake.notify_all();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn runs_every_job_and_joins_on_drop() {
        let done = Arc::new(AtomicUsize::new(0));
        let mut pool = WorkerPool::new("t", 1, 4).unwrap();
        for _ in 0..32 {
            let d = Arc::clone(&done);
            pool.execute(move || {
                thread::sleep(Duration::from_millis(1));
                d.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        drop(pool);
        assert_eq!(done.load(Ordering::SeqCst), 32);
    }

    #[test]
    fn a_panicking_job_does_not_stop_the_pool() {
        let done = Arc::new(AtomicUsize::new(0));
        let mut pool = WorkerPool::new("t", 1, 1).unwrap();
        pool.execute(|| panic!("boom")).unwrap();
        let d = Arc::clone(&done);
        pool.execute(move || {
            d.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        drop(pool);
        assert_eq!(done.load(Ordering::SeqCst), 1);
    }
}
