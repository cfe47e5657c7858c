//! One model on one thread, fed by a bounded queue, answering on a reply channel.
//!
//! A job that panics answers its own request with [`ModelError::Panicked`]; the thread and the
//! model live on and serve the next job. The model is only ever lent out as `&M`, so a panic
//! cannot leave it half-changed.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use crate::{ModelError, Result};

type Job<M> = Box<dyn FnOnce(&M) + Send>;

/// A handle to a model running on its own thread. Cloning shares the thread.
pub struct Worker<M> {
    name: &'static str,
    jobs: mpsc::SyncSender<Job<M>>,
    /// Jobs accepted and not yet finished: the one running plus those waiting.
    pending: Arc<AtomicUsize>,
    /// A moving average of a job's time on the thread, in microseconds (0 before the first).
    job_micros: Arc<AtomicU64>,
    /// A caller that will not wait is told "busy" when the expected wait is longer.
    max_wait: Option<Duration>,
}

impl<M> Clone for Worker<M> {
    fn clone(&self) -> Self {
        Worker {
            name: self.name,
            jobs: self.jobs.clone(),
            pending: self.pending.clone(),
            job_micros: self.job_micros.clone(),
            max_wait: self.max_wait,
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
            job_micros: Arc::new(AtomicU64::new(0)),
            max_wait: None,
        })
    }

    /// Bounds the wait of callers that will not wait (`run(false, ..)`) by time as well as by
    /// the queue: they are told "busy" when the jobs ahead are expected to take longer than
    /// `max_wait`, from the measured time per job.
    pub fn with_max_wait(mut self, max_wait: Option<Duration>) -> Worker<M> {
        self.max_wait = max_wait;
        self
    }

    /// How long a new job is expected to wait for the ones ahead of it.
    pub fn expected_wait(&self) -> Duration {
        Duration::from_micros(self.job_micros.load(Ordering::SeqCst))
            .checked_mul(u32::try_from(self.pending()).unwrap_or(u32::MAX))
            .unwrap_or(Duration::MAX)
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
        if !wait && self.max_wait.is_some_and(|max| self.expected_wait() > max) {
            return Err(ModelError::Busy(self.name));
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let name = self.name;
        self.pending.fetch_add(1, Ordering::SeqCst);
        let done = Done(self.pending.clone());
        let job_micros = self.job_micros.clone();
        let job: Job<M> = Box::new(move |m| {
            let started = Instant::now();
            let out = panic::catch_unwind(AssertUnwindSafe(|| f(m)));
            let took = started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
            // A moving average over the last jobs (the first one sets it).
            let _ = job_micros.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |avg| {
                Some(if avg == 0 {
                    took.max(1)
                } else {
                    avg.saturating_mul(4).saturating_add(took) / 5
                })
            });
            let out = out.unwrap_or_else(|p| {
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
    use std::time::Duration;

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
    fn callers_that_will_not_wait_are_busy_only_past_the_expected_wait() {
        let w = Worker::spawn("test model", 64, || Ok(()))
            .unwrap()
            .with_max_wait(Some(Duration::from_millis(500)));
        // Measured: a job takes about 100 ms.
        w.run(true, |_| Ok(thread::sleep(Duration::from_millis(100))))
            .unwrap();
        let gate = Arc::new(Barrier::new(2));
        let (started_tx, started_rx) = mpsc::channel();
        let g = gate.clone();
        let w1 = w.clone();
        let running = thread::spawn(move || {
            w1.run(false, move |_| {
                started_tx.send(()).unwrap();
                Ok(g.wait())
            })
        });
        started_rx.recv().unwrap();
        // One job ahead (about 100 ms): well within 500 ms, so accepted, not busy.
        assert!(w.expected_wait() < Duration::from_millis(500));
        let w2 = w.clone();
        let queued: Vec<_> = (0..3)
            .map(|_| {
                let w2 = w2.clone();
                thread::spawn(move || w2.run(false, |_| Ok(1)))
            })
            .collect();
        // Wait until all of them are counted, then the expected wait is 4 jobs of ~100 ms.
        while w.pending() < 4 {
            thread::yield_now();
        }
        // Ten jobs ahead would be ~1 s: past the bound, and said at once.
        let more: Vec<_> = (0..6)
            .map(|_| {
                let w3 = w.clone();
                thread::spawn(move || w3.run(false, |_| Ok(2)))
            })
            .collect();
        while w.pending() < 10 && w.expected_wait() <= Duration::from_millis(500) {
            thread::yield_now();
        }
        assert!(matches!(w.run(false, |_| Ok(3)), Err(ModelError::Busy(_))));
        gate.wait();
        running.join().unwrap().unwrap();
        for q in queued {
            assert_eq!(q.join().unwrap().unwrap(), 1);
        }
        for m in more {
            let _ = m.join().unwrap();
        }
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
