//! Turns a [`Notification`] into an e-mail: a one-line subject, a plain-text body and an HTML
//! body. Every piece of notification text is escaped in the HTML, and only `http(s)` links
//! become anchors.

use quflux_core::{Notification, NotificationKind, Platform};

/// Longest subject, in characters (longer titles are cut with `…`).
pub const MAX_SUBJECT_CHARS: usize = 150;

/// The three parts of a notification e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// One line, no control characters, never empty.
    pub subject: String,
    /// The plain-text alternative, never empty.
    pub text: String,
    /// The HTML alternative (a complete document), never empty.
    pub html: String,
}

/// Renders `notification` as an e-mail.
pub fn render(notification: &Notification) -> RenderedEmail {
    let subject = subject(notification);
    let mut message = body_text(&notification.message);
    if message.trim().is_empty() {
        fallback_message(notification.kind).clone_into(&mut message);
    }
    let details = details(notification);

    let mut text = String::new();
    text.push_str(&message);
    text.push_str("\n\n");
    for (label, value) in &details {
        text.push_str(&format!("{label}: {}\n", value.text()));
    }
    if !details.is_empty() {
        text.push('\n');
    }
    text.push_str(FOOTER);
    text.push('\n');

    let mut html = String::with_capacity(message.len() * 2 + 1024);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str(&format!("<title>{}</title>\n", escape_html(&subject)));
    html.push_str("</head>\n<body style=\"margin:0;padding:24px;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2328;line-height:1.5\">\n");
    html.push_str(&format!(
        "<h1 style=\"font-size:20px;margin:0 0 16px\">{}</h1>\n",
        escape_html(&subject)
    ));
    for paragraph in message.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let lines: Vec<String> = paragraph.lines().map(escape_html).collect();
        html.push_str(&format!("<p>{}</p>\n", lines.join("<br>\n")));
    }
    if !details.is_empty() {
        html.push_str(
            "<table role=\"presentation\" style=\"border-collapse:collapse;margin:16px 0\">\n",
        );
        for (label, value) in &details {
            html.push_str(&format!(
                "<tr><td style=\"padding:2px 12px 2px 0;color:#59636e\">{}</td><td>{}</td></tr>\n",
                escape_html(label),
                value.html()
            ));
        }
        html.push_str("</table>\n");
    }
    html.push_str(&format!(
        "<p style=\"margin-top:24px;font-size:12px;color:#59636e\">{}</p>\n</body>\n</html>\n",
        escape_html(FOOTER)
    ));

    RenderedEmail {
        subject,
        text,
        html,
    }
}

const FOOTER: &str = "Sent by Quflux because notifications are enabled for your account.";

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A readable platform name.
pub fn platform_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Twitter => "X",
        Platform::Linkedin => "LinkedIn",
        Platform::Facebook => "Facebook",
        Platform::Instagram => "Instagram",
        Platform::Bluesky => "Bluesky",
        Platform::Mastodon => "Mastodon",
    }
}

fn subject(notification: &Notification) -> String {
    let one_line = notification
        .title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if one_line.is_empty() {
        return fallback_subject(notification.kind).to_owned();
    }
    if one_line.chars().count() <= MAX_SUBJECT_CHARS {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(MAX_SUBJECT_CHARS - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// The message with line breaks normalized to `\n` and other control characters dropped.
fn body_text(message: &str) -> String {
    message
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

fn fallback_subject(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Published => "Your post was published",
        NotificationKind::Failed => "Your post could not be published",
        NotificationKind::Unconfirmed => "Please check your post",
        NotificationKind::ConnectionNeedsReauth => "Please reconnect your account",
    }
}

fn fallback_message(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Published => "Your post was published.",
        NotificationKind::Failed => "Your post could not be published.",
        NotificationKind::Unconfirmed => {
            "We could not confirm whether your post was published. Please check your account."
        }
        NotificationKind::ConnectionNeedsReauth => {
            "A connected account needs to be authorized again before Quflux can post to it."
        }
    }
}

/// A detail row's value: plain text, or a link.
enum Value {
    Text(String),
    Link(String),
}

impl Value {
    fn text(&self) -> &str {
        match self {
            Self::Text(t) | Self::Link(t) => t,
        }
    }

    fn html(&self) -> String {
        match self {
            Self::Text(t) => escape_html(t),
            Self::Link(url) => {
                let url = escape_html(url);
                format!("<a href=\"{url}\" style=\"color:#0969da\">{url}</a>")
            }
        }
    }
}

fn details(n: &Notification) -> Vec<(&'static str, Value)> {
    let mut rows = Vec::new();
    if let Some(platform) = n.platform {
        rows.push(("Platform", Value::Text(platform_name(platform).to_owned())));
    }
    if let Some(url) = n.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        let clean: String = url.chars().filter(|c| !c.is_control()).collect();
        if is_http_url(&clean) {
            rows.push(("Link", Value::Link(clean)));
        } else {
            rows.push(("Link", Value::Text(clean)));
        }
    }
    if let Some(id) = &n.platform_post_id {
        rows.push(("Post id on the platform", Value::Text(id.to_string())));
    }
    if let Some(post) = n.post_id {
        rows.push(("Quflux post", Value::Text(post.to_string())));
    }
    rows.push((
        "Time",
        Value::Text(n.created_at.format("%Y-%m-%d %H:%M UTC").to_string()),
    ));
    rows
}

fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use quflux_core::testkit::fixtures::notification_for;
    use quflux_core::{NotificationKind, UserId};

    use super::*;

    #[test]
    fn markup_in_the_notification_is_escaped() {
        let n = Notification {
            title: "<b>Bold</b> & \"quoted\"".to_owned(),
            message: "<script>alert('x')</script>\nsecond line\n\nnext paragraph".to_owned(),
            url: Some("https://example.com/p?a=1&b=\"2\"".to_owned()),
            ..notification_for(UserId::new())
        };
        let email = render(&n);
        assert_eq!(email.subject, "<b>Bold</b> & \"quoted\"");
        assert!(!email.html.contains("<script>"));
        assert!(!email.html.contains("<b>Bold"));
        assert!(
            email
                .html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;<br>\nsecond line</p>")
        );
        assert!(email.html.contains("<p>next paragraph</p>"));
        assert!(email.html.contains(
            "<a href=\"https://example.com/p?a=1&amp;b=&quot;2&quot;\" style=\"color:#0969da\">"
        ));
        assert!(
            email
                .html
                .contains("<title>&lt;b&gt;Bold&lt;/b&gt; &amp; &quot;quoted&quot;</title>")
        );
        // The plain text keeps the text as written.
        assert!(
            email
                .text
                .starts_with("<script>alert('x')</script>\nsecond line")
        );
        assert!(
            email
                .text
                .contains("Link: https://example.com/p?a=1&b=\"2\"\n")
        );
        assert!(email.text.contains("Platform: Bluesky\n"));
    }

    #[test]
    fn only_http_links_become_anchors() {
        let n = Notification {
            url: Some("javascript:alert(1)".to_owned()),
            ..notification_for(UserId::new())
        };
        let email = render(&n);
        assert!(!email.html.contains("<a "));
        assert!(email.html.contains("<td>javascript:alert(1)</td>"));
    }

    #[test]
    fn subjects_are_one_bounded_line_with_a_fallback() {
        let n = Notification {
            title: "Line one\r\nBcc: victim@example.com\tand\u{0}more".to_owned(),
            ..notification_for(UserId::new())
        };
        assert_eq!(
            render(&n).subject,
            "Line one Bcc: victim@example.com and more"
        );
        let empty = Notification {
            title: " \n ".to_owned(),
            message: String::new(),
            kind: NotificationKind::ConnectionNeedsReauth,
            ..notification_for(UserId::new())
        };
        let email = render(&empty);
        assert_eq!(email.subject, "Please reconnect your account");
        assert!(email.text.starts_with("A connected account needs"));
        let long = Notification {
            title: "é".repeat(400),
            ..notification_for(UserId::new())
        };
        let subject = render(&long).subject;
        assert_eq!(subject.chars().count(), MAX_SUBJECT_CHARS);
        assert!(subject.ends_with('…'));
    }

    #[test]
    fn optional_fields_are_left_out() {
        let n = Notification {
            platform: None,
            post_id: None,
            platform_post_id: None,
            url: None,
            ..notification_for(UserId::new())
        };
        let email = render(&n);
        assert!(!email.text.contains("Platform:"));
        assert!(!email.text.contains("Link:"));
        assert!(email.text.contains("Time: "));
        assert!(email.text.ends_with(&format!("{FOOTER}\n")));
    }
}
