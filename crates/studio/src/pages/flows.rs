//! `GET /`: the flows, newest first, each a causal tree of the events of one correlation id.
//! Filters (a GET form): detail-type, source, correlation id or business key, and any
//! EventBridge pattern, compiled by eventrail's engine (a bad one shows its error and path).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query as UrlQuery, State};
use axum::routing::get;
use eventrail_pattern::Pattern;
use maud::{Markup, html};
use serde::Deserialize;

use crate::Personal;
use crate::layout::{Nav, page};
use crate::messages;
use crate::rows;
use crate::state::AppState;
use crate::store::{Query, StoredEvent};

/// How many matching events a page looks at, and how many flows it draws.
const EVENTS_PER_PAGE: usize = 2_000;
const FLOWS_PER_PAGE: usize = 50;

/// The filter form's fields (an empty field filters nothing).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default, rename = "detail-type")]
    pub detail_type: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    /// A correlation id or a business key (`correlation=` says the same).
    #[serde(default, alias = "correlation")]
    pub key: Option<String>,
    #[serde(default)]
    pub pattern: Option<String>,
}

fn given(field: &Option<String>) -> Option<String> {
    field
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl Filters {
    /// The store query (its pattern sees events as the page shows them: masked unless
    /// personal fields are shown), or the pattern's error.
    pub(crate) fn query(&self, state: &AppState) -> Result<Query, String> {
        let pattern = match given(&self.pattern) {
            Some(text) => Some(Pattern::parse(&text).map_err(|e| e.to_string())?),
            None => None,
        };
        Ok(Query {
            detail_type: given(&self.detail_type),
            source: given(&self.source),
            key: given(&self.key),
            pattern,
            masks: state.masks.active().then(|| state.masks.clone()),
        })
    }

    fn any(&self) -> bool {
        [&self.detail_type, &self.source, &self.key, &self.pattern]
            .iter()
            .any(|f| given(f).is_some())
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", get(flows))
}

/// One drawn flow: its key (the correlation id, or the lone event's id) and its events.
struct Group {
    correlation: Option<String>,
    events: Vec<Arc<StoredEvent>>,
}

/// The flows of the events found, newest flow first; a flow shows all its events kept.
fn groups(state: &AppState, found: &[Arc<StoredEvent>]) -> Vec<Group> {
    let mut seen: HashMap<&str, ()> = HashMap::new();
    let mut out = Vec::new();
    for event in found {
        if out.len() == FLOWS_PER_PAGE {
            break;
        }
        match event.correlation.as_deref() {
            Some(correlation) => {
                if seen.insert(correlation, ()).is_none() {
                    out.push(Group {
                        correlation: Some(correlation.to_owned()),
                        events: state.store.flow(correlation),
                    });
                }
            }
            None => out.push(Group {
                correlation: None,
                events: vec![event.clone()],
            }),
        }
    }
    out
}

async fn flows(State(state): State<AppState>, UrlQuery(filters): UrlQuery<Filters>) -> Markup {
    let query = filters.query(&state);
    let found = match &query {
        Ok(query) => Some(state.store.search(query, EVENTS_PER_PAGE)),
        Err(_) => None,
    };
    let groups = found
        .as_ref()
        .map(|f| groups(&state, &f.events))
        .unwrap_or_default();
    let (types, sources) = choices(&state);
    let body = html! {
        (filter_form(&state, &filters, &types, &sources))
        @if let Err(error) = &query {
            p.error data-role="pattern-error" { "pattern: " (error) }
        }
        p.summary {
            span #held data-capacity=(state.store.capacity()) { (state.store.len()) }
            " events held (at most " (state.store.capacity()) ", in this process's memory)"
            @if let Some(found) = &found {
                @if filters.any() {
                    "; " (found.events.len()) @if found.more { "+" } " match"
                }
            }
            "."
        }
        div #flows data-live=(if filters.any() { "off" } else { "on" }) {
            @for group in &groups {
                (flow_section(&state, group))
            }
            @if groups.is_empty() {
                p.empty #no-flows { "No events yet: put one on the bus (Put) and it appears here." }
            }
        }
    };
    page(&state, Nav::Flows, "Flows", body)
}

fn flow_section(state: &AppState, group: &Group) -> Markup {
    let first = group.events.first();
    html! {
        section.flow data-correlation=[group.correlation.as_deref()] {
            h2 {
                @match &group.correlation {
                    Some(correlation) => a href={ "/flows/" (correlation) } { "flow " (correlation) },
                    None => "event without a correlation id",
                }
                @if let Some(key) = group.events.iter().find_map(|e| e.business_key.as_deref()) {
                    " " span.key title="business key" { (key) }
                }
                @if let Some(first) = first {
                    " " span.count { (group.events.len()) " events since " (rows::clock(&first.time)) }
                }
            }
            ol.events {
                @for (event, depth) in rows::tree(&group.events) {
                    (rows::row(state, &event, depth))
                }
            }
            @if let Some(correlation) = &group.correlation {
                (messages_list(state, correlation))
            }
        }
    }
}

/// The watched queues' messages of a flow, if any.
pub(crate) fn messages_list(state: &AppState, correlation: &str) -> Markup {
    let seen = state.messages.of_flow(correlation);
    let show = state.options.personal == Personal::Shown;
    html! {
        @if !seen.is_empty() {
            ul.messages {
                @for message in &seen { (messages::item(message, show)) }
            }
        }
    }
}

/// The detail-types (the catalog's and the ones seen) and sources (seen) to choose from.
fn choices(state: &AppState) -> (Vec<String>, Vec<String>) {
    let (mut types, sources) = state.store.names();
    for event in &state.system.app.catalog.events {
        if !types.contains(&event.detail_type) {
            types.push(event.detail_type.clone());
        }
    }
    types.sort();
    (types, sources)
}

fn filter_form(
    state: &AppState,
    filters: &Filters,
    types: &[String],
    sources: &[String],
) -> Markup {
    let chosen = |field: &Option<String>, value: &str| given(field).as_deref() == Some(value);
    let key_label = match &state.business_key {
        Some(field) => format!("correlation id or {field}"),
        None => "correlation id".to_owned(),
    };
    html! {
        form.filters method="get" action="/" {
            label { "detail-type "
                select name="detail-type" {
                    option value="" { "any" }
                    @for t in types {
                        option value=(t) selected[chosen(&filters.detail_type, t)] { (t) }
                    }
                }
            }
            label { "source "
                select name="source" {
                    option value="" { "any" }
                    @for s in sources {
                        option value=(s) selected[chosen(&filters.source, s)] { (s) }
                    }
                }
            }
            label { (key_label) " "
                input type="text" name="key" value=[given(&filters.key)] size="36";
            }
            label.pattern { "EventBridge pattern "
                textarea name="pattern" rows="2" cols="60"
                    placeholder=r#"{"detail": {"data": {"amount": [{"numeric": [">", 100]}]}}}"# {
                    (filters.pattern.as_deref().unwrap_or_default())
                }
            }
            button type="submit" { "Filter" }
            " " a href="/" { "clear" }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Personal;
    use crate::test_support::{event, get, state};

    #[tokio::test]
    async fn filters_by_type_key_and_pattern_and_shows_a_bad_patterns_path() {
        let state = state("local", Personal::Masked).await;
        state
            .store
            .insert(&event("x1", "Asked", "cx", None, json!({"total": 5})), 1);
        state
            .store
            .insert(&event("y1", "Asked", "cy", None, json!({"total": 500})), 2);
        state
            .store
            .insert(&event("y2", "Given", "cy", Some("y1"), json!({})), 3);
        let all = get(&state, "/").await;
        assert_eq!(all.status, 200);
        assert!(all.body.contains(r#"data-live="on""#));
        // Newest flow first.
        assert!(
            all.body.find(r#"data-correlation="cy""#) < all.body.find(r#"data-correlation="cx""#)
        );

        let by_key = get(&state, "/?correlation=cx").await;
        assert!(
            by_key.body.contains(r#"data-id="x1""#) && !by_key.body.contains(r#"data-id="y1""#)
        );
        assert!(
            by_key.body.contains(r#"data-live="off""#),
            "a filtered page is not live"
        );

        let by_type = get(&state, "/?detail-type=Given").await;
        assert!(
            by_type.body.contains(r#"data-id="y2""#) && !by_type.body.contains(r#"data-id="x1""#)
        );

        let big = r#"{"detail":{"data":{"total":[{"numeric":[">",100]}]}}}"#;
        let by_pattern = get(&state, &format!("/?pattern={}", encode(big))).await;
        assert!(
            by_pattern.body.contains(r#"data-id="y1""#),
            "{}",
            by_pattern.body
        );
        assert!(!by_pattern.body.contains(r#"data-id="x1""#));

        let bad = r#"{"detail":{"data":{"total":[{"numeric":[">"]}]}}}"#;
        let error = get(&state, &format!("/?pattern={}", encode(bad))).await;
        assert!(
            error.body.contains(r#"data-role="pattern-error""#),
            "{}",
            error.body
        );
        assert!(
            error.body.contains("pattern: detail.data.total"),
            "{}",
            error.body
        );
    }

    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b if b.is_ascii_alphanumeric() => char::from(b).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    }
}
