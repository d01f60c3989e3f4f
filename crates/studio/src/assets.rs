//! The studio's own JavaScript and CSS, embedded in the binary (no build step).

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::routing::get;

use crate::state::AppState;

const SCRIPT: &str = include_str!("../assets/studio.js");
const STYLE: &str = include_str!("../assets/studio.css");

/// `/assets/studio.js` and `/assets/studio.css`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/assets/studio.js",
            get(|| async {
                (
                    [
                        (CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (CACHE_CONTROL, "no-cache"),
                    ],
                    SCRIPT,
                )
            }),
        )
        .route(
            "/assets/studio.css",
            get(|| async {
                (
                    [
                        (CONTENT_TYPE, "text/css; charset=utf-8"),
                        (CACHE_CONTROL, "no-cache"),
                    ],
                    STYLE,
                )
            }),
        )
}
