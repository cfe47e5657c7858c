//! One model on one thread, fed by a bounded queue, answering on a reply channel.

use std::sync::mpsc;
use std::thread;

use crate::{ModelError, Result};

type Job<M> = Box<dyn FnOnce(&M) + Send>;

/// A handle to a model running on its own thread. Cloning shares the thread.
pub struct Worker<M> {
    name: &'static str,
    jobs: mpsc::SyncSender<Job<M>>,
}

impl<M> Clone for Worker<M> {
    fn clone(&self) -> Self {
        Worker {
            name: self.name,
            jobs: self.jobs.clone(),
        }
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
                    job(&model);
                }
            })
            .map_err(|_| ModelError::Stopped(name))?;
        ready_rx.recv().map_err(|_| ModelError::Stopped(name))??;
        Ok(Worker { name, jobs })
    }

    /// Runs `f` on the model thread and waits for its result. When `wait` is false and the queue
    /// is full, returns [`ModelError::Busy`] at once instead of waiting for room.
    pub fn run<T, F>(&self, wait: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&M) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job<M> = Box::new(move |m| {
            let _ = tx.send(f(m));
        });
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
    use std::sync::{Arc, Barrier};

    #[test]
    fn jobs_run_on_the_model_thread() {
        let w = Worker::spawn("test model", 2, || Ok(40)).unwrap();
        assert_eq!(w.run(true, |m| Ok(m + 2)).unwrap(), 42);
    }

    #[test]
    fn a_failed_load_is_returned_to_the_caller() {
        let err = Worker::<u32>::spawn("test model", 2, || Err(ModelError::Busy("x"))).err();
        assert!(matches!(err, Some(ModelError::Busy("x"))));
    }

    #[test]
    fn a_full_queue_is_busy_not_blocked() {
        let w = Worker::spawn("test model", 1, || Ok(())).unwrap();
        let gate = Arc::new(Barrier::new(2));
        // Occupy the thread, then fill the one queue slot.
        let g = gate.clone();
        let w1 = w.clone();
        let busy = std::thread::spawn(move || w1.run(true, move |_| Ok(g.wait())));
        std::thread::sleep(std::time::Duration::from_millis(100));
        let w2 = w.clone();
        let queued = std::thread::spawn(move || w2.run(true, |_| Ok(1)));
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(matches!(w.run(false, |_| Ok(2)), Err(ModelError::Busy(_))));
        gate.wait();
        busy.join().unwrap().unwrap();
        assert_eq!(queued.join().unwrap().unwrap(), 1);
    }
}
