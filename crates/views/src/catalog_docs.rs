//! The event catalog as Markdown (`eventrail catalog`): one page per event (source,
//! detail-type, version, the schema as a field table, a sample, its producers and consumers
//! with their rules and filters, its place in the graph) and an index. Derived from the
//! system every time, so it is never stale.

use std::path::Path;

use eventrail_contract::{CatalogEvent, FunctionDeclaration};
use serde_json::Value;

use eventrail_model::triggers::batching_text;
use eventrail_model::{AppError, FunctionTrigger, System};

use crate::flow::{Focus, Graph};

/// One generated page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// File name (`<schema file stem>.md`, `index.md`).
    pub file: String,
    /// Markdown.
    pub text: String,
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A description written as a Rust doc comment, as a catalog reader should see it: a rustdoc
/// intra-doc link (``[`crate::Event::VERSION`]``), which no Markdown viewer resolves, becomes
/// plain code naming the item without its module path (`` `Event::VERSION` ``). Markdown
/// links (``[`text`](url)``) stay as they are.
fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("[`") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("`]") else {
            break;
        };
        let item = &after[..end];
        let tail = &after[end + 2..];
        out.push_str(&rest[..start]);
        if tail.starts_with('(') || item.contains('`') {
            out.push_str(&rest[start..start + 2 + end + 2]);
        } else {
            let item = ["crate::", "self::", "super::"]
                .iter()
                .find_map(|p| item.strip_prefix(p))
                .unwrap_or(item);
            out.push('`');
            out.push_str(item);
            out.push('`');
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// The page's file name: the schema's file stem (`events/schemas/x.json` -> `x.md`).
fn page_name(event: &CatalogEvent) -> String {
    let stem = Path::new(&event.schema)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| event.detail_type.clone());
    format!("{stem}.md")
}

/// What starts a function, for people: `on TaskCreated`, `on TaskCreated, buffered through
/// `PlannerBufferQueue` (batch 10, max 2)`, `invoked directly with CreateTask`, `on `POST
/// /tasks` (auth iam, body `CreateTask`)`, `on schedule `rate(1 day)` (local: `rate(1
/// minute)`)`, `from queue `Intake` (batch 10)`.
pub fn trigger_text(system: &System, f: &FunctionDeclaration) -> String {
    let d = &f.declaration;
    let consumed = || {
        if d.consumes_everything() {
            "every event".to_owned()
        } else {
            d.consumes.join(", ")
        }
    };
    let direct = || {
        if d.commands.is_empty() {
            "invoked directly".to_owned()
        } else {
            format!("invoked directly with {}", d.commands.join(", "))
        }
    };
    match system.trigger(&f.name).unwrap_or(FunctionTrigger::Rule) {
        FunctionTrigger::Rule => format!("on {}", consumed()),
        FunctionTrigger::Buffered(q) => format!(
            "on {}, buffered through `{}` ({})",
            consumed(),
            q.queue,
            batching_text(&q.batching)
        ),
        FunctionTrigger::Direct => direct(),
        FunctionTrigger::Http(h) => {
            let mut text = format!("on `{}` (auth {}", h.route, h.auth_text());
            if let Some(request) = &h.request {
                text.push_str(&format!(", body `{request}`"));
            }
            text.push(')');
            if h.direct_invoke {
                text.push_str(&format!(", and {}", direct()));
            }
            text
        }
        FunctionTrigger::Schedule(s) => {
            let mut text = format!("on schedule `{}`", s.expression);
            if let Some(zone) = &s.timezone {
                text.push_str(&format!(" {zone}"));
            }
            let stages: Vec<String> = s
                .stages
                .iter()
                .filter(|(_, e)| **e != s.expression)
                .map(|(stage, e)| format!("{stage}: `{e}`"))
                .collect();
            if !stages.is_empty() {
                text.push_str(&format!(" ({})", stages.join(", ")));
            }
            text
        }
        FunctionTrigger::Queue(q) => {
            format!("from queue `{}` ({})", q.queue, batching_text(&q.batching))
        }
    }
}

fn producers(system: &System, event: &CatalogEvent) -> Vec<String> {
    system
        .emitters(&event.detail_type)
        .iter()
        .map(|f| {
            let how = trigger_text(system, f);
            format!(
                "`{}` ({how}), declared in `{}`",
                f.name,
                system.relative(&f.dir.join("Cargo.toml"))
            )
        })
        .collect()
}

/// One function (or other target) a rule that can match the event reaches.
struct Consumer {
    function: String,
    rule: String,
    file: String,
    filter: String,
    /// `direct`, or the buffer queue with its batching.
    delivery: String,
}

/// Every function or target a rule that can match the event reaches.
fn consumers(system: &System, event: &CatalogEvent) -> Vec<Consumer> {
    let mut out = Vec::new();
    for rule in system.rules_for(&event.detail_type) {
        let filter = rule.filter_summary().unwrap_or_else(|| "—".to_owned());
        let file = system.relative(&rule.file);
        let targets = if rule.functions.is_empty() {
            rule.targets.clone()
        } else {
            rule.functions.clone()
        };
        for function in targets {
            let delivery = match (&rule.buffer, system.trigger(&function)) {
                (Some(_), Some(FunctionTrigger::Buffered(q))) => format!(
                    "buffered through `{}` ({})",
                    q.queue,
                    batching_text(&q.batching)
                ),
                (Some(buffer), _) => format!("buffered through `{buffer}`"),
                (None, _) => "direct".to_owned(),
            };
            out.push(Consumer {
                function,
                rule: rule.id.clone(),
                file: file.clone(),
                filter: filter.clone(),
                delivery,
            });
        }
    }
    out
}

fn sample(system: &System, event: &CatalogEvent) -> Result<Option<(String, Value)>, AppError> {
    let samples = system.app.samples()?;
    let named = page_name(event).replace(".md", ".json");
    let of_type = |s: &&(String, Value)| {
        s.1.get("detail-type").and_then(Value::as_str) == Some(event.detail_type.as_str())
    };
    Ok(samples
        .iter()
        .find(|s| s.0 == named && of_type(s))
        .or_else(|| samples.iter().find(of_type))
        .cloned())
}

fn event_page(system: &System, event: &CatalogEvent) -> Result<Page, AppError> {
    let settings = &system.app.project.settings;
    let index_dir = Path::new(&settings.catalog)
        .parent()
        .map(|p| p.join(&event.schema))
        .unwrap_or_else(|| Path::new(&event.schema).to_path_buf());
    let mut text = format!("# {}\n\n[All events](index.md)\n\n", event.detail_type);
    text.push_str("| | |\n|---|---|\n");
    text.push_str(&format!("| source | `{}` |\n", event.source));
    text.push_str(&format!("| detail-type | `{}` |\n", event.detail_type));
    text.push_str(&format!("| version | {} |\n", event.version));
    text.push_str(&format!("| schema | `{}` |\n\n", index_dir.display()));

    text.push_str("## Producers\n\n");
    let producers = producers(system, event);
    if producers.is_empty() {
        text.push_str("No function of the system emits it.\n\n");
    }
    for p in producers {
        text.push_str(&format!("- {p}\n"));
    }
    if !text.ends_with("\n\n") {
        text.push('\n');
    }

    text.push_str("## Consumers\n\n");
    let consumers = consumers(system, event);
    if consumers.is_empty() {
        text.push_str("No rule matches it.\n\n");
    } else {
        text.push_str(
            "| function | rule | filter | delivery | declared in |\n|---|---|---|---|---|\n",
        );
        for c in consumers {
            text.push_str(&format!(
                "| `{}` | `{}` | {} | {} | `{}` |\n",
                c.function,
                c.rule,
                cell(&c.filter),
                cell(&c.delivery),
                c.file
            ));
        }
        text.push('\n');
    }

    text.push_str("## Fields of `detail`\n\n");
    if let Some(schema) = system.schemas.get(&event.detail_type) {
        text.push_str("| field | type | required | description |\n|---|---|---|---|\n");
        for field in schema.fields() {
            let mut types = field.types.join(" or ");
            if let Some(values) = &field.values {
                let shown: Vec<String> = values.iter().map(Value::to_string).collect();
                types = format!("{types} (one of {})", shown.join(", "));
            }
            text.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                field.path,
                cell(&types),
                if field.required { "yes" } else { "no" },
                cell(&prose(field.description.as_deref().unwrap_or("")))
            ));
        }
        text.push('\n');
    }

    text.push_str("## Sample\n\n");
    match sample(system, event)? {
        Some((name, value)) => {
            let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
            text.push_str(&format!(
                "`{}/{name}`:\n\n```json\n{pretty}\n```\n\n",
                settings.samples
            ));
        }
        None => text.push_str("No sample in the samples folder.\n\n"),
    }

    text.push_str("## Place in the flow\n\n");
    let graph = Graph::build(system, &Focus::Event(event.detail_type.clone()))
        .map_err(|e| AppError::Graph(Box::new(e)))?;
    text.push_str(&format!("```mermaid\n{}```\n", graph.to_mermaid()));
    Ok(Page {
        file: page_name(event),
        text,
    })
}

/// Every page: one per catalog event, then `index.md`.
pub fn catalog_pages(system: &System) -> Result<Vec<Page>, AppError> {
    let mut pages = Vec::new();
    let mut index = String::from(
        "# Event catalog\n\nGenerated by `eventrail catalog` from the catalog index, the schemas, \
         the samples, the functions' declarations and the template.\n\n\
         | event | source | version | producers | consumers |\n|---|---|---|---|---|\n",
    );
    for event in &system.app.catalog.events {
        let page = event_page(system, event)?;
        let producers: Vec<String> = system
            .emitters(&event.detail_type)
            .iter()
            .map(|f| f.name.clone())
            .collect();
        let mut consumers: Vec<String> = consumers(system, event)
            .into_iter()
            .map(|c| c.function)
            .collect();
        consumers.dedup();
        index.push_str(&format!(
            "| [{}]({}) | `{}` | {} | {} | {} |\n",
            event.detail_type,
            page.file,
            event.source,
            event.version,
            producers.join(", "),
            consumers.join(", ")
        ));
        pages.push(page);
    }
    index.push_str(
        "\n## Functions\n\n| function | trigger | emits | declared in |\n|---|---|---|---|\n",
    );
    for f in &system.app.functions {
        index.push_str(&format!(
            "| `{}` | {} | {} | `{}` |\n",
            f.name,
            cell(&trigger_text(system, f)),
            f.declaration.emits.join(", "),
            system.relative(&f.dir.join("Cargo.toml"))
        ));
    }
    let graph = Graph::build(system, &Focus::All).map_err(|e| AppError::Graph(Box::new(e)))?;
    index.push_str(&format!(
        "\n## The whole flow\n\n```mermaid\n{}```\n",
        graph.to_mermaid()
    ));
    pages.push(Page {
        file: "index.md".to_owned(),
        text: index,
    });
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn a_rustdoc_link_reads_as_code_and_a_markdown_link_stays() {
        assert_eq!(
            prose("Version of the payload's schema ([`crate::Event::VERSION`])."),
            "Version of the payload's schema (`Event::VERSION`)."
        );
        assert_eq!(
            prose("see [`Metadata`] and [`self::x`]"),
            "see `Metadata` and `x`"
        );
        assert_eq!(
            prose("[`docs`](https://x/y) here"),
            "[`docs`](https://x/y) here"
        );
        assert_eq!(prose("no link, [`unclosed"), "no link, [`unclosed");
    }

    /// The pages of the workspace's own application: what `eventrail catalog` writes.
    #[test]
    fn the_workspace_catalog_pages_show_no_rustdoc_link() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let system = System::load(&root).expect("the workspace's application loads");
        let pages = catalog_pages(&system).expect("pages");
        assert!(pages.len() > 1, "an index and a page per event");
        for page in &pages {
            assert!(
                !page.text.contains("[`"),
                "{} shows a rustdoc link as raw text:\n{}",
                page.file,
                page.text
            );
        }
        assert!(
            pages.iter().any(|p| p.text.contains("schema_version`")),
            "the metadata fields are in the pages"
        );
    }
}
