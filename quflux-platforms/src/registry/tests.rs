//! Unit tests of the registry: env-free, through `Platforms::from_lookup`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use base64::Engine;
use quflux_core::memory::{InMemoryCache, InMemoryStore};
use quflux_core::{ErrorKind, Secret, SystemClock, UserId};

use super::*;
use crate::common::AuthorizeOptions;

fn key(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

fn build(platforms: &Platforms) -> Result<PlatformSet> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    platforms.build(
        Arc::new(InMemoryStore::new()),
        Arc::new(InMemoryCache::new()),
        NotificationService::new(Vec::new(), clock.clone()),
        clock,
    )
}

fn config_error(vars: &[(&str, &str)]) -> String {
    let e = Platforms::from_lookup(lookup(vars)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    e.to_string()
}

#[test]
fn nothing_configured_builds_nothing_or_only_the_outbox() {
    let platforms = Platforms::from_lookup(lookup(&[])).unwrap();
    let summary = platforms.summary();
    assert!(summary.real().is_empty(), "{summary}");
    assert!(
        summary
            .platforms
            .iter()
            .all(|s| s.state == PlatformState::Off)
    );
    assert!(
        summary
            .get(Platform::Twitter)
            .unwrap()
            .detail
            .contains("QUFLUX_X_CLIENT_ID"),
        "{summary}"
    );
    assert!(
        summary
            .get(Platform::Bluesky)
            .unwrap()
            .detail
            .contains(TOKEN_KEYS_VAR),
        "{summary}"
    );
    let set = build(&platforms).unwrap();
    assert!(
        Platform::ALL
            .iter()
            .all(|p| set.publishers.get(*p).is_none())
    );
    assert!(set.connections.platforms().is_empty());

    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox.jsonl");
    let set = build(&platforms.with_outbox_fallback(&outbox)).unwrap();
    for platform in Platform::ALL {
        let publisher = set.publishers.get(platform).unwrap();
        assert_eq!(publisher.platform(), platform);
        assert!(format!("{publisher:?}").contains("Outbox"), "{publisher:?}");
        let status = set.summary.get(platform).unwrap();
        assert_eq!(status.state, PlatformState::Outbox);
        assert!(status.detail.contains("outbox.jsonl"), "{}", status.detail);
    }
    assert!(set.connections.platforms().is_empty());
}

#[tokio::test]
async fn x_configured_gets_its_publisher_and_connections_start() {
    let keys = format!("k1:{}", key(1));
    let platforms = Platforms::from_lookup(lookup(&[
        ("QUFLUX_X_CLIENT_ID", "x-client"),
        ("QUFLUX_X_REDIRECT_URL", "https://app.example/x/callback"),
        (TOKEN_KEYS_VAR, &keys),
    ]))
    .unwrap()
    .with_outbox_fallback(tempfile::tempdir().unwrap().path().join("o.jsonl"));
    let set = build(&platforms).unwrap();
    let x = set.publishers.get(Platform::Twitter).unwrap();
    assert!(format!("{x:?}").contains("XPublisher"), "{x:?}");
    assert_eq!(
        set.summary.real(),
        [Platform::Twitter, Platform::Bluesky, Platform::Mastodon]
    );
    let linkedin = set.summary.get(Platform::Linkedin).unwrap();
    assert_eq!(linkedin.state, PlatformState::Outbox);
    assert!(linkedin.detail.contains("QUFLUX_LINKEDIN_CLIENT_ID"));
    assert_eq!(
        set.connections.platforms(),
        [Platform::Twitter, Platform::Bluesky, Platform::Mastodon]
    );
    let start = set
        .connections
        .start(
            UserId::new(),
            Platform::Twitter,
            &AuthorizeOptions::default(),
        )
        .await
        .unwrap();
    assert!(
        start
            .authorize_url
            .starts_with("https://x.com/i/oauth2/authorize?"),
        "{}",
        start.authorize_url
    );
    assert!(start.authorize_url.contains("client_id=x-client"));
    assert!(start.authorize_url.contains("code_challenge_method=S256"));
    assert!(
        set.connections
            .start(
                UserId::new(),
                Platform::Linkedin,
                &AuthorizeOptions::default()
            )
            .await
            .is_err()
    );
}

#[test]
fn malformed_values_are_config_errors_naming_the_variable() {
    for (name, value) in [
        ("QUFLUX_X_API_BASE", "not a url"),
        ("QUFLUX_X_REDIRECT_URL", "ftp://app.example/cb"),
        ("QUFLUX_BLUESKY_PDS_URL", "bsky.social"),
        ("QUFLUX_MASTODON_INSTANCE", "https://mastodon.social/@me"),
        ("QUFLUX_MASTODON_REDIRECT_URL", "::"),
        (HTTP_TIMEOUT_VAR, "soon"),
        (TOKEN_KEYS_VAR, "k1:c2hvcnQ="),
    ] {
        let mut vars = vec![
            ("QUFLUX_X_CLIENT_ID", "x-client"),
            ("QUFLUX_X_REDIRECT_URL", "https://app.example/cb"),
        ];
        vars.retain(|(n, _)| *n != name);
        vars.push((name, value));
        let e = config_error(&vars);
        assert!(e.contains(name), "{name}: {e}");
    }
    // A platform partly configured names what is missing.
    let e = config_error(&[("QUFLUX_LINKEDIN_CLIENT_ID", "li")]);
    assert!(e.contains("QUFLUX_LINKEDIN_CLIENT_SECRET"), "{e}");
    let e = config_error(&[("QUFLUX_X_CLIENT_ID", "x")]);
    assert!(e.contains("QUFLUX_X_REDIRECT_URL"), "{e}");
    let e = config_error(&[
        ("QUFLUX_META_APP_ID", "1"),
        ("QUFLUX_META_APP_SECRET", "s"),
        ("QUFLUX_META_REDIRECT_URL", "https://app.example/cb"),
        ("QUFLUX_META_API_VERSION", "24"),
    ]);
    assert!(e.contains("QUFLUX_META_API_VERSION"), "{e}");
}

#[test]
fn app_platforms_without_token_keys_refuse_to_build() {
    let platforms = Platforms::from_lookup(lookup(&[
        ("QUFLUX_X_CLIENT_ID", "x-client"),
        ("QUFLUX_X_REDIRECT_URL", "https://app.example/cb"),
    ]))
    .unwrap();
    let x = platforms.summary();
    assert!(
        x.get(Platform::Twitter)
            .unwrap()
            .detail
            .contains(TOKEN_KEYS_VAR)
    );
    let e = build(&platforms).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains(TOKEN_KEYS_VAR), "{e}");
    assert!(e.to_string().contains("twitter"), "{e}");
    // An explicit cipher is as good as the variable.
    let set = build(&platforms.with_cipher(Arc::new(AesGcmCipher::random("t")))).unwrap();
    assert!(set.publishers.get(Platform::Twitter).is_some());
}

#[test]
fn the_first_token_key_encrypts_and_every_key_decrypts() {
    let old = token_cipher_from_lookup(lookup(&[(TOKEN_KEYS_VAR, &format!("old:{}", key(1)))]))
        .unwrap()
        .unwrap();
    let token = old.encrypt(&Secret::new("access".to_owned())).unwrap();
    let ring = format!(" new:{} , old:{} ", key(2), key(1));
    let both = token_cipher_from_lookup(lookup(&[(TOKEN_KEYS_VAR, &ring)]))
        .unwrap()
        .unwrap();
    assert_eq!(both.current_key_id(), "new");
    assert_eq!(both.decrypt(&token).unwrap().expose(), "access");
    let bare = token_cipher_from_lookup(lookup(&[(TOKEN_KEYS_VAR, &key(3))]))
        .unwrap()
        .unwrap();
    assert_eq!(bare.current_key_id(), "default");
    let e = token_cipher_from_lookup(lookup(&[(TOKEN_KEYS_VAR, &format!("a:{0},a:{0}", key(1)))]))
        .unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
    assert!(token_cipher_from_lookup(lookup(&[])).unwrap().is_none());
}

#[test]
fn the_summary_never_contains_secrets() {
    let token_key = key(9);
    let keys = format!("k9:{token_key}");
    let secrets = ["x-secret-1234", "li-secret-5678", "meta-secret-9012"];
    let platforms = Platforms::from_lookup(lookup(&[
        (TOKEN_KEYS_VAR, &keys),
        ("QUFLUX_X_CLIENT_ID", "x-client"),
        ("QUFLUX_X_CLIENT_SECRET", secrets[0]),
        ("QUFLUX_X_REDIRECT_URL", "https://app.example/x"),
        ("QUFLUX_LINKEDIN_CLIENT_ID", "li-client"),
        ("QUFLUX_LINKEDIN_CLIENT_SECRET", secrets[1]),
        ("QUFLUX_LINKEDIN_REDIRECT_URL", "https://app.example/li"),
        ("QUFLUX_META_APP_ID", "1234"),
        ("QUFLUX_META_APP_SECRET", secrets[2]),
        ("QUFLUX_META_REDIRECT_URL", "https://app.example/meta"),
        ("QUFLUX_PUBLIC_MEDIA_BASE_URL", "https://cdn.example/media"),
    ]))
    .unwrap();
    let set = build(&platforms).unwrap();
    assert_eq!(set.summary.real(), Platform::ALL);
    assert_eq!(set.summary, platforms.summary());
    let texts = [
        set.summary.to_string(),
        format!("{:?}", set.summary),
        format!("{platforms:?}"),
        format!("{set:?}"),
    ];
    for text in &texts {
        for secret in secrets.iter().copied().chain([token_key.as_str()]) {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    }
    assert!(
        texts[0].contains("https://cdn.example/media"),
        "{}",
        texts[0]
    );
}

#[test]
fn instagram_without_a_public_media_base_url_is_not_real() {
    let keys = format!("k1:{}", key(1));
    let meta = [
        (TOKEN_KEYS_VAR, keys.as_str()),
        ("QUFLUX_META_APP_ID", "1234"),
        ("QUFLUX_META_APP_SECRET", "meta-secret"),
        ("QUFLUX_META_REDIRECT_URL", "https://app.example/meta"),
    ];
    let platforms = Platforms::from_lookup(lookup(&meta)).unwrap();
    let summary = platforms.summary();
    assert_eq!(
        summary.get(Platform::Facebook).unwrap().state,
        PlatformState::Real
    );
    let instagram = summary.get(Platform::Instagram).unwrap();
    assert_eq!(instagram.state, PlatformState::Off, "{summary}");
    assert!(
        instagram.detail.contains("QUFLUX_PUBLIC_MEDIA_BASE_URL"),
        "{summary}"
    );
    let set = build(&platforms).unwrap();
    assert!(set.publishers.get(Platform::Facebook).is_some());
    assert!(set.publishers.get(Platform::Instagram).is_none());

    // With the outbox fallback Instagram goes there, naming the variable.
    let dir = tempfile::tempdir().unwrap();
    let set = build(&platforms.with_outbox_fallback(dir.path().join("o.jsonl"))).unwrap();
    let instagram = set.summary.get(Platform::Instagram).unwrap();
    assert_eq!(instagram.state, PlatformState::Outbox);
    assert!(instagram.detail.contains("QUFLUX_PUBLIC_MEDIA_BASE_URL"));
    let publisher = set.publishers.get(Platform::Instagram).unwrap();
    assert!(format!("{publisher:?}").contains("Outbox"), "{publisher:?}");
    let facebook = set.publishers.get(Platform::Facebook).unwrap();
    assert!(!format!("{facebook:?}").contains("Outbox"), "{facebook:?}");

    // A base URL (or a custom mapping) makes it real.
    let mut with_media = meta.to_vec();
    with_media.push(("QUFLUX_PUBLIC_MEDIA_BASE_URL", "https://cdn.example/m"));
    let platforms = Platforms::from_lookup(lookup(&with_media)).unwrap();
    assert!(platforms.summary().real().contains(&Platform::Instagram));
    let custom = crate::meta::MetaConfig::from_lookup(lookup(&meta))
        .unwrap()
        .with_media_urls(Arc::new(crate::meta::BaseUrlMedia::new(
            "https://cdn.example",
        )));
    let platforms = Platforms::new()
        .with_cipher(Arc::new(AesGcmCipher::random("t")))
        .with_meta(custom);
    assert!(platforms.summary().real().contains(&Platform::Instagram));
}

#[test]
fn platform_variables_are_read_by_each_configs_from_lookup() {
    let mut vars = vec![
        ("QUFLUX_LINKEDIN_CLIENT_ID", "li"),
        ("QUFLUX_LINKEDIN_CLIENT_SECRET", "li-secret"),
        ("QUFLUX_LINKEDIN_REDIRECT_URL", "https://app.example/li"),
        ("QUFLUX_LINKEDIN_API_BASE", "not a url"),
    ];
    // The registry's error is the config's own.
    let direct = crate::linkedin::LinkedInConfig::from_lookup(lookup(&vars)).unwrap_err();
    let e = config_error(&vars);
    assert!(e.contains("QUFLUX_LINKEDIN_API_BASE"), "{e}");
    assert_eq!(e, direct.to_string());

    // And what the registry builds is what the config reads.
    vars.pop();
    vars.push(("QUFLUX_LINKEDIN_API_BASE", "http://127.0.0.1:9"));
    vars.push(("QUFLUX_LINKEDIN_VERSION", "202501"));
    vars.push(("QUFLUX_BLUESKY_PDS_URL", "http://127.0.0.1:7"));
    vars.push(("QUFLUX_MASTODON_INSTANCE", "Example.Social/"));
    let platforms = Platforms::from_lookup(lookup(&vars)).unwrap();
    let summary = platforms
        .with_cipher(Arc::new(AesGcmCipher::random("t")))
        .summary();
    let linkedin = crate::linkedin::LinkedInConfig::from_lookup(lookup(&vars)).unwrap();
    assert_eq!(
        (linkedin.api_base.as_str(), linkedin.version.as_str()),
        ("http://127.0.0.1:9", "202501")
    );
    let detail = &summary.get(Platform::Linkedin).unwrap().detail;
    assert!(
        detail.contains(&linkedin.api_base) && detail.contains(&linkedin.version),
        "{detail}"
    );
    let bluesky = crate::bluesky::BlueskyConfig::from_lookup(lookup(&vars)).unwrap();
    let detail = &summary.get(Platform::Bluesky).unwrap().detail;
    assert!(detail.contains(&bluesky.pds_url), "{detail}");
    let mastodon = crate::mastodon::MastodonConfig::from_lookup(lookup(&vars)).unwrap();
    assert_eq!(mastodon.instance_url, "https://example.social");
    let detail = &summary.get(Platform::Mastodon).unwrap().detail;
    assert!(detail.contains(&mastodon.instance_url), "{detail}");
}
