//! Migrations, schemas, encodings and the cache.

use super::*;
use quflux_core::{Post, PostContent, PostId, PostStatus, PostStore, User, UserId, UserStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_twice_or_concurrently_is_fine() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let a = db.builder().build().await.unwrap();
    let b = db.builder().build().await.unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.unwrap();
    rb.unwrap();
    a.migrate().await.unwrap();
    let opened = PostgresStore::open(&db.url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(opened.pool())
        .await
        .unwrap();
    let embedded = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    assert_eq!(
        applied,
        i64::try_from(embedded).unwrap(),
        "every embedded migration is applied once"
    );
    opened.close().await;
}

#[tokio::test]
async fn connect_does_not_migrate_and_a_schema_keeps_every_table() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let plain = PostgresStore::connect(&db.url).await.unwrap();
    let jobs: Option<String> = sqlx::query_scalar("SELECT to_regclass('jobs')::text")
        .fetch_one(plain.pool())
        .await
        .unwrap();
    assert_eq!(jobs, None, "connect alone creates nothing");

    let scoped = db
        .builder()
        .with_schema("quflux_app")
        .with_auto_migrate(true)
        .build()
        .await
        .unwrap();
    let user = User::new("schema@example.com", "UTC", t0());
    scoped.insert_user(&user).await.unwrap();
    let tables: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT to_regclass(t)::text FROM unnest(ARRAY['quflux_app.jobs', 'quflux_app.users', \
         'quflux_app._sqlx_migrations', 'public.jobs']) AS t",
    )
    .fetch_all(plain.pool())
    .await
    .unwrap();
    assert_eq!(
        tables,
        vec![
            Some("quflux_app.jobs".to_owned()),
            Some("quflux_app.users".to_owned()),
            Some("quflux_app._sqlx_migrations".to_owned()),
            None
        ]
    );
    assert_eq!(scoped.get_user(user.id).await.unwrap(), user);
    scoped.migrate().await.unwrap();
}

#[tokio::test]
async fn instants_keep_microseconds_and_bad_text_is_invalid_input() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db.store().await;
    let at: DateTime<Utc> = "2026-03-08T07:30:00.123456789Z".parse().unwrap();
    let mut user = User::new("micro@example.com", "UTC", at);
    user.id = UserId::new();
    store.insert_user(&user).await.unwrap();
    let stored = store.get_user(user.id).await.unwrap();
    assert_eq!(
        stored.created_at,
        "2026-03-08T07:30:00.123456Z"
            .parse::<DateTime<Utc>>()
            .unwrap(),
        "nanoseconds are truncated to microseconds"
    );

    let post = Post {
        id: PostId::new(),
        user_id: user.id,
        content: PostContent::text("nul \u{0} inside"),
        status: PostStatus::Draft,
        version: 0,
        created_at: t0(),
        updated_at: t0(),
    };
    let err = store.insert_post(&post).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");

    let err = store.insert_user(&user).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "a duplicate e-mail");
}

#[tokio::test]
async fn an_unreachable_server_is_transient() {
    let Some(_db) = TestDb::create().await else {
        return;
    };
    // Port 1 on loopback: nothing listens there.
    let err = PostgresStoreBuilder::new()
        .with_url("postgres://quflux@127.0.0.1:1/quflux")
        .with_acquire_timeout(Duration::from_secs(2))
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn the_cache_honours_ttl_on_read_and_purges_expired_rows() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = Arc::new(ManualClock::new(t0()));
    let store = db.store().await.with_clock(clock.clone());
    store
        .set("a", &json!({ "v": 1 }), Some(Duration::from_secs(10)))
        .await
        .unwrap();
    store.set("b", &json!("forever"), None).await.unwrap();
    store
        .set("huge", &json!(3), Some(Duration::MAX))
        .await
        .unwrap();
    store
        .set("c", &json!([1, 2]), Some(Duration::from_secs(5)))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(9));
    assert_eq!(
        Cache::get(&store, "a").await.unwrap(),
        Some(json!({ "v": 1 }))
    );
    assert_eq!(Cache::get(&store, "c").await.unwrap(), None);
    clock.advance(Duration::from_secs(1));
    assert_eq!(Cache::get(&store, "a").await.unwrap(), None);

    let rows = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM cache_store")
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    assert_eq!(rows().await, 4, "expired rows stay until purged");
    assert_eq!(store.purge_expired().await.unwrap(), 2);
    assert_eq!(store.purge_expired().await.unwrap(), 0);
    assert_eq!(rows().await, 2);
    assert_eq!(
        Cache::get(&store, "b").await.unwrap(),
        Some(json!("forever"))
    );
    assert_eq!(Cache::get(&store, "huge").await.unwrap(), Some(json!(3)));
    Cache::delete(&store, "b").await.unwrap();
    Cache::delete(&store, "b").await.unwrap();
    assert_eq!(Cache::get(&store, "b").await.unwrap(), None);
}
