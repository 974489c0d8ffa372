//! Publishing routes of the Meta stand-in: Page feed and photos, Instagram containers and
//! `media_publish`, with their faults.

use chrono::Utc;
use quflux_core::Platform;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::{
    Container, IG_USER_ID, LATE_ANSWER, MetaContainer, MetaFault, MetaPost, PAGE_ID, Params, State,
    graph_error, ig_used, with_usage,
};

pub(super) fn throttled(platform: Platform) -> ResponseTemplate {
    let (code, account) = if platform == Platform::Instagram {
        (80_002, IG_USER_ID)
    } else {
        (80_001, PAGE_ID)
    };
    with_usage(
        graph_error(
            400,
            code,
            None,
            "There have been too many calls to this account. Wait a bit and try again.",
        ),
        Some(account),
        100,
    )
}

/// The front end's 503: no Graph envelope, the request never reached the API.
pub(super) fn front_end_unavailable() -> ResponseTemplate {
    ResponseTemplate::new(503).set_body_raw(
        "<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>Sorry, something went wrong.</body></html>",
        "text/html; charset=utf-8",
    )
}

pub(super) fn server_error(status: u16) -> ResponseTemplate {
    graph_error(
        status,
        2,
        None,
        "An unexpected error has occurred. Please retry your request later.",
    )
}

/// `POST /{page}/feed` and `POST /{page}/photos`.
pub(super) fn page_create(s: &mut State, p: &Params, photo: bool) -> ResponseTemplate {
    let published = p.get("published") != Some("false");
    if photo && !published {
        if p.get("source").is_none() && p.get("url").is_none() {
            return graph_error(400, 324, None, "(#324) Requires upload file");
        }
        let id = s.id().to_string();
        s.photos
            .insert(id.clone(), p.get("alt_text_custom").map(str::to_owned));
        return ResponseTemplate::new(200).set_body_json(json!({"id": id}));
    }
    let message = p.get("message").unwrap_or("").to_owned();
    let mut media_alt = Vec::new();
    if photo {
        if p.get("source").is_none() && p.get("url").is_none() {
            return graph_error(400, 324, None, "(#324) Requires upload file");
        }
        media_alt.push(p.get("alt_text_custom").map(str::to_owned));
    } else if let Some(attached) = p
        .json
        .as_ref()
        .and_then(|j| j.get("attached_media"))
        .cloned()
        .or_else(|| {
            p.get("attached_media")
                .and_then(|a| serde_json::from_str(a).ok())
        })
    {
        for item in attached.as_array().into_iter().flatten() {
            let fbid = item.get("media_fbid").and_then(Value::as_str).unwrap_or("");
            match s.photos.remove(fbid) {
                Some(alt) => media_alt.push(alt),
                None => {
                    return graph_error(400, 100, None, "(#100) Invalid parameter: attached_media");
                }
            }
        }
    }
    if message.is_empty() && media_alt.is_empty() && p.get("link").is_none() {
        return graph_error(400, 100, None, "(#100) Invalid parameter");
    }
    let fault = s.take_fault(Platform::Facebook);
    match fault {
        Some(MetaFault::RateLimited) => return throttled(Platform::Facebook),
        Some(MetaFault::Duplicate) => {
            return graph_error(400, 506, None, "(#506) Duplicate status message");
        }
        Some(MetaFault::InvalidContent) => {
            return graph_error(400, 100, None, "(#100) Invalid parameter");
        }
        Some(MetaFault::ServerError) => return front_end_unavailable(),
        _ => {}
    }
    let post_id = format!("{PAGE_ID}_{}", s.id());
    let photo_id = s.id().to_string();
    s.facebook.push((
        MetaPost {
            id: post_id.clone(),
            text: message,
            link: p.get("link").map(str::to_owned),
            media_alt,
            media_type: None,
        },
        Utc::now(),
    ));
    let body = if photo {
        json!({"id": photo_id, "post_id": post_id})
    } else {
        json!({"id": post_id})
    };
    match fault {
        Some(MetaFault::TimeoutAfterCreate) => ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(LATE_ANSWER),
        Some(MetaFault::UnexpectedErrorButCreated) => server_error(500),
        Some(MetaFault::ServiceUnavailableButCreated) => server_error(503),
        _ => ResponseTemplate::new(200).set_body_json(body),
    }
}

/// `POST /{ig}/media`.
pub(super) fn ig_container(s: &mut State, p: &Params) -> ResponseTemplate {
    let carousel_item = p.get("is_carousel_item") == Some("true");
    let media_type = p.get("media_type").unwrap_or("IMAGE").to_owned();
    let valid = match media_type.as_str() {
        "IMAGE" => p.get("image_url").is_some(),
        "VIDEO" | "REELS" => p.get("video_url").is_some(),
        "CAROUSEL" => p.get("children").is_some(),
        _ => false,
    };
    if !valid {
        return graph_error(400, 100, None, "(#100) Invalid parameter");
    }
    let mut children = Vec::new();
    if media_type == "CAROUSEL" {
        children = p
            .get("children")
            .unwrap_or("")
            .split(',')
            .map(|c| c.trim().to_owned())
            .collect();
        let ok = (2..=10).contains(&children.len())
            && children.iter().all(|c| {
                s.containers
                    .get(c)
                    .is_some_and(|c| c.carousel_item && c.public.status_code == "FINISHED")
            });
        if !ok {
            return graph_error(400, 100, None, "(#100) Invalid parameter: children");
        }
    }
    if !carousel_item {
        match s.take_fault(Platform::Instagram) {
            Some(MetaFault::RateLimited) => return throttled(Platform::Instagram),
            Some(MetaFault::InvalidContent) => {
                return graph_error(400, 36_000, Some(2_207_004), "The image size is too large.");
            }
            Some(other) => s.fault = Some((Platform::Instagram, other)),
            None => {}
        }
    }
    let id = format!("178894555600{}", s.id());
    let polls_left = if matches!(media_type.as_str(), "VIDEO" | "REELS") {
        s.video_polls
    } else {
        0
    };
    s.containers.insert(
        id.clone(),
        Container {
            public: MetaContainer {
                id: id.clone(),
                media_type,
                status_code: if polls_left == 0 {
                    "FINISHED"
                } else {
                    "IN_PROGRESS"
                }
                .into(),
                children,
                polls: 0,
            },
            polls_left,
            caption: p.get("caption").unwrap_or("").to_owned(),
            alt: p.get("alt_text").map(str::to_owned),
            carousel_item,
        },
    );
    ResponseTemplate::new(200).set_body_json(json!({"id": id}))
}

/// `POST /{ig}/media_publish`.
pub(super) fn ig_publish(s: &mut State, p: &Params) -> ResponseTemplate {
    let id = p.get("creation_id").unwrap_or("").to_owned();
    let Some(c) = s.containers.get(&id).cloned() else {
        return graph_error(400, 100, None, "(#100) Invalid parameter: creation_id");
    };
    if c.carousel_item {
        return graph_error(
            400,
            100,
            None,
            "(#100) A carousel item cannot be published alone",
        );
    }
    match c.public.status_code.as_str() {
        "IN_PROGRESS" => {
            return graph_error(400, 9007, Some(2_207_027), "Media ID is not available");
        }
        "EXPIRED" => {
            return graph_error(
                400,
                -2,
                Some(2_207_020),
                "The media you are trying to access has expired. Please try to upload again.",
            );
        }
        "PUBLISHED" => {
            return graph_error(
                400,
                100,
                None,
                "(#100) The media has already been published",
            );
        }
        "ERROR" => return graph_error(400, -1, Some(2_207_032), "Create media failed"),
        _ => {}
    }
    if ig_used(s) >= s.quota_total {
        return graph_error(400, 9, Some(2_207_042), "Application request limit reached");
    }
    let fault = s.take_fault(Platform::Instagram);
    if fault == Some(MetaFault::ServerError) {
        return front_end_unavailable();
    }
    let media_id = format!("179202384220{}", s.id());
    let (media_alt, media_type) = if c.public.media_type == "CAROUSEL" {
        let alts = c
            .public
            .children
            .iter()
            .map(|ch| s.containers.get(ch).and_then(|c| c.alt.clone()))
            .collect();
        (alts, "CAROUSEL_ALBUM")
    } else if c.public.media_type == "IMAGE" {
        (vec![c.alt.clone()], "IMAGE")
    } else {
        (vec![None], "REELS")
    };
    if let Some(container) = s.containers.get_mut(&id) {
        container.public.status_code = "PUBLISHED".into();
    }
    let now = Utc::now();
    s.publishes.push(now);
    s.instagram.push((
        MetaPost {
            id: media_id.clone(),
            text: c.caption.clone(),
            link: None,
            media_alt,
            media_type: Some(media_type.into()),
        },
        now,
    ));
    let body = json!({"id": media_id});
    match fault {
        Some(MetaFault::TimeoutAfterCreate) => ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(LATE_ANSWER),
        Some(MetaFault::UnexpectedErrorButCreated) => server_error(500),
        Some(MetaFault::ServiceUnavailableButCreated) => server_error(503),
        _ => ResponseTemplate::new(200).set_body_json(body),
    }
}
