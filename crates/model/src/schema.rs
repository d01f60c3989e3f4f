//! An event's JSON Schema (the `detail` of the catalog's events: draft 2020-12, `$defs`
//! and `$ref`, as schemars writes it) seen the way the tools need it: what a dotted field
//! path holds, the flattened field table, and validation of samples.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use eventrail_pattern::Domain;
use serde_json::Value;

/// How deep `$ref`s and nesting are followed (schemas are trees; this stops cycles).
const MAX_DEPTH: usize = 32;
/// The schema keyword the catalog marks a personal field with (`#[schemars(extend("x-personal" = true))]`).
pub const PERSONAL: &str = "x-personal";

/// A schema that cannot be read or compiled; names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct SchemaError {
    /// The schema file.
    pub file: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// One event's schema.
#[derive(Debug, Clone)]
pub struct Schema {
    file: PathBuf,
    root: Value,
}

/// What a field path of `detail` is, according to the schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The field exists.
    Found {
        /// The values a leaf may hold (empty: the field is an object, never a leaf).
        domains: Vec<Domain>,
        /// Present in every valid event (required at every level of the path).
        required: bool,
    },
    /// The schema has no such field.
    Missing {
        /// The part of the path that exists (`data.task`), empty at the top.
        parent: String,
        /// The first name that does not exist (`budgt_cents`).
        name: String,
        /// The names that do exist there, sorted.
        known: Vec<String>,
    },
}

impl Lookup {
    /// For a missing field, the known name closest to the misspelt one, if any is close.
    pub fn suggestion(&self) -> Option<&str> {
        let Lookup::Missing { name, known, .. } = self else {
            return None;
        };
        known
            .iter()
            .map(|k| (edit_distance(name, k), k))
            .filter(|(d, k)| *d <= 2.max(k.len() / 3))
            .min_by_key(|(d, _)| *d)
            .map(|(_, k)| k.as_str())
    }
}

/// One row of the field table: a field of `detail`, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaField {
    /// Dotted path (`data.task.items[].name`: `[]` marks the elements of an array).
    pub path: String,
    /// JSON types (`string`, `integer`, `null`, `object`, `array`), sorted.
    pub types: Vec<String>,
    /// Required in its object.
    pub required: bool,
    /// Allowed values (`enum`/`const`), if restricted.
    pub values: Option<Vec<Value>>,
    /// The schema's description.
    pub description: Option<String>,
    /// For an object: `additionalProperties: false` (an unknown field is rejected).
    pub closed: bool,
    /// Marked personal in the catalog (`"x-personal": true`): tools mask its value.
    pub personal: bool,
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

fn types_of(node: &Value) -> Vec<String> {
    match node.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

impl Schema {
    /// Reads a schema file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SchemaError> {
        let path = path.as_ref();
        let fail = |message: String| SchemaError {
            file: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let root: Value =
            serde_json::from_str(&text).map_err(|e| fail(format!("not JSON: {e}")))?;
        Self::from_value(root, path)
    }

    /// A schema given as JSON; `file` names it in messages.
    pub fn from_value(root: Value, file: impl AsRef<Path>) -> Result<Self, SchemaError> {
        let file = file.as_ref().to_owned();
        if !root.is_object() {
            return Err(SchemaError {
                file,
                message: "a schema must be a JSON object".to_owned(),
            });
        }
        Ok(Self { file, root })
    }

    /// The file it came from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The schema as JSON.
    pub fn json(&self) -> &Value {
        &self.root
    }

    /// The node a `$ref` points at (`#/$defs/Task`).
    fn target(&self, reference: &str) -> Option<&Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    /// The concrete variants of a node: `$ref`s followed, `anyOf`/`oneOf`/`allOf` expanded.
    fn variants<'a>(&'a self, node: &'a Value, depth: usize) -> Vec<&'a Value> {
        if depth > MAX_DEPTH {
            return vec![node];
        }
        let mut out = Vec::new();
        if let Some(target) = node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| self.target(r))
        {
            out.extend(self.variants(target, depth + 1));
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            if let Some(Value::Array(branches)) = node.get(key) {
                for branch in branches {
                    out.extend(self.variants(branch, depth + 1));
                }
            }
        }
        let own = node.as_object().is_some_and(|o| {
            o.contains_key("type")
                || o.contains_key("properties")
                || o.contains_key("items")
                || o.contains_key("enum")
                || o.contains_key("const")
        });
        if own || out.is_empty() {
            out.push(node);
        }
        out
    }

    /// Nodes of the field `name` under `node` (arrays are looked through, as EventBridge
    /// does), with whether it is required there. Empty when no variant has it.
    fn child<'a>(&'a self, node: &'a Value, name: &str, depth: usize) -> Vec<(&'a Value, bool)> {
        let mut out = Vec::new();
        for variant in self.variants(node, depth) {
            if let Some(child) = variant.get("properties").and_then(|p| p.get(name)) {
                let required = variant
                    .get("required")
                    .and_then(Value::as_array)
                    .is_some_and(|r| r.iter().any(|n| n == name));
                out.push((child, required));
            } else if let Some(items) = variant.get("items")
                && depth < MAX_DEPTH
            {
                // A field inside an array's elements: present only when the array is not empty.
                out.extend(
                    self.child(items, name, depth + 1)
                        .into_iter()
                        .map(|(c, _)| (c, false)),
                );
            }
        }
        out
    }

    /// Whether a node leaves its fields open (no `properties`, or `additionalProperties` not
    /// false): then an unknown name cannot be called missing.
    fn open(&self, node: &Value, depth: usize) -> bool {
        self.variants(node, depth).iter().any(|v| {
            let Some(object) = v.as_object() else {
                return true;
            };
            let typed = object.contains_key("type") || object.contains_key("$ref");
            let props = object.contains_key("properties") || object.contains_key("items");
            !typed && !props
        })
    }

    fn names(&self, node: &Value, depth: usize) -> Vec<String> {
        let mut names = BTreeSet::new();
        for variant in self.variants(node, depth) {
            if let Some(Value::Object(props)) = variant.get("properties") {
                names.extend(props.keys().cloned());
            }
            if let Some(items) = variant.get("items")
                && depth < MAX_DEPTH
            {
                names.extend(self.names(items, depth + 1));
            }
        }
        names.into_iter().collect()
    }

    fn domains(&self, node: &Value, depth: usize) -> Vec<Domain> {
        let mut out = Vec::new();
        for variant in self.variants(node, depth) {
            if let Some(Value::Array(values)) = variant.get("enum") {
                out.push(Domain::Values(values.clone()));
                continue;
            }
            if let Some(value) = variant.get("const") {
                out.push(Domain::Values(vec![value.clone()]));
                continue;
            }
            let types = types_of(variant);
            if types.is_empty() && variant.get("properties").is_none() {
                if let Some(items) = variant.get("items")
                    && depth < MAX_DEPTH
                {
                    out.extend(self.domains(items, depth + 1));
                } else {
                    out.push(Domain::Any);
                }
                continue;
            }
            for t in types {
                match t.as_str() {
                    "string" => out.push(Domain::String),
                    "integer" | "number" => out.push(Domain::Number {
                        minimum: variant
                            .get("minimum")
                            .or_else(|| variant.get("exclusiveMinimum"))
                            .and_then(Value::as_f64),
                        maximum: variant
                            .get("maximum")
                            .or_else(|| variant.get("exclusiveMaximum"))
                            .and_then(Value::as_f64),
                    }),
                    "boolean" => out.push(Domain::Boolean),
                    "null" => out.push(Domain::Null),
                    "array" => {
                        if let Some(items) = variant.get("items")
                            && depth < MAX_DEPTH
                        {
                            out.extend(self.domains(items, depth + 1));
                        } else {
                            out.push(Domain::Any);
                        }
                    }
                    _ => {} // an object is never a leaf
                }
            }
        }
        out
    }

    /// What the field at `path` (dotted, relative to `detail`) is.
    pub fn lookup(&self, path: &str) -> Lookup {
        let mut nodes: Vec<(&Value, bool)> = vec![(&self.root, true)];
        let mut walked: Vec<&str> = Vec::new();
        for name in path.split('.') {
            let mut next = Vec::new();
            for (node, required) in &nodes {
                if self.open(node, 0) {
                    return Lookup::Found {
                        domains: vec![Domain::Any],
                        required: false,
                    };
                }
                next.extend(
                    self.child(node, name, 0)
                        .into_iter()
                        .map(|(c, r)| (c, r && *required)),
                );
            }
            if next.is_empty() {
                let mut known = BTreeSet::new();
                for (node, _) in &nodes {
                    known.extend(self.names(node, 0));
                }
                return Lookup::Missing {
                    parent: walked.join("."),
                    name: name.to_owned(),
                    known: known.into_iter().collect(),
                };
            }
            walked.push(name);
            nodes = next;
        }
        let required = nodes.iter().all(|(_, r)| *r);
        let domains = nodes.iter().flat_map(|(n, _)| self.domains(n, 0)).collect();
        Lookup::Found { domains, required }
    }

    /// The paths of the fields marked personal (`"x-personal": true`), as [`Schema::fields`]
    /// writes them (`data.customer.email`, `data.lines[].note`).
    pub fn personal_paths(&self) -> Vec<String> {
        self.fields()
            .into_iter()
            .filter(|field| field.personal)
            .map(|field| field.path)
            .collect()
    }

    /// Every field of `detail`, depth first (properties in the order the JSON map keeps: sorted).
    pub fn fields(&self) -> Vec<SchemaField> {
        let mut out = Vec::new();
        self.collect(&self.root, "", 0, &mut out);
        out
    }

    fn collect(&self, node: &Value, prefix: &str, depth: usize, out: &mut Vec<SchemaField>) {
        if depth > MAX_DEPTH {
            return;
        }
        for variant in self.variants(node, depth) {
            let required: Vec<&str> = variant
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(Value::Object(props)) = variant.get("properties") {
                for (name, child) in props {
                    let path = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    if out.iter().any(|f| f.path == path) {
                        continue;
                    }
                    out.push(self.row(child, &path, required.contains(&name.as_str()), depth));
                    self.collect(child, &path, depth + 1, out);
                }
            }
            if let Some(items) = variant.get("items") {
                self.collect(items, &format!("{prefix}[]"), depth + 1, out);
            }
        }
    }

    fn row(&self, node: &Value, path: &str, required: bool, depth: usize) -> SchemaField {
        let variants = self.variants(node, depth);
        let mut types = BTreeSet::new();
        let mut values: Option<Vec<Value>> = None;
        let mut closed = false;
        let mut personal = node.get(PERSONAL) == Some(&Value::Bool(true));
        for v in &variants {
            personal |= v.get(PERSONAL) == Some(&Value::Bool(true));
            types.extend(types_of(v));
            if let Some(Value::Array(e)) = v.get("enum") {
                values
                    .get_or_insert_with(Vec::new)
                    .extend(e.iter().cloned());
            }
            if let Some(c) = v.get("const") {
                values.get_or_insert_with(Vec::new).push(c.clone());
            }
            closed |= v.get("additionalProperties") == Some(&Value::Bool(false));
        }
        let description = node
            .get("description")
            .or_else(|| variants.iter().find_map(|v| v.get("description")))
            .and_then(Value::as_str)
            .map(str::to_owned);
        SchemaField {
            path: path.to_owned(),
            types: types.into_iter().collect(),
            required,
            values,
            description,
            closed,
            personal,
        }
    }

    /// Whether the top-level object rejects unknown fields.
    pub fn closed_at(&self, path: &str) -> bool {
        if path.is_empty() {
            return self
                .variants(&self.root, 0)
                .iter()
                .any(|v| v.get("additionalProperties") == Some(&Value::Bool(false)));
        }
        self.fields()
            .iter()
            .find(|f| f.path == path)
            .is_some_and(|f| f.closed)
    }

    /// Validates `instance` (a `detail`); each error names the path inside it.
    pub fn validate(&self, instance: &Value) -> Result<Vec<String>, SchemaError> {
        let validator = jsonschema::validator_for(&self.root).map_err(|e| SchemaError {
            file: self.file.clone(),
            message: format!("not a valid JSON Schema: {e}"),
        })?;
        Ok(validator
            .iter_errors(instance)
            .map(|e| {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() { "/".to_owned() } else { at };
                format!("at {at}: {e}")
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::from_value(
            json!({
                "$defs": {
                    "Task": {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "budget_cents": {"type": "integer", "minimum": 0},
                            "currency": {"type": "string", "enum": ["EUR", "USD"]},
                            "note": {"type": ["string", "null"]},
                            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}}
                        },
                        "required": ["budget_cents", "currency", "items"]
                    },
                    "Item": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"]
                    }
                },
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "data": {"type": "object", "properties": {"task": {"$ref": "#/$defs/Task"}},
                             "required": ["task"]}
                },
                "required": ["data"]
            }),
            "task.json",
        )
        .unwrap()
    }

    #[test]
    fn lookups_follow_refs_and_arrays() {
        let s = schema();
        match s.lookup("data.task.budget_cents") {
            Lookup::Found { domains, required } => {
                assert!(required);
                assert_eq!(
                    domains,
                    vec![Domain::Number {
                        minimum: Some(0.0),
                        maximum: None
                    }]
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.lookup("data.task.items.name"),
            Lookup::Found {
                required: false,
                ..
            }
        ));
        assert!(matches!(
            s.lookup("data.task.note"),
            Lookup::Found { required: false, ref domains } if domains.len() == 2
        ));
        let missing = s.lookup("data.task.budgt_cents");
        assert_eq!(missing.suggestion(), Some("budget_cents"));
        match missing {
            Lookup::Missing { parent, name, .. } => {
                assert_eq!(
                    (parent.as_str(), name.as_str()),
                    ("data.task", "budgt_cents")
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.lookup("data.task.zzz").suggestion(), None);
    }

    #[test]
    fn field_table_and_validation() {
        let s = schema();
        let paths: Vec<String> = s.fields().into_iter().map(|f| f.path).collect();
        assert!(
            paths.contains(&"data.task.items[].name".to_owned()),
            "{paths:?}"
        );
        let currency = s
            .fields()
            .into_iter()
            .find(|f| f.path == "data.task.currency")
            .unwrap();
        assert_eq!(currency.values, Some(vec![json!("EUR"), json!("USD")]));
        let errors = s
            .validate(
                &json!({"data": {"task": {"budget_cents": "1", "currency": "EUR", "items": []}}}),
            )
            .unwrap();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("/data/task/budget_cents"), "{errors:?}");
    }

    #[test]
    fn personal_fields_are_the_ones_marked_x_personal_through_refs_and_arrays() {
        let schema = Schema::from_value(
            json!({
                "$defs": {"Who": {"type": "object", "properties": {
                    "email": {"type": "string", "x-personal": true},
                    "id": {"type": "string"}
                }}},
                "type": "object",
                "properties": {"data": {"type": "object", "properties": {
                    "who": {"$ref": "#/$defs/Who"},
                    "lines": {"type": "array", "items": {"type": "object", "properties": {
                        "note": {"type": "string", "x-personal": true},
                        "n": {"type": "integer"}
                    }}},
                    "total": {"type": "integer", "x-personal": false}
                }}}
            }),
            "who.json",
        )
        .unwrap();
        assert_eq!(
            schema.personal_paths(),
            ["data.lines[].note", "data.who.email"]
        );
    }
}
