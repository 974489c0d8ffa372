//! Conformance suite for [`Notifier`].

use super::Must;
use super::fixtures::notification_for;
use crate::{Notification, NotificationKind, Notifier, Platform, UserId};

/// Every [`Notifier`] must pass these: it delivers ordinary notifications and odd content
/// without error.
pub async fn run_all(notifier: &dyn Notifier) {
    delivers_every_kind(notifier).await;
    delivers_odd_content(notifier).await;
}

/// One notification of each kind, with and without optional fields, is delivered.
pub async fn delivers_every_kind(notifier: &dyn Notifier) {
    let user_id = UserId::new();
    for kind in [
        NotificationKind::Published,
        NotificationKind::Failed,
        NotificationKind::Unconfirmed,
        NotificationKind::ConnectionNeedsReauth,
    ] {
        let full = Notification {
            kind,
            ..notification_for(user_id)
        };
        notifier
            .notify(&full)
            .await
            .must(&format!("deliver a {} notification", kind.as_str()));
        let bare = Notification {
            kind,
            platform: None,
            post_id: None,
            publication_id: None,
            connection_id: None,
            platform_post_id: None,
            url: None,
            ..notification_for(user_id)
        };
        notifier.notify(&bare).await.must(&format!(
            "deliver a {} notification without optional fields",
            kind.as_str()
        ));
    }
}

/// Emoji, empty, very long, multi-line, markup-like and right-to-left content is delivered
/// without error.
pub async fn delivers_odd_content(notifier: &dyn Notifier) {
    let user_id = UserId::new();
    let long = "Lorem ipsum dolor sit amet. ".repeat(4_000);
    let cases: [(&str, String); 7] = [
        ("emoji", "🎉🚀 Posted! 👩🏽‍💻🏳️‍🌈 ✅".to_owned()),
        ("empty", String::new()),
        ("very long", long),
        ("multi-line", "line one\nline two\r\n\ttabbed".to_owned()),
        (
            "markup",
            "<script>alert('x')</script> & \"quotes\" {{template}} %s %d \\n".to_owned(),
        ),
        ("right-to-left", "مرحبا بالعالم — שלום".to_owned()),
        (
            "combining",
            "e\u{301} Z\u{335}\u{321}a\u{36b}l\u{33a}g\u{339}o\u{315}".to_owned(),
        ),
    ];
    for (what, text) in cases {
        let note = Notification {
            title: text.clone(),
            message: text,
            platform: Some(Platform::Mastodon),
            ..notification_for(user_id)
        };
        notifier
            .notify(&note)
            .await
            .must(&format!("deliver a notification with {what} content"));
    }
}
