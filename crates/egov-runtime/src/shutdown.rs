//! Shutdown is a parameter: services take a [`CancellationToken`]-like handle
//! and only `main` installs signal handlers.

use tokio::sync::watch;

/// A cloneable signal that a service should stop. Cheap to clone and to poll.
#[derive(Clone, Debug)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// The sending half, kept by whoever decides when to stop (main, or a test).
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger { tx }, Shutdown { rx })
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        // send_replace never fails, even when every receiver is gone.
        self.tx.send_replace(true);
    }
}

impl Drop for ShutdownTrigger {
    fn drop(&mut self) {
        self.trigger();
    }
}

impl Shutdown {
    /// Completes once shutdown has been triggered (or its trigger dropped).
    pub async fn wait(&mut self) {
        // An error means the trigger is gone, which also means stop.
        let _ = self.rx.wait_for(|stop| *stop).await;
    }
}
