//! The models' jobs, run on one thread of their own (a [`Lane`]), each model fed by a bounded
//! queue and answering on a reply channel.
//!
//! **One thread for all models.** libtorch runs its parallel work with GNU OpenMP, which gives
//! every thread that starts parallel work its own team of threads. With more of those threads
//! than cores (a reader thread and an encoder thread, each with a team of 2, on 2 cores),
//! OpenMP stops spinning between parallel regions and puts its threads to sleep instead, tens of
//! thousands of sleeps and wake-ups a second: a reading took about 1.5 times as long, and a
//! question's embedding twice as long (BENCHMARKS.md). So every model of the process runs on
//! [`Lane::shared`], one thread and one team: the models take turns, which on a CPU costs
//! nothing, since each of them already uses every core.
//!
//! **Tenants take turns.** Each job belongs to a [`Tenant`] (the bot gives each Discord server's
//! corpus its own); the lane serves the tenants in turn, each one's jobs in the order they
//! came. A server that sends fifty questions, or a long article's embedding in many jobs, is
//! served one job at a time between the other servers' jobs instead of ahead of them.
//!
//! A job that panics answers its own request with [`ModelError::Panicked`]; the thread and the
//! model live on and serve the next job. The model is only ever lent out as `&M`, so a panic
//! cannot leave it half-changed.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::{ModelError, Result};

type Task = Box<dyn FnOnce() + Send>;

thread_local! {
    /// The models of the lane whose thread this is, by slot.
    static SLOTS: RefCell<Vec<Option<Box<dyn Any>>>> = const { RefCell::new(Vec::new()) };
}

/// Whose job it is: the lane takes turns among tenants (a Discord server's corpus, say), so
/// that one tenant's burst of jobs waits behind its own work, not in front of the others'.
/// 0 for work that belongs to no one in particular (the command line, loading a model).
pub type Tenant = u64;

/// The jobs waiting on a lane: each tenant's in the order they came, and the tenants in turn.
#[derive(Default)]
struct Queue {
    jobs: std::collections::HashMap<Tenant, std::collections::VecDeque<Task>>,
    /// Tenants with jobs waiting, the next one to be served first.
    turns: std::collections::VecDeque<Tenant>,
    /// No lane handle is left: the thread ends once the queue is empty.
    closed: bool,
}

impl Queue {
    fn push(&mut self, tenant: Tenant, task: Task) {
        let jobs = self.jobs.entry(tenant).or_default();
        if jobs.is_empty() {
            self.turns.push_back(tenant);
        }
        jobs.push_back(task);
    }

    /// The next tenant's oldest job; the tenant then goes to the back of the turns.
    fn pop(&mut self) -> Option<Task> {
        let tenant = self.turns.pop_front()?;
        let jobs = self.jobs.get_mut(&tenant)?;
        let task = jobs.pop_front();
        if jobs.is_empty() {
            self.jobs.remove(&tenant);
        } else {
            self.turns.push_back(tenant);
        }
        task
    }
}

/// What the lane's handles and its thread share.
#[derive(Default)]
struct Shared {
    queue: std::sync::Mutex<Queue>,
    ready: std::sync::Condvar,
}

/// The lane's side of its thread: when the last handle goes, the thread finishes what is
/// queued and ends.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut q = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.closed = true;
        self.shared.ready.notify_all();
    }
}

/// One thread that runs the jobs of every model loaded on it, one job at a time: each
/// tenant's jobs in the order they came, the tenants taking turns. Cheap to clone.
#[derive(Clone)]
pub struct Lane {
    handle: Arc<Handle>,
    /// The expected time of the jobs queued or running, in microseconds.
    queued_micros: Arc<AtomicU64>,
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("queued_micros", &self.queued_micros.load(Ordering::SeqCst))
            .finish()
    }
}

impl Lane {
    /// A new thread of its own.
    pub fn new(name: &str) -> Result<Lane> {
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        thread::Builder::new()
            .name(format!("newsqa-{}", name.replace(' ', "-")))
            .spawn(move || loop {
                let task = {
                    let mut q = theirs.queue.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        if let Some(task) = q.pop() {
                            break task;
                        }
                        if q.closed {
                            return;
                        }
                        q = theirs.ready.wait(q).unwrap_or_else(|e| e.into_inner());
                    }
                };
                // Tasks catch their own panics (see `Worker::run`); this is the last guard,
                // so that nothing a task does can end the thread.
                let _ = panic::catch_unwind(AssertUnwindSafe(task));
            })
            .map_err(|_| ModelError::Stopped("model thread"))?;
        Ok(Lane {
            handle: Arc::new(Handle { shared }),
            queued_micros: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The process's one model thread, started on first use.
    pub fn shared() -> Result<Lane> {
        static SHARED: OnceLock<Lane> = OnceLock::new();
        if let Some(lane) = SHARED.get() {
            return Ok(lane.clone());
        }
        let lane = Lane::new("models")?;
        Ok(SHARED.get_or_init(|| lane).clone())
    }

    /// Runs `f` on the lane's thread and waits for it.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(
            0,
            Box::new(move || {
                let _ = tx.send(f());
            }),
        )?;
        rx.recv().map_err(|_| ModelError::Stopped("model thread"))
    }

    /// The time the jobs already queued or running are expected to take.
    pub fn expected_wait(&self) -> Duration {
        Duration::from_micros(self.queued_micros.load(Ordering::SeqCst))
    }

    fn send(&self, tenant: Tenant, task: Task) -> Result<()> {
        let shared = &self.handle.shared;
        let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.closed {
            return Err(ModelError::Stopped("model thread"));
        }
        q.push(tenant, task);
        shared.ready.notify_one();
        Ok(())
    }
}

/// A model that lives on a [`Lane`]'s thread, with a bounded queue of its own.
pub struct Worker<M> {
    name: &'static str,
    /// Whose jobs this handle sends (the lane takes turns among tenants).
    tenant: Tenant,
    slot: Arc<Slot>,
    queue: usize,
    pending: Arc<AtomicUsize>,
    job_micros: Arc<AtomicU64>,
    max_wait: Option<Duration>,
    model: std::marker::PhantomData<fn(&M)>,
}

impl<M> Clone for Worker<M> {
    fn clone(&self) -> Self {
        Worker {
            name: self.name,
            tenant: self.tenant,
            slot: self.slot.clone(),
            queue: self.queue,
            pending: self.pending.clone(),
            job_micros: self.job_micros.clone(),
            max_wait: self.max_wait,
            model: std::marker::PhantomData,
        }
    }
}

/// A model's place on its lane's thread; the model is dropped there with the last worker.
struct Slot {
    index: usize,
    lane: Lane,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let index = self.index;
        let _ = self.lane.send(
            0,
            Box::new(move || {
                let model = SLOTS.with(|s| s.borrow_mut().get_mut(index).and_then(Option::take));
                drop(model);
            }),
        );
    }
}

/// Counts a job out of `pending` and its estimate out of the lane's queue, however it ends.
struct Done {
    pending: Arc<AtomicUsize>,
    queued_micros: Arc<AtomicU64>,
    estimate: u64,
}

impl Drop for Done {
    fn drop(&mut self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
        let _ = self
            .queued_micros
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| {
                Some(q.saturating_sub(self.estimate))
            });
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
    /// Loads a model on the process's shared lane ([`Lane::shared`]).
    pub fn spawn<F>(name: &'static str, queue: usize, load: F) -> Result<Worker<M>>
    where
        F: FnOnce() -> Result<M> + Send + 'static,
    {
        Worker::spawn_on(&Lane::shared()?, name, queue, load)
    }

    /// Loads a model with `load` on `lane`'s thread, where it stays. Callers that will not
    /// wait are refused once `queue` of its jobs are waiting or running.
    pub fn spawn_on<F>(lane: &Lane, name: &'static str, queue: usize, load: F) -> Result<Worker<M>>
    where
        F: FnOnce() -> Result<M> + Send + 'static,
    {
        let index = lane
            .run(move || {
                let model = match panic::catch_unwind(AssertUnwindSafe(load)) {
                    Ok(model) => model?,
                    Err(p) => {
                        return Err(ModelError::Panicked {
                            model: name,
                            message: panic_message(p.as_ref()),
                        })
                    }
                };
                Ok(SLOTS.with(|s| {
                    let mut slots = s.borrow_mut();
                    let model: Box<dyn Any> = Box::new(model);
                    match slots.iter().position(Option::is_none) {
                        Some(free) => {
                            slots[free] = Some(model);
                            free
                        }
                        None => {
                            slots.push(Some(model));
                            slots.len() - 1
                        }
                    }
                }))
            })
            .map_err(|_| ModelError::Stopped(name))??;
        Ok(Worker {
            name,
            tenant: 0,
            slot: Arc::new(Slot {
                index,
                lane: lane.clone(),
            }),
            queue: queue.max(1),
            pending: Arc::new(AtomicUsize::new(0)),
            job_micros: Arc::new(AtomicU64::new(0)),
            max_wait: None,
            model: std::marker::PhantomData,
        })
    }

    /// This handle's jobs are `tenant`'s: the lane serves tenants in turn.
    pub fn for_tenant(&self, tenant: Tenant) -> Worker<M> {
        Worker {
            tenant,
            ..self.clone()
        }
    }

    /// Callers that will not wait ([`Worker::run`] with `wait` false) are told "busy" when the
    /// jobs ahead of theirs on the lane are expected to take longer than this.
    pub fn with_max_wait(mut self, max_wait: Option<Duration>) -> Worker<M> {
        self.max_wait = max_wait;
        self
    }

    /// How long a job queued now would wait: the expected time of every job queued or running
    /// on the lane, this model's and the others' (each job counted at its model's recent
    /// average).
    pub fn expected_wait(&self) -> Duration {
        self.lane().expected_wait()
    }

    fn lane(&self) -> &Lane {
        &self.slot.lane
    }

    /// This model's jobs queued or running.
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Runs `f` on the model and returns its result. With `wait` false, a full queue, or a
    /// wait past `max_wait`, is [`ModelError::Busy`] at once; with `wait` true the caller waits
    /// its turn however long.
    pub fn run<T, F>(&self, wait: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&M) -> Result<T> + Send + 'static,
    {
        if !wait && self.max_wait.is_some_and(|max| self.expected_wait() > max) {
            return Err(ModelError::Busy(self.name));
        }
        let taken = self.pending.fetch_add(1, Ordering::SeqCst);
        let estimate = self.job_micros.load(Ordering::SeqCst);
        let queued_micros = self.lane().queued_micros.clone();
        queued_micros.fetch_add(estimate, Ordering::SeqCst);
        let done = Done {
            pending: self.pending.clone(),
            queued_micros,
            estimate,
        };
        if !wait && taken >= self.queue {
            return Err(ModelError::Busy(self.name));
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let name = self.name;
        // The job holds the slot, so the model outlives every job queued for it.
        let slot = self.slot.clone();
        let job_micros = self.job_micros.clone();
        let job = move |m: &M| {
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
        };
        self.lane()
            .send(
                self.tenant,
                Box::new(move || {
                    // A job whose model is gone is dropped unrun: its caller hears `Stopped`.
                    SLOTS.with(|s| {
                        let slots = s.borrow();
                        let model = slots.get(slot.index).and_then(Option::as_ref);
                        if let Some(m) = model.and_then(|m| m.downcast_ref::<M>()) {
                            job(m);
                        }
                    });
                    drop(slot);
                }),
            )
            .map_err(|_| ModelError::Stopped(self.name))?;
        rx.recv().map_err(|_| ModelError::Stopped(self.name))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::time::Duration;

    /// A worker on a lane of its own, so that tests which hold their lane do not hold others.
    fn own<M: 'static>(
        queue: usize,
        load: impl FnOnce() -> Result<M> + Send + 'static,
    ) -> Result<Worker<M>> {
        Worker::spawn_on(&Lane::new("test")?, "test model", queue, load)
    }

    #[test]
    fn jobs_run_on_the_model_thread() {
        let w = own(2, || Ok(40)).unwrap();
        assert_eq!(w.run(true, |m| Ok(m + 2)).unwrap(), 42);
        assert_eq!(w.pending(), 0);
    }

    #[test]
    fn tenants_take_turns_whatever_one_of_them_queued() {
        let w = own(64, || Ok(())).unwrap();
        let (a, b) = (w.for_tenant(1), w.for_tenant(2));
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        // The thread is busy until the gate opens; meanwhile tenant 1 queues five jobs, then
        // tenant 2 one.
        let gate = Arc::new(Barrier::new(2));
        let g = gate.clone();
        let w0 = w.clone();
        let busy = thread::spawn(move || w0.run(true, move |_| Ok(g.wait())));
        while w.pending() < 1 {
            thread::yield_now();
        }
        let queue = |worker: &Worker<()>, tenant: u64, jobs: usize, before: usize| {
            let handles: Vec<_> = (0..jobs)
                .map(|_| {
                    let (worker, order) = (worker.clone(), order.clone());
                    thread::spawn(move || {
                        worker.run(true, move |_| {
                            order.lock().unwrap().push(tenant);
                            Ok(())
                        })
                    })
                })
                .collect();
            while w.pending() < before + jobs {
                thread::yield_now();
            }
            handles
        };
        let mut jobs = queue(&a, 1, 5, 1);
        jobs.extend(queue(&b, 2, 1, 6));
        gate.wait();
        busy.join().unwrap().unwrap();
        for j in jobs {
            j.join().unwrap().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [1, 2, 1, 1, 1, 1]);
    }

    #[test]
    fn a_failed_load_is_returned_to_the_caller() {
        let lane = Lane::new("test").unwrap();
        let err =
            Worker::<u32>::spawn_on(&lane, "test model", 2, || Err(ModelError::Busy("x"))).err();
        assert!(matches!(err, Some(ModelError::Busy("x"))));
    }

    #[test]
    fn a_panicking_job_fails_only_its_own_request() {
        let w = own(2, || Ok(vec![1u32, 2, 3])).unwrap();
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
        let w = own(64, || Ok(()))
            .unwrap()
            .with_max_wait(Some(Duration::from_millis(500)));
        // Measured: a job takes about 100 ms.
        w.run(true, |_| {
            thread::sleep(Duration::from_millis(100));
            Ok(())
        })
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
        let w = own(2, || Ok(())).unwrap();
        let gate = Arc::new(Barrier::new(2));
        // Occupy the thread (seen by the job's own signal), then fill the second place.
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
        let w2 = w.clone();
        let queued = thread::spawn(move || w2.run(true, |_| Ok(1)));
        while w.pending() < 2 {
            thread::yield_now();
        }
        assert!(matches!(w.run(false, |_| Ok(2)), Err(ModelError::Busy(_))));
        assert_eq!(w.pending(), 2, "a refused job is not counted");
        gate.wait();
        busy.join().unwrap().unwrap();
        assert_eq!(queued.join().unwrap().unwrap(), 1);
        assert_eq!(w.run(false, |_| Ok(3)).unwrap(), 3);
        assert_eq!(w.pending(), 0);
    }

    #[test]
    fn models_on_one_lane_share_its_thread_and_its_queue() {
        let lane = Lane::new("test").unwrap();
        let a = Worker::spawn_on(&lane, "a", 8, || Ok(thread::current().id())).unwrap();
        let b = Worker::spawn_on(&lane, "b", 8, || Ok("b")).unwrap();
        // A job of `a` takes about 100 ms (its average stays near that after one more).
        a.run(true, |_| {
            thread::sleep(Duration::from_millis(100));
            Ok(())
        })
        .unwrap();
        let ran_a = a
            .run(true, |&loaded_on| Ok((loaded_on, thread::current().id())))
            .unwrap();
        let ran_b = b.run(true, |_| Ok(thread::current().id())).unwrap();
        assert_eq!(ran_a.0, ran_a.1, "a job runs where its model was loaded");
        assert_eq!(ran_a.1, ran_b, "both models run on the lane's one thread");
        assert_ne!(ran_b, thread::current().id());
        // While a job of `a` runs, `b` expects to wait for it.
        let gate = Arc::new(Barrier::new(2));
        let (started_tx, started_rx) = mpsc::channel();
        let (g, a1) = (gate.clone(), a.clone());
        let running = thread::spawn(move || {
            a1.run(true, move |_| {
                started_tx.send(()).unwrap();
                Ok(g.wait())
            })
        });
        started_rx.recv().unwrap();
        assert!(
            b.expected_wait() >= Duration::from_millis(50),
            "{:?}",
            b.expected_wait()
        );
        let b = b.with_max_wait(Some(Duration::from_millis(10)));
        assert!(matches!(
            b.run(false, |_| Ok(())),
            Err(ModelError::Busy("b"))
        ));
        gate.wait();
        running.join().unwrap().unwrap();
        assert_eq!(b.run(false, |&name| Ok(name)).unwrap(), "b");
        assert_eq!(lane.expected_wait(), Duration::ZERO);
    }

    #[test]
    fn a_model_is_dropped_on_its_thread_with_its_last_worker() {
        struct Tell(mpsc::Sender<thread::ThreadId>);
        impl Drop for Tell {
            fn drop(&mut self) {
                let _ = self.0.send(thread::current().id());
            }
        }
        let lane = Lane::new("test").unwrap();
        let (tx, rx) = mpsc::channel();
        let w = Worker::spawn_on(&lane, "t", 2, move || Ok(Tell(tx))).unwrap();
        let lane_thread = w.run(true, |_| Ok(thread::current().id())).unwrap();
        let w2 = w.clone();
        drop(w);
        assert!(rx.try_recv().is_err(), "a clone still holds the model");
        drop(w2);
        assert_eq!(rx.recv().unwrap(), lane_thread);
        // The slot is free for the next model.
        let next = Worker::spawn_on(&lane, "u", 2, || Ok(5)).unwrap();
        assert_eq!(next.run(true, |m| Ok(*m)).unwrap(), 5);
    }
}
