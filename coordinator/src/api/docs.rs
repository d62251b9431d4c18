//! The operator console page, and the parts of the OpenAPI document the handlers do not
//! give (title, tags, the bearer scheme and its 401/403 answers).

use axum::response::{IntoResponse, Response};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi, Ref};

/// The operator web console: one static page; everything it shows comes from the API
/// with the operator's token, which stays in the browser tab.
pub(super) async fn console() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src blob:; connect-src 'self'; frame-ancestors 'none'",
            ),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("console.html"),
    )
        .into_response()
}

/// The document's fixed parts; paths and schemas come from the handlers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Strongroom coordinator",
        description = "Transfer requests, approvals, export to and import from the offline signing station, broadcast and audit. Every route under /v1 needs a bearer token; a missing or unknown token is 401, a role that may not use the route 403.",
    ),
    tags(
        (name = "requests", description = "Transfer requests and their risk review"),
        (name = "signing", description = "Approvals, export to the station, import of its signatures, broadcast status"),
        (name = "installation", description = "Stations and approvers"),
        (name = "treasury", description = "Vaults, deposit addresses and sweeps"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "service", description = "Health and metrics"),
    )
)]
pub(super) struct ApiDoc;

impl ApiDoc {
    pub(super) fn base() -> OpenApi {
        <Self as utoipa::OpenApi>::openapi()
    }
}

/// Adds what every `/v1` route shares: the bearer scheme, and its 401 and 403 answers.
pub(super) fn finish(mut doc: OpenApi) -> OpenApi {
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    let error = || {
        ResponseBuilder::new().content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            op.security = Some(vec![SecurityRequirement::new(
                "bearer",
                Vec::<String>::new(),
            )]);
            let answers = &mut op.responses.responses;
            answers.insert(
                "401".into(),
                error()
                    .description("no token, or an unknown one")
                    .build()
                    .into(),
            );
            answers.insert(
                "403".into(),
                error()
                    .description("the caller's roles may not use this route")
                    .build()
                    .into(),
            );
        }
    }
    doc
}
