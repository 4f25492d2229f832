//! Asking a run to stop: a signal (SIGINT, SIGTERM), `serve`'s client going away, or the
//! midnight guard before the reporting stage. The runner starts no further scenario once asked,
//! abandons the one in progress, and seals what it recorded as INTERRUPTED with the reason.

use std::sync::Arc;

use tokio::sync::watch;

/// A shared "stop, because ..." flag; clones see the same flag. The first reason wins.
#[derive(Clone)]
pub struct Stop(Arc<watch::Sender<Option<String>>>);

impl Default for Stop {
    fn default() -> Stop {
        Stop(Arc::new(watch::channel(None).0))
    }
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Stop").field(&self.reason()).finish()
    }
}

impl Stop {
    /// A flag nobody has raised yet.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Ask the run to stop; returns false when it had already been asked (the reason is kept).
    pub fn request(&self, reason: impl Into<String>) -> bool {
        let reason = reason.into();
        self.0.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(reason);
                true
            } else {
                false
            }
        })
    }

    /// Why the run was asked to stop, if it was.
    pub fn reason(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    /// Resolves with the reason once the run is asked to stop.
    pub async fn requested(&self) -> String {
        let mut rx = self.0.subscribe();
        // The guard is dropped before any further await (it is not `Send`).
        let reason = rx.wait_for(Option::is_some).await.ok().map(|r| r.clone());
        match reason {
            Some(reason) => reason.unwrap_or_default(),
            // The sender lives in `self`, so this cannot close while we wait.
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_reason_wins_and_wakes_waiters() {
        let stop = Stop::new();
        assert_eq!(stop.reason(), None);
        let waiter = {
            let stop = stop.clone();
            tokio::spawn(async move { stop.requested().await })
        };
        assert!(stop.request("SIGINT"));
        assert!(!stop.request("SIGTERM"));
        assert_eq!(waiter.await.ok(), Some("SIGINT".to_owned()));
        assert_eq!(stop.reason().as_deref(), Some("SIGINT"));
    }
}
