//! Post routes of the X stand-in: `POST /2/tweets` with its faults and rate-limit headers, the
//! user timeline and deletion.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::{Value, json};
use wiremock::{Request, ResponseTemplate};

use super::{Post, State, USER, XFault, invalid_request, problem};

pub(super) fn duplicate() -> ResponseTemplate {
    problem(
        403,
        "Forbidden",
        "You are not allowed to create a Tweet with duplicate content.",
        "about:blank",
    )
}

impl State {
    /// Counts one request to `bucket` (15-min window) and returns its headers.
    pub(super) fn spend(&mut self, bucket: &'static str, limit: u32) -> (u32, i64) {
        let now = Utc::now();
        let entry = self.windows.entry(bucket).or_insert((now, 0));
        if entry.0 + chrono::Duration::minutes(15) <= now {
            *entry = (now, 0);
        }
        entry.1 += 1;
        (
            limit.saturating_sub(entry.1),
            (entry.0 + chrono::Duration::minutes(15)).timestamp(),
        )
    }

    pub(super) fn rate_headers(
        r: ResponseTemplate,
        limit: u32,
        remaining: u32,
        reset: i64,
    ) -> ResponseTemplate {
        r.insert_header("x-rate-limit-limit", limit.to_string().as_str())
            .insert_header("x-rate-limit-remaining", remaining.to_string().as_str())
            .insert_header("x-rate-limit-reset", reset.to_string().as_str())
    }

    pub(super) fn daily_headers(
        &mut self,
        r: ResponseTemplate,
        used_now: bool,
    ) -> ResponseTemplate {
        let now = Utc::now();
        if self.daily.0 + chrono::Duration::hours(24) <= now {
            self.daily = (now, 0);
        }
        if used_now {
            self.daily.1 += 1;
        }
        let reset = (self.daily.0 + chrono::Duration::hours(24))
            .timestamp()
            .to_string();
        let remaining = self.daily_cap.saturating_sub(self.daily.1).to_string();
        r.insert_header(
            "x-user-limit-24hour-limit",
            self.daily_cap.to_string().as_str(),
        )
        .insert_header("x-user-limit-24hour-remaining", remaining.as_str())
        .insert_header("x-user-limit-24hour-reset", reset.as_str())
        .insert_header("x-app-limit-24hour-limit", "10000")
        .insert_header("x-app-limit-24hour-remaining", "9999")
        .insert_header("x-app-limit-24hour-reset", reset.as_str())
    }

    pub(super) fn create(&mut self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        self.create_bodies.push(body.clone());
        let (remaining, reset) = self.spend("create", 100);
        let now = Utc::now().timestamp();
        if self.faults.remove(&XFault::RateLimited)
            || self.windows.get("create").is_some_and(|w| w.1 > 100)
        {
            let r = problem(429, "Too Many Requests", "Too Many Requests", "about:blank");
            let r = Self::rate_headers(r, 100, 0, reset.min(now + 60));
            return self.daily_headers(r, false);
        }
        if self.faults.remove(&XFault::DailyCapReached) || self.daily.1 >= self.daily_cap {
            let r = problem(429, "Too Many Requests", "Too Many Requests", "about:blank");
            let r = Self::rate_headers(r, 100, remaining, reset);
            let r = self.daily_headers(r, false);
            let reset = (self.daily.0 + chrono::Duration::hours(24))
                .timestamp()
                .to_string();
            return r
                .insert_header("x-user-limit-24hour-remaining", "0")
                .insert_header("x-user-limit-24hour-reset", reset.as_str());
        }
        let finish = |state: &mut Self, r: ResponseTemplate, used: bool| {
            let r = Self::rate_headers(r, 100, remaining, reset);
            state.daily_headers(r, used)
        };
        if self.faults.remove(&XFault::ServerError) {
            return finish(
                self,
                problem(
                    503,
                    "Service Unavailable",
                    "Service Unavailable",
                    "about:blank",
                ),
                false,
            );
        }
        let hide_created = self.faults.remove(&XFault::ServerErrorAfterCreate);
        if self.faults.remove(&XFault::InvalidContent) {
            return finish(
                self,
                invalid_request("$.text: does not match the expected format"),
                false,
            );
        }
        if self.faults.remove(&XFault::Duplicate) {
            return finish(self, duplicate(), false);
        }
        let Some(obj) = body.as_object() else {
            return finish(
                self,
                invalid_request("the body is not a JSON object"),
                false,
            );
        };
        const KNOWN: &[&str] = &[
            "card_uri",
            "community_id",
            "direct_message_deep_link",
            "edit_options",
            "for_super_followers_only",
            "geo",
            "made_with_ai",
            "media",
            "nullcast",
            "paid_partnership",
            "poll",
            "quote_tweet_id",
            "reply",
            "reply_settings",
            "share_with_followers",
            "text",
        ];
        if let Some(unknown) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return finish(
                self,
                invalid_request(&format!(
                    "$.{unknown}: is not defined in the schema and the schema does not allow additional properties"
                )),
                false,
            );
        }
        let text = obj
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let media: Vec<String> = obj
            .get("media")
            .and_then(|m| m.get("media_ids"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let poll: Vec<String> = obj
            .get("poll")
            .and_then(|m| m.get("options"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if text.is_empty() && media.is_empty() {
            return finish(
                self,
                invalid_request("$.text: is missing but it is required"),
                false,
            );
        }
        if !text.is_empty() && !quflux_core::rules::twitter::weighted_length(&text).valid {
            return finish(
                self,
                problem(
                    400,
                    "Bad Request",
                    "Your Tweet text is too long. For more information on how Twitter determines text length see https://github.com/twitter/twitter-text.",
                    "about:blank",
                ),
                false,
            );
        }
        if media.len() > 4 || obj.contains_key("poll") && !media.is_empty() {
            return finish(
                self,
                invalid_request(
                    "$.media.media_ids: there must be a maximum of 4 items in the array",
                ),
                false,
            );
        }
        for id in &media {
            if self.media.get(id).and_then(|m| m.state) != Some("succeeded") {
                return finish(
                    self,
                    invalid_request(&format!(
                        "$.media.media_ids: Your media IDs are invalid ({id})."
                    )),
                    false,
                );
            }
        }
        let reply_to = obj
            .get("reply")
            .and_then(|r| r.get("in_reply_to_tweet_id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if obj.contains_key("reply") && reply_to.is_none() {
            return finish(
                self,
                invalid_request("$.reply.in_reply_to_tweet_id: is missing but it is required"),
                false,
            );
        }
        if let Some(parent) = &reply_to
            && !self.posts.iter().any(|p| &p.id == parent)
        {
            return finish(
                self,
                invalid_request("$.reply.in_reply_to_tweet_id: the post replied to does not exist"),
                false,
            );
        }
        if !text.is_empty()
            && self
                .posts
                .iter()
                .any(|p| p.author == USER.0 && p.text == text)
        {
            return finish(self, duplicate(), false);
        }
        let id = self.next_id();
        self.posts.push(Post {
            id: id.clone(),
            author: USER.0.to_owned(),
            text: text.clone(),
            reply_to,
            media,
            poll,
            created_at: self.now(),
        });
        if hide_created {
            return finish(
                self,
                problem(
                    503,
                    "Service Unavailable",
                    "Service Unavailable",
                    "about:blank",
                ),
                true,
            );
        }
        let mut r = ResponseTemplate::new(201).set_body_json(json!({
            "data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}
        }));
        if self.faults.remove(&XFault::TimeoutAfterCreate) {
            r = r.set_delay(self.timeout_delay);
        }
        finish(self, r, true)
    }

    pub(super) fn timeline(&mut self, request: &Request, user: &str) -> ResponseTemplate {
        let (remaining, reset) = self.spend("timeline", 900);
        let q: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let max = match q.get("max_results").map(|m| m.parse::<usize>()) {
            None => 10,
            Some(Ok(n)) if (5..=100).contains(&n) => n,
            Some(_) => {
                return invalid_request(
                    "The `max_results` query parameter value is not between 5 and 100",
                );
            }
        };
        let field = |name: &str| {
            q.get("tweet.fields")
                .is_some_and(|f| f.split(',').any(|f| f == name))
        };
        let (with_created, with_conversation) = (field("created_at"), field("conversation_id"));
        // The first post of the reply chain (a deleted parent still names the conversation).
        let conversation = |p: &Post| {
            let mut post = p;
            loop {
                let Some(parent) = &post.reply_to else {
                    return post.id.clone();
                };
                match self.posts.iter().find(|q| &q.id == parent) {
                    Some(q) => post = q,
                    None => return parent.clone(),
                }
            }
        };
        let data: Vec<Value> = self
            .posts
            .iter()
            .rev()
            .filter(|p| p.author == user)
            .take(max)
            .map(|p| {
                let mut v = json!({"id": p.id, "text": p.text, "edit_history_tweet_ids": [p.id]});
                if with_created {
                    v["created_at"] = json!(
                        p.created_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    );
                }
                if with_conversation {
                    v["conversation_id"] = json!(conversation(p));
                }
                v
            })
            .collect();
        let body = if data.is_empty() {
            json!({"meta": {"result_count": 0}})
        } else {
            json!({"data": data, "meta": {
                "result_count": data.len(),
                "newest_id": data.first().map(|d| d["id"].clone()),
                "oldest_id": data.last().map(|d| d["id"].clone()),
            }})
        };
        Self::rate_headers(
            ResponseTemplate::new(200).set_body_json(body),
            900,
            remaining,
            reset,
        )
    }

    pub(super) fn delete(&mut self, id: &str) -> ResponseTemplate {
        let (remaining, reset) = self.spend("delete", 50);
        let before = self.posts.len();
        self.posts.retain(|p| !(p.id == id && p.author == USER.0));
        let r = if self.posts.len() < before {
            ResponseTemplate::new(200).set_body_json(json!({"data": {"deleted": true}}))
        } else {
            problem(
                404,
                "Not Found Error",
                &format!("Could not find tweet with id: [{id}]."),
                "https://api.twitter.com/2/problems/resource-not-found",
            )
        };
        Self::rate_headers(r, 50, remaining, reset)
    }
}
