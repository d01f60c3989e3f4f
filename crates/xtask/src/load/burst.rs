//! The burst: every request sent as fast as `concurrency` workers can, each worker one
//! connection (plain HTTP, `ureq`, blocking: a thread a worker), and what each request got.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use eventrail_contract::trigger::HttpMethod;

use crate::load::body::{Template, Tokens};

/// How much of a refused request's answer is kept to show.
const EXCERPT: usize = 300;

/// Where and how the burst goes.
#[derive(Debug, Clone)]
pub struct Target {
    /// The route's URL.
    pub url: String,
    /// The route's method (one that takes a body).
    pub method: HttpMethod,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The longest a request may take.
    pub timeout: Duration,
}

/// What one request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP status; the start of the body when it is not a 2xx.
    Status {
        /// The status code.
        code: u16,
        /// The start of the body of a refusal.
        refusal: Option<String>,
    },
    /// No HTTP answer (connection refused, timeout).
    Failed(String),
}

/// One request of the burst.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The token it carried.
    pub token: String,
    /// When it was sent, in milliseconds since the epoch.
    pub sent_ms: u64,
    /// How long its answer took, in milliseconds.
    pub answered_after_ms: u64,
    /// What it got.
    pub answer: Answer,
}

impl Posted {
    /// Whether the API accepted it (2xx).
    pub fn accepted(&self) -> bool {
        matches!(self.answer, Answer::Status { code, .. } if (200..300).contains(&code))
    }
}

/// The whole burst.
#[derive(Debug, Clone)]
pub struct Burst {
    /// Every request, in token order.
    pub posted: Vec<Posted>,
    /// When the first request was sent (milliseconds since the epoch).
    pub started_ms: u64,
    /// From the first request sent to the last answer, in milliseconds.
    pub wall_ms: u64,
}

/// A clock that reads milliseconds since the epoch off a monotonic clock anchored once, so
/// the times of one run never go backwards whatever the system clock does meanwhile.
#[derive(Debug, Clone, Copy)]
struct Clock {
    epoch_ms: u64,
    at: Instant,
}

impl Clock {
    fn start() -> Self {
        let epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self {
            epoch_ms,
            at: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch_ms + self.at.elapsed().as_millis() as u64
    }
}

/// Sends `count` requests to `target`, request `i` with the body carrying `tokens.token(i)`;
/// once `stop` is set, no further request is sent (the burst then holds fewer than `count`).
pub fn run(
    target: &Target,
    template: &Template,
    tokens: &Tokens,
    count: usize,
    stop: &AtomicBool,
) -> Result<Burst> {
    if !matches!(
        target.method,
        HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch
    ) {
        bail!(
            "the load run sends a body: the route's method is {}, not POST, PUT or PATCH",
            target.method
        );
    }
    let bodies: Vec<(String, String)> = (0..count)
        .map(|i| {
            let token = tokens.token(i);
            template.body(&token).map(|body| (token, body))
        })
        .collect::<Result<_>>()?;
    let workers = target.concurrency.clamp(1, count.max(1));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(target.timeout))
        .max_idle_connections(workers)
        .max_idle_connections_per_host(workers)
        .build()
        .into();
    let next = AtomicUsize::new(0);
    let clock = Clock::start();
    let mut posted: Vec<(usize, Posted)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((token, body)) = bodies.get(i) else {
                            break;
                        };
                        mine.push((i, send(&agent, target, &clock, token, body)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_default())
            .collect()
    });
    if posted.len() != count && !stop.load(Ordering::Relaxed) {
        bail!(
            "{} of {count} requests were lost by a worker that panicked",
            count - posted.len()
        );
    }
    posted.sort_by_key(|(i, _)| *i);
    let posted: Vec<Posted> = posted.into_iter().map(|(_, p)| p).collect();
    let started_ms = posted
        .iter()
        .map(|p| p.sent_ms)
        .min()
        .unwrap_or(clock.epoch_ms);
    let ended_ms = posted
        .iter()
        .map(|p| p.sent_ms + p.answered_after_ms)
        .max()
        .unwrap_or(started_ms);
    Ok(Burst {
        posted,
        started_ms,
        wall_ms: ended_ms - started_ms,
    })
}

fn send(agent: &ureq::Agent, target: &Target, clock: &Clock, token: &str, body: &str) -> Posted {
    let sent_ms = clock.now_ms();
    let started = Instant::now();
    let request = match target.method {
        HttpMethod::Put => agent.put(&target.url),
        HttpMethod::Patch => agent.patch(&target.url),
        _ => agent.post(&target.url),
    };
    let answer = match request
        .header("content-type", "application/json")
        .send(body)
    {
        Ok(mut response) => {
            let code = response.status().as_u16();
            let refusal = (!(200..300).contains(&code)).then(|| {
                let text = response.body_mut().read_to_string().unwrap_or_default();
                text.chars().take(EXCERPT).collect()
            });
            Answer::Status { code, refusal }
        }
        Err(error) => Answer::Failed(error.to_string()),
    };
    Posted {
        token: token.to_owned(),
        sent_ms,
        answered_after_ms: started.elapsed().as_millis() as u64,
        answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_2xx_is_accepted() {
        let posted = |answer| Posted {
            token: "t".into(),
            sent_ms: 0,
            answered_after_ms: 1,
            answer,
        };
        let status = |code| Answer::Status {
            code,
            refusal: None,
        };
        assert!(posted(status(200)).accepted());
        assert!(posted(status(202)).accepted());
        assert!(!posted(status(400)).accepted());
        assert!(!posted(status(502)).accepted());
        assert!(!posted(status(302)).accepted());
        assert!(!posted(Answer::Failed("refused".into())).accepted());
    }
}
