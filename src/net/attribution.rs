//! Which scenario something recorded belongs to, when several run at once: a step's own
//! calls, timings and notes by the scenario its future runs as (a task-local), and a call the
//! simulated C&A receives by the values it carries that one scenario sent or was sent.

use reqwest::header::HeaderMap;

/// The scenario something recorded belongs to (`None`: no scenario could be told, e.g. a call
/// to the simulated C&A that carries no value a scenario sent).
pub type Tag = Option<u64>;

tokio::task_local! {
    /// The scenario whose step is running: set around each step's future
    /// ([`in_scenario`]), so that concurrent scenarios' calls, timings and notes are told apart.
    static SCENARIO: u64;
}

/// Run a step's future as scenario `id`: what it records is that scenario's.
pub async fn in_scenario<F: std::future::Future>(id: u64, f: F) -> F::Output {
    SCENARIO.scope(id, f).await
}

/// The scenario whose step is running here, if any.
pub fn current_scenario() -> Tag {
    SCENARIO.try_with(|id| *id).ok()
}

/// Whether an item tagged `tag` belongs in the evidence of scenario `scope`: its own, and
/// what no scenario could be told for (attributed by time, as a serial run always did).
pub(crate) fn in_scope(tag: Tag, scope: Tag) -> bool {
    tag.is_none() || scope.is_none() || tag == scope
}

/// Values shorter than this are too common (status words, scopes) to tell scenarios apart.
const MIN_ATOM: usize = 16;
/// Correlation values kept (a whole pack holds a few thousand, most under 1 KB); the oldest
/// go first.
const MAX_CORRELATIONS: usize = 10_000;
/// Larger form bodies are not searched for values.
const MAX_FORM: usize = 16 * 1024;

/// Values (request ids, tokens, resource ids, asset GUIDs) that one scenario sent or was sent,
/// so that a call the provider makes to the simulated C&A is attributed to the scenario
/// whose find or view caused it: `/rreguri` carries the find's request id as
/// `inbound_request_id`, `/token` the find token, `/perm` the resource ids `/rreguri`
/// answered, `/introspect` the dashboard's RPT. A value two scenarios share tells nothing.
#[derive(Debug, Default)]
pub(crate) struct Correlations {
    owner: std::collections::HashMap<String, Tag>,
    order: std::collections::VecDeque<String>,
}

impl Correlations {
    pub(crate) fn learn(&mut self, scenario: u64, atoms: Vec<String>) {
        for atom in atoms {
            match self.owner.get_mut(&atom) {
                Some(owner) if *owner != Some(scenario) => *owner = None,
                Some(_) => {}
                None => {
                    self.owner.insert(atom.clone(), Some(scenario));
                    self.order.push_back(atom);
                    if self.order.len() > MAX_CORRELATIONS
                        && let Some(old) = self.order.pop_front()
                    {
                        self.owner.remove(&old);
                    }
                }
            }
        }
    }

    pub(crate) fn lookup(&self, atoms: &[String]) -> Tag {
        atoms
            .iter()
            .find_map(|a| self.owner.get(a).copied().flatten())
    }
}

/// The path of a URL, whether absolute (a client's) or origin-form (a server's).
pub(crate) fn path_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => u.path().to_owned(),
        Err(_) => url.split('?').next().unwrap_or(url).to_owned(),
    }
}

/// The values of a request or response that can tie it to a scenario: the request id, a
/// bearer token, long path segments and query values, and long string values of a JSON or
/// form body. Body first: `inbound_request_id` names the find better than a PAT that several
/// finds may share.
pub(crate) fn atoms(url: &str, headers: &HeaderMap, body: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |v: &str| {
        if v.len() >= MIN_ATOM {
            out.push(v.to_owned());
        }
    };
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        fn strings(v: &serde_json::Value, add: &mut dyn FnMut(&str)) {
            match v {
                serde_json::Value::String(s) => add(s),
                serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, add)),
                serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, add)),
                _ => {}
            }
        }
        strings(&json, &mut add);
    } else if !body.is_empty() && body.len() <= MAX_FORM {
        for (_, v) in url::form_urlencoded::parse(body) {
            add(&v);
        }
    }
    // The path and query only: a host name is every scenario's.
    let (path, query) = match url::Url::parse(url) {
        Ok(u) => (u.path().to_owned(), u.query().map(str::to_owned)),
        Err(_) => match url.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (url.to_owned(), None),
        },
    };
    path.split('/').for_each(&mut add);
    if let Some(query) = query {
        for (_, v) in url::form_urlencoded::parse(query.as_bytes()) {
            add(&v);
        }
    }
    if let Some(v) = headers
        .get(reqwest::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        add(v.strip_prefix("Bearer ").unwrap_or(v));
    }
    for (name, value) in headers {
        if name.as_str().eq_ignore_ascii_case("x-request-id")
            && let Ok(v) = value.to_str()
        {
            add(v);
        }
    }
    out
}
