//! What the fakes share: serving a router on loopback, recording requests, scripted faults and
//! delays, OData `$filter` on one time field, keyset paging tokens, and time formats.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::oneshot;

/// A server on `127.0.0.1:0`; it stops when this is dropped.
pub struct Running {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Running {
    /// `http://127.0.0.1:{port}`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Serves `router` on a fresh loopback port.
pub async fn serve(router: Router) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("a local address");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Running { addr, _stop: stop }
}

/// One request a fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names lowercased.
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub at: Instant,
}

impl Recorded {
    pub(crate) fn new(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Recorded {
        Recorded {
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().map(str::to_string),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: String::from_utf8_lossy(body).into_owned(),
            at: Instant::now(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The body as JSON (`null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// A query parameter, decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// The kinds of call a resource fake answers; faults and delays are scripted per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// The incidents list (every page).
    List,
    /// One incident read.
    Read,
    /// An incident update (Sentinel `PUT`, Graph `PATCH`).
    Update,
    /// A comment write.
    Comment,
    /// Sentinel's entities of an incident.
    Entities,
    /// Sentinel's alerts of an incident.
    Alerts,
    /// A token request (CrowdStrike `POST /oauth2/token`).
    Token,
    /// Entities resolved by id (CrowdStrike alert bodies, QRadar addresses).
    Lookup,
}

/// A scripted failure.
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: u16,
    /// `Retry-After` in seconds.
    pub retry_after: Option<u64>,
}

impl Fault {
    /// `429 Too Many Requests` with `Retry-After`.
    pub fn throttle(retry_after_secs: u64) -> Fault {
        Fault {
            status: 429,
            retry_after: Some(retry_after_secs),
        }
    }

    /// Any status without `Retry-After` (e.g. a 5xx burst).
    pub fn status(status: u16) -> Fault {
        Fault {
            status,
            retry_after: None,
        }
    }
}

/// Faults waiting for the next calls of a kind, and delays per kind.
#[derive(Default)]
pub(crate) struct Script {
    faults: Mutex<Vec<(Call, Fault)>>,
    delays: Mutex<HashMap<Call, Duration>>,
}

impl Script {
    pub(crate) fn fail_next(&self, call: Call, times: usize, fault: Fault) {
        let mut f = self.faults.lock().unwrap();
        for _ in 0..times {
            f.push((call, fault.clone()));
        }
    }

    pub(crate) fn take(&self, call: Call) -> Option<Fault> {
        let mut f = self.faults.lock().unwrap();
        let i = f.iter().position(|(c, _)| *c == call)?;
        Some(f.remove(i).1)
    }

    pub(crate) fn set_delay(&self, call: Call, delay: Duration) {
        self.delays.lock().unwrap().insert(call, delay);
    }

    pub(crate) fn delay(&self, call: Call) -> Option<Duration> {
        self.delays.lock().unwrap().get(&call).copied()
    }
}

/// What every resource fake keeps: its script, its record of requests, its clock.
#[derive(Default)]
pub(crate) struct Core {
    pub script: Script,
    pub recorded: Mutex<Vec<Recorded>>,
    pub clock: Clock,
    seq: AtomicU64,
}

impl Core {
    /// Records a request; returns it to be handled.
    pub(crate) fn record(&self, req: Req) -> Req {
        let Req(method, uri, headers, body) = &req;
        self.recorded
            .lock()
            .unwrap()
            .push(Recorded::new(method, uri, headers, body));
        req
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }

    /// A fresh seed for the next simulated incident.
    pub(crate) fn next_seed(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst)
    }
}

/// A fake's state, set once its server has an address.
pub(crate) type Cell<I> = Arc<OnceLock<Arc<I>>>;

/// Serves `handle` (every path) on loopback; `make` builds the fake's state from its base URL.
pub(crate) async fn start<I, H, T>(
    handle: H,
    make: impl FnOnce(String) -> I,
) -> (Arc<I>, Arc<Running>)
where
    I: Send + Sync + 'static,
    H: axum::handler::Handler<T, Cell<I>>,
    T: 'static,
{
    let cell: Cell<I> = Arc::new(OnceLock::new());
    let router = Router::new().fallback(handle).with_state(cell.clone());
    let running = serve(router).await;
    let inner = Arc::new(make(running.base()));
    let _ = cell.set(inner.clone());
    (inner, Arc::new(running))
}

/// One request as a fake's handler takes it: method, URI, headers and the body (read as axum's
/// `Bytes` reads it).
pub(crate) struct Req(pub Method, pub Uri, pub HeaderMap, pub Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Req {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Req, Response> {
        let (parts, body) = req.into_parts();
        let (method, uri, headers) = (
            parts.method.clone(),
            parts.uri.clone(),
            parts.headers.clone(),
        );
        let body = <Bytes as axum::extract::FromRequest<S>>::from_request(
            axum::extract::Request::from_parts(parts, body),
            state,
        )
        .await
        .map_err(IntoResponse::into_response)?;
        Ok(Req(method, uri, headers, body))
    }
}

/// The value of the header `name` (empty when absent or not text).
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Runs `f` every `every` (first after one period) until the task is aborted.
pub(crate) fn spawn_every(
    every: Duration,
    f: impl Fn() + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            f();
        }
    })
}

/// A list request on one time field: `$filter`, `$orderby`, `$top` and a keyset skip token.
pub(crate) struct ListQuery {
    filter: Vec<(Op, DateTime<Utc>)>,
    asc: bool,
    pub top: usize,
    after: Option<(DateTime<Utc>, String)>,
}

impl ListQuery {
    /// Reads the query; `Err` is the message of a 400.
    pub(crate) fn parse(
        q: &HashMap<String, String>,
        field: &str,
        max_top: usize,
        token_keys: &[&str],
    ) -> Result<ListQuery, String> {
        let filter = match q.get("$filter") {
            None => Vec::new(),
            Some(f) => parse_time_filter(f, field).map_err(|m| format!("Invalid $filter: {m}"))?,
        };
        let asc = match q.get("$orderby").map(|o| o.trim()) {
            None => false,
            Some(o) if o == field || o == format!("{field} asc") => true,
            Some(o) if o == format!("{field} desc") => false,
            Some(o) => return Err(format!("Invalid $orderby '{o}'.")),
        };
        let top = match q.get("$top") {
            None => 50.min(max_top),
            Some(t) => match t.parse::<usize>() {
                Ok(n) if (1..=max_top).contains(&n) => n,
                _ => return Err(format!("$top must be between 1 and {max_top}.")),
            },
        };
        let after = match token_keys.iter().find_map(|k| q.get(*k)) {
            None => None,
            Some(t) => Some(parse_page_token(t).ok_or("Invalid skip token.")?),
        };
        Ok(ListQuery {
            filter,
            asc,
            top,
            after,
        })
    }

    /// One page of `(time, id)` keys in the requested order, and whether more follow.
    pub(crate) fn page<'a>(
        &self,
        keys: impl Iterator<Item = (DateTime<Utc>, &'a String)>,
    ) -> (Vec<(DateTime<Utc>, &'a String)>, bool) {
        let after = self.after.as_ref().map(|(t, id)| (*t, id.as_str()));
        let keys: Vec<(DateTime<Utc>, &String)> = keys
            .filter(|(t, _)| passes(&self.filter, *t))
            .filter(|(t, id)| {
                after.is_none_or(|a| {
                    let k = (*t, id.as_str());
                    if self.asc {
                        k > a
                    } else {
                        k < a
                    }
                })
            })
            .collect();
        let more = keys.len() > self.top;
        let page = if self.asc {
            first_sorted(keys, self.top, |k| *k)
        } else {
            first_sorted(keys, self.top, |k| std::cmp::Reverse(*k))
        };
        (page, more)
    }
}

/// The first `n` items in the order of `key`, sorted: a selection, then a sort of those only
/// (O(len + n log n)). Sorting every item on every page made the fakes, not the server, the
/// bottleneck of `bench/connectors.sh` at 100,000 incidents.
pub(crate) fn first_sorted<T, K: Ord>(
    mut items: Vec<T>,
    n: usize,
    key: impl Fn(&T) -> K,
) -> Vec<T> {
    if n == 0 {
        return Vec::new();
    }
    if n < items.len() {
        items.select_nth_unstable_by(n - 1, |a, b| key(a).cmp(&key(b)));
        items.truncate(n);
    }
    items.sort_by_key(|a| key(a));
    items
}

/// A JSON answer.
pub(crate) fn json(status: u16, v: &Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

/// A JSON error answer with an optional `Retry-After`.
pub(crate) fn error(status: u16, body: &Value, retry_after: Option<u64>) -> Response {
    let mut r = json(status, body);
    if let Some(s) = retry_after {
        r.headers_mut().insert(
            "retry-after",
            s.to_string().parse().expect("a header value"),
        );
    }
    r
}

/// The bearer token of a request.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Seven fractional digits, as Sentinel and Graph write instants.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    use chrono::Timelike;
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.nanosecond() % 1_000_000_000 / 100
    )
}

/// A comparison of `$filter` on the time field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Ge,
    Gt,
    Le,
    Lt,
}

/// Parses `{field} ge 2024-01-01T00:00:00Z [and {field} lt …]`: comparisons of one time field
/// with an unquoted OData `DateTimeOffset` literal. Anything else is an error message.
pub(crate) fn parse_time_filter(
    expr: &str,
    field: &str,
) -> Result<Vec<(Op, DateTime<Utc>)>, String> {
    let mut out = Vec::new();
    for part in expr.split(" and ") {
        let words: Vec<&str> = part.split_whitespace().collect();
        let [f, op, value] = words.as_slice() else {
            return Err(format!("Invalid $filter clause '{part}'."));
        };
        if *f != field {
            return Err(format!("Filtering on '{f}' is not supported."));
        }
        let op = match op.to_ascii_lowercase().as_str() {
            "ge" => Op::Ge,
            "gt" => Op::Gt,
            "le" => Op::Le,
            "lt" => Op::Lt,
            _ => return Err(format!("Unsupported operator '{op}'.")),
        };
        let t = DateTime::parse_from_rfc3339(value)
            .map_err(|_| format!("'{value}' is not a DateTimeOffset literal."))?;
        out.push((op, t.with_timezone(&Utc)));
    }
    Ok(out)
}

pub(crate) fn passes(filter: &[(Op, DateTime<Utc>)], t: DateTime<Utc>) -> bool {
    filter.iter().all(|(op, v)| match op {
        Op::Ge => t >= *v,
        Op::Gt => t > *v,
        Op::Le => t <= *v,
        Op::Lt => t < *v,
    })
}

/// A keyset paging token: the position `(time, id)` of the last item returned.
pub(crate) fn page_token(t: DateTime<Utc>, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}|{id}", t.timestamp_micros()))
}

pub(crate) fn parse_page_token(token: &str) -> Option<(DateTime<Utc>, String)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (micros, id) = s.split_once('|')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id.to_string(),
    ))
}

/// A clock whose readings strictly increase (by at least one microsecond), so that versions
/// of the fake's items never tie by accident.
#[derive(Default)]
pub(crate) struct Clock(Mutex<Option<DateTime<Utc>>>);

impl Clock {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let mut last = self.0.lock().unwrap();
        let mut t = Utc::now();
        t = DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t);
        if let Some(l) = *last {
            if t <= l {
                t = l + chrono::Duration::microseconds(1);
            }
        }
        *last = Some(t);
        t
    }
}

/// The test controls every resource fake offers on its `inner: Arc<Inner>` (an `Inner` with a
/// `core: Core` and the stored items in `$items`): `len`, `is_empty`, `requests`, `writes`
/// (the requests `$pred` picks), `fail_next`, `set_delay` and `spawn_simulation` (seeds
/// salted with `$salt`).
macro_rules! fake_controls {
    ($fake:ty, $items:ident, $writes_doc:literal, |$r:ident| $pred:expr, simulate: $salt:expr) => {
        impl $fake {
            /// Adds one simulated item every `every` until the returned task is aborted.
            pub fn spawn_simulation(
                &self,
                every: ::std::time::Duration,
            ) -> tokio::task::JoinHandle<()> {
                let me = self.clone();
                $crate::common::spawn_every(every, move || {
                    me.add_simulated(me.inner.core.next_seed() ^ $salt);
                })
            }

            pub fn len(&self) -> usize {
                self.inner.$items.lock().unwrap().len()
            }

            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Every request received.
            pub fn requests(&self) -> Vec<$crate::common::Recorded> {
                self.inner.core.requests()
            }

            #[doc = $writes_doc]
            pub fn writes(&self) -> Vec<$crate::common::Recorded> {
                self.requests().into_iter().filter(|$r| $pred).collect()
            }

            pub fn fail_next(
                &self,
                call: $crate::common::Call,
                times: usize,
                fault: $crate::common::Fault,
            ) {
                self.inner.core.script.fail_next(call, times, fault);
            }

            pub fn set_delay(&self, call: $crate::common::Call, delay: ::std::time::Duration) {
                self.inner.core.script.set_delay(call, delay);
            }
        }
    };
}
pub(crate) use fake_controls;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sorted_is_the_head_of_a_full_sort() {
        let items: Vec<u64> = (0..500u64).map(|i| (i * 7919) % 1009).collect();
        let mut all = items.clone();
        all.sort();
        for n in [0, 1, 49, 50, 499, 500, 600] {
            let head = first_sorted(items.clone(), n, |k| *k);
            assert_eq!(head, all[..n.min(all.len())], "n = {n}");
            let tail = first_sorted(items.clone(), n, |k| std::cmp::Reverse(*k));
            let want: Vec<u64> = all.iter().rev().take(n).copied().collect();
            assert_eq!(tail, want, "n = {n}, descending");
        }
    }

    #[test]
    fn filters_and_tokens() {
        let f = parse_time_filter(
            "properties/lastModifiedTimeUtc ge 2024-01-01T00:00:00Z and properties/lastModifiedTimeUtc lt 2024-01-02T00:00:00.5Z",
            "properties/lastModifiedTimeUtc",
        )
        .unwrap();
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(passes(&f, t("2024-01-01T00:00:00Z")));
        assert!(!passes(&f, t("2023-12-31T23:59:59Z")));
        assert!(!passes(&f, t("2024-01-02T00:00:01Z")));
        assert!(parse_time_filter("title eq 'x'", "properties/lastModifiedTimeUtc").is_err());
        assert!(parse_time_filter(
            "lastUpdateDateTime ge '2024-01-01T00:00:00Z'",
            "lastUpdateDateTime"
        )
        .is_err());
        let tok = page_token(t("2024-01-01T00:00:00.123456Z"), "abc");
        assert_eq!(
            parse_page_token(&tok),
            Some((t("2024-01-01T00:00:00.123456Z"), "abc".into()))
        );
        let c = Clock::default();
        let (a, b) = (c.now(), c.now());
        assert!(b > a);
        assert_eq!(
            fmt_time(t("2024-01-01T00:00:00.1234567Z")),
            "2024-01-01T00:00:00.1234567Z"
        );
    }
}
