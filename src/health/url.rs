//! Health-check URLs and headers: checked when a record is loaded, and
//! shown without their secrets.

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Url;

/// Checks that `url` can be probed: it parses, is `http` or `https`, has
/// a host, and its port (if given) is not 0. The message does not repeat
/// the URL, which may carry a password.
pub fn validate_url(url: &str) -> Result<(), String> {
    parse_url(url).map(drop)
}

/// Checks an HTTP header as a probe would send it; errors name the
/// header, never its value (it may be a token).
pub fn validate_header(name: &str, value: &str) -> Result<(), String> {
    header(name, value).map(drop)
}

/// `url` parsed, if [`validate_url`] accepts it.
pub(super) fn parse_url(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|error| format!("not a URL: {error}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("URL scheme {} is not http or https", parsed.scheme()));
    }
    if parsed.host().is_none() {
        return Err("URL has no host".into());
    }
    if parsed.port() == Some(0) {
        return Err("URL port 0 cannot be connected to".into());
    }
    Ok(parsed)
}

/// Whether `url` carries a user name or password.
pub fn url_has_credentials(url: &str) -> bool {
    Url::parse(url).is_ok_and(|parsed| !parsed.username().is_empty() || parsed.password().is_some())
}

/// `url` as shown in logs and the API: normalized, any password masked.
pub(super) fn shown_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// The scheme, host and port of `url`, as `https://example.com:8443`.
pub(super) fn shown_origin(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or_default();
            match parsed.port_or_known_default() {
                Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
                None => format!("{}://{host}", parsed.scheme()),
            }
        }
        Err(_) => "invalid URL".to_string(),
    }
}

/// A request header, checked. The message names the header, never its
/// value.
pub(super) fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let header_name =
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("header name {name:?} is not valid"))?;
    let header_value =
        HeaderValue::from_str(value).map_err(|_| format!("the value of header {name} is not a valid header value"))?;
    Ok((header_name, header_value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(validate_url("https://example.test/health").is_ok());
        assert!(validate_url("http://192.0.2.1:8080/").is_ok());
        assert!(validate_url("http://[2001:db8::1]/").is_ok());
        let error = validate_url("ftp://example.test/").expect_err("scheme");
        assert!(error.contains("not http or https"), "{error}");
        assert!(validate_url("example.test/health").is_err());
        assert!(validate_url("http://").is_err());
        let error = validate_url("http://example.test:0/").expect_err("port");
        assert!(error.contains("port 0"), "{error}");
        assert!(validate_url("http://example.test:70000/").is_err());
        let error = validate_url("http://user:s3cret@exa mple.test/").expect_err("host");
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            shown_url("https://ops:s3cret@Example.TEST/x"),
            "https://ops:***@example.test/x"
        );
        assert_eq!(shown_url("http://example.test"), "http://example.test/");
        assert_eq!(
            shown_origin("https://ops:s3cret@Example.TEST/x?token=t0k"),
            "https://example.test:443"
        );
        assert_eq!(shown_origin("http://[2001:db8::1]:8080/"), "http://[2001:db8::1]:8080");
    }

    #[test]
    fn header_errors_hide_values() {
        assert!(header("X-Token", "abc").is_ok());
        let error = header("X-Token", "s3cret\n").expect_err("newline");
        assert!(error.contains("X-Token") && !error.contains("s3cret"), "{error}");
        assert!(header("bad header", "x").is_err());
    }
}
