//! Logging in and out, and the profile page where users make and revoke
//! their API tokens.

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use lava_scheduler::accounts::Accounts;
use lava_scheduler::model::now_micros;
use serde_json::json;

use super::{
    error_page, render, render_status, session_cookie, store_failed, time, Visitor, SESSION_DAYS,
};
use crate::secrets::{new_token, token_digest, verify_password};
use crate::server::AppState;

/// Where to go after logging in: a path of this site only. Browsers drop
/// tabs and newlines and read `\\` as `/` in URLs, so only printable ASCII
/// without spaces or backslashes is taken, starting with one `/`.
fn local_next(next: Option<&String>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.clone()
        }
        _ => "/".to_string(),
    }
}

/// `GET /accounts/login/?next=PATH`.
pub(super) async fn login_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    render(
        &state,
        &visitor,
        "login.html",
        json!({ "next": local_next(params.get("next")), "error": null }),
    )
}

/// `POST /accounts/login/` with `username`, `password`, `next`.
pub(super) async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(refusal) = visitor.check_form(&form, "web login") {
        return refusal;
    }
    let username = form.get("username").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let next = local_next(form.get("next"));
    let name = username.clone();
    // Argon2 is slow on purpose: off the async threads.
    let checked = state
        .blocking(move |s| match s.store.user(&name) {
            Ok(user) => Ok(user.is_active
                && user
                    .password_hash
                    .as_deref()
                    .is_some_and(|hash| verify_password(&password, hash))),
            Err(lava_scheduler::StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        })
        .await;
    match checked {
        Ok(true) => {}
        Ok(false) => {
            log::warn!(
                "[HTTP] refused web login for {username} from {}: wrong username or password, or inactive user",
                visitor.caller.address
            );
            return render_status(
                &state,
                &visitor,
                StatusCode::UNAUTHORIZED,
                "login.html",
                json!({
                    "next": next,
                    "username": username,
                    "error": "Wrong username or password.",
                }),
            );
        }
        Err(e) => return store_failed(e),
    }
    let secret = match new_token() {
        Ok(secret) => secret,
        Err(e) => return store_failed(e),
    };
    let digest = token_digest(&secret);
    let name = username.clone();
    let expires = now_micros() + SESSION_DAYS * 86_400 * 1_000_000;
    if let Err(e) = state
        .blocking(move |s| s.store.add_session(&name, &digest, expires))
        .await
    {
        return store_failed(e);
    }
    log::info!(
        "[HTTP] {username} logged in from {}",
        visitor.caller.address
    );
    let mut response = Redirect::to(&next).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, session_cookie(&visitor, Some(&secret)));
    response
}

/// `POST /accounts/logout/`.
pub(super) async fn logout(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(refusal) = visitor.check_form(&form, "web logout") {
        return refusal;
    }
    if let Some(digest) = visitor.session.clone() {
        if let Err(e) = state
            .blocking(move |s| s.store.remove_session(&digest))
            .await
        {
            return store_failed(e);
        }
        log::info!(
            "[HTTP] {} logged out from {}",
            visitor.caller.name(),
            visitor.caller.address
        );
    }
    let mut response = Redirect::to("/").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, session_cookie(&visitor, None));
    response
}

async fn profile_page(
    state: &AppState,
    visitor: &Visitor,
    new_token: Option<(String, String)>,
) -> Response {
    let user = match visitor.require_login() {
        Ok(user) => user.clone(),
        Err(login) => return login,
    };
    let name = user.username.clone();
    let tokens = match state.blocking(move |s| s.store.tokens(&name)).await {
        Ok(tokens) => tokens,
        Err(e) => return store_failed(e),
    };
    render(
        state,
        visitor,
        "profile.html",
        json!({
            "user": {
                "username": user.username,
                "email": user.email,
                "is_superuser": user.is_superuser,
                "groups": user.groups,
                "date_joined": time(Some(user.date_joined)),
            },
            "tokens": tokens.iter().map(|t| json!({
                "id": t.id,
                "description": t.description,
                "created": time(Some(t.created)),
                "last_used": time(t.last_used),
            })).collect::<Vec<_>>(),
            "new_token": new_token.map(|(secret, description)| json!({
                "secret": secret,
                "description": description,
            })),
        }),
    )
}

/// `GET /me/`.
pub(super) async fn profile(State(state): State<AppState>, visitor: Visitor) -> Response {
    profile_page(&state, &visitor, None).await
}

/// `POST /me/tokens` with `description`: the secret is shown once.
pub(super) async fn add_token(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(refusal) = visitor.check_form(&form, "web token add") {
        return refusal;
    }
    let user = match visitor.require_login() {
        Ok(user) => user.username.clone(),
        Err(login) => return login,
    };
    let description = form
        .get("description")
        .map(|d| d.trim().to_string())
        .unwrap_or_default();
    if description.chars().count() > 200 {
        return error_page(
            StatusCode::BAD_REQUEST,
            "A token's description is at most 200 characters.",
        );
    }
    let secret = match new_token() {
        Ok(secret) => secret,
        Err(e) => return store_failed(e),
    };
    let digest = token_digest(&secret);
    let text = description.clone();
    if let Err(e) = state
        .blocking(move |s| s.store.add_token(&user, &text, &digest))
        .await
    {
        return store_failed(e);
    }
    profile_page(&state, &visitor, Some((secret, description))).await
}

/// `POST /me/tokens/ID/revoke`.
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(refusal) = visitor.check_form(&form, "web token revoke") {
        return refusal;
    }
    let user = match visitor.require_login() {
        Ok(user) => user.username.clone(),
        Err(login) => return login,
    };
    match state
        .blocking(move |s| s.store.remove_token(&user, id))
        .await
    {
        Ok(()) => Redirect::to("/me/").into_response(),
        Err(lava_scheduler::StoreError::NotFound { .. }) => {
            error_page(StatusCode::NOT_FOUND, &format!("You have no token {id}."))
        }
        Err(e) => store_failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::local_next;

    #[test]
    fn next_is_a_local_path_only() {
        let next = |s: &str| local_next(Some(&s.to_string()));
        assert_eq!(next("/scheduler/job/3?x=1"), "/scheduler/job/3?x=1");
        for outside in [
            "//evil.example",
            "/\t/evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "/a b",
            "/\n/x",
            "",
        ] {
            assert_eq!(next(outside), "/", "{outside:?}");
        }
        assert_eq!(local_next(None), "/");
    }
}
