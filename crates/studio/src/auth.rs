//! Who may use the studio: whoever holds the run's token. The printed URL carries it
//! (`?token=`); the first page answered sets it as a cookie (`HttpOnly; SameSite=Strict;
//! Path=/`), named after the port so that two studios on one machine keep theirs apart.
//! Anything else gets 403. A write (any method but GET and HEAD) also needs the request to
//! come from the studio's own pages (`Origin` equal to the studio's origin, or
//! `Sec-Fetch-Site: same-origin`) and the environment not to be read-only.

use axum::extract::{Request, State};
use axum::http::header::{COOKIE, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Writes;
use crate::state::AppState;

/// What a request without the token is told.
pub(crate) const NO_TOKEN: &str =
    "403 forbidden: open the URL `eventrail studio` printed (it carries ?token=...)";
/// What a write from another origin is told.
pub(crate) const CROSS_ORIGIN: &str =
    "403 forbidden: writes must come from the studio's own pages (same origin)";
/// What a write on a read-only studio is told.
pub(crate) const READ_ONLY: &str = "403 read-only: start with --allow-writes";

/// The cookie's name for a studio on `origin` (its port in it).
pub(crate) fn cookie_name(origin: &str) -> String {
    let port = origin.rsplit(':').next().unwrap_or_default();
    format!("eventrail_studio_{port}")
}

/// Where the request's token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    Query,
    Cookie,
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

fn credential(state: &AppState, request: &Request) -> Option<Credential> {
    let from_query = axum::extract::Query::<TokenQuery>::try_from_uri(request.uri())
        .ok()
        .and_then(|q| q.0.token);
    if from_query.is_some_and(|t| state.token.accepts(&t)) {
        return Some(Credential::Query);
    }
    let name = cookie_name(&state.origin);
    request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(key, value)| key == name && state.token.accepts(value))
        .then_some(Credential::Cookie)
}

/// Whether a write comes from the studio's own pages.
fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    origin == Some(state.origin.as_str()) || site == Some("same-origin")
}

fn forbidden(text: &'static str) -> Response {
    (StatusCode::FORBIDDEN, text).into_response()
}

/// The middleware in front of every route.
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(credential) = credential(&state, &request) else {
        return forbidden(NO_TOKEN);
    };
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if !reads {
        if !same_origin(&state, request.headers()) {
            return forbidden(CROSS_ORIGIN);
        }
        if state.writes == Writes::ReadOnly {
            return forbidden(READ_ONLY);
        }
    }
    let mut response = next.run(request).await;
    if credential == Credential::Query {
        let cookie = format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            cookie_name(&state.origin),
            state.token.as_str()
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;

    use super::*;
    use crate::Personal;
    use crate::test_support::{STUDIO_ORIGIN, TOKEN, get, send, state};

    fn request(method: &str, path: &str) -> axum::http::request::Builder {
        Request::builder().method(method).uri(path)
    }

    #[tokio::test]
    async fn without_the_token_every_path_is_403() {
        let state = state("local", Personal::Masked).await;
        for path in ["/", "/stream", "/assets/studio.js", "/why", "/no-such-page"] {
            let answer = send(&state, request("GET", path).body(Body::empty()).unwrap()).await;
            assert_eq!(answer.status, 403, "{path}");
            assert_eq!(answer.body, NO_TOKEN, "{path}");
        }
        let wrong = format!("/?token={}", "0".repeat(64));
        let answer = send(&state, request("GET", &wrong).body(Body::empty()).unwrap()).await;
        assert_eq!(answer.status, 403);
        let short = format!("/?token={}", &TOKEN[..63]);
        let answer = send(&state, request("GET", &short).body(Body::empty()).unwrap()).await;
        assert_eq!(answer.status, 403);
    }

    #[tokio::test]
    async fn the_token_in_the_url_sets_a_strict_http_only_cookie() {
        let state = state("local", Personal::Masked).await;
        let answer = get(&state, "/").await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let cookie = answer
            .headers
            .get(SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .expect("a cookie is set");
        assert_eq!(
            cookie,
            format!("eventrail_studio_4998={TOKEN}; HttpOnly; SameSite=Strict; Path=/")
        );
    }

    #[tokio::test]
    async fn the_cookie_alone_lets_in_and_a_wrong_one_does_not() {
        let state = state("local", Personal::Masked).await;
        let good = format!("other=1; eventrail_studio_4998={TOKEN}");
        let answer = send(
            &state,
            request("GET", "/")
                .header(COOKIE, good)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, 200);
        assert!(
            answer.headers.get(SET_COOKIE).is_none(),
            "no new cookie needed"
        );
        // The right token under another studio's cookie name is not this studio's cookie.
        let other_port = format!("eventrail_studio_5000={TOKEN}");
        let answer = send(
            &state,
            request("GET", "/")
                .header(COOKIE, other_port)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, 403);
    }

    #[tokio::test]
    async fn a_post_needs_the_same_origin() {
        let state = state("local", Personal::Masked).await;
        let path = format!("/?token={TOKEN}");
        let none = send(&state, request("POST", &path).body(Body::empty()).unwrap()).await;
        assert_eq!((none.status, none.body.as_str()), (403, CROSS_ORIGIN));
        let foreign = send(
            &state,
            request("POST", &path)
                .header(ORIGIN, "http://evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(foreign.status, 403);
        let cross_site = send(
            &state,
            request("POST", &path)
                .header("sec-fetch-site", "cross-site")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(cross_site.status, 403);
        // Past the guard, `/` has no POST: the router's 405, not the guard's 403.
        let same = send(
            &state,
            request("POST", &path)
                .header(ORIGIN, STUDIO_ORIGIN)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(same.status, 405);
        let fetch = send(
            &state,
            request("POST", &path)
                .header("sec-fetch-site", "same-origin")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(fetch.status, 405);
        // Without the token, the same origin is not enough.
        let tokenless = send(
            &state,
            request("POST", "/")
                .header(ORIGIN, STUDIO_ORIGIN)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(tokenless.status, 403);
    }

    #[tokio::test]
    async fn prod_refuses_writes_and_says_how_to_allow_them() {
        let state = state("prod", Personal::Masked).await;
        let answer = send(
            &state,
            request("POST", &format!("/?token={TOKEN}"))
                .header(ORIGIN, STUDIO_ORIGIN)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!((answer.status, answer.body.as_str()), (403, READ_ONLY));
        let page = get(&state, "/").await;
        assert!(page.body.contains("read-only"), "the badge shows");
    }
}
