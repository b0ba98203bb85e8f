//! A software passkey authenticator for the suites: one P-256 (ES256) credential, discoverable,
//! with user verification, answering the options the API hands out exactly as a browser would
//! hand its authenticator's answer back (WebAuthn's JSON form, binary values base64url): a
//! "none" attestation at registration, a real signature over `authenticatorData ‖
//! SHA-256(clientDataJSON)` at sign-in, the user handle it was registered with.
//!
//! Its public fields are the knobs of the refusal cases: the origin the "browser" reports, the
//! RP id it hashes, and the signature counter.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Flags of `authenticatorData`: user present, user verified, backup eligible, backed up.
const FLAGS_UP_UV_BE_BS: u8 = 0x01 | 0x04 | 0x08 | 0x10;
/// Attested credential data follows (registration).
const FLAG_AT: u8 = 0x40;

/// One software credential.
pub struct SoftAuthenticator {
    key: SigningKey,
    /// The credential id (random, 32 bytes).
    pub credential_id: Vec<u8>,
    /// The user handle stored at registration (the API's user id).
    pub user_handle: Vec<u8>,
    /// The signature counter; each assertion increments it first. Set it back to act as a
    /// cloned authenticator.
    pub counter: u32,
    /// The origin the browser reports in `clientDataJSON`.
    pub origin: String,
    /// The RP id hashed into `authenticatorData`; `None`: the one the options name.
    pub rp_id: Option<String>,
}

impl std::fmt::Debug for SoftAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftAuthenticator")
            .field("credential_id", &b64(&self.credential_id))
            .field("counter", &self.counter)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl SoftAuthenticator {
    /// A new credential in a browser on `origin` (the test config's `http://localhost:3000`).
    pub fn new(origin: &str) -> Self {
        let key = loop {
            let mut bytes = [0u8; 32];
            rand::fill(&mut bytes);
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                break key;
            }
        };
        let mut credential_id = vec![0u8; 32];
        rand::fill(credential_id.as_mut_slice());
        Self {
            key,
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
            origin: origin.to_owned(),
            rp_id: None,
        }
    }

    /// The answer of `navigator.credentials.create({publicKey})`: a new credential for the
    /// options' user, attestation "none".
    pub fn create(&mut self, public_key: &Value) -> Value {
        let rp_id = self
            .rp_id
            .clone()
            .unwrap_or_else(|| text(&public_key["rp"]["id"]));
        self.user_handle = unb64(&text(&public_key["user"]["id"]));
        let client_data = self.client_data("webauthn.create", public_key);
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(FLAGS_UP_UV_BE_BS | FLAG_AT);
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID: none
        let id_len = u16::try_from(self.credential_id.len()).unwrap_or(u16::MAX);
        auth_data.extend(id_len.to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut attestation = Vec::new();
        cbor_head(&mut attestation, 5, 3);
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        cbor_head(&mut attestation, 5, 0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&client_data),
                "transports": ["internal", "hybrid"],
            },
            "extensions": {},
        })
    }

    /// The answer of `navigator.credentials.get({publicKey})`: an assertion signed with the
    /// credential, naming its user.
    pub fn get(&mut self, public_key: &Value) -> Value {
        let rp_id = self
            .rp_id
            .clone()
            .unwrap_or_else(|| text(&public_key["rpId"]));
        self.counter += 1;
        let client_data = self.client_data("webauthn.get", public_key);
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(FLAGS_UP_UV_BE_BS);
        auth_data.extend(self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": b64(&self.user_handle),
            },
            "extensions": {},
        })
    }

    fn client_data(&self, kind: &str, public_key: &Value) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": text(&public_key["challenge"]),
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    /// The public key as a COSE EC2 key: kty 2, alg -7 (ES256), crv 1 (P-256), x, y.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut out = Vec::new();
        cbor_head(&mut out, 5, 5);
        cbor_head(&mut out, 0, 1);
        cbor_head(&mut out, 0, 2);
        cbor_head(&mut out, 0, 3);
        cbor_head(&mut out, 1, 6);
        cbor_head(&mut out, 1, 0);
        cbor_head(&mut out, 0, 1);
        cbor_head(&mut out, 1, 1);
        let x: Vec<u8> = point
            .x()
            .map(|x| x.iter().copied().collect())
            .unwrap_or_default();
        cbor_bytes(&mut out, &x);
        cbor_head(&mut out, 1, 2);
        let y: Vec<u8> = point
            .y()
            .map(|y| y.iter().copied().collect())
            .unwrap_or_default();
        cbor_bytes(&mut out, &y);
        out
    }
}

/// Replaces the `clientDataJSON` of an answer with `edit` applied to it, leaving the signature
/// (or attestation) as it was: a tampered answer.
pub fn tamper_client_data(answer: &mut Value, edit: impl FnOnce(&mut Value)) {
    let encoded = text(&answer["response"]["clientDataJSON"]);
    let mut client_data: Value =
        serde_json::from_slice(&unb64(&encoded)).unwrap_or_else(|_| json!({}));
    edit(&mut client_data);
    answer["response"]["clientDataJSON"] = json!(b64(client_data.to_string().as_bytes()));
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .unwrap_or_default()
}

/// A CBOR item head: major type and argument.
fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let major = major << 5;
    match n {
        0..=23 => out.push(major | n as u8),
        24..=0xff => out.extend([major | 24, n as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(major | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    cbor_head(out, 2, bytes.len() as u64);
    out.extend(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, 3, text.len() as u64);
    out.extend(text.as_bytes());
}
