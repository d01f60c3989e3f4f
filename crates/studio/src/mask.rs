//! Personal data: the fields the catalog marks `x-personal` are shown as `"•••"` in every
//! view and search result unless the studio runs with `--show-personal`.

use std::collections::HashMap;

use eventrail_model::System;
use serde_json::Value;

use crate::Personal;

/// What a masked value is shown as.
pub(crate) const MASK: &str = "•••";

/// The personal paths of each detail-type (under `detail`, `[]` marking array elements).
#[derive(Debug, Clone, Default)]
pub(crate) struct Masks {
    personal: Personal,
    paths: HashMap<String, Vec<Vec<String>>>,
}

impl Masks {
    /// The masks of every catalog event of `system`.
    pub(crate) fn of_system(system: &System, personal: Personal) -> Self {
        let mut masks = Self {
            personal,
            paths: HashMap::new(),
        };
        for event in &system.app.catalog.events {
            for path in system.personal_paths(&event.detail_type) {
                masks.add(&event.detail_type, &path);
            }
        }
        masks
    }

    /// Marks `path` (under `detail`) of `detail_type` personal.
    pub(crate) fn add(&mut self, detail_type: &str, path: &str) {
        let steps = path
            .split('.')
            .flat_map(|part| {
                let name = part.trim_end_matches("[]");
                let arrays = (part.len() - name.len()) / 2;
                std::iter::once(name.to_owned()).chain(std::iter::repeat_n("[]".to_owned(), arrays))
            })
            .filter(|step| !step.is_empty())
            .collect();
        self.paths
            .entry(detail_type.to_owned())
            .or_default()
            .push(steps);
    }

    /// The personal paths of `detail_type` as the catalog writes them.
    #[allow(dead_code, reason = "the catalog page marks them")]
    pub(crate) fn paths_of(&self, detail_type: &str) -> Vec<String> {
        self.paths
            .get(detail_type)
            .into_iter()
            .flatten()
            .map(|steps| steps.join(".").replace(".[]", "[]"))
            .collect()
    }

    /// Whether the field at `path` (dotted from the event's top, `detail.data.customer.email`,
    /// as pattern explanations name fields) of a `detail_type` event is masked.
    pub(crate) fn hides(&self, detail_type: &str, path: &str) -> bool {
        let Some(inside) = path.strip_prefix("detail.") else {
            return false;
        };
        self.active()
            && self.paths.get(detail_type).is_some_and(|paths| {
                paths.iter().any(|steps| {
                    let named: Vec<&str> = steps
                        .iter()
                        .map(String::as_str)
                        .filter(|s| *s != "[]")
                        .collect();
                    let asked: Vec<&str> = inside.split('.').collect();
                    asked.starts_with(&named)
                })
            })
    }

    /// Whether events of `detail_type` have fields to mask (and masking is on).
    pub(crate) fn covers(&self, detail_type: &str) -> bool {
        self.active() && self.paths.contains_key(detail_type)
    }

    /// Whether anything is masked at all.
    pub(crate) fn active(&self) -> bool {
        self.personal == Personal::Masked
    }

    /// `event` (a whole EventBridge event) with its personal fields masked (unless shown).
    pub(crate) fn event(&self, mut event: Value) -> Value {
        if !self.active() {
            return event;
        }
        let Some(detail_type) = event.get("detail-type").and_then(Value::as_str) else {
            return event;
        };
        let Some(paths) = self.paths.get(detail_type) else {
            return event;
        };
        let paths = paths.clone();
        if let Some(detail) = event.get_mut("detail") {
            for steps in &paths {
                mask_at(detail, steps);
            }
        }
        event
    }
}

fn mask_at(value: &mut Value, steps: &[String]) {
    let Some((step, rest)) = steps.split_first() else {
        if !value.is_null() {
            *value = Value::String(MASK.to_owned());
        }
        return;
    };
    if step == "[]" {
        if let Value::Array(items) = value {
            for item in items {
                mask_at(item, rest);
            }
        }
    } else if let Some(child) = value.get_mut(step.as_str()) {
        mask_at(child, rest);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::store::{Query, Store};
    use crate::test_support::{event, get, state};

    fn masks(personal: Personal) -> Masks {
        let mut masks = Masks {
            personal,
            paths: HashMap::new(),
        };
        masks.add("Made", "data.who.email");
        masks.add("Made", "data.lines[].note");
        masks
    }

    fn made() -> Value {
        json!({"detail-type": "Made", "detail": {"data": {
            "who": {"email": "a@example.com", "id": "u-1"},
            "lines": [{"note": "ring twice", "n": 1}, {"n": 2}, {"note": null}],
            "total": 3
        }}})
    }

    #[test]
    fn masks_personal_fields_in_objects_and_arrays_only() {
        let masked = masks(Personal::Masked).event(made());
        assert_eq!(
            masked["detail"]["data"],
            json!({"who": {"email": MASK, "id": "u-1"},
                   "lines": [{"note": MASK, "n": 1}, {"n": 2}, {"note": null}],
                   "total": 3})
        );
        let other = json!({"detail-type": "Other", "detail": {"data": {"who": {"email": "x"}}}});
        assert_eq!(masks(Personal::Masked).event(other.clone()), other);
        assert_eq!(
            masks(Personal::Shown).event(made()),
            made(),
            "--show-personal"
        );
        assert_eq!(
            masks(Personal::Masked).paths_of("Made"),
            ["data.who.email", "data.lines[].note"]
        );
    }

    #[test]
    fn knows_which_explained_fields_are_hidden() {
        let masks = masks(Personal::Masked);
        assert!(masks.hides("Made", "detail.data.who.email"));
        assert!(masks.hides("Made", "detail.data.lines.note"));
        assert!(!masks.hides("Made", "detail.data.who.id"));
        assert!(!masks.hides("Other", "detail.data.who.email"));
        assert!(
            !Masks {
                personal: Personal::Shown,
                ..masks
            }
            .hides("Made", "detail.data.who.email")
        );
    }

    #[test]
    fn a_pattern_search_does_not_find_what_the_views_hide() {
        let store = Store::new(10, None);
        store.insert(
            &event(
                "e1",
                "Made",
                "c",
                None,
                json!({"who": {"email": "a@example.com"}}),
            ),
            1,
        );
        let query = |masks: Option<Masks>| Query {
            pattern: Some(
                eventrail_pattern::Pattern::parse(
                    r#"{"detail": {"data": {"who": {"email": [{"prefix": "a@"}]}}}}"#,
                )
                .unwrap(),
            ),
            masks: masks.map(Arc::new),
            ..Query::default()
        };
        assert!(
            store
                .search(&query(Some(masks(Personal::Masked))), 10)
                .events
                .is_empty()
        );
        assert_eq!(store.search(&query(None), 10).events.len(), 1);
    }

    /// The catalog marks fields personal; the event page shows them masked.
    #[tokio::test]
    async fn the_catalogs_personal_fields_are_masked_on_the_event_page() {
        let state = state("local", Personal::Masked).await;
        let samples = state.system.app.samples().unwrap();
        let (detail_type, path, sample) = samples
            .iter()
            .find_map(|(_, sample)| {
                let detail_type = sample["detail-type"].as_str()?;
                let path = state
                    .masks
                    .paths_of(detail_type)
                    .into_iter()
                    .find(|p| !p.contains("[]"))?;
                Some((detail_type.to_owned(), path, sample.clone()))
            })
            .expect("the catalog marks some field personal, and a sample carries it");
        let pointer = format!("/detail/{}", path.replace('.', "/"));
        let secret = sample
            .pointer(&pointer)
            .and_then(Value::as_str)
            .expect("a string there");
        let observed = eventrail_observe::ObservedEvent::from_value(sample.clone()).unwrap();
        state.store.insert(&observed, 1);
        let page = get(&state, &format!("/events/{}", observed.id)).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(MASK), "{detail_type} {path}");
        assert!(!page.body.contains(secret), "{detail_type}: {path} shown");

        let shown = crate::test_support::state("local", Personal::Shown).await;
        shown.store.insert(&observed, 1);
        let page = get(&shown, &format!("/events/{}", observed.id)).await;
        assert!(page.body.contains(secret), "--show-personal shows it");
    }
}
