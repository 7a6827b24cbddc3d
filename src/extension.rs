//! `Sec-WebSocket-Extensions` parsing, the grammar and error texts of ws
//! 8.23's `extension.js` `parse`: extensions separated by `,`, each a token
//! followed by `;`-separated parameters, each `name`, `name=token` or
//! `name="quoted"` where the quoted value, after removing `\` escapes, is a
//! token. One pass, no backtracking.
//!
//! The result keeps what ws's null-prototype object holds, in a shape N-API
//! can carry: extension names in order of first appearance, each with its
//! offers (one per occurrence), each offer a list of `(param, value)` in
//! order (a repeated param appears repeatedly; JS groups them into arrays).
//!
//! As in `subprotocol`, any non-ASCII character is an error at its own
//! position, so byte indexes equal JavaScript's UTF-16 indexes.

use std::collections::HashMap;

use crate::subprotocol::{unexpected_character, unexpected_end, SyntaxError};
use crate::token::is_token_char;

/// A parameter value: `true` when the parameter has no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamValue {
    True,
    Str(String),
}

pub type Params = Vec<(String, ParamValue)>;

/// Extension name and its offers, in order of first appearance.
pub type Offers = Vec<(String, Vec<Params>)>;

/// Collects offers, grouping by extension name (linear time).
#[derive(Default)]
struct Builder {
    offers: Offers,
    index: HashMap<String, usize>,
}

impl Builder {
    fn push(&mut self, name: &str, params: Params) {
        match self.index.get(name) {
            Some(&i) => {
                if let Some((_, list)) = self.offers.get_mut(i) {
                    list.push(params);
                }
            }
            None => {
                self.index.insert(name.to_owned(), self.offers.len());
                self.offers.push((name.to_owned(), vec![params]));
            }
        }
    }
}

fn unescape(s: &str) -> String {
    s.chars().filter(|&c| c != '\\').collect()
}

/// Parses the header.
pub fn parse(header: &str) -> Result<Offers, SyntaxError> {
    let bytes = header.as_bytes();
    let slice = |s: usize, e: usize| header.get(s..e).unwrap_or_default();

    let mut offers = Builder::default();
    let mut params: Params = Vec::new();
    let mut must_unescape = false;
    let mut is_escaping = false;
    let mut in_quotes = false;
    let mut extension_name: Option<&str> = None;
    let mut param_name: Option<&str> = None;
    let mut start: Option<usize> = None;
    let mut end: Option<usize> = None;
    // The last character looked at (ws's `code`), None for an empty header.
    let mut last: Option<u8> = None;

    for (i, &c) in bytes.iter().enumerate() {
        last = Some(c);
        let space = c == b' ' || c == b'\t';
        let separator = c == b';' || c == b',';

        if extension_name.is_none() {
            if end.is_none() && is_token_char(c) {
                if start.is_none() {
                    start = Some(i);
                }
            } else if i != 0 && space {
                if end.is_none() && start.is_some() {
                    end = Some(i);
                }
            } else if separator {
                let Some(s) = start else {
                    return Err(unexpected_character(i));
                };
                let name = slice(s, end.unwrap_or(i));
                if c == b',' {
                    offers.push(name, std::mem::take(&mut params));
                } else {
                    extension_name = Some(name);
                }
                start = None;
                end = None;
            } else {
                return Err(unexpected_character(i));
            }
        } else if param_name.is_none() {
            if end.is_none() && is_token_char(c) {
                if start.is_none() {
                    start = Some(i);
                }
            } else if space {
                if end.is_none() && start.is_some() {
                    end = Some(i);
                }
            } else if separator {
                let Some(s) = start else {
                    return Err(unexpected_character(i));
                };
                params.push((slice(s, end.unwrap_or(i)).to_owned(), ParamValue::True));
                if c == b',' {
                    if let Some(ext) = extension_name.take() {
                        offers.push(ext, std::mem::take(&mut params));
                    }
                }
                start = None;
                end = None;
            } else if c == b'=' && start.is_some() && end.is_none() {
                param_name = start.map(|s| slice(s, i));
                start = None;
                end = None;
            } else {
                return Err(unexpected_character(i));
            }
        } else if is_escaping {
            if !is_token_char(c) {
                return Err(unexpected_character(i));
            }
            if start.is_none() {
                start = Some(i);
            } else if !must_unescape {
                must_unescape = true;
            }
            is_escaping = false;
        } else if in_quotes {
            if is_token_char(c) {
                if start.is_none() {
                    start = Some(i);
                }
            } else if c == b'"' && start.is_some() {
                in_quotes = false;
                end = Some(i);
            } else if c == b'\\' {
                is_escaping = true;
            } else {
                return Err(unexpected_character(i));
            }
        } else if c == b'"' && i.checked_sub(1).and_then(|p| bytes.get(p)) == Some(&b'=') {
            in_quotes = true;
        } else if end.is_none() && is_token_char(c) {
            if start.is_none() {
                start = Some(i);
            }
        } else if start.is_some() && space {
            if end.is_none() {
                end = Some(i);
            }
        } else if separator {
            let Some(s) = start else {
                return Err(unexpected_character(i));
            };
            let raw = slice(s, end.unwrap_or(i));
            let value = if must_unescape {
                must_unescape = false;
                unescape(raw)
            } else {
                raw.to_owned()
            };
            if let Some(p) = param_name.take() {
                params.push((p.to_owned(), ParamValue::Str(value)));
            }
            if c == b',' {
                if let Some(ext) = extension_name.take() {
                    offers.push(ext, std::mem::take(&mut params));
                }
            }
            start = None;
            end = None;
        } else {
            return Err(unexpected_character(i));
        }
    }

    let Some(s) = start else {
        return Err(unexpected_end());
    };
    if in_quotes || last == Some(b' ') || last == Some(b'\t') {
        return Err(unexpected_end());
    }
    let token = slice(s, end.unwrap_or(bytes.len()));
    match extension_name {
        None => offers.push(token, params),
        Some(ext) => {
            match param_name {
                None => params.push((token.to_owned(), ParamValue::True)),
                Some(p) => {
                    let value = if must_unescape {
                        unescape(token)
                    } else {
                        token.to_owned()
                    };
                    params.push((p.to_owned(), ParamValue::Str(value)));
                }
            }
            offers.push(ext, params);
        }
    }
    Ok(offers.offers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ParamValue::{Str, True};

    fn s(v: &str) -> ParamValue {
        Str(v.to_owned())
    }

    fn p(list: &[(&str, ParamValue)]) -> Params {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn ok(h: &str) -> Offers {
        parse(h).expect("parses")
    }

    fn fails(h: &str) -> String {
        parse(h).expect_err("fails").0
    }

    #[test]
    fn parses_like_ws() {
        assert_eq!(ok("foo"), vec![("foo".to_owned(), vec![vec![]])]);
        assert_eq!(
            ok("foo, bar"),
            vec![
                ("foo".to_owned(), vec![vec![]]),
                ("bar".to_owned(), vec![vec![]])
            ]
        );
        assert_eq!(
            ok("permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate"),
            vec![(
                "permessage-deflate".to_owned(),
                vec![
                    p(&[
                        ("client_max_window_bits", True),
                        ("server_max_window_bits", s("10"))
                    ]),
                    vec![]
                ]
            )]
        );
        assert_eq!(
            ok("foo;bar;baz=1;bar"),
            vec![(
                "foo".to_owned(),
                vec![p(&[("bar", True), ("baz", s("1")), ("bar", True)])]
            )]
        );
        assert_eq!(
            ok("foo; bar=\"hi\"; baz=\"1\\2\" , qux"),
            vec![
                (
                    "foo".to_owned(),
                    vec![p(&[("bar", s("hi")), ("baz", s("12"))])]
                ),
                ("qux".to_owned(), vec![vec![]])
            ]
        );
        assert_eq!(
            ok("foo;bar=\"\\baz\""),
            vec![("foo".to_owned(), vec![p(&[("bar", s("baz"))])])]
        );
        assert_eq!(
            ok("foo ; bar ;baz"),
            vec![("foo".to_owned(), vec![p(&[("bar", True), ("baz", True)])])]
        );
        assert_eq!(
            ok("a;b=1;b=\"2\",a;b"),
            vec![(
                "a".to_owned(),
                vec![p(&[("b", s("1")), ("b", s("2"))]), p(&[("b", True)])]
            )]
        );
    }

    #[test]
    fn rejects_with_ws_messages() {
        assert_eq!(fails(""), "Unexpected end of input");
        assert_eq!(fails(" "), "Unexpected character at index 0");
        assert_eq!(fails("foo "), "Unexpected end of input");
        assert_eq!(fails("foo,"), "Unexpected end of input");
        assert_eq!(fails("foo;"), "Unexpected end of input");
        assert_eq!(fails(",foo"), "Unexpected character at index 0");
        assert_eq!(fails("foo;;"), "Unexpected character at index 4");
        assert_eq!(fails("foo bar"), "Unexpected character at index 4");
        assert_eq!(fails("foo;bar=\"baz"), "Unexpected end of input");
        assert_eq!(fails("foo;bar=\"\""), "Unexpected character at index 9");
        assert_eq!(fails("foo;bar=\"a b\""), "Unexpected character at index 10");
        assert_eq!(
            fails("foo;bar=\"a\\ \""),
            "Unexpected character at index 11"
        );
        assert_eq!(fails("foo;bar=\"a\"b"), "Unexpected character at index 11");
        assert_eq!(fails("foo;bar= 1"), "Unexpected character at index 8");
        assert_eq!(fails("foo;=1"), "Unexpected character at index 4");
        assert_eq!(fails("foo;b=1=2"), "Unexpected character at index 7");
        assert_eq!(fails("foo;b=1 "), "Unexpected end of input");
        assert_eq!(fails("foo ;bar = 1"), "Unexpected character at index 9");
        assert_eq!(fails("fö"), "Unexpected character at index 1");
        assert_eq!(fails("foo;bar=b\"az"), "Unexpected character at index 9");
    }

    #[test]
    fn hostile_headers_are_linear() {
        let t = std::time::Instant::now();
        let h = format!("a;b={}", "1".repeat(100_000)) + " x";
        assert_eq!(
            fails(&h),
            format!("Unexpected character at index {}", 100_005)
        );
        let h = format!("a;b=\"{}", "\\1".repeat(50_000));
        assert_eq!(fails(&h), "Unexpected end of input");
        let h: String = (0..10_000)
            .map(|i| format!("e{i};p{i}=\"v\","))
            .collect::<String>()
            + "z";
        assert_eq!(ok(&h).len(), 10_001);
        let h = format!("a{}", " \t".repeat(50_000));
        assert_eq!(fails(&h), "Unexpected end of input");
        let h = "a,".repeat(50_000) + "a";
        let offers = ok(&h);
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].1.len(), 50_001);
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }
}
