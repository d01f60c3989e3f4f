//! Checking an event against the application's current catalog (its index and JSON
//! Schemas), before putting it on the bus or sending a dead letter through again.

use std::collections::BTreeMap;

use eventrail_contract::{CatalogIndex, Project};
use eventrail_model::schema::Schema;
use serde_json::Value;

use crate::error::{ObserveError, Result};

/// The catalog's event types and their schemas, loaded once.
#[derive(Debug)]
pub struct CatalogCheck {
    index: CatalogIndex,
    schemas: BTreeMap<String, Schema>,
}

impl CatalogCheck {
    /// Loads the catalog index and every schema it names.
    pub fn load(project: &Project) -> Result<Self> {
        let index = project.catalog().map_err(|e| ObserveError::Project {
            message: e.to_string(),
        })?;
        let folder = project
            .catalog_path()
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let mut schemas = BTreeMap::new();
        for event in &index.events {
            let schema =
                Schema::load(folder.join(&event.schema)).map_err(|e| ObserveError::Project {
                    message: e.to_string(),
                })?;
            schemas.insert(event.detail_type.clone(), schema);
        }
        Ok(Self { index, schemas })
    }

    /// The catalog index.
    pub fn index(&self) -> &CatalogIndex {
        &self.index
    }

    /// Checks an EventBridge envelope (`source`, `detail-type`, `detail`): the detail-type is
    /// in the catalog, the source is the one the catalog gives it, and the detail passes its
    /// schema. The error lists every problem, each naming its place.
    pub fn check(&self, event: &Value) -> Result<(), String> {
        let text = |name: &str| event.get(name).and_then(Value::as_str);
        let Some(detail_type) = text("detail-type") else {
            return Err("the event has no string `detail-type`".to_owned());
        };
        let Some(known) = self.index.event(detail_type) else {
            return Err(format!(
                "detail-type `{detail_type}` is not in the catalog (known: {})",
                self.index.known()
            ));
        };
        let mut problems = Vec::new();
        match text("source") {
            Some(source) if source == known.source => {}
            Some(source) => problems.push(format!(
                "source `{source}` is not `{}`, the catalog's source of {detail_type}",
                known.source
            )),
            None => problems.push("the event has no string `source`".to_owned()),
        }
        match (event.get("detail"), self.schemas.get(detail_type)) {
            (None, _) => problems.push("the event has no `detail`".to_owned()),
            (Some(detail), Some(schema)) => match schema.validate(detail) {
                Ok(errors) => problems.extend(
                    errors
                        .into_iter()
                        .map(|e| format!("detail fails the {detail_type} schema {e}")),
                ),
                Err(e) => problems.push(e.to_string()),
            },
            (Some(_), None) => {}
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}
