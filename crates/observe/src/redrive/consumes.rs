//! Which events a function consumes, so a redrive sends back no other under the operator's
//! identity.

use std::collections::BTreeSet;

use eventrail_contract::declaration::EVERY_EVENT;
use eventrail_contract::{CatalogIndex, Declaration, Invoke};
use serde_json::Value;

/// The events a function consumes, as its declaration says (`consumes`), with the sources
/// the catalog gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumes {
    /// `consumes = ["*"]`: every event of the application (a source with its prefix).
    EveryEvent {
        /// The application's source prefix (`eventrail.`).
        source_prefix: String,
    },
    /// These (source, detail-type) pairs. A declared detail-type the catalog does not know
    /// has no source, so no event of it is admitted.
    Listed(BTreeSet<(String, String)>),
    /// A function invoked directly (`invoke = "direct"`): it consumes no events of the bus.
    Direct,
}

impl Consumes {
    /// What `declaration` consumes, the sources taken from `catalog`.
    pub fn of(declaration: &Declaration, catalog: &CatalogIndex, source_prefix: &str) -> Self {
        if declaration.invoke == Invoke::Direct {
            return Self::Direct;
        }
        if declaration.consumes.iter().any(|c| c == EVERY_EVENT) {
            return Self::EveryEvent {
                source_prefix: source_prefix.to_owned(),
            };
        }
        Self::Listed(
            declaration
                .consumes
                .iter()
                .filter_map(|detail_type| catalog.event(detail_type))
                .map(|event| (event.source.clone(), event.detail_type.clone()))
                .collect(),
        )
    }

    /// Ok when the function consumes `event` (its `source` and `detail-type`); else why not,
    /// naming the event id, source and detail-type.
    pub fn admits(&self, function: &str, event: &Value) -> Result<(), String> {
        let text = |name: &str| event.get(name).and_then(Value::as_str);
        let (id, source, detail_type) = (text("id"), text("source"), text("detail-type"));
        let admitted = match (self, source, detail_type) {
            (_, None, _) | (_, _, None) | (Self::Direct, _, _) => false,
            (Self::EveryEvent { source_prefix }, Some(source), Some(_)) => {
                source.starts_with(source_prefix.as_str())
            }
            (Self::Listed(pairs), Some(source), Some(detail_type)) => {
                pairs.contains(&(source.to_owned(), detail_type.to_owned()))
            }
        };
        if admitted {
            return Ok(());
        }
        let shown = |v: Option<&str>| v.map_or_else(|| "none".to_owned(), |v| format!("`{v}`"));
        Err(format!(
            "refused: event {} (source {}, detail-type {}) is not an event {function} consumes \
             ({}); it is not sent to {function}",
            id.unwrap_or("without id"),
            shown(source),
            shown(detail_type),
            self.describe()
        ))
    }

    /// What the function consumes, for people.
    pub fn describe(&self) -> String {
        match self {
            Self::EveryEvent { source_prefix } => {
                format!("it consumes every event with a source starting `{source_prefix}`")
            }
            Self::Listed(pairs) if pairs.is_empty() => "it declares no catalog event".to_owned(),
            Self::Listed(pairs) => format!(
                "it consumes {}",
                pairs
                    .iter()
                    .map(|(source, detail_type)| format!("{detail_type} from {source}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Direct => "it is invoked directly and consumes no events".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn what_a_function_consumes_comes_from_its_declaration_and_the_catalog() {
        let catalog = CatalogIndex {
            events: ["TaskCreated", "TaskAssigned"]
                .into_iter()
                .map(|detail_type| eventrail_contract::CatalogEvent {
                    detail_type: detail_type.to_owned(),
                    source: "app.intake".to_owned(),
                    version: 1,
                    schema: String::new(),
                })
                .collect(),
        };
        let event = |source: &str, detail_type: &str| json!({"id": "e", "source": source, "detail-type": detail_type, "detail": {}});
        let declared = |consumes: &[&str], invoke: Invoke| Declaration {
            consumes: consumes.iter().map(|c| (*c).to_owned()).collect(),
            invoke,
            ..Declaration::default()
        };
        let listed = Consumes::of(&declared(&["TaskCreated"], Invoke::Rule), &catalog, "app.");
        assert_eq!(
            listed.admits("f", &event("app.intake", "TaskCreated")),
            Ok(())
        );
        assert!(
            listed
                .admits("f", &event("app.intake", "TaskAssigned"))
                .is_err()
        );
        assert!(
            listed
                .admits("f", &event("app.other", "TaskCreated"))
                .is_err()
        );
        assert!(
            listed
                .admits("f", &json!({"detail-type": "TaskCreated"}))
                .is_err()
        );
        let every = Consumes::of(&declared(&["*"], Invoke::Rule), &catalog, "app.");
        assert_eq!(every.admits("f", &event("app.any", "Anything")), Ok(()));
        assert!(
            every
                .admits("f", &event("other.any", "TaskCreated"))
                .is_err()
        );
        // Not in the catalog: no source is known, so nothing is admitted.
        let unknown = Consumes::of(&declared(&["Gone"], Invoke::Rule), &catalog, "app.");
        assert!(unknown.admits("f", &event("app.intake", "Gone")).is_err());
        let direct = Consumes::of(&declared(&[], Invoke::Direct), &catalog, "app.");
        let reason = direct
            .admits("f", &event("app.intake", "TaskCreated"))
            .unwrap_err();
        assert!(reason.contains("invoked directly"), "{reason}");
    }
}
