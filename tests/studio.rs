//! `eventrail studio` in a real headless Chromium (WebDriver, `fantoccini`), the studio run as
//! the user runs it (the real binary against the stack `cargo xtask test` deployed, its URL
//! read from its stdout line), each test ending with the studio stopped and its tap gone.
//!
//! Screenshots go to `target/eventrail/screenshots/`: `studio-live-flow.png` and
//! `studio-dead-letter.png` are the README's. Without a browser the test command could
//! install (no apt-get, not root) each test says why and skips.

use std::time::Duration;

use eventrail_tests::browser::Browser;
use eventrail_tests::studio::{Studio, stop_and_check_the_tap_is_gone};
use eventrail_tests::{FLOW_DEADLINE, fresh_sample, place_order, stack};
use events::scenarios::{Scenario, new_order_id};
use serde_json::Value;

/// The rows of a flow's events on the studio's pages, and their detail-type's link.
fn event_rows(correlation_id: &str) -> String {
    format!("li.event[data-correlation=\"{correlation_id}\"]")
}

/// The outbox messages of a flow, shown in its tree.
fn message_rows(correlation_id: &str) -> String {
    format!(".message[data-correlation=\"{correlation_id}\"]")
}

/// A script returning the detail-types of the flow's rows on the page, in page order.
fn detail_types_script(correlation_id: &str) -> String {
    format!(
        "return Array.from(document.querySelectorAll('{} a.dt')).map(a => a.textContent.trim());",
        event_rows(correlation_id).replace('\'', "\\'")
    )
}

/// `detail-types` as strings.
fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn an_order_placed_from_the_studio_appears_live_with_every_event_and_its_outbox_message() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let stack = stack().await;
    let studio = Studio::start(&stack, &[]);
    let order_id = new_order_id();

    // The flows page is open (and streaming) before the order is placed: every row of the
    // order's flow arrives live.
    browser.open(&studio.url()).await;
    let original = browser.client().window().await.expect("the first window");

    // The put page, in a second window: the place-order command's sample (a fresh order id),
    // sent to the function that declares the command.
    let second = browser
        .client()
        .new_window(true)
        .await
        .expect("a second window");
    browser
        .client()
        .switch_to_window(second.handle)
        .await
        .expect("switching windows");
    browser
        .open(&format!(
            "{}/put?sample=commands/place-order.json",
            studio.origin
        ))
        .await;
    browser.wait_for("the put form's JSON", "#put-json").await;
    let edited = browser
        .run(
            "const area = document.querySelector('#put-json');              const command = JSON.parse(area.value);              command.order.order_id = arguments[0];              area.value = JSON.stringify(command, null, 2);              return command.order.order_id;",
            vec![order_id.clone().into()],
        )
        .await;
    assert_eq!(
        edited,
        order_id.as_str(),
        "the sample is the place-order command"
    );
    browser
        .wait_for("the put button", "#put-submit")
        .await
        .click()
        .await
        .expect("pressing put");
    let answer = browser
        .wait_for("the orders function's answer", "pre#put-answer")
        .await
        .text()
        .await
        .expect("the answer's text");
    let accepted: Value = serde_json::from_str(&answer)
        .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {answer}"));
    assert_eq!(accepted["order_id"], order_id.as_str(), "{accepted}");
    let correlation_id = accepted["correlation_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no correlation id in {accepted}"))
        .to_owned();
    browser
        .client()
        .close_window()
        .await
        .expect("closing the put window");
    browser
        .client()
        .switch_to_window(original)
        .await
        .expect("back to the flows page");

    // Every event of the happy path, and the outbox message, arrive on the open page.
    let expected = [
        "OrderPlaced",
        "StockReserved",
        "PaymentCaptured",
        "OrderShipped",
    ];
    let seen = browser
        .wait_until(
            "every event of the flow on the page",
            &detail_types_script(&correlation_id),
            |value| {
                let seen = strings(value);
                expected.iter().all(|t| seen.iter().any(|s| s == t))
            },
        )
        .await;
    let message = browser
        .wait_for("the outbox message", &message_rows(&correlation_id))
        .await;
    let message_text = message.text().await.expect("the message's text");
    assert!(message_text.contains("order-shipped"), "{message_text}");
    // Each arrived once, and live: the stream's script stamped every one of them.
    let seen = strings(&seen);
    for detail_type in expected {
        assert_eq!(
            seen.iter().filter(|s| *s == detail_type).count(),
            1,
            "{seen:?}"
        );
    }
    let live = browser
        .run("return (window.studioLatencies || []).length;", Vec::new())
        .await;
    assert!(
        live.as_u64().unwrap_or(0) >= expected.len() as u64,
        "rows inserted by the live stream: {live}"
    );
    browser.screenshot("studio-live-flow").await;

    // Clicking the OrderPlaced shows its envelope.
    let placed_id = accepted["event_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no event id in {accepted}"));
    browser
        .wait_for(
            "the OrderPlaced row",
            &format!("li.event[data-id=\"{placed_id}\"] a.dt"),
        )
        .await
        .click()
        .await
        .expect("opening the event");
    let text = browser
        .text_until("the event's envelope", |text| {
            text.contains(&correlation_id) && text.contains("\"detail-type\"")
        })
        .await;
    assert!(text.contains("SKU-TEA-001"), "the whole envelope: {text}");

    browser.close().await;
    stop_and_check_the_tap_is_gone(&stack, studio).await;
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn a_dead_letter_redriven_from_the_studio_after_the_gateway_is_back_ships_the_order_once() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let stack = stack().await;
    let studio = Studio::start(&stack, &[]);
    let mut watch = stack.watch().await.expect("a watch on the stack");
    let order_id = new_order_id();
    let accepted = place_order(&stack, &Scenario::GatewayDown.command(&order_id)).await;
    let correlation_id = accepted.correlation_id.clone();
    watch.follow(correlation_id.clone());

    // The dead letters: payments has one, after Lambda's retries, with its kind and reason.
    browser.open(&studio.url()).await;
    browser.open(&format!("{}/dlq", studio.origin)).await;
    let overview = browser
        .reload_until("payments' dead letters", |text| text.contains("payments"))
        .await;
    assert!(overview.contains("payments"), "{overview}");
    browser
        .open(&format!("{}/dlq/payments", studio.origin))
        .await;
    let record = format!("li.record[data-correlation=\"{correlation_id}\"]");
    let text = browser
        .reload_until("the order's dead letter in payments' queue", |text| {
            text.contains(&correlation_id)
        })
        .await;
    let element = browser.wait_for("the order's record", &record).await;
    let shown = element.text().await.expect("the record's text");
    assert_eq!(
        element.attr("data-kind").await.ok().flatten().as_deref(),
        Some("handler-failure"),
        "{shown}\n{text}"
    );
    assert!(shown.contains("gateway unavailable"), "{shown}");
    assert!(
        shown.contains("StockReserved"),
        "the original event: {shown}"
    );
    let event_id = element
        .attr("data-event-id")
        .await
        .expect("reading the record's event id")
        .expect("the record names its event");
    browser
        .run(
            "arguments[0].scrollIntoView({block: 'start'}); return true;",
            vec![serde_json::to_value(&element).expect("an element")],
        )
        .await;
    browser.screenshot("studio-dead-letter").await;

    // The dry run of this record says what would happen and changes nothing.
    browser
        .wait_for(
            "the record's redrive button",
            &format!("li.record[data-event-id=\"{event_id}\"] button.redrive-one"),
        )
        .await
        .click()
        .await
        .expect("pressing the record's dry run");
    let dry = browser
        .wait_for(
            "the dry run's report",
            "#redrive-result[data-mode=dry-run] pre.summary",
        )
        .await
        .text()
        .await
        .expect("the report's text");
    assert!(
        dry.contains("1 would be redriven, 0 left, 0 failed"),
        "{dry}"
    );

    // The gateway comes back (for this order only), then the confirmed redrive.
    crate::ops::gateway_recovered_for(&stack, Some(&order_id)).await;
    browser
        .wait_for("the confirm button", "button#redrive-confirm")
        .await
        .click()
        .await
        .expect("confirming the redrive");
    let done = browser
        .wait_for(
            "the redrive's report",
            "#redrive-result[data-mode=confirm] pre.summary",
        )
        .await
        .text()
        .await
        .expect("the report's text");
    assert!(done.contains("1 redriven, 0 left, 0 failed"), "{done}");

    // The order ships, once, with one outbox message; the page shows one OrderShipped.
    watch
        .wait_until(
            "the order to ship and reach the outbox",
            FLOW_DEADLINE,
            |w| {
                !w.flow(&correlation_id).of_type("OrderShipped").is_empty()
                    && !w.messages_for(&correlation_id).is_empty()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventrail_tests::settle(&mut watch).await;
    crate::ops::gateway_recovered_for(&stack, None).await;
    let report = watch.report(&correlation_id, format!("order {order_id}"));
    let text = report.render(None);
    assert_eq!(report.messages.len(), 1, "{text}");
    assert_eq!(report.messages[0].body.kind, "order-shipped", "{text}");
    assert!(report.failures.is_empty(), "the record was deleted: {text}");
    watch.close().await.expect("closing the watch");

    browser
        .open(&format!("{}/flows/{correlation_id}", studio.origin))
        .await;
    let types = strings(
        &browser
            .run(&detail_types_script(&correlation_id), Vec::new())
            .await,
    );
    assert_eq!(
        types.iter().filter(|t| *t == "OrderShipped").count(),
        1,
        "{types:?}"
    );
    browser.close().await;
    stop_and_check_the_tap_is_gone(&stack, studio).await;
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn why_not_for_the_fraud_rule_on_an_ordinary_order_names_total_cents() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let stack = stack().await;
    let studio = Studio::start(&stack, &[]);
    let (event, _) = fresh_sample("order-placed.json");
    let total = event.detail["data"]["order"]["total_cents"].clone();
    let event_id = stack.put_event(&event).await.expect("putting the order");

    // Once the studio holds the event, pick it and fraud's rule on the why page.
    browser.open(&studio.url()).await;
    browser
        .open(&format!("{}/events/{event_id}", studio.origin))
        .await;
    browser
        .reload_until("the event in the studio", |text| {
            text.contains("SKU-TEA-001")
        })
        .await;
    browser.open(&format!("{}/why", studio.origin)).await;
    let picked = browser
        .run(
            "const [id] = arguments; \
             const event = document.querySelector('select[name=\"event\"]'); \
             const rule = document.querySelector('select[name=\"rule\"]'); \
             if (!event || !rule) { return 'no pick lists'; } \
             if (!Array.from(event.options).some(o => o.value === id)) { return 'no event ' + id; } \
             event.value = id; \
             const fraud = Array.from(rule.options).find(o => /fraud/i.test(o.value + ' ' + o.text)); \
             if (!fraud) { return 'no fraud rule'; } \
             rule.value = fraud.value; \
             rule.form.requestSubmit(); \
             return fraud.value + ' ' + fraud.text;",
            vec![event_id.clone().into()],
        )
        .await;
    let rule = picked.as_str().unwrap_or_default().to_owned();
    assert!(rule.to_lowercase().contains("fraud"), "picking: {picked}");
    let text = browser
        .text_until("the explanation", |text| text.contains("total_cents"))
        .await;
    assert!(
        text.contains(&total.to_string()),
        "the order's total: {text}"
    );
    assert!(text.contains("100000"), "the rule's bound: {text}");
    browser.screenshot("studio-why-not").await;
    browser.close().await;
    stop_and_check_the_tap_is_gone(&stack, studio).await;
}

/// `method` on `url` over plain HTTP, with `headers`; returns (status, set-cookie, body).
async fn plain(
    method: &'static str,
    url: String,
    headers: Vec<(&'static str, String)>,
) -> (u16, Option<String>, String) {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let sent = match method {
            "GET" => {
                let mut request = agent.get(&url);
                for (name, value) in &headers {
                    request = request.header(*name, value);
                }
                request.call()
            }
            "POST" => {
                let mut request = agent
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded");
                for (name, value) in &headers {
                    request = request.header(*name, value);
                }
                request.send("mode=dry-run")
            }
            other => panic!("no {other} requests here"),
        };
        let mut response = sent.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.body_mut().read_to_string().unwrap_or_default();
        (response.status().as_u16(), cookie, body)
    })
    .await
    .unwrap_or_else(|e| panic!("the request's thread: {e}"))
}

#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn a_request_without_the_token_gets_403() {
    let stack = stack().await;
    let studio = Studio::start(&stack, &[]);
    let origin = studio.origin.clone();

    // Plain HTTP: no token, a wrong token, the live stream without one: 403.
    for path in ["/", "/?token=0000", "/stream", "/dlq", "/events/x"] {
        let (status, _, body) = plain("GET", format!("{origin}{path}"), Vec::new()).await;
        assert_eq!(status, 403, "GET {path}: {body}");
        assert!(body.len() < 200, "a short text: {body}");
    }
    // The token: the page, and a cookie for the next requests.
    let (status, cookie, body) = plain("GET", studio.url(), Vec::new()).await;
    assert_eq!(status, 200, "{body}");
    let cookie = cookie.unwrap_or_else(|| panic!("no cookie set: {body}"));
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let pair = cookie
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let (status, _, body) = plain(
        "GET",
        format!("{origin}/dlq"),
        vec![("cookie", pair.clone())],
    )
    .await;
    assert_eq!(status, 200, "the cookie alone: {body}");
    // A write with the token but from another origin, or saying none: 403.
    let redrive = format!("{origin}/dlq/payments/redrive");
    for origin_header in [Some("http://evil.example".to_owned()), None] {
        let mut headers = vec![("cookie", pair.clone())];
        if let Some(other) = origin_header.clone() {
            headers.push(("origin", other));
        }
        let (status, _, body) = plain("POST", redrive.clone(), headers).await;
        assert_eq!(status, 403, "POST from {origin_header:?}: {body}");
    }

    // In the browser: a fresh session without the token is refused; with it, let in.
    if let Some(browser) = Browser::start().await {
        browser.open(&format!("{origin}/")).await;
        let status = browser
            .run_async(
                "const done = arguments[arguments.length - 1]; \
                 fetch(location.origin + '/').then(r => done(r.status), e => done(String(e)));",
                Vec::new(),
            )
            .await;
        assert_eq!(status, 403, "{}", browser.text().await);
        browser.open(&studio.url()).await;
        browser.open(&format!("{origin}/dlq")).await;
        let status = browser
            .run_async(
                "const done = arguments[arguments.length - 1]; \
                 fetch(location.origin + '/').then(r => done(r.status), e => done(String(e)));",
                Vec::new(),
            )
            .await;
        assert_eq!(status, 200, "the cookie the first page set");
        browser.close().await;
    }
    stop_and_check_the_tap_is_gone(&stack, studio).await;
}

#[test]
fn the_studio_s_url_line_gives_its_origin_and_token() {
    use eventrail_tests::studio::parse_url_line;
    let token = "ab".repeat(32);
    assert_eq!(
        parse_url_line(&format!("studio: http://127.0.0.1:4321/?token={token}")),
        Some(("http://127.0.0.1:4321".to_owned(), token.clone()))
    );
    assert_eq!(
        parse_url_line(&format!("studio: http://0.0.0.0:4321/?token={token}")),
        None
    );
    assert_eq!(
        parse_url_line("studio: http://127.0.0.1:1/?token=short"),
        None
    );
}

#[tokio::test]
#[ignore = "needs Chromium: cargo xtask test"]
async fn the_harness_drives_headless_chromium_and_saves_a_png() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser
        .open("data:text/html,<title>t</title><p id=p>studio harness</p>")
        .await;
    let found = browser.wait_for("the paragraph", "#p").await;
    assert_eq!(found.text().await.expect("its text"), "studio harness");
    let size = browser
        .run(
            "return [window.innerWidth, window.innerHeight];",
            Vec::new(),
        )
        .await;
    assert_eq!(size[0], 1400, "{size}");
    let path = browser.screenshot("harness").await;
    let png = std::fs::read(&path).expect("the screenshot");
    assert!(png.len() > 100, "{}", path.display());
    browser.close().await;
}
