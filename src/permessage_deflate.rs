//! permessage-deflate negotiation (RFC 7692 §5-7), accepting and refusing
//! exactly what ws 8.23.1's `PerMessageDeflate` does, with its error texts:
//!
//! - [`accept_as_server`]: picks the first acceptable offer of a client's
//!   `Sec-WebSocket-Extensions` and completes it with the server's options
//!   (ws's `normalizeParams` + `acceptAsServer`);
//! - [`accept_as_client`]: checks a server's response against the client's
//!   options (`normalizeParams` + `acceptAsClient`);
//! - [`format`]: the agreed parameters as a header value.
//!
//! Offers come from [`crate::extension::parse`]. Parameters keep their order
//! (ws keeps them in a JavaScript object, where insertion order is the
//! order they were written, and parameters the server adds go last), so the
//! response header reads the same as ws's.

use crate::extension::{ParamValue, Params};

pub const EXTENSION_NAME: &str = "permessage-deflate";

pub const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
pub const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
pub const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
pub const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// A `*NoContextTakeover` option as ws tests it: `=== false`, or truthy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlagOption {
    /// Absent, or any other falsy value.
    #[default]
    Unset,
    /// Exactly `false`.
    False,
    /// Any truthy value.
    True,
}

/// A `*MaxWindowBits` option as ws tests it: a number, `=== false`, or
/// something else (absent or `true`: no number is imposed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BitsOption {
    #[default]
    Unset,
    False,
    /// 8..=15 (callers check the range: ws does not, and then fails in
    /// zlib later).
    Bits(u8),
}

/// The negotiation part of ws's `perMessageDeflate` options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NegotiationOptions {
    pub server_no_context_takeover: FlagOption,
    pub client_no_context_takeover: FlagOption,
    pub server_max_window_bits: BitsOption,
    pub client_max_window_bits: BitsOption,
}

/// A normalised parameter value: no value, or a window size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    True,
    Bits(u8),
}

/// Agreed parameters, in ws's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Agreed {
    pub params: Vec<(&'static str, Value)>,
}

impl Agreed {
    pub fn get(&self, name: &str) -> Option<Value> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, v)| v)
    }

    /// Sets a value where the parameter already is, else appends it (what
    /// assigning a property of a JavaScript object does).
    fn set(&mut self, name: &'static str, value: Value) {
        match self.params.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.params.push((name, value)),
        }
    }

    fn remove(&mut self, name: &str) {
        self.params.retain(|(n, _)| *n != name);
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn bits(&self, name: &str) -> Option<u8> {
        match self.get(name) {
            Some(Value::Bits(b)) => Some(b),
            _ => None,
        }
    }

    /// The window the given endpoint compresses with: its agreed
    /// `*_max_window_bits`, else 15.
    pub fn window_bits(&self, server: bool) -> u8 {
        let name = if server {
            SERVER_MAX_WINDOW_BITS
        } else {
            CLIENT_MAX_WINDOW_BITS
        };
        self.bits(name)
            .unwrap_or(crate::deflate::DEFAULT_WINDOW_BITS)
    }

    /// Whether the given endpoint resets its context after each message.
    pub fn no_context_takeover(&self, server: bool) -> bool {
        self.has(if server {
            SERVER_NO_CONTEXT_TAKEOVER
        } else {
            CLIENT_NO_CONTEXT_TAKEOVER
        })
    }
}

/// ws's JavaScript error class for a negotiation failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    Error,
    TypeError,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiationError {
    pub class: ErrorClass,
    pub message: String,
}

impl std::fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NegotiationError {}

fn error(message: String) -> NegotiationError {
    NegotiationError {
        class: ErrorClass::Error,
        message,
    }
}

fn invalid_value(name: &str, value: &ParamValue) -> NegotiationError {
    let shown = match value {
        ParamValue::True => "true",
        ParamValue::Str(s) => s.as_str(),
    };
    NegotiationError {
        class: ErrorClass::TypeError,
        message: format!("Invalid value for parameter \"{name}\": {shown}"),
    }
}

/// A window size as ws 8.23.1 reads it: the value must match
/// `/^(?:[89]|1[0-5])$/` (8.23.0 took any `+value` that was an integer in
/// 8..=15, such as `09`, `9.0` or `0xa`).
fn window_value(name: &str, value: &ParamValue) -> Result<Value, NegotiationError> {
    let bits = match value {
        ParamValue::Str(s) => match s.as_bytes() {
            [d @ b'8'..=b'9'] => Some(d - b'0'),
            [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
            _ => None,
        },
        // `true` reads as "true".
        ParamValue::True => None,
    };
    bits.map(Value::Bits)
        .ok_or_else(|| invalid_value(name, value))
}

/// ws's `normalizeParams`: every offer is checked (not only the one that
/// is accepted), parameter by parameter in order of first appearance.
fn normalize(offers: &[Params], server: bool) -> Result<Vec<Agreed>, NegotiationError> {
    offers
        .iter()
        .map(|params| {
            let mut agreed = Agreed::default();
            for (i, (name, value)) in params.iter().enumerate() {
                if params.iter().take(i).any(|(n, _)| n == name) {
                    continue;
                }
                if params.iter().skip(i + 1).any(|(n, _)| n == name) {
                    return Err(error(format!(
                        "Parameter \"{name}\" must have only a single value"
                    )));
                }
                let (key, v) = match name.as_str() {
                    CLIENT_MAX_WINDOW_BITS => {
                        let v = if *value == ParamValue::True && server {
                            Value::True
                        } else {
                            window_value(name, value)?
                        };
                        (CLIENT_MAX_WINDOW_BITS, v)
                    }
                    SERVER_MAX_WINDOW_BITS => (SERVER_MAX_WINDOW_BITS, window_value(name, value)?),
                    CLIENT_NO_CONTEXT_TAKEOVER | SERVER_NO_CONTEXT_TAKEOVER => {
                        if *value != ParamValue::True {
                            return Err(invalid_value(name, value));
                        }
                        let key = if name == CLIENT_NO_CONTEXT_TAKEOVER {
                            CLIENT_NO_CONTEXT_TAKEOVER
                        } else {
                            SERVER_NO_CONTEXT_TAKEOVER
                        };
                        (key, Value::True)
                    }
                    _ => return Err(error(format!("Unknown parameter \"{name}\""))),
                };
                agreed.params.push((key, v));
            }
            Ok(agreed)
        })
        .collect()
}

/// Whether the server's options rule an offer out (ws's `acceptAsServer`
/// filter).
fn refuses(opts: &NegotiationOptions, offer: &Agreed) -> bool {
    if opts.server_no_context_takeover == FlagOption::False && offer.has(SERVER_NO_CONTEXT_TAKEOVER)
    {
        return true;
    }
    if let Some(offered) = offer.bits(SERVER_MAX_WINDOW_BITS) {
        match opts.server_max_window_bits {
            BitsOption::False => return true,
            BitsOption::Bits(b) if b > offered => return true,
            _ => {}
        }
    }
    if let BitsOption::Bits(b) = opts.client_max_window_bits {
        return match offer.get(CLIENT_MAX_WINDOW_BITS) {
            Some(Value::Bits(offered)) => b > offered,
            Some(Value::True) => false,
            None => true,
        };
    }
    false
}

/// Accepts the first acceptable offer of a client, completed with the
/// server's options.
pub fn accept_as_server(
    offers: &[Params],
    opts: &NegotiationOptions,
) -> Result<Agreed, NegotiationError> {
    let mut accepted = normalize(offers, true)?
        .into_iter()
        .find(|offer| !refuses(opts, offer))
        .ok_or_else(|| error("None of the extension offers can be accepted".to_owned()))?;
    if opts.server_no_context_takeover == FlagOption::True {
        accepted.set(SERVER_NO_CONTEXT_TAKEOVER, Value::True);
    }
    if opts.client_no_context_takeover == FlagOption::True {
        accepted.set(CLIENT_NO_CONTEXT_TAKEOVER, Value::True);
    }
    if let BitsOption::Bits(b) = opts.server_max_window_bits {
        accepted.set(SERVER_MAX_WINDOW_BITS, Value::Bits(b));
    }
    if let BitsOption::Bits(b) = opts.client_max_window_bits {
        accepted.set(CLIENT_MAX_WINDOW_BITS, Value::Bits(b));
    } else if accepted.get(CLIENT_MAX_WINDOW_BITS) == Some(Value::True)
        || opts.client_max_window_bits == BitsOption::False
    {
        accepted.remove(CLIENT_MAX_WINDOW_BITS);
    }
    Ok(accepted)
}

/// Checks a server's response (its first configuration; all are
/// validated) against the client's options.
pub fn accept_as_client(
    response: &[Params],
    opts: &NegotiationOptions,
) -> Result<Agreed, NegotiationError> {
    let Some(mut params) = normalize(response, false)?.into_iter().next() else {
        return Err(error(
            "None of the extension offers can be accepted".to_owned(),
        ));
    };
    if opts.client_no_context_takeover == FlagOption::False
        && params.has(CLIENT_NO_CONTEXT_TAKEOVER)
    {
        return Err(error(
            "Unexpected parameter \"client_no_context_takeover\"".to_owned(),
        ));
    }
    match params.bits(CLIENT_MAX_WINDOW_BITS) {
        None => {
            if let BitsOption::Bits(b) = opts.client_max_window_bits {
                params.set(CLIENT_MAX_WINDOW_BITS, Value::Bits(b));
            }
        }
        Some(agreed) => {
            let refused = match opts.client_max_window_bits {
                BitsOption::False => true,
                BitsOption::Bits(b) => agreed > b,
                BitsOption::Unset => false,
            };
            if refused {
                return Err(error(
                    "Unexpected or invalid parameter \"client_max_window_bits\"".to_owned(),
                ));
            }
        }
    }
    Ok(params)
}

/// The `Sec-WebSocket-Extensions` value for agreed parameters, as ws's
/// `extension.format` writes it.
pub fn format(agreed: &Agreed) -> String {
    let mut out = EXTENSION_NAME.to_owned();
    for (name, value) in &agreed.params {
        out.push_str("; ");
        out.push_str(name);
        if let Value::Bits(b) = value {
            out.push('=');
            out.push_str(&b.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests;
