//! The events the studio has seen, in the process's memory (nothing is written to disk): a
//! ring of the last `keep` events (100,000 by default; the oldest go first), indexed by
//! event id, correlation id, business key and detail-type, and searched with filters and any
//! EventBridge pattern (the pattern engine reads each candidate's stored JSON bytes).
//!
//! Memory: an event is its compact JSON bytes plus a few short strings (id, time, the
//! metadata ids); detail-types and sources are shared between events.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, RwLock};

use eventrail_observe::ObservedEvent;
use eventrail_pattern::Pattern;
use serde_json::Value;

use crate::mask::Masks;

/// How many events the store keeps unless told otherwise.
pub const DEFAULT_KEEP: usize = 100_000;

/// One stored event.
#[derive(Debug)]
pub(crate) struct StoredEvent {
    /// Arrival number in this run (the SSE id; the newest has the highest).
    pub seq: u64,
    /// When the tap received it (epoch milliseconds).
    pub received_ms: u64,
    /// EventBridge id.
    pub id: Box<str>,
    /// `detail-type`.
    pub detail_type: Arc<str>,
    /// `source`.
    pub source: Arc<str>,
    /// `time` as EventBridge wrote it.
    pub time: Box<str>,
    /// `detail.metadata.correlation_id`.
    pub correlation: Option<Box<str>>,
    /// `detail.metadata.causation_id`.
    pub causation: Option<Box<str>>,
    /// The app's business key, when the event carries it.
    pub business_key: Option<Box<str>>,
    /// `replay-name`, on an event an archive replay re-delivered.
    pub replay: Option<Box<str>>,
    /// How many causes up its flow's first kept event is (0: its cause is not kept).
    pub depth: u16,
    /// The whole event, compact JSON.
    raw: Box<[u8]>,
}

impl StoredEvent {
    /// The whole event as JSON bytes.
    pub(crate) fn json(&self) -> &[u8] {
        &self.raw
    }

    /// The whole event, parsed.
    pub(crate) fn value(&self) -> Value {
        serde_json::from_slice(&self.raw).unwrap_or(Value::Null)
    }

    /// Who emitted it: the source's part after the last dot.
    pub(crate) fn emitter(&self) -> &str {
        self.source
            .rsplit_once('.')
            .map_or(&*self.source, |(_, last)| last)
    }
}

/// What to look for.
#[derive(Debug, Default)]
pub(crate) struct Query {
    /// Exactly this detail-type.
    pub detail_type: Option<String>,
    /// Exactly this source.
    pub source: Option<String>,
    /// A correlation id or a business key.
    pub key: Option<String>,
    /// Events this pattern matches.
    pub pattern: Option<Pattern>,
    /// When set, the pattern sees the events masked (a search cannot find what a view hides).
    pub masks: Option<Arc<Masks>>,
}

impl Query {
    fn accepts(&self, event: &StoredEvent) -> bool {
        self.detail_type
            .as_deref()
            .is_none_or(|d| *event.detail_type == *d)
            && self.source.as_deref().is_none_or(|s| *event.source == *s)
            && self.key.as_deref().is_none_or(|k| {
                event.correlation.as_deref() == Some(k) || event.business_key.as_deref() == Some(k)
            })
            && self
                .pattern
                .as_ref()
                .is_none_or(|p| self.pattern_accepts(p, event))
    }

    fn pattern_accepts(&self, pattern: &Pattern, event: &StoredEvent) -> bool {
        match &self.masks {
            Some(masks) if masks.covers(&event.detail_type) => {
                pattern.matches(&masks.event(event.value()))
            }
            _ => pattern.matches_json(event.json()).unwrap_or(false),
        }
    }
}

/// A search's answer.
#[derive(Debug)]
pub(crate) struct Found {
    /// The events found, newest first (at most the limit asked).
    pub events: Vec<Arc<StoredEvent>>,
    /// Whether more matched than the limit.
    pub more: bool,
    /// How many events were looked at.
    pub scanned: usize,
}

/// The store (shared by the tap loop and every request).
#[derive(Debug)]
pub(crate) struct Store {
    keep: usize,
    business_key: Option<String>,
    ring: RwLock<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    next_seq: u64,
    events: VecDeque<Arc<StoredEvent>>,
    by_id: HashMap<Box<str>, u64>,
    by_correlation: HashMap<Box<str>, VecDeque<u64>>,
    by_business_key: HashMap<Box<str>, VecDeque<u64>>,
    by_detail_type: HashMap<Arc<str>, VecDeque<u64>>,
    names: HashSet<Arc<str>>,
}

impl Ring {
    fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(found) = self.names.get(name) {
            return found.clone();
        }
        let shared: Arc<str> = Arc::from(name);
        self.names.insert(shared.clone());
        shared
    }

    /// The event of sequence number `seq`, if still kept.
    fn at(&self, seq: u64) -> Option<&Arc<StoredEvent>> {
        let first = self.events.front()?.seq;
        let index = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.events.get(index)
    }

    fn evict_oldest(&mut self) {
        let Some(old) = self.events.pop_front() else {
            return;
        };
        if self.by_id.get(&old.id) == Some(&old.seq) {
            self.by_id.remove(&old.id);
        }
        if let Some(c) = &old.correlation {
            drop_front(&mut self.by_correlation, c, old.seq);
        }
        if let Some(k) = &old.business_key {
            drop_front(&mut self.by_business_key, k, old.seq);
        }
        drop_front(&mut self.by_detail_type, &old.detail_type, old.seq);
    }
}

/// Forgets `seq`, the oldest entry of `key` in `index` (and the key once it has none left).
fn drop_front<K: std::borrow::Borrow<str> + std::hash::Hash + Eq>(
    index: &mut HashMap<K, VecDeque<u64>>,
    key: &str,
    seq: u64,
) {
    if let Some(seqs) = index.get_mut(key) {
        if seqs.front() == Some(&seq) {
            seqs.pop_front();
        }
        if seqs.is_empty() {
            index.remove(key);
        }
    }
}

impl Store {
    /// An empty store keeping `keep` events (at least one); `business_key` names the app's
    /// business key field (see [`business_key_of`]).
    pub(crate) fn new(keep: usize, business_key: Option<String>) -> Self {
        Self {
            keep: keep.max(1),
            business_key,
            ring: RwLock::new(Ring::default()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Ring> {
        self.ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds an event received at `received_ms`; the oldest goes when the store is full.
    pub(crate) fn insert(&self, event: &ObservedEvent, received_ms: u64) -> Arc<StoredEvent> {
        let business_key = self
            .business_key
            .as_deref()
            .and_then(|field| business_key_of(&event.raw, field))
            .map(String::into_boxed_str);
        let raw = serde_json::to_vec(&event.raw)
            .unwrap_or_default()
            .into_boxed_slice();
        let mut ring = self.write();
        let seq = ring.next_seq;
        ring.next_seq += 1;
        let depth = event
            .causation_id
            .as_deref()
            .and_then(|cause| ring.by_id.get(cause))
            .and_then(|at| ring.at(*at))
            .map_or(0, |cause| cause.depth.saturating_add(1));
        let stored = Arc::new(StoredEvent {
            seq,
            received_ms,
            id: event.id.as_str().into(),
            detail_type: ring.intern(&event.detail_type),
            source: ring.intern(&event.source),
            time: event.time.as_str().into(),
            correlation: event.correlation_id.as_deref().map(Into::into),
            causation: event.causation_id.as_deref().map(Into::into),
            business_key,
            replay: event.replay_name.as_deref().map(Into::into),
            depth,
            raw,
        });
        while ring.events.len() >= self.keep {
            ring.evict_oldest();
        }
        ring.by_id.insert(stored.id.clone(), seq);
        if let Some(c) = &stored.correlation {
            ring.by_correlation
                .entry(c.clone())
                .or_default()
                .push_back(seq);
        }
        if let Some(k) = &stored.business_key {
            ring.by_business_key
                .entry(k.clone())
                .or_default()
                .push_back(seq);
        }
        ring.by_detail_type
            .entry(stored.detail_type.clone())
            .or_default()
            .push_back(seq);
        ring.events.push_back(stored.clone());
        stored
    }

    /// How many events are kept now.
    pub(crate) fn len(&self) -> usize {
        self.read().events.len()
    }

    /// How many events the store keeps at most.
    pub(crate) fn capacity(&self) -> usize {
        self.keep
    }

    /// The event with EventBridge id `id` (the latest delivery of it).
    pub(crate) fn get(&self, id: &str) -> Option<Arc<StoredEvent>> {
        let ring = self.read();
        let seq = *ring.by_id.get(id)?;
        ring.at(seq).cloned()
    }

    /// The events of one correlation id, in arrival order.
    pub(crate) fn flow(&self, correlation: &str) -> Vec<Arc<StoredEvent>> {
        let ring = self.read();
        ring.by_correlation
            .get(correlation)
            .into_iter()
            .flatten()
            .filter_map(|seq| ring.at(*seq).cloned())
            .collect()
    }

    /// The detail-types and sources seen, sorted (the filter form's choices).
    pub(crate) fn names(&self) -> (Vec<String>, Vec<String>) {
        let ring = self.read();
        let mut types: Vec<String> = ring.by_detail_type.keys().map(|k| k.to_string()).collect();
        let mut sources: Vec<String> = ring
            .events
            .iter()
            .map(|e| e.source.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .map(|s| s.to_string())
            .collect();
        types.sort();
        sources.sort();
        (types, sources)
    }

    /// The newest events `query` accepts, at most `limit`. An id index narrows the scan when
    /// the query names a key or a detail-type.
    pub(crate) fn search(&self, query: &Query, limit: usize) -> Found {
        let ring = self.read();
        let mut found = Found {
            events: Vec::new(),
            more: false,
            scanned: 0,
        };
        let consider = |event: &Arc<StoredEvent>, found: &mut Found| -> bool {
            found.scanned += 1;
            if query.accepts(event) {
                if found.events.len() == limit {
                    found.more = true;
                    return false;
                }
                found.events.push(event.clone());
            }
            true
        };
        if let Some(key) = query.key.as_deref() {
            let mut seqs: Vec<u64> = ring
                .by_correlation
                .get(key)
                .into_iter()
                .chain(ring.by_business_key.get(key))
                .flatten()
                .copied()
                .collect();
            seqs.sort_unstable_by(|a, b| b.cmp(a));
            seqs.dedup();
            for seq in seqs {
                if let Some(event) = ring.at(seq)
                    && !consider(event, &mut found)
                {
                    break;
                }
            }
        } else if let Some(detail_type) = query.detail_type.as_deref() {
            for seq in ring
                .by_detail_type
                .get(detail_type)
                .into_iter()
                .flatten()
                .rev()
            {
                if let Some(event) = ring.at(*seq)
                    && !consider(event, &mut found)
                {
                    break;
                }
            }
        } else {
            for event in ring.events.iter().rev() {
                if !consider(event, &mut found) {
                    break;
                }
            }
        }
        found
    }
}

/// The business key of `event`: `field` is a JSON pointer into `detail.data` (`/customer/id`)
/// or a field name, looked for in `detail.data` and, when not there, in the objects inside
/// it (depth first). Strings and numbers count.
pub(crate) fn business_key_of(event: &Value, field: &str) -> Option<String> {
    let data = event.pointer("/detail/data")?;
    let found = if field.starts_with('/') {
        data.pointer(field)
    } else {
        find_field(data, field, 0)
    };
    match found? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn find_field<'a>(value: &'a Value, field: &str, depth: usize) -> Option<&'a Value> {
    if depth > 8 {
        return None;
    }
    let object = value.as_object()?;
    if let Some(found) = object.get(field) {
        return Some(found);
    }
    object
        .values()
        .find_map(|child| find_field(child, field, depth + 1))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_support::event;

    fn pattern(text: &str) -> Option<Pattern> {
        Some(Pattern::parse(text).unwrap())
    }

    fn ids(found: &Found) -> Vec<&str> {
        found.events.iter().map(|e| &*e.id).collect()
    }

    #[test]
    fn keeps_the_newest_and_forgets_the_oldest_everywhere() {
        let store = Store::new(3, Some("ref".to_owned()));
        for n in 1..=5 {
            let data = json!({"ref": format!("k{}", n % 2), "n": n});
            store.insert(&event(&format!("e{n}"), "Made", "c", None, data), n);
        }
        assert_eq!((store.len(), store.capacity()), (3, 3));
        assert!(store.get("e1").is_none() && store.get("e2").is_none());
        assert_eq!(store.get("e3").map(|e| e.received_ms), Some(3));
        let flow: Vec<String> = store.flow("c").iter().map(|e| e.id.to_string()).collect();
        assert_eq!(flow, ["e3", "e4", "e5"]);
        let all = store.search(&Query::default(), 10);
        assert_eq!(ids(&all), ["e5", "e4", "e3"]);
        let by_key = store.search(
            &Query {
                key: Some("k0".to_owned()),
                ..Query::default()
            },
            10,
        );
        assert_eq!(ids(&by_key), ["e4"], "e2 was evicted from the key's index");
        let by_type = store.search(
            &Query {
                detail_type: Some("Made".to_owned()),
                ..Query::default()
            },
            10,
        );
        assert_eq!(by_type.events.len(), 3);
        let ring = store.read();
        assert_eq!(ring.by_id.len(), 3);
        assert_eq!(
            ring.by_business_key
                .values()
                .map(VecDeque::len)
                .sum::<usize>(),
            3
        );
        assert_eq!(ring.by_correlation.get("c").map(VecDeque::len), Some(3));
    }

    #[test]
    fn holds_a_hundred_thousand_events() {
        let store = Store::new(DEFAULT_KEEP, None);
        for n in 0..DEFAULT_KEEP + 10 {
            let id = format!("e{n}");
            let correlation = format!("c{}", n / 5);
            store.insert(&event(&id, "Made", &correlation, None, json!({"n": n})), 0);
        }
        assert_eq!(store.len(), DEFAULT_KEEP);
        assert!(store.get("e9").is_none());
        assert!(store.get("e10").is_some());
        assert_eq!(store.flow("c2").len(), 5);
        assert!(store.flow("c1").is_empty(), "its events were the oldest");
        let found = store.search(
            &Query {
                pattern: pattern(r#"{"detail": {"data": {"n": [{"numeric": ["<", 20]}]}}}"#),
                ..Query::default()
            },
            100,
        );
        assert_eq!(ids(&found).len(), 10, "e10..e19");
        assert!(!found.more);
    }

    #[test]
    fn searches_by_key_detail_type_source_and_pattern() {
        let store = Store::new(100, Some("/item/ref".to_owned()));
        store.insert(
            &event(
                "a1",
                "Asked",
                "c1",
                None,
                json!({"item": {"ref": "R-1"}, "total": 50}),
            ),
            1,
        );
        store.insert(
            &event("a2", "Given", "c1", Some("a1"), json!({"total": 500})),
            2,
        );
        store.insert(
            &event(
                "b1",
                "Asked",
                "c2",
                None,
                json!({"item": {"ref": "R-2"}, "total": 900}),
            ),
            3,
        );
        let search = |query: Query| {
            ids(&store.search(&query, 10))
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            search(Query {
                key: Some("c1".into()),
                ..Query::default()
            }),
            ["a2", "a1"]
        );
        assert_eq!(
            search(Query {
                key: Some("R-2".into()),
                ..Query::default()
            }),
            ["b1"]
        );
        assert_eq!(
            search(Query {
                detail_type: Some("Asked".into()),
                ..Query::default()
            }),
            ["b1", "a1"]
        );
        assert_eq!(
            search(Query {
                source: Some("app.maker".into()),
                ..Query::default()
            })
            .len(),
            3
        );
        assert!(
            search(Query {
                source: Some("other".into()),
                ..Query::default()
            })
            .is_empty()
        );
        let big = pattern(r#"{"detail": {"data": {"total": [{"numeric": [">", 100]}]}}}"#);
        assert_eq!(
            search(Query {
                pattern: big,
                ..Query::default()
            }),
            ["b1", "a2"]
        );
        let asked_big = Query {
            detail_type: Some("Asked".into()),
            pattern: pattern(r#"{"detail": {"data": {"total": [{"numeric": [">", 100]}]}}}"#),
            ..Query::default()
        };
        assert_eq!(search(asked_big), ["b1"]);
        let limited = store.search(&Query::default(), 2);
        assert!(limited.more);
        assert_eq!(ids(&limited), ["b1", "a2"]);
        assert_eq!(store.get("a2").map(|e| e.depth), Some(1), "under a1");
        assert_eq!(store.get("a1").map(|e| e.depth), Some(0));
    }

    #[test]
    fn finds_the_business_key_by_name_or_pointer() {
        let e = json!({"detail": {"data": {"line": {"ref": 7}, "other": "x"}}});
        assert_eq!(business_key_of(&e, "ref").as_deref(), Some("7"));
        assert_eq!(business_key_of(&e, "/line/ref").as_deref(), Some("7"));
        assert_eq!(business_key_of(&e, "missing"), None);
        assert_eq!(business_key_of(&e, "line"), None, "an object is no key");
    }
}
