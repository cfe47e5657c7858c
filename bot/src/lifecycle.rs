//! Stopping cleanly: on SIGTERM the bot stops taking work, lets the jobs in flight finish
//! (answers sent, a feed round's current feed stored) for a bounded time, then closes.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// How long shutdown waits for jobs in flight.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Jobs in flight and whether the bot is stopping. Shared by the handler and `run`.
#[derive(Default)]
pub struct Lifecycle {
    running: AtomicUsize,
    stopping: AtomicBool,
    idle: Notify,
}

/// One job in flight; it ends when dropped.
pub struct Job(Arc<Lifecycle>);

impl Drop for Job {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Lifecycle {
    /// Starts a job, or `None` when the bot is stopping and takes no new work.
    pub fn start(self: &Arc<Self>) -> Option<Job> {
        self.running.fetch_add(1, Ordering::SeqCst);
        let job = Job(Arc::clone(self));
        (!self.stopping.load(Ordering::SeqCst)).then_some(job)
    }

    /// Stops taking work and waits, at most `limit`, for the jobs in flight; returns how many
    /// were still running when it gave up (0 when all finished).
    pub async fn drain(&self, limit: Duration) -> usize {
        self.stopping.store(true, Ordering::SeqCst);
        let wait = async {
            loop {
                let idle = self.idle.notified();
                tokio::pin!(idle);
                idle.as_mut().enable();
                if self.running.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
        self.running.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_jobs_in_flight_and_refuses_new_ones() {
        let life = Arc::new(Lifecycle::default());
        let job = life.start().expect("running");
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let drained = tokio::spawn({
            let life = Arc::clone(&life);
            async move {
                let _ = started_tx.send(());
                life.drain(Duration::from_secs(60)).await
            }
        });
        started_rx.await.unwrap();
        // Once draining has begun, new work is refused; the job in flight finishes.
        while let Some(probe) = life.start() {
            drop(probe);
            tokio::task::yield_now().await;
        }
        drop(job);
        assert_eq!(drained.await.unwrap(), 0);
    }

    #[tokio::test]
    async fn drain_gives_up_after_its_limit() {
        let life = Arc::new(Lifecycle::default());
        let _stuck = life.start().expect("running");
        assert_eq!(life.drain(Duration::from_millis(50)).await, 1);
    }
}
