//! Supabase Auth access tokens as bearer tokens (feature `supabase`).
#![cfg(feature = "supabase")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Options, TestServer, assert_error};
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};

const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";

fn token(secret: &str, email: &str, aud: &str, exp_offset: i64, iss: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    encode(
        &Header::default(),
        &json!({
            "sub": uuid::Uuid::new_v4().to_string(),
            "email": email,
            "role": "authenticated",
            "aud": aud,
            "iss": iss,
            "iat": now,
            "exp": now + exp_offset,
        }),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn supabase_tokens_sign_users_in_and_bad_ones_are_refused() {
    let server = TestServer::start(
        Options::default()
            .set("QUFLUX_SUPABASE_JWT_SECRET", SECRET)
            .set("QUFLUX_SUPABASE_URL", "https://demo.supabase.co"),
    )
    .await;
    let iss = "https://demo.supabase.co/auth/v1";
    let me = |t: String| {
        server
            .http
            .get(server.url("/api/v1/auth/me"))
            .bearer_auth(t)
            .send()
    };

    // A valid token creates the user on first use and finds it afterwards.
    let res = me(token(SECRET, "Sb@Example.com", "authenticated", 3600, iss))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["email"], "sb@example.com");
    let again: Value = me(token(SECRET, "sb@example.com", "authenticated", 3600, iss))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["id"], again["id"]);

    // The user's resources are theirs across tokens.
    let t = token(SECRET, "sb@example.com", "authenticated", 3600, iss);
    let res = server
        .http
        .post(server.url("/api/v1/posts"))
        .bearer_auth(&t)
        .json(&json!({ "text": "from supabase" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    for (what, bad) in [
        (
            "wrong secret",
            token(
                "another-secret-that-is-long-enough-0123456789",
                "sb@example.com",
                "authenticated",
                3600,
                iss,
            ),
        ),
        (
            "expired",
            token(SECRET, "sb@example.com", "authenticated", -3600, iss),
        ),
        (
            "wrong audience",
            token(SECRET, "sb@example.com", "anon", 3600, iss),
        ),
        (
            "wrong issuer",
            token(
                SECRET,
                "sb@example.com",
                "authenticated",
                3600,
                "https://evil.supabase.co/auth/v1",
            ),
        ),
        ("garbage", "a.b.c".to_owned()),
    ] {
        let res = me(bad).await.unwrap();
        assert_eq!(res.status(), 401, "{what}");
        assert_error(res, 401, "UNAUTHENTICATED").await;
    }
    server.stop().await;
}

#[tokio::test]
async fn without_the_secret_jwts_are_not_accepted() {
    let server = TestServer::start(Options::default()).await;
    let t = token(
        SECRET,
        "x@example.com",
        "authenticated",
        3600,
        "https://demo.supabase.co/auth/v1",
    );
    let res = server
        .http
        .get(server.url("/api/v1/auth/me"))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "UNAUTHENTICATED").await;
    server.stop().await;
}
