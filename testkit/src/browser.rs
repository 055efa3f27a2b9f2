//! Headless Chromium driven by chromedriver over the W3C WebDriver
//! protocol: what the operator page tests open, read and photograph.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::process::{free_port, require};

/// A browser session, ended and its driver killed when dropped.
pub struct Browser {
    driver: Child,
    address: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a window of
    /// `width` x `height` pixels.
    pub fn start(width: u32, height: u32) -> Browser {
        let chromium = require("chromium", "chromium");
        let chromedriver = require("chromedriver", "chromium-driver");
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("tempdir");
        let mut browser = Browser {
            driver,
            address: ([127, 0, 0, 1], port).into(),
            session: String::new(),
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while browser
            .call("GET", "/status", None)
            .is_none_or(|status| status["value"]["ready"] != true)
        {
            assert!(Instant::now() < deadline, "chromedriver did not start on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ],
            },
        }}});
        let created = browser
            .call("POST", "/session", Some(capabilities))
            .expect("a WebDriver session");
        browser.session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        browser
    }

    /// Opens `url` and waits for the document to load.
    pub fn open(&self, url: &str) {
        self.session_call("POST", "/url", json!({ "url": url }));
    }

    /// The value of `script`'s `return`, run in the page.
    pub fn run(&self, script: &str) -> Value {
        self.run_with(script, json!([]))
    }

    fn run_with(&self, script: &str, args: Value) -> Value {
        self.session_call("POST", "/execute/sync", json!({ "script": script, "args": args }))
    }

    /// The visible text of the first element `css` selects, if any. Read
    /// in one script, as the page may redraw between two commands.
    pub fn text(&self, css: &str) -> Option<String> {
        let text = self.run_with(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null",
            json!([css]),
        );
        text.as_str().map(str::to_string)
    }

    /// How many elements `css` selects.
    pub fn count(&self, css: &str) -> usize {
        let count = self.run_with("return document.querySelectorAll(arguments[0]).length", json!([css]));
        count.as_u64().unwrap_or(0) as usize
    }

    /// Types `text` into the element `css` selects.
    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).unwrap_or_else(|| panic!("no element {css}"));
        self.session_call("POST", &format!("/element/{element}/value"), json!({ "text": text }));
    }

    /// Clicks the element `css` selects.
    pub fn click(&self, css: &str) {
        let element = self.find(css).unwrap_or_else(|| panic!("no element {css}"));
        self.session_call("POST", &format!("/element/{element}/click"), json!({}));
    }

    /// Saves a PNG of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let encoded = self.session_call("GET", "/screenshot", Value::Null);
        let png = data_encoding::BASE64
            .decode(encoded.as_str().expect("a base64 screenshot").as_bytes())
            .expect("base64");
        std::fs::write(path, png).expect("write the screenshot");
    }

    /// Waits up to `timeout` for `done` to hold, saying `what` if it never does.
    pub fn wait_for(&self, what: &str, timeout: Duration, done: impl Fn(&Browser) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "{what} not seen in {timeout:?}; the page says: {}",
                self.text("body").unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn find(&self, css: &str) -> Option<String> {
        let found = self.call(
            "POST",
            &format!("/session/{}/element", self.session),
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        found["value"]
            .as_object()?
            .iter()
            .find(|(key, _)| key.starts_with("element-"))
            .and_then(|(_, id)| id.as_str().map(str::to_string))
    }

    fn session_call(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let body = (!body.is_null()).then_some(body);
        let reply = self
            .call(method, &path, body)
            .unwrap_or_else(|| panic!("WebDriver {method} {path} failed"));
        reply["value"].clone()
    }

    /// One WebDriver command; `None` when the driver does not answer or
    /// answers with an error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Option<Value> {
        let (status, reply) = exchange(self.address, method, path, body.map(|body| body.to_string())).ok()?;
        let value: Value = serde_json::from_str(&reply).ok()?;
        (status == 200).then_some(value)
    }
}

/// One HTTP/1.1 request (chromedriver refuses HTTP/1.0, and keeps the
/// connection open whatever the request says: the body is read by its
/// length).
fn exchange(address: SocketAddr, method: &str, path: &str, body: Option<String>) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.unwrap_or_default();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("status line {line:?}")))?;
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut reply = vec![0; length];
    reader.read_exact(&mut reply)?;
    Ok((status, String::from_utf8_lossy(&reply).into_owned()))
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
