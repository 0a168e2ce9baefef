//! A job the window hands to a worker thread and polls once per frame until it answers: the
//! window never blocks, and a panicking job becomes an error message instead of a silent hang.

use std::sync::mpsc::{self, Receiver, TryRecvError};

/// A job's outcome: its value, or why it failed (shown in the status bar).
pub type Outcome<T> = Result<T, String>;

/// One job running on its own thread.
pub struct OneShot<T> {
    outcome: Receiver<Outcome<T>>,
    what: &'static str,
}

impl<T: Send + 'static> OneShot<T> {
    /// Runs `job` on a new thread; `what` names it in failure messages ("the import"), and
    /// `on_done` runs on the worker once the outcome is sent (the window passes a repaint request).
    pub fn spawn(
        what: &'static str,
        job: impl FnOnce() -> Outcome<T> + Send + std::panic::UnwindSafe + 'static,
        on_done: impl FnOnce() + Send + 'static,
    ) -> Self {
        let (sender, outcome) = mpsc::channel();
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(job).unwrap_or_else(|_| Err(format!("{what} crashed")));
            let _ = sender.send(result);
            on_done();
        });
        Self { outcome, what }
    }

    /// The outcome once the worker has finished, `None` while it runs.
    pub fn poll(&self) -> Option<Outcome<T>> {
        match self.outcome.try_recv() {
            Ok(outcome) => Some(outcome),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(format!("{} stopped without an answer", self.what))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait<T: Send + 'static>(job: &OneShot<T>) -> Outcome<T> {
        loop {
            if let Some(outcome) = job.poll() {
                return outcome;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn answers_once_with_the_value_or_the_crash() {
        let (tx, rx) = mpsc::channel();
        let job = OneShot::spawn("the sum", || Ok(2 + 2), move || tx.send(()).unwrap());
        assert_eq!(wait(&job), Ok(4));
        rx.recv().unwrap();
        let crash: OneShot<u8> = OneShot::spawn("the test job", || panic!("boom"), || {});
        assert_eq!(wait(&crash), Err("the test job crashed".to_string()));
    }
}
