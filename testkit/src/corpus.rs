//! Query corpora run against pooldns and a peer, side by side: the runner
//! both differential tests share (Knot DNS for answers, PowerDNS for LUA
//! records).
//!
//! A corpus file holds one query per line, `NAME TYPE [FLAG...]  # what it
//! checks`. Every harness understands `tcp`, `do`, `noedns`, `bufsize=N`
//! and `ecs=ADDRESS/PREFIX`; other flags are the harness's own
//! ([`Query::extra`]). Differences the RFCs leave to the implementation,
//! or that the peer has wrong, are listed by each harness as patterns
//! written like corpus lines, each with its reason ([`Differences`]).

use std::fmt::{self, Write as _};
use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RecordType};

use crate::client::{encode_query, exchange, hex, next_id, parse_name, QueryOptions, Transport};
use crate::compare::parse_type;

/// One query of a corpus.
#[derive(Clone, Debug)]
pub struct Query {
    /// Line number in the corpus file.
    pub line: usize,
    pub name: String,
    pub qtype: RecordType,
    pub options: QueryOptions,
    /// The flags as written.
    pub flags: Vec<String>,
    /// Flags no harness shares, left to the one reading the corpus.
    pub extra: Vec<String>,
    pub comment: String,
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {} {}", self.line, self.name, self.qtype)?;
        for flag in &self.flags {
            write!(f, " {flag}")?;
        }
        if !self.comment.is_empty() {
            write!(f, "  # {}", self.comment)?;
        }
        Ok(())
    }
}

impl Query {
    /// Parses the words of one corpus line (comment removed).
    pub fn parse(line: usize, words: &[&str], comment: &str) -> Result<Query, String> {
        let (name, rest) = words.split_first().ok_or("empty line")?;
        let (qtype, flags) = rest.split_first().ok_or("missing record type")?;
        Name::from_ascii(name).map_err(|e| format!("invalid name {name:?}: {e}"))?;
        let mut query = Query {
            line,
            name: name.to_string(),
            qtype: parse_type(qtype)?,
            options: QueryOptions::udp(),
            flags: flags.iter().map(|flag| flag.to_string()).collect(),
            extra: Vec::new(),
            comment: comment.to_string(),
        };
        let mut no_edns = false;
        let mut sized = false;
        for &flag in flags {
            match flag {
                "tcp" => query.options.transport = Transport::Tcp,
                "do" => query.options.dnssec_ok = true,
                "noedns" => no_edns = true,
                _ => {
                    if let Some(size) = flag.strip_prefix("bufsize=") {
                        let size = size.parse().map_err(|_| format!("bad buffer size {size:?}"))?;
                        query.options.edns_payload = Some(size);
                        sized = true;
                    } else if let Some((address, prefix)) = flag.strip_prefix("ecs=").and_then(|s| parse_subnet(s).ok())
                    {
                        query.options = query.options.client_subnet(address, prefix);
                    } else {
                        query.extra.push(flag.to_string());
                    }
                }
            }
        }
        if no_edns {
            if query.options.dnssec_ok || sized || query.options.client_subnet.is_some() {
                return Err("noedns cannot be combined with do, bufsize or ecs".into());
            }
            query.options = query.options.no_edns();
        }
        Ok(query)
    }

    /// Whether this query matches a pattern written like a corpus line:
    /// `NAME TYPE [FLAG...]`. NAME is a name, `*` (any name) or
    /// `*.SUFFIX`, TYPE a type or `*`; every flag must hold: `tcp`, `udp`,
    /// `do`, `noedns`, `ecs=SUBNET`, or one `extra` says holds.
    pub fn matches(&self, pattern: &str, extra: &dyn Fn(&Query, &str) -> bool) -> bool {
        let words: Vec<&str> = pattern.split_whitespace().collect();
        let (Some(name), Some(qtype)) = (words.first(), words.get(1)) else {
            panic!("malformed pattern {pattern:?}");
        };
        let query_name = self.name.trim_end_matches('.').to_ascii_lowercase();
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let name_ok = match name.strip_prefix("*.") {
            _ if name == "*" => true,
            Some(suffix) => query_name.ends_with(&format!(".{suffix}")),
            None => query_name == name,
        };
        let type_ok =
            *qtype == "*" || parse_type(qtype).unwrap_or_else(|e| panic!("pattern {pattern:?}: {e}")) == self.qtype;
        let flags_ok = words[2..].iter().all(|&flag| match flag {
            "tcp" => self.options.transport == Transport::Tcp,
            "udp" => self.options.transport == Transport::Udp,
            "do" => self.options.dnssec_ok,
            "noedns" => self.options.edns_payload.is_none(),
            _ => match flag.strip_prefix("ecs=").and_then(|subnet| parse_subnet(subnet).ok()) {
                Some(subnet) => self.options.client_subnet == Some(subnet),
                None => extra(self, flag),
            },
        });
        name_ok && type_ok && flags_ok
    }

    /// Sends the query to `server`; the reply must carry the query's ID.
    pub fn ask(&self, server: SocketAddr) -> Result<Message, String> {
        let wire = encode_query(next_id(), &parse_name(&self.name), self.qtype, &self.options);
        let reply = exchange(server, &wire, self.options.transport).map_err(|e| format!("no reply: {e}"))?;
        let message = Message::from_vec(&reply).map_err(|e| format!("undecodable reply ({e}): {}", hex(&reply)))?;
        if message.id != u16::from_be_bytes([wire[0], wire[1]]) {
            return Err(format!("reply ID {} does not match the query", message.id));
        }
        Ok(message)
    }
}

/// The lines of a corpus file as words and comment, blank lines and
/// comments left out: `(line number, words, comment)`.
pub fn lines(path: &Path) -> Vec<(usize, Vec<String>, String)> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let (query, comment) = line.split_once('#').unwrap_or((line, ""));
            let words: Vec<String> = query.split_whitespace().map(str::to_string).collect();
            (!words.is_empty()).then(|| (index + 1, words, comment.trim().to_string()))
        })
        .collect()
}

/// Reads a corpus whose every line is a query with only the shared flags;
/// panics on a malformed line.
pub fn load(path: &Path) -> Vec<Query> {
    lines(path)
        .into_iter()
        .map(|(line, words, comment)| {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let query = Query::parse(line, &words, &comment)
                .unwrap_or_else(|e| panic!("{}:{line}: {e}: {words:?}", path.display()));
            assert!(
                query.extra.is_empty(),
                "{}:{line}: unknown flags {:?}",
                path.display(),
                query.extra
            );
            query
        })
        .collect()
}

/// Parses `ADDRESS/PREFIX`.
pub fn parse_subnet(text: &str) -> Result<(IpAddr, u8), String> {
    let (address, prefix) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not ADDRESS/PREFIX"))?;
    let address: IpAddr = address
        .parse()
        .map_err(|_| format!("{address:?} is not an IP address"))?;
    let prefix: u8 = prefix
        .parse()
        .map_err(|_| format!("{prefix:?} is not a prefix length"))?;
    let width = if address.is_ipv4() { 32 } else { 128 };
    if prefix > width {
        return Err(format!("prefix /{prefix} is longer than the address"));
    }
    Ok((address, prefix))
}

/// Matches a harness's own pattern flag against a query.
type FlagMatcher = dyn Fn(&Query, &str) -> bool;

/// The tally of a differential run: queries answered alike, differences
/// accepted for a listed reason, and differences nobody explained.
pub struct Differences {
    /// The peer's name, for messages.
    peer: &'static str,
    /// `(pattern, reason)` of every accepted difference.
    known: &'static [(&'static str, &'static str)],
    /// How a harness's own pattern flags are matched.
    extra: Box<FlagMatcher>,
    identical: usize,
    accepted: Vec<String>,
    unexplained: Vec<String>,
}

impl Differences {
    /// A tally against `peer`, accepting the differences `known` lists.
    pub fn new(peer: &'static str, known: &'static [(&'static str, &'static str)]) -> Self {
        for (pattern, reason) in known {
            assert!(!reason.trim().is_empty(), "{pattern} has no reason");
        }
        Differences {
            peer,
            known,
            extra: Box::new(|_, flag| panic!("unknown pattern flag {flag:?}")),
            identical: 0,
            accepted: Vec::new(),
            unexplained: Vec::new(),
        }
    }

    /// Matches the harness's own pattern flags with `extra`.
    pub fn with_extra(mut self, extra: impl Fn(&Query, &str) -> bool + 'static) -> Self {
        self.extra = Box::new(extra);
        self
    }

    /// The reason of the first known difference matching `query`.
    pub fn reason(&self, query: &Query) -> Option<&'static str> {
        self.known
            .iter()
            .find(|(pattern, _)| query.matches(pattern, &*self.extra))
            .map(|(_, reason)| *reason)
    }

    /// Counts one query; `difference` is empty when the servers agreed.
    pub fn record(&mut self, query: &Query, difference: &str) {
        if difference.is_empty() {
            self.identical += 1;
        } else if let Some(reason) = self.reason(query) {
            self.accepted
                .push(format!("  {query}\n{difference}    accepted: {reason}\n"));
        } else {
            self.unexplained.push(format!("  {query}\n{difference}"));
        }
    }

    /// Counts a problem no pattern may excuse.
    pub fn fail(&mut self, problem: String) {
        self.unexplained.push(problem);
    }

    /// Prints the tally and fails unless every difference was explained.
    pub fn finish(self, queries: usize) {
        println!(
            "{} queries: {} identical, {} accepted differences, {} unexplained",
            queries,
            self.identical,
            self.accepted.len(),
            self.unexplained.len()
        );
        if !self.accepted.is_empty() {
            println!("accepted differences:\n{}", self.accepted.concat());
        }
        assert!(
            self.unexplained.is_empty(),
            "pooldns differs from {} on {} of {} queries:\n{}",
            self.peer,
            self.unexplained.len(),
            queries,
            self.unexplained.join("\n")
        );
    }
}

/// Lists the RRsets only one side has, per section; empty when both
/// agree. Each entry is `(section name, pooldns's RRsets, the peer's)`.
pub fn section_diff<T: PartialEq + fmt::Display>(peer: &str, sections: &[(&str, &[T], &[T])]) -> String {
    let mut out = String::new();
    for (section, ours, theirs) in sections {
        let only_theirs: Vec<&T> = theirs.iter().filter(|set| !ours.contains(set)).collect();
        let only_ours: Vec<&T> = ours.iter().filter(|set| !theirs.contains(set)).collect();
        if only_theirs.is_empty() && only_ours.is_empty() {
            continue;
        }
        let _ = writeln!(out, "    {section} section:");
        for set in only_theirs {
            for line in set.to_string().lines() {
                let _ = writeln!(out, "      - {peer:<7} {line}");
            }
        }
        for set in only_ours {
            for line in set.to_string().lines() {
                let _ = writeln!(out, "      + pooldns {line}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(line: &str) -> Query {
        let (words, comment) = line.split_once('#').unwrap_or((line, ""));
        let words: Vec<&str> = words.split_whitespace().collect();
        Query::parse(7, &words, comment.trim()).expect("valid line")
    }

    #[test]
    fn lines_parse() {
        let case = query("WwW.Example.COM aaaa tcp do bufsize=900 want=x  # case");
        assert_eq!(case.name, "WwW.Example.COM");
        assert_eq!(case.qtype, RecordType::AAAA);
        assert_eq!(case.options.transport, Transport::Tcp);
        assert!(case.options.dnssec_ok);
        assert_eq!(case.options.edns_payload, Some(900));
        assert_eq!(case.extra, ["want=x"]);
        assert_eq!(case.comment, "case");
        let case = query("unknown.example.com TYPE65280 noedns");
        assert_eq!(case.qtype, RecordType::from(65280));
        assert_eq!(case.options.edns_payload, None);
        let case = query("x.example.com A ecs=192.0.2.0/24");
        assert_eq!(case.options.client_subnet, Some(("192.0.2.0".parse().unwrap(), 24)));
        assert!(Query::parse(1, &["example.com", "A", "noedns", "ecs=192.0.2.0/24"], "").is_err());
        assert!(Query::parse(1, &["example.com"], "").is_err());
        assert!(Query::parse(1, &["example.com", "A", "noedns", "do"], "").is_err());
        assert!(Query::parse(1, &["example.com", "A", "bufsize=x"], "").is_err());
    }

    #[test]
    fn patterns_match() {
        let none = |_: &Query, flag: &str| panic!("unexpected {flag}");
        assert!(query("WWW.example.com ANY tcp").matches("* ANY", &none));
        assert!(!query("www.example.com A").matches("* ANY", &none));
        assert!(query("a.B.Example.com MX tcp").matches("*.example.com * tcp", &none));
        assert!(!query("a.example.com MX").matches("*.example.com * tcp", &none));
        assert!(!query("example.com A").matches("*.example.com A", &none));
        assert!(query("EXAMPLE.COM. A").matches("example.com A udp", &none));
        assert!(query("x.example.com A ecs=192.0.2.0/24").matches("x.example.com A ecs=192.0.2.0/24", &none));
        assert!(
            query("x.example.com A want=1").matches("x.example.com A want", &|q, flag| {
                flag == "want" && q.extra.iter().any(|e| e.starts_with("want="))
            })
        );
    }

    #[test]
    fn differences_are_tallied() {
        let mut tally = Differences::new("peer", &[("known.example A", "allowed by RFC 1034")]);
        tally.record(&query("same.example A"), "");
        tally.record(&query("known.example A"), "    rcode: peer X, pooldns Y\n");
        assert_eq!(
            (tally.identical, tally.accepted.len(), tally.unexplained.len()),
            (1, 1, 0)
        );
        tally.record(&query("other.example A"), "    rcode: peer X, pooldns Y\n");
        assert_eq!(tally.unexplained.len(), 1);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tally.finish(3)));
        assert!(result.is_err(), "an unexplained difference fails the run");
    }
}
