//! The HTTP surface: one route per replayed endpoint, each answered through [`api`],
//! which applies the configured latency, consumes an injected fault and logs the request.

use crate::faults::{Effect, RequestRecord};
use crate::reply::{Params, Reply};
use crate::{Shared, Source, admin, arxiv, lock, openalex, pubmed, semantic_scholar};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

type St = State<Arc<Shared>>;

/// Requests kept in the log.
const MAX_LOG: usize = 500_000;

/// All routes: the four APIs under `/openalex`, `/pubmed`, `/arxiv`, `/s2` (also
/// `/semantic_scholar`), the admin API under `/_admin`, and `/healthz`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/openalex/works", get(openalex_works))
        .route("/openalex/works/{*id}", get(openalex_work));
    // Each API also answers under its real path prefix, for clients whose base URL
    // keeps it (`…/pubmed/entrez/eutils`, `…/arxiv/api`, `…/s2/graph/v1`).
    for prefix in ["/pubmed", "/pubmed/entrez/eutils"] {
        router = router
            .route(
                &format!("{prefix}/esearch.fcgi"),
                get(pubmed_esearch).post(pubmed_esearch),
            )
            .route(
                &format!("{prefix}/efetch.fcgi"),
                get(pubmed_efetch).post(pubmed_efetch),
            );
    }
    for prefix in ["/arxiv", "/arxiv/api"] {
        router = router.route(&format!("{prefix}/query"), get(arxiv_query));
    }
    for prefix in [
        "/s2",
        "/semantic_scholar",
        "/s2/graph/v1",
        "/semantic_scholar/graph/v1",
    ] {
        router = router
            .route(&format!("{prefix}/paper/search/bulk"), get(s2_bulk))
            .route(&format!("{prefix}/paper/search"), get(s2_search));
    }
    router
        .merge(admin::routes())
        .fallback(unknown)
        .with_state(shared)
}

async fn openalex_works(State(s): St, method: Method, uri: Uri) -> Response {
    let p = Params::parse(uri.query(), b"");
    api(s, Source::OpenAlex, "works", method, &uri, move |s| {
        openalex::works(s, &p)
    })
    .await
}

async fn openalex_work(State(s): St, method: Method, uri: Uri, Path(id): Path<String>) -> Response {
    let p = Params::parse(uri.query(), b"");
    api(s, Source::OpenAlex, "work", method, &uri, move |s| {
        openalex::work(s, &id, &p)
    })
    .await
}

async fn pubmed_esearch(State(s): St, method: Method, uri: Uri, body: Bytes) -> Response {
    let p = Params::parse(uri.query(), &body);
    api(s, Source::PubMed, "esearch", method, &uri, move |s| {
        pubmed::esearch(s, &p)
    })
    .await
}

async fn pubmed_efetch(State(s): St, method: Method, uri: Uri, body: Bytes) -> Response {
    let p = Params::parse(uri.query(), &body);
    api(s, Source::PubMed, "efetch", method, &uri, move |s| {
        pubmed::efetch(s, &p)
    })
    .await
}

async fn arxiv_query(State(s): St, method: Method, uri: Uri) -> Response {
    let p = Params::parse(uri.query(), b"");
    api(s, Source::Arxiv, "query", method, &uri, move |s| {
        arxiv::query(s, &p)
    })
    .await
}

async fn s2_bulk(State(s): St, method: Method, uri: Uri) -> Response {
    let p = Params::parse(uri.query(), b"");
    api(s, Source::SemanticScholar, "bulk", method, &uri, move |s| {
        semantic_scholar::bulk(s, &p)
    })
    .await
}

async fn s2_search(State(s): St, method: Method, uri: Uri) -> Response {
    let p = Params::parse(uri.query(), b"");
    api(
        s,
        Source::SemanticScholar,
        "search",
        method,
        &uri,
        move |s| semantic_scholar::search(s, &p),
    )
    .await
}

/// Unknown paths: 404, logged when under a source prefix.
async fn unknown(State(s): St, method: Method, uri: Uri) -> Response {
    let segment = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    match Source::ALL
        .into_iter()
        .find(|src| src.path_segment() == segment || src.name() == segment)
    {
        Some(source) => {
            api(s, source, "unknown", method, &uri, |_| {
                Reply::new(404, crate::reply::TEXT, "Not Found")
            })
            .await
        }
        None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

/// Answers one API request: latency, then the fault it meets (if any), then the
/// normal reply; logs arrival time and the status served.
async fn api(
    s: Arc<Shared>,
    source: Source,
    endpoint: &str,
    method: Method,
    uri: &Uri,
    make: impl FnOnce(&Shared) -> Reply,
) -> Response {
    let arrived = s.started.elapsed();
    let latency = s.latency();
    if !latency.is_zero() {
        s.pause(latency).await;
    }
    let fault = lock(&s.faults).take(source, endpoint);
    let reply = match fault.as_ref().map(|f| f.effect(endpoint)) {
        None => make(&s),
        Some(Effect::Replace(reply)) => reply,
        Some(Effect::Delay(delay)) => {
            s.pause(delay).await;
            make(&s)
        }
        Some(Effect::Truncate) => {
            let mut reply = make(&s);
            let half = reply.body.len() / 2;
            reply.body.truncate(half);
            reply
        }
        Some(Effect::Malform(body)) => {
            let normal = make(&s);
            Reply::new(200, normal.content_type, body)
        }
    };
    let prefix_len = uri
        .path()
        .trim_start_matches('/')
        .find('/')
        .map_or(uri.path().len(), |i| i + 1);
    let mut log = lock(&s.log);
    if log.len() >= MAX_LOG {
        // A long-running demo keeps the most recent requests only.
        log.drain(..MAX_LOG / 5);
    }
    log.push(RequestRecord {
        at_ms: arrived.as_millis() as u64,
        at_us: arrived.as_micros() as u64,
        source,
        method: method.to_string(),
        path: uri.path()[prefix_len..].to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        status: reply.status,
        fault: fault.map(|f| f.kind),
    });
    drop(log);
    tracing::debug!(
        source = source.name(),
        path = uri.path(),
        status = reply.status,
        "replayed"
    );
    into_response(reply)
}

fn into_response(reply: Reply) -> Response {
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}
