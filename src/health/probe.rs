//! The probes: a TCP connection, or an HTTP(S) GET whose status and body
//! are checked. Each runs under its check's timeout, which covers the
//! whole probe (connection, TLS and body). Redirects are not followed:
//! a 3xx is a status like any other.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::Url;
use tokio::net::{TcpSocket, TcpStream};

use super::state::CheckState;
use super::url::{header, parse_url};
use super::{HttpProbe, Probe, MAX_BODY};

/// Body bytes kept to read a weight from. A longer body is no number.
const WEIGHT_PREFIX: usize = 64;

/// Probes `state`'s target once: `Ok` with the weight an HTTP body
/// carried, or `Err` with the reason it failed.
pub(super) async fn run(state: &CheckState) -> Result<Option<u32>, String> {
    let timeout = state.spec.timing.timeout;
    let probe = async {
        match &state.spec.probe {
            Probe::Tcp { port } => tcp(SocketAddr::new(state.spec.address, *port), state.spec.timing.source)
                .await
                .map(|()| None),
            Probe::Http(http) => self::http(state, http).await,
        }
    };
    match tokio::time::timeout(timeout, probe).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {}", shown_duration(timeout))),
    }
}

/// Establishes a TCP connection to `target` (from `source`) and closes it.
async fn tcp(target: SocketAddr, source: Option<IpAddr>) -> Result<(), String> {
    let connected = match source {
        None => TcpStream::connect(target).await,
        Some(source) => {
            let socket = match (source, target) {
                (IpAddr::V4(_), SocketAddr::V4(_)) => TcpSocket::new_v4(),
                (IpAddr::V6(_), SocketAddr::V6(_)) => TcpSocket::new_v6(),
                _ => {
                    return Err(format!(
                        "source address {source} cannot reach {target}: other address family"
                    ))
                }
            }
            .map_err(|error| format!("cannot open a socket: {error}"))?;
            socket
                .bind(SocketAddr::new(source, 0))
                .map_err(|error| format!("cannot bind to source address {source}: {error}"))?;
            socket.connect(target).await
        }
    };
    connected
        .map(drop)
        .map_err(|error| format!("TCP connect to {target}: {error}"))
}

/// GETs the probe's URL and checks the final status and the body.
async fn http(state: &CheckState, probe: &HttpProbe) -> Result<Option<u32>, String> {
    let mut url = parse_url(&probe.url)?;
    if probe.pinned && url.domain().is_none() {
        // An address literal cannot be pinned by name: probe the
        // candidate itself, which is what the check stands for.
        url.set_ip_host(state.spec.address)
            .map_err(|()| "URL host cannot be replaced".to_string())?;
    }
    let client = client(state, probe, &url)?;
    let mut request = client.get(url);
    for (name, value) in &probe.headers {
        let (name, value) = header(name, value)?;
        request = request.header(name, value);
    }
    let mut response = request.send().await.map_err(describe)?;
    let status = response.status().as_u16();
    if status != probe.httpcode {
        return Err(format!("HTTP status {status}, expected {}", probe.httpcode));
    }
    let needle = probe.stringmatch.as_deref().map(str::as_bytes);
    let body = read_body(&mut response, probe.byteslimit, needle).await?;
    if !body.matched {
        let needle = probe.stringmatch.as_deref().unwrap_or_default();
        return Err(if body.truncated {
            format!("the first {} bytes of the body do not contain {needle:?}", body.read)
        } else {
            format!("the body does not contain {needle:?}")
        });
    }
    Ok(body.weight)
}

/// The client of an HTTP check, built on first use: the URL's host (when
/// a name) pinned to the check's address, TLS verified or not, bound to
/// the source address, no proxy, no connection reuse.
fn client<'a>(state: &'a CheckState, probe: &HttpProbe, url: &Url) -> Result<&'a reqwest::Client, String> {
    if let Some(client) = state.client.get() {
        return Ok(client);
    }
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(!probe.verify_tls)
        .local_address(state.spec.timing.source);
    let user_agent = HeaderValue::from_str(&probe.useragent).map_err(|_| "user agent is not a valid header value")?;
    builder = builder.user_agent(user_agent);
    if probe.pinned {
        if let Some(host) = url.domain() {
            // reqwest takes the port from the URL; the one given is unused.
            builder = builder.resolve(host, SocketAddr::new(state.spec.address, 0));
        }
    }
    let client = builder
        .build()
        .map_err(|error| format!("cannot set up the HTTP client: {}", describe(error)))?;
    Ok(state.client.get_or_init(|| client))
}

/// What was read of a body.
struct Body {
    /// Whether the string looked for was seen (true if none was asked).
    matched: bool,
    /// Whether reading stopped at the byte limit.
    truncated: bool,
    read: u64,
    weight: Option<u32>,
}

/// Reads the body until the end, the limit (0: none; never past [`MAX_BODY`]), or until nothing
/// more can change the outcome: `needle` found, and too much read for the
/// body to be a weight. Keeps only what matching and the weight need.
async fn read_body(response: &mut reqwest::Response, limit: u64, needle: Option<&[u8]>) -> Result<Body, String> {
    let limit = if limit == 0 { MAX_BODY } else { limit.min(MAX_BODY) };
    let needle = needle.unwrap_or_default();
    let mut matched = needle.is_empty();
    // The tail of what was read, long enough to hold a match that spans
    // two chunks.
    let mut tail: Vec<u8> = Vec::new();
    // All of the body while it is short enough to be a weight.
    let mut prefix: Option<Vec<u8>> = Some(Vec::new());
    let mut read: u64 = 0;
    let mut truncated = false;
    while !(matched && prefix.is_none()) {
        if read >= limit {
            truncated = true;
            break;
        }
        let Some(chunk) = response.chunk().await.map_err(describe)? else {
            break;
        };
        let room = usize::try_from(limit - read).unwrap_or(usize::MAX);
        let chunk = &chunk[..chunk.len().min(room)];
        read += chunk.len() as u64;
        if let Some(bytes) = &mut prefix {
            if bytes.len() + chunk.len() <= WEIGHT_PREFIX {
                bytes.extend_from_slice(chunk);
            } else {
                prefix = None;
            }
        }
        if !matched {
            tail.extend_from_slice(chunk);
            matched = tail.windows(needle.len()).any(|window| window == needle);
            let keep = needle.len() - 1;
            if tail.len() > keep {
                tail.drain(..tail.len() - keep);
            }
        }
    }
    let weight = prefix
        .as_deref()
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|text| text.trim().parse().ok());
    Ok(Body {
        matched,
        truncated,
        read,
        weight,
    })
}

/// A reqwest error with its causes, without the URL (it may carry a
/// password).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `2s`, `1.5s`, `250ms`.
fn shown_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 && duration.as_secs() > 0 {
        format!("{}s", duration.as_secs())
    } else if duration.as_secs() > 0 {
        format!("{}s", duration.as_secs_f64())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(shown_duration(Duration::from_secs(2)), "2s");
        assert_eq!(shown_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(shown_duration(Duration::from_millis(250)), "250ms");
    }
}
