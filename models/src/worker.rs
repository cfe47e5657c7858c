//! One model on one thread, fed by a bounded queue, answering on a reply channel.
//!
//! A job that panics answers its own request with [`ModelError::Panicked`]; the thread and the
//! model live on and serve the next job. The model is only ever lent out as `&M`, so a panic
//! cannot leave it half-changed.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use crate::{ModelError, Result};

type Job<M> = Box<dyn FnOnce(&M) + Send>;

/// A handle to a model running on its own thread. Cloning shares the thread.
pub struct Worker<M> {
    name: &'static str,
    jobs: mpsc::SyncSender<Job<M>>,
    /// Jobs accepted and not yet finished: the one running plus those waiting.
    pending: Arc<AtomicUsize>,
}

impl<M> Clone for Worker<M> {
    fn clone(&self) -> Self {
        Worker {
            name: self.name,
            jobs: self.jobs.clone(),
            pending: self.pending.clone(),
        }
    }
}

/// Decrements the pending count when a job ends, however it ends.
struct Done(Arc<AtomicUsize>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

impl<M: 'static> Worker<M> {
    /// Starts a thread that builds the model with `load` and then serves jobs.
    /// Returns once the model has loaded, or with the load error.
    pub fn spawn<F>(name: &'static str, queue: usize, load: F) -> Result<Worker<M>>
    where
        F: FnOnce() -> Result<M> + Send + 'static,
    {
        let (jobs, rx) = mpsc::sync_channel::<Job<M>>(queue.max(1));
        let (ready_tx, ready_rx) = mpsc::channel();
        thread::Builder::new()
            .name(format!("newsqa-{}", name.replace(' ', "-")))
            .spawn(move || {
                let model = match load() {
                    Ok(m) => {
                        let _ = ready_tx.send(Ok(()));
                        m
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = rx.recv() {
                    // Jobs catch their own panics (see `run`); this is the last guard, so
                    // that nothing a job does can end the thread.
                    let _ = panic::catch_unwind(AssertUnwindSafe(|| job(&model)));
                }
            })
            .map_err(|_| ModelError::Stopped(name))?;
        ready_rx.recv().map_err(|_| ModelError::Stopped(name))??;
        Ok(Worker {
            name,
            jobs,
            pending: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Jobs accepted and not yet finished (the running one included).
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Runs `f` on the model thread and waits for its result. When `wait` is false and the queue
    /// is full, returns [`ModelError::Busy`] at once instead of waiting for room. A panic in `f`
    /// is this request's [`ModelError::Panicked`]; the model thread goes on.
    pub fn run<T, F>(&self, wait: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&M) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let name = self.name;
        self.pending.fetch_add(1, Ordering::SeqCst);
        let done = Done(self.pending.clone());
        let job: Job<M> = Box::new(move |m| {
            let out = panic::catch_unwind(AssertUnwindSafe(|| f(m))).unwrap_or_else(|p| {
                let message = panic_message(p.as_ref());
                tracing::error!(model = name, %message, "model job panicked; the model thread goes on");
                Err(ModelError::Panicked {
                    model: name,
                    message,
                })
            });
            // No longer pending once the caller can see the result.
            drop(done);
            let _ = tx.send(out);
        });
        // A job that is not accepted is dropped here, and its `Done` with it.
        if wait {
            self.jobs
                .send(job)
                .map_err(|_| ModelError::Stopped(self.name))?;
        } else {
            self.jobs.try_send(job).map_err(|e| match e {
                mpsc::TrySendError::Full(_) => ModelError::Busy(self.name),
                mpsc::TrySendError::Disconnected(_) => ModelError::Stopped(self.name),
            })?;
        }
        rx.recv().map_err(|_| ModelError::Stopped(self.name))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    #[test]
    fn jobs_run_on_the_model_thread() {
        let w = Worker::spawn("test model", 2, || Ok(40)).unwrap();
        assert_eq!(w.run(true, |m| Ok(m + 2)).unwrap(), 42);
        assert_eq!(w.pending(), 0);
    }

    #[test]
    fn a_failed_load_is_returned_to_the_caller() {
        let err = Worker::<u32>::spawn("test model", 2, || Err(ModelError::Busy("x"))).err();
        assert!(matches!(err, Some(ModelError::Busy("x"))));
    }

    #[test]
    fn a_panicking_job_fails_only_its_own_request() {
        let w = Worker::spawn("test model", 2, || Ok(vec![1u32, 2, 3])).unwrap();
        #[allow(clippy::useless_vec)]
        let err = w
            .run(true, |m: &Vec<u32>| Ok(m[7]))
            .expect_err("an out-of-range index panics");
        match err {
            ModelError::Panicked { model, message } => {
                assert_eq!(model, "test model");
                assert!(message.contains("out of bounds"), "{message}");
            }
            other => panic!("expected Panicked, got {other:?}"),
        }
        // The thread and the model live on.
        assert_eq!(w.run(true, |m: &Vec<u32>| Ok(m[2])).unwrap(), 3);
        assert_eq!(w.run(false, |m: &Vec<u32>| Ok(m.len())).unwrap(), 3);
        assert_eq!(w.pending(), 0);
    }

    #[test]
    fn a_full_queue_is_busy_not_blocked() {
        let w = Worker::spawn("test model", 1, || Ok(())).unwrap();
        let gate = Arc::new(Barrier::new(2));
        // Occupy the thread (seen by the job's own signal), then fill the one queue slot.
        let (started_tx, started_rx) = mpsc::channel();
        let g = gate.clone();
        let w1 = w.clone();
        let busy = thread::spawn(move || {
            w1.run(true, move |_| {
                started_tx.send(()).unwrap();
                Ok(g.wait())
            })
        });
        started_rx.recv().unwrap();
        assert_eq!(w.pending(), 1);
        let (ran_tx, ran_rx) = mpsc::channel();
        let filler: Job<()> = Box::new(move |_| ran_tx.send(()).unwrap());
        w.jobs
            .try_send(filler)
            .expect("the queue has one free slot");
        assert!(matches!(w.run(false, |_| Ok(2)), Err(ModelError::Busy(_))));
        assert_eq!(w.pending(), 1, "a refused job is not counted");
        gate.wait();
        busy.join().unwrap().unwrap();
        ran_rx.recv().unwrap();
        assert_eq!(w.run(false, |_| Ok(3)).unwrap(), 3);
        assert_eq!(w.pending(), 0);
    }
}
