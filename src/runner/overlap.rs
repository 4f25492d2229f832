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
//!
//! Every step has its own limit, so the first file always finishes; still, a scenario waiting
//! for it gives up (and fails, sending nothing) once none of its scenarios has finished for
//! [`Overlap::new`]'s `stall_limit`: a fault of the harness then costs a bounded wait, not a
//! run that never ends.

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
    /// How long a scenario waiting for the first file waits for one of its scenarios to
    /// finish before giving up.
    stall_limit: Duration,
    places: Arc<Semaphore>,
}

/// Why a scenario of the second file did not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "{scenario} uses a member or pension of the scenarios of {first} and waits for them to finish; none of them finished for {:.0} s ({finished} of {selected} finished), so it did not start",
    stalled.as_secs_f64()
)]
pub struct FirstFileStalled {
    pub scenario: String,
    pub first: String,
    pub stalled: Duration,
    pub finished: usize,
    pub selected: usize,
}

impl Overlap {
    pub fn new(
        first: PathBuf,
        clear_down: Arc<SharedClearDown>,
        clear_down_limit: Duration,
        after_first: BTreeSet<String>,
        stall_limit: Duration,
        concurrency: usize,
    ) -> Overlap {
        Overlap {
            first,
            clear_down,
            clear_down_limit,
            after_first,
            first_selected: AtomicUsize::new(0),
            first_finished: watch::Sender::new(0),
            stall_limit,
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
    /// they did when they ran after it. One in `after_first` whose wait stalls is refused.
    pub async fn admit(
        &self,
        feature: &gherkin::Feature,
        scenario: &ScenarioKey,
    ) -> Result<Option<OwnedSemaphorePermit>, FirstFileStalled> {
        if self.is_first(feature) {
            if *scenario != self.clear_down.by {
                let _ = self.clear_down.wait(self.clear_down_limit).await;
            }
        } else {
            tokio::select! {
                _ = self.clear_down.wait(self.clear_down_limit) => {}
                _ = self.first_done() => {}
            }
            if self.after_first.contains(scenario.id()) {
                self.first_done()
                    .await
                    .map_err(|(finished, selected)| FirstFileStalled {
                        scenario: scenario.label(),
                        // Its file name: the folder is the built-in features' temporary copy
                        // or the user's own, which they know.
                        first: self
                            .first
                            .file_name()
                            .unwrap_or(self.first.as_os_str())
                            .to_string_lossy()
                            .into_owned(),
                        stalled: self.stall_limit,
                        finished,
                        selected,
                    })?;
            }
        }
        Ok(self.places.clone().acquire_owned().await.ok())
    }

    /// Until every selected scenario of the first file has finished; `Err((finished,
    /// selected))` once none has finished for the stall limit.
    async fn first_done(&self) -> Result<(), (usize, usize)> {
        let selected = self.first_selected.load(Ordering::SeqCst);
        let mut finished = self.first_finished.subscribe();
        loop {
            let done = *finished.borrow_and_update();
            if done >= selected {
                return Ok(());
            }
            // The sender lives in `self`, so the channel cannot close while this waits.
            match tokio::time::timeout(self.stall_limit, finished.changed()).await {
                Ok(_) => {}
                Err(_) => return Err((done, selected)),
            }
        }
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
            Duration::from_secs(300),
            2,
        ));
        let (first, second) = (feature("/a.feature"), feature("/b.feature"));
        overlap.selected(&first);
        overlap.selected(&first);

        // The performer goes at once; everyone else waits for the clear-down.
        let performer = overlap.admit(&first, &key("FN-01")).await.unwrap();
        assert!(performer.is_some());
        let spawn = |f: gherkin::Feature, id: &'static str| {
            let overlap = overlap.clone();
            tokio::spawn(async move { overlap.admit(&f, &key(id)).await.unwrap() })
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
            Duration::from_secs(300),
            1,
        );
        let second = feature("/b.feature");
        let admitted = tokio::time::timeout(
            Duration::from_secs(5),
            overlap.admit(&second, &key("S1-01")),
        )
        .await;
        assert!(matches!(admitted, Ok(Ok(Some(_)))));
    }

    /// A sharer waits as long as the first file's scenarios keep finishing, however long that
    /// is in all, and gives up (refused, with no place) once none has finished for the stall
    /// limit. On tokio's paused clock: the test waits for nothing.
    #[tokio::test(start_paused = true)]
    async fn a_sharer_waits_while_the_first_file_progresses_and_is_refused_once_it_stalls() {
        let clear_down = Arc::new(SharedClearDown::new(key("FN-01")));
        clear_down.finish(Ok("cleared".into()));
        let overlap = Arc::new(Overlap::new(
            PathBuf::from("/a.feature"),
            clear_down,
            Duration::from_secs(30),
            ["S1-01".to_owned(), "S1-02".to_owned()].into(),
            Duration::from_secs(60),
            4,
        ));
        let (first, second) = (feature("/a.feature"), feature("/b.feature"));
        for _ in 0..3 {
            overlap.selected(&first);
        }
        let started = tokio::time::Instant::now();
        let spawn = |id: &'static str| {
            let (overlap, second) = (overlap.clone(), second.clone());
            tokio::spawn(async move { overlap.admit(&second, &key(id)).await })
        };

        // Progress every 50 s (under the 60 s limit): 100 s in all, and admitted.
        let patient = spawn("S1-01");
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_secs(50)).await;
            assert!(!patient.is_finished());
            overlap.finished(&first);
        }
        tokio::time::sleep(Duration::from_secs(50)).await;
        assert!(!patient.is_finished());
        let stalled = spawn("S1-02");
        // The last of the first file's scenarios never finishes: 60 s after the last that
        // did, S1-01 is refused; S1-02, 60 s after it began waiting.
        let refused = tokio::time::timeout(Duration::from_secs(3600), patient)
            .await
            .expect("refused within the stall limit, not left waiting")
            .unwrap()
            .unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(160));
        assert_eq!((refused.finished, refused.selected), (2, 3));
        assert!(
            refused.to_string().contains(
                "of the scenarios of a.feature and waits for them to finish; none of them finished for 60 s (2 of 3 finished)"
            ),
            "{refused}"
        );
        assert!(stalled.await.unwrap().is_err());
        assert_eq!(started.elapsed(), Duration::from_secs(210));

        // Once the last has finished, a sharer goes at once.
        overlap.finished(&first);
        let late = spawn("S1-02").await.unwrap();
        assert!(matches!(late, Ok(Some(_))));
        assert_eq!(started.elapsed(), Duration::from_secs(210));
    }
}
