//! Prompts for language-model providers (Strands, OpenAI-compatible) and tolerant parsing of
//! their replies into [`GeneratedText::items`](quflux_core::GeneratedText::items).
//!
//! Every prompt states the task twice: in prose for the model, and as a JSON object (`data`)
//! with an `operation` and its arguments, which the Strands client sends as an A2A `data` part
//! and the OpenAI-compatible client appends as `Details (JSON): {…}`. Replies are parsed
//! tolerantly: lists from the first JSON array (or a `{"hashtags": […]}` object), then from
//! `#tags` or lines; single texts with code fences, quotes and `{"caption": …}` wrappers
//! removed.

use quflux_core::rules::rules_for;
use quflux_core::{Platform, TextTask};
use serde_json::{Value, json};

use crate::recommended_hashtags;

/// How many ideas a prompt asks for.
pub(crate) const IDEAS: usize = 5;

/// The longest idea a prompt asks for, in characters (fits every platform).
pub(crate) const IDEA_CHARS: usize = 200;

/// A task as prose plus structured arguments.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prompt {
    /// What the model is asked, in prose.
    pub(crate) text: String,
    /// `{"operation": …, …}`: the task's arguments.
    pub(crate) data: Value,
}

/// The prompt for `task`.
pub(crate) fn prompt(task: &TextTask) -> Prompt {
    match task {
        TextTask::Caption {
            content_type,
            topic,
            platform,
            tone,
        } => {
            let max = max_chars(*platform);
            Prompt {
                text: format!(
                    "Write a {tone} caption for a {content_type} post on {} about: {topic}\n\
                     Use at most {max} characters, hashtags included. \
                     Reply with the caption text only.",
                    platform_name(*platform)
                ),
                data: json!({
                    "operation": "generate_caption",
                    "content_type": content_type,
                    "topic": topic,
                    "platform": platform.as_str(),
                    "tone": tone,
                    "max_chars": max,
                }),
            }
        }
        TextTask::Hashtags { content, platform } => {
            let max = recommended_hashtags(*platform).min(10);
            Prompt {
                text: format!(
                    "Suggest up to {max} relevant hashtags for this {} post. \
                     Reply with a JSON array of strings such as [\"#Coffee\", \"#Lisbon\"] \
                     and nothing else.\n\nPost:\n{content}",
                    platform_name(*platform)
                ),
                data: json!({
                    "operation": "suggest_hashtags",
                    "content": content,
                    "platform": platform.as_str(),
                    "max_hashtags": max,
                }),
            }
        }
        TextTask::Ideas { topic, audience } => {
            let audience_part = if audience.trim().is_empty() {
                String::new()
            } else {
                format!(" for {audience}")
            };
            Prompt {
                text: format!(
                    "Suggest {IDEAS} social media post ideas about: {topic}{audience_part}\n\
                     One sentence each, at most {IDEA_CHARS} characters. \
                     Reply with a JSON array of strings and nothing else."
                ),
                data: json!({
                    "operation": "generate_ideas",
                    "topic": topic,
                    "audience": audience,
                    "count": IDEAS,
                    "max_chars": IDEA_CHARS,
                }),
            }
        }
        TextTask::Rewrite { text, platform } => {
            let max = max_chars(*platform);
            Prompt {
                text: format!(
                    "Rewrite the following text for {} in at most {max} characters. Keep its \
                     meaning and language, drop Markdown. Reply with the rewritten text only.\n\n\
                     Text:\n{text}",
                    platform_name(*platform)
                ),
                data: json!({
                    "operation": "rewrite",
                    "text": text,
                    "platform": platform.as_str(),
                    "max_chars": max,
                }),
            }
        }
    }
}

/// The platform's text limit in its own unit.
fn max_chars(platform: Platform) -> usize {
    rules_for(platform).max_text_len
}

fn platform_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Twitter => "X (Twitter)",
        Platform::Linkedin => "LinkedIn",
        Platform::Facebook => "Facebook",
        Platform::Instagram => "Instagram",
        Platform::Bluesky => "Bluesky",
        Platform::Mastodon => "Mastodon",
    }
}

/// The items of a model's `reply` to `task`: one text for captions and rewrites, several for
/// hashtags and ideas. Blank items are dropped; an empty list means the reply had nothing.
pub(crate) fn parse_items(task: &TextTask, reply: &str) -> Vec<String> {
    let reply = strip_fences(reply.trim());
    let items = match task {
        TextTask::Caption { .. } | TextTask::Rewrite { .. } => vec![single_text(reply)],
        TextTask::Hashtags { .. } => hashtags(reply),
        TextTask::Ideas { .. } => ideas(reply),
    };
    items
        .into_iter()
        .map(|i| i.trim().to_owned())
        .filter(|i| !i.is_empty())
        .collect()
}

/// `text` without a surrounding Markdown code fence.
fn strip_fences(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    // Drop the info string (`json`) on the opening line.
    let body = rest.split_once('\n').map_or("", |(_, body)| body);
    body.trim_end().strip_suffix("```").unwrap_or(body).trim()
}

/// The first JSON value starting at a `[` or `{` in `text`.
fn first_json(text: &str) -> Option<Value> {
    text.char_indices()
        .filter(|&(_, c)| c == '[' || c == '{')
        .find_map(|(i, _)| {
            serde_json::Deserializer::from_str(&text[i..])
                .into_iter::<Value>()
                .next()
                .and_then(Result::ok)
                .filter(|v| v.is_array() || v.is_object())
        })
}

/// The strings of a JSON list: plain strings, or objects' first string field.
fn strings(list: &[Value]) -> Vec<String> {
    list.iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Object(map) => ["idea", "text", "title", "tag", "hashtag"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_str))
                .or_else(|| map.values().find_map(Value::as_str))
                .map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// A JSON reply's list: the array itself, or the first array field of an object.
fn json_list(text: &str, keys: &[&str]) -> Option<Vec<String>> {
    match first_json(text)? {
        Value::Array(list) => Some(strings(&list)),
        Value::Object(map) => keys
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_array))
            .or_else(|| map.values().find_map(Value::as_array))
            .map(|list| strings(list)),
        _ => None,
    }
    .filter(|items| !items.is_empty())
}

fn single_text(reply: &str) -> String {
    if reply.starts_with('{')
        && let Some(Value::Object(map)) = first_json(reply)
        && let Some(text) = ["caption", "text", "rewrite", "content", "post"]
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_str))
    {
        return text.to_owned();
    }
    if let Ok(Value::String(text)) = serde_json::from_str::<Value>(reply) {
        return text;
    }
    let unquoted = reply
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(reply);
    unquoted.to_owned()
}

fn hashtags(reply: &str) -> Vec<String> {
    let raw = json_list(reply, &["hashtags", "tags"]).unwrap_or_else(|| {
        let tagged: Vec<String> = reply
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| w.starts_with('#') && w.len() > 1)
            .map(str::to_owned)
            .collect();
        if tagged.is_empty() {
            lines(reply)
        } else {
            tagged
        }
    });
    raw.iter()
        .map(|tag| {
            let body: String = tag
                .trim()
                .trim_start_matches('#')
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if body.is_empty() {
                String::new()
            } else {
                format!("#{body}")
            }
        })
        .collect()
}

fn ideas(reply: &str) -> Vec<String> {
    json_list(reply, &["ideas", "items"]).unwrap_or_else(|| lines(reply))
}

/// Non-blank lines without list markers (`-`, `*`, `•`, `1.`, `2)`).
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let line = line.trim().trim_start_matches(['-', '*', '•']).trim_start();
            let digits = line.chars().take_while(char::is_ascii_digit).count();
            let rest = &line[digits..];
            if digits > 0 && (rest.starts_with('.') || rest.starts_with(')')) {
                rest[1..].trim().to_owned()
            } else {
                line.to_owned()
            }
        })
        .filter(|l| !l.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caption() -> TextTask {
        TextTask::Caption {
            content_type: "image".into(),
            topic: "sourdough".into(),
            platform: Platform::Twitter,
            tone: "casual".into(),
        }
    }

    fn tags() -> TextTask {
        TextTask::Hashtags {
            content: "x".into(),
            platform: Platform::Linkedin,
        }
    }

    fn ideas_task() -> TextTask {
        TextTask::Ideas {
            topic: "x".into(),
            audience: String::new(),
        }
    }

    #[test]
    fn prompts_carry_the_task_as_data() {
        let p = prompt(&caption());
        assert_eq!(p.data["operation"], "generate_caption");
        assert_eq!(p.data["max_chars"], 280);
        assert!(
            p.text
                .contains("casual caption for a image post on X (Twitter)")
        );
        let p = prompt(&tags());
        assert_eq!(p.data["max_hashtags"], 5);
        let p = prompt(&ideas_task());
        assert!(p.text.contains("about: x\n"), "{}", p.text);
    }

    #[test]
    fn captions_are_unwrapped() {
        for reply in [
            "Fresh bread!",
            "\"Fresh bread!\"",
            "```\nFresh bread!\n```",
            "{\"caption\": \"Fresh bread!\", \"hashtags\": [\"#bread\"]}",
        ] {
            assert_eq!(parse_items(&caption(), reply), ["Fresh bread!"], "{reply}");
        }
        assert!(parse_items(&caption(), "  ").is_empty());
    }

    #[test]
    fn hashtags_parse_from_json_tags_or_lines() {
        let expected = ["#Coffee", "#Lisbon"];
        for reply in [
            "[\"#Coffee\", \"Lisbon\"]",
            "Sure! ```json\n[\"#Coffee\", \"#Lisbon\"]\n```",
            "{\"hashtags\": [\"#Coffee\", \"#Lisbon\"]}",
            "Here you go: #Coffee #Lisbon",
            "- Coffee\n- Lisbon",
        ] {
            assert_eq!(parse_items(&tags(), reply), expected, "{reply}");
        }
    }

    #[test]
    fn ideas_parse_from_json_or_numbered_lines() {
        let expected = ["First idea", "Second idea"];
        for reply in [
            "[\"First idea\", \"Second idea\"]",
            "1. First idea\n2) Second idea\n",
            "* First idea\n\n* Second idea",
            "{\"ideas\": [{\"idea\": \"First idea\"}, {\"idea\": \"Second idea\"}]}",
        ] {
            assert_eq!(parse_items(&ideas_task(), reply), expected, "{reply}");
        }
    }
}
