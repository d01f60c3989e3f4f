//! The checked-in schemas and samples stay true to the types.
//!
//! Regenerate the schemas after changing a type with
//! `EVENTRAIL_BLESS=1 cargo test -p events --test catalog`.

use std::path::{Path, PathBuf};

use eventrail_contract::{CatalogEvent, CatalogIndex};
use events::{AnyAppEvent, Envelope, Event, PlaceOrder, Validate, catalog, place_order_schema};
use serde_json::Value;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("schema serialises");
    text.push('\n');
    text
}

fn schema_files() -> Vec<(String, Value)> {
    let mut files: Vec<(String, Value)> = catalog()
        .into_iter()
        .map(|entry| (format!("{}.json", entry.file_stem), (entry.detail_schema)()))
        .collect();
    files.push(("place-order-command.json".to_owned(), place_order_schema()));
    files
}

#[test]
fn checked_in_schemas_match_the_types() {
    let dir = crate_dir().join("schemas");
    let bless = std::env::var_os("EVENTRAIL_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, schema) in schema_files() {
        let path = dir.join(&name);
        let want = pretty(&schema);
        if bless {
            std::fs::write(&path, &want).expect("write schema");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(have) if have == want => {}
            _ => stale.push(name),
        }
    }
    assert!(
        stale.is_empty(),
        "stale or missing schemas in events/schemas: {stale:?}; regenerate with \
         `EVENTRAIL_BLESS=1 cargo test -p events --test catalog`"
    );
}

fn sample_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(crate_dir().join("samples"))
        .expect("samples dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
}

/// Decodes and validates `sample` as the catalog event its detail-type names.
fn decode_by_type(sample: &Value) -> Result<(), String> {
    let dt = sample["detail-type"].as_str().ok_or("no detail-type")?;
    let source = sample["source"].as_str().ok_or("no source")?;
    let entry = catalog()
        .into_iter()
        .find(|e| e.detail_type == dt)
        .ok_or_else(|| format!("unknown detail-type {dt}"))?;
    if entry.source != source {
        return Err(format!(
            "{source} does not publish {dt} ({} does)",
            entry.source
        ));
    }
    (entry.check_detail)(sample.get("detail").ok_or("no detail")?)
}

/// Decodes `sample` as the envelope of `E` and runs its validation.
fn decode_as<E: Event>(sample: &Value) -> Result<(), String> {
    let detail = sample.get("detail").ok_or("no detail")?.clone();
    let envelope: Envelope<E> = serde_json::from_value(detail).map_err(|e| e.to_string())?;
    envelope.validate().map_err(|e| e.to_string())
}

/// The catalog index tools read (`events/catalog.json`), generated from the types.
fn catalog_index() -> CatalogIndex {
    CatalogIndex {
        events: catalog()
            .into_iter()
            .map(|entry| CatalogEvent {
                detail_type: entry.detail_type.to_owned(),
                source: entry.source.to_owned(),
                version: entry.version,
                schema: format!("schemas/{}.json", entry.file_stem),
            })
            .collect(),
    }
}

#[test]
fn checked_in_catalog_index_matches_the_types() {
    let path = crate_dir().join("catalog.json");
    // Serialised from the struct, not a `Value`: field order does not depend on serde_json's
    // `preserve_order` feature.
    let mut want = serde_json::to_string_pretty(&catalog_index()).expect("index serialises");
    want.push('\n');
    if std::env::var_os("EVENTRAIL_BLESS").is_some() {
        std::fs::write(&path, &want).expect("write catalog index");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "events/catalog.json is stale or missing; regenerate with \
         `EVENTRAIL_BLESS=1 cargo test -p events --test catalog`"
    );
}

#[test]
fn every_sample_is_a_full_envelope_that_decodes_into_its_type() {
    let samples = sample_paths();
    assert!(
        samples.len() >= catalog().len(),
        "expected at least one sample per event"
    );
    for path in samples {
        let sample = read_json(&path);
        for field in [
            "version",
            "id",
            "detail-type",
            "source",
            "account",
            "time",
            "region",
            "resources",
            "detail",
        ] {
            assert!(
                sample.get(field).is_some(),
                "{}: missing envelope field {field}",
                path.display()
            );
        }
        decode_by_type(&sample).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(decode_as::<AnyAppEvent>(&sample).is_ok());
    }
}

#[test]
fn every_sample_validates_against_its_schema_file() {
    let entries = catalog();
    for path in sample_paths() {
        let sample = read_json(&path);
        let dt = sample["detail-type"].as_str().expect("detail-type");
        let entry = entries
            .iter()
            .find(|e| e.detail_type == dt)
            .expect("catalog entry");
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(
            name.starts_with(entry.file_stem),
            "{name}: file name should start with {}",
            entry.file_stem
        );
        let schema = read_json(
            &crate_dir()
                .join("schemas")
                .join(format!("{}.json", entry.file_stem)),
        );
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(&sample["detail"])
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

/// Each sample's `detail` with its metadata changed by `edit`.
fn with_metadata(sample: &Value, edit: impl Fn(&mut serde_json::Map<String, Value>)) -> Value {
    let mut sample = sample.clone();
    if let Some(metadata) = sample["detail"]["metadata"].as_object_mut() {
        edit(metadata);
    }
    sample
}

/// The checked-in schema of the sample's event.
fn schema_of(sample: &Value) -> Value {
    let dt = sample["detail-type"].as_str().expect("detail-type");
    let entry = catalog()
        .into_iter()
        .find(|e| e.detail_type == dt)
        .expect("catalog entry");
    read_json(
        &crate_dir()
            .join("schemas")
            .join(format!("{}.json", entry.file_stem)),
    )
}

#[test]
fn metadata_with_or_without_trace_context_and_with_unknown_fields_stays_valid() {
    for path in sample_paths() {
        let sample = read_json(&path);
        let schema = schema_of(&sample);
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        let variants = [
            // An event from before tracing.
            with_metadata(&sample, |m| {
                m.remove("traceparent");
                m.remove("tracestate");
            }),
            with_metadata(&sample, |m| {
                m.insert(
                    "traceparent".into(),
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
                );
                m.insert("tracestate".into(), "eventrail=redrive".into());
            }),
            // A field a newer producer adds: consumers ignore it.
            with_metadata(&sample, |m| {
                m.insert("baggage".into(), serde_json::json!({"added": "later"}));
            }),
        ];
        for variant in variants {
            let name = path.display();
            decode_by_type(&variant).unwrap_or_else(|e| panic!("{name}: {e}"));
            let errors: Vec<String> = validator
                .iter_errors(&variant["detail"])
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:?}");
        }
        // The payload stays closed: an unknown field in `data` is still refused.
        let mut closed = sample.clone();
        if let Some(data) = closed["detail"]["data"].as_object_mut() {
            data.insert("unknown_field".into(), Value::Bool(true));
            assert!(decode_by_type(&closed).is_err(), "{}", path.display());
            assert!(!validator.is_valid(&closed["detail"]), "{}", path.display());
        }
    }
}

#[test]
fn every_catalog_event_has_a_sample() {
    let names: Vec<String> = sample_paths()
        .iter()
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
        .collect();
    for entry in catalog() {
        assert!(
            names
                .iter()
                .any(|n| n == &format!("{}.json", entry.file_stem)),
            "no sample events/samples/{}.json for {}",
            entry.file_stem,
            entry.detail_type
        );
    }
}

#[test]
fn commands_decode_and_the_invalid_one_names_its_field() {
    let dir = crate_dir().join("samples/commands");
    let schema = read_json(&crate_dir().join("schemas/place-order-command.json"));
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for entry in std::fs::read_dir(&dir).expect("commands dir") {
        let path = entry.expect("entry").path();
        let value = read_json(&path);
        assert!(validator.is_valid(&value), "{}: schema", path.display());
        let command: PlaceOrder = serde_json::from_value(value).expect("decodes");
        let result = command.validate();
        if path.ends_with("place-order-invalid.json") {
            assert_eq!(result.unwrap_err().field, "order.items[0].quantity");
        } else {
            result.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn poison_samples_fail_to_decode_or_validate() {
    let dir = crate_dir().join("samples/poison");
    for entry in std::fs::read_dir(&dir).expect("poison dir") {
        let path = entry.expect("entry").path();
        let sample = read_json(&path);
        assert!(
            decode_by_type(&sample).is_err(),
            "{} should be poison",
            path.display()
        );
    }
}

#[test]
fn consumers_map_names_every_sample() {
    let map = read_json(&crate_dir().join("consumers.json"));
    let map = map.as_object().expect("object");
    for path in sample_paths() {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(
            map.contains_key(name),
            "events/consumers.json has no entry for {name}"
        );
    }
}
