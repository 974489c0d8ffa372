//! Users, connections, posts, media, schedules, publications, migrations.

use super::*;

fn user() -> User {
    User::new(
        &format!("Someone-{}@Example.com", uuid::Uuid::new_v4().simple()),
        "Europe/Paris",
        Utc::now(),
    )
}

fn post(user_id: UserId, text: &str, created_at: DateTime<Utc>) -> Post {
    Post {
        id: PostId::new(),
        user_id,
        content: PostContent::text(text),
        status: PostStatus::Draft,
        version: 0,
        created_at,
        updated_at: created_at,
    }
}

fn schedule(user_id: UserId, at: DateTime<Utc>, platforms: Vec<Platform>) -> Schedule {
    Schedule {
        id: ScheduleId::new(),
        post_id: PostId::new(),
        user_id,
        scheduled_at: at,
        time_zone: "America/New_York".into(),
        local_time: NaiveDateTime::parse_from_str(
            "2026-03-08T02:30:00.123456789",
            "%Y-%m-%dT%H:%M:%S%.f",
        )
        .unwrap(),
        platforms,
        status: ScheduleStatus::Active,
        version: 0,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[tokio::test]
async fn users_roundtrip_and_emails_are_unique_case_insensitively() {
    let store = SqliteStore::in_memory().await.unwrap();
    let mut user = user();
    store.insert_user(&user).await.unwrap();
    assert_eq!(store.get_user(user.id).await.unwrap(), user);
    let found = store
        .find_user_by_email(&user.email.to_uppercase())
        .await
        .unwrap();
    assert_eq!(found.as_ref().map(|u| u.id), Some(user.id));

    let mut twin = User::new(&user.email.to_uppercase(), "UTC", Utc::now());
    twin.email = user.email.to_uppercase();
    assert_eq!(
        store.insert_user(&twin).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert_eq!(
        store.insert_user(&user).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );

    user.display_name = Some("Ada".into());
    user.is_active = false;
    store.update_user(&user).await.unwrap();
    assert_eq!(store.get_user(user.id).await.unwrap(), user);
    assert_eq!(
        store.get_user(UserId::new()).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        store
            .update_user(&User::new("x@y.z", "UTC", Utc::now()))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        store
            .find_user_by_email("nobody@example.com")
            .await
            .unwrap(),
        None
    );
}

fn connection(user_id: UserId, platform: Platform, account: &str) -> PlatformConnection {
    PlatformConnection {
        id: ConnectionId::new(),
        user_id,
        platform,
        platform_user_id: account.into(),
        platform_username: format!("@{account}"),
        access_token: EncryptedToken {
            key_id: "k1".into(),
            ciphertext: "AAAA".into(),
        },
        refresh_token: Some(EncryptedToken {
            key_id: "k1".into(),
            ciphertext: "BBBB".into(),
        }),
        expires_at: Some(Utc::now()),
        scopes: vec!["read".into(), "write".into()],
        status: ConnectionStatus::Active,
        metadata: json!({"instance": "https://mastodon.social"}),
        version: 0,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[tokio::test]
async fn connections_are_compare_and_swap() {
    let (_dir, store) = file_store().await;
    let owner = UserId::new();
    let mut c = connection(owner, Platform::Mastodon, "acct-1");
    store.insert_connection(&c).await.unwrap();
    assert_eq!(store.get_connection(c.id).await.unwrap(), c);
    let dup = connection(owner, Platform::Mastodon, "acct-1");
    assert_eq!(
        store.insert_connection(&dup).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );

    c.refresh_token = None;
    c.status = ConnectionStatus::NeedsReauth;
    assert_eq!(store.update_connection(&c).await.unwrap(), 1);
    // The same (now stale) version again: somebody else already spent the refresh token.
    assert_eq!(
        store.update_connection(&c).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    c.version = 1;
    assert_eq!(store.get_connection(c.id).await.unwrap(), c);
    let missing = connection(owner, Platform::Twitter, "nobody");
    assert_eq!(
        store.update_connection(&missing).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    let mut second = connection(owner, Platform::Mastodon, "acct-2");
    second.created_at = c.created_at + TimeDelta::seconds(1);
    store.insert_connection(&second).await.unwrap();
    let listed: Vec<_> = store
        .list_connections(owner)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, vec![c.id, second.id]);
    // The first one needs re-auth, so the second is the active one.
    let active = store
        .find_active_connection(owner, Platform::Mastodon)
        .await
        .unwrap();
    assert_eq!(active.map(|c| c.id), Some(second.id));
    assert_eq!(
        store
            .find_active_connection(owner, Platform::Bluesky)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn posts_roundtrip_exactly_and_list_with_filters() {
    let store = SqliteStore::in_memory().await.unwrap();
    let owner = UserId::new();
    // Utc::now() has nanoseconds: they roundtrip.
    let now = Utc::now();
    let mut first = post(owner, "Hello WORLD", now - TimeDelta::minutes(2));
    first
        .content
        .variants
        .insert(Platform::Bluesky, "hi bsky".into());
    first.content.thread = vec!["two".into()];
    let second = post(owner, "goodbye", now - TimeDelta::minutes(1));
    let third = post(owner, "hello again", now);
    for p in [&first, &second, &third] {
        store.insert_post(p).await.unwrap();
    }
    store
        .insert_post(&post(UserId::new(), "hello stranger", now))
        .await
        .unwrap();
    assert_eq!(store.get_post(first.id).await.unwrap(), first);

    let ids = |posts: Vec<Post>| posts.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let all = store
        .list_posts(owner, &PostFilter::default())
        .await
        .unwrap();
    assert_eq!(ids(all), vec![third.id, second.id, first.id]);
    let hello = PostFilter {
        text_contains: Some("HELLO".into()),
        ..PostFilter::default()
    };
    assert_eq!(
        ids(store.list_posts(owner, &hello).await.unwrap()),
        vec![third.id, first.id]
    );
    let window = PostFilter {
        created_from: Some(second.created_at),
        created_to: Some(third.created_at),
        ..PostFilter::default()
    };
    assert_eq!(
        ids(store.list_posts(owner, &window).await.unwrap()),
        vec![second.id]
    );
    let page = PostFilter {
        limit: Some(1),
        offset: Some(1),
        ..PostFilter::default()
    };
    assert_eq!(
        ids(store.list_posts(owner, &page).await.unwrap()),
        vec![second.id]
    );

    let mut edited = first.clone();
    edited.content.text = "edited".into();
    edited.status = PostStatus::Scheduled;
    assert_eq!(store.update_post(&edited).await.unwrap(), 1);
    assert_eq!(
        store.update_post(&edited).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    let drafts = PostFilter {
        status: Some(PostStatus::Draft),
        ..PostFilter::default()
    };
    assert_eq!(
        ids(store.list_posts(owner, &drafts).await.unwrap()),
        vec![third.id, second.id]
    );

    store.delete_post(first.id).await.unwrap();
    assert_eq!(
        store.get_post(first.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        store.delete_post(first.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        store.update_post(&edited).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn media_roundtrips_newest_first() {
    let store = SqliteStore::in_memory().await.unwrap();
    let owner = UserId::new();
    let media = |at: DateTime<Utc>| MediaFile {
        id: MediaId::new(),
        user_id: owner,
        filename: "cat.png".into(),
        content_type: "image/png".into(),
        size_bytes: 5_000_000_000,
        storage_key: "u/cat.png".into(),
        width: Some(4000),
        height: None,
        duration_secs: Some(1.5),
        ai_generated: true,
        created_at: at,
    };
    let old = media(Utc::now() - TimeDelta::hours(1));
    let new = media(Utc::now());
    store.insert_media(&old).await.unwrap();
    store.insert_media(&new).await.unwrap();
    assert_eq!(store.get_media(old.id).await.unwrap(), old);
    assert_eq!(
        store.list_media(owner).await.unwrap(),
        vec![new.clone(), old.clone()]
    );
    store.delete_media(old.id).await.unwrap();
    assert_eq!(
        store.delete_media(old.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        store.get_media(old.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn schedules_are_created_atomically_with_their_publications() {
    let (_dir, store) = file_store().await;
    let owner = UserId::new();
    let at = t0();
    let s = schedule(owner, at, vec![Platform::Twitter, Platform::Bluesky]);
    let twitter = Publication::pending(&s, Platform::Twitter, Utc::now());
    let bluesky = Publication::pending(&s, Platform::Bluesky, Utc::now());
    // A duplicate platform makes the whole write fail: not even the schedule is stored.
    let dup = Publication::pending(&s, Platform::Twitter, Utc::now());
    let err = store
        .create_schedule(&s, &[twitter.clone(), bluesky.clone(), dup])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(
        store.get_schedule(s.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        store.get_publication(twitter.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // A publication of another schedule is refused.
    let other = Publication::pending(&schedule(owner, at, vec![]), Platform::Twitter, Utc::now());
    let err = store.create_schedule(&s, &[other]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    store
        .create_schedule(&s, &[twitter.clone(), bluesky.clone()])
        .await
        .unwrap();
    assert_eq!(store.get_schedule(s.id).await.unwrap(), s);
    let listed = store.list_publications_for_schedule(s.id).await.unwrap();
    assert_eq!(listed, vec![bluesky.clone(), twitter.clone()]);
    assert_eq!(
        store.insert_publication(&twitter).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );

    // Ranges are half-open and ordered.
    let later = schedule(owner, at + TimeDelta::hours(1), vec![Platform::Linkedin]);
    store.create_schedule(&later, &[]).await.unwrap();
    let ids = |v: Vec<Schedule>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .list_schedules(owner, at, at + TimeDelta::hours(1))
            .await
            .unwrap()),
        vec![s.id]
    );
    assert_eq!(
        ids(store
            .list_schedules(owner, at, at + TimeDelta::hours(2))
            .await
            .unwrap()),
        vec![s.id, later.id]
    );
    assert!(
        store
            .list_schedules(UserId::new(), at, at + TimeDelta::hours(2))
            .await
            .unwrap()
            .is_empty()
    );

    let mut cancelled = later.clone();
    cancelled.status = ScheduleStatus::Cancelled;
    assert_eq!(store.update_schedule(&cancelled).await.unwrap(), 1);
    assert_eq!(
        store.update_schedule(&cancelled).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    let due = store
        .list_due_schedules(at + TimeDelta::days(1), 100)
        .await
        .unwrap();
    assert!(due.iter().any(|d| d.id == s.id));
    assert!(!due.iter().any(|d| d.id == later.id));
    assert!(
        !store
            .list_due_schedules(at, 100)
            .await
            .unwrap()
            .iter()
            .any(|d| d.id == s.id)
    );
}

#[tokio::test]
async fn publications_store_their_ledger_with_compare_and_swap() {
    let store = SqliteStore::in_memory().await.unwrap();
    let owner = UserId::new();
    let s = schedule(owner, t0(), vec![Platform::Mastodon]);
    let mut p = Publication::pending(&s, Platform::Mastodon, Utc::now());
    store.insert_publication(&p).await.unwrap();
    p.status = PublicationStatus::Published;
    p.platform_post_id = Some(PlatformPostId::new("109"));
    p.thread_ids = vec![PlatformPostId::new("110")];
    p.url = Some("https://mastodon.social/@a/109".into());
    p.published_at = Some(Utc::now());
    p.last_error_kind = Some(ErrorKind::RateLimited);
    p.last_error = Some("slow down".into());
    p.manual_retries = 2;
    p.attempts = vec![Attempt {
        number: 1,
        started_at: Utc::now(),
        finished_at: Some(Utc::now()),
        outcome: AttemptOutcome::Succeeded,
        platform_post_id: Some(PlatformPostId::new("109")),
        error_kind: None,
        error_message: None,
    }];
    assert_eq!(store.update_publication(&p).await.unwrap(), 1);
    assert_eq!(
        store.update_publication(&p).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    p.version = 1;
    assert_eq!(store.get_publication(p.id).await.unwrap(), p);

    let published = PublicationFilter {
        status: Some(PublicationStatus::Published),
        ..Default::default()
    };
    assert_eq!(
        store.list_publications(owner, &published).await.unwrap(),
        vec![p.clone()]
    );
    let on_x = PublicationFilter {
        platform: Some(Platform::Twitter),
        ..Default::default()
    };
    assert!(
        store
            .list_publications(owner, &on_x)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn connect_does_not_migrate_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("fresh.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    assert!(
        dir.path().join("fresh.db").exists(),
        "connect creates the file"
    );
    assert!(
        store.get_user(UserId::new()).await.is_err(),
        "no tables before migrate()"
    );
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(
        store.get_user(UserId::new()).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn reopening_a_file_database_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keep.db").display());
    let user = user();
    {
        let store = SqliteStore::open(&url).await.unwrap();
        store.insert_user(&user).await.unwrap();
        store
            .enqueue(NewJob::new("q", "k", json!({"n": 1}), Utc::now()))
            .await
            .unwrap();
        store.close().await;
    }
    let store = SqliteStoreBuilder::new()
        .with_url(&url)
        .with_auto_migrate(true)
        .build()
        .await
        .unwrap();
    assert_eq!(store.get_user(user.id).await.unwrap(), user);
    assert_eq!(store.stats("q").await.unwrap().queued, 1);
}
