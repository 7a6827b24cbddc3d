//! Negotiation tests; tests/permessage-deflate.test.js checks many more
//! combinations against ws itself.

use super::*;
use crate::extension;

fn offers(header: &str) -> Vec<Params> {
    let parsed = extension::parse(header).expect("valid header");
    parsed
        .into_iter()
        .find(|(name, _)| name == EXTENSION_NAME)
        .map(|(_, offers)| offers)
        .unwrap_or_default()
}

fn server(header: &str, opts: NegotiationOptions) -> Result<String, String> {
    accept_as_server(&offers(header), &opts)
        .map(|a| format(&a))
        .map_err(|e| e.message)
}

fn client(header: &str, opts: NegotiationOptions) -> Result<String, String> {
    accept_as_client(&offers(header), &opts)
        .map(|a| format(&a))
        .map_err(|e| e.message)
}

const NONE: NegotiationOptions = NegotiationOptions {
    server_no_context_takeover: FlagOption::Unset,
    client_no_context_takeover: FlagOption::Unset,
    server_max_window_bits: BitsOption::Unset,
    client_max_window_bits: BitsOption::Unset,
};

#[test]
fn server_accepts_like_ws() {
    // A browser's offer: client_max_window_bits without a value is dropped.
    assert_eq!(
        server("permessage-deflate; client_max_window_bits", NONE),
        Ok("permessage-deflate".into())
    );
    // Parameters keep their order; values are normalised numbers.
    assert_eq!(
        server(
            "permessage-deflate; server_max_window_bits=10; client_no_context_takeover",
            NONE
        ),
        Ok("permessage-deflate; server_max_window_bits=10; client_no_context_takeover".into())
    );
    assert_eq!(
        server("permessage-deflate; client_max_window_bits=\"9\"", NONE),
        Ok("permessage-deflate; client_max_window_bits=9".into())
    );
    // Options add parameters at the end, or change them in place.
    let opts = NegotiationOptions {
        server_no_context_takeover: FlagOption::True,
        client_no_context_takeover: FlagOption::True,
        server_max_window_bits: BitsOption::Bits(10),
        client_max_window_bits: BitsOption::Bits(11),
    };
    assert_eq!(
        server(
            "permessage-deflate; client_max_window_bits; server_max_window_bits=12",
            opts
        ),
        Ok(
            "permessage-deflate; client_max_window_bits=11; server_max_window_bits=10; \
            server_no_context_takeover; client_no_context_takeover"
                .into()
        )
    );
    // The first acceptable offer wins.
    let opts = NegotiationOptions {
        client_max_window_bits: BitsOption::Bits(10),
        ..NONE
    };
    assert_eq!(
        server(
            "permessage-deflate, permessage-deflate; client_max_window_bits=9, \
             permessage-deflate; client_max_window_bits",
            opts
        ),
        Ok("permessage-deflate; client_max_window_bits=10".into())
    );
}

#[test]
fn server_refuses_like_ws() {
    let e = |h: &str, o| server(h, o).unwrap_err();
    assert_eq!(
        e("permessage-deflate; foo", NONE),
        "Unknown parameter \"foo\""
    );
    assert_eq!(
        e(
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            NONE
        ),
        "Parameter \"server_no_context_takeover\" must have only a single value"
    );
    assert_eq!(
        e("permessage-deflate; server_max_window_bits", NONE),
        "Invalid value for parameter \"server_max_window_bits\": true"
    );
    assert_eq!(
        e("permessage-deflate; client_max_window_bits=16", NONE),
        "Invalid value for parameter \"client_max_window_bits\": 16"
    );
    assert_eq!(
        e("permessage-deflate; client_max_window_bits=7.5", NONE),
        "Invalid value for parameter \"client_max_window_bits\": 7.5"
    );
    // ws 8.23.1 reads window sizes with `/^(?:[89]|1[0-5])$/`: these were
    // all integers in 8..=15 to 8.23.0's `+value`.
    for value in [
        "09", "9.0", "9.", "0xa", "0o12", "0b1010", "1e1", "+9", "010", "\"09\"",
    ] {
        let shown = value.trim_matches('"');
        for name in ["client_max_window_bits", "server_max_window_bits"] {
            assert_eq!(
                e(&format!("permessage-deflate; {name}={value}"), NONE),
                format!("Invalid value for parameter \"{name}\": {shown}")
            );
            assert_eq!(
                client(&format!("permessage-deflate; {name}={value}"), NONE).unwrap_err(),
                format!("Invalid value for parameter \"{name}\": {shown}")
            );
        }
    }
    for bits in 8..=15 {
        assert_eq!(
            server(
                &format!("permessage-deflate; server_max_window_bits={bits}"),
                NONE
            ),
            Ok(format!("permessage-deflate; server_max_window_bits={bits}"))
        );
    }
    assert_eq!(
        e("permessage-deflate; server_no_context_takeover=1", NONE),
        "Invalid value for parameter \"server_no_context_takeover\": 1"
    );
    // A later invalid offer fails even though an earlier one is fine.
    assert_eq!(
        e("permessage-deflate, permessage-deflate; x", NONE),
        "Unknown parameter \"x\""
    );
    let none_ok = "None of the extension offers can be accepted";
    let opts = NegotiationOptions {
        server_no_context_takeover: FlagOption::False,
        ..NONE
    };
    assert_eq!(
        e("permessage-deflate; server_no_context_takeover", opts),
        none_ok
    );
    let opts = NegotiationOptions {
        server_max_window_bits: BitsOption::False,
        ..NONE
    };
    assert_eq!(
        e("permessage-deflate; server_max_window_bits=10", opts),
        none_ok
    );
    let opts = NegotiationOptions {
        server_max_window_bits: BitsOption::Bits(11),
        ..NONE
    };
    assert_eq!(
        e("permessage-deflate; server_max_window_bits=10", opts),
        none_ok
    );
    let opts = NegotiationOptions {
        client_max_window_bits: BitsOption::Bits(11),
        ..NONE
    };
    assert_eq!(e("permessage-deflate", opts), none_ok);
    assert_eq!(
        e("permessage-deflate; client_max_window_bits=10", opts),
        none_ok
    );
}

#[test]
fn client_checks_like_ws() {
    assert_eq!(
        client("permessage-deflate; server_no_context_takeover", NONE),
        Ok("permessage-deflate; server_no_context_takeover".into())
    );
    assert_eq!(
        client("permessage-deflate; client_max_window_bits", NONE).unwrap_err(),
        "Invalid value for parameter \"client_max_window_bits\": true"
    );
    let opts = NegotiationOptions {
        client_no_context_takeover: FlagOption::False,
        ..NONE
    };
    assert_eq!(
        client("permessage-deflate; client_no_context_takeover", opts).unwrap_err(),
        "Unexpected parameter \"client_no_context_takeover\""
    );
    let opts = NegotiationOptions {
        client_max_window_bits: BitsOption::Bits(10),
        ..NONE
    };
    assert_eq!(
        client("permessage-deflate", opts),
        Ok("permessage-deflate; client_max_window_bits=10".into())
    );
    assert_eq!(
        client("permessage-deflate; client_max_window_bits=11", opts).unwrap_err(),
        "Unexpected or invalid parameter \"client_max_window_bits\""
    );
    let opts = NegotiationOptions {
        client_max_window_bits: BitsOption::False,
        ..NONE
    };
    assert_eq!(
        client("permessage-deflate; client_max_window_bits=11", opts).unwrap_err(),
        "Unexpected or invalid parameter \"client_max_window_bits\""
    );
    // Only the first configuration counts, but all are validated.
    assert_eq!(
        client("permessage-deflate, permessage-deflate; y", NONE).unwrap_err(),
        "Unknown parameter \"y\""
    );
}

#[test]
fn agreed_accessors() {
    let a = accept_as_server(
        &offers("permessage-deflate; server_no_context_takeover; client_max_window_bits=9"),
        &NONE,
    )
    .unwrap();
    assert!(a.no_context_takeover(true));
    assert!(!a.no_context_takeover(false));
    assert_eq!(a.window_bits(true), 15);
    assert_eq!(a.window_bits(false), 9);
}
