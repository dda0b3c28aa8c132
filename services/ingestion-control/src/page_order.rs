//! The pages of each run that this process is importing at the same time (ADR-037).
//!
//! A fetcher may send a run's next page before the current one is answered
//! (`RecordPageRequest.page_index`). Both pages import at once, each in its own
//! transaction, and PostgreSQL orders their commits: a page holds an advisory lock on
//! its place in the run, and the page after it waits for that lock before it counts
//! itself (`db::runs::lock_page`, `await_page`). Every wait between two pages is one
//! PostgreSQL can see, so its deadlock detector sees every cycle.
//!
//! This registry adds what PostgreSQL cannot tell a page before the page ahead of it
//! commits: which of its records share a key with a page still in flight here. Those
//! records import after that page has ended, so the two transactions do not wait on
//! each other's uncommitted papers. It is an optimisation only: a page whose
//! predecessor went to another replica imports all its records at once, and the unique
//! indexes still decide.

use crate::domain::records::ImportRecord;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

/// How long a page waits for the page ahead of it to arrive here. A fetcher sends the
/// page ahead first, but two pages sent back to back may be read in either order; a
/// page that went ahead without knowing its predecessor's keys could insert a paper
/// that predecessor must insert, and the two transactions would wait on each other
/// until PostgreSQL's deadlock detector broke the cycle (a second, and a page done
/// again). The wait ends as soon as the predecessor arrives; it lasts the whole grace
/// only when the predecessor is elsewhere (another replica, not sent yet) or committed
/// and left between this page's read of the run and its arrival here.
pub const ARRIVAL_GRACE: Duration = Duration::from_millis(50);

/// A record's identifying key (kind and value), hashed. Two keys that collide only
/// make a record wait for the page ahead without need.
pub type KeyHash = u64;

/// The hashes of every key the records carry.
pub fn page_keys(records: &[ImportRecord]) -> HashSet<KeyHash> {
    let mut keys = HashSet::with_capacity(records.len() * 3);
    for r in records {
        keys.extend(record_keys(r));
    }
    keys
}

fn record_keys(r: &ImportRecord) -> impl Iterator<Item = KeyHash> + '_ {
    [
        &r.doi,
        &r.openalex_id,
        &r.pmid,
        &r.pmcid,
        &r.arxiv_id,
        &r.s2_id,
    ]
    .into_iter()
    .enumerate()
    .filter_map(|(kind, value)| {
        value.as_deref().map(|v| {
            let mut h = DefaultHasher::new();
            (kind, v).hash(&mut h);
            h.finish()
        })
    })
}

/// Whether the record names a key of a page ahead, and so must import after it.
pub fn waits_for(record: &ImportRecord, ahead: &[Arc<HashSet<KeyHash>>]) -> bool {
    record_keys(record).any(|k| ahead.iter().any(|keys| keys.contains(&k)))
}

#[derive(Default)]
pub struct InFlightPages {
    runs: Mutex<HashMap<Uuid, BTreeMap<u64, Entry>>>,
    /// Woken whenever a page enters or leaves.
    changed: Notify,
}

struct Entry {
    keys: Arc<HashSet<KeyHash>>,
    locked: watch::Receiver<bool>,
}

/// What a page learns of the pages ahead of it in the same run, in this process.
pub struct Ahead {
    /// The keys of every page ahead still in flight.
    pub keys: Vec<Arc<HashSet<KeyHash>>>,
    /// Becomes true once the page just ahead holds its place lock (or its sender is
    /// gone: that page ended).
    pub previous_locked: Option<watch::Receiver<bool>>,
}

impl Ahead {
    /// Waits until the page just ahead holds its place lock, so that waiting for that
    /// lock means waiting for its transaction.
    pub async fn previous_locked(&mut self) {
        if let Some(rx) = self.previous_locked.as_mut() {
            // An error means the page ahead ended: nothing to wait for.
            let _ = rx.wait_for(|locked| *locked).await;
        }
    }
}

/// A page's place in the registry; leaving it (on drop) removes the page.
pub struct PageTicket {
    registry: Arc<InFlightPages>,
    run: Uuid,
    index: u64,
    locked: watch::Sender<bool>,
}

impl PageTicket {
    /// The page now holds its place lock.
    pub fn locked(&self) {
        self.locked.send_replace(true);
    }
}

impl Drop for PageTicket {
    fn drop(&mut self) {
        let mut runs = self.registry.runs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pages) = runs.get_mut(&self.run) {
            pages.remove(&self.index);
            if pages.is_empty() {
                runs.remove(&self.run);
            }
        }
        drop(runs);
        self.registry.changed.notify_waiters();
    }
}

impl InFlightPages {
    /// Registers page `index` of `run`. A page whose predecessor is not known to be
    /// recorded (`after_unrecorded`) first waits up to `grace` for it to arrive here.
    /// `None`: that page is already in flight here (a retry that overtook the first
    /// attempt).
    pub async fn enter(
        self: &Arc<Self>,
        run: Uuid,
        index: u64,
        keys: HashSet<KeyHash>,
        after_unrecorded: bool,
        grace: Duration,
    ) -> Option<(PageTicket, Ahead)> {
        let deadline = tokio::time::Instant::now() + grace;
        let mut keys = Some(keys);
        loop {
            // Registered before the check, so an arrival in between is not missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let waited_enough = !after_unrecorded || tokio::time::Instant::now() >= deadline;
            if let Some(entered) = self.try_enter(run, index, &mut keys, waited_enough) {
                return entered;
            }
            let _ = tokio::time::timeout_at(deadline, changed).await;
        }
    }

    /// `Some(None)`: the page is in flight already; `None`: wait for its predecessor.
    fn try_enter(
        self: &Arc<Self>,
        run: Uuid,
        index: u64,
        keys: &mut Option<HashSet<KeyHash>>,
        waited_enough: bool,
    ) -> Option<Option<(PageTicket, Ahead)>> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let pages = runs.entry(run).or_default();
        if pages.contains_key(&index) {
            return Some(None);
        }
        let previous = index.checked_sub(1).and_then(|p| pages.get(&p));
        if previous.is_none() && !waited_enough {
            if pages.is_empty() {
                runs.remove(&run);
            }
            return None;
        }
        let ahead = Ahead {
            keys: pages.range(..index).map(|(_, e)| e.keys.clone()).collect(),
            previous_locked: previous.map(|e| e.locked.clone()),
        };
        let (tx, rx) = watch::channel(false);
        pages.insert(
            index,
            Entry {
                keys: Arc::new(keys.take().unwrap_or_default()),
                locked: rx,
            },
        );
        drop(runs);
        self.changed.notify_waiters();
        Some(Some((
            PageTicket {
                registry: self.clone(),
                run,
                index,
                locked: tx,
            },
            ahead,
        )))
    }

    /// Pages in flight, over all runs (for tests).
    pub fn len(&self) -> usize {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZERO: Duration = Duration::ZERO;

    fn record(doi: Option<&str>, pmid: Option<&str>) -> ImportRecord {
        ImportRecord {
            title: "t".into(),
            abstract_text: None,
            authors: vec![],
            publication_date: None,
            date_precision: None,
            venue: None,
            doi: doi.map(str::to_owned),
            openalex_id: None,
            pmid: pmid.map(str::to_owned),
            pmcid: None,
            arxiv_id: None,
            s2_id: None,
            url: None,
            citation_count: None,
        }
    }

    #[test]
    fn a_record_waits_only_for_a_key_of_the_same_kind_and_value_ahead() {
        let ahead = vec![Arc::new(page_keys(&[record(Some("10.1/a"), Some("1"))]))];
        assert!(waits_for(&record(Some("10.1/a"), None), &ahead));
        assert!(waits_for(&record(None, Some("1")), &ahead));
        assert!(!waits_for(&record(Some("10.1/b"), Some("2")), &ahead));
        // The same value under another kind of key is another key.
        assert!(!waits_for(&record(None, Some("10.1/a")), &ahead));
        assert!(!waits_for(&record(None, None), &ahead));
    }

    #[tokio::test]
    async fn a_page_sees_the_keys_of_pages_ahead_and_leaves_on_drop() {
        let pages = Arc::new(InFlightPages::default());
        let run = Uuid::new_v4();
        let (first, ahead0) = pages
            .enter(
                run,
                4,
                page_keys(&[record(Some("10.1/a"), None)]),
                false,
                ZERO,
            )
            .await
            .expect("first page enters");
        assert!(ahead0.keys.is_empty() && ahead0.previous_locked.is_none());
        let again = pages.enter(run, 4, HashSet::new(), false, ZERO).await;
        assert!(again.is_none(), "a page is in flight once");

        let (second, mut ahead1) = pages
            .enter(run, 5, HashSet::new(), true, ZERO)
            .await
            .expect("next page");
        assert_eq!(ahead1.keys.len(), 1);
        assert!(!*ahead1.previous_locked.as_ref().unwrap().borrow());
        first.locked();
        ahead1.previous_locked().await;

        // Another run's pages are apart.
        let (_other, ahead_other) = pages
            .enter(Uuid::new_v4(), 5, HashSet::new(), false, ZERO)
            .await
            .unwrap();
        assert!(ahead_other.keys.is_empty());

        drop(first);
        drop(second);
        assert_eq!(pages.len(), 1);
    }

    #[tokio::test]
    async fn waiting_for_a_page_that_ended_without_its_lock_returns() {
        let pages = Arc::new(InFlightPages::default());
        let run = Uuid::new_v4();
        let (first, _) = pages
            .enter(run, 0, HashSet::new(), false, ZERO)
            .await
            .unwrap();
        let (_second, mut ahead) = pages
            .enter(run, 1, HashSet::new(), true, ZERO)
            .await
            .unwrap();
        drop(first);
        ahead.previous_locked().await;
    }

    #[tokio::test]
    async fn a_page_read_before_its_predecessor_waits_for_it_and_sees_its_keys() {
        let pages = Arc::new(InFlightPages::default());
        let run = Uuid::new_v4();
        let early = {
            let pages = pages.clone();
            tokio::spawn(async move {
                pages
                    .enter(run, 8, HashSet::new(), true, Duration::from_secs(30))
                    .await
                    .map(|(ticket, ahead)| (ticket, ahead.keys.len()))
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!early.is_finished(), "page 8 waits for page 7");
        let keys = page_keys(&[record(Some("10.1/a"), None)]);
        let (_seventh, _) = pages.enter(run, 7, keys, false, ZERO).await.unwrap();
        let (_eighth, keys_ahead) = early.await.unwrap().expect("page 8 enters");
        assert_eq!(keys_ahead, 1, "page 8 knows page 7's keys");
    }

    #[tokio::test]
    async fn a_page_whose_predecessor_never_arrives_enters_after_the_grace() {
        let pages = Arc::new(InFlightPages::default());
        let (_ticket, ahead) = pages
            .enter(
                Uuid::new_v4(),
                3,
                HashSet::new(),
                true,
                Duration::from_millis(10),
            )
            .await
            .expect("enters after the grace");
        assert!(ahead.keys.is_empty() && ahead.previous_locked.is_none());
    }
}
