//! XML-RPC at `/RPC2`: the calls `lavacli` makes, answered as LAVA does.
//!
//! The body is parsed with `dxr` into a method name and values, the caller
//! is identified (HTTP Basic `USER:TOKEN`), and the method runs on a
//! blocking thread against the store. Failures are XML-RPC faults with
//! LAVA's codes, sent with HTTP 200 (lavacli retries 5xx answers):
//! 400 bad arguments or job definition, 401 credentials needed, 403 not
//! allowed, 404 unknown object, 500 the server failed. Bad credentials are
//! the exception: every call then gets HTTP 401, as LAVA answers them.

mod methods;
mod params;

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dxr::{Fault, FaultResponse, MethodCall, MethodResponse, Value};

use crate::auth::authenticate;
use crate::server::AppState;

fn xml(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

fn fault(code: i32, message: impl Into<String>) -> Response {
    let body = FaultResponse {
        fault: Fault::new(code, message.into()),
    }
    .to_xml()
    .unwrap_or_default();
    xml(StatusCode::OK, body)
}

/// `POST /RPC2`.
pub(crate) async fn handle(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match authenticate(&state, &headers, address).await {
        Ok(caller) => caller,
        Err(failure) => {
            failure.log(address, "/RPC2");
            return (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "Invalid token",
            )
                .into_response();
        }
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return fault(400, "the request body is not UTF-8");
    };
    let text = keep_string_whitespace(text);
    let (name, params) = match MethodCall::from_xml(&text) {
        Ok(call) => (call.name.into_owned(), call.params),
        Err(_) => return fault(400, "the request body is not an XML-RPC method call"),
    };
    let method = name.clone();
    let started = std::time::Instant::now();
    let result: Result<Value, Fault> = state
        .blocking(move |s| methods::call(s, &caller, &name, params))
        .await;
    log::debug!("[RPC] {method} in {:?}", started.elapsed());
    match result {
        Ok(value) => match (MethodResponse { value }).to_xml() {
            Ok(body) => xml(StatusCode::OK, body),
            Err(e) => fault(500, format!("cannot encode the answer: {e}")),
        },
        Err(f) => fault(f.code(), f.string().to_string()),
    }
}

/// The XML parser under `dxr` trims the whitespace at both ends of every
/// text, so a job definition would lose its final newline (and anything
/// else that ends or starts a string). Whitespace at the ends of each
/// `<string>` element is rewritten as character references, which the
/// parser keeps and decodes back to the same characters.
fn keep_string_whitespace(body: &str) -> std::borrow::Cow<'_, str> {
    const OPEN: &str = "<string>";
    const CLOSE: &str = "</string>";
    if !body.contains(OPEN) {
        return body.into();
    }
    let encode = |text: &str, out: &mut String| {
        for c in text.chars() {
            out.push_str(&format!("&#{};", c as u32));
        }
    };
    let mut out = String::with_capacity(body.len() + 64);
    let mut rest = body;
    while let Some(start) = rest.find(OPEN) {
        let content_start = start + OPEN.len();
        let Some(len) = rest[content_start..].find(CLOSE) else {
            break;
        };
        out.push_str(&rest[..content_start]);
        let content = &rest[content_start..content_start + len];
        let trimmed_start = content.trim_start();
        let lead = &content[..content.len() - trimmed_start.len()];
        let middle = trimmed_start.trim_end();
        let tail = &trimmed_start[middle.len()..];
        encode(lead, &mut out);
        out.push_str(middle);
        encode(tail, &mut out);
        out.push_str(CLOSE);
        rest = &rest[content_start + len + CLOSE.len()..];
    }
    out.push_str(rest);
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_string(body: &str) -> String {
        let call = MethodCall::from_xml(&keep_string_whitespace(body)).unwrap();
        match &call.params[0] {
            Value::String(s) => s.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn strings_keep_their_leading_and_trailing_whitespace() {
        let call = |s: &str| {
            format!("<?xml version='1.0'?><methodCall><methodName>m</methodName><params><param><value><string>{s}</string></value></param></params></methodCall>")
        };
        assert_eq!(first_string(&call("job: 1\n")), "job: 1\n");
        assert_eq!(
            first_string(&call("\n  a &amp; b \t\n\n")),
            "\n  a & b \t\n\n"
        );
        assert_eq!(first_string(&call("")), "");
        assert_eq!(first_string(&call("   ")), "   ");
        assert_eq!(first_string(&call("plain")), "plain");
    }
}
