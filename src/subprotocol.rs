//! `Sec-WebSocket-Protocol` parsing, the grammar and error texts of ws 8.23's
//! `subprotocol.js` `parse`: a comma-separated list of tokens with optional
//! spaces/tabs around them (not before the first character), no empty
//! elements, no duplicates. One pass, no backtracking.
//!
//! Indexes in messages are UTF-16 code unit indexes, as in JavaScript. Any
//! non-ASCII character is an error at its own position, and every character
//! before it is ASCII, so the byte index equals the UTF-16 index.

use std::collections::HashSet;

use crate::token::is_token_char;

/// Parse failure, worded as ws's `SyntaxError` messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError(pub String);

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SyntaxError {}

pub(crate) fn unexpected_character(i: usize) -> SyntaxError {
    SyntaxError(format!("Unexpected character at index {i}"))
}

pub(crate) fn unexpected_end() -> SyntaxError {
    SyntaxError("Unexpected end of input".to_owned())
}

fn duplicated(protocol: &str) -> SyntaxError {
    SyntaxError(format!("The \"{protocol}\" subprotocol is duplicated"))
}

/// Parses the header into its protocols, in order.
pub fn parse(header: &str) -> Result<Vec<String>, SyntaxError> {
    let bytes = header.as_bytes();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut end: Option<usize> = None;

    let mut add = |s: usize, e: usize| -> Result<(), SyntaxError> {
        let protocol = header.get(s..e).unwrap_or_default();
        if !seen.insert(protocol) {
            return Err(duplicated(protocol));
        }
        out.push(protocol.to_owned());
        Ok(())
    };

    for (i, &c) in bytes.iter().enumerate() {
        if end.is_none() && is_token_char(c) {
            if start.is_none() {
                start = Some(i);
            }
        } else if i != 0 && (c == b' ' || c == b'\t') {
            if end.is_none() && start.is_some() {
                end = Some(i);
            }
        } else if c == b',' {
            let Some(s) = start else {
                return Err(unexpected_character(i));
            };
            add(s, end.unwrap_or(i))?;
            start = None;
            end = None;
        } else {
            return Err(unexpected_character(i));
        }
    }

    match (start, end) {
        (Some(s), None) => {
            add(s, bytes.len())?;
            Ok(out)
        }
        _ => Err(unexpected_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(h: &str) -> Vec<String> {
        parse(h).expect("parses")
    }

    fn fails(h: &str) -> String {
        parse(h).expect_err("fails").0
    }

    #[test]
    fn accepts_what_ws_accepts() {
        assert_eq!(ok("foo"), ["foo"]);
        assert_eq!(ok("foo,bar"), ["foo", "bar"]);
        assert_eq!(ok("foo , bar"), ["foo", "bar"]);
        assert_eq!(ok("foo\t,\tbar"), ["foo", "bar"]);
        assert_eq!(ok("foo,  bar,baz"), ["foo", "bar", "baz"]);
        assert_eq!(ok("chat.v1+json"), ["chat.v1+json"]);
    }

    #[test]
    fn rejects_with_ws_messages() {
        assert_eq!(fails(""), "Unexpected end of input");
        assert_eq!(fails(" foo"), "Unexpected character at index 0");
        assert_eq!(fails("foo "), "Unexpected end of input");
        assert_eq!(fails("foo,"), "Unexpected end of input");
        assert_eq!(fails(",foo"), "Unexpected character at index 0");
        assert_eq!(fails("foo,,bar"), "Unexpected character at index 4");
        assert_eq!(fails("foo bar"), "Unexpected character at index 4");
        assert_eq!(fails("foo;bar"), "Unexpected character at index 3");
        assert_eq!(
            fails("foo, bar, foo"),
            "The \"foo\" subprotocol is duplicated"
        );
        assert_eq!(fails("foo,foo"), "The \"foo\" subprotocol is duplicated");
        assert_eq!(fails("foo,fö"), "Unexpected character at index 5");
        assert_eq!(fails("a,\"b\""), "Unexpected character at index 2");
    }

    #[test]
    fn hostile_headers_are_linear() {
        let t = std::time::Instant::now();
        let spaces = format!("a{}", " ".repeat(100_000));
        assert_eq!(fails(&spaces), "Unexpected end of input");
        let many: String = (0..20_000).map(|i| format!("p{i},")).collect::<String>() + "end";
        assert_eq!(ok(&many).len(), 20_001);
        let tabs = format!("a{}b", "\t".repeat(100_000));
        assert_eq!(fails(&tabs), "Unexpected character at index 100001");
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }
}
