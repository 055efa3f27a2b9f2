//! TSIG (RFC 8945): finding the TSIG record of a message, checking its
//! MAC and time, and signing the response with the same key.

use base::name::wire::skip_name;
use base::name::Name;
use ring::hmac;

use crate::dnssec::crypto::KeyEncryptionKey;

/// TSIG's RR type.
const TSIG_TYPE: u16 = 250;
/// Class ANY, which TSIG records carry.
const CLASS_ANY: u16 = 255;

/// TSIG errors (RFC 8945 §3, the extended RCODEs of the TSIG record).
pub const BADSIG: u16 = 16;
pub const BADKEY: u16 = 17;
pub const BADTIME: u16 = 18;

/// A shared secret and its algorithm.
#[derive(Clone)]
pub struct TsigKey {
    /// The key's name, lowercase, absolute.
    pub name: Name,
    pub algorithm: Algorithm,
    secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name.to_string())
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The HMAC algorithms TSIG clients use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    HmacSha256,
    HmacSha512,
    /// For old clients only.
    HmacSha1,
}

impl Algorithm {
    /// The algorithm from its configuration or wire name.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name.trim_end_matches('.').to_ascii_lowercase().as_str() {
            "hmac-sha256" => Some(Algorithm::HmacSha256),
            "hmac-sha512" => Some(Algorithm::HmacSha512),
            "hmac-sha1" => Some(Algorithm::HmacSha1),
            _ => None,
        }
    }

    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha512 => "hmac-sha512",
            Algorithm::HmacSha1 => "hmac-sha1",
        }
    }

    /// Octets of secret a new key gets: the digest length.
    pub fn secret_len(self) -> usize {
        match self {
            Algorithm::HmacSha256 => 32,
            Algorithm::HmacSha512 => 64,
            Algorithm::HmacSha1 => 20,
        }
    }

    fn wire_name(self) -> Name {
        let text = match self {
            Algorithm::HmacSha256 => "hmac-sha256.",
            Algorithm::HmacSha512 => "hmac-sha512.",
            Algorithm::HmacSha1 => "hmac-sha1.",
        };
        Name::parse(text, None).expect("algorithm names are valid")
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            Algorithm::HmacSha256 => hmac::HMAC_SHA256,
            Algorithm::HmacSha512 => hmac::HMAC_SHA512,
            Algorithm::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        }
    }
}

impl TsigKey {
    /// A key named `name` with the base64 `secret`.
    pub fn new(name: &str, algorithm: Algorithm, secret_base64: &str) -> Result<TsigKey, String> {
        let secret = data_encoding::BASE64
            .decode(secret_base64.trim().as_bytes())
            .map_err(|_| format!("TSIG key {name}: the secret is not base64"))?;
        TsigKey::from_secret(name, algorithm, secret)
    }

    /// A key named `name` with the secret octets `secret`.
    pub fn from_secret(name: &str, algorithm: Algorithm, secret: Vec<u8>) -> Result<TsigKey, String> {
        let name = key_name(name)?;
        if secret.is_empty() {
            return Err(format!("TSIG key {name}: the secret is empty"));
        }
        Ok(TsigKey {
            name,
            algorithm,
            secret,
        })
    }
}

/// A key name as stored and compared: absolute, lowercase.
pub fn key_name(name: &str) -> Result<Name, String> {
    let absolute = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    Name::parse(&absolute, None)
        .map(|name| name.to_lowercase())
        .map_err(|error| format!("TSIG key name {name:?}: {error}"))
}

/// The text a secret is stored as: sealed with the key-encryption key
/// when there is one (the key's name authenticated with it).
pub fn seal_secret(name: &Name, secret: &[u8], kek: Option<&KeyEncryptionKey>) -> Result<String, String> {
    match kek {
        Some(kek) => kek
            .seal(secret, format!("tsig:{name}").as_bytes())
            .map_err(|error| error.to_string()),
        None => Ok(format!("plain:{}", data_encoding::BASE64.encode(secret))),
    }
}

/// The secret octets of stored text.
pub fn open_secret(name: &Name, stored: &str, kek: Option<&KeyEncryptionKey>) -> Result<Vec<u8>, String> {
    if let Some(encoded) = stored.strip_prefix("plain:") {
        return data_encoding::BASE64
            .decode(encoded.as_bytes())
            .map_err(|_| format!("TSIG key {name}: the stored secret is not base64"));
    }
    let kek = kek.ok_or_else(|| format!("TSIG key {name} is sealed and no key-encryption key is configured"))?;
    kek.open(stored, format!("tsig:{name}").as_bytes())
        .map_err(|error| format!("TSIG key {name}: {error}"))
}

/// The TSIG record found at the end of a message.
#[derive(Clone, Debug)]
pub struct Signed {
    /// Where the TSIG record starts.
    pub offset: usize,
    pub key_name: Name,
    pub algorithm: Name,
    pub time_signed: u64,
    pub fudge: u16,
    pub mac: Vec<u8>,
    pub original_id: u16,
    /// The TSIG error a response carries.
    pub error: u16,
    /// Other Data (the server's time with BADTIME).
    pub other: Vec<u8>,
}

/// The message without its TSIG record, ARCOUNT decremented and the
/// original ID restored: what the MAC covers, and what is parsed.
pub fn unsigned_message(wire: &[u8], signed: &Signed) -> Vec<u8> {
    let mut message = wire[..signed.offset].to_vec();
    message[0..2].copy_from_slice(&signed.original_id.to_be_bytes());
    let arcount = u16::from_be_bytes([message[10], message[11]]).saturating_sub(1);
    message[10..12].copy_from_slice(&arcount.to_be_bytes());
    message
}

/// Finds the TSIG record, which must be the last record of the message.
/// `Ok(None)`: the message is not signed; `Err`: it is malformed.
pub fn find(wire: &[u8]) -> Result<Option<Signed>, &'static str> {
    if wire.len() < 12 {
        return Err("short header");
    }
    let count = |at: usize| usize::from(u16::from_be_bytes([wire[at], wire[at + 1]]));
    let (questions, records) = (count(4), count(6) + count(8) + count(10));
    if count(10) == 0 {
        return Ok(None);
    }
    let mut pos = 12;
    for _ in 0..questions {
        pos = skip_name(wire, pos).ok_or("bad or truncated name")? + 4;
    }
    let mut last = pos;
    for _ in 0..records {
        last = pos;
        pos = skip_name(wire, pos).ok_or("bad or truncated name")?;
        let rdlen = usize::from(u16::from_be_bytes([
            *wire.get(pos + 8).ok_or("truncated record")?,
            *wire.get(pos + 9).ok_or("truncated record")?,
        ]));
        pos += 10 + rdlen;
        if pos > wire.len() {
            return Err("truncated record");
        }
    }
    let key_end = skip_name(wire, last).ok_or("bad or truncated name")?;
    let rtype = u16::from_be_bytes([wire[key_end], wire[key_end + 1]]);
    if rtype != TSIG_TYPE {
        return Ok(None);
    }
    let key_name = Name::from_wire_prefix(&wire[last..])
        .map_err(|_| "TSIG key name is compressed or invalid")?
        .0
        .to_lowercase();
    let rdata = &wire[key_end + 10..pos];
    let (algorithm, used) = Name::from_wire_prefix(rdata).map_err(|_| "TSIG algorithm name")?;
    let fields = &rdata[used..];
    if fields.len() < 10 {
        return Err("short TSIG record");
    }
    let time_signed = u64::from_be_bytes([0, 0, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]]);
    let fudge = u16::from_be_bytes([fields[6], fields[7]]);
    let mac_len = usize::from(u16::from_be_bytes([fields[8], fields[9]]));
    let mac = fields.get(10..10 + mac_len).ok_or("short TSIG MAC")?.to_vec();
    let rest = &fields[10 + mac_len..];
    if rest.len() < 6 {
        return Err("short TSIG record");
    }
    let other_len = usize::from(u16::from_be_bytes([rest[4], rest[5]]));
    Ok(Some(Signed {
        offset: last,
        key_name,
        algorithm: algorithm.to_lowercase(),
        time_signed,
        fudge,
        mac,
        original_id: u16::from_be_bytes([rest[0], rest[1]]),
        error: u16::from_be_bytes([rest[2], rest[3]]),
        other: rest.get(6..6 + other_len).ok_or("short TSIG other data")?.to_vec(),
    }))
}

/// The TSIG variables (RFC 8945 §4.3.3) after the key and algorithm.
fn variables(out: &mut Vec<u8>, key: &TsigKey, time_signed: u64, fudge: u16, error: u16, other: &[u8]) {
    out.extend_from_slice(key.name.as_wire());
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(key.algorithm.wire_name().as_wire());
    out.extend_from_slice(&time_signed.to_be_bytes()[2..]);
    out.extend_from_slice(&fudge.to_be_bytes());
    out.extend_from_slice(&error.to_be_bytes());
    out.extend_from_slice(&(other.len() as u16).to_be_bytes());
    out.extend_from_slice(other);
}

/// Checks a signed request's MAC and time; `Err` carries the TSIG error.
pub fn verify(wire: &[u8], signed: &Signed, key: &TsigKey, now: u64) -> Result<(), u16> {
    if signed.algorithm != key.algorithm.wire_name() {
        return Err(BADKEY);
    }
    let mut data = unsigned_message(wire, signed);
    variables(&mut data, key, signed.time_signed, signed.fudge, 0, &[]);
    let verifier = hmac::Key::new(key.algorithm.ring(), &key.secret);
    // RFC 8945 §5.2.2.1: a truncated MAC is at least half the digest and
    // at least 10 octets; pooldns accepts only the full MAC.
    hmac::verify(&verifier, &data, &signed.mac).map_err(|_| BADSIG)?;
    if now.abs_diff(signed.time_signed) > u64::from(signed.fudge) {
        return Err(BADTIME);
    }
    Ok(())
}

/// Appends a TSIG record to `response` (whose ARCOUNT it bumps), signed
/// with `key` over the request's MAC and the response (RFC 8945 §5.3);
/// returns the MAC, which the next message of a transfer chains on.
pub fn sign(response: &mut Vec<u8>, request: &Signed, key: &TsigKey, now: u64, error: u16) -> Vec<u8> {
    let time_signed = now;
    let other: Vec<u8> = if error == BADTIME {
        now.to_be_bytes()[2..].to_vec()
    } else {
        Vec::new()
    };
    let mut data = Vec::with_capacity(response.len() + 128);
    data.extend_from_slice(&(request.mac.len() as u16).to_be_bytes());
    data.extend_from_slice(&request.mac);
    data.extend_from_slice(response);
    variables(&mut data, key, time_signed, request.fudge, error, &other);
    let mac = hmac::sign(&hmac::Key::new(key.algorithm.ring(), &key.secret), &data);
    let mut rdata = Vec::new();
    rdata.extend_from_slice(key.algorithm.wire_name().as_wire());
    rdata.extend_from_slice(&time_signed.to_be_bytes()[2..]);
    rdata.extend_from_slice(&request.fudge.to_be_bytes());
    rdata.extend_from_slice(&(mac.as_ref().len() as u16).to_be_bytes());
    rdata.extend_from_slice(mac.as_ref());
    rdata.extend_from_slice(&request.original_id.to_be_bytes());
    rdata.extend_from_slice(&error.to_be_bytes());
    rdata.extend_from_slice(&(other.len() as u16).to_be_bytes());
    rdata.extend_from_slice(&other);
    append(response, &key.name, &rdata);
    mac.as_ref().to_vec()
}

/// Signs a message of a transfer after the first (RFC 8945 §5.3.1): the
/// MAC covers the previous message's MAC, this message and the timers
/// only. Returns the MAC for the next message.
pub fn sign_next(response: &mut Vec<u8>, previous_mac: &[u8], request: &Signed, key: &TsigKey, now: u64) -> Vec<u8> {
    let mut data = Vec::with_capacity(response.len() + 64);
    data.extend_from_slice(&(previous_mac.len() as u16).to_be_bytes());
    data.extend_from_slice(previous_mac);
    data.extend_from_slice(response);
    data.extend_from_slice(&now.to_be_bytes()[2..]);
    data.extend_from_slice(&request.fudge.to_be_bytes());
    let mac = hmac::sign(&hmac::Key::new(key.algorithm.ring(), &key.secret), &data);
    let mut rdata = Vec::new();
    rdata.extend_from_slice(key.algorithm.wire_name().as_wire());
    rdata.extend_from_slice(&now.to_be_bytes()[2..]);
    rdata.extend_from_slice(&request.fudge.to_be_bytes());
    rdata.extend_from_slice(&(mac.as_ref().len() as u16).to_be_bytes());
    rdata.extend_from_slice(mac.as_ref());
    rdata.extend_from_slice(&request.original_id.to_be_bytes());
    rdata.extend_from_slice(&0u16.to_be_bytes());
    rdata.extend_from_slice(&0u16.to_be_bytes());
    append(response, &key.name, &rdata);
    mac.as_ref().to_vec()
}

/// Fudge of the requests pooldns signs (RFC 8945 §10 recommends 300 s).
const REQUEST_FUDGE: u16 = 300;

/// Signs a request (a transfer, a SOA query) with `key`; returns the MAC,
/// which the answer's first signature covers.
pub fn sign_request(request: &mut Vec<u8>, key: &TsigKey, now: u64) -> Vec<u8> {
    let mut data = request.clone();
    variables(&mut data, key, now, REQUEST_FUDGE, 0, &[]);
    let mac = hmac::sign(&hmac::Key::new(key.algorithm.ring(), &key.secret), &data);
    let mut rdata = Vec::new();
    rdata.extend_from_slice(key.algorithm.wire_name().as_wire());
    rdata.extend_from_slice(&now.to_be_bytes()[2..]);
    rdata.extend_from_slice(&REQUEST_FUDGE.to_be_bytes());
    rdata.extend_from_slice(&(mac.as_ref().len() as u16).to_be_bytes());
    rdata.extend_from_slice(mac.as_ref());
    rdata.extend_from_slice(&request[0..2]);
    rdata.extend_from_slice(&0u16.to_be_bytes());
    rdata.extend_from_slice(&0u16.to_be_bytes());
    append(request, &key.name, &rdata);
    mac.as_ref().to_vec()
}

/// Checks the messages of an answer to a request signed by
/// [`sign_request`], in order (RFC 8945 §5.3.1): the first and the last
/// must be signed, and at most 99 unsigned ones may come in between, each
/// covered by the next signature.
pub struct AnswerVerifier<'a> {
    key: &'a TsigKey,
    /// The MAC the next signature chains on: the request's, then the last
    /// one seen.
    previous_mac: Vec<u8>,
    /// Unsigned messages since the last signed one.
    pending: Vec<u8>,
    unsigned: usize,
    first: bool,
}

impl<'a> AnswerVerifier<'a> {
    pub fn new(key: &'a TsigKey, request_mac: Vec<u8>) -> AnswerVerifier<'a> {
        AnswerVerifier {
            key,
            previous_mac: request_mac,
            pending: Vec::new(),
            unsigned: 0,
            first: true,
        }
    }

    /// Checks the next message; returns it without its TSIG record.
    pub fn check(&mut self, wire: &[u8], now: u64) -> Result<Vec<u8>, String> {
        let signed = find(wire).map_err(|error| format!("malformed TSIG record: {error}"))?;
        let Some(signed) = signed else {
            if self.first || self.unsigned >= 99 {
                return Err("the answer is not signed".into());
            }
            self.pending.extend_from_slice(wire);
            self.unsigned += 1;
            return Ok(wire.to_vec());
        };
        if signed.key_name != self.key.name || signed.algorithm != self.key.algorithm.wire_name() {
            return Err(format!("the answer is signed with another key ({})", signed.key_name));
        }
        if signed.error != 0 {
            return Err(format!("the server answered TSIG error {}", error_name(signed.error)));
        }
        let unsigned = unsigned_message(wire, &signed);
        let mut data = Vec::with_capacity(self.pending.len() + unsigned.len() + 128);
        data.extend_from_slice(&(self.previous_mac.len() as u16).to_be_bytes());
        data.extend_from_slice(&self.previous_mac);
        data.extend_from_slice(&self.pending);
        data.extend_from_slice(&unsigned);
        if self.first {
            variables(
                &mut data,
                self.key,
                signed.time_signed,
                signed.fudge,
                signed.error,
                &signed.other,
            );
        } else {
            data.extend_from_slice(&signed.time_signed.to_be_bytes()[2..]);
            data.extend_from_slice(&signed.fudge.to_be_bytes());
        }
        let verifier = hmac::Key::new(self.key.algorithm.ring(), &self.key.secret);
        hmac::verify(&verifier, &data, &signed.mac).map_err(|_| "the answer's TSIG signature is wrong".to_string())?;
        if now.abs_diff(signed.time_signed) > u64::from(signed.fudge) {
            return Err("the answer's TSIG time is outside its fudge".into());
        }
        self.previous_mac = signed.mac;
        self.pending.clear();
        self.unsigned = 0;
        self.first = false;
        Ok(unsigned)
    }

    /// Whether the last message checked was signed, as the last must be.
    pub fn finish(&self) -> Result<(), String> {
        if self.first || self.unsigned > 0 {
            return Err("the answer's last message is not signed".into());
        }
        Ok(())
    }
}

/// A TSIG error code in words.
pub fn error_name(error: u16) -> String {
    match error {
        BADSIG => "BADSIG".into(),
        BADKEY => "BADKEY".into(),
        BADTIME => "BADTIME".into(),
        other => other.to_string(),
    }
}

/// Appends a TSIG record carrying `error` and no MAC (RFC 8945 §5.3.2: a
/// response to an unknown key or a bad MAC is not signed).
pub fn append_unsigned(response: &mut Vec<u8>, request: &Signed, now: u64, error: u16) {
    let mut rdata = Vec::new();
    rdata.extend_from_slice(request.algorithm.as_wire());
    rdata.extend_from_slice(&now.to_be_bytes()[2..]);
    rdata.extend_from_slice(&request.fudge.to_be_bytes());
    rdata.extend_from_slice(&0u16.to_be_bytes());
    rdata.extend_from_slice(&request.original_id.to_be_bytes());
    rdata.extend_from_slice(&error.to_be_bytes());
    rdata.extend_from_slice(&0u16.to_be_bytes());
    append(response, &request.key_name, &rdata);
}

/// Appends the TSIG record of `key_name` with `rdata`, counting it in
/// ARCOUNT.
fn append(response: &mut Vec<u8>, key_name: &Name, rdata: &[u8]) {
    response.extend_from_slice(key_name.as_wire());
    response.extend_from_slice(&TSIG_TYPE.to_be_bytes());
    response.extend_from_slice(&CLASS_ANY.to_be_bytes());
    response.extend_from_slice(&0u32.to_be_bytes());
    response.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    response.extend_from_slice(rdata);
    let arcount = u16::from_be_bytes([response[10], response[11]]) + 1;
    response[10..12].copy_from_slice(&arcount.to_be_bytes());
}
