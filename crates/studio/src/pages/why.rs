//! `GET /why?event={id}&rule={name}`: why a rule matched an event, or the first field and
//! operator that failed (`detail.data.total: 4000 is not > 100000`), from the pattern
//! engine's own explanation (`eventrail_pattern::Pattern::explain`). Pick lists choose the
//! event (the recent ones) and the rule. A personal field's value is masked in the text.

use axum::Router;
use axum::extract::{Query as UrlQuery, State};
use axum::routing::get;
use eventrail_model::FlowRule;
use eventrail_pattern::{AlternativeOutcome, Explanation, FieldFailure, FieldMatch};
use maud::{Markup, html};
use serde::Deserialize;

use crate::layout::{Nav, page};
use crate::mask::MASK;
use crate::rows;
use crate::state::AppState;
use crate::store::{Query, StoredEvent};

/// How many recent events the event pick list offers.
const PICK_EVENTS: usize = 200;

#[derive(Debug, Default, Deserialize)]
struct Choice {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    rule: Option<String>,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/why", get(why))
}

fn find_rule<'a>(state: &'a AppState, name: &str) -> Option<&'a FlowRule> {
    state
        .system
        .rules
        .iter()
        .find(|r| r.name == name)
        .or_else(|| state.system.rules.iter().find(|r| r.id == name))
}

async fn why(State(state): State<AppState>, UrlQuery(choice): UrlQuery<Choice>) -> Markup {
    let event_id = choice.event.as_deref().filter(|e| !e.is_empty());
    let rule_name = choice.rule.as_deref().filter(|r| !r.is_empty());
    let event = event_id.and_then(|id| state.store.get(id));
    let rule = rule_name.and_then(|name| find_rule(&state, name));
    let mut recent = state.store.search(&Query::default(), PICK_EVENTS).events;
    if let Some(event) = &event
        && !recent.iter().any(|e| e.seq == event.seq)
    {
        recent.insert(0, event.clone());
    }
    let body = html! {
        form.filters method="get" action="/why" {
            label { "event "
                select name="event" {
                    @for e in &recent {
                        option value=(e.id) selected[event_id == Some(&*e.id)] {
                            (rows::clock(&e.time)) " " (e.detail_type) " " (e.id)
                        }
                    }
                }
            }
            label { "rule "
                select name="rule" {
                    @for r in &state.system.rules {
                        option value=(r.name) selected[rule.is_some_and(|chosen| chosen.id == r.id)] {
                            (r.name) " → " (r.functions.join(", "))
                        }
                    }
                }
            }
            button type="submit" { "Explain" }
        }
        @if let (Some(id), None) = (event_id, &event) {
            p.error { "event " (id) " is not in the studio's store" }
        }
        @if let (Some(name), None) = (rule_name, rule) {
            p.error { "no rule named " (name) }
        }
        @if let (Some(event), Some(rule)) = (&event, rule) {
            (explained(&state, event, rule))
        }
    };
    page(&state, Nav::Flows, "Why (not)", body)
}

fn explained(state: &AppState, event: &StoredEvent, rule: &FlowRule) -> Markup {
    let pattern = serde_json::to_string_pretty(&rule.pattern).unwrap_or_default();
    let outcome = rule.compiled.explain_json(event.json());
    html! {
        h2 {
            "Rule " (rule.name) " and event "
            a href={ "/events/" (event.id) } { (event.detail_type) " " (event.id) }
        }
        @match &outcome {
            Ok(explanation) => {
                p #verdict data-matched=(explanation.matched()) {
                    @if explanation.matched() { span.yes { "matches" } } @else { span.no { "does not match" } }
                }
                pre.explanation #explanation { (explanation_text(state, &event.detail_type, explanation)) }
            }
            Err(error) => p.error { "the engine cannot read this event: " (error) },
        }
        h2 { "The rule's pattern" }
        pre.json { (pattern) }
    }
}

/// The explanation as text (as `eventrail pattern explain` prints it), with the values of
/// personal fields masked.
pub(crate) fn explanation_text(
    state: &AppState,
    detail_type: &str,
    explanation: &Explanation,
) -> String {
    let hidden = |path: &str| state.masks.hides(detail_type, path);
    let matched_line = |field: &FieldMatch| {
        if hidden(&field.path) {
            format!("{}: {MASK} (personal) satisfies the pattern", field.path)
        } else {
            field.to_string()
        }
    };
    let failed_line = |failure: &FieldFailure| {
        if hidden(failure.path()) {
            format!(
                "{}: {MASK} (personal) does not satisfy the pattern",
                failure.path()
            )
        } else {
            failure.to_string()
        }
    };
    let count = explanation.alternatives.len();
    let mut text = String::new();
    if let Some((at, matched)) = explanation.matching() {
        if count > 1 {
            text.push_str(&format!(
                "match (alternative {} of {count}: {})\n",
                at + 1,
                matched.alternative
            ));
        } else {
            text.push_str("match\n");
        }
        if let AlternativeOutcome::Matched(fields) = &matched.outcome {
            for field in fields {
                text.push_str(&format!("  {}\n", matched_line(field)));
            }
        }
        return text;
    }
    if count == 1 {
        text.push_str("no match\n");
        for failure in explanation.failures() {
            text.push_str(&format!("  {}\n", failed_line(failure)));
        }
        return text;
    }
    text.push_str(&format!("no match (none of the {count} alternatives)\n"));
    for (at, alternative) in explanation.alternatives.iter().enumerate() {
        text.push_str(&format!(
            "  alternative {}: {}\n",
            at + 1,
            alternative.alternative
        ));
        if let AlternativeOutcome::Failed(failure) = &alternative.outcome {
            text.push_str(&format!("    {}\n", failed_line(failure)));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Personal;
    use crate::test_support::{event, get, state};

    fn explain(pattern: &str, data: serde_json::Value) -> Explanation {
        let pattern = eventrail_pattern::Pattern::parse(pattern).unwrap();
        let event = event("e1", "Made", "c", None, data);
        pattern.explain(&event.raw).unwrap()
    }

    #[tokio::test]
    async fn names_the_field_and_operator_that_failed() {
        let state = state("local", Personal::Masked).await;
        let explanation = explain(
            r#"{"detail": {"data": {"total": [{"numeric": [">", 100000]}]}}}"#,
            json!({"total": 4000}),
        );
        assert_eq!(
            explanation_text(&state, "Made", &explanation),
            "no match\n  detail.data.total: 4000 is not > 100000\n"
        );
        let matched = explain(
            r#"{"detail": {"data": {"total": [{"numeric": [">", 100]}]}}}"#,
            json!({"total": 4000}),
        );
        assert_eq!(
            explanation_text(&state, "Made", &matched),
            "match\n  detail.data.total: 4000 is > 100\n"
        );
    }

    #[tokio::test]
    async fn a_personal_fields_value_is_not_in_the_text() {
        let state = state("local", Personal::Masked).await;
        let Some((detail_type, path)) = state.system.app.catalog.events.iter().find_map(|e| {
            let path = state
                .masks
                .paths_of(&e.detail_type)
                .into_iter()
                .find(|p| !p.contains("[]"))?;
            Some((e.detail_type.clone(), path))
        }) else {
            panic!("the catalog marks some field personal");
        };
        let mut data = json!({});
        let mut at = &mut data;
        let steps: Vec<&str> = path.trim_start_matches("data.").split('.').collect();
        for step in &steps[..steps.len() - 1] {
            at = &mut at[*step];
        }
        at[steps[steps.len() - 1]] = json!("secret-value");
        let pattern = format!(
            r#"{{"detail": {{"{}": ["other"]}}}}"#,
            path.replace('.', "\": {\"")
        ) + &"}".repeat(path.matches('.').count());
        let explanation = eventrail_pattern::Pattern::parse(&pattern)
            .unwrap()
            .explain(&event("e1", &detail_type, "c", None, data).raw)
            .unwrap();
        let text = explanation_text(&state, &detail_type, &explanation);
        assert!(
            text.contains(&format!(
                "detail.{path}: {MASK} (personal) does not satisfy"
            )),
            "{text}"
        );
        assert!(!text.contains("secret-value"), "{text}");
    }

    #[tokio::test]
    async fn the_page_explains_a_stored_event_against_a_rule_of_the_system() {
        let state = state("local", Personal::Masked).await;
        let rule = state.system.rules.first().expect("the system has rules");
        state
            .store
            .insert(&event("e7", "Made", "c", None, json!({"n": 1})), 1);
        let page = get(&state, &format!("/why?event=e7&rule={}", rule.name)).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(r#"id="verdict""#), "{}", page.body);
        assert!(
            page.body.contains("no match"),
            "an event of no catalog type matches no rule"
        );
        assert!(
            page.body.contains(r#"<option value="e7" selected>"#),
            "{}",
            page.body
        );
        let missing = get(&state, "/why?event=nope&rule=nope").await;
        assert!(
            missing.body.contains("not in the studio&#39;s store")
                || missing.body.contains("not in the studio's store")
        );
        assert!(missing.body.contains("no rule named nope"));
    }
}
