//! A tiny local HTTP server whose answers a test scripts request by request,
//! recording every request it receives (path, query, headers, arrival time).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::Response;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub raw_query: String,
    pub params: HashMap<String, String>,
    pub headers: HeaderMap,
    pub at: Instant,
}

impl Seen {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status,
            ..Reply::ok(body)
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

#[derive(Clone)]
struct Shared {
    script: Arc<Script>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// The running server; dropped with the test's runtime.
pub struct ScriptedServer {
    pub base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl ScriptedServer {
    /// Starts a server on a free port; `script(request, index)` answers the
    /// `index`-th request (0-based).
    pub async fn start(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            script: Arc::new(script),
            seen: seen.clone(),
        };
        let app = axum::Router::new().fallback(answer).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        ScriptedServer {
            base_url: format!("http://{addr}"),
            seen,
        }
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(State(shared): State<Shared>, request: Request<Body>) -> Response {
    let uri = request.uri().clone();
    let raw_query = uri.query().unwrap_or_default().to_string();
    let params = url::form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let seen = Seen {
        path: uri.path().to_string(),
        raw_query,
        params,
        headers: request.headers().clone(),
        at: Instant::now(),
    };
    let index = {
        let mut log = shared.seen.lock().unwrap();
        log.push(seen.clone());
        log.len() - 1
    };
    let reply = (shared.script)(&seen, index);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    response.body(Body::from(reply.body)).unwrap()
}
