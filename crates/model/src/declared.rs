//! What the functions' declarations imply on their own, before any template is written: the
//! event pattern of each consumer's rule, the sources each producer may put, and the source
//! pattern of the whole app. Generation writes these into the template; the system model
//! computes its declared rules from them.

use eventrail_contract::{AppSettings, CatalogIndex, FunctionDeclaration};
use serde_json::Value;

/// A declaration that cannot be turned into rules or resources; names the manifest (or the
/// template) and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct GenerateError {
    /// The manifest or template at fault.
    pub file: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// The error of function `f`'s declaration: names its manifest.
pub fn function_error(f: &FunctionDeclaration, message: String) -> GenerateError {
    GenerateError {
        file: f.dir.join("Cargo.toml").display().to_string(),
        message,
    }
}

/// The event pattern of a consumer's rule: the sources and detail-types of what it consumes
/// (every source with the app's prefix for `["*"]`), plus its `filter` on `detail`.
pub fn rule_pattern(
    f: &FunctionDeclaration,
    catalog: &CatalogIndex,
    settings: &AppSettings,
) -> Result<Value, GenerateError> {
    let d = &f.declaration;
    let mut pattern = serde_json::Map::new();
    if d.consumes_everything() {
        pattern.insert(
            "source".to_owned(),
            serde_json::json!([{ "prefix": settings.source_prefix }]),
        );
    } else {
        let mut sources: Vec<String> = Vec::new();
        for detail_type in &d.consumes {
            let event = catalog.event(detail_type).ok_or_else(|| {
                function_error(
                    f,
                    format!(
                        "[package.metadata.eventrail] consumes `{detail_type}`, which is not in the \
                         catalog ({}); known: {}. Add it with `eventrail new event`",
                        settings.catalog,
                        catalog.known()
                    ),
                )
            })?;
            if !sources.contains(&event.source) {
                sources.push(event.source.clone());
            }
        }
        pattern.insert("source".to_owned(), serde_json::json!(sources));
        pattern.insert("detail-type".to_owned(), serde_json::json!(d.consumes));
    }
    if let Some(filter) = &d.filter {
        pattern.insert("detail".to_owned(), filter.clone());
    }
    Ok(Value::Object(pattern))
}

/// Sources a function may put: the sources of the catalog events it emits.
pub fn emitted_sources(
    f: &FunctionDeclaration,
    catalog: &CatalogIndex,
    settings: &AppSettings,
) -> Result<Vec<String>, GenerateError> {
    let mut sources = Vec::new();
    for detail_type in &f.declaration.emits {
        let event = catalog.event(detail_type).ok_or_else(|| {
            function_error(
                f,
                format!(
                    "[package.metadata.eventrail] emits `{detail_type}`, which is not in the catalog \
                     ({}); known: {}. Add it with `eventrail new event`",
                    settings.catalog,
                    catalog.known()
                ),
            )
        })?;
        if !sources.contains(&event.source) {
            sources.push(event.source.clone());
        }
    }
    Ok(sources)
}
/// The `events:source` pattern of every source of the app: its source prefix and `*`.
pub fn app_sources_pattern(settings: &AppSettings) -> String {
    format!("{}*", settings.source_prefix)
}
