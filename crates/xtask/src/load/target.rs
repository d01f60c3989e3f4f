//! What the load run aims at, from the application's declarations and the deployed stack's
//! outputs: the producer behind an HTTP route (its URL on LocalStack's REST API and the
//! sample request of its command), the buffered consumers (their caps), the watched queue
//! where the flow ends, and every failure queue.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use eventrail_contract::declaration::{FunctionDeclaration, logical_id};
use eventrail_contract::names::{FunctionOutputs, REST_API_ID_OUTPUT, REST_API_STAGE_OUTPUT};
use eventrail_contract::project::kebab_case;
use eventrail_contract::trigger::{Delivery, HttpDeclaration, Route, Trigger};
use eventrail_contract::{Project, WatchedQueue};
use eventrail_observe::StackOutputs;

/// The function the burst goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct Producer {
    /// Its declared name.
    pub name: String,
    /// Its route.
    pub route: Route,
    /// Its HTTP declaration.
    pub http: HttpDeclaration,
    /// The commands it declares (the sample request is one's).
    pub commands: Vec<String>,
}

/// A consumer behind a buffer queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buffered {
    /// Its declared name.
    pub name: String,
    /// Its declared `max-concurrency`, if any.
    pub cap: Option<u32>,
}

/// The producer behind an HTTP route: `chosen`, else the only one the application declares.
pub fn producer(functions: &[FunctionDeclaration], chosen: Option<&str>) -> Result<Producer> {
    let http: Vec<(&FunctionDeclaration, HttpDeclaration)> = functions
        .iter()
        .filter_map(|f| match f.declaration.trigger() {
            Trigger::Http(http) => Some((f, http)),
            _ => None,
        })
        .collect();
    let names = || {
        http.iter()
            .map(|(f, _)| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (function, declaration) = match chosen {
        Some(name) => http.iter().find(|(f, _)| f.name == name).with_context(|| {
            format!(
                "--function {name}: not a function with an `http` trigger (those: {})",
                names()
            )
        })?,
        None => match http.as_slice() {
            [one] => one,
            [] => {
                bail!("no function declares an `http` trigger: the load run sends its burst to one")
            }
            _ => bail!(
                "several functions declare an `http` trigger ({}): pick one with --function",
                names()
            ),
        },
    };
    let route = declaration
        .route()
        .map_err(|e| anyhow::anyhow!("{}: http: {e}", function.name))?;
    Ok(Producer {
        name: function.name.clone(),
        route,
        http: declaration.clone(),
        commands: function.declaration.commands.clone(),
    })
}

/// The sample request of the producer's command: its HTTP declaration's `request`, else the
/// one command it declares, read from `<samples>/commands/<command in kebab-case>.json`.
pub fn sample_body(samples_dir: &std::path::Path, producer: &Producer) -> Result<PathBuf> {
    let command = match (&producer.http.request, producer.commands.as_slice()) {
        (Some(request), _) => request.clone(),
        (None, [one]) => one.clone(),
        (None, _) => bail!(
            "{} declares no `request` in its http table and not exactly one command: name the \
             request body with --body FILE",
            producer.name
        ),
    };
    let path = samples_dir
        .join("commands")
        .join(format!("{}.json", kebab_case(&command)));
    if !path.is_file() {
        bail!(
            "no sample of {command} at {}: name the request body with --body FILE",
            path.display()
        );
    }
    Ok(path)
}

/// The consumers with `delivery = "queue"`.
pub fn buffered(functions: &[FunctionDeclaration]) -> Vec<Buffered> {
    functions
        .iter()
        .filter(|f| {
            f.declaration.trigger()
                == Trigger::Rule {
                    delivery: Delivery::Queue,
                }
        })
        .map(|f| Buffered {
            name: f.name.clone(),
            cap: f.declaration.batching().max_concurrency,
        })
        .collect()
}

/// The watched queue the flow ends in: `chosen`, else the only one the application declares.
pub fn watched<'a>(declared: &'a [WatchedQueue], chosen: Option<&str>) -> Result<&'a WatchedQueue> {
    let names = || {
        declared
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (chosen, declared) {
        (Some(name), _) => declared.iter().find(|q| q.name == name).with_context(|| {
            format!(
                "--watch {name}: the application watches no such queue (it watches: {})",
                names()
            )
        }),
        (None, [one]) => Ok(one),
        (None, []) => bail!(
            "the application declares no watched queue ([[workspace.metadata.eventrail.watch]]): \
             the load run counts a request as done when its message reaches one"
        ),
        (None, _) => bail!(
            "the application watches several queues ({}): pick one with --watch",
            names()
        ),
    }
}

/// The route's URL on LocalStack: `<endpoint>/restapis/<id>/<stage>/_user_request_<path>`.
pub fn local_url(endpoint: &str, outputs: &StackOutputs, route: &Route) -> Result<String> {
    if route.path.contains('{') {
        bail!("{route}: the load run sends to a fixed path, not one with path parameters");
    }
    let id = outputs.get(REST_API_ID_OUTPUT)?;
    let stage = outputs.get(REST_API_STAGE_OUTPUT)?;
    Ok(eventrail_local::local_rest_api_url(
        endpoint,
        id,
        stage,
        &route.path,
    ))
}

/// A function's deployed name, from the stack's outputs.
pub fn deployed_name<'a>(outputs: &'a StackOutputs, function: &str) -> Result<&'a str> {
    let id = logical_id(function);
    Ok(outputs.get(&FunctionOutputs { logical_id: &id }.function_name())?)
}

/// A buffered consumer's buffer queue URL, from the stack's outputs.
pub fn buffer_queue_url<'a>(outputs: &'a StackOutputs, function: &str) -> Result<&'a str> {
    let id = logical_id(function);
    Ok(outputs.get(&FunctionOutputs { logical_id: &id }.buffer_queue_url())?)
}

/// The application's project, for the declarations.
pub fn project(root: &std::path::Path) -> Result<Project> {
    Project::load(root).context("reading the application's declarations")
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventrail_contract::Declaration;
    use eventrail_contract::trigger::{HttpMethod, HttpTrigger};
    use std::collections::BTreeMap;

    fn function(name: &str, declaration: Declaration) -> FunctionDeclaration {
        FunctionDeclaration {
            name: name.to_owned(),
            dir: PathBuf::from(format!("functions/{name}")),
            declaration,
        }
    }

    fn intake() -> FunctionDeclaration {
        function(
            "intake",
            Declaration {
                http: Some(HttpTrigger::Route("POST /parcels".into())),
                commands: vec!["BookParcel".into()],
                emits: vec!["ParcelBooked".into()],
                ..Declaration::default()
            },
        )
    }

    fn mailer(cap: Option<u32>) -> FunctionDeclaration {
        function(
            "mailer",
            Declaration {
                consumes: vec!["ParcelBooked".into()],
                delivery: Delivery::Queue,
                max_concurrency: cap,
                ..Declaration::default()
            },
        )
    }

    fn ledger() -> FunctionDeclaration {
        function(
            "ledger",
            Declaration {
                consumes: vec!["ParcelBooked".into()],
                ..Declaration::default()
            },
        )
    }

    #[test]
    fn the_only_http_function_is_the_producer() {
        let producer = producer(&[ledger(), intake(), mailer(Some(2))], None).unwrap();
        assert_eq!(producer.name, "intake");
        assert_eq!(producer.route.method, HttpMethod::Post);
        assert_eq!(producer.route.path, "/parcels");
        assert_eq!(producer.commands, vec!["BookParcel".to_owned()]);
    }

    #[test]
    fn no_http_function_or_a_wrong_choice_is_an_error_naming_the_candidates() {
        let none = producer(&[ledger()], None).unwrap_err().to_string();
        assert!(
            none.contains("no function declares an `http` trigger"),
            "{none}"
        );
        let wrong = producer(&[intake(), ledger()], Some("ledger"))
            .unwrap_err()
            .to_string();
        assert!(wrong.contains("those: intake"), "{wrong}");
        let mut second = intake();
        second.name = "returns".into();
        let two = producer(&[intake(), second], None).unwrap_err().to_string();
        assert!(two.contains("intake, returns"), "{two}");
    }

    #[test]
    fn only_queue_delivered_consumers_are_buffered_with_their_caps() {
        assert_eq!(
            buffered(&[intake(), ledger(), mailer(Some(2))]),
            vec![Buffered {
                name: "mailer".into(),
                cap: Some(2)
            }]
        );
        assert_eq!(buffered(&[mailer(None)])[0].cap, None);
    }

    #[test]
    fn the_sample_body_is_the_commands_sample() {
        let dir = std::env::temp_dir().join(format!("xtask-load-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("commands")).unwrap();
        std::fs::write(dir.join("commands/book-parcel.json"), "{}").unwrap();
        let producer = producer(&[intake()], None).unwrap();
        assert_eq!(
            sample_body(&dir, &producer).unwrap(),
            dir.join("commands/book-parcel.json")
        );
        let mut without = producer.clone();
        without.commands.clear();
        assert!(sample_body(&dir, &without).is_err());
        let mut missing = producer;
        missing.commands = vec!["CancelParcel".into()];
        let error = sample_body(&dir, &missing).unwrap_err().to_string();
        assert!(error.contains("cancel-parcel.json"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_local_url_goes_through_the_user_request_path() {
        let outputs = StackOutputs::from_map(BTreeMap::from([
            (REST_API_ID_OUTPUT.to_owned(), "abc123".to_owned()),
            (REST_API_STAGE_OUTPUT.to_owned(), "local".to_owned()),
        ]));
        let route = Route::parse("POST /parcels").unwrap();
        assert_eq!(
            local_url("http://127.0.0.1:4566/", &outputs, &route).unwrap(),
            "http://127.0.0.1:4566/restapis/abc123/local/_user_request_/parcels"
        );
        let with_parameter = Route::parse("POST /parcels/{id}").unwrap();
        assert!(local_url("http://127.0.0.1:4566", &outputs, &with_parameter).is_err());
        let error = local_url("http://x", &StackOutputs::default(), &route)
            .unwrap_err()
            .to_string();
        assert!(error.contains(REST_API_ID_OUTPUT), "{error}");
    }

    #[test]
    fn the_watched_queue_is_the_only_one_or_the_named_one() {
        let queue = |name: &str| WatchedQueue {
            name: name.to_owned(),
            output: format!("{name}Url"),
        };
        let one = [queue("notices")];
        assert_eq!(watched(&one, None).unwrap().name, "notices");
        let two = [queue("notices"), queue("audit")];
        assert!(watched(&two, None).is_err());
        assert_eq!(watched(&two, Some("audit")).unwrap().name, "audit");
        assert!(watched(&two, Some("other")).is_err());
        assert!(watched(&[], None).is_err());
    }
}
