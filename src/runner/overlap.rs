//! Two feature files of one stage run as one cucumber run: the first shares one clear-down
//! ([`super::CLEARED_DOWN_ONCE`], the find negatives) and the second (stage 1's own
//! scenarios) starts beside it as soon as the data is cleared down. A scenario of the second
//! that uses a member or pension of one of the first's waits until the first's scenarios have
//! all finished, so that neither's registration can hide the other's (a provider need not
//! register a PeI twice); the others run from the start. Before, the second file started
//! only when the first had finished, and stage 1 waited out the negatives' 1.5 s watch before
//! its own 1.9 s of watches.
//!
//! At most `concurrency` scenarios are active at once: a scenario waiting for the clear-down
//! or for the first file sends nothing and holds no place, so a waiting one cannot keep out
//! the one it waits for.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cucumber::gherkin;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::shared_clear_down::SharedClearDown;
use crate::record::run::ScenarioKey;

/// The gate between the two files, shared by every scenario of the run.
#[derive(Debug)]
pub struct Overlap {
    /// The first file (as cucumber names it: canonical).
    first: PathBuf,
    clear_down: Arc<SharedClearDown>,
    /// How long a scenario waits for the clear-down before going on without it.
    clear_down_limit: Duration,
    /// The second file's scenarios (by case id, else name) that use a member or pension of
    /// the first's, and so wait for the first to finish.
    after_first: BTreeSet<String>,
    /// The first file's scenarios the run selected (counted as cucumber filters them, which
    /// it does for a whole file before running any of its scenarios) and those finished.
    first_selected: AtomicUsize,
    first_finished: watch::Sender<usize>,
    places: Arc<Semaphore>,
}

impl Overlap {
    pub fn new(
        first: PathBuf,
        clear_down: Arc<SharedClearDown>,
        clear_down_limit: Duration,
        after_first: BTreeSet<String>,
        concurrency: usize,
    ) -> Overlap {
        Overlap {
            first,
            clear_down,
            clear_down_limit,
            after_first,
            first_selected: AtomicUsize::new(0),
            first_finished: watch::Sender::new(0),
            places: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    fn is_first(&self, feature: &gherkin::Feature) -> bool {
        feature.path.as_deref() == Some(self.first.as_path())
    }

    /// Cucumber selected one of `feature`'s scenarios.
    pub fn selected(&self, feature: &gherkin::Feature) {
        if self.is_first(feature) {
            self.first_selected.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// One of `feature`'s scenarios has finished (its after hook).
    pub fn finished(&self, feature: &gherkin::Feature) {
        if self.is_first(feature) {
            self.first_finished.send_modify(|n| *n += 1);
        }
    }

    /// Wait until `scenario` may start, then take its place among the active ones (held
    /// until its after hook drops it). The clear-down's performer goes at once; the first
    /// file's others wait for its outcome (their Background step then records it); the
    /// second file's wait for it too, and those in `after_first` for the whole first file.
    /// A failed clear-down is the first file's scenarios' to report: the second's go on, as
    /// they did when they ran after it.
    pub async fn admit(
        &self,
        feature: &gherkin::Feature,
        scenario: &ScenarioKey,
    ) -> Option<OwnedSemaphorePermit> {
        if self.is_first(feature) {
            if *scenario != self.clear_down.by {
                let _ = self.clear_down.wait(self.clear_down_limit).await;
            }
        } else {
            tokio::select! {
                _ = self.clear_down.wait(self.clear_down_limit) => {}
                () = self.first_done() => {}
            }
            if self.after_first.contains(scenario.id()) {
                self.first_done().await;
            }
        }
        self.places.clone().acquire_owned().await.ok()
    }

    async fn first_done(&self) {
        let selected = self.first_selected.load(Ordering::SeqCst);
        let mut finished = self.first_finished.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = finished.wait_for(|done| *done >= selected).await;
    }
}

/// Where `path` is the file cucumber reads, as it names it in `gherkin::Feature::path`.
pub fn cucumber_path(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> ScenarioKey {
        ScenarioKey::new(Some(id), "f", id)
    }

    fn feature(path: &str) -> gherkin::Feature {
        let mut f = gherkin::Feature::parse(
            "Feature: f\n  Scenario: s\n    Given x\n",
            gherkin::GherkinEnv::default(),
        )
        .unwrap();
        f.path = Some(PathBuf::from(path));
        f
    }

    #[tokio::test]
    async fn the_second_file_waits_for_the_clear_down_and_sharers_for_the_whole_first_file() {
        let clear_down = Arc::new(SharedClearDown::new(key("FN-01")));
        let overlap = Arc::new(Overlap::new(
            PathBuf::from("/a.feature"),
            clear_down.clone(),
            Duration::from_secs(30),
            ["S1-01".to_owned()].into(),
            2,
        ));
        let (first, second) = (feature("/a.feature"), feature("/b.feature"));
        overlap.selected(&first);
        overlap.selected(&first);

        // The performer goes at once; everyone else waits for the clear-down.
        let performer = overlap.admit(&first, &key("FN-01")).await;
        assert!(performer.is_some());
        let spawn = |f: gherkin::Feature, id: &'static str| {
            let overlap = overlap.clone();
            tokio::spawn(async move { overlap.admit(&f, &key(id)).await })
        };
        let other = spawn(first.clone(), "FN-02");
        let early = spawn(second.clone(), "S1-05");
        tokio::task::yield_now().await;
        assert!(!other.is_finished() && !early.is_finished());
        early.abort(); // shown waiting; not wanted racing FN-02 for the last place
        clear_down.finish(Ok("cleared".into()));
        let other = other.await.unwrap();
        assert!(other.is_some());

        // Both places are taken by the first file: a free scenario of the second waits for a
        // place, a sharer for the first file's last scenario whatever places are free.
        let free = spawn(second.clone(), "S1-10");
        let sharer = spawn(second.clone(), "S1-01");
        tokio::task::yield_now().await;
        assert!(!free.is_finished() && !sharer.is_finished());
        drop(performer);
        overlap.finished(&first);
        let free = free.await.unwrap();
        assert!(free.is_some());
        drop(free);
        tokio::task::yield_now().await;
        assert!(!sharer.is_finished());
        overlap.finished(&first);
        drop(other);
        assert!(sharer.await.unwrap().is_some());
    }

    #[tokio::test]
    async fn with_nothing_selected_in_the_first_file_the_second_does_not_wait_for_a_clear_down() {
        let clear_down = Arc::new(SharedClearDown::new(key("FN-01")));
        let overlap = Overlap::new(
            PathBuf::from("/a.feature"),
            clear_down,
            Duration::from_secs(3600),
            ["S1-01".to_owned()].into(),
            1,
        );
        let second = feature("/b.feature");
        let admitted = tokio::time::timeout(
            Duration::from_secs(5),
            overlap.admit(&second, &key("S1-01")),
        )
        .await;
        assert!(matches!(admitted, Ok(Some(_))));
    }
}
